#include "loss.h"

#include <string.h>

#include "model.h"

void loss_rate_terms(const DmnModel *m, const double *nu, DmnLoss *L, double *d_nu) {
  const DmnConfig *c = &m->cfg;
  const double floor_hz[DMN_NLAYER] = {c->loss_min_rate_orn, c->loss_min_rate_pn, c->loss_min_rate_kc, c->loss_min_rate_mbon,
                                       c->loss_min_rate_dn};
  memset(d_nu, 0, sizeof(double) * (size_t)m->n_neuron);
  L->sparse = L->rate = L->silent = 0.0;
  for (int l = 0; l < DMN_NLAYER; l++) {
    int off = m->layer_off[l], n = m->n[l];
    if (n == 0) continue;
    double mean = 0.0;
    for (int i = 0; i < n; i++) {
      double r = nu[off + i];
      mean += r / n;
      /* w_rate * mean_i relu(nu_i - max)^2 */
      double ex = r - c->loss_max_rate_hz;
      if (ex > 0) {
        L->rate += c->loss_w_rate * ex * ex / n;
        d_nu[off + i] += c->loss_w_rate * 2.0 * ex / n;
      }
      /* w_sparse * mean_KC relu(nu_i - 10 Hz)^2 */
      if (l == DMN_L_KC) {
        double ek = r - c->loss_kc_max_hz;
        if (ek > 0) {
          L->sparse += c->loss_w_sparse * ek * ek / n;
          d_nu[off + i] += c->loss_w_sparse * 2.0 * ek / n;
        }
      }
    }
    /* w_silent * relu(nu_min,l - mean_l nu)^2 */
    double gap = floor_hz[l] - mean;
    if (gap > 0) {
      L->silent += c->loss_w_silent * gap * gap;
      for (int i = 0; i < n; i++) d_nu[off + i] -= c->loss_w_silent * 2.0 * gap / n;
    }
  }
}
