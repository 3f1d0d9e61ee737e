#include "snn.h"

#include <string.h>

/* The vectorised kernels are compiled twice, for plain x86-64 (SSE2) and for
 * AVX2, and the loader picks the one the CPU runs (an ifunc): a binary built
 * on a login node stays correct on any compute node and uses 4-wide vectors
 * where it can.  No FMA: a fused multiply-add rounds once instead of twice,
 * so both versions compute the same bits (test_kernels compares the kernels
 * with scalar reference loops bit for bit; gradient dumps of the default
 * episode matched those of the SSE2-only build of version 0.3). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(DMN_NO_TARGET_CLONES)
#define DMN_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DMN_SIMD_CLONES
#endif

/* s = 0 and no reset for silenced neurons (a constant: no gradient through s). */
static void silence(int n, const uint8_t *silenced, const double *v, double *vp, double *s) {
  for (int i = 0; i < n; i++)
    if (silenced[i]) {
      s[i] = 0.0;
      vp[i] = v[i];
    }
}

/* restrict: the state rows, inputs and outputs never overlap, so gcc
 * vectorises the Heaviside loop (checked with -fopt-info-vec) */
DMN_SIMD_CLONES
void snn_lif_forward(const SnnConst *k, int n, const double *restrict a, const double *restrict theta, const double *restrict bias,
                     const double *restrict cur, const uint8_t *silenced, double *restrict vp, double *restrict v, double *restrict s) {
  const double vr = k->v_rest, vreset = k->v_reset;
  if (k->smooth) {
    for (int i = 0; i < n; i++) {
      double vi = vr + a[i] * (vp[i] - vr) + (1.0 - a[i]) * (cur[i] + bias[i]);
      double si = snn_spike(k, vi - theta[i]);
      v[i] = vi;
      s[i] = si;
      vp[i] = vi - si * (vi - vreset);
    }
    if (silenced) silence(n, silenced, v, vp, s);
    return;
  }
  /* Heaviside: branch-free so the compiler vectorises it */
  for (int i = 0; i < n; i++) {
    /* V = V_rest + a (Vp[t-1] - V_rest) + (1 - a)(I + b);  s = H(V - theta);  Vp = V - s (V - V_reset) */
    double vi = vr + a[i] * (vp[i] - vr) + (1.0 - a[i]) * (cur[i] + bias[i]);
    double si = vi >= theta[i] ? 1.0 : 0.0;
    v[i] = vi;
    s[i] = si;
    vp[i] = vi - si * (vi - vreset);
  }
  if (silenced) silence(n, silenced, v, vp, s);
}

/* One neuron i of the LIF backward's training path (Heaviside surrogate,
 * detached reset, not silenced) given its previous post-reset potential
 * VPP: the general loop's operations in its order (so the same bits). */
#define LIF_BACKWARD_FAST(VPP)                                            \
  do {                                                                    \
    double vpp_ = (VPP);                                                  \
    double q = 1.0 + beta * fabs(v[i] - theta[i]);                        \
    double sg = gam / (q * q) * d_s[i];                                   \
    double dv = g_vp[i] + sg;                                             \
    g_theta[i] -= sg;                                                     \
    double di = g_i[i] + (1.0 - a[i]) * dv;                               \
    g_bias[i] += (1.0 - a[i]) * dv;                                       \
    g_rho[i] += dv * (vpp_ - vr - cur[i] - bias[i]) * da_drho[i];         \
    g_vp[i] = a[i] * dv;                                                  \
    d_x[i] = di;                                                          \
    g_i[i] = a_syn * di;                                                  \
  } while (0)

DMN_SIMD_CLONES
void snn_lif_backward(const SnnConst *k, int n, const double *restrict a, const double *restrict da_drho, const double *restrict theta,
                      const double *restrict bias, const uint8_t *silenced, const double *restrict v, const double *restrict s,
                      const double *restrict cur, const double *restrict vp_prev, const double *restrict d_s, double *restrict g_vp,
                      double *restrict g_i, double *restrict d_x, double *restrict g_theta, double *restrict g_bias, double *restrict g_rho) {
  if (!k->smooth && k->detach_reset && !silenced) {
    /* The training case (Heaviside + surrogate, detached reset, nothing
     * silenced) without branches, so it vectorises: the same operations in
     * the same order as the general loop below, hence the same bits. */
    const double gam = k->gamma, beta = k->beta, a_syn = k->a_syn, vr = k->v_rest;
    for (int i = 0; i < n; i++) LIF_BACKWARD_FAST(vp_prev[i]);
    return;
  }
  for (int i = 0; i < n; i++) {
    double ds = d_s[i], dv;
    /* fwd: Vp = V - s (V - V_reset); detach_reset treats s (V - V_reset) as a constant */
    if (k->detach_reset) {
      dv = g_vp[i];
    } else {
      dv = g_vp[i] * (1.0 - s[i]);
      ds -= g_vp[i] * (v[i] - k->v_reset);
    }
    if (silenced && silenced[i]) ds = 0.0; /* s is the constant 0 */
    /* fwd: s = H(V - theta), surrogate (or exact sigmoid) derivative */
    double sg = snn_spike_grad(k, v[i] - theta[i], s[i]) * ds;
    dv += sg;
    g_theta[i] -= sg;
    /* fwd: V = V_rest + a (Vp_prev - V_rest) + (1 - a)(cur + b) */
    double di = g_i[i] + (1.0 - a[i]) * dv;
    g_bias[i] += (1.0 - a[i]) * dv;
    g_rho[i] += dv * (vp_prev[i] - k->v_rest - cur[i] - bias[i]) * da_drho[i];
    g_vp[i] = a[i] * dv;
    /* fwd: cur = a_syn cur_prev + x */
    d_x[i] = di;
    g_i[i] = k->a_syn * di;
  }
}

int snn_lif_backward_fast(const SnnConst *k, const uint8_t *silenced) { return !k->smooth && k->detach_reset && !silenced; }

DMN_SIMD_CLONES
void snn_lif_backward_from_prev(const SnnConst *k, int n, const double *restrict a, const double *restrict da_drho, const double *restrict theta,
                                const double *restrict bias, const double *restrict v, const double *restrict cur, const double *restrict v_prev,
                                const double *restrict s_prev, const double *restrict d_s, double *restrict g_vp, double *restrict g_i,
                                double *restrict d_x, double *restrict g_theta, double *restrict g_bias, double *restrict g_rho) {
  /* snn_lif_backward's fast path with the previous step's post-reset
   * potential computed in the loop (snn_post_reset) instead of in a pass of
   * its own: one sweep over the layer per step instead of two */
  const double gam = k->gamma, beta = k->beta, a_syn = k->a_syn, vr = k->v_rest, vreset = k->v_reset;
  for (int i = 0; i < n; i++) LIF_BACKWARD_FAST(v_prev[i] - s_prev[i] * (v_prev[i] - vreset));
}

void snn_project_forward(const DmnProjection *p, const double *w_t, const double *x, const int *active, int n_active, double *y) {
  /* Event-driven: y_i += w_ij x_j only for the presynaptic neurons listed
   * as active (x_j != 0: a few percent per step with spikes, every neuron in
   * smooth mode), each walking its synapses contiguously in the transpose
   * order.  Sums per y_i run in presynaptic order. */
  for (int a = 0; a < n_active; a++) {
    const int j = active[a];
    const double xj = x[j];
    for (int c = p->csc_ptr[j]; c < p->csc_ptr[j + 1]; c++) y[p->csc_row[c]] += w_t[c] * xj;
  }
}

int snn_active(int n, const double *x, int *active) {
  /* Spikes are rare (a KC spikes in ~0.5 % of steps): skip blocks of eight
   * silent neurons with one well-predicted branch, and compact the others
   * branch-free (the index is written either way, the count moves only for
   * a non-zero entry). */
  int c = 0, j = 0;
  for (; j + 8 <= n; j += 8) {
    /* any bit set among eight doubles (+0.0 has none; a -0.0 only costs the slow path) */
    uint64_t any = 0, b;
    for (int k = 0; k < 8; k++) {
      memcpy(&b, x + j + k, sizeof b);
      any |= b;
    }
    if (!any) continue;
    for (int k = j; k < j + 8; k++) {
      active[c] = k;
      c += x[k] != 0.0;
    }
  }
  for (; j < n; j++) {
    active[c] = j;
    c += x[j] != 0.0;
  }
  return c;
}

void snn_project_weight_grad(const DmnProjection *p, const double *dw_du, const double *x, const int *active, int n_active, const double *d_y,
                             double *g_u) {
  /* fwd: y_i += w_ij x_j  =>  dL/du_ij = d_y_i x_j dw/du.  Only presynaptic
   * neurons with x_j != 0 contribute: with spikes that is a few percent of
   * them, so walk the transpose (CSC) index from each active one. */
  for (int a = 0; a < n_active; a++) {
    const int j = active[a];
    const double xj = x[j];
    for (int c = p->csc_ptr[j]; c < p->csc_ptr[j + 1]; c++) {
      int q = p->csc_syn[c];
      g_u[q] += d_y[p->csc_row[c]] * xj * dw_du[q]; /* dw/du is 0 for a lesioned synapse */
    }
  }
}

DMN_SIMD_CLONES
void snn_project_backward(const DmnProjection *p, const double *w, const double *w_t, const double *dw_du, const double *x, const int *active,
                          int n_active, const double *d_y, double *d_x, double *g_u) {
  /* d_x_j += sum_i w_ij d_y_i over row j of W^T (transpose order), the sum
   * started from d_x_j and run over i ascending: the terms and the order of
   * PETSc's MatMultAdd on mat_t.  The order fixes each row's sum as a chain
   * of dependent adds, so rows go four at a time: four chains in flight hide
   * the add latency (a PN row of PN->KC has ~280 terms).  Scattering along
   * W's rows instead was latency-bound on the store-to-load of the 50 PN
   * sums every KC row adds into. */
  if (p->rows_contiguous) {
    /* Every row of W is a contiguous range of presynaptic neurons (the
     * synthetic KC->MBON: all KCs of a side): axpys along W's rows, which
     * vectorise, add the same terms to each d_x_j in the same order. */
    int i = 0;
    while (i < p->n_post) {
      const int a = p->row_ptr[i], len = p->row_ptr[i + 1] - a;
      if (len == 0) {
        i++;
        continue;
      }
      double *restrict dx = d_x + p->col[a];
      const double *restrict w0 = w + a;
      /* Four rows over the same range (MBONs of one side): each d_x_j is
       * loaded and stored once for the four terms, added in row order */
      if (i + 4 <= p->n_post && p->row_ptr[i + 4] - p->row_ptr[i + 3] == len && p->row_ptr[i + 3] - p->row_ptr[i + 2] == len &&
          p->row_ptr[i + 2] - p->row_ptr[i + 1] == len && p->col[a + len] == p->col[a] && p->col[a + 2 * len] == p->col[a] &&
          p->col[a + 3 * len] == p->col[a]) {
        const double *restrict w1 = w0 + len, *restrict w2 = w1 + len, *restrict w3 = w2 + len;
        const double y0 = d_y[i], y1 = d_y[i + 1], y2 = d_y[i + 2], y3 = d_y[i + 3];
        for (int k = 0; k < len; k++) {
          double t = dx[k];
          t += w0[k] * y0;
          t += w1[k] * y1;
          t += w2[k] * y2;
          t += w3[k] * y3;
          dx[k] = t;
        }
        i += 4;
      } else {
        const double y0 = d_y[i];
        for (int k = 0; k < len; k++) dx[k] += w0[k] * y0;
        i++;
      }
    }
    snn_project_weight_grad(p, dw_du, x, active, n_active, d_y, g_u);
    return;
  }
  const int *ptr = p->csc_ptr, *row = p->csc_row;
  int j = 0;
  for (; j + 4 <= p->n_pre; j += 4) {
    const int c0 = ptr[j], c1 = ptr[j + 1], c2 = ptr[j + 2], c3 = ptr[j + 3], e3 = ptr[j + 4];
    const int n0 = c1 - c0, n1 = c2 - c1, n2 = c3 - c2, n3 = e3 - c3;
    int nmin = n0 < n1 ? n0 : n1;
    nmin = nmin < n2 ? nmin : n2;
    nmin = nmin < n3 ? nmin : n3;
    double s0 = d_x[j], s1 = d_x[j + 1], s2 = d_x[j + 2], s3 = d_x[j + 3];
    for (int k = 0; k < nmin; k++) {
      s0 += w_t[c0 + k] * d_y[row[c0 + k]];
      s1 += w_t[c1 + k] * d_y[row[c1 + k]];
      s2 += w_t[c2 + k] * d_y[row[c2 + k]];
      s3 += w_t[c3 + k] * d_y[row[c3 + k]];
    }
    for (int c = c0 + nmin; c < c1; c++) s0 += w_t[c] * d_y[row[c]];
    for (int c = c1 + nmin; c < c2; c++) s1 += w_t[c] * d_y[row[c]];
    for (int c = c2 + nmin; c < c3; c++) s2 += w_t[c] * d_y[row[c]];
    for (int c = c3 + nmin; c < e3; c++) s3 += w_t[c] * d_y[row[c]];
    d_x[j] = s0;
    d_x[j + 1] = s1;
    d_x[j + 2] = s2;
    d_x[j + 3] = s3;
  }
  for (; j < p->n_pre; j++) {
    double s0 = d_x[j];
    for (int c = ptr[j]; c < ptr[j + 1]; c++) s0 += w_t[c] * d_y[row[c]];
    d_x[j] = s0;
  }
  snn_project_weight_grad(p, dw_du, x, active, n_active, d_y, g_u);
}

PetscErrorCode snn_project_backward_petsc(Mat Wt, Vec vin, Vec vout, const DmnProjection *p, const double *dw_du, const double *x,
                                          const int *active, int n_active, const double *d_y, double *d_x, double *g_u) {
  PetscFunctionBeginUser;
  PetscCall(VecPlaceArray(vin, d_y));
  PetscCall(VecPlaceArray(vout, d_x));
  /* d_x = d_x + W^T d_y: a MatMultAdd on the stored transpose gathers each
   * d_x_j in one pass (same terms in the same order as scattering W^T).
   * Measured on the default circuit: a backward pass of 0.17-0.19 s against
   * 0.23-0.24 s with MatMultTransposeAdd on W */
  PetscCall(MatMultAdd(Wt, vin, vout, vout));
  PetscCall(VecResetArray(vin));
  PetscCall(VecResetArray(vout));
  snn_project_weight_grad(p, dw_du, x, active, n_active, d_y, g_u);
  PetscFunctionReturn(0);
}
