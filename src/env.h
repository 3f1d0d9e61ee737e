/* env — the odor world and the antennae (MODEL §3): concentration at the two
 * antennae and the receptor tuning over log concentration. */
#ifndef DMN_ENV_H
#define DMN_ENV_H

#include <stdint.h>

#include "config.h"

typedef struct EnvModel {
  int field;          /* DMN_ODOR_* */
  double src[3];      /* source position, mm */
  double c0, lambda, sigma, eps;
  double ant_x, ant_y; /* antenna at (ant_x, +-ant_y, 0) in the body frame, mm */
  int n_orn;           /* one receptor per ORN */
  int kind;           /* sensing.receptor: DMN_RECEPTOR_GAUSSIAN band, _HILL logistic in ln C, _WEBER max(0, ln C - mu) / log_range */
  double log_range;   /* ln C0 - ln c_min: the Weber receptor's scale (response 1 at C0 for the lowest-threshold channel) */
  double mu_lo, mu_step, tune_w; /* channel c is tuned to mu_lo + c*mu_step, spread over [ln c_min, ln C0]; width = sensing.tuning_width x spacing */
  double *mu;          /* (n_orn) tuning centre of ORN i's receptor, ln concentration */
  int8_t *antenna;     /* (n_orn) 0 left, 1 right */
  int *slot;           /* (n_orn) antenna[i] * n_channels + channel of ORN i (mu[i] = mu_lo + channel mu_step): its entry in the (antenna, channel) table */
  int n_channels;
  double constant_odor;          /* >= 0: both antennae sense this instead of the field (control) */
} EnvModel;

/* ORN i sits on antenna side[i] (0 left, 1 right) and its receptor belongs to
 * tuning channel channel[i] of n_channels (one per glomerulus, MODEL §3). */
void env_model_init(EnvModel *e, const DmnConfig *cfg, int n_orn, const int8_t *side, const int *channel, int n_channels);
void env_model_free(EnvModel *e);

/* Concentration at a world point (z = 0) and its gradient d C / d(x, y). */
double env_concentration(const EnvModel *e, double x, double y, double grad[2]);

/* Forward: pose (p, psi) -> concentrations at the antennae conc (2: left,
 * right) and receptor responses recept (n_orn). */
void env_sense(const EnvModel *e, const double p[2], double psi, double conc[2], double *recept);

/* The same at given world points of the left and right antenna (a body
 * whose sensors are not at the MODEL §3 offsets: body.kind neuromechfly). */
void env_sense_points(const EnvModel *e, const double left[2], const double right[2], double conc[2], double *recept);

/* Backward: adds dL/dp and dL/dpsi given d_recept = dL/d recept. */
void env_sense_backward(const EnvModel *e, const double p[2], double psi, const double conc[2], const double *recept,
                        const double *d_recept, double d_p[2], double *d_psi);

#endif
