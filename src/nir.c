/* nir — the trained circuit as a NIR graph in HDF5 (see nir.h).
 *
 * Layout (NIR's own serialisation, nir.write / nir.read): /version (string),
 * /node/type = "NIRGraph", /node/edges (E x 2 strings, source and target),
 * /node/nodes/<name>/ with a `type` string and the node's parameters as
 * datasets, /node/metadata/ and /node/nodes/<name>/metadata/ for everything
 * else (NIR readers reject unknown datasets inside a node group). */
#include "nir.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmn_version.h"

/* The NIR format version these files follow (nir.version of the reader
 * whose layout we write: NIR 1.0). */
#define NIR_FORMAT_VERSION "1.0.0"

typedef struct {
  const char *path;
  char *err;
  int failed;
} Nx;

static void nfail(Nx *x, const char *what, const char *obj) {
  if (!x->failed) snprintf(x->err, DMN_ERR_MAX, "%s: cannot %s '%s'", x->path, what, obj);
  x->failed = 1;
}

static hid_t vlen_str_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

/* A scalar UTF-8 string dataset (NIR's `type`, `/version`, text metadata). */
static void put_str(Nx *x, hid_t loc, const char *name, const char *s) {
  if (x->failed) return;
  hid_t t = vlen_str_type(), sp = H5Screate(H5S_SCALAR);
  hid_t ds = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) < 0) nfail(x, "write dataset", name);
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(sp);
  H5Tclose(t);
}

static void put_array(Nx *x, hid_t loc, const char *name, hid_t type, const void *data, int rank, const hsize_t *dims) {
  if (x->failed) return;
  hid_t sp = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
  hid_t ds = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) nfail(x, "write dataset", name);
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(sp);
}

static void put_d1(Nx *x, hid_t loc, const char *name, const double *v, hsize_t n) { put_array(x, loc, name, H5T_NATIVE_DOUBLE, v, 1, &n); }
static void put_scalar(Nx *x, hid_t loc, const char *name, double v) { put_array(x, loc, name, H5T_NATIVE_DOUBLE, &v, 0, NULL); }

static hid_t group(Nx *x, hid_t loc, const char *name) {
  if (x->failed) return -1;
  hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) nfail(x, "create group", name);
  return g;
}

/* A node group with its type; the caller adds parameters and closes it. */
static hid_t node(Nx *x, hid_t nodes, const char *name, const char *type) {
  hid_t g = group(x, nodes, name);
  put_str(x, g, "type", type);
  return g;
}

static void close_group(hid_t g) {
  if (g >= 0) H5Gclose(g);
}

/* A 1-D double array of n copies of v. */
static double *filled(size_t n, double v) {
  double *a = malloc(sizeof(double) * (n ? n : 1));
  for (size_t i = 0; i < n; i++) a[i] = v;
  return a;
}

static void node_scale(Nx *x, hid_t nodes, const char *name, const double *s, size_t n, const char *note) {
  hid_t g = node(x, nodes, name, "Scale");
  put_d1(x, g, "scale", s, n);
  if (note) {
    hid_t md = group(x, g, "metadata");
    put_str(x, md, "dmn", note);
    close_group(md);
  }
  close_group(g);
}

/* LI: tau dv/dt = (v_leak - v) + r I;  discrete: v[t] = e v[t-1] + (1 - e) r I[t], e = exp(-dt/tau). */
static void node_li(Nx *x, hid_t nodes, const char *name, double tau, double r, size_t n, const char *note) {
  hid_t g = node(x, nodes, name, "LI");
  double *a = filled(n, tau);
  put_d1(x, g, "tau", a, n);
  for (size_t i = 0; i < n; i++) a[i] = r;
  put_d1(x, g, "r", a, n);
  for (size_t i = 0; i < n; i++) a[i] = 0.0;
  put_d1(x, g, "v_leak", a, n);
  free(a);
  hid_t md = group(x, g, "metadata");
  put_str(x, md, "dmn", note);
  close_group(md);
  close_group(g);
}

static void node_delay(Nx *x, hid_t nodes, const char *name, double delay, size_t n) {
  hid_t g = node(x, nodes, name, "Delay");
  double *a = filled(n, delay);
  put_d1(x, g, "delay", a, n);
  free(a);
  close_group(g);
}

/* Linear weight[post, pre], dense (NIR has no sparse node): the effective
 * weights, 0 where the connectome has no synapse or a lesion removed it. */
static void node_linear(Nx *x, hid_t nodes, const char *name, const double *dense, size_t n_post, size_t n_pre) {
  hid_t g = node(x, nodes, name, "Linear");
  hsize_t d[2] = {n_post, n_pre};
  put_array(x, g, "weight", H5T_NATIVE_DOUBLE, dense, 2, d);
  close_group(g);
}

int nir_export(const char *path, const DmnModel *m, const DmnParams *p, char err[DMN_ERR_MAX]) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  Nx x = {path, err, 0};
  char tmp[DMN_STR_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  DmnDerived d;
  memset(&d, 0, sizeof d);
  if (derived_create(m, &d) || derived_update(m, p, &d)) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot compute the effective weights", path);
    return 1;
  }
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot create file (check that the directory exists and is writable)", tmp);
    derived_destroy(&d);
    return 1;
  }
  const int n_orn = m->n[DMN_L_ORN], n_kc = m->n[DMN_L_KC], n_dn = m->n[DMN_L_DN];
  put_str(&x, f, "version", NIR_FORMAT_VERSION);
  hid_t top = group(&x, f, "node");
  put_str(&x, top, "type", "NIRGraph");
  hid_t nodes = group(&x, top, "nodes");

  /* the graph's input: receptor responses r_i (MODEL §3), one per ORN */
  hid_t g = node(&x, nodes, "input", "Input");
  int64_t shape = n_orn;
  hsize_t one = 1;
  put_array(&x, g, "shape", H5T_NATIVE_INT64, &shape, 1, &one);
  hid_t md = group(&x, g, "metadata");
  put_str(&x, md, "dmn", "receptor responses r_i[t] of src/MODEL.md section 3, one per ORN: weber r = max(0, ln(C + eps) - mu_i) / log_range, "
                         "C the concentration at ORN i's antenna");
  put_str(&x, md, "receptor", m->env.kind == DMN_RECEPTOR_WEBER ? "weber" : m->env.kind == DMN_RECEPTOR_HILL ? "hill" : "gaussian");
  put_d1(&x, md, "mu", m->env.mu, (hsize_t)n_orn); /* -inf: an ORN without a tuning channel (responds 0) */
  int *ant = malloc(sizeof(int) * (size_t)n_orn);
  for (int i = 0; i < n_orn; i++) ant[i] = m->env.antenna[i];
  hsize_t no = (hsize_t)n_orn;
  put_array(&x, md, "antenna", H5T_NATIVE_INT, ant, 1, &no);
  free(ant);
  put_scalar(&x, md, "log_range", m->env.log_range);
  put_scalar(&x, md, "eps", m->env.eps);
  put_scalar(&x, md, "tuning_width", m->env.tune_w);
  close_group(md);
  close_group(g);

  /* ORN drive g_i (r_i[t] - k A_i[t-1]), A = LI(r) with A[-1] = r[0] (MODEL §3) */
  if (m->adapt > 0) {
    node_li(&x, nodes, "orn_adaptation", m->cfg.sensing_adapt_tau, 1.0, (size_t)n_orn,
            "A_i, the low-pass of r_i; its initial value is r_i[0] (not 0)");
    node_delay(&x, nodes, "orn_adaptation_delay", m->dt, (size_t)n_orn);
    double *k = filled((size_t)n_orn, -m->adapt);
    node_scale(&x, nodes, "orn_adaptation_scale", k, (size_t)n_orn, "-k (sensing.adapt); its output joins r at orn_gain's input");
    free(k);
  }
  node_scale(&x, nodes, "orn_gain", p->orn_gain, (size_t)n_orn, "g_i, mV: the ORNs' synaptic input g_i (r_i - k A_i)");

  /* every layer a CubaLIF: I[t] = exp(-dt/tau_syn) I[t-1] + input[t];
   * v[t] = v_leak + exp(-dt/tau_mem) (v[t-1] - v_leak) + (1 - exp(-dt/tau_mem)) r I[t] */
  for (int l = 0; l < DMN_NLAYER; l++) {
    const int n = m->n[l], o = m->layer_off[l];
    char name[16];
    snprintf(name, sizeof name, "%s", dmn_layer_names[l]);
    for (char *c = name; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    g = node(&x, nodes, name, "CubaLIF");
    double *a = filled((size_t)n, m->cfg.circuit_tau_syn);
    put_d1(&x, g, "tau_syn", a, (hsize_t)n);
    for (int i = 0; i < n; i++) a[i] = m->tau_min + util_softplus(p->rho[o + i]);
    put_d1(&x, g, "tau_mem", a, (hsize_t)n);
    for (int i = 0; i < n; i++) a[i] = 1.0;
    put_d1(&x, g, "r", a, (hsize_t)n);
    put_d1(&x, g, "w_in", a, (hsize_t)n);
    for (int i = 0; i < n; i++) a[i] = m->v_rest + p->bias[o + i];
    put_d1(&x, g, "v_leak", a, (hsize_t)n);
    /* a silenced neuron (lesion) never fires: an infinite threshold */
    const uint8_t *sil = m->conn.silenced[l];
    for (int i = 0; i < n; i++) a[i] = sil && sil[i] ? INFINITY : p->theta[o + i];
    put_d1(&x, g, "v_threshold", a, (hsize_t)n);
    for (int i = 0; i < n; i++) a[i] = m->v_reset;
    put_d1(&x, g, "v_reset", a, (hsize_t)n);
    free(a);
    md = group(&x, g, "metadata");
    put_str(&x, md, "dmn", "spike when v >= v_threshold (then v = v_reset); v[-1] = v_leak - bias = V_rest, I[-1] = 0; inputs of a step "
                           "reach every layer within that step");
    put_d1(&x, md, "bias", p->bias + o, (hsize_t)n); /* v_leak = v_rest + bias; dmn computes with these two (exact replay) */
    put_scalar(&x, md, "v_rest", m->v_rest);
    close_group(md);
    close_group(g);
  }

  /* projections, dense [post, pre] */
  size_t big = 0;
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *pr = &m->conn.proj[q];
    const size_t cells = (size_t)pr->n_post * (size_t)pr->n_pre;
    double *w = calloc(cells ? cells : 1, sizeof(double));
    for (int i = 0; i < pr->n_post; i++)
      for (int k = pr->row_ptr[i]; k < pr->row_ptr[i + 1]; k++) w[(size_t)i * (size_t)pr->n_pre + (size_t)pr->col[k]] += d.w[q][k];
    node_linear(&x, nodes, dmn_proj_names[q], w, (size_t)pr->n_post, (size_t)pr->n_pre);
    free(w);
    big += cells;
  }
  /* the APL (MODEL §2b): z = LI(sum_k w_in,k s_k), one per side; it reaches the KCs one step later */
  if (m->apl) {
    double *w = calloc((size_t)DMN_N_APL * (size_t)n_kc, sizeof(double));
    const int8_t *side = m->conn.side[DMN_L_KC];
    for (int k = 0; k < n_kc; k++) w[(size_t)apl_side(side, k) * (size_t)n_kc + (size_t)k] = d.apl_w_in[k];
    node_linear(&x, nodes, "kc_to_apl", w, DMN_N_APL, (size_t)n_kc);
    memset(w, 0, sizeof(double) * (size_t)DMN_N_APL * (size_t)n_kc);
    for (int k = 0; k < n_kc; k++) w[(size_t)k * DMN_N_APL + (size_t)apl_side(side, k)] = d.apl_w_out[k];
    node_linear(&x, nodes, "apl_to_kc", w, (size_t)n_kc, DMN_N_APL);
    free(w);
    node_li(&x, nodes, "apl", m->cfg.circuit_tau_apl, 1.0, DMN_N_APL, "the graded APL of each side (left, right), z[-1] = 0");
    node_delay(&x, nodes, "apl_delay", m->dt, DMN_N_APL);
  }
  /* motor read-out (MODEL §4): q = LI(s_DN / dt), drive = tanh(M q + m) */
  node_li(&x, nodes, "dn_rate", m->cfg.motor_tau_q, 1.0 / m->dt, (size_t)n_dn, "q, the DN rates in spikes per ms, q[-1] = 0");
  g = node(&x, nodes, "motor", "Affine");
  hsize_t dm[2] = {2, (hsize_t)n_dn};
  put_array(&x, g, "weight", H5T_NATIVE_DOUBLE, p->motor_w, 2, dm);
  put_d1(&x, g, "bias", p->motor_b, 2);
  md = group(&x, g, "metadata");
  put_str(&x, md, "dmn", "the descending drive is tanh of this node's output (NIR has no tanh node): (d_left, d_right) in (-1, 1), "
                         "d > 0 walks forward (src/MODEL.md section 4)");
  put_str(&x, md, "nonlinearity", "tanh");
  close_group(md);
  close_group(g);
  g = node(&x, nodes, "output", "Output");
  int64_t two = 2;
  put_array(&x, g, "shape", H5T_NATIVE_INT64, &two, 1, &one);
  close_group(g);
  close_group(nodes);

  /* edges, in the order the engine sums a node's inputs */
  const char *e[][2] = {
      {"input", "orn_gain"},
      {"input", "orn_adaptation"}, {"orn_adaptation", "orn_adaptation_delay"}, {"orn_adaptation_delay", "orn_adaptation_scale"},
      {"orn_adaptation_scale", "orn_gain"},
      {"orn_gain", "orn"},
      {"orn", "orn_to_pn"}, {"orn_to_pn", "pn"},
      {"pn", "pn_to_kc"}, {"pn_to_kc", "kc"},
      {"apl_to_kc", "kc"}, {"kc", "kc_to_apl"}, {"kc_to_apl", "apl"}, {"apl", "apl_delay"}, {"apl_delay", "apl_to_kc"},
      {"kc", "kc_to_mbon"}, {"kc_to_mbon", "mbon"},
      {"mbon", "mbon_to_dn"}, {"mbon_to_dn", "dn"}, {"pn", "pn_to_dn"}, {"pn_to_dn", "dn"},
      {"dn", "dn_rate"}, {"dn_rate", "motor"}, {"motor", "output"}};
  const int n_e = (int)(sizeof e / sizeof e[0]);
  const char **flat = malloc(sizeof(char *) * 2 * (size_t)n_e);
  int k = 0;
  for (int i = 0; i < n_e; i++) {
    const int adapt_edge = strstr(e[i][0], "orn_adaptation") || strstr(e[i][1], "orn_adaptation");
    const int apl_edge = !strcmp(e[i][0], "apl_to_kc") || strstr(e[i][1], "apl");
    if ((adapt_edge && !(m->adapt > 0)) || (apl_edge && !m->apl)) continue;
    flat[2 * k] = e[i][0];
    flat[2 * k + 1] = e[i][1];
    k++;
  }
  hsize_t de[2] = {(hsize_t)k, 2};
  hid_t st = vlen_str_type();
  put_array(&x, top, "edges", st, flat, 2, de);
  H5Tclose(st);
  free(flat);

  /* graph metadata: units, time step, the discrete update, provenance */
  md = group(&x, top, "metadata");
  put_str(&x, md, "time_unit", "ms (NIR's documented unit; many exporters write seconds: multiply every tau and delay by 1e-3 for those)");
  put_str(&x, md, "voltage_unit", "mV");
  put_scalar(&x, md, "dt", m->dt);
  put_str(&x, md, "discretisation",
          "dmn integrates with exponential Euler at dt: LI v[t] = e v[t-1] + (1 - e) r I[t]; CubaLIF I[t] = e_syn I[t-1] + w_in input[t], "
          "v[t] = v_leak + e_mem (v[t-1] - v_leak) + (1 - e_mem) r I[t], e_x = exp(-dt / tau_x); a spike is 1 in the step it happens "
          "(not 1/dt), and every edge without a Delay node acts within the same step");
  put_str(&x, md, "dmn_version", DMN_VERSION);
  put_str(&x, md, "model_contract", "src/MODEL.md v2.1");
  char *yaml = config_to_yaml(&m->cfg);
  put_str(&x, md, "dmn_config", yaml);
  free(yaml);
  close_group(md);
  close_group(top);
  if (H5Fclose(f) < 0) nfail(&x, "close", tmp);
  derived_destroy(&d);
  if (x.failed) {
    unlink(tmp);
    return 1;
  }
  if (rename(tmp, path)) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot rename from %s", path, tmp);
    return 1;
  }
  fprintf(stderr, "dmn_mpi: warning: NIR has no sparse node: the projections are written dense, %zu weights (%.1f MB)\n", big,
          big * 8.0 / 1048576.0);
  return 0;
}
