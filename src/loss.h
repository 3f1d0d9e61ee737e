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

/* The terms of MODEL §6 that depend on the pose and the drive — the
 * distance to the source (w_nav, its nav_norm variants, w_end) and the
 * drive's |d|^2 (w_energy) — and the path metrics, accumulated step by step
 * over an episode; their adjoints step by step, side by side below. */
typedef struct LossPath {
  double r0;                                  /* start distance to the source, mm */
  int t_end;                                  /* first step the w_end term averages over */
  double dist_sum, nav_sum, end_sum, drive_sq_sum, path; /* sums over the episode's steps */
} LossPath;

/* Steps at the end of the episode the w_end term averages over (at least 1). */
int loss_end_steps(const struct DmnModel *m);
void loss_path_begin(const struct DmnModel *m, const double p0[2], LossPath *a);
/* Step t: pose p after it, p_prev before it, drive d. */
void loss_path_step(const struct DmnModel *m, LossPath *a, int t, const double p[2], const double p_prev[2], const double d[2]);
/* nav, energy, end into L; final and mean distance and path length into M. */
void loss_path_finish(const struct DmnModel *m, const LossPath *a, const double p_final[2], DmnLoss *L, DmnMetrics *M);
/* Adjoints at step t: adds dL/dp (the distance terms at the pose after the
 * step) to d_p, and dL/dd (the drive term) to d_d. */
void loss_path_pose_backward(const struct DmnModel *m, const double p0[2], int t, int t_end, const double p[2], double d_p[2]);
void loss_path_drive_backward(const struct DmnModel *m, const double d[2], double d_d[2]);

/* Rate terms from per-neuron rates nu (Hz, n_neuron).  Adds the weighted
 * sparse/rate/silent terms to *L and writes dL/dnu into d_nu (n_neuron). */
void loss_rate_terms(const struct DmnModel *m, const double *nu, DmnLoss *L, double *d_nu);

#endif
