/* config_parse — a config file (YAML) into the field table's struct: the
 * document walk, `base:` files, the `lesions:` list, the `sweep:` entries and
 * their `set:` maps.  Values go through config.c's converter, so a file, a
 * base and --set share one set of checks.
 *
 * Every error is one line `PATH:LINE:COL: what 'section.key' ...` so that an
 * editor can jump to it. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config.h"
#include "config_internal.h"
#include "util.h"

/* ---- YAML ------------------------------------------------------------------ */

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_MAPPING_NODE: return "a mapping";
  case YAML_SEQUENCE_NODE: return "a list";
  default: return "a scalar";
  }
}

/* ---- the lesions: list ------------------------------------------------------ */


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
    config_errf(err, "%s:%zu:%zu: wrong type for 'lesions': expected a list of lesions (- kind: ablate ...), got %s", path,
        list->start_mark.line + 1, list->start_mark.column + 1, node_kind(list));
    return 1;
  }
  for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++) {
    yaml_node_t *e = yaml_document_get_node(doc, *it);
    size_t el = e->start_mark.line + 1, ec = e->start_mark.column + 1;
    if (e->type != YAML_MAPPING_NODE) {
      config_errf(err, "%s:%zu:%zu: each lesion must be a mapping (kind: ..., layer: ..., ...), got %s", path, el, ec, node_kind(e));
      return 1;
    }
    if (cfg->n_lesions == DMN_MAX_LESIONS) {
      config_errf(err, "%s:%zu:%zu: more than %d lesions in one run (use a sweep for more conditions)", path, el, ec, DMN_MAX_LESIONS);
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
              config_errf(err, "%s:%zu:%zu: 'lesions[%d].ids' must be a list of integer ids", path, vl, vc, cfg->n_lesions);
              return 1;
            }
            if (ids[0]) strncat(ids, ",", sizeof ids - strlen(ids) - 1);
            strncat(ids, (const char *)x->data.scalar.value, sizeof ids - strlen(ids) - 1);
          }
        } else {
          config_errf(err, "%s:%zu:%zu: 'lesions[%d].ids' must be a list of integer ids", path, vl, vc, cfg->n_lesions);
          return 1;
        }
        for (const char *c = ids; *c; c++)
          if (!isdigit((unsigned char)*c) && *c != ',' && *c != ' ' && *c != '-') {
            config_errf(err, "%s:%zu:%zu: 'lesions[%d].ids' must be integer ids, got '%s'", path, vl, vc, cfg->n_lesions, ids);
            return 1;
          }
        continue;
      }
      if (kv->type != YAML_SCALAR_NODE) {
        config_errf(err, "%s:%zu:%zu: wrong type for 'lesions[%d].%s': expected a single value, got %s", path, vl, vc, cfg->n_lesions, key,
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
        if (L->kind < 0) return config_errf(err, "%s:%zu:%zu: invalid value for 'lesions[%d].kind': '%s' (allowed: %s)", path, vl, vc, cfg->n_lesions, v, choices), 1;
      } else if (!strcmp(key, "layer")) {
        L->layer = name_index(config_layer_names, 6, v);
        join_names(config_layer_names, 6, choices, sizeof choices);
        if (L->layer < 0) return config_errf(err, "%s:%zu:%zu: invalid value for 'lesions[%d].layer': '%s' (allowed: %s)", path, vl, vc, cfg->n_lesions, v, choices), 1;
      } else if (!strcmp(key, "projection")) {
        L->proj = name_index(config_proj_names, 5, v);
        join_names(config_proj_names, 5, choices, sizeof choices);
        if (L->proj < 0) return config_errf(err, "%s:%zu:%zu: invalid value for 'lesions[%d].projection': '%s' (allowed: %s)", path, vl, vc, cfg->n_lesions, v, choices), 1;
      } else if (!strcmp(key, "select")) {
        if (strlen(v) >= DMN_SELECT_MAX) return config_errf(err, "%s:%zu:%zu: 'lesions[%d].select' is longer than %d characters", path, vl, vc, cfg->n_lesions, DMN_SELECT_MAX - 1), 1;
        snprintf(L->select, sizeof L->select, "%s", v);
      } else if (!strcmp(key, "fraction")) {
        if (parse_number(v, 0.0, 1.0, &L->fraction))
          return config_errf(err, "%s:%zu:%zu: 'lesions[%d].fraction' must be a number in 0 .. 1, got '%s'", path, vl, vc, cfg->n_lesions, v), 1;
      } else if (!strcmp(key, "factor")) {
        if (parse_number(v, 0.0, 1e6, &L->factor))
          return config_errf(err, "%s:%zu:%zu: 'lesions[%d].factor' must be a number in 0 .. 1e6, got '%s'", path, vl, vc, cfg->n_lesions, v), 1;
      } else if (!strcmp(key, "seed")) {
        double sd;
        if (parse_number(v, 0.0, 2147483647.0, &sd) || sd != floor(sd))
          return config_errf(err, "%s:%zu:%zu: 'lesions[%d].seed' must be an integer >= 0, got '%s'", path, vl, vc, cfg->n_lesions, v), 1;
        L->seed = (long)sd;
      } else {
        return config_errf(err, "%s:%zu:%zu: unknown key 'lesions[%d].%s' (allowed: name, kind, layer, projection, select, ids, fraction, factor, seed)",
                   path, kl, kc, cfg->n_lesions, key), 1;
      }
    }
    /* required keys per kind */
    int n = cfg->n_lesions;
    if (L->kind < 0) return config_errf(err, "%s:%zu:%zu: lesion %d has no 'kind' (ablate, silence, drop, scale or shuffle)", path, el, ec, n), 1;
    const char *kind = dmn_lesion_kinds[L->kind];
    if (ids[0]) {
      size_t used = strlen(L->select);
      if (used + strlen(ids) + 5 >= DMN_SELECT_MAX)
        return config_errf(err, "%s:%zu:%zu: lesion %d: too many ids for one entry (at most ~%d characters; use a selector)", path, el, ec, n, DMN_SELECT_MAX), 1;
      if (used) strcat(L->select, " ");
      strcat(L->select, "id=");
      strcat(L->select, ids);
    }
    if (L->kind == DMN_LESION_ABLATE || L->kind == DMN_LESION_SILENCE) {
      if (L->layer < 0) return config_errf(err, "%s:%zu:%zu: lesion %d (%s) needs 'layer' (ORN, PN, KC, MBON, DN or APL)", path, el, ec, n, kind), 1;
      if (!L->select[0])
        return config_errf(err, "%s:%zu:%zu: lesion %d (%s) needs 'select' or 'ids' (select: all for the whole layer)", path, el, ec, n, kind), 1;
      if (L->proj >= 0 || L->factor >= 0)
        return config_errf(err, "%s:%zu:%zu: lesion %d (%s) takes layer, select, ids, and fraction with seed only", path, el, ec, n, kind), 1;
      if (L->fraction >= 0 && L->layer == DMN_LESION_LAYER_APL)
        return config_errf(err, "%s:%zu:%zu: lesion %d (%s APL) takes no 'fraction' (there is one APL per side: select side=left)", path, el, ec, n, kind), 1;
    } else {
      if (L->proj < 0) return config_errf(err, "%s:%zu:%zu: lesion %d (%s) needs 'projection' (orn_to_pn, pn_to_kc, kc_to_mbon, mbon_to_dn, pn_to_dn)", path, el, ec, n, kind), 1;
      if (L->layer >= 0 || L->select[0]) return config_errf(err, "%s:%zu:%zu: lesion %d (%s) acts on a projection: no layer, select or ids", path, el, ec, n, kind), 1;
      if (L->kind == DMN_LESION_DROP && L->fraction < 0) return config_errf(err, "%s:%zu:%zu: lesion %d (drop) needs 'fraction' (0 .. 1)", path, el, ec, n), 1;
      if (L->kind != DMN_LESION_DROP && L->fraction >= 0) return config_errf(err, "%s:%zu:%zu: lesion %d (%s) takes no 'fraction'", path, el, ec, n, kind), 1;
      if (L->kind == DMN_LESION_SCALE && L->factor < 0) return config_errf(err, "%s:%zu:%zu: lesion %d (scale) needs 'factor' (>= 0)", path, el, ec, n), 1;
      if (L->kind != DMN_LESION_SCALE && L->factor >= 0) return config_errf(err, "%s:%zu:%zu: lesion %d (%s) takes no 'factor'", path, el, ec, n, kind), 1;
    }
    if (!L->name[0])
      snprintf(L->name, sizeof L->name, "%s_%s", kind, L->layer >= 0 ? config_layer_names[L->layer] : config_proj_names[L->proj]);
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
    config_errf(err, "%s:%zu:%zu: 'sweep[%d].set' must be a mapping of section.key: value", path, set->start_mark.line + 1, set->start_mark.column + 1, idx);
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
      fi = config_field_index(key, dot + 1);
      *dot = '.';
    }
    if (fi < 0) {
      char sug[160] = "";
      if (dot) {
        *dot = 0;
        config_suggest_key(key, dot + 1, sug, sizeof sug);
        *dot = '.';
      }
      if (sug[0]) config_errf(err, "%s: unknown key '%s' in 'sweep[%d].set' (did you mean '%s'?)", where, key, idx, sug);
      else config_errf(err, "%s: unknown key '%s' in 'sweep[%d].set' (write section.key, e.g. train.lr)", where, key, idx);
      return 1;
    }
    if (kv->type != YAML_SCALAR_NODE) {
      config_errf(err, "%s:%zu:%zu: wrong type for '%s': expected a single value, got %s", path, kv->start_mark.line + 1, kv->start_mark.column + 1, key,
          node_kind(kv));
      return 1;
    }
    snprintf(where, sizeof where, "%s:%zu:%zu", path, kv->start_mark.line + 1, kv->start_mark.column + 1);
    if (config_assign_value(cfg, &dmn_config_fields[fi], (const char *)kv->data.scalar.value, where, err)) return 1;
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
        config_errf(err, "%s:%zu:%zu: sweep[%d]: more than %d lesions with the base config's", path, kv->start_mark.line + 1, kv->start_mark.column + 1,
            idx, DMN_MAX_LESIONS);
        rc = 1;
      }
      for (int i = 0; !rc && i < tmp->n_lesions; i++) cfg->lesions[cfg->n_lesions++] = tmp->lesions[i];
      free(tmp);
      if (rc) return 1;
    } else {
      config_errf(err, "%s:%zu:%zu: unknown key 'sweep[%d].%s' (allowed: name, lesions, set)", path, kk->start_mark.line + 1, kk->start_mark.column + 1,
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
    config_errf(err, "%s:%zu:%zu: wrong type for 'sweep': expected a list of conditions (- name: ...), got %s", path, list->start_mark.line + 1,
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
      config_errf(err, "%s:%zu:%zu: each sweep condition must be a mapping (name: ..., lesions: ..., set: ...), got %s", path, el, ec, node_kind(e));
      rc = 1;
      break;
    }
    if (idx == DMN_MAX_SWEEP) {
      config_errf(err, "%s:%zu:%zu: more than %d sweep conditions", path, el, ec, DMN_MAX_SWEEP);
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
        config_errf(err, "%s:%zu:%zu: sweep condition name '%s': use letters, digits, '_', '-', '.' (it names a directory)", path, el, ec, name);
        rc = 1;
        break;
      }
    for (int j = 0; j < idx && !rc; j++)
      if (!strcmp(cfg->sweep_names[j], name)) {
        config_errf(err, "%s:%zu:%zu: duplicate sweep condition name '%s'", path, el, ec, name);
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
    config_errf(err, "%s:%zu:%zu: wrong type for 'base': expected the path of another config file, got %s", path, vl, vc, node_kind(v));
    return 1;
  }
  const char *ref = (const char *)v->data.scalar.value;
  if (depth >= DMN_BASE_DEPTH) {
    config_errf(err, "%s:%zu:%zu: 'base: %s': more than %d configs deep (does a base name itself?)", path, vl, vc, ref, DMN_BASE_DEPTH);
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
    config_errf(err, "%s:%zu:%zu: 'base: %s': %s", path, vl, vc, ref, why);
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
        config_errf(err, "%s:%zu:%zu: 'base: %s': path '%s' too long", path, vl, vc, ref, tmp);
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
    config_errf(err, "%s: cannot initialise the YAML parser", path);
    return 1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  if (!yaml_parser_load(&parser, &doc)) {
    config_errf(err, "%s:%zu:%zu: malformed YAML: %s%s%s", path, parser.problem_mark.line + 1, parser.problem_mark.column + 1,
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
    config_errf(err, "%s:%zu:%zu: expected a mapping of sections (sim:, circuit:, ...) at the top level, got %s", path,
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
      config_errf(err, "%s:%zu:%zu: section names must be plain words", path, sl, sc);
      goto done;
    }
    const char *sec = (const char *)sk->data.scalar.value;
    if (!strcmp(sec, "base")) {
      for (int k = 0; k < n_sec; k++)
        if (!strcmp(sec_seen[k], sec)) {
          config_errf(err, "%s:%zu:%zu: duplicate key 'base' (first at line %d)", path, sl, sc, sec_line[k]);
          goto done;
        }
      if (n_sec < MAX_SEC) {
        snprintf(sec_seen[n_sec], sizeof sec_seen[0], "%s", sec);
        sec_line[n_sec++] = (int)sl;
      }
      continue;
    }
    if (!strcmp(sec, "sweep") && depth > 0) {
      config_errf(err, "%s:%zu:%zu: a base config cannot have a sweep: list (write the sweep in the config that names this one as its base)", path, sl,
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
    if (!config_section_exists(sec)) {
      char sug[128];
      config_suggest_section(sec, sug, sizeof sug);
      if (sug[0])
        config_errf(err, "%s:%zu:%zu: unknown section '%s' (did you mean '%s'?)", path, sl, sc, sec, sug);
      else
        config_errf(err, "%s:%zu:%zu: unknown section '%s'", path, sl, sc, sec);
      goto done;
    }
    for (int k = 0; k < n_sec; k++)
      if (!strcmp(sec_seen[k], sec)) {
        config_errf(err, "%s:%zu:%zu: duplicate key '%s' (first at line %d)", path, sl, sc, sec, sec_line[k]);
        goto done;
      }
    if (n_sec < MAX_SEC) {
      snprintf(sec_seen[n_sec], sizeof sec_seen[0], "%s", sec);
      sec_line[n_sec++] = (int)sl;
    }
    if (sv->type == YAML_SCALAR_NODE && sv->data.scalar.length == 0) continue; /* "sim:" with nothing below */
    if (sv->type != YAML_MAPPING_NODE) {
      config_errf(err, "%s:%zu:%zu: wrong type for '%s': expected a mapping of keys, got %s", path, sv->start_mark.line + 1,
          sv->start_mark.column + 1, sec, node_kind(sv));
      goto done;
    }
    for (yaml_node_pair_t *kp = sv->data.mapping.pairs.start; kp < sv->data.mapping.pairs.top; kp++) {
      yaml_node_t *kk = yaml_document_get_node(&doc, kp->key);
      yaml_node_t *kv = yaml_document_get_node(&doc, kp->value);
      size_t kl = kk->start_mark.line + 1, kc = kk->start_mark.column + 1;
      if (kk->type != YAML_SCALAR_NODE) {
        config_errf(err, "%s:%zu:%zu: keys in '%s' must be plain words", path, kl, kc, sec);
        goto done;
      }
      const char *key = (const char *)kk->data.scalar.value;
      int fi = config_field_index(sec, key);
      if (fi < 0) {
        char sug[160];
        config_suggest_key(sec, key, sug, sizeof sug);
        if (sug[0])
          config_errf(err, "%s:%zu:%zu: unknown key '%s.%s' (did you mean '%s'?)", path, kl, kc, sec, key, sug);
        else
          config_errf(err, "%s:%zu:%zu: unknown key '%s.%s' (dmn_mpi --config-reference lists all keys)", path, kl, kc, sec, key);
        goto done;
      }
      if (seen_line[fi]) {
        config_errf(err, "%s:%zu:%zu: duplicate key '%s.%s' (first at line %d)", path, kl, kc, sec, key, seen_line[fi]);
        goto done;
      }
      seen_line[fi] = (int)kl;
      const DmnConfigField *f = &dmn_config_fields[fi];
      char where[DMN_STR_MAX + 64];
      snprintf(where, sizeof where, "%s:%zu:%zu", path, kv->start_mark.line + 1, kv->start_mark.column + 1);
      if (kv->type != YAML_SCALAR_NODE) {
        config_errf(err, "%s: wrong type for '%s.%s': expected a single value, got %s", where, sec, key, node_kind(kv));
        goto done;
      }
      if (config_assign_value(cfg, f, (const char *)kv->data.scalar.value, where, err)) goto done;
    }
  }
  {
    long seeds[DMN_MAX_SWEEP];
    const int fs = config_field_index("sim", "sweep_seeds");
    const int ns = config_int_list(cfg->sim_sweep_seeds, 0, seeds, DMN_MAX_SWEEP);
    if (ns < 0 || (ns == 0 && cfg->sim_sweep_seeds[0])) {
      config_errf(err, "%s:%d: 'sim.sweep_seeds' must be seeds >= 0 separated by commas (e.g. 1,2,3), got '%s'", path, seen_line[fs],
          cfg->sim_sweep_seeds);
      goto done;
    }
    if (sweep_line && cfg->sweep_index >= 0) {
      const int tasks = config_sweep_tasks(cfg);
      if (cfg->sweep_index >= tasks) {
        if (ns)
          config_errf(err, "%s:%d:1: sweep index %d out of range: the sweep has %d conditions x %d seeds = %d tasks (0 .. %d)", path, sweep_line,
              cfg->sweep_index, cfg->n_sweep, ns, tasks, tasks - 1);
        else
          config_errf(err, "%s:%d:1: sweep index %d out of range: the sweep has %d condition%s (0 .. %d)", path, sweep_line, cfg->sweep_index,
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


int config_load_file(DmnConfig *cfg, const char *path, char err[DMN_ERR_MAX]) {
  config_defaults(cfg);
  size_t got = 0;
  char *buf = util_read_text_file(path, "config file", DMN_CONFIG_MAX_BYTES, &got, err, DMN_ERR_MAX);
  if (!buf) return 1;
  config_set_name_from_path(cfg, path);
  int rc = config_parse_text(cfg, buf, got, path, err);
  free(buf);
  return rc;
}

