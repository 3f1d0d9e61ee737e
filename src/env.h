/* env — the odor world and the antennae (MODEL §3): concentration at the two
 * antennae and the Gaussian receptor tuning over log concentration. */
#ifndef DMN_ENV_H
#define DMN_ENV_H

#include "config.h"

typedef struct EnvModel {
  int field;          /* DMN_ODOR_* */
  double src[3];      /* source position, mm */
  double c0, lambda, sigma, eps;
  double ant_x, ant_y; /* antenna at (ant_x, +-ant_y, 0) in the body frame, mm */
  int n_orn, n_side;   /* receptors: n_side per antenna, left first */
  double mu_lo, mu_step, tune_w; /* mu_i = mu_lo + i*mu_step over [ln c_min, ln C0]; width = spacing */
  double constant_odor;          /* >= 0: both antennae sense this instead of the field (control) */
} EnvModel;

void env_model_init(EnvModel *e, const DmnConfig *cfg, int n_orn);

/* Concentration at a world point (z = 0) and its gradient d C / d(x, y). */
double env_concentration(const EnvModel *e, double x, double y, double grad[2]);

/* Forward: pose (p, psi) -> concentrations at the antennae conc (2: left,
 * right) and receptor responses recept (n_orn). */
void env_sense(const EnvModel *e, const double p[2], double psi, double conc[2], double *recept);

/* Backward: adds dL/dp and dL/dpsi given d_recept = dL/d recept. */
void env_sense_backward(const EnvModel *e, const double p[2], double psi, const double conc[2], const double *recept,
                        const double *d_recept, double d_p[2], double *d_psi);

#endif
