#include "apl.h"

#include <stddef.h>

/* The side of a KC without APL synapses is read but its weights are 0; a
 * side of -1 (unknown) is mapped to 0 so no index is out of range. */
static inline int apl_side(const int8_t *side, int k) { return side[k] == 1; }

void apl_input(int n_kc, const int8_t *side, const double *w_out, const double *z_prev, double *cur_kc) {
  if (!z_prev) return; /* z[-1] = 0 */
  for (int k = 0; k < n_kc; k++) cur_kc[k] += w_out[k] * z_prev[apl_side(side, k)];
}

void apl_input_backward(int n_kc, const int8_t *side, double a_apl, const double *w_out, const double *dw_out, const double *z_prev,
                        const double *d_x, double *d_z, double *g_out) {
  double back[DMN_N_APL] = {0.0, 0.0};
  for (int k = 0; k < n_kc; k++) {
    const int s = apl_side(side, k);
    /* fwd: I_k[t] += w_out_k z_s[t-1] */
    if (z_prev) g_out[k] += d_x[k] * z_prev[s] * dw_out[k];
    back[s] += w_out[k] * d_x[k];
  }
  /* fwd: z[t] = a z[t-1] + ...  and z[t-1] feeds I[t] */
  for (int s = 0; s < DMN_N_APL; s++) d_z[s] = a_apl * d_z[s] + back[s];
}

void apl_forward(const int8_t *side, double a_apl, const double *w_in, const double *s_kc, const int *act, int n_act, const double *z_prev,
                 double *z) {
  double drive[DMN_N_APL] = {0.0, 0.0};
  for (int a = 0; a < n_act; a++) {
    const int k = act[a];
    drive[apl_side(side, k)] += w_in[k] * s_kc[k];
  }
  for (int s = 0; s < DMN_N_APL; s++) z[s] = (z_prev ? a_apl * z_prev[s] : 0.0) + (1.0 - a_apl) * drive[s];
}

void apl_forward_backward(int n_kc, const int8_t *side, double a_apl, const double *w_in, const double *dw_in, const double *s_kc,
                          const double *d_z, double *d_s, double *g_in) {
  const double c[DMN_N_APL] = {(1.0 - a_apl) * d_z[0], (1.0 - a_apl) * d_z[1]};
  for (int k = 0; k < n_kc; k++) {
    const double dzk = c[apl_side(side, k)];
    /* fwd: z_s[t] = a z_s[t-1] + (1 - a) sum_k w_in_k s_k[t] */
    d_s[k] += w_in[k] * dzk;
    g_in[k] += s_kc[k] * dzk * dw_in[k];
  }
}
