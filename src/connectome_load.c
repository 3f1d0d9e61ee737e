/* connectome_load — the circuit from real connectome tables.
 *
 * Three export formats, one reader (columns are found by name):
 *   flywire   neurons.csv (root_id, class, cell_type, side, nt_type, ...) +
 *             connections.csv (pre_root_id, post_root_id, neuropil, syn_count, nt_type)
 *   codex     classification.csv.gz (root_id, super_class, class, side, ...) +
 *             consolidated_cell_types.csv.gz (root_id, primary_type) +
 *             connections*.csv.gz (one row per neuropil; summed per pair)
 *   hemibrain neurons.csv (body_id, class, cell_type, instance, side) +
 *             connections.csv (pre_body_id, post_body_id, roi, weight)
 *
 * Each layer is the set of neurons its selector (config connectome.<layer>)
 * matches; PN->KC and KC->MBON always come from the data, ORN->PN and MBON->DN
 * when asked to (otherwise they are generated and labelled synthetic), PN->DN
 * is the dense lateral-horn abstraction of MODEL §1.  Memory is linear in the
 * neuron table plus the edges inside the circuit; rows are streamed. */
#include <ctype.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "connectome.h"
#include "csv.h"
#include "select.h"
#include "table.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------------------ */

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/name, or dir/name.gz, or (pattern) the first glob match.  "" if none. */
static void find_file(const char *dir, const char *name, char *out, size_t n) {
  out[0] = 0;
  char p[DMN_STR_MAX * 2 + 8];
  if (strpbrk(name, "*?[")) {
    util_sfmt(p, sizeof p, "%s/%s", dir, name);
    glob_t g;
    if (glob(p, 0, NULL, &g) == 0 && g.gl_pathc) util_sfmt(out, n, "%s", g.gl_pathv[0]); /* sorted */
    globfree(&g);
    return;
  }
  util_sfmt(p, sizeof p, "%s/%s", dir, name);
  if (file_exists(p)) {
    util_sfmt(out, n, "%s", p);
    return;
  }
  util_sfmt(p, sizeof p, "%s/%s.gz", dir, name);
  if (file_exists(p)) util_sfmt(out, n, "%s", p);
}


static int side_code(const char *s) {
  if (!strcasecmp(s, "left") || !strcasecmp(s, "l")) return 0;
  if (!strcasecmp(s, "right") || !strcasecmp(s, "r")) return 1;
  return -1;
}

static int nt_code(const char *s) {
  if (!strcasecmp(s, "ACH") || !strcasecmp(s, "acetylcholine")) return DMN_NT_ACH;
  if (!strcasecmp(s, "GABA")) return DMN_NT_GABA;
  if (!strcasecmp(s, "GLUT") || !strcasecmp(s, "glutamate") || !strcasecmp(s, "GLU")) return DMN_NT_GLUT;
  return -1;
}

/* Glomerulus of an ORN type (ORN_DA1 -> DA1) or a PN type (DA1_lPN -> DA1). */
static void glomerulus(int layer, const char *type, char *out, size_t n) {
  if (layer == DMN_L_ORN) {
    util_sfmt(out, n, "%s", !strncmp(type, "ORN_", 4) ? type + 4 : type);
  } else {
    util_sfmt(out, n, "%s", type);
    char *u = strchr(out, '_');
    if (u) *u = 0;
  }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---- layer membership -------------------------------------------------------------- */

typedef struct {
  const Table *t;
  int k_side, k_type;
} SortCtx;
static SortCtx g_sort; /* qsort has no context argument in C11 */

static int cmp_member(const void *a, const void *b) {
  long i = *(const long *)a, j = *(const long *)b;
  int si = side_code(table_val(g_sort.t, i, g_sort.k_side)), sj = side_code(table_val(g_sort.t, j, g_sort.k_side));
  si = si < 0 ? 2 : si;
  sj = sj < 0 ? 2 : sj;
  if (si != sj) return si - sj;
  int c = strcmp(table_val(g_sort.t, i, g_sort.k_type), table_val(g_sort.t, j, g_sort.k_type));
  if (c) return c;
  return g_sort.t->id[i] < g_sort.t->id[j] ? -1 : g_sort.t->id[i] > g_sort.t->id[j];
}

static const char *const layer_keys[DMN_NLAYER] = {"connectome.orn", "connectome.pn", "connectome.kc", "connectome.mbon", "connectome.dn"};

static const char *layer_selector(const DmnConfig *cfg, int l) {
  switch (l) {
  case DMN_L_ORN: return cfg->connectome_orn;
  case DMN_L_PN: return cfg->connectome_pn;
  case DMN_L_KC: return cfg->connectome_kc;
  case DMN_L_MBON: return cfg->connectome_mbon;
  default: return cfg->connectome_dn;
  }
}

/* Resolve a selector key to a table column ("id" is the id itself: -2). */
static int resolve_key(const Table *t, const char *key) {
  if (!strcmp(key, "id") || !strcmp(key, "root_id") || !strcmp(key, "body_id")) return -2;
  int k = table_col(t, key);
  if (k < 0 && !strcmp(key, "cell_type")) k = table_col(t, "primary_type");
  if (k < 0 && !strcmp(key, "side")) k = table_col(t, "soma_side");
  return k;
}

/* ---- the loader ----------------------------------------------------------------------- */

typedef struct {
  int pre, post; /* row in the neuron table */
  int proj;
  double count;
} Edge;

int connectome_load(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]) {
  memset(c, 0, sizeof(*c));
  Table t;
  memset(&t, 0, sizeof t);
  map_init(&t.map, 1 << 14);
  DmnText notes = {0};
  int rc = 1;
  long *members[DMN_NLAYER] = {0};
  long n_mem[DMN_NLAYER] = {0};
  int *layer_of = NULL, *index_in = NULL;
  Edge *edges = NULL;
  long n_edges = 0, cap_edges = 0;
  Map pair;
  map_init(&pair, 1 << 12);
  double (*votes)[3] = NULL;
  Pool nt_types = {0};              /* connectome.nt_from: cell types ... */
  double (*nt_type_votes)[3] = NULL; /* ... and their neurons per transmitter */

  char dir[DMN_STR_MAX * 2];
  config_relative_path(cfg, cfg->connectome_path, dir, sizeof dir);
  struct stat st;
  if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
    util_sfmt(err, DMN_ERR_MAX, "connectome.path: data directory '%s' not found (set connectome.path; relative paths are relative to %s)", dir,
             cfg->path[0] ? cfg->path : "the current directory");
    goto out;
  }
  int src = cfg->connectome_source;
  util_sfmt(c->source, sizeof c->source, "%s data in %s", config_enum_name("connectome", "source", src), dir);

  /* neuron tables: a comma-separated list, the first defines the neurons */
  char list[DMN_STR_MAX];
  if (cfg->connectome_neurons_file[0])
    util_sfmt(list, sizeof list, "%s", cfg->connectome_neurons_file);
  else
    util_sfmt(list, sizeof list, "%s", src == DMN_SOURCE_CODEX ? "classification.csv,consolidated_cell_types.csv" : "neurons.csv");
  {
    int nth = 0;
    char *save = NULL;
    for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save), nth++) {
      char path[DMN_STR_MAX * 3];
      find_file(dir, name, path, sizeof path);
      if (!path[0]) {
        if (nth > 0 && !cfg->connectome_neurons_file[0]) {
          util_textf(&notes, "%s/%s[.gz] not found: cell types from the first table only\n", dir, name);
          continue;
        }
        util_sfmt(err, DMN_ERR_MAX, "%s/%s: neuron table not found (nor %s.gz); set connectome.neurons_file", dir, name, name);
        goto out;
      }
      if (table_read(&t, path, nth > 0, &notes, err)) goto out;
    }
  }

  /* which layer each neuron belongs to */
  layer_of = malloc(sizeof(int) * (size_t)t.n);
  index_in = malloc(sizeof(int) * (size_t)t.n);
  for (long i = 0; i < t.n; i++) layer_of[i] = index_in[i] = -1;
  int synth_orn = !strcmp(cfg->connectome_orn, "synthetic"), synth_dn = !strcmp(cfg->connectome_dn, "synthetic");
  int k_side = resolve_key(&t, "side"), k_type = resolve_key(&t, "cell_type");
  if (k_type < 0) {
    util_sfmt(err, DMN_ERR_MAX, "%s: no cell_type (or primary_type) column: cell types are needed for the glomeruli and the summary", t.files);
    goto out;
  }
  for (int l = 0; l < DMN_NLAYER; l++) {
    if ((l == DMN_L_ORN && synth_orn) || (l == DMN_L_DN && synth_dn)) continue;
    char text[DMN_SELECT_MAX];
    const char *hemi = cfg->connectome_hemisphere == DMN_HEMI_LEFT ? "left" : "right";
    if (l != DMN_L_ORN && cfg->connectome_hemisphere != DMN_HEMI_BOTH)
      util_sfmt(text, sizeof text, "%s side=%s", layer_selector(cfg, l), hemi);
    else
      util_sfmt(text, sizeof text, "%s", layer_selector(cfg, l));
    Selector sel;
    if (selector_parse(&sel, text, layer_keys[l], err)) goto out;
    int kcol[DMN_SEL_TERMS];
    for (int k = 0; k < sel.n; k++) {
      kcol[k] = resolve_key(&t, sel.term[k].key);
      if (kcol[k] == -1) {
        char have[600] = "id";
        for (int j = 0; j < t.n_col; j++) {
          strncat(have, ", ", sizeof have - strlen(have) - 1);
          strncat(have, t.col[j], sizeof have - strlen(have) - 1);
        }
        util_sfmt(err, DMN_ERR_MAX, "%s: selector '%s' uses column '%s', which %s does not have (columns: %s)", layer_keys[l], text,
                 sel.term[k].key, t.files, have);
        goto out;
      }
    }
    members[l] = malloc(sizeof(long) * (size_t)t.n);
    long dropped_side = 0;
    for (long i = 0; i < t.n; i++) {
      const char *vals[DMN_SEL_TERMS];
      char idbuf[32];
      util_sfmt(idbuf, sizeof idbuf, "%lld", (long long)t.id[i]);
      for (int k = 0; k < sel.n; k++) vals[k] = kcol[k] == -2 ? idbuf : table_val(&t, i, kcol[k]);
      if (!selector_match(&sel, vals)) continue;
      if (layer_of[i] >= 0) {
        util_sfmt(err, DMN_ERR_MAX, "neuron %lld (%s) is selected by both %s and %s: make the selectors exclusive", (long long)t.id[i],
                 table_val(&t, i, k_type), layer_keys[layer_of[i]], layer_keys[l]);
        goto out;
      }
      /* an ORN's side is its antenna: without one it cannot sense */
      if (l == DMN_L_ORN && side_code(table_val(&t, i, k_side)) < 0) {
        dropped_side++;
        continue;
      }
      layer_of[i] = l;
      members[l][n_mem[l]++] = i;
    }
    if (dropped_side) util_textf(&notes, "ORN: %ld selected ORNs have no side (no antenna) and were left out\n", dropped_side);
    if (!n_mem[l]) {
      util_sfmt(err, DMN_ERR_MAX, "%s: selector '%s' matches no neuron in %s", layer_keys[l], text, t.files);
      goto out;
    }
    g_sort = (SortCtx){&t, k_side, k_type};
    qsort(members[l], (size_t)n_mem[l], sizeof(long), cmp_member);
    for (long m = 0; m < n_mem[l]; m++) index_in[members[l][m]] = (int)m;
  }

  /* layers: attributes */
  for (int l = 0; l < DMN_NLAYER; l++) {
    if ((l == DMN_L_ORN && synth_orn) || (l == DMN_L_DN && synth_dn)) continue;
    connectome_alloc_layer(c, l, (int)n_mem[l]);
    for (long m = 0; m < n_mem[l]; m++) {
      long i = members[l][m];
      c->id[l][m] = t.id[i];
      c->side[l][m] = (int8_t)side_code(table_val(&t, i, k_side));
      c->type[l][m] = connectome_intern_type(c, table_val(&t, i, k_type));
    }
  }
  if (synth_dn) {
    connectome_alloc_layer(c, DMN_L_DN, (int)cfg->circuit_n_dn);
    for (int i = 0; i < c->n[DMN_L_DN]; i++) {
      char name[32];
      util_sfmt(name, sizeof name, "DN%02d", i);
      c->id[DMN_L_DN][i] = i;
      c->side[DMN_L_DN][i] = -1;
      c->type[DMN_L_DN][i] = connectome_intern_type(c, name);
    }
    util_textf(&notes, "DN: %d synthetic descending neurons (connectome.dn: synthetic)\n", c->n[DMN_L_DN]);
  }
  if (synth_orn) {
    /* one ORN per antenna for every glomerulus the PNs have */
    Pool gl = {0};
    for (int i = 0; i < c->n[DMN_L_PN]; i++) {
      char g[128];
      glomerulus(DMN_L_PN, connectome_type(c, DMN_L_PN, i), g, sizeof g);
      pool_add(&gl, g);
    }
    char **names = malloc(sizeof(char *) * (size_t)gl.n);
    for (int k = 0; k < gl.n; k++) names[k] = gl.s[k];
    qsort(names, (size_t)gl.n, sizeof(char *), cmp_str); /* name order */
    connectome_alloc_layer(c, DMN_L_ORN, 2 * gl.n);
    for (int side = 0; side < 2; side++)
      for (int k = 0; k < gl.n; k++) {
        int i = side * gl.n + k;
        char name[160];
        util_sfmt(name, sizeof name, "ORN_%s", names[k]);
        c->id[DMN_L_ORN][i] = i;
        c->side[DMN_L_ORN][i] = (int8_t)side;
        c->type[DMN_L_ORN][i] = connectome_intern_type(c, name);
      }
    util_textf(&notes, "ORN: %d synthetic ORNs, one per antenna for each of the %d PN glomeruli (connectome.orn: synthetic)\n",
            c->n[DMN_L_ORN], gl.n);
    free(names);
    pool_free(&gl);
  }

  /* ---- connections ---- */
  {
    char name[DMN_STR_MAX], path[DMN_STR_MAX * 3];
    if (cfg->connectome_connections_file[0])
      util_sfmt(name, sizeof name, "%s", cfg->connectome_connections_file);
    else
      util_sfmt(name, sizeof name, "%s", src == DMN_SOURCE_CODEX ? "connections*.csv*" : "connections.csv");
    find_file(dir, name, path, sizeof path);
    if (!path[0]) {
      util_sfmt(err, DMN_ERR_MAX, "%s/%s: connection table not found; set connectome.connections_file", dir, name);
      goto out;
    }
    CsvReader r;
    if (csv_open(&r, path, err)) goto out;
    int kpre = csv_require(&r, "pre_root_id|pre_body_id|pre_id|source_id|pre", err);
    int kpost = kpre < 0 ? -1 : csv_require(&r, "post_root_id|post_body_id|post_id|target_id|post", err);
    int kcount = kpost < 0 ? -1 : csv_require(&r, "syn_count|weight|synapse_weight|count", err);
    if (kcount < 0) {
      csv_close(&r);
      goto out;
    }
    int knp = csv_column(&r, "neuropil|roi"), knt = csv_column(&r, "nt_type");
    if (cfg->connectome_neuropil[0] && knp < 0) {
      util_sfmt(err, DMN_ERR_MAX, "%s: connectome.neuropil is set but the file has no neuropil/roi column", path);
      csv_close(&r);
      goto out;
    }
    votes = calloc((size_t)t.n, sizeof *votes);
    long rows = 0, dangling = 0, merged = 0, outside = 0, np_skipped = 0;
    int64_t first_dangling = 0;
    int proj_of[DMN_NLAYER][DMN_NLAYER];
    for (int a = 0; a < DMN_NLAYER; a++)
      for (int b = 0; b < DMN_NLAYER; b++) proj_of[a][b] = -1;
    proj_of[DMN_L_PN][DMN_L_KC] = DMN_P_PN_TO_KC;
    proj_of[DMN_L_KC][DMN_L_MBON] = DMN_P_KC_TO_MBON;
    if (cfg->connectome_orn_to_pn == 1 && !synth_orn) proj_of[DMN_L_ORN][DMN_L_PN] = DMN_P_ORN_TO_PN;
    if (cfg->connectome_mbon_to_dn == 1 && !synth_dn) proj_of[DMN_L_MBON][DMN_L_DN] = DMN_P_MBON_TO_DN;
    int got;
    while ((got = csv_next(&r, err)) == 1) {
      rows++;
      int64_t a, b;
      double cnt;
      if (csv_int64(&r, kpre, &a, err) || csv_int64(&r, kpost, &b, err) || csv_double(&r, kcount, &cnt, err)) {
        got = -1;
        break;
      }
      if (cnt < 0) {
        util_sfmt(err, DMN_ERR_MAX, "%s:%ld: column '%s': negative synapse count %g", path, r.line, r.header[kcount], cnt);
        got = -1;
        break;
      }
      if (knp >= 0 && cfg->connectome_neuropil[0] && fnmatch(cfg->connectome_neuropil, csv_field(&r, knp), 0)) {
        np_skipped++;
        continue;
      }
      int64_t ia = map_get(&t.map, a), ib = map_get(&t.map, b);
      if (ia < 0 || ib < 0) {
        if (!dangling++) first_dangling = ia < 0 ? a : b;
        continue;
      }
      /* transmitter votes of the presynaptic neuron, weighted by synapses */
      if (knt >= 0) {
        int nt = nt_code(csv_field(&r, knt));
        if (nt >= 0) votes[ia][nt] += cnt;
      }
      int la = layer_of[ia], lb = layer_of[ib];
      int q = la >= 0 && lb >= 0 ? proj_of[la][lb] : -1;
      if (q < 0) {
        outside++;
        continue;
      }
      int64_t key = ia * (int64_t)t.n + ib;
      int64_t e = map_put(&pair, key, n_edges);
      if (e < n_edges) {
        edges[e].count += cnt; /* another neuropil (or a duplicate row) of the same pair */
        merged++;
        continue;
      }
      if (n_edges == cap_edges) {
        cap_edges = cap_edges ? 2 * cap_edges : 4096;
        edges = realloc(edges, sizeof(Edge) * (size_t)cap_edges);
      }
      edges[n_edges++] = (Edge){(int)ia, (int)ib, q, cnt};
    }
    csv_close(&r);
    if (got < 0) goto out;
    util_textf(&notes, "%s: %ld rows; %ld neuron pairs inside the circuit", path, rows, n_edges);
    if (merged) util_textf(&notes, "; %ld rows summed into pairs already seen (one row per neuropil)", merged);
    util_textf(&notes, "; %ld rows between neurons outside the circuit's projections", outside);
    if (np_skipped) util_textf(&notes, "; %ld rows outside neuropil '%s'", np_skipped, cfg->connectome_neuropil);
    util_textf(&notes, "\n");
    if (dangling)
      util_textf(&notes, "WARNING: %ld connection rows name ids absent from the neuron table (first: %lld); skipped\n", dangling,
              (long long)first_dangling);
  }

  /* ---- transmitters ---- */
  if (cfg->connectome_nt_from[0]) {
    /* transmitter of each cell type in another table (majority of its neurons) */
    char path[DMN_STR_MAX * 2];
    config_relative_path(cfg, cfg->connectome_nt_from, path, sizeof path);
    CsvReader r;
    if (csv_open(&r, path, err)) {
      util_sfmt(err + strlen(err), DMN_ERR_MAX - strlen(err), " (connectome.nt_from)");
      goto out;
    }
    int kt = csv_require(&r, "cell_type|primary_type", err), kn = kt < 0 ? -1 : csv_require(&r, "nt_type|top_nt", err);
    if (kn < 0) {
      csv_close(&r);
      goto out;
    }
    int got, cap = 0;
    while ((got = csv_next(&r, err)) == 1) {
      int nt = nt_code(csv_field(&r, kn));
      if (nt < 0 || !csv_field(&r, kt)[0]) continue;
      int ty = pool_add(&nt_types, csv_field(&r, kt));
      if (ty >= cap) {
        int nc = cap ? 2 * cap : 256;
        while (nc <= ty) nc *= 2;
        nt_type_votes = realloc(nt_type_votes, sizeof *nt_type_votes * (size_t)nc);
        memset(nt_type_votes + cap, 0, sizeof *nt_type_votes * (size_t)(nc - cap));
        cap = nc;
      }
      nt_type_votes[ty][nt] += 1;
    }
    csv_close(&r);
    if (got < 0) goto out;
  }
  {
    int k_nt = resolve_key(&t, "nt_type");
    if (k_nt < 0) k_nt = table_col(&t, "top_nt");
    for (int l = 0; l < DMN_NLAYER; l++) {
      if ((l == DMN_L_ORN && synth_orn) || (l == DMN_L_DN && synth_dn)) {
        for (int i = 0; i < c->n[l]; i++) c->transmitter[l][i] = DMN_NT_ACH;
        continue;
      }
      long from_table = 0, from_type = 0, from_edges = 0, defaulted = 0;
      for (long m = 0; m < n_mem[l]; m++) {
        long i = members[l][m];
        int nt = nt_code(table_val(&t, i, k_nt)), ty = -1;
        if (nt_type_votes) {
          /* look the type up without adding it */
          ty = pool_find(&nt_types, table_val(&t, i, k_type));
        }
        if (nt >= 0) {
          from_table++;
        } else if (ty >= 0) {
          const double *v = nt_type_votes[ty];
          nt = DMN_NT_ACH;
          if (v[DMN_NT_GABA] > v[nt]) nt = DMN_NT_GABA;
          if (v[DMN_NT_GLUT] > v[nt]) nt = DMN_NT_GLUT;
          from_type++;
        } else if (votes[i][0] + votes[i][1] + votes[i][2] > 0) {
          nt = DMN_NT_ACH; /* the majority of its synapses */
          if (votes[i][DMN_NT_GABA] > votes[i][nt]) nt = DMN_NT_GABA;
          if (votes[i][DMN_NT_GLUT] > votes[i][nt]) nt = DMN_NT_GLUT;
          from_edges++;
        } else {
          nt = cfg->connectome_nt_default;
          defaulted++;
        }
        c->transmitter[l][m] = (uint8_t)nt;
      }
      /* DNs have no outgoing synapses here: their transmitter is never used */
      if (l != DMN_L_DN && (from_type || from_edges || defaulted))
        util_textf(&notes, "%s transmitters: %ld from the neuron table, %ld by cell type from connectome.nt_from, %ld from the connections' nt_type, %ld set to the default (%s)\n",
                dmn_layer_names[l], from_table, from_type, from_edges, defaulted, config_enum_name("connectome", "nt_default", cfg->connectome_nt_default));
    }
  }

  /* ---- projections ---- */
  {
    /* data edges: count per post row, then fill sorted by (post, pre) */
    long below = 0;
    int n_real[DMN_NPROJ] = {0};
    const int pre_l[DMN_NPROJ] = {DMN_L_ORN, DMN_L_PN, DMN_L_KC, DMN_L_MBON, DMN_L_PN};
    const int post_l[DMN_NPROJ] = {DMN_L_PN, DMN_L_KC, DMN_L_MBON, DMN_L_DN, DMN_L_DN};
    for (long e = 0; e < n_edges; e++) {
      if (edges[e].count < (double)cfg->connectome_min_synapses) {
        edges[e].proj = -1;
        below++;
      } else {
        n_real[edges[e].proj]++;
      }
    }
    if (below) util_textf(&notes, "%ld neuron pairs below connectome.min_synapses = %ld dropped\n", below, cfg->connectome_min_synapses);
    for (int q = 0; q < DMN_NPROJ; q++) {
      DmnProjection *p = &c->proj[q];
      int npre = c->n[pre_l[q]], npost = c->n[post_l[q]];
      int from_data = q == DMN_P_PN_TO_KC || q == DMN_P_KC_TO_MBON || (q == DMN_P_ORN_TO_PN && cfg->connectome_orn_to_pn == 1 && !synth_orn) ||
                      (q == DMN_P_MBON_TO_DN && cfg->connectome_mbon_to_dn == 1 && !synth_dn);
      if (from_data) {
        connectome_proj_alloc(p, pre_l[q], post_l[q], npre, npost, n_real[q]);
        p->synthetic = 0;
        for (long e = 0; e < n_edges; e++)
          if (edges[e].proj == q) p->row_ptr[index_in[edges[e].post] + 1]++;
        for (int i = 0; i < npost; i++) p->row_ptr[i + 1] += p->row_ptr[i];
        int *fill = malloc(sizeof(int) * ((size_t)npost + 1));
        memcpy(fill, p->row_ptr, sizeof(int) * (size_t)npost);
        for (long e = 0; e < n_edges; e++)
          if (edges[e].proj == q) {
            int k = fill[index_in[edges[e].post]]++;
            p->col[k] = index_in[edges[e].pre];
            p->count[k] = (float)edges[e].count;
          }
        free(fill);
        connectome_sort_rows(p);
        if (!n_real[q]) util_textf(&notes, "WARNING: %s has no synapses in the data\n", dmn_proj_names[q]);
      } else if (q == DMN_P_ORN_TO_PN) {
        /* glomerular: PN of glomerulus X <- every ORN_X (both antennae) */
        long nnz = 0;
        int *glom_pn = malloc(sizeof(int) * ((size_t)npost + 1)), *glom_orn = malloc(sizeof(int) * ((size_t)npre + 1));
        Pool gl = {0};
        for (int i = 0; i < npost; i++) {
          char g[128];
          glomerulus(DMN_L_PN, connectome_type(c, DMN_L_PN, i), g, sizeof g);
          glom_pn[i] = pool_add(&gl, g);
        }
        int n_pn_glom = gl.n;
        for (int j = 0; j < npre; j++) {
          char g[128];
          glomerulus(DMN_L_ORN, connectome_type(c, DMN_L_ORN, j), g, sizeof g);
          glom_orn[j] = pool_add(&gl, g);
        }
        int *per = calloc((size_t)gl.n + 1, sizeof(int));
        for (int j = 0; j < npre; j++) per[glom_orn[j]]++;
        long pn_without = 0, orn_without = 0;
        for (int i = 0; i < npost; i++) {
          nnz += per[glom_pn[i]];
          pn_without += per[glom_pn[i]] == 0;
        }
        for (int j = 0; j < npre; j++) orn_without += glom_orn[j] >= n_pn_glom;
        connectome_proj_alloc(p, DMN_L_ORN, DMN_L_PN, npre, npost, (int)nnz);
        int k = 0;
        for (int i = 0; i < npost; i++) {
          for (int j = 0; j < npre; j++)
            if (glom_orn[j] == glom_pn[i]) p->col[k++] = j;
          p->row_ptr[i + 1] = k;
        }
        if (pn_without) util_textf(&notes, "orn_to_pn: %ld PNs have no ORN of their glomerulus (no odor input; e.g. multiglomerular PNs)\n", pn_without);
        if (orn_without) util_textf(&notes, "orn_to_pn: %ld ORNs have no PN of their glomerulus in the circuit\n", orn_without);
        free(per);
        free(glom_pn);
        free(glom_orn);
        pool_free(&gl);
      } else {
        /* dense: MBON -> DN, PN -> DN (MODEL §1 abstractions) */
        connectome_proj_alloc(p, pre_l[q], post_l[q], npre, npost, npre * npost);
        for (int i = 0; i < npost; i++) {
          p->row_ptr[i + 1] = (i + 1) * npre;
          for (int j = 0; j < npre; j++) p->col[i * npre + j] = j;
        }
      }
      p->is_signed = cfg->circuit_dale;
    }
    if (!cfg->circuit_lh_signed) c->proj[DMN_P_PN_TO_DN].is_signed = 0;
  }

  /* receptor channels: one per ORN glomerulus that has a PN in the circuit,
   * in name order.  A glomerulus without PNs here (FlyWire right MB: VM6l,
   * VM6m, VM6v and ORNs without a glomerulus) cannot reach the brain; giving
   * it a band of concentrations would blind the fly there (version 0.7 did:
   * its FlyWire fly stopped ~7 mm from the source, where VM6's channels
   * were tuned), so its ORNs get channel -1: no odor response. */
  {
    int n = c->n[DMN_L_ORN], np = c->n[DMN_L_PN];
    c->orn_channel = malloc(sizeof(int) * ((size_t)n + 1));
    char **g = malloc(sizeof(char *) * ((size_t)n + 1)), **pg = malloc(sizeof(char *) * ((size_t)np + 1));
    for (int i = 0; i < n; i++) {
      char buf[128];
      glomerulus(DMN_L_ORN, connectome_type(c, DMN_L_ORN, i), buf, sizeof buf);
      g[i] = strdup(buf);
    }
    for (int j = 0; j < np; j++) {
      char buf[128];
      glomerulus(DMN_L_PN, connectome_type(c, DMN_L_PN, j), buf, sizeof buf);
      pg[j] = strdup(buf);
    }
    char **u = malloc(sizeof(char *) * ((size_t)n + 1)), **blind = malloc(sizeof(char *) * ((size_t)n + 1));
    int nu = 0, nb = 0;
    long blind_orns = 0;
    for (int i = 0; i < n; i++) {
      int has_pn = 0;
      for (int j = 0; j < np && !has_pn; j++) has_pn = g[i][0] && !strcmp(pg[j], g[i]);
      char **set = has_pn ? u : blind;
      int *ns = has_pn ? &nu : &nb;
      blind_orns += !has_pn;
      int seen = 0;
      for (int k = 0; k < *ns && !seen; k++) seen = !strcmp(set[k], g[i]);
      if (!seen) set[(*ns)++] = g[i];
    }
    qsort(u, (size_t)nu, sizeof(char *), cmp_str);
    qsort(blind, (size_t)nb, sizeof(char *), cmp_str);
    for (int i = 0; i < n; i++) {
      c->orn_channel[i] = -1;
      for (int k = 0; k < nu; k++)
        if (!strcmp(u[k], g[i])) c->orn_channel[i] = k;
    }
    c->n_channels = nu;
    if (nb) {
      util_textf(&notes, "ORN: %ld ORNs of %d glomeruli with no PN in the circuit get no odor response (", blind_orns, nb);
      for (int k = 0; k < nb; k++) util_textf(&notes, "%s%s", k ? ", " : "", blind[k][0] ? blind[k] : "(no glomerulus)");
      util_textf(&notes, ")\n");
    }
    for (int i = 0; i < n; i++) free(g[i]);
    for (int j = 0; j < np; j++) free(pg[j]);
    free(g);
    free(pg);
    free(u);
    free(blind);
  }
  connectome_index(c);
  connectome_wire_apl(cfg, c);
  c->notes = notes.s;
  notes.s = NULL;
  rc = 0;
out:
  if (rc) connectome_free(c);
  free(notes.s);
  for (int l = 0; l < DMN_NLAYER; l++) free(members[l]);
  free(layer_of);
  free(index_in);
  free(edges);
  free(votes);
  free(nt_type_votes);
  pool_free(&nt_types);
  map_free(&pair);
  table_free(&t);
  return rc;
}
