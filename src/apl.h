/* apl — APL feedback inhibition of the Kenyon cells (src/MODEL.md §2b), each
 * forward kernel with its backward next to it.
 *
 * One graded (non-spiking) APL per side.  Its depolarisation z low-passes
 * the KC spikes of its side, and it inhibits every KC of its side one step
 * later through the KC's synaptic current:
 *
 *   z_s[t]   = a_apl z_s[t-1] + (1 - a_apl) sum_{k on side s} w_in_k s_k[t]     z[-1] = 0
 *   I_k[t]  += w_out_k z_side(k)[t-1]                         (w_out < 0 under Dale: GABA)
 *
 * w_in = softplus(u_in) (cholinergic KCs), w_out = -softplus(u_out); both 0
 * for a KC without APL synapses (lesioned, or side unknown).  Kernels never
 * allocate and never fail; backward kernels ADD into gradients. */
#ifndef DMN_APL_H
#define DMN_APL_H

#include <stdint.h>

#define DMN_N_APL 2 /* one per side */

/* The APL a KC belongs to: 0 left, 1 right (a KC of no side counts as left). */
static inline int apl_side(const int8_t *side, int k) { return side[k] == 1; }

/* The KCs as runs of consecutive indices on one side (KCs are stored side
 * by side: two runs in the synthetic circuit, one for one hemisphere), so
 * every kernel walks contiguous arrays with the side's z a scalar (the
 * element-wise loops vectorise; each side's sums keep ascending KC order). */
typedef struct AplRuns {
  int n;    /* runs */
  int *run; /* (n x 3) first KC, one past the last, side (0 left, 1 right; a KC of unknown side counts as left, its weights are 0) */
} AplRuns;
void apl_runs_build(int n_kc, const int8_t *side, AplRuns *r);
void apl_runs_free(AplRuns *r);

/* Inhibition into the KC currents at step t: cur_kc[k] += w_out[k] z_prev[side[k]]
 * (z_prev: the APL state of step t-1; NULL at t = 0, where it is 0). */
void apl_input(const AplRuns *r, const double *w_out, const double *z_prev, double *cur_kc);
/* Backward of apl_input at step t: g_out[k] += d_x[k] z_prev dw_out/du, and
 * the APL adjoint carried to step t-1: d_z <- a d_z + sum_k w_out[k] d_x[k]
 * (d_z holds dL/dz[t] on entry, dL/dz[t-1] on exit; d_x: dL/dI input of the
 * KCs at step t). */
void apl_input_backward(const AplRuns *r, double a_apl, const double *w_out, const double *dw_out, const double *z_prev, const double *d_x,
                        double *d_z, double *g_out);

/* APL update after the KC layer's LIF at step t, over the KCs that spiked
 * (act, n_act; s real-valued in smooth mode): z[s] = a z_prev[s] + (1 - a) sum w_in s. */
void apl_forward(const int8_t *side, double a_apl, const double *w_in, const double *s_kc, const int *act, int n_act, const double *z_prev,
                 double *z);
/* Backward of apl_forward at step t (d_z = dL/dz[t], complete): every KC's
 * dL/ds += (1 - a) w_in d_z[side], g_in += (1 - a) s d_z dw_in/du. */
void apl_forward_backward(const AplRuns *r, double a_apl, const double *w_in, const double *dw_in, const double *s_kc, const double *d_z,
                          double *d_s, double *g_in);

#endif
