/* Kernel gradients against central differences (MPI-free): odor field and
 * receptors (both fields), the LIF layer over 20 steps in smooth mode with
 * the full reset derivative, a CSR projection with Dale signs, and the
 * surrogate derivative against its closed form. */
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "env.h"
#include "snn.h"
#include "util.h"

/* ---- env ---- */
static double env_loss(const EnvModel *e, const double p[2], double psi, const double *wts) {
  double conc[2], rec[64];
  env_sense(e, p, psi, conc, rec);
  double L = 0;
  for (int i = 0; i < e->n_orn; i++) L += wts[i] * rec[i];
  return L;
}

static void test_env(int field, int receptor) {
  DmnConfig c;
  config_defaults(&c);
  c.odor_field = field;
  c.sensing_receptor = receptor;
  EnvModel e;
  int8_t side[50];
  int channel[50];
  for (int i = 0; i < 50; i++) side[i] = (int8_t)(i >= 25), channel[i] = i % 25;
  env_model_init(&e, &c, 50, side, channel, 25);
  DmnRng r = util_rng(7, 99, (uint64_t)field, (uint64_t)receptor);
  double wts[50];
  for (int i = 0; i < 50; i++) wts[i] = util_rng_normal(&r);
  for (int trial = 0; trial < 5; trial++) {
    double p[2] = {50 + 40 * (util_rng_uniform(&r) - 0.5), 50 + 40 * (util_rng_uniform(&r) - 0.5)}, psi = 6 * util_rng_uniform(&r);
    double conc[2], rec[50];
    env_sense(&e, p, psi, conc, rec);
    double d_p[2] = {0, 0}, d_psi = 0;
    env_sense_backward(&e, p, psi, conc, rec, wts, d_p, &d_psi);
    const double h = 1e-5;
    for (int k = 0; k < 3; k++) {
      double pp[2] = {p[0], p[1]}, pm[2] = {p[0], p[1]}, sp = psi, sm = psi;
      if (k < 2) pp[k] += h, pm[k] -= h;
      else sp += h, sm -= h;
      double fd = (env_loss(&e, pp, sp, wts) - env_loss(&e, pm, sm, wts)) / (2 * h);
      double g = k < 2 ? d_p[k] : d_psi;
      CHECK(fabs(g - fd) <= 1e-6 * fmax(fabs(fd), 1e-4), "env field %d receptor %d trial %d coord %d: adjoint %.10g fd %.10g", field, receptor, trial,
            k, g, fd);
    }
  }
  env_model_free(&e);
}

/* Many ORNs per glomerulus (real connectomes): env_sense computes one
 * response per (antenna, channel) and copies it; it must equal the per-ORN
 * formula bit for bit, in any ORN order. */
static void test_env_table(int receptor) {
  DmnConfig c;
  config_defaults(&c);
  c.sensing_receptor = receptor;
  enum { NO = 123, NC = 9 };
  int8_t side[NO];
  int channel[NO];
  DmnRng r = util_rng(7, 99, 5, 0);
  for (int i = 0; i < NO; i++) side[i] = (int8_t)(util_rng_uniform(&r) < 0.5), channel[i] = (int)(util_rng_uniform(&r) * NC);
  EnvModel e;
  env_model_init(&e, &c, NO, side, channel, NC);
  CHECK(e.n_orn > 2 * e.n_channels, "the table path is taken (%d ORNs, %d channels)", e.n_orn, e.n_channels);
  int same = 1;
  for (int trial = 0; trial < 4; trial++) {
    double p[2] = {30 + 10 * trial, 47}, psi = 0.7 * trial, conc[2], rec[NO];
    env_sense(&e, p, psi, conc, rec);
    for (int i = 0; i < NO; i++) {
      double z = (log(conc[e.antenna[i]] + e.eps) - e.mu[i]) / e.tune_w;
      double lc = log(conc[e.antenna[i]] + e.eps), want = receptor == DMN_RECEPTOR_HILL ? 1.0 / (1.0 + exp(-z))
                                                     : receptor == DMN_RECEPTOR_WEBER ? (lc > e.mu[i] ? (lc - e.mu[i]) / e.log_range : 0.0)
                                                                                       : exp(-0.5 * z * z);
      same &= rec[i] == want;
    }
  }
  CHECK(same, "receptor %d: responses from the (antenna, channel) table equal the per-ORN formula bit for bit", receptor);
  /* an untuned ORN (channel -1: its glomerulus has no PN) responds 0 and passes no gradient, on both paths */
  channel[5] = -1;
  EnvModel e2;
  env_model_init(&e2, &c, NO, side, channel, NC);
  double p[2] = {40, 47}, conc[2], rec[NO], wts[NO], d_p[2] = {0, 0}, d_psi = 0;
  env_sense(&e2, p, 0.3, conc, rec);
  for (int i = 0; i < NO; i++) wts[i] = i == 5;
  env_sense_backward(&e2, p, 0.3, conc, rec, wts, d_p, &d_psi);
  CHECK(rec[5] == 0.0 && rec[6] > 0 && d_p[0] == 0 && d_p[1] == 0 && d_psi == 0, "untuned ORN: response %g, gradient %g %g %g", rec[5], d_p[0], d_p[1],
        d_psi);
  env_model_free(&e2);
  int ch2[4] = {0, -1, 1, 1}; /* the per-ORN path too (few ORNs per channel) */
  int8_t sd2[4] = {0, 0, 1, 1};
  env_model_init(&e2, &c, 4, sd2, ch2, 2);
  double rec2[4];
  env_sense(&e2, p, 0.3, conc, rec2);
  CHECK(rec2[1] == 0.0 && isfinite(rec2[0]) && isfinite(rec2[2]), "untuned ORN on the per-ORN path: %g", rec2[1]);
  env_model_free(&e2);
  env_model_free(&e);
}

/* ---- LIF: N neurons, T steps, input x[t] given, loss = sum_t c[t].s[t] ---- */
enum { N = 6, TS = 20 };
typedef struct {
  double theta[N], bias[N], rho[N], x[TS][N], cs[TS][N];
} LifProblem;

static double lif_run(const SnnConst *k, const LifProblem *P, double v[TS][N], double s[TS][N], double cur_t[TS][N]) {
  double a[N], vp[N], cur[N] = {0}, L = 0;
  for (int i = 0; i < N; i++) {
    a[i] = exp(-1.0 / (1.0 + util_softplus(P->rho[i])));
    vp[i] = k->v_rest;
  }
  for (int t = 0; t < TS; t++) {
    for (int i = 0; i < N; i++) cur[i] = k->a_syn * cur[i] + P->x[t][i];
    memcpy(cur_t[t], cur, sizeof cur);
    snn_lif_forward(k, N, a, P->theta, P->bias, cur, NULL, vp, v[t], s[t]);
    for (int i = 0; i < N; i++) L += P->cs[t][i] * s[t][i];
  }
  return L;
}

static void test_lif(void) {
  SnnConst k = {-70, -70, exp(-0.2), 0.05, 0.5, 1, 0};
  LifProblem P;
  DmnRng r = util_rng(3, 98, 0, 0);
  for (int i = 0; i < N; i++) {
    P.theta[i] = -50 + 4 * util_rng_normal(&r);
    P.bias[i] = 5 * util_rng_normal(&r);
    P.rho[i] = 2.5 + util_rng_normal(&r);
  }
  for (int t = 0; t < TS; t++)
    for (int i = 0; i < N; i++) {
      P.x[t][i] = 8 * util_rng_uniform(&r);
      P.cs[t][i] = util_rng_normal(&r);
    }
  static double v[TS][N], s[TS][N], cur_t[TS][N];
  lif_run(&k, &P, v, s, cur_t);
  double a[N], da[N], g_vp[N] = {0}, g_i[N] = {0}, d_x[TS][N], gth[N] = {0}, gb[N] = {0}, gr[N] = {0};
  for (int i = 0; i < N; i++) {
    double tau = 1.0 + util_softplus(P.rho[i]);
    a[i] = exp(-1.0 / tau);
    da[i] = a[i] / (tau * tau) * util_sigmoid(P.rho[i]);
  }
  for (int t = TS - 1; t >= 0; t--) {
    double ds[N], vprev[N];
    for (int i = 0; i < N; i++) {
      ds[i] = P.cs[t][i];
      vprev[i] = t ? snn_post_reset(&k, v[t - 1][i], s[t - 1][i]) : -70.0;
    }
    snn_lif_backward(&k, N, a, da, P.theta, P.bias, NULL, v[t], s[t], cur_t[t], vprev, ds, g_vp, g_i, d_x[t], gth, gb, gr);
  }
  const double h = 1e-6;
  double worst = 0;
  for (int which = 0; which < 4; which++)
    for (int i = 0; i < N; i++) {
      double *ptr = which == 0 ? &P.theta[i] : which == 1 ? &P.bias[i] : which == 2 ? &P.rho[i] : &P.x[7][i];
      double g = which == 0 ? gth[i] : which == 1 ? gb[i] : which == 2 ? gr[i] : d_x[7][i];
      double x0 = *ptr;
      *ptr = x0 + h;
      double lp = lif_run(&k, &P, v, s, cur_t);
      *ptr = x0 - h;
      double lm = lif_run(&k, &P, v, s, cur_t);
      *ptr = x0;
      double fd = (lp - lm) / (2 * h), e = fabs(g - fd) / fmax(fabs(fd), 1e-4);
      if (e > worst) worst = e;
      CHECK(e < 1e-6, "LIF param %d neuron %d: adjoint %.10g fd %.10g", which, i, g, fd);
    }
  printf("  LIF (smooth, full reset derivative, %d steps): worst rel err %.2e\n", TS, worst);
}

/* ---- projection with Dale signs ---- */
static void test_projection(void) {
  DmnProjection p = {0};
  int rows[5] = {0, 2, 3, 6, 8}, cols[8] = {0, 3, 1, 0, 2, 3, 1, 2};
  uint8_t alive[8] = {1, 1, 1, 1, 0, 1, 1, 1};
  p.n_post = 4;
  p.n_pre = 4;
  p.nnz = 8;
  p.row_ptr = rows;
  p.col = cols;
  p.alive = alive;
  connectome_index_projection(&p);
  const double sign[4] = {1, -1, 1, -1};
  double u[8], x[4] = {0.3, 1.0, 0.0, 0.7}, c[4] = {0.5, -1.2, 0.8, 2.0};
  DmnRng r = util_rng(5, 97, 0, 0);
  for (int q = 0; q < 8; q++) u[q] = util_rng_normal(&r);
#define FWD(L)                                                                                     \
  do {                                                                                             \
    double w[8], wt[8], y[4] = {0, 0, 0, 0};                                                       \
    int act[4];                                                                                    \
    for (int q = 0; q < 8; q++) w[q] = alive[q] ? sign[cols[q]] * util_softplus(u[q]) : 0.0;       \
    for (int c = 0; c < 8; c++) wt[c] = w[p.csc_syn[c]];                                           \
    snn_project_forward(&p, wt, x, act, snn_active(4, x, act), y);                                 \
    L = 0;                                                                                         \
    for (int i = 0; i < 4; i++) L += c[i] * y[i];                                                  \
  } while (0)
  double w[8], wt[8], dw[8], dx[4] = {0}, gu[8] = {0};
  int act[4];
  for (int q = 0; q < 8; q++) {
    w[q] = alive[q] ? sign[cols[q]] * util_softplus(u[q]) : 0.0;
    dw[q] = alive[q] ? sign[cols[q]] * util_sigmoid(u[q]) : 0.0;
  }
  for (int q = 0; q < 8; q++) wt[q] = w[p.csc_syn[q]];
  const int n_act = snn_active(4, x, act);
  CHECK(n_act == 3 && act[0] == 0 && act[1] == 1 && act[2] == 3, "active list of x = (0.3, 1, 0, 0.7): %d entries", n_act);
  snn_project_backward(&p, w, wt, dw, x, act, n_act, c, dx, gu);
  const double h = 1e-6;
  for (int q = 0; q < 8; q++) {
    double L, lp, lm, u0 = u[q];
    u[q] = u0 + h;
    FWD(L);
    lp = L;
    u[q] = u0 - h;
    FWD(L);
    lm = L;
    u[q] = u0;
    double fd = (lp - lm) / (2 * h);
    CHECK(fabs(gu[q] - fd) <= 1e-7 * fmax(1, fabs(fd)), "projection u[%d]: %.10g vs %.10g", q, gu[q], fd);
  }
  CHECK(gu[4] == 0.0, "lesioned synapse gradient exactly 0 (got %g)", gu[4]);
  for (int j = 0; j < 4; j++) {
    double L, lp, lm, x0 = x[j];
    x[j] = x0 + h;
    FWD(L);
    lp = L;
    x[j] = x0 - h;
    FWD(L);
    lm = L;
    x[j] = x0;
    double fd = (lp - lm) / (2 * h);
    CHECK(fabs(dx[j] - fd) <= 1e-7 * fmax(1, fabs(fd)), "projection x[%d]: %.10g vs %.10g", j, dx[j], fd);
  }
  free(p.csc_ptr);
  free(p.csc_syn);
  free(p.row_of);
  free(p.csc_row);
#undef FWD
}

/* The backward's W^T d_y (axpys along W's rows when every row is a
 * contiguous range, else rows of W^T gathered four at a time): each d_x_j
 * must still be d_x_j + sum_i w_ij d_y_i with i ascending -- the bits of
 * PETSc's MatMultAdd on the transpose -- for rows of any lengths, empty
 * ones, and a count of W^T rows that is not a multiple of 4. */
static void check_transpose(const char *name, int npost, int npre, int *rows, int *cols, int expect_contiguous) {
  const int nnz = rows[npost];
  uint8_t alive[256];
  for (int q = 0; q < nnz; q++) alive[q] = 1;
  DmnProjection p = {0};
  p.n_post = npost;
  p.n_pre = npre;
  p.nnz = nnz;
  p.row_ptr = rows;
  p.col = cols;
  p.alive = alive;
  connectome_index_projection(&p);
  CHECK(p.rows_contiguous == expect_contiguous, "%s: rows_contiguous %d", name, p.rows_contiguous);
  DmnRng r = util_rng(11, 97, 2, (uint64_t)npost);
  double w[256], wt[256], dw[256], gu[256] = {0}, dy[32], dx[32], want[32], x[32] = {0};
  CHECK(nnz <= 256 && npost <= 32 && npre <= 32, "%s fits the test's arrays", name);
  for (int q = 0; q < nnz; q++) w[q] = util_rng_normal(&r), dw[q] = 1.0;
  for (int c = 0; c < nnz; c++) wt[c] = w[p.csc_syn[c]];
  for (int i = 0; i < npost; i++) dy[i] = util_rng_normal(&r);
  for (int j = 0; j < npre; j++) dx[j] = want[j] = util_rng_normal(&r);
  for (int j = 0; j < npre; j++) /* reference: from d_x_j, over ascending posts */
    for (int i = 0; i < npost; i++)
      for (int q = rows[i]; q < rows[i + 1]; q++)
        if (cols[q] == j) want[j] += w[q] * dy[i];
  int act[32];
  snn_project_backward(&p, w, wt, dw, x, act, snn_active(npre, x, act), dy, dx, gu);
  for (int j = 0; j < npre; j++) CHECK(dx[j] == want[j], "%s: W^T d_y row %d: %.17g vs %.17g (same terms, same order)", name, j, dx[j], want[j]);
  for (int q = 0; q < nnz; q++) CHECK(gu[q] == 0.0, "%s: no presynaptic activity, no weight gradient (synapse %d)", name, q);
  /* the block of steps (layer-by-layer backward): nb steps at once, d_x rows
   * strided, d_y transposed; each step equal to the one-step kernel's bits */
  static const int block_lengths[] = {SNN_STEPS, SNN_STEPS / 2, 5}; /* full, half (the two register kernels), generic */
  for (int bl = 0; bl < 3; bl++) {
    const int nb = block_lengths[bl];
    enum { STRIDE = 40 };
    static double dyT[32 * SNN_STEPS], dxs[SNN_STEPS * STRIDE], one[SNN_STEPS][32];
    for (int t = 0; t < nb; t++) {
      for (int i = 0; i < npost; i++) dyT[i * nb + t] = util_rng_normal(&r);
      for (int j = 0; j < npre; j++) dxs[t * STRIDE + j] = one[t][j] = util_rng_normal(&r);
      double dyt[32], g0[256] = {0};
      for (int i = 0; i < npost; i++) dyt[i] = dyT[i * nb + t];
      snn_project_backward(&p, w, wt, dw, x, act, 0, dyt, one[t], g0);
    }
    static double dys[SNN_STEPS * STRIDE], dxr[SNN_STEPS * STRIDE];
    for (int t = 0; t < nb; t++) {
      for (int i = 0; i < npost; i++) dys[t * STRIDE + i] = dyT[i * nb + t];
      for (int j = 0; j < npre; j++) dxr[t * STRIDE + j] = dxs[t * STRIDE + j];
    }
    snn_project_backward_steps(&p, wt, nb, dyT, dxs, STRIDE);
    int same = 1;
    for (int t = 0; t < nb; t++)
      for (int j = 0; j < npre; j++) same &= dxs[t * STRIDE + j] == one[t][j];
    CHECK(same, "%s: W^T d_y over %d steps at once equals the one-step kernel bit for bit", name, nb);
    if (p.rows_contiguous) { /* axpys along the rows over the block (rows over the same range together) */
      snn_project_backward_rows_steps(&p, w, nb, dys, dxr, STRIDE);
      same = 1;
      for (int t = 0; t < nb; t++)
        for (int j = 0; j < npre; j++) same &= dxr[t * STRIDE + j] == one[t][j];
      CHECK(same, "%s: row axpys over %d steps at once equal the one-step kernel bit for bit", name, nb);
      /* the block's weight gradients row by row equal the per-step kernel
       * called last step first (random spikes, values and dw/du) */
      static double xsv[SNN_STEPS][32], dwr[256], g_one[256], g_blk[256];
      static int acts[SNN_STEPS][32];
      const double *xp[SNN_STEPS];
      const int *ap[SNN_STEPS];
      int na[SNN_STEPS], spikes = 0;
      for (int q = 0; q < nnz; q++) dwr[q] = util_rng_uniform(&r), g_one[q] = g_blk[q] = util_rng_normal(&r);
      for (int t = 0; t < nb; t++) {
        for (int j = 0; j < npre; j++) xsv[t][j] = util_rng_uniform(&r) < 0.3 ? 0.5 + util_rng_uniform(&r) : 0.0;
        na[t] = snn_active(npre, xsv[t], acts[t]);
        spikes += na[t];
        xp[t] = xsv[t], ap[t] = acts[t];
      }
      for (int t = nb - 1; t >= 0; t--) snn_project_weight_grad(&p, dwr, xsv[t], acts[t], na[t], dys + t * STRIDE, g_one);
      snn_project_weight_grad_rows_steps(&p, dwr, nb, xp, ap, na, dys, STRIDE, g_blk);
      CHECK(spikes > 0 && !memcmp(g_one, g_blk, sizeof(double) * (size_t)nnz),
            "%s: weight gradients of %d steps row by row equal the per-step kernel bit for bit (%d spikes)", name, nb, spikes);
    }
  }
  free(p.csc_ptr);
  free(p.csc_syn);
  free(p.row_of);
  free(p.csc_row);
}

/* snn_active skips blocks of silent neurons: the list must still be every
 * non-zero entry in order, for sparse and dense vectors, tails, and -0.0. */
static void test_active_list(void) {
  enum { NA = 77 };
  DmnRng r = util_rng(3, 97, 4, 0);
  for (int trial = 0; trial < 6; trial++) {
    double x[NA];
    const double p = trial < 3 ? 0.03 : 0.6;
    for (int i = 0; i < NA; i++) x[i] = util_rng_uniform(&r) < p ? (trial % 2 ? 0.37 : 1.0) : 0.0;
    x[9] = -0.0; /* not active */
    if (trial == 5) x[NA - 1] = 1.0;
    int act[NA], want[NA], nw = 0;
    for (int i = 0; i < NA; i++)
      if (x[i] != 0.0) want[nw++] = i;
    const int na = snn_active(NA, x, act);
    CHECK(na == nw && !memcmp(act, want, sizeof(int) * (size_t)nw), "active list, trial %d: %d entries (want %d)", trial, na, nw);
  }
}

static void test_transpose_product(void) {
  enum { NPOST = 9, NPRE = 11 };
  int rows[NPOST + 1], cols[NPOST * NPRE];
  DmnRng r = util_rng(11, 97, 1, 0);
  int nnz = 0;
  rows[0] = 0;
  for (int i = 0; i < NPOST; i++) {
    for (int j = 0; j < NPRE; j++)
      if (j != 5 && util_rng_uniform(&r) < 0.2 + 0.07 * j) cols[nnz++] = j; /* pre 5 has no synapse; densities differ */
    rows[i + 1] = nnz;
  }
  check_transpose("scattered rows", NPOST, NPRE, rows, cols, 0);
  /* rows over ranges of presynaptic neurons, one of them empty */
  int crows[6] = {0, 5, 5, 9, 20, 23}, ccols[23];
  const int start[5] = {2, 0, 7, 0, 8}, len[5] = {5, 0, 4, 11, 3};
  for (int i = 0, q = 0; i < 5; i++)
    for (int k = 0; k < len[i]; k++) ccols[q++] = start[i] + k;
  check_transpose("contiguous rows", 5, 11, crows, ccols, 1);
  /* two sides of 6 and 5 rows over one range each (the synthetic KC->MBON):
   * groups of four rows, then single rows, then the other side */
  int srows[12], scols[11 * 8];
  srows[0] = 0;
  for (int i = 0, q = 0; i < 11; i++) {
    const int lo = i < 6 ? 1 : 9, len = i < 6 ? 8 : 7;
    for (int k = 0; k < len; k++) scols[q++] = lo + k;
    srows[i + 1] = q;
  }
  check_transpose("rows sharing ranges", 11, 16, srows, scols, 1);
}

static void test_surrogate(void) {
  SnnConst k = {-70, -70, 0.8, 0.05, 0.5, 0, 1};
  const double xs[] = {-30, -5, -0.1, 0, 0.2, 4, 25};
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    double want = 0.05 / pow(1 + 0.5 * fabs(xs[i]), 2);
    CHECK_CLOSE(snn_spike_grad(&k, xs[i], snn_spike(&k, xs[i])), want, 1e-15, "SuperSpike surrogate");
    CHECK(snn_spike(&k, xs[i]) == (xs[i] >= 0 ? 1.0 : 0.0), "Heaviside forward");
  }
  SnnConst ks = k;
  ks.smooth = 1;
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    double h = 1e-6, fd = (snn_spike(&ks, xs[i] + h) - snn_spike(&ks, xs[i] - h)) / (2 * h);
    CHECK_CLOSE(snn_spike_grad(&ks, xs[i], snn_spike(&ks, xs[i])), fd, 1e-8, "sigmoid spike derivative");
  }
}

/* The branch-free training path of the LIF backward (Heaviside, detached
 * reset, nothing silenced) gives the same bits as the general loop (forced
 * here by an all-zero silenced mask), and so does its variant that computes
 * the previous post-reset potential from the previous V and s itself. */
static void test_lif_fast_path(void) {
  enum { M = 37 };
  SnnConst k = {-70, -70, 0.8, 0.05, 0.5, 0, 1};
  double a[M], da[M], th[M], b[M], v[M], s[M], cur[M], vpp[M], ds[M], v1[M], s1[M];
  double out[3][6][M];
  uint8_t none[M] = {0};
  DmnRng r = util_rng(11, 99, 0, 0);
  for (int i = 0; i < M; i++) {
    a[i] = 0.9 + 0.09 * util_rng_uniform(&r), da[i] = 0.01 * util_rng_uniform(&r), th[i] = -50 + util_rng_normal(&r);
    b[i] = util_rng_normal(&r), v[i] = -55 + 8 * util_rng_normal(&r), s[i] = v[i] >= th[i], cur[i] = 10 * util_rng_normal(&r);
    v1[i] = -52 + 5 * util_rng_normal(&r), s1[i] = v1[i] >= th[i], vpp[i] = snn_post_reset(&k, v1[i], s1[i]), ds[i] = util_rng_normal(&r);
  }
  CHECK(snn_lif_backward_fast(&k, NULL) && !snn_lif_backward_fast(&k, none), "the fast path is the unsilenced Heaviside case");
  for (int path = 0; path < 3; path++) {
    double *g_vp = out[path][0], *g_i = out[path][1], *d_x = out[path][2], *gt = out[path][3], *gb = out[path][4], *gr = out[path][5];
    for (int i = 0; i < M; i++) g_vp[i] = 0.1 * (i % 5), g_i[i] = 0.2 * (i % 3), gt[i] = gb[i] = gr[i] = 0.5;
    if (path == 2)
      snn_lif_backward_from_prev(&k, M, a, da, th, b, v, cur, v1, s1, ds, g_vp, g_i, d_x, gt, gb, gr);
    else
      snn_lif_backward(&k, M, a, da, th, b, path ? none : NULL, v, s, cur, vpp, ds, g_vp, g_i, d_x, gt, gb, gr);
  }
  CHECK(!memcmp(out[0], out[1], sizeof out[0]), "LIF backward: the branch-free path equals the general loop bit for bit");
  CHECK(!memcmp(out[0], out[2], sizeof out[0]), "LIF backward from the previous V and s equals it bit for bit");
}

/* snn_lif_step (LIF update, next decay and spike list in one sweep) gives
 * the bits of the three separate passes: Heaviside (the fused sweep, 4
 * lanes and a scalar remainder), smooth mode and a silenced neuron (the
 * fallback), with and without the decay output. */
static void test_lif_step(void) {
  enum { NL = 39, STEPS = 60 };
  DmnRng r = util_rng(5, 17, 0, 0);
  double a[NL], th[NL], b[NL];
  uint8_t sil[NL] = {0};
  sil[7] = 1;
  for (int i = 0; i < NL; i++) {
    a[i] = 0.8 + 0.15 * util_rng_uniform(&r);
    th[i] = -50 + 3 * util_rng_normal(&r);
    b[i] = 4 * util_rng_normal(&r);
  }
  for (int variant = 0; variant < 4; variant++) { /* 0, 1: Heaviside with / without cur_next; 2: smooth; 3: silenced */
    SnnConst k = {-70, -65, exp(-0.2), 0.3, 2.0, variant == 2, 1};
    const uint8_t *silenced = variant == 3 ? sil : NULL;
    double vp1[NL], vp2[NL], cur[NL], v1[NL], v2[NL], s1[NL], s2[NL], nx1[NL], nx2[NL];
    int act1[NL + 1], act2[NL + 1], same = 1, spikes = 0;
    for (int i = 0; i < NL; i++) vp1[i] = vp2[i] = -70 + 10 * util_rng_uniform(&r);
    for (int t = 0; t < STEPS; t++) {
      for (int i = 0; i < NL; i++) cur[i] = 70 * util_rng_uniform(&r), nx1[i] = nx2[i] = -1.0;
      snn_lif_forward(&k, NL, a, th, b, cur, silenced, vp1, v1, s1);
      if (variant != 1) snn_decay(NL, k.a_syn, cur, nx1);
      int n1 = snn_active(NL, s1, act1);
      int n2 = snn_lif_step(&k, NL, a, th, b, cur, silenced, vp2, v2, s2, variant != 1 ? nx2 : NULL, act2);
      same &= n1 == n2 && !memcmp(act1, act2, sizeof(int) * (size_t)n1) && !memcmp(v1, v2, sizeof v1) && !memcmp(s1, s2, sizeof s1) &&
              !memcmp(vp1, vp2, sizeof vp1) && !memcmp(nx1, nx2, sizeof nx1);
      spikes += n1;
    }
    CHECK(same, "snn_lif_step (variant %d) equals snn_lif_forward + snn_decay + snn_active bit for bit", variant);
    CHECK(spikes > STEPS && (variant == 2 || spikes < STEPS * NL / 2), "the fused step was exercised with spikes (%d of %d)", spikes, STEPS * NL);
  }
}

int main(void) {
  for (int receptor = 0; receptor < 3; receptor++) {
    test_env(0, receptor);
    test_env(1, receptor);
    test_env_table(receptor);
  }
  test_lif();
  test_projection();
  test_transpose_product();
  test_active_list();
  test_surrogate();
  test_lif_fast_path();
  test_lif_step();
  return th_summary("test_kernels");
}
