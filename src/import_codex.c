/* dmn_import_codex — a FlyWire Codex download folder into the compact
 * neurons.csv + connections.csv that configs/connectomes/ ships and
 * `connectome.source: flywire` reads.
 *
 *   dmn_import_codex CODEX_DIR OUT_DIR [--neuropil GLOB] [--min-synapses N]
 *
 * CODEX_DIR holds Codex's classification.csv[.gz] (root_id, super_class,
 * class, sub_class, side), consolidated_cell_types.csv[.gz] (root_id,
 * primary_type; optional), neurons.csv[.gz] (root_id, nt_type; optional) and
 * the first connections*.csv[.gz] (pre_root_id, post_root_id, neuropil,
 * syn_count, nt_type; one row per neuropil).  Every neuron of the olfactory
 * pathway's classes is kept (the same rules as the shipped folder, README
 * there): primary_type APL -> APL, class olfactory -> ORN, ALPN -> PN,
 * Kenyon_Cell -> KC, MBON -> MBON, DAN -> DAN, super_class descending -> DN.
 * Every edge among kept neurons is kept (ORN->PN and MBON->DN included when
 * the download has them), synapses summed over the neuropils matching GLOB
 * (default all), pairs below N synapses dropped (default 1).  A neuron's
 * transmitter comes from neurons.csv, else from a vote of its outgoing rows'
 * nt_type weighted by syn_count.  Outputs are written atomically (temp file +
 * rename); a summary of neurons per class and edges per class pair is printed.
 * Exit: 0 done, 1 bad input (the message names file, line and column), 2 usage. */
#include <dirent.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "csv.h"
#include "util.h"

enum { C_ORN, C_PN, C_KC, C_APL, C_MBON, C_DAN, C_DN, NCLASS };
static const char *const class_names[NCLASS] = {"ORN", "PN", "KC", "APL", "MBON", "DAN", "DN"};
enum { NT_ACH, NT_GABA, NT_GLUT, NT_DA, NT_SER, NT_OCT, NNT };
static const char *const nt_names[NNT] = {"ACH", "GABA", "GLUT", "DA", "SER", "OCT"};

typedef struct {
  int64_t id;
  int cls;
  char *super_class, *codex_class, *sub_class, *side, *cell_type, *nt;
  double votes[NNT];
} Neuron;

typedef struct {
  int64_t pre, post;
  double syn;
} Pair;

/* open-addressing map int64 key -> index (keys are Codex root ids, never 0) */
typedef struct {
  int64_t *key;
  long *val;
  size_t cap;
} IdMap;

static size_t id_hash(int64_t k, size_t cap) { return (size_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1); }

static void idmap_grow(IdMap *m);
static long *idmap_slot(IdMap *m, int64_t k, int insert) {
  if (insert && m->cap == 0) idmap_grow(m);
  if (m->cap == 0) return NULL;
  for (size_t h = id_hash(k, m->cap);; h = (h + 1) & (m->cap - 1)) {
    if (m->key[h] == k) return &m->val[h];
    if (m->key[h] == 0) {
      if (!insert) return NULL;
      m->key[h] = k;
      m->val[h] = -1;
      return &m->val[h];
    }
  }
}
static void idmap_grow(IdMap *m) {
  IdMap n = {calloc(m->cap ? 2 * m->cap : 1024, sizeof(int64_t)), malloc(sizeof(long) * (m->cap ? 2 * m->cap : 1024)),
             m->cap ? 2 * m->cap : 1024};
  for (size_t i = 0; i < m->cap; i++)
    if (m->key[i]) *idmap_slot(&n, m->key[i], 1) = m->val[i];
  free(m->key);
  free(m->val);
  *m = n;
}
static long idmap_get(const IdMap *m, int64_t k) {
  long *v = idmap_slot((IdMap *)m, k, 0);
  return v ? *v : -1;
}
static void idmap_put(IdMap *m, int64_t k, long v, long *count) {
  if ((size_t)(*count + 1) * 2 > m->cap) idmap_grow(m);
  long *s = idmap_slot(m, k, 1);
  if (*s < 0) (*count)++;
  *s = v;
}

static const char *find_input(const char *dir, const char *stem, char *out, size_t n) {
  const char *ext[] = {".csv.gz", ".csv"};
  struct stat st;
  for (int e = 0; e < 2; e++) {
    util_sfmt(out, n, "%s/%s%s", dir, stem, ext[e]);
    if (!stat(out, &st)) return out;
  }
  return NULL;
}

/* the first connections*.csv[.gz] in name order */
static const char *find_connections(const char *dir, char *out, size_t n) {
  char best[DMN_STR_MAX] = "";
  DIR *d = opendir(dir);
  if (!d) return NULL;
  for (struct dirent *e; (e = readdir(d));) {
    if (fnmatch("connections*.csv", e->d_name, 0) && fnmatch("connections*.csv.gz", e->d_name, 0)) continue;
    if (!best[0] || strcmp(e->d_name, best) < 0) util_sfmt(best, sizeof best, "%s", e->d_name);
  }
  closedir(d);
  if (!best[0]) return NULL;
  util_sfmt(out, n, "%s/%s", dir, best);
  return out;
}

static int nt_index(const char *s) {
  for (int k = 0; k < NNT; k++)
    if (!strcasecmp(s, nt_names[k])) return k;
  return -1;
}

static int classify(const char *super_class, const char *cls, const char *primary_type) {
  if (!strcmp(primary_type, "APL")) return C_APL;
  if (!strcmp(cls, "olfactory")) return C_ORN;
  if (!strcmp(cls, "ALPN")) return C_PN;
  if (!strcmp(cls, "Kenyon_Cell")) return C_KC;
  if (!strcmp(cls, "MBON")) return C_MBON;
  if (!strcmp(cls, "DAN")) return C_DAN;
  if (!strcmp(super_class, "descending")) return C_DN;
  return -1;
}

/* a CSV field, quoted when it needs to be */
static void put_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static int cmp_pair(const void *a, const void *b) {
  const Pair *x = a, *y = b;
  if (x->pre != y->pre) return x->pre < y->pre ? -1 : 1;
  return (x->post > y->post) - (x->post < y->post);
}

static int usage(void) {
  fprintf(stderr, "usage: dmn_import_codex CODEX_DIR OUT_DIR [--neuropil GLOB] [--min-synapses N]\n"
                  "  turns a FlyWire Codex download (classification, consolidated_cell_types, neurons,\n"
                  "  connections*.csv[.gz]) into OUT_DIR/neurons.csv + connections.csv for\n"
                  "  connectome.source: flywire (configs/connectomes/README.md)\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 3) return usage();
  const char *in = argv[1], *out = argv[2], *neuropil = NULL;
  double min_syn = 1;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--neuropil") && i + 1 < argc) neuropil = argv[++i];
    else if (!strcmp(argv[i], "--min-synapses") && i + 1 < argc) {
      char *end;
      min_syn = strtod(argv[++i], &end);
      if (*end || min_syn < 1) {
        fprintf(stderr, "dmn_import_codex: --min-synapses needs a number >= 1, got '%s'\n", argv[i]);
        return 2;
      }
    } else return usage();
  }
  char err[DMN_ERR_MAX] = "", path[DMN_STR_MAX + 64];
  Neuron *nr = NULL;
  long n = 0, cap = 0, n_keys = 0;
  IdMap ids = {0};
  CsvReader r;
  int rc;

  /* 1. classification: which neurons, their class */
  if (!find_input(in, "classification", path, sizeof path)) {
    fprintf(stderr, "dmn_import_codex: %s/classification.csv[.gz] not found (is %s a Codex download folder?)\n", in, in);
    return 1;
  }
  if (csv_open(&r, path, err)) goto fail;
  {
    int kid = csv_require(&r, "root_id", err), ksup = csv_require(&r, "super_class", err), kcls = csv_require(&r, "class", err);
    int ksub = csv_column(&r, "sub_class"), kside = csv_column(&r, "side");
    if (kid < 0 || ksup < 0 || kcls < 0) goto fail_close;
    while ((rc = csv_next(&r, err)) == 1) {
      int64_t id;
      if (csv_int64(&r, kid, &id, err)) goto fail_close;
      if (idmap_get(&ids, id) >= 0) {
        util_sfmt(err, DMN_ERR_MAX, "%s:%ld: duplicate root_id %lld", path, r.line, (long long)id);
        goto fail_close;
      }
      if (n == cap) nr = realloc(nr, sizeof(Neuron) * (size_t)(cap = cap ? 2 * cap : 4096));
      Neuron *x = &nr[n];
      memset(x, 0, sizeof *x);
      x->id = id;
      x->super_class = strdup(csv_field(&r, ksup));
      x->codex_class = strdup(csv_field(&r, kcls));
      x->sub_class = strdup(csv_field(&r, ksub));
      x->side = strdup(csv_field(&r, kside));
      x->cell_type = strdup("");
      x->nt = strdup("");
      idmap_put(&ids, id, n, &n_keys);
      n++;
    }
    csv_close(&r);
    if (rc < 0) goto fail;
  }
  /* 2. cell types (primary_type), optional */
  if (find_input(in, "consolidated_cell_types", path, sizeof path)) {
    if (csv_open(&r, path, err)) goto fail;
    int kid = csv_require(&r, "root_id", err), kt = csv_require(&r, "primary_type", err);
    if (kid < 0 || kt < 0) goto fail_close;
    while ((rc = csv_next(&r, err)) == 1) {
      int64_t id;
      if (csv_int64(&r, kid, &id, err)) goto fail_close;
      long i = idmap_get(&ids, id);
      if (i < 0) continue;
      free(nr[i].cell_type);
      nr[i].cell_type = strdup(csv_field(&r, kt));
    }
    csv_close(&r);
    if (rc < 0) goto fail;
  } else {
    fprintf(stderr, "dmn_import_codex: note: %s/consolidated_cell_types.csv[.gz] not found: no cell types (the APL and glomeruli need them)\n", in);
  }
  long per_class[NCLASS] = {0};
  for (long i = 0; i < n; i++) {
    nr[i].cls = classify(nr[i].super_class, nr[i].codex_class, nr[i].cell_type);
    if (nr[i].cls >= 0) per_class[nr[i].cls]++;
  }
  /* 3. neuron-level transmitters, optional */
  int have_nt = 0;
  if (find_input(in, "neurons", path, sizeof path)) {
    if (csv_open(&r, path, err)) goto fail;
    int kid = csv_require(&r, "root_id", err), knt = csv_column(&r, "nt_type");
    if (kid < 0) goto fail_close;
    while (knt >= 0 && (rc = csv_next(&r, err)) == 1) {
      int64_t id;
      if (csv_int64(&r, kid, &id, err)) goto fail_close;
      long i = idmap_get(&ids, id);
      if (i < 0 || nr[i].cls < 0) continue;
      free(nr[i].nt);
      nr[i].nt = strdup(csv_field(&r, knt));
      have_nt = 1;
    }
    csv_close(&r);
    if (knt >= 0 && rc < 0) goto fail;
  }
  /* 4. connections among kept neurons, summed over the chosen neuropils */
  if (!find_connections(in, path, sizeof path)) {
    fprintf(stderr, "dmn_import_codex: %s/connections*.csv[.gz] not found\n", in);
    goto fail_quiet;
  }
  Pair *pairs = NULL;
  long n_pairs = 0, cap_pairs = 0, rows = 0, kept_rows = 0, n_pair_keys = 0;
  IdMap pair_of = {0}; /* key: index of the pair, hashed from (pre index, post index) */
  if (csv_open(&r, path, err)) goto fail;
  {
    int kpre = csv_require(&r, "pre_root_id", err), kpost = csv_require(&r, "post_root_id", err);
    int knp = csv_column(&r, "neuropil"), ksyn = csv_require(&r, "syn_count", err), knt = csv_column(&r, "nt_type");
    if (kpre < 0 || kpost < 0 || ksyn < 0) goto fail_close;
    while ((rc = csv_next(&r, err)) == 1) {
      rows++;
      int64_t pre, post;
      double syn;
      if (csv_int64(&r, kpre, &pre, err) || csv_int64(&r, kpost, &post, err) || csv_double(&r, ksyn, &syn, err)) goto fail_close;
      if (syn < 0) {
        util_sfmt(err, DMN_ERR_MAX, "%s:%ld: column 'syn_count': negative synapse count %g", path, r.line, syn);
        goto fail_close;
      }
      long a = idmap_get(&ids, pre), b = idmap_get(&ids, post);
      if (a < 0 || nr[a].cls < 0) continue;
      const char *nt = csv_field(&r, knt);
      int k = nt_index(nt);
      if (k >= 0) nr[a].votes[k] += syn; /* every outgoing row votes, kept partner or not */
      if (b < 0 || nr[b].cls < 0) continue;
      if (neuropil && fnmatch(neuropil, csv_field(&r, knp), 0)) continue;
      kept_rows++;
      /* pair key: both indices below 2^31 */
      int64_t key = ((int64_t)(a + 1) << 32) | (int64_t)(b + 1);
      long p = idmap_get(&pair_of, key);
      if (p < 0) {
        if (n_pairs == cap_pairs) pairs = realloc(pairs, sizeof(Pair) * (size_t)(cap_pairs = cap_pairs ? 2 * cap_pairs : 4096));
        pairs[n_pairs] = (Pair){pre, post, 0};
        idmap_put(&pair_of, key, n_pairs, &n_pair_keys);
        p = n_pairs++;
      }
      pairs[p].syn += syn;
    }
    csv_close(&r);
    if (rc < 0) goto fail;
  }
  for (long i = 0; i < n; i++) /* transmitter: the neuron table's, else the vote */
    if (nr[i].cls >= 0 && !nr[i].nt[0]) {
      int best = -1;
      for (int k = 0; k < NNT; k++)
        if (nr[i].votes[k] > 0 && (best < 0 || nr[i].votes[k] > nr[i].votes[best])) best = k;
      if (best >= 0) free(nr[i].nt), nr[i].nt = strdup(nt_names[best]);
    }
  qsort(pairs, (size_t)n_pairs, sizeof(Pair), cmp_pair);

  /* 5. write, atomically */
  mkdir(out, 0755);
  char tmp[DMN_STR_MAX + 80], dst[DMN_STR_MAX + 80];
  util_sfmt(tmp, sizeof tmp, "%s/neurons.csv.tmp", out);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "dmn_import_codex: cannot write %s (does %s exist and is it writable?)\n", tmp, out);
    goto fail_quiet;
  }
  fprintf(f, "root_id,class,cell_type,side,super_class,codex_class,sub_class,nt_type\n");
  long kept = 0;
  for (long i = 0; i < n; i++) {
    const Neuron *x = &nr[i];
    if (x->cls < 0) continue;
    kept++;
    fprintf(f, "%lld,%s,", (long long)x->id, class_names[x->cls]);
    const char *fields[] = {x->cell_type, x->side, x->super_class, x->codex_class, x->sub_class, x->nt};
    for (int k = 0; k < 6; k++) {
      put_field(f, fields[k]);
      fputc(k < 5 ? ',' : '\n', f);
    }
  }
  util_sfmt(dst, sizeof dst, "%s/neurons.csv", out);
  if (fclose(f) || rename(tmp, dst)) {
    fprintf(stderr, "dmn_import_codex: cannot write %s\n", dst);
    goto fail_quiet;
  }
  util_sfmt(tmp, sizeof tmp, "%s/connections.csv.tmp", out);
  f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "dmn_import_codex: cannot write %s\n", tmp);
    goto fail_quiet;
  }
  long edges[NCLASS][NCLASS] = {{0}}, n_out = 0;
  fprintf(f, "pre_root_id,post_root_id,neuropil,syn_count,nt_type\n");
  for (long p = 0; p < n_pairs; p++) {
    if (pairs[p].syn < min_syn) continue;
    const Neuron *a = &nr[idmap_get(&ids, pairs[p].pre)], *b = &nr[idmap_get(&ids, pairs[p].post)];
    edges[a->cls][b->cls]++;
    n_out++;
    fprintf(f, "%lld,%lld,", (long long)pairs[p].pre, (long long)pairs[p].post);
    put_field(f, neuropil ? neuropil : "ALL");
    fprintf(f, ",%.10g,", pairs[p].syn);
    put_field(f, a->nt);
    fputc('\n', f);
  }
  util_sfmt(dst, sizeof dst, "%s/connections.csv", out);
  if (fclose(f) || rename(tmp, dst)) {
    fprintf(stderr, "dmn_import_codex: cannot write %s\n", dst);
    goto fail_quiet;
  }
  printf("dmn_import_codex: %s -> %s/neurons.csv (%ld neurons), connections.csv (%ld pairs from %ld of %ld rows%s%s, >= %g synapses)\n",
         in, out, kept, n_out, kept_rows, rows, neuropil ? " in neuropils " : "", neuropil ? neuropil : "", min_syn);
  printf("  neurons:");
  for (int c = 0; c < NCLASS; c++) printf(" %s %ld", class_names[c], per_class[c]);
  printf("\n  transmitters: %s\n  edges (pairs) per class pair:\n", have_nt ? "from neurons.csv" : "voted from the connections' nt_type");
  for (int a = 0; a < NCLASS; a++)
    for (int b = 0; b < NCLASS; b++)
      if (edges[a][b]) printf("    %-5s -> %-5s %8ld\n", class_names[a], class_names[b], edges[a][b]);
  if (!edges[C_ORN][C_PN]) printf("  no ORN -> PN edges: configs use connectome.orn_to_pn: glomerulus (labelled synthetic)\n");
  else printf("  ORN -> PN edges present: connectome.orn_to_pn: data can use them\n");
  if (!edges[C_MBON][C_DN]) printf("  no MBON -> DN edges: configs use connectome.mbon_to_dn: dense (labelled synthetic)\n");
  else printf("  MBON -> DN edges present: connectome.mbon_to_dn: data can use them\n");
  printf("  The data keep their licence (FlyWire: CC BY-NC 4.0; cite Dorkenwald et al. 2024, Schlegel et al. 2024).\n");
  return 0;

fail_close:
  csv_close(&r);
fail:
  fprintf(stderr, "dmn_import_codex: error: %s\n", err[0] ? err : "unreadable input");
  return 1;
fail_quiet:
  return 1;
}
