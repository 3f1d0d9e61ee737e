/* snn — current-based LIF layers and synaptic projections (MODEL §2), each
 * forward kernel with its backward next to it.  Kernels never allocate and
 * never fail; backward kernels ADD into gradients (the caller zeroes). */
#ifndef DMN_SNN_H
#define DMN_SNN_H

#include <petscmat.h>
#include <stdint.h>

#include "connectome.h"

/* Constants of the spike nonlinearity shared by all layers. */
typedef struct SnnConst {
  double v_rest, v_reset, a_syn;
  double gamma, beta; /* surrogate gamma / (1 + beta |V - theta|)^2 */
  int smooth;         /* s = sigmoid(4 gamma (V - theta)) instead of Heaviside */
  int detach_reset;
} SnnConst;

/* Spike value and the derivative used by the backward pass at V - theta = x. */
static inline double snn_spike(const SnnConst *k, double x) {
  if (k->smooth) {
    double z = 4.0 * k->gamma * x;
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
  }
  return x >= 0.0 ? 1.0 : 0.0;
}
static inline double snn_spike_grad(const SnnConst *k, double x, double s) {
  if (k->smooth) return 4.0 * k->gamma * s * (1.0 - s);
  double q = 1.0 + k->beta * fabs(x);
  return k->gamma / (q * q);
}

/* LIF step for n neurons (MODEL §2).  cur holds a_syn*cur[t-1] + W x[t] on entry
 * (the caller has added the projections); vp is the post-reset potential of
 * the previous step on entry and of this step on exit.  silenced (n, or NULL)
 * forces a neuron's output to 0 (a silencing lesion): s = 0, no reset. */
void snn_lif_forward(const SnnConst *k, int n, const double *a, const double *theta, const double *bias, const double *cur,
                     const uint8_t *silenced, double *vp, double *v, double *s);

/* The whole of a layer's step after its inputs are in: snn_lif_forward,
 * then (cur_next non-NULL) the next step's decay cur_next = a_syn cur, and
 * the list of neurons that spiked (as snn_active; returns the count) — in
 * one sweep over the layer for the training case (Heaviside, nothing
 * silenced), the same bits as the three separate passes. */
int snn_lif_step(const SnnConst *k, int n, const double *a, const double *theta, const double *bias, const double *cur,
                 const uint8_t *silenced, double *vp, double *v, double *s, double *cur_next, int *active);

/* Backward of snn_lif_forward for one step.
 * In:  v, s, cur (this step), vp_prev (post-reset potential of the previous
 *      step), d_s (dL/ds from the layers above and the loss), g_vp (dL/dvp
 *      of this step, carried from t+1), g_i (dL/dI of this step carried from
 *      t+1, i.e. a_syn * d_I[t+1]).  A silenced neuron's s is the constant 0.
 * Out: d_x = dL/d(input current added at this step); g_vp, g_i overwritten
 *      with the carries for step t-1; gradients of theta, bias, rho added. */
void snn_lif_backward(const SnnConst *k, int n, const double *a, const double *da_drho, const double *theta, const double *bias,
                      const uint8_t *silenced, const double *v, const double *s, const double *cur, const double *vp_prev, const double *d_s, double *g_vp,
                      double *g_i, double *d_x, double *g_theta, double *g_bias, double *g_rho);

/* Whether snn_lif_backward takes its branch-free path (Heaviside, detached
 * reset, nothing silenced): the training case. */
int snn_lif_backward_fast(const SnnConst *k, const uint8_t *silenced);
/* That path with vp_prev = snn_post_reset(v_prev, s_prev) computed inside
 * (the previous step's V and s from the tape): the same bits. */
void snn_lif_backward_from_prev(const SnnConst *k, int n, const double *a, const double *da_drho, const double *theta, const double *bias,
                                const double *v, const double *cur, const double *v_prev, const double *s_prev, const double *d_s, double *g_vp,
                                double *g_i, double *d_x, double *g_theta, double *g_bias, double *g_rho);

/* Synaptic decay at the start of a step: cur = a_syn cur_prev (vectorised). */
void snn_decay(int n, double a_syn, const double *cur_prev, double *cur);

/* Post-reset potential from a step's V and s: vp = V - s (V - V_reset). */
static inline double snn_post_reset(const SnnConst *k, double v, double s) { return v - s * (v - k->v_reset); }

/* Projection y += W x for W in CSR (row = postsynaptic neuron), event-driven
 * over the active presynaptic neurons (x_j != 0, listed by snn_active),
 * reading w_t, the weights in transpose order (DmnDerived.w_t). */
void snn_project_forward(const DmnProjection *p, const double *w_t, const double *x, const int *active, int n_active, double *y);
/* active[0..count) = the indices j < n with x_j != 0, ascending; returns the count. */
int snn_active(int n, const double *x, int *active);
/* Weight gradient only: g_u += (d_y_i x_j) dw/du over the synapses of the active presynapses. */
void snn_project_weight_grad(const DmnProjection *p, const double *dw_du, const double *x, const int *active, int n_active, const double *d_y,
                             double *g_u);
/* Backward: d_x += W^T d_y over every synapse (axpys along W's rows w when
 * they are contiguous ranges, else a row-wise gather on w_t) and
 * g_u += (d_y_i x_j) dw/du over the active presynapses. */
void snn_project_backward(const DmnProjection *p, const double *w, const double *w_t, const double *dw_du, const double *x, const int *active,
                          int n_active, const double *d_y, double *d_x, double *g_u);

/* W^T d_y for nb <= SNN_STEPS consecutive steps at once (the layer-by-layer
 * backward): row t of d_x (at d_x + t*dx_stride) += W^T d_y[t], with d_y
 * transposed, d_yT[i*nb + t] (neuron-major, step-contiguous), so that one
 * synapse updates all nb sums with vector operations.  Each d_x_j[t] sums
 * the same terms in the same order as snn_project_backward's gather (the
 * transpose row j in order), hence the same bits. */
#define SNN_STEPS 32
void snn_project_backward_steps(const DmnProjection *p, const double *w_t, int nb, const double *d_yT, double *d_x, size_t dx_stride);

/* The same for a projection whose rows are contiguous ranges of
 * presynaptic neurons (rows_contiguous): d_y untransposed, row t at
 * d_y + t*stride, and d_x rows at d_x + t*stride.  Rows that share a range
 * go together (each d_x_j[t] loaded and stored once for all of them); the
 * terms are added in row order, as in snn_project_backward. */
void snn_project_backward_rows_steps(const DmnProjection *p, const double *w, int nb, const double *d_y, double *d_x, size_t stride);
/* The weight gradients of a block of nb steps for a projection whose rows
 * are contiguous ranges: step b's presynaptic values x[b], spike list
 * act[b] (ascending, n_act[b] long), dL/dy at d_y + b*stride.  Row by row,
 * each synapse's terms added last step first: the bits of calling
 * snn_project_weight_grad for b = nb-1 down to 0, with the row's gradient
 * and dw/du entries in cache instead of 17 scattered lines per spike. */
void snn_project_weight_grad_rows_steps(const DmnProjection *p, const double *dw_du, int nb, const double *const *x, const int *const *act,
                                        const int *n_act, const double *d_y, size_t stride, double *g_u);

/* The same through PETSc: d_x += W^T d_y as a MatMultAdd with Wt, the AIJ
 * transpose that wraps w_t.  vin/vout are array-less Vecs reused for every call. */
PetscErrorCode snn_project_backward_petsc(Mat Wt, Vec vin, Vec vout, const DmnProjection *p, const double *dw_du, const double *x,
                                          const int *active, int n_active, const double *d_y, double *d_x, double *g_u);

#endif
