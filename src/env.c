#include "env.h"

#include <math.h>
#include <stdlib.h>

void env_model_init(EnvModel *e, const DmnConfig *c, int n_orn, const int8_t *side, const int *channel, int n_channels) {
  e->field = c->odor_field;
  e->src[0] = c->odor_source_x;
  e->src[1] = c->odor_source_y;
  e->src[2] = c->odor_source_z;
  e->c0 = c->odor_c0;
  e->lambda = c->odor_lambda;
  e->sigma = c->odor_sigma;
  e->eps = c->sensing_eps;
  e->ant_x = c->sensing_antenna_x;
  e->ant_y = c->sensing_antenna_y;
  e->n_orn = n_orn;
  e->mu_lo = log(c->sensing_c_min);
  e->mu_step = n_channels > 1 ? (log(c->odor_c0) - e->mu_lo) / (n_channels - 1) : 1.0;
  e->tune_w = c->sensing_tuning_width * e->mu_step;
  e->kind = c->sensing_receptor;
  e->log_range = log(c->odor_c0) - e->mu_lo; /* > 0: config_validate keeps c_min below C0 */
  e->constant_odor = -1.0;
  e->mu = malloc(sizeof(double) * ((size_t)n_orn + 1));
  e->antenna = malloc((size_t)n_orn + 1);
  e->slot = malloc(sizeof(int) * ((size_t)n_orn + 1));
  e->n_channels = n_channels;
  for (int i = 0; i < n_orn; i++) { /* channel -1: an ORN without odor tuning (its glomerulus has no PN here) */
    e->mu[i] = channel[i] >= 0 ? e->mu_lo + channel[i] * e->mu_step : INFINITY;
    e->antenna[i] = (int8_t)(side[i] == 1);
    e->slot[i] = channel[i] >= 0 ? e->antenna[i] * n_channels + channel[i] : 2 * n_channels;
  }
}

void env_model_free(EnvModel *e) {
  free(e->mu);
  free(e->antenna);
  free(e->slot);
  e->slot = NULL;
  e->mu = NULL;
  e->antenna = NULL;
}

double env_concentration(const EnvModel *e, double x, double y, double grad[2]) {
  double dx = x - e->src[0], dy = y - e->src[1], dz = -e->src[2];
  double r2 = dx * dx + dy * dy + dz * dz;
  if (e->field == 1) { /* gaussian: C0 exp(-|a-g|^2 / (2 sigma^2)) */
    double C = e->c0 * exp(-r2 / (2.0 * e->sigma * e->sigma));
    double k = -C / (e->sigma * e->sigma);
    grad[0] = k * dx;
    grad[1] = k * dy;
    return C;
  }
  /* exponential: C0 exp(-|a-g| / lambda); the gradient at the source itself
   * is undefined (cone tip) and taken as 0 there. */
  double r = sqrt(r2);
  double C = e->c0 * exp(-r / e->lambda);
  double k = r > 0 ? -C / (e->lambda * r) : 0.0;
  grad[0] = k * dx;
  grad[1] = k * dy;
  return C;
}

/* Antenna k (0 left, 1 right) world position for pose (p, psi); c, s = cos psi, sin psi. */
static void antenna_pos(const EnvModel *e, const double p[2], double c, double s, int k, double a[2]) {
  double ay = k == 0 ? e->ant_y : -e->ant_y;
  a[0] = p[0] + c * e->ant_x - s * ay;
  a[1] = p[1] + s * e->ant_x + c * ay;
}

/* The receptor's response to lc = ln(C + eps) for a channel tuned to mu
 * (sensing.receptor): with z = (lc - mu) / w a Gaussian band exp(-z^2/2), or
 * a Hill function 1/(1 + e^-z) = C'^n / (C'^n + K^n) with n = 1/w and
 * K = e^mu; or the Weber-law receptor max(0, lc - mu) / log_range, zero
 * below its threshold K = e^mu and logarithmic above it, so its response to
 * a relative change dC/C is the same at every concentration. */
static inline double receptor(const EnvModel *e, double lc, double mu) {
  if (e->kind == DMN_RECEPTOR_WEBER) return lc > mu ? (lc - mu) / e->log_range : 0.0;
  double z = (lc - mu) / e->tune_w;
  return e->kind == DMN_RECEPTOR_HILL ? 1.0 / (1.0 + exp(-z)) : exp(-0.5 * z * z);
}

/* d receptor / d lc, given its response r. */
static inline double receptor_slope(const EnvModel *e, double lc, double mu, double r) {
  if (e->kind == DMN_RECEPTOR_WEBER) return lc > mu ? 1.0 / e->log_range : 0.0;
  double z = (lc - mu) / e->tune_w;
  return (e->kind == DMN_RECEPTOR_HILL ? r * (1.0 - r) : -r * z) / e->tune_w;
}

void env_sense(const EnvModel *e, const double p[2], double psi, double conc[2], double *recept) {
  double a[2][2];
  const double c = cos(psi), s = sin(psi);
  for (int k = 0; k < 2; k++) antenna_pos(e, p, c, s, k, a[k]);
  env_sense_points(e, a[0], a[1], conc, recept);
}

void env_sense_points(const EnvModel *e, const double left[2], const double right[2], double conc[2], double *recept) {
  double lc[2];
  const double *a[2] = {left, right};
  for (int k = 0; k < 2; k++) {
    double g[2];
    conc[k] = e->constant_odor >= 0 ? e->constant_odor : env_concentration(e, a[k][0], a[k][1], g);
    lc[k] = log(conc[k] + e->eps);
  }
  /* r_i = receptor(ln(C_antenna(i) + eps), mu_i).  Real
   * connectomes have tens of ORNs per glomerulus (FlyWire: 2,251 ORNs, 54
   * channels): one response per (antenna, channel), the same expression,
   * copied to its ORNs. */
  enum { TABLE_MAX = 512 };
  if (e->n_channels > 0 && e->n_channels <= TABLE_MAX && e->n_orn > 2 * e->n_channels) {
    double table[2 * TABLE_MAX + 1];
    const int nc = e->n_channels, n = e->n_orn, *restrict slot = e->slot;
    for (int k = 0; k < 2; k++)
      for (int ch = 0; ch < nc; ch++) table[k * nc + ch] = receptor(e, lc[k], e->mu_lo + ch * e->mu_step);
    table[2 * nc] = 0.0; /* untuned ORNs */
    for (int i = 0; i < n; i++) recept[i] = table[slot[i]];
    return;
  }
  for (int i = 0; i < e->n_orn; i++) recept[i] = isinf(e->mu[i]) ? 0.0 : receptor(e, lc[e->antenna[i]], e->mu[i]);
}

void env_sense_backward(const EnvModel *e, const double p[2], double psi, const double conc[2], const double *recept,
                        const double *d_recept, double d_p[2], double *d_psi) {
  if (e->constant_odor >= 0) return; /* the control's odor does not depend on the pose */
  double lc[2] = {log(conc[0] + e->eps), log(conc[1] + e->eps)}, d_lc[2] = {0.0, 0.0};
  /* fwd: z = (lc - mu)/w; Gaussian r = exp(-z^2/2) => dr/dlc = -r z / w;
   * Hill r = 1/(1 + e^-z) => dr/dlc = r (1 - r) / w; Weber 1/log_range above threshold */
  for (int i = 0; i < e->n_orn; i++) {
    if (isinf(e->mu[i])) continue; /* untuned: no response, no gradient */
    int k = e->antenna[i];
    d_lc[k] += d_recept[i] * receptor_slope(e, lc[k], e->mu[i], recept[i]);
  }
  const double c = cos(psi), s = sin(psi);
  for (int k = 0; k < 2; k++) {
    double d_c = d_lc[k] / (conc[k] + e->eps);
    double a[2], g[2];
    antenna_pos(e, p, c, s, k, a);
    env_concentration(e, a[0], a[1], g);
    double da0 = d_c * g[0], da1 = d_c * g[1];
    /* fwd: a = p + R(psi) (ant_x, ay) */
    double ay = k == 0 ? e->ant_y : -e->ant_y;
    d_p[0] += da0;
    d_p[1] += da1;
    *d_psi += da0 * (-s * e->ant_x - c * ay) + da1 * (c * e->ant_x - s * ay);
  }
}
