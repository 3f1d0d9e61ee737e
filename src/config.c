/* config — YAML parsing and validation driven by the field table (config.h).
 *
 * Every error is one line `PATH:LINE:COL: what 'section.key' ...` so that an
 * editor can jump to it; --set errors name the assignment instead. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "util.h"

#define DMN_ROW(sec, key, type, dn, ds, mn, mx, unit, doc) \
  {#sec, #key, DMN_T_##type, (double)(dn), ds, (double)(mn), (double)(mx), unit, doc, offsetof(DmnConfig, sec##_##key)},
const DmnConfigField dmn_config_fields[] = {DMN_CONFIG_FIELDS(DMN_ROW)};
#undef DMN_ROW
const int dmn_config_n_fields = (int)(sizeof(dmn_config_fields) / sizeof(dmn_config_fields[0]));

static void *field_ptr(DmnConfig *cfg, const DmnConfigField *f) { return (char *)cfg + f->offset; }
static const void *field_cptr(const DmnConfig *cfg, const DmnConfigField *f) { return (const char *)cfg + f->offset; }

static void fmt(char err[DMN_ERR_MAX], const char *f, ...) __attribute__((format(printf, 2, 3)));
static void fmt(char err[DMN_ERR_MAX], const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  vsnprintf(err, DMN_ERR_MAX, f, ap);
  va_end(ap);
}

void config_defaults(DmnConfig *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->sweep_index = -1;
  cfg->sweep_base_lesions = -1;
  cfg->sweep_condition = -1;
  for (int i = 0; i < dmn_config_n_fields; i++) {
    const DmnConfigField *f = &dmn_config_fields[i];
    void *p = field_ptr(cfg, f);
    switch (f->type) {
    case DMN_T_DOUBLE: *(double *)p = f->def; break;
    case DMN_T_INT: *(long *)p = (long)f->def; break;
    case DMN_T_BOOL:
    case DMN_T_ENUM: *(int *)p = (int)f->def; break;
    case DMN_T_STRING: snprintf((char *)p, DMN_STR_MAX, "%s", f->def_str); break;
    }
  }
}

/* ---- lookup and "did you mean" ------------------------------------------- */

static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 63 || lb > 63) return 99;
  int prev[64], cur[64];
  for (int j = 0; j <= lb; j++) prev[j] = j;
  for (int i = 1; i <= la; i++) {
    cur[0] = i;
    for (int j = 1; j <= lb; j++) {
      int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      int del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
  }
  return prev[lb];
}

static int section_exists(const char *sec) {
  for (int i = 0; i < dmn_config_n_fields; i++)
    if (!strcmp(dmn_config_fields[i].section, sec)) return 1;
  return 0;
}

static int field_index(const char *sec, const char *key) {
  for (int i = 0; i < dmn_config_n_fields; i++)
    if (!strcmp(dmn_config_fields[i].section, sec) && !strcmp(dmn_config_fields[i].key, key)) return i;
  return -1;
}

/* Best suggestion for an unknown section.key: a close spelling in the same
 * section, or the same key in another section. */
static void suggest_key(const char *sec, const char *key, char *out, size_t n) {
  int best = 99;
  out[0] = 0;
  for (int i = 0; i < dmn_config_n_fields; i++) {
    const DmnConfigField *f = &dmn_config_fields[i];
    int d = !strcmp(f->section, sec) ? edit_distance(key, f->key) : (!strcmp(f->key, key) ? 1 : 99);
    if (d < best) {
      best = d;
      snprintf(out, n, "%s.%s", f->section, f->key);
    }
  }
  if (best > 3) out[0] = 0;
}

static void suggest_section(const char *sec, char *out, size_t n) {
  int best = 99;
  out[0] = 0;
  for (int i = 0; i < dmn_config_n_fields; i++) {
    int d = edit_distance(sec, dmn_config_fields[i].section);
    if (d < best) {
      best = d;
      snprintf(out, n, "%s", dmn_config_fields[i].section);
    }
  }
  if (best > 2) out[0] = 0;
}

/* ---- value conversion ----------------------------------------------------- */

static void describe_range(const DmnConfigField *f, char *out, size_t n, int with_unit) {
  if (f->type == DMN_T_ENUM) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", f->def_str);
    for (char *c = buf; *c; c++)
      if (*c == '|') *c = ',';
    char pretty[320] = "";
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
      if (pretty[0]) strncat(pretty, ", ", sizeof pretty - strlen(pretty) - 1);
      strncat(pretty, tok, sizeof pretty - strlen(pretty) - 1);
    }
    snprintf(out, n, "allowed: %s", pretty);
  } else if (f->type == DMN_T_DOUBLE || f->type == DMN_T_INT) {
    snprintf(out, n, "allowed %.6g .. %.6g%s%s", f->min, f->max, with_unit && f->unit[0] ? " " : "", with_unit ? f->unit : "");
  } else if (f->type == DMN_T_BOOL) {
    snprintf(out, n, "allowed: true, false");
  } else {
    out[0] = 0;
  }
}

static int enum_index(const DmnConfigField *f, const char *s) {
  const char *c = f->def_str;
  int idx = 0;
  size_t ls = strlen(s);
  while (*c) {
    const char *bar = strchr(c, '|');
    size_t len = bar ? (size_t)(bar - c) : strlen(c);
    if (len == ls && !strncmp(c, s, len)) return idx;
    if (!bar) break;
    c = bar + 1;
    idx++;
  }
  return -1;
}

const char *config_enum_name(const char *section, const char *key, int value) {
  static char buf[128];
  int i = field_index(section, key);
  if (i < 0 || dmn_config_fields[i].type != DMN_T_ENUM) return "?";
  const char *c = dmn_config_fields[i].def_str;
  for (int k = 0; k < value && c; k++) {
    c = strchr(c, '|');
    if (c) c++;
  }
  if (!c) return "?";
  const char *bar = strchr(c, '|');
  size_t len = bar ? (size_t)(bar - c) : strlen(c);
  if (len >= sizeof buf) len = sizeof buf - 1;
  memcpy(buf, c, len);
  buf[len] = 0;
  return buf;
}

/* Convert scalar text into the field.  `where` prefixes messages
 * ("file:3:7" or "--set sim.dt=0"). */
static int assign_value(DmnConfig *cfg, const DmnConfigField *f, const char *text, const char *where, char err[DMN_ERR_MAX]) {
  void *p = field_ptr(cfg, f);
  char range[400];
  describe_range(f, range, sizeof range, 1);
  const char *end = NULL;
  switch (f->type) {
  case DMN_T_DOUBLE: {
    errno = 0;
    char *e;
    double v = strtod(text, &e);
    end = e;
    while (*end && isspace((unsigned char)*end)) end++;
    if (e == text || *end || errno == ERANGE || !isfinite(v)) {
      fmt(err, "%s: wrong type for '%s.%s': expected a number, got '%s'", where, f->section, f->key, text);
      return 1;
    }
    if (v < f->min || v > f->max) {
      fmt(err, "%s: value out of range for '%s.%s': %s (%s)", where, f->section, f->key, text, range);
      return 1;
    }
    *(double *)p = v;
    return 0;
  }
  case DMN_T_INT: {
    errno = 0;
    char *e;
    long v = strtol(text, &e, 10);
    end = e;
    while (*end && isspace((unsigned char)*end)) end++;
    if (e == text || *end || errno == ERANGE) {
      fmt(err, "%s: wrong type for '%s.%s': expected an integer, got '%s'", where, f->section, f->key, text);
      return 1;
    }
    if ((double)v < f->min || (double)v > f->max) {
      fmt(err, "%s: value out of range for '%s.%s': %s (%s)", where, f->section, f->key, text, range);
      return 1;
    }
    *(long *)p = v;
    return 0;
  }
  case DMN_T_BOOL: {
    static const char *yes[] = {"true", "True", "TRUE", "yes", "Yes", "on", NULL};
    static const char *no[] = {"false", "False", "FALSE", "no", "No", "off", NULL};
    for (int i = 0; yes[i]; i++)
      if (!strcmp(text, yes[i])) return *(int *)p = 1, 0;
    for (int i = 0; no[i]; i++)
      if (!strcmp(text, no[i])) return *(int *)p = 0, 0;
    fmt(err, "%s: wrong type for '%s.%s': expected true or false, got '%s'", where, f->section, f->key, text);
    return 1;
  }
  case DMN_T_ENUM: {
    int k = enum_index(f, text);
    if (k < 0) {
      fmt(err, "%s: invalid value for '%s.%s': '%s' (%s)", where, f->section, f->key, text, range);
      return 1;
    }
    *(int *)p = k;
    return 0;
  }
  case DMN_T_STRING:
    if (strlen(text) >= DMN_STR_MAX) {
      fmt(err, "%s: value too long for '%s.%s' (at most %d characters)", where, f->section, f->key, DMN_STR_MAX - 1);
      return 1;
    }
    snprintf((char *)p, DMN_STR_MAX, "%s", text);
    return 0;
  }
  return 1;
}

/* ---- YAML ------------------------------------------------------------------ */

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_MAPPING_NODE: return "a mapping";
  case YAML_SEQUENCE_NODE: return "a list";
  default: return "a scalar";
  }
}

/* ---- the lesions: list ------------------------------------------------------ */

const char *const dmn_lesion_kinds[DMN_NLESION_KIND] = {"ablate", "silence", "drop", "scale", "shuffle", "randomize"};
/* Same order as DmnLayer / DmnProj (connectome.h); a unit test checks it. */
static const char *const layer_names[] = {"ORN", "PN", "KC", "MBON", "DN", "APL"};
static const char *const proj_names[] = {"orn_to_pn", "pn_to_kc", "kc_to_mbon", "mbon_to_dn", "pn_to_dn"};

static int name_index(const char *const *names, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (!strcasecmp(names[i], s)) return i;
  return -1;
}

static void join_names(const char *const *names, int n, char *out, size_t cap) {
  out[0] = 0;
  for (int i = 0; i < n; i++) {
    if (i) strncat(out, ", ", cap - strlen(out) - 1);
    strncat(out, names[i], cap - strlen(out) - 1);
  }
}

static int parse_number(const char *s, double lo, double hi, double *out) {
  char *e;
  errno = 0;
  double v = strtod(s, &e);
  if (e == s || *e || errno == ERANGE || !isfinite(v) || v < lo || v > hi) return 1;
  *out = v;
  return 0;
}

/* lesions:
 *   - {name: no_gamma, kind: ablate, layer: KC, select: "cell_type=KCg*"}
 *   - {kind: drop, projection: pn_to_kc, fraction: 0.5, seed: 3} */
static int parse_lesions(DmnConfig *cfg, yaml_document_t *doc, yaml_node_t *list, const char *path, char err[DMN_ERR_MAX]) {
  cfg->n_lesions = 0;
  if (list->type == YAML_SCALAR_NODE && list->data.scalar.length == 0) return 0;
  if (list->type != YAML_SEQUENCE_NODE) {
    fmt(err, "%s:%zu:%zu: wrong type for 'lesions': expected a list of lesions (- kind: ablate ...), got %s", path,
        list->start_mark.line + 1, list->start_mark.column + 1, node_kind(list));
    return 1;
  }
  for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
    yaml_node_t *e = yaml_document_get_node(doc, *it);
    size_t el = e->start_mark.line + 1, ec = e->start_mark.column + 1;
    if (e->type != YAML_MAPPING_NODE) {
      fmt(err, "%s:%zu:%zu: each lesion must be a mapping (kind: ..., layer: ..., ...), got %s", path, el, ec, node_kind(e));
      return 1;
    }
    if (cfg->n_lesions == DMN_MAX_LESIONS) {
      fmt(err, "%s:%zu:%zu: more than %d lesions in one run (use a sweep for more conditions)", path, el, ec, DMN_MAX_LESIONS);
      return 1;
    }
    DmnLesionSpec *L = &cfg->lesions[cfg->n_lesions];
    memset(L, 0, sizeof(*L));
    L->kind = L->layer = L->proj = -1;
    L->fraction = -1;
    L->factor = -1;
    L->line = (int)el;
    char ids[DMN_SELECT_MAX] = "";
    for (yaml_node_pair_t *kp = e->data.mapping.pairs.start; kp < e->data.mapping.pairs.top; kp++) {
      yaml_node_t *kk = yaml_document_get_node(doc, kp->key), *kv = yaml_document_get_node(doc, kp->value);
      size_t kl = kk->start_mark.line + 1, kc = kk->start_mark.column + 1;
      size_t vl = kv->start_mark.line + 1, vc = kv->start_mark.column + 1;
      const char *key = kk->type == YAML_SCALAR_NODE ? (const char *)kk->data.scalar.value : "?";
      if (!strcmp(key, "ids")) {
        /* a list of ids, or one id */
        if (kv->type == YAML_SCALAR_NODE) {
          snprintf(ids, sizeof ids, "%s", (const char *)kv->data.scalar.value);
        } else if (kv->type == YAML_SEQUENCE_NODE) {
          for (yaml_node_item_t *j = kv->data.sequence.items.start; j < kv->data.sequence.items.top; j++) {
            yaml_node_t *x = yaml_document_get_node(doc, *j);
            if (x->type != YAML_SCALAR_NODE) {
              fmt(err, "%s:%zu:%zu: 'lesions[%d].ids' must be a list of integer ids", path, vl, vc, cfg->n_lesions);
              return 1;
            }
            if (ids[0]) strncat(ids, ",", sizeof ids - strlen(ids) - 1);
            strncat(ids, (const char *)x->data.scalar.value, sizeof ids - strlen(ids) - 1);
          }
        } else {
          fmt(err, "%s:%zu:%zu: 'lesions[%d].ids' must be a list of integer ids", path, vl, vc, cfg->n_lesions);
          return 1;
        }
        for (const char *c = ids; *c; c++)
          if (!isdigit((unsigned char)*c) && *c != ',' && *c != ' ' && *c != '-') {
            fmt(err, "%s:%zu:%zu: 'lesions[%d].ids' must be integer ids, got '%s'", path, vl, vc, cfg->n_lesions, ids);
            return 1;
          }
        continue;
      }
      if (kv->type != YAML_SCALAR_NODE) {
        fmt(err, "%s:%zu:%zu: wrong type for 'lesions[%d].%s': expected a single value, got %s", path, vl, vc, cfg->n_lesions, key,
            node_kind(kv));
        return 1;
      }
      const char *v = (const char *)kv->data.scalar.value;
      char choices[200];
      if (!strcmp(key, "name")) {
        snprintf(L->name, sizeof L->name, "%s", v);
      } else if (!strcmp(key, "kind")) {
        L->kind = name_index(dmn_lesion_kinds, DMN_NLESION_KIND, v);
        join_names(dmn_lesion_kinds, DMN_NLESION_KIND, choices, sizeof choices);
        if (L->kind < 0) return fmt(err, "%s:%zu:%zu: invalid value for 'lesions[%d].kind': '%s' (allowed: %s)", path, vl, vc, cfg->n_lesions, v, choices), 1;
      } else if (!strcmp(key, "layer")) {
        L->layer = name_index(layer_names, 6, v);
        join_names(layer_names, 6, choices, sizeof choices);
        if (L->layer < 0) return fmt(err, "%s:%zu:%zu: invalid value for 'lesions[%d].layer': '%s' (allowed: %s)", path, vl, vc, cfg->n_lesions, v, choices), 1;
      } else if (!strcmp(key, "projection")) {
        L->proj = name_index(proj_names, 5, v);
        join_names(proj_names, 5, choices, sizeof choices);
        if (L->proj < 0) return fmt(err, "%s:%zu:%zu: invalid value for 'lesions[%d].projection': '%s' (allowed: %s)", path, vl, vc, cfg->n_lesions, v, choices), 1;
      } else if (!strcmp(key, "select")) {
        if (strlen(v) >= DMN_SELECT_MAX) return fmt(err, "%s:%zu:%zu: 'lesions[%d].select' is longer than %d characters", path, vl, vc, cfg->n_lesions, DMN_SELECT_MAX - 1), 1;
        snprintf(L->select, sizeof L->select, "%s", v);
      } else if (!strcmp(key, "fraction")) {
        if (parse_number(v, 0.0, 1.0, &L->fraction))
          return fmt(err, "%s:%zu:%zu: 'lesions[%d].fraction' must be a number in 0 .. 1, got '%s'", path, vl, vc, cfg->n_lesions, v), 1;
      } else if (!strcmp(key, "factor")) {
        if (parse_number(v, 0.0, 1e6, &L->factor))
          return fmt(err, "%s:%zu:%zu: 'lesions[%d].factor' must be a number in 0 .. 1e6, got '%s'", path, vl, vc, cfg->n_lesions, v), 1;
      } else if (!strcmp(key, "seed")) {
        double sd;
        if (parse_number(v, 0.0, 2147483647.0, &sd) || sd != floor(sd))
          return fmt(err, "%s:%zu:%zu: 'lesions[%d].seed' must be an integer >= 0, got '%s'", path, vl, vc, cfg->n_lesions, v), 1;
        L->seed = (long)sd;
      } else {
        return fmt(err, "%s:%zu:%zu: unknown key 'lesions[%d].%s' (allowed: name, kind, layer, projection, select, ids, fraction, factor, seed)",
                   path, kl, kc, cfg->n_lesions, key), 1;
      }
    }
    /* required keys per kind */
    int n = cfg->n_lesions;
    if (L->kind < 0) return fmt(err, "%s:%zu:%zu: lesion %d has no 'kind' (ablate, silence, drop, scale or shuffle)", path, el, ec, n), 1;
    const char *kind = dmn_lesion_kinds[L->kind];
    if (ids[0]) {
      size_t used = strlen(L->select);
      if (used + strlen(ids) + 5 >= DMN_SELECT_MAX)
        return fmt(err, "%s:%zu:%zu: lesion %d: too many ids for one entry (at most ~%d characters; use a selector)", path, el, ec, n, DMN_SELECT_MAX), 1;
      if (used) strcat(L->select, " ");
      strcat(L->select, "id=");
      strcat(L->select, ids);
    }
    if (L->kind == DMN_LESION_ABLATE || L->kind == DMN_LESION_SILENCE) {
      if (L->layer < 0) return fmt(err, "%s:%zu:%zu: lesion %d (%s) needs 'layer' (ORN, PN, KC, MBON, DN or APL)", path, el, ec, n, kind), 1;
      if (!L->select[0])
        return fmt(err, "%s:%zu:%zu: lesion %d (%s) needs 'select' or 'ids' (select: all for the whole layer)", path, el, ec, n, kind), 1;
      if (L->proj >= 0 || L->factor >= 0)
        return fmt(err, "%s:%zu:%zu: lesion %d (%s) takes layer, select, ids, and fraction with seed only", path, el, ec, n, kind), 1;
      if (L->fraction >= 0 && L->layer == DMN_LESION_LAYER_APL)
        return fmt(err, "%s:%zu:%zu: lesion %d (%s APL) takes no 'fraction' (there is one APL per side: select side=left)", path, el, ec, n, kind), 1;
    } else {
      if (L->proj < 0) return fmt(err, "%s:%zu:%zu: lesion %d (%s) needs 'projection' (orn_to_pn, pn_to_kc, kc_to_mbon, mbon_to_dn, pn_to_dn)", path, el, ec, n, kind), 1;
      if (L->layer >= 0 || L->select[0]) return fmt(err, "%s:%zu:%zu: lesion %d (%s) acts on a projection: no layer, select or ids", path, el, ec, n, kind), 1;
      if (L->kind == DMN_LESION_DROP && L->fraction < 0) return fmt(err, "%s:%zu:%zu: lesion %d (drop) needs 'fraction' (0 .. 1)", path, el, ec, n), 1;
      if (L->kind != DMN_LESION_DROP && L->fraction >= 0) return fmt(err, "%s:%zu:%zu: lesion %d (%s) takes no 'fraction'", path, el, ec, n, kind), 1;
      if (L->kind == DMN_LESION_SCALE && L->factor < 0) return fmt(err, "%s:%zu:%zu: lesion %d (scale) needs 'factor' (>= 0)", path, el, ec, n), 1;
      if (L->kind != DMN_LESION_SCALE && L->factor >= 0) return fmt(err, "%s:%zu:%zu: lesion %d (%s) takes no 'factor'", path, el, ec, n, kind), 1;
    }
    if (!L->name[0])
      snprintf(L->name, sizeof L->name, "%s_%s", kind, L->layer >= 0 ? layer_names[L->layer] : proj_names[L->proj]);
    cfg->n_lesions++;
  }
  return 0;
}

/* sweep:
 *   - name: intact
 *   - name: kc_mbon_half
 *     lesions: [{kind: scale, projection: kc_to_mbon, factor: 0.5}]
 *     set: {train.episodes: 800}
 * Every entry is checked on a scratch copy (so a typo in entry 7 fails entry
 * 0's job too); *selected gets the node of cfg->sweep_index, applied after
 * the rest of the document so the entry wins whatever the key order. */
static int apply_sets(DmnConfig *cfg, yaml_document_t *doc, yaml_node_t *set, const char *path, int idx, char err[DMN_ERR_MAX]) {
  if (set->type != YAML_MAPPING_NODE) {
    fmt(err, "%s:%zu:%zu: 'sweep[%d].set' must be a mapping of section.key: value", path, set->start_mark.line + 1, set->start_mark.column + 1, idx);
    return 1;
  }
  for (yaml_node_pair_t *kp = set->data.mapping.pairs.start; kp < set->data.mapping.pairs.top; kp++) {
    yaml_node_t *kk = yaml_document_get_node(doc, kp->key), *kv = yaml_document_get_node(doc, kp->value);
    char where[DMN_STR_MAX + 64], key[160];
    snprintf(where, sizeof where, "%s:%zu:%zu", path, kk->start_mark.line + 1, kk->start_mark.column + 1);
    snprintf(key, sizeof key, "%s", kk->type == YAML_SCALAR_NODE ? (const char *)kk->data.scalar.value : "?");
    char *dot = strchr(key, '.');
    int fi = -1;
    if (dot) {
      *dot = 0;
      fi = field_index(key, dot + 1);
      *dot = '.';
    }
    if (fi < 0) {
      char sug[160] = "";
      if (dot) {
        *dot = 0;
        suggest_key(key, dot + 1, sug, sizeof sug);
        *dot = '.';
      }
      if (sug[0]) fmt(err, "%s: unknown key '%s' in 'sweep[%d].set' (did you mean '%s'?)", where, key, idx, sug);
      else fmt(err, "%s: unknown key '%s' in 'sweep[%d].set' (write section.key, e.g. train.lr)", where, key, idx);
      return 1;
    }
    if (kv->type != YAML_SCALAR_NODE) {
      fmt(err, "%s:%zu:%zu: wrong type for '%s': expected a single value, got %s", path, kv->start_mark.line + 1, kv->start_mark.column + 1, key,
          node_kind(kv));
      return 1;
    }
    snprintf(where, sizeof where, "%s:%zu:%zu", path, kv->start_mark.line + 1, kv->start_mark.column + 1);
    if (assign_value(cfg, &dmn_config_fields[fi], (const char *)kv->data.scalar.value, where, err)) return 1;
  }
  return 0;
}

/* Apply one sweep entry to cfg: its lesions after cfg's, its sets. */
static int apply_sweep_entry(DmnConfig *cfg, yaml_document_t *doc, yaml_node_t *e, const char *path, int idx, char err[DMN_ERR_MAX]) {
  for (yaml_node_pair_t *kp = e->data.mapping.pairs.start; kp < e->data.mapping.pairs.top; kp++) {
    yaml_node_t *kk = yaml_document_get_node(doc, kp->key), *kv = yaml_document_get_node(doc, kp->value);
    const char *key = kk->type == YAML_SCALAR_NODE ? (const char *)kk->data.scalar.value : "?";
    if (!strcmp(key, "name")) continue;
    if (!strcmp(key, "set")) {
      if (apply_sets(cfg, doc, kv, path, idx, err)) return 1;
    } else if (!strcmp(key, "lesions")) {
      DmnConfig *tmp = malloc(sizeof *tmp);
      *tmp = *cfg;
      int rc = parse_lesions(tmp, doc, kv, path, err);
      if (rc) { /* name the condition: 'lesions[0].x' -> 'sweep[2].lesions[0].x' */
        char *at = strstr(err, "'lesions");
        if (!at) at = strstr(err, "lesion ");
        if (at) {
          char rest[DMN_ERR_MAX];
          snprintf(rest, sizeof rest, "%s", at + (*at == '\'' ? 1 : 0));
          snprintf(at, DMN_ERR_MAX - (size_t)(at - err), "%ssweep[%d].%s", *at == '\'' ? "'" : "", idx, rest);
        }
      }
      if (!rc && cfg->n_lesions + tmp->n_lesions > DMN_MAX_LESIONS) {
        fmt(err, "%s:%zu:%zu: sweep[%d]: more than %d lesions with the base config's", path, kv->start_mark.line + 1, kv->start_mark.column + 1,
            idx, DMN_MAX_LESIONS);
        rc = 1;
      }
      for (int i = 0; !rc && i < tmp->n_lesions; i++) cfg->lesions[cfg->n_lesions++] = tmp->lesions[i];
      free(tmp);
      if (rc) return 1;
    } else {
      fmt(err, "%s:%zu:%zu: unknown key 'sweep[%d].%s' (allowed: name, lesions, set)", path, kk->start_mark.line + 1, kk->start_mark.column + 1,
          idx, key);
      return 1;
    }
  }
  return 0;
}

static int parse_sweep(DmnConfig *cfg, yaml_document_t *doc, yaml_node_t *list, const char *path, yaml_node_t **entries,
                       char err[DMN_ERR_MAX]) {
  cfg->n_sweep = 0;
  if (list->type != YAML_SEQUENCE_NODE) {
    fmt(err, "%s:%zu:%zu: wrong type for 'sweep': expected a list of conditions (- name: ...), got %s", path, list->start_mark.line + 1,
        list->start_mark.column + 1, node_kind(list));
    return 1;
  }
  DmnConfig *scratch = malloc(sizeof *scratch);
  int rc = 0;
  for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top && !rc; it++) {
    yaml_node_t *e = yaml_document_get_node(doc, *it);
    size_t el = e->start_mark.line + 1, ec = e->start_mark.column + 1;
    int idx = cfg->n_sweep;
    if (e->type != YAML_MAPPING_NODE) {
      fmt(err, "%s:%zu:%zu: each sweep condition must be a mapping (name: ..., lesions: ..., set: ...), got %s", path, el, ec, node_kind(e));
      rc = 1;
      break;
    }
    if (idx == DMN_MAX_SWEEP) {
      fmt(err, "%s:%zu:%zu: more than %d sweep conditions", path, el, ec, DMN_MAX_SWEEP);
      rc = 1;
      break;
    }
    char name[DMN_NAME_MAX];
    snprintf(name, sizeof name, "cond%d", idx);
    for (yaml_node_pair_t *kp = e->data.mapping.pairs.start; kp < e->data.mapping.pairs.top; kp++) {
      yaml_node_t *kk = yaml_document_get_node(doc, kp->key), *kv = yaml_document_get_node(doc, kp->value);
      if (kk->type == YAML_SCALAR_NODE && !strcmp((const char *)kk->data.scalar.value, "name") && kv->type == YAML_SCALAR_NODE)
        snprintf(name, sizeof name, "%s", (const char *)kv->data.scalar.value);
    }
    for (const char *ch = name; *ch; ch++)
      if (!isalnum((unsigned char)*ch) && *ch != '_' && *ch != '-' && *ch != '.') {
        fmt(err, "%s:%zu:%zu: sweep condition name '%s': use letters, digits, '_', '-', '.' (it names a directory)", path, el, ec, name);
        rc = 1;
        break;
      }
    for (int j = 0; j < idx && !rc; j++)
      if (!strcmp(cfg->sweep_names[j], name)) {
        fmt(err, "%s:%zu:%zu: duplicate sweep condition name '%s'", path, el, ec, name);
        rc = 1;
      }
    if (rc) break;
    *scratch = *cfg;
    if (apply_sweep_entry(scratch, doc, e, path, idx, err)) {
      rc = 1;
      break;
    }
    snprintf(cfg->sweep_names[idx], DMN_NAME_MAX, "%s", name);
    entries[idx] = e;
    cfg->n_sweep++;
  }
  free(scratch);
  return rc;
}

/* `base: other.yaml` — the keys of another config first, then this file's on
 * top (a sweep shares its base this way instead of copying its keys).  The
 * base's relative paths (connectome.path, connectome.nt_from, body.nmf_dir) stay relative
 * to the base's own folder. */
#define DMN_BASE_DEPTH 8
static int parse_text(DmnConfig *cfg, const char *text, size_t len, const char *path, int depth, char err[DMN_ERR_MAX]);

static int load_base(DmnConfig *cfg, yaml_node_t *v, const char *path, int depth, char err[DMN_ERR_MAX]) {
  const size_t vl = v->start_mark.line + 1, vc = v->start_mark.column + 1;
  if (v->type != YAML_SCALAR_NODE || !v->data.scalar.length) {
    fmt(err, "%s:%zu:%zu: wrong type for 'base': expected the path of another config file, got %s", path, vl, vc, node_kind(v));
    return 1;
  }
  const char *ref = (const char *)v->data.scalar.value;
  if (depth >= DMN_BASE_DEPTH) {
    fmt(err, "%s:%zu:%zu: 'base: %s': more than %d configs deep (does a base name itself?)", path, vl, vc, ref, DMN_BASE_DEPTH);
    return 1;
  }
  /* the base's folder as seen from here: a relative reference is relative to this file's folder */
  char dir[DMN_STR_MAX], file[2 * DMN_STR_MAX];
  const char *slash = strrchr(path, '/');
  if (ref[0] == '/' || !slash) snprintf(dir, sizeof dir, "%s", "");
  else snprintf(dir, sizeof dir, "%.*s/", (int)(slash - path), path);
  snprintf(file, sizeof file, "%s%s", dir, ref);
  size_t got = 0;
  char why[DMN_ERR_MAX];
  char *buf = util_read_text_file(file, "base config", DMN_CONFIG_MAX_BYTES, &got, why, sizeof why);
  if (!buf) {
    fmt(err, "%s:%zu:%zu: 'base: %s': %s", path, vl, vc, ref, why);
    return 1;
  }
  char before[3][DMN_STR_MAX];
  snprintf(before[0], DMN_STR_MAX, "%s", cfg->connectome_path);
  snprintf(before[1], DMN_STR_MAX, "%s", cfg->connectome_nt_from);
  snprintf(before[2], DMN_STR_MAX, "%s", cfg->body_nmf_dir);
  int rc = parse_text(cfg, buf, got, file, depth + 1, err);
  free(buf);
  if (rc) return 1;
  /* paths the base set are relative to its folder; cfg's relative paths are
   * relative to this file's: prefix the base's folder as written (dirname of ref) */
  const char *rslash = strrchr(ref, '/');
  char *paths[3] = {cfg->connectome_path, cfg->connectome_nt_from, cfg->body_nmf_dir};
  for (int k = 0; k < 3 && rslash; k++)
    if (paths[k][0] && paths[k][0] != '/' && strcmp(paths[k], before[k])) {
      char tmp[2 * DMN_STR_MAX];
      snprintf(tmp, sizeof tmp, "%.*s/%s", (int)(rslash - ref), ref, paths[k]);
      if (strlen(tmp) >= DMN_STR_MAX) {
        fmt(err, "%s:%zu:%zu: 'base: %s': path '%s' too long", path, vl, vc, ref, tmp);
        return 1;
      }
      snprintf(paths[k], DMN_STR_MAX, "%s", tmp);
    }
  return 0;
}

int config_parse_text(DmnConfig *cfg, const char *text, size_t len, const char *path, char err[DMN_ERR_MAX]) {
  return parse_text(cfg, text, len, path, 0, err);
}

static int parse_text(DmnConfig *cfg, const char *text, size_t len, const char *path, int depth, char err[DMN_ERR_MAX]) {
  yaml_parser_t parser;
  yaml_document_t doc;
  int rc = 1;
  err[0] = 0;
  if (!yaml_parser_initialize(&parser)) {
    fmt(err, "%s: cannot initialise the YAML parser", path);
    return 1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    fmt(err, "%s:%zu:%zu: malformed YAML: %s%s%s", path, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
        parser.problem ? parser.problem : "syntax error", parser.context ? " " : "", parser.context ? parser.context : "");
    yaml_parser_delete(&parser);
    return 1;
  }
  /* Where each field / section was first set in this text, to report duplicates. */
  int *seen_line = calloc((size_t)dmn_config_n_fields, sizeof(int));
  enum { MAX_SEC = 64 };
  char sec_seen[MAX_SEC][64];
  int sec_line[MAX_SEC], n_sec = 0, sweep_line = 0;
  yaml_node_t **sweep_entries = calloc(DMN_MAX_SWEEP, sizeof *sweep_entries);
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)) {
    rc = 0; /* empty file: all defaults */
    goto done;
  }
  if (root->type != YAML_MAPPING_NODE) {
    fmt(err, "%s:%zu:%zu: expected a mapping of sections (sim:, circuit:, ...) at the top level, got %s", path,
        root->start_mark.line + 1, root->start_mark.column + 1, node_kind(root));
    goto done;
  }
  /* base: first, wherever it is written, so every key here overrides it */
  for (yaml_node_pair_t *sp = root->data.mapping.pairs.start; sp < root->data.mapping.pairs.top; sp++) {
    yaml_node_t *sk = yaml_document_get_node(&doc, sp->key);
    if (sk->type == YAML_SCALAR_NODE && !strcmp((const char *)sk->data.scalar.value, "base") &&
        load_base(cfg, yaml_document_get_node(&doc, sp->value), path, depth, err))
      goto done;
  }
  for (yaml_node_pair_t *sp = root->data.mapping.pairs.start; sp < root->data.mapping.pairs.top; sp++) {
    yaml_node_t *sk = yaml_document_get_node(&doc, sp->key);
    yaml_node_t *sv = yaml_document_get_node(&doc, sp->value);
    size_t sl = sk->start_mark.line + 1, sc = sk->start_mark.column + 1;
    if (sk->type != YAML_SCALAR_NODE) {
      fmt(err, "%s:%zu:%zu: section names must be plain words", path, sl, sc);
      goto done;
    }
    const char *sec = (const char *)sk->data.scalar.value;
    if (!strcmp(sec, "base")) {
      for (int k = 0; k < n_sec; k++)
        if (!strcmp(sec_seen[k], sec)) {
          fmt(err, "%s:%zu:%zu: duplicate key 'base' (first at line %d)", path, sl, sc, sec_line[k]);
          goto done;
        }
      if (n_sec < MAX_SEC) {
        snprintf(sec_seen[n_sec], sizeof sec_seen[0], "%s", sec);
        sec_line[n_sec++] = (int)sl;
      }
      continue;
    }
    if (!strcmp(sec, "sweep") && depth > 0) {
      fmt(err, "%s:%zu:%zu: a base config cannot have a sweep: list (write the sweep in the config that names this one as its base)", path, sl,
          sc);
      goto done;
    }
    if (!strcmp(sec, "lesions")) {
      if (parse_lesions(cfg, &doc, sv, path, err)) goto done;
      continue;
    }
    if (!strcmp(sec, "sweep")) {
      sweep_line = (int)sl;
      if (parse_sweep(cfg, &doc, sv, path, sweep_entries, err)) goto done;
      continue;
    }
    if (!section_exists(sec)) {
      char sug[128];
      suggest_section(sec, sug, sizeof sug);
      if (sug[0])
        fmt(err, "%s:%zu:%zu: unknown section '%s' (did you mean '%s'?)", path, sl, sc, sec, sug);
      else
        fmt(err, "%s:%zu:%zu: unknown section '%s'", path, sl, sc, sec);
      goto done;
    }
    for (int k = 0; k < n_sec; k++)
      if (!strcmp(sec_seen[k], sec)) {
        fmt(err, "%s:%zu:%zu: duplicate key '%s' (first at line %d)", path, sl, sc, sec, sec_line[k]);
        goto done;
      }
    if (n_sec < MAX_SEC) {
      snprintf(sec_seen[n_sec], sizeof sec_seen[0], "%s", sec);
      sec_line[n_sec++] = (int)sl;
    }
    if (sv->type == YAML_SCALAR_NODE && sv->data.scalar.length == 0) continue; /* "sim:" with nothing below */
    if (sv->type != YAML_MAPPING_NODE) {
      fmt(err, "%s:%zu:%zu: wrong type for '%s': expected a mapping of keys, got %s", path, sv->start_mark.line + 1,
          sv->start_mark.column + 1, sec, node_kind(sv));
      goto done;
    }
    for (yaml_node_pair_t *kp = sv->data.mapping.pairs.start; kp < sv->data.mapping.pairs.top; kp++) {
      yaml_node_t *kk = yaml_document_get_node(&doc, kp->key);
      yaml_node_t *kv = yaml_document_get_node(&doc, kp->value);
      size_t kl = kk->start_mark.line + 1, kc = kk->start_mark.column + 1;
      if (kk->type != YAML_SCALAR_NODE) {
        fmt(err, "%s:%zu:%zu: keys in '%s' must be plain words", path, kl, kc, sec);
        goto done;
      }
      const char *key = (const char *)kk->data.scalar.value;
      int fi = field_index(sec, key);
      if (fi < 0) {
        char sug[160];
        suggest_key(sec, key, sug, sizeof sug);
        if (sug[0])
          fmt(err, "%s:%zu:%zu: unknown key '%s.%s' (did you mean '%s'?)", path, kl, kc, sec, key, sug);
        else
          fmt(err, "%s:%zu:%zu: unknown key '%s.%s' (dmn_mpi --config-reference lists all keys)", path, kl, kc, sec, key);
        goto done;
      }
      if (seen_line[fi]) {
        fmt(err, "%s:%zu:%zu: duplicate key '%s.%s' (first at line %d)", path, kl, kc, sec, key, seen_line[fi]);
        goto done;
      }
      seen_line[fi] = (int)kl;
      const DmnConfigField *f = &dmn_config_fields[fi];
      char where[DMN_STR_MAX + 64];
      snprintf(where, sizeof where, "%s:%zu:%zu", path, kv->start_mark.line + 1, kv->start_mark.column + 1);
      if (kv->type != YAML_SCALAR_NODE) {
        fmt(err, "%s: wrong type for '%s.%s': expected a single value, got %s", where, sec, key, node_kind(kv));
        goto done;
      }
      if (assign_value(cfg, f, (const char *)kv->data.scalar.value, where, err)) goto done;
    }
  }
  {
    long seeds[DMN_MAX_SWEEP];
    const int fs = field_index("sim", "sweep_seeds");
    const int ns = config_int_list(cfg->sim_sweep_seeds, 0, seeds, DMN_MAX_SWEEP);
    if (ns < 0 || (ns == 0 && cfg->sim_sweep_seeds[0])) {
      fmt(err, "%s:%d: 'sim.sweep_seeds' must be seeds >= 0 separated by commas (e.g. 1,2,3), got '%s'", path, seen_line[fs],
          cfg->sim_sweep_seeds);
      goto done;
    }
    if (sweep_line && cfg->sweep_index >= 0) {
      const int tasks = config_sweep_tasks(cfg);
      if (cfg->sweep_index >= tasks) {
        if (ns)
          fmt(err, "%s:%d:1: sweep index %d out of range: the sweep has %d conditions x %d seeds = %d tasks (0 .. %d)", path, sweep_line,
              cfg->sweep_index, cfg->n_sweep, ns, tasks, tasks - 1);
        else
          fmt(err, "%s:%d:1: sweep index %d out of range: the sweep has %d condition%s (0 .. %d)", path, sweep_line, cfg->sweep_index,
              cfg->n_sweep, cfg->n_sweep == 1 ? "" : "s", cfg->n_sweep - 1);
        goto done;
      }
      cfg->sweep_condition = ns ? cfg->sweep_index / ns : cfg->sweep_index;
      if (ns) cfg->sim_seed = seeds[cfg->sweep_index % ns];
      cfg->sweep_base_lesions = cfg->n_lesions;
      if (apply_sweep_entry(cfg, &doc, sweep_entries[cfg->sweep_condition], path, cfg->sweep_condition, err)) goto done;
    }
  }
  rc = 0;
done:
  free(sweep_entries);
  free(seen_line);
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return rc;
}

static void set_name_from_path(DmnConfig *cfg, const char *path) {
  snprintf(cfg->path, sizeof cfg->path, "%s", path);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(cfg->name, sizeof cfg->name, "%s", base);
  char *dot = strrchr(cfg->name, '.');
  if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) *dot = 0;
}

int config_load_file(DmnConfig *cfg, const char *path, char err[DMN_ERR_MAX]) {
  config_defaults(cfg);
  size_t got = 0;
  char *buf = util_read_text_file(path, "config file", DMN_CONFIG_MAX_BYTES, &got, err, DMN_ERR_MAX);
  if (!buf) return 1;
  set_name_from_path(cfg, path);
  int rc = config_parse_text(cfg, buf, got, path, err);
  free(buf);
  return rc;
}

void config_set_origin(DmnConfig *cfg, const char *path) { set_name_from_path(cfg, path); }

int config_set(DmnConfig *cfg, const char *assignment, char err[DMN_ERR_MAX]) {
  char buf[DMN_STR_MAX + 128];
  snprintf(buf, sizeof buf, "%s", assignment);
  char where[DMN_STR_MAX + 160];
  snprintf(where, sizeof where, "--set %s", assignment);
  char *eq = strchr(buf, '=');
  char *dot = strchr(buf, '.');
  if (!eq || !dot || dot > eq) {
    fmt(err, "%s: expected section.key=value", where);
    return 1;
  }
  *eq = 0;
  *dot = 0;
  const char *sec = buf, *key = dot + 1, *val = eq + 1;
  if (!section_exists(sec)) {
    char sug[128];
    suggest_section(sec, sug, sizeof sug);
    if (sug[0])
      fmt(err, "%s: unknown section '%s' (did you mean '%s'?)", where, sec, sug);
    else
      fmt(err, "%s: unknown section '%s'", where, sec);
    return 1;
  }
  int fi = field_index(sec, key);
  if (fi < 0) {
    char sug[160];
    suggest_key(sec, key, sug, sizeof sug);
    if (sug[0])
      fmt(err, "%s: unknown key '%s.%s' (did you mean '%s'?)", where, sec, key, sug);
    else
      fmt(err, "%s: unknown key '%s.%s'", where, sec, key);
    return 1;
  }
  return assign_value(cfg, &dmn_config_fields[fi], val, where, err);
}

#define DMN_HYPER_NAME(name, doc) #name,
const char *const dmn_hyper_names[DMN_NHYPER] = {DMN_HYPER(DMN_HYPER_NAME)};
#undef DMN_HYPER_NAME

/* In a comma-separated list, past the separator after an item that ended at
 * `end`: the next item, or NULL if what follows is not ", item" or the end. */
static const char *list_next(const char *end) {
  while (*end == ' ') end++;
  if (*end == ',') end++;
  else if (*end) return NULL;
  while (*end == ' ') end++;
  return end;
}

int config_eval_radii(const DmnConfig *cfg, double *radii, int max) {
  int n = 0;
  const char *s = cfg->train_eval_radii;
  while (*s) {
    char *end;
    double r = strtod(s, &end);
    if (end == s || !isfinite(r) || r < 0 || !(s = list_next(end))) return -1;
    if (n < max) radii[n] = r;
    n++;
  }
  return n < max ? n : max;
}

int config_int_list(const char *s, long lo, long *out, int max) {
  int n = 0;
  while (*s == ' ') s++;
  while (*s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno || v < lo || !(s = list_next(end))) return -1;
    if (n < max) out[n] = v;
    n++;
  }
  return n < max ? n : max;
}

int config_sweep_tasks(const DmnConfig *cfg) {
  long seeds[DMN_MAX_SWEEP];
  int ns = config_int_list(cfg->sim_sweep_seeds, 0, seeds, DMN_MAX_SWEEP);
  return cfg->n_sweep * (ns > 0 ? ns : 1);
}

void config_sweep_task_name(const DmnConfig *cfg, int task, char *out, size_t n) {
  long seeds[DMN_MAX_SWEEP];
  int ns = config_int_list(cfg->sim_sweep_seeds, 0, seeds, DMN_MAX_SWEEP);
  if (ns <= 0) ns = 0;
  const int cond = ns ? task / ns : task;
  if (task < 0 || cond >= cfg->n_sweep) snprintf(out, n, "%s", "");
  else if (ns) snprintf(out, n, "%s_s%ld", cfg->sweep_names[cond], seeds[task % ns]);
  else snprintf(out, n, "%s", cfg->sweep_names[cond]);
}

const char *config_sweep_name(const DmnConfig *cfg) {
  return cfg->sweep_condition >= 0 && cfg->sweep_condition < cfg->n_sweep ? cfg->sweep_names[cfg->sweep_condition] : "";
}

int config_validate(const DmnConfig *c, char err[DMN_ERR_MAX]) {
  const char *p = c->path[0] ? c->path : "(config)";
  double radii[1];
  if (config_eval_radii(c, radii, 1) < 0)
    return fmt(err, "%s: 'train.eval_radii' must be start distances in mm >= 0 separated by commas (e.g. 10,20,30,45), got '%s'", p,
               c->train_eval_radii), 1;
  long at[1];
  if (config_int_list(c->train_eval_at, 1, at, 1) < 0)
    return fmt(err, "%s: 'train.eval_at' must be episode counts >= 1 separated by commas (e.g. 100,400,1600), got '%s'", p, c->train_eval_at), 1;
  if (c->evolution_population > 1 && c->train_eval_at[0])
    return fmt(err, "%s: 'train.eval_at' applies to plain training; with 'evolution.population' %ld the individuals are judged by "
               "'evolution.fitness' (set it to \"\")", p, c->evolution_population), 1;
  if (c->arena_start_radius_max > 0 && c->arena_start_radius_max < c->arena_start_radius)
    return fmt(err, "%s: 'arena.start_radius_max' (%g) must be 0 (a fixed radius) or at least 'arena.start_radius' (%g)", p,
               c->arena_start_radius_max, c->arena_start_radius), 1;
  if (c->circuit_n_orn % 2) return fmt(err, "%s: 'circuit.n_orn' must be even (one half per antenna), got %ld", p, c->circuit_n_orn), 1;
  if (c->circuit_n_kc % 2) return fmt(err, "%s: 'circuit.n_kc' must be even (one half per side), got %ld", p, c->circuit_n_kc), 1;
  if (c->circuit_n_mbon % 2) return fmt(err, "%s: 'circuit.n_mbon' must be even (one half per side), got %ld", p, c->circuit_n_mbon), 1;
  if (c->connectome_source == 0 && c->circuit_n_pn != c->circuit_n_orn)
    return fmt(err, "%s: 'circuit.n_pn' (%ld) must equal 'circuit.n_orn' (%ld) for the synthetic connectome (one PN per glomerulus and side)", p,
               c->circuit_n_pn, c->circuit_n_orn), 1;
  if (c->connectome_source == 0 && c->circuit_kc_claws + c->circuit_kc_claws_spread > c->circuit_n_pn / 2)
    return fmt(err, "%s: 'circuit.kc_claws' + 'circuit.kc_claws_spread' (%ld) exceeds the PNs on one side (%ld)", p,
               c->circuit_kc_claws + c->circuit_kc_claws_spread, c->circuit_n_pn / 2), 1;
  if (c->circuit_kc_claws_spread >= c->circuit_kc_claws)
    return fmt(err, "%s: 'circuit.kc_claws_spread' (%ld) must be below 'circuit.kc_claws' (%ld): every KC needs a claw", p,
               c->circuit_kc_claws_spread, c->circuit_kc_claws), 1;
  if (c->sensing_c_min >= c->odor_c0)
    return fmt(err, "%s: 'sensing.c_min' (%g) must be below 'odor.c0' (%g)", p, c->sensing_c_min, c->odor_c0), 1;
  if (c->sensing_adapt > 0.95 && c->sensing_receptor != DMN_RECEPTOR_WEBER)
    return fmt(err, "%s: 'sensing.adapt' (%g) above 0.95 needs 'sensing.receptor: weber' (band and Hill receptors start from the gain init.orn_gain / (1 - k))", p,
               c->sensing_adapt), 1;
  if (c->grad_tape == DMN_TAPE_COMPACT && c->grad_checkpoint > 0)
    return fmt(err, "%s: use either 'grad.tape: compact' or 'grad.checkpoint' > 0 (the checkpointed tape keeps its segment in double)", p), 1;
  if (c->grad_tape == DMN_TAPE_COMPACT && c->circuit_spike_fn == DMN_SPIKE_SIGMOID)
    return fmt(err, "%s: 'grad.tape: compact' stores spikes as bytes, but 'circuit.spike_fn: sigmoid' spikes are real numbers: use grad.tape: double", p), 1;
  if (c->connectome_source != DMN_SOURCE_SYNTHETIC && !c->connectome_path[0])
    return fmt(err, "%s: 'connectome.path' must name the data directory for connectome.source %s", p,
               config_enum_name("connectome", "source", c->connectome_source)), 1;
  if (c->evolution_lesioned > 0 && c->evolution_lesioned >= c->evolution_population)
    return fmt(err, "%s: 'evolution.lesioned' (%ld) must be below 'evolution.population' (%ld): some individuals must start intact", p,
               c->evolution_lesioned, c->evolution_population), 1;
  if (c->evolution_population > 1 && c->train_validate_every > 0)
    return fmt(err,
               "%s: 'train.validate_every' applies to plain training; with 'evolution.population' %ld the "
               "individuals are judged by 'evolution.fitness' (set it to 0)",
               p, c->evolution_population), 1;
  if (c->evolution_lesioned > 0 && c->n_lesions == 0)
    return fmt(err, "%s: 'evolution.lesioned' is %ld but the config has no 'lesions:' to start those individuals on", p, c->evolution_lesioned), 1;
  {
    /* evolution.mutate: known hyperparameter names only */
    char buf[DMN_STR_MAX];
    snprintf(buf, sizeof buf, "%s", c->evolution_mutate);
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
      int ok = 0;
      char allowed[256] = "";
      for (int k = 0; k < DMN_NHYPER; k++) {
        ok |= !strcmp(tok, dmn_hyper_names[k]);
        util_sfmt(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", k ? ", " : "", dmn_hyper_names[k]);
      }
      if (!ok) return fmt(err, "%s: 'evolution.mutate': unknown hyperparameter '%s' (allowed: %s)", p, tok, allowed), 1;
    }
  }
  if (c->grad_sensory_feedback == DMN_FEEDBACK_WINDOW && c->grad_window > c->sim_steps)
    return fmt(err, "%s: 'grad.window' (%ld) exceeds 'sim.steps' (%ld)", p, c->grad_window, c->sim_steps), 1;
  return 0;
}

/* ---- printing ---------------------------------------------------------------- */

static void value_text(const DmnConfig *cfg, const DmnConfigField *f, char *out, size_t n) {
  const void *p = field_cptr(cfg, f);
  switch (f->type) {
  case DMN_T_DOUBLE: snprintf(out, n, "%.17g", *(const double *)p); break;
  case DMN_T_INT: snprintf(out, n, "%ld", *(const long *)p); break;
  case DMN_T_BOOL: snprintf(out, n, "%s", *(const int *)p ? "true" : "false"); break;
  case DMN_T_ENUM: snprintf(out, n, "%s", config_enum_name(f->section, f->key, *(const int *)p)); break;
  case DMN_T_STRING: {
    /* Double-quoted YAML scalar: escape backslash and quote. */
    const char *s = (const char *)p;
    size_t k = 0;
    out[k++] = '"';
    for (; *s && k + 3 < n; s++) {
      if (*s == '"' || *s == '\\') out[k++] = '\\';
      out[k++] = *s;
    }
    out[k++] = '"';
    out[k] = 0;
    break;
  }
  }
}

char *config_to_yaml(const DmnConfig *cfg) {
  DmnText b = {0};
  util_textf(&b, "# dmn effective configuration (every key; defaults filled in)\n");
  const char *sec = "";
  for (int i = 0; i < dmn_config_n_fields; i++) {
    const DmnConfigField *f = &dmn_config_fields[i];
    if (strcmp(sec, f->section)) {
      sec = f->section;
      util_textf(&b, "%s:\n", sec);
    }
    char v[DMN_STR_MAX * 2 + 8];
    value_text(cfg, f, v, sizeof v);
    util_textf(&b, "  %s: %s\n", f->key, v);
  }
  if (cfg->sweep_condition >= 0 && cfg->sweep_condition < cfg->n_sweep)
    util_textf(&b, "# sweep task %d of %d: condition %s, seed %ld (its lesions and set: applied above)\n", cfg->sweep_index,
               config_sweep_tasks(cfg), config_sweep_name(cfg), cfg->sim_seed);
  if (!cfg->n_lesions) util_textf(&b, "lesions: []\n");
  else util_textf(&b, "lesions:\n");
  for (int i = 0; i < cfg->n_lesions; i++) {
    const DmnLesionSpec *L = &cfg->lesions[i];
    util_textf(&b, "  - name: \"%s\"\n    kind: %s\n", L->name, dmn_lesion_kinds[L->kind]);
    if (L->layer >= 0) util_textf(&b, "    layer: %s\n    select: \"%s\"\n", layer_names[L->layer], L->select);
    if (L->proj >= 0) util_textf(&b, "    projection: %s\n", proj_names[L->proj]);
    if (L->fraction >= 0) util_textf(&b, "    fraction: %.17g\n", L->fraction);
    if (L->kind == DMN_LESION_SCALE) util_textf(&b, "    factor: %.17g\n", L->factor);
    if (L->kind == DMN_LESION_DROP || L->kind == DMN_LESION_SHUFFLE || L->kind == DMN_LESION_RANDOMIZE || L->fraction >= 0)
      util_textf(&b, "    seed: %ld\n", L->seed);
  }
  return b.s;
}

char *config_reference_markdown(void) {
  DmnText b = {0};
  DmnConfig def;
  config_defaults(&def);
  const char *sec = "";
  for (int i = 0; i < dmn_config_n_fields; i++) {
    const DmnConfigField *f = &dmn_config_fields[i];
    if (strcmp(sec, f->section)) {
      sec = f->section;
      util_textf(&b, "\n**`%s:`**\n\n| key | default | allowed | unit | meaning |\n|---|---|---|---|---|\n", sec);
    }
    char v[DMN_STR_MAX * 2 + 8], r[400];
    value_text(&def, f, v, sizeof v);
    if (f->type == DMN_T_DOUBLE) snprintf(v, sizeof v, "%g", *(const double *)field_cptr(&def, f));
    describe_range(f, r, sizeof r, 0);
    const char *rr = r;
    if (!strncmp(rr, "allowed: ", 9)) rr += 9;
    else if (!strncmp(rr, "allowed ", 8)) rr += 8;
    if (f->type == DMN_T_STRING) rr = "text";
    util_textf(&b, "| `%s.%s` | `%s` | %s | %s | %s |\n", f->section, f->key, v, rr, f->unit, f->doc);
  }
  return b.s;
}

void config_relative_path(const DmnConfig *cfg, const char *p, char *out, size_t n) {
  if (p[0] == '/' || !cfg->path[0]) {
    util_sfmt(out, n, "%s", p);
    return;
  }
  char base[DMN_STR_MAX];
  util_sfmt(base, sizeof base, "%s", cfg->path);
  char *slash = strrchr(base, '/');
  if (!slash) {
    util_sfmt(out, n, "%s", p);
    return;
  }
  *slash = 0;
  util_sfmt(out, n, "%s/%s", base, p);
}
