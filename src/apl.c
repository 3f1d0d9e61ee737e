#include "apl.h"

#include <stddef.h>
#include <stdlib.h>

/* A KC of unknown side (-1) counts as left: its weights are 0 anyway. */

void apl_runs_build(int n_kc, const int8_t *side, AplRuns *r) {
  r->n = 0;
  r->run = malloc(sizeof(int) * 3 * ((size_t)n_kc + 1));
  for (int k = 0; k < n_kc;) {
    const int s = apl_side(side, k);
    int e = k + 1;
    while (e < n_kc && apl_side(side, e) == s) e++;
    r->run[3 * r->n] = k, r->run[3 * r->n + 1] = e, r->run[3 * r->n + 2] = s;
    r->n++;
    k = e;
  }
}

void apl_runs_free(AplRuns *r) {
  free(r->run);
  r->run = NULL;
  r->n = 0;
}

void apl_input(const AplRuns *r, const double *restrict w_out, const double *z_prev, double *restrict cur_kc) {
  if (!z_prev) return; /* z[-1] = 0 */
  for (int j = 0; j < r->n; j++) {
    const int k0 = r->run[3 * j], k1 = r->run[3 * j + 1];
    const double z = z_prev[r->run[3 * j + 2]];
    for (int k = k0; k < k1; k++) cur_kc[k] += w_out[k] * z;
  }
}

void apl_input_backward(const AplRuns *r, double a_apl, const double *restrict w_out, const double *restrict dw_out, const double *z_prev,
                        const double *restrict d_x, double *d_z, double *restrict g_out) {
  double back[DMN_N_APL] = {0.0, 0.0};
  for (int j = 0; j < r->n; j++) {
    const int k0 = r->run[3 * j], k1 = r->run[3 * j + 1], s = r->run[3 * j + 2];
    /* fwd: I_k[t] += w_out_k z_s[t-1] */
    if (z_prev) {
      const double z = z_prev[s];
      for (int k = k0; k < k1; k++) g_out[k] += d_x[k] * z * dw_out[k];
    }
    /* sum_k w_out_k d_x_k in four interleaved partial sums (k mod 4 from the
     * run's start), added in a fixed order: the same bits on every path,
     * and four independent chains of additions instead of one */
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    int k = k0;
    for (; k + 4 <= k1; k += 4)
      for (int u = 0; u < 4; u++) acc[u] += w_out[k + u] * d_x[k + u];
    for (; k < k1; k++) acc[0] += w_out[k] * d_x[k];
    back[s] += (acc[0] + acc[1]) + (acc[2] + acc[3]);
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

void apl_forward_backward(const AplRuns *r, double a_apl, const double *restrict w_in, const double *restrict dw_in, const double *restrict s_kc,
                          const double *d_z, double *restrict d_s, double *restrict g_in) {
  for (int j = 0; j < r->n; j++) {
    const int k0 = r->run[3 * j], k1 = r->run[3 * j + 1];
    const double dzk = (1.0 - a_apl) * d_z[r->run[3 * j + 2]];
    /* fwd: z_s[t] = a z_s[t-1] + (1 - a) sum_k w_in_k s_k[t] */
    for (int k = k0; k < k1; k++) {
      d_s[k] += w_in[k] * dzk;
      g_in[k] += s_kc[k] * dzk * dw_in[k];
    }
  }
}
