/* config — the field table (config.h): defaults, values and their checks,
 * --set, lists, validation across keys, printing and the reference (the YAML
 * walk is config_parse.c).
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

#include "config_internal.h"
#include "util.h"

#define DMN_ROW(sec, key, type, dn, ds, mn, mx, unit, doc) \
  {#sec, #key, DMN_T_##type, (double)(dn), ds, (double)(mn), (double)(mx), unit, doc, offsetof(DmnConfig, sec##_##key)},
const DmnConfigField dmn_config_fields[] = {DMN_CONFIG_FIELDS(DMN_ROW)};
#undef DMN_ROW
const int dmn_config_n_fields = (int)(sizeof(dmn_config_fields) / sizeof(dmn_config_fields[0]));

static void *field_ptr(DmnConfig *cfg, const DmnConfigField *f) { return (char *)cfg + f->offset; }
static const void *field_cptr(const DmnConfig *cfg, const DmnConfigField *f) { return (const char *)cfg + f->offset; }

void config_errf(char err[DMN_ERR_MAX], const char *f, ...) {
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

/* ---- names the parser and the printer share ------------------------------ */

const char *const dmn_lesion_kinds[DMN_NLESION_KIND] = {"ablate", "silence", "drop", "scale", "shuffle", "randomize"};
/* Same order as DmnLayer / DmnProj (connectome.h); a unit test checks it. */
const char *const config_layer_names[6] = {"ORN", "PN", "KC", "MBON", "DN", "APL"};
const char *const config_proj_names[5] = {"orn_to_pn", "pn_to_kc", "kc_to_mbon", "mbon_to_dn", "pn_to_dn"};

void config_set_name_from_path(DmnConfig *cfg, const char *path) {
  snprintf(cfg->path, sizeof cfg->path, "%s", path);
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  snprintf(cfg->name, sizeof cfg->name, "%s", base);
  char *dot = strrchr(cfg->name, '.');
  if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) *dot = 0;
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

int config_section_exists(const char *sec) {
  for (int i = 0; i < dmn_config_n_fields; i++)
    if (!strcmp(dmn_config_fields[i].section, sec)) return 1;
  return 0;
}

int config_field_index(const char *sec, const char *key) {
  for (int i = 0; i < dmn_config_n_fields; i++)
    if (!strcmp(dmn_config_fields[i].section, sec) && !strcmp(dmn_config_fields[i].key, key)) return i;
  return -1;
}

/* Best suggestion for an unknown section.key: a close spelling in the same
 * section, or the same key in another section. */
void config_suggest_key(const char *sec, const char *key, char *out, size_t n) {
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

void config_suggest_section(const char *sec, char *out, size_t n) {
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
  int i = config_field_index(section, key);
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
int config_assign_value(DmnConfig *cfg, const DmnConfigField *f, const char *text, const char *where, char err[DMN_ERR_MAX]) {
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
      config_errf(err, "%s: wrong type for '%s.%s': expected a number, got '%s'", where, f->section, f->key, text);
      return 1;
    }
    if (v < f->min || v > f->max) {
      config_errf(err, "%s: value out of range for '%s.%s': %s (%s)", where, f->section, f->key, text, range);
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
      config_errf(err, "%s: wrong type for '%s.%s': expected an integer, got '%s'", where, f->section, f->key, text);
      return 1;
    }
    if ((double)v < f->min || (double)v > f->max) {
      config_errf(err, "%s: value out of range for '%s.%s': %s (%s)", where, f->section, f->key, text, range);
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
    config_errf(err, "%s: wrong type for '%s.%s': expected true or false, got '%s'", where, f->section, f->key, text);
    return 1;
  }
  case DMN_T_ENUM: {
    int k = enum_index(f, text);
    if (k < 0) {
      config_errf(err, "%s: invalid value for '%s.%s': '%s' (%s)", where, f->section, f->key, text, range);
      return 1;
    }
    *(int *)p = k;
    return 0;
  }
  case DMN_T_STRING:
    if (strlen(text) >= DMN_STR_MAX) {
      config_errf(err, "%s: value too long for '%s.%s' (at most %d characters)", where, f->section, f->key, DMN_STR_MAX - 1);
      return 1;
    }
    snprintf((char *)p, DMN_STR_MAX, "%s", text);
    return 0;
  }
  return 1;
}

void config_set_origin(DmnConfig *cfg, const char *path) { config_set_name_from_path(cfg, path); }

int config_set(DmnConfig *cfg, const char *assignment, char err[DMN_ERR_MAX]) {
  char buf[DMN_STR_MAX + 128];
  snprintf(buf, sizeof buf, "%s", assignment);
  char where[DMN_STR_MAX + 160];
  snprintf(where, sizeof where, "--set %s", assignment);
  char *eq = strchr(buf, '=');
  char *dot = strchr(buf, '.');
  if (!eq || !dot || dot > eq) {
    config_errf(err, "%s: expected section.key=value", where);
    return 1;
  }
  *eq = 0;
  *dot = 0;
  const char *sec = buf, *key = dot + 1, *val = eq + 1;
  if (!config_section_exists(sec)) {
    char sug[128];
    config_suggest_section(sec, sug, sizeof sug);
    if (sug[0])
      config_errf(err, "%s: unknown section '%s' (did you mean '%s'?)", where, sec, sug);
    else
      config_errf(err, "%s: unknown section '%s'", where, sec);
    return 1;
  }
  int fi = config_field_index(sec, key);
  if (fi < 0) {
    char sug[160];
    config_suggest_key(sec, key, sug, sizeof sug);
    if (sug[0])
      config_errf(err, "%s: unknown key '%s.%s' (did you mean '%s'?)", where, sec, key, sug);
    else
      config_errf(err, "%s: unknown key '%s.%s'", where, sec, key);
    return 1;
  }
  return config_assign_value(cfg, &dmn_config_fields[fi], val, where, err);
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
    return config_errf(err, "%s: 'train.eval_radii' must be start distances in mm >= 0 separated by commas (e.g. 10,20,30,45), got '%s'", p,
               c->train_eval_radii), 1;
  long at[1];
  if (config_int_list(c->train_eval_at, 1, at, 1) < 0)
    return config_errf(err, "%s: 'train.eval_at' must be episode counts >= 1 separated by commas (e.g. 100,400,1600), got '%s'", p, c->train_eval_at), 1;
  if (c->evolution_population > 1 && c->train_eval_at[0])
    return config_errf(err, "%s: 'train.eval_at' applies to plain training; with 'evolution.population' %ld the individuals are judged by "
               "'evolution.fitness' (set it to \"\")", p, c->evolution_population), 1;
  if (c->arena_start_radius_max > 0 && c->arena_start_radius_max < c->arena_start_radius)
    return config_errf(err, "%s: 'arena.start_radius_max' (%g) must be 0 (a fixed radius) or at least 'arena.start_radius' (%g)", p,
               c->arena_start_radius_max, c->arena_start_radius), 1;
  if (c->circuit_n_orn % 2) return config_errf(err, "%s: 'circuit.n_orn' must be even (one half per antenna), got %ld", p, c->circuit_n_orn), 1;
  if (c->circuit_n_kc % 2) return config_errf(err, "%s: 'circuit.n_kc' must be even (one half per side), got %ld", p, c->circuit_n_kc), 1;
  if (c->circuit_n_mbon % 2) return config_errf(err, "%s: 'circuit.n_mbon' must be even (one half per side), got %ld", p, c->circuit_n_mbon), 1;
  if (c->connectome_source == 0 && c->circuit_n_pn != c->circuit_n_orn)
    return config_errf(err, "%s: 'circuit.n_pn' (%ld) must equal 'circuit.n_orn' (%ld) for the synthetic connectome (one PN per glomerulus and side)", p,
               c->circuit_n_pn, c->circuit_n_orn), 1;
  if (c->connectome_source == 0 && c->circuit_kc_claws + c->circuit_kc_claws_spread > c->circuit_n_pn / 2)
    return config_errf(err, "%s: 'circuit.kc_claws' + 'circuit.kc_claws_spread' (%ld) exceeds the PNs on one side (%ld)", p,
               c->circuit_kc_claws + c->circuit_kc_claws_spread, c->circuit_n_pn / 2), 1;
  if (c->circuit_kc_claws_spread >= c->circuit_kc_claws)
    return config_errf(err, "%s: 'circuit.kc_claws_spread' (%ld) must be below 'circuit.kc_claws' (%ld): every KC needs a claw", p,
               c->circuit_kc_claws_spread, c->circuit_kc_claws), 1;
  if (c->sensing_c_min >= c->odor_c0)
    return config_errf(err, "%s: 'sensing.c_min' (%g) must be below 'odor.c0' (%g)", p, c->sensing_c_min, c->odor_c0), 1;
  if (c->sensing_adapt > 0.95 && c->sensing_receptor != DMN_RECEPTOR_WEBER)
    return config_errf(err, "%s: 'sensing.adapt' (%g) above 0.95 needs 'sensing.receptor: weber' (band and Hill receptors start from the gain init.orn_gain / (1 - k))", p,
               c->sensing_adapt), 1;
  if (c->grad_tape == DMN_TAPE_COMPACT && c->grad_checkpoint > 0)
    return config_errf(err, "%s: use either 'grad.tape: compact' or 'grad.checkpoint' > 0 (the checkpointed tape keeps its segment in double)", p), 1;
  if (c->grad_tape == DMN_TAPE_COMPACT && c->circuit_spike_fn == DMN_SPIKE_SIGMOID)
    return config_errf(err, "%s: 'grad.tape: compact' stores spikes as bytes, but 'circuit.spike_fn: sigmoid' spikes are real numbers: use grad.tape: double", p), 1;
  if (c->connectome_source != DMN_SOURCE_SYNTHETIC && !c->connectome_path[0])
    return config_errf(err, "%s: 'connectome.path' must name the data directory for connectome.source %s", p,
               config_enum_name("connectome", "source", c->connectome_source)), 1;
  if (c->evolution_lesioned > 0 && c->evolution_lesioned >= c->evolution_population)
    return config_errf(err, "%s: 'evolution.lesioned' (%ld) must be below 'evolution.population' (%ld): some individuals must start intact", p,
               c->evolution_lesioned, c->evolution_population), 1;
  if (c->evolution_population > 1 && c->train_validate_every > 0)
    return config_errf(err,
               "%s: 'train.validate_every' applies to plain training; with 'evolution.population' %ld the "
               "individuals are judged by 'evolution.fitness' (set it to 0)",
               p, c->evolution_population), 1;
  if (c->evolution_lesioned > 0 && c->n_lesions == 0)
    return config_errf(err, "%s: 'evolution.lesioned' is %ld but the config has no 'lesions:' to start those individuals on", p, c->evolution_lesioned), 1;
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
      if (!ok) return config_errf(err, "%s: 'evolution.mutate': unknown hyperparameter '%s' (allowed: %s)", p, tok, allowed), 1;
    }
  }
  if (c->grad_sensory_feedback == DMN_FEEDBACK_WINDOW && c->grad_window > c->sim_steps)
    return config_errf(err, "%s: 'grad.window' (%ld) exceeds 'sim.steps' (%ld)", p, c->grad_window, c->sim_steps), 1;
  return 0;
}

/* ---- printing ---------------------------------------------------------------- */

static void value_text(const DmnConfig *cfg, const DmnConfigField *f, char *out, size_t n) {
  const void *p = field_cptr(cfg, f);
  switch (f->type) {
  case DMN_T_DOUBLE: { /* the shortest text that reads back to the same bits: 0.3, not 0.29999999999999999 */
    const double v = *(const double *)p;
    for (int digits = 15; digits <= 17; digits++) {
      snprintf(out, n, "%.*g", digits, v);
      if (strtod(out, NULL) == v) break;
    }
    break;
  }
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
    if (L->layer >= 0) util_textf(&b, "    layer: %s\n    select: \"%s\"\n", config_layer_names[L->layer], L->select);
    if (L->proj >= 0) util_textf(&b, "    projection: %s\n", config_proj_names[L->proj]);
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
    const size_t rn = strlen(rr);
    if (rn >= 9 && !memcmp(rr, "allowed: ", 9)) rr += 9;
    else if (rn >= 8 && !memcmp(rr, "allowed ", 8)) rr += 8;
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
