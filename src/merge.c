/* dmn_merge — collect the per-task outputs of a sweep into one HDF5 file.
 *
 *   dmn_merge OUT.h5 RUN_DIR...   (a RUN_DIR may also be a results.h5 path)
 *
 * OUT.h5 gets /summary (one row per condition, sorted by sweep index: the
 * intact / lesioned / retrained evaluations of a lesion study) and
 * /runs/NN_<name>/ (each run's results.h5, copied whole).  Inputs written by
 * a different dmn version or model contract are refused (exit 2, nothing
 * written).  Missing or unreadable inputs are named and the rest merged
 * (exit 3: partial).  Written to OUT.h5.tmp and renamed. */
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

#define NAME_MAX_LEN 64
#define PATH_LEN 4096

/* One evaluation: success rate, median and mean final distance, mean
 * distance, path length, KC active fraction. */
/* success and median final distance, then the mean of every per-episode
 * metric of metrics.h (its attribute in the evaluation group, its column here) */
enum { M_SUCCESS, M_MEDIAN, NM = 2 + DMN_EM_N };
#define DMN_EM_ATTR(name, field, mean, col, unit, doc) #mean,
#define DMN_EM_COL(name, field, mean, col, unit, doc) #col,
static const char *metric_attr[NM] = {"success_rate", "median_final_distance", DMN_EVAL_METRICS(DMN_EM_ATTR)};
static const char *metric_col[NM] = {"success_rate", "median_final_distance", DMN_EVAL_METRICS(DMN_EM_COL)};
#undef DMN_EM_ATTR
#undef DMN_EM_COL
/* lesion study: intact baseline, right after the lesion (the parameters the
 * run started from), after retraining */
enum { E_INTACT, E_LESIONED, E_RETRAINED, NE };
static const char *eval_group[NE] = {"intact", "initial", "trained"};
static const char *eval_col[NE] = {"intact", "lesioned", "retrained"};

typedef struct {
  char path[PATH_LEN];
  char name[NAME_MAX_LEN];
  char config[NAME_MAX_LEN];
  int index;
  long seed;
  double m[NE][NM];
} Row;

static int read_str_attr(hid_t loc, const char *name, char *out, size_t n) {
  out[0] = 0;
  if (H5Aexists(loc, name) <= 0) return 1;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t t = H5Aget_type(a);
  int rc = 1;
  if (H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
    /* written by other tools (h5py writes variable-length strings) */
    char *v = NULL;
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    if (H5Aread(a, mt, &v) >= 0 && v) {
      snprintf(out, n, "%s", v);
      H5free_memory(v);
      rc = 0;
    }
    H5Tclose(mt);
  } else if (H5Tget_class(t) == H5T_STRING) {
    size_t sz = H5Tget_size(t);
    char *buf = calloc(sz + 1, 1);
    if (H5Aread(a, t, buf) >= 0) {
      snprintf(out, n, "%s", buf);
      rc = 0;
    }
    free(buf);
  }
  H5Tclose(t);
  H5Aclose(a);
  return rc;
}

static double read_num_attr(hid_t loc, const char *name) {
  double v = NAN;
  if (H5Aexists(loc, name) > 0) {
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) v = NAN;
    H5Aclose(a);
  }
  return v;
}

static int cmp_row(const void *a, const void *b) {
  const Row *x = a, *y = b;
  return x->index != y->index ? x->index - y->index : strcmp(x->name, y->name);
}

static void write_col_d(hid_t g, const char *name, const Row *rows, int n, int e, int k) {
  double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) v[i] = rows[i].m[e][k];
  hsize_t d = (hsize_t)n;
  hid_t sp = H5Screate_simple(1, &d, NULL);
  hid_t ds = H5Dcreate2(g, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (n) H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
  H5Dclose(ds);
  H5Sclose(sp);
  free(v);
}

static void write_str_col(hid_t g, const char *name, const char *base, size_t stride, size_t width, int n) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, width);
  char *buf = calloc((size_t)(n ? n : 1), width);
  for (int i = 0; i < n; i++) snprintf(buf + (size_t)i * width, width, "%s", base + (size_t)i * stride);
  hsize_t d = (hsize_t)n;
  hid_t sp = H5Screate_simple(1, &d, NULL);
  hid_t ds = H5Dcreate2(g, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (n) H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Dclose(ds);
  H5Sclose(sp);
  H5Tclose(t);
  free(buf);
}

static void write_attr_s(hid_t loc, const char *name, const char *s) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(s) + 1);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, t, s);
  H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

static void write_attr_d(hid_t loc, const char *name, double v) {
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
  H5Aclose(a);
  H5Sclose(sp);
}

static void fmt_metric(char *buf, size_t n, double v, int pct) {
  if (isnan(v)) snprintf(buf, n, "-");
  else if (pct) snprintf(buf, n, "%.1f%%", 100 * v);
  else snprintf(buf, n, "%.2f", v);
}

/* Whether item is one of the entries of a ", "-separated list. */
static int in_list(const char *list, const char *item) {
  const size_t n = strlen(item);
  for (const char *p = list; (p = strstr(p, item)) != NULL; p += n)
    if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ',')) return 1;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fprintf(argc < 3 ? stderr : stdout,
            "Usage: dmn_merge OUT.h5 RUN_DIR... (each RUN_DIR holds a results.h5, or is one)\n"
            "Merges sweep conditions: /summary (one row per condition) and /runs/NN_<name>/.\n"
            "Exit 0 all merged, 3 some inputs missing or unreadable (named; the rest merged),\n"
            "2 bad usage or mismatched model versions (nothing written).  Runs of different dmn\n"
            "releases merge when their model contract (src/MODEL.md version) is the same.\n");
    return argc < 3 ? 2 : 0;
  }
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages, not HDF5's stack dumps */
  const char *out = argv[1];
  int n_in = argc - 2, n = 0, bad = 0;
  Row *rows = calloc((size_t)n_in, sizeof(Row));
  hid_t *files = calloc((size_t)n_in, sizeof(hid_t));
  char version[128] = "", contract[128] = "", first[PATH_LEN] = "", versions[512] = ""; /* versions: every dmn release merged */
  for (int i = 0; i < n_in; i++) {
    Row *r = &rows[n];
    const char *arg = argv[i + 2];
    size_t la = strlen(arg);
    if (la > 3 && !strcmp(arg + la - 3, ".h5")) snprintf(r->path, sizeof r->path, "%s", arg);
    else {
      while (la > 1 && arg[la - 1] == '/') la--; /* "dir/" from a shell glob */
      snprintf(r->path, sizeof r->path, "%.*s/results.h5", (int)la, arg);
    }
    struct stat st;
    if (stat(r->path, &st)) {
      fprintf(stderr, "dmn_merge: %s: missing (%s; did the task fail or not finish?) - skipped\n", r->path, strerror(errno));
      bad++;
      continue;
    }
    hid_t f = H5Fopen(r->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
      fprintf(stderr, "dmn_merge: %s: not a readable HDF5 file (corrupt or truncated) - skipped\n", r->path);
      bad++;
      continue;
    }
    char v[128], mc[128];
    if (read_str_attr(f, "dmn_version", v, sizeof v) || read_str_attr(f, "model_contract", mc, sizeof mc) || H5Lexists(f, "evaluation", H5P_DEFAULT) <= 0) {
      fprintf(stderr, "dmn_merge: %s: not a dmn results file (no dmn_version / model_contract / /evaluation) - skipped\n", r->path);
      H5Fclose(f);
      bad++;
      continue;
    }
    const int new_release = !in_list(versions, v);
    if (!version[0]) {
      snprintf(version, sizeof version, "%s", v);
      snprintf(contract, sizeof contract, "%s", mc);
      snprintf(first, sizeof first, "%s", r->path);
    } else if (strcmp(contract, mc)) {
      fprintf(stderr, "dmn_merge: error: %s was written by dmn %s (%s), %s by dmn %s (%s): results of different model versions are not merged\n",
              r->path, v, mc, first, version, contract);
      H5Fclose(f);
      for (int k = 0; k < n; k++) H5Fclose(files[k]);
      return 2;
    } else if (new_release) {
      /* the same model contract from another release (a sweep finished
       * after an upgrade): comparable by the contract, so merged, and said */
      fprintf(stderr, "dmn_merge: note: %s was written by dmn %s, %s by dmn %s; the same model (%s): merged\n", r->path, v, first, version, mc);
    }
    if (new_release) snprintf(versions + strlen(versions), sizeof versions - strlen(versions), "%s%s", versions[0] ? ", " : "", v);
    read_str_attr(f, "sweep_name", r->name, sizeof r->name);
    read_str_attr(f, "config_name", r->config, sizeof r->config);
    double idx = read_num_attr(f, "sweep_index"), seed = read_num_attr(f, "seed");
    r->index = isnan(idx) ? -1 : (int)idx;
    r->seed = isnan(seed) ? -1 : (long)seed;
    if (!r->name[0]) snprintf(r->name, sizeof r->name, "%s", r->config[0] ? r->config : "run");
    hid_t eg = H5Gopen2(f, "evaluation", H5P_DEFAULT);
    for (int e = 0; e < NE; e++) {
      hid_t g = H5Lexists(eg, eval_group[e], H5P_DEFAULT) > 0 ? H5Gopen2(eg, eval_group[e], H5P_DEFAULT) : -1;
      for (int k = 0; k < NM; k++) r->m[e][k] = g >= 0 ? read_num_attr(g, metric_attr[k]) : NAN;
      if (g >= 0) H5Gclose(g);
    }
    H5Gclose(eg);
    files[n++] = f;
  }
  if (!n) {
    fprintf(stderr, "dmn_merge: error: none of the %d inputs could be read; nothing written\n", n_in);
    return 3;
  }
  /* sort rows (and their open files) by sweep index */
  int *order = malloc(sizeof(int) * (size_t)n);
  for (int i = 0; i < n; i++) order[i] = i;
  for (int a = 1; a < n; a++)
    for (int b = a; b > 0 && cmp_row(&rows[order[b - 1]], &rows[order[b]]) > 0; b--) {
      int t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  Row *sorted = malloc(sizeof(Row) * (size_t)n);
  hid_t *sf = malloc(sizeof(hid_t) * (size_t)n);
  for (int i = 0; i < n; i++) sorted[i] = rows[order[i]], sf[i] = files[order[i]];

  char tmp[PATH_LEN + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", out);
  hid_t o = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (o < 0) {
    fprintf(stderr, "dmn_merge: error: cannot create %s (directory writable?)\n", tmp);
    return 2;
  }
  write_attr_s(o, "dmn_version", versions);
  write_attr_s(o, "model_contract", contract);
  write_attr_d(o, "n_runs", n);
  write_attr_d(o, "n_inputs", n_in);
  write_attr_d(o, "n_missing", bad);
  hid_t sg = H5Gcreate2(o, "summary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  write_str_col(sg, "condition", sorted[0].name, sizeof(Row), NAME_MAX_LEN, n);
  write_str_col(sg, "run", sorted[0].path, sizeof(Row), 512, n);
  {
    double *iv = malloc(sizeof(double) * (size_t)n), *sv = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++) iv[i] = sorted[i].index, sv[i] = (double)sorted[i].seed;
    hsize_t d = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(sg, "index", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int *ii = malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) ii[i] = sorted[i].index;
    H5Dwrite(ds, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, ii);
    H5Dclose(ds);
    ds = H5Dcreate2(sg, "seed", H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, sv);
    H5Dclose(ds);
    H5Sclose(sp);
    free(ii);
    free(iv);
    free(sv);
  }
  for (int e = 0; e < NE; e++)
    for (int k = 0; k < NM; k++) {
      char col[128];
      snprintf(col, sizeof col, "%s_%s", eval_col[e], metric_col[k]);
      write_col_d(sg, col, sorted, n, e, k);
    }
  write_attr_s(sg, "meaning", "one row per run, sorted by sweep index; intact = starting parameters on the unlesioned circuit (lesion studies "
                              "with --init; NaN otherwise), lesioned = starting parameters on this condition's circuit, retrained = after "
                              "this run's training; success = final distance < 5 mm");
  H5Gclose(sg);
  /* each run whole, under /runs/NN_<name> */
  hid_t rg = H5Gcreate2(o, "runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  int copy_failed = 0;
  for (int i = 0; i < n; i++) {
    char name[NAME_MAX_LEN + 16];
    snprintf(name, sizeof name, "%02d_%s", sorted[i].index, sorted[i].name);
    if (H5Lexists(rg, name, H5P_DEFAULT) > 0) snprintf(name + strlen(name), sizeof name - strlen(name), "_%d", i);
    if (H5Ocopy(sf[i], ".", rg, name, H5P_DEFAULT, H5P_DEFAULT) < 0) {
      fprintf(stderr, "dmn_merge: error: copying %s into %s failed\n", sorted[i].path, tmp);
      copy_failed = 1;
    }
    H5Fclose(sf[i]);
  }
  H5Gclose(rg);
  if (H5Fclose(o) < 0 || copy_failed) {
    unlink(tmp);
    fprintf(stderr, "dmn_merge: error: writing %s failed\n", tmp);
    return 2;
  }
  if (rename(tmp, out)) {
    fprintf(stderr, "dmn_merge: error: cannot rename %s to %s: %s\n", tmp, out, strerror(errno));
    return 2;
  }
  /* the table */
  printf("Merged %d of %d runs into %s (dmn %s, %s)\n", n, n_in, out, versions, contract);
  printf("  %3s  %-22s %-9s %-9s %-9s  %-11s %-11s %-11s\n", "idx", "condition", "intact", "lesioned", "retrained", "final intact",
         "final les.", "final retr.");
  for (int i = 0; i < n; i++) {
    char c[NE][2][32];
    for (int e = 0; e < NE; e++) {
      fmt_metric(c[e][0], sizeof c[e][0], sorted[i].m[e][M_SUCCESS], 1);
      fmt_metric(c[e][1], sizeof c[e][1], sorted[i].m[e][M_MEDIAN], 0);
    }
    printf("  %3d  %-22s %-9s %-9s %-9s  %-11s %-11s %-11s\n", sorted[i].index, sorted[i].name, c[0][0], c[1][0], c[2][0], c[0][1], c[1][1],
           c[2][1]);
  }
  printf("  (success rate; median final distance in mm)\n");
  if (bad) printf("PARTIAL: %d input%s missing or unreadable (named above)\n", bad, bad == 1 ? "" : "s");
  free(order);
  free(sorted);
  free(sf);
  free(rows);
  free(files);
  return bad ? 3 : 0;
}
