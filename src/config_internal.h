/* config_internal — what config.c (the field table, values, printing) and
 * config_parse.c (the YAML walk) share; not part of the library's interface. */
#ifndef DMN_CONFIG_INTERNAL_H
#define DMN_CONFIG_INTERNAL_H

#include <stddef.h>

#include "config.h"

/* printf into a DMN_ERR_MAX message buffer */
void config_errf(char err[DMN_ERR_MAX], const char *f, ...) __attribute__((format(printf, 2, 3)));
int config_section_exists(const char *sec);
/* index of section.key in dmn_config_fields, -1 if none */
int config_field_index(const char *sec, const char *key);
/* " (did you mean 'x'?)" or "" */
void config_suggest_key(const char *sec, const char *key, char *out, size_t n);
void config_suggest_section(const char *sec, char *out, size_t n);
/* text -> the field's value, checked against its type and range; `where`
 * prefixes the error (PATH:LINE:COL or the --set assignment) */
int config_assign_value(DmnConfig *cfg, const DmnConfigField *f, const char *text, const char *where, char err[DMN_ERR_MAX]);
/* lesion targets by name, in DmnLayer / DmnProj order (config_parse.c) */
extern const char *const config_layer_names[6];
extern const char *const config_proj_names[5];
/* cfg->path and cfg->name from a file path */
void config_set_name_from_path(DmnConfig *cfg, const char *path);

#endif
