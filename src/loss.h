/* loss — the per-episode objective of MODEL §6 and the reported metrics. */
#ifndef DMN_LOSS_H
#define DMN_LOSS_H

#include "connectome.h"

typedef struct DmnLoss {
  double total, nav, energy, sparse, rate, silent; /* weighted terms */
  double end;                                      /* w_end: mean distance over the closing steps (an extension, 0 by default) */
} DmnLoss;

typedef struct DmnMetrics {
  double final_distance, mean_distance, path_length; /* mm */
  double rate_hz[DMN_NLAYER];                         /* layer mean rates */
  double kc_active_fraction; /* mean fraction of KCs spiking per 100 ms window */
} DmnMetrics;

struct DmnModel;

/* Rate terms from per-neuron rates nu (Hz, n_neuron).  Adds the weighted
 * sparse/rate/silent terms to *L and writes dL/dnu into d_nu (n_neuron). */
void loss_rate_terms(const struct DmnModel *m, const double *nu, DmnLoss *L, double *d_nu);

#endif
