/* loss — the per-episode objective of MODEL §6: the distance and drive
 * terms along the path (forward and adjoint side by side) and the rate terms
 * of the circuit. */
#include "loss.h"

#include <math.h>
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

/* ---- the distance and drive terms ---------------------------------------- */

int loss_end_steps(const DmnModel *m) {
  int n = (int)(m->cfg.loss_end_fraction * m->T + 0.5);
  return n < 1 ? 1 : (n > m->T ? m->T : n);
}

/* Distance from the start pose to the source. */
static double start_distance(const DmnModel *m, const double p0[2]) {
  const double dx = p0[0] - m->env.src[0], dy = p0[1] - m->env.src[1], dz = m->env.src[2];
  return sqrt(dx * dx + dy * dy + dz * dz);
}

/* Weight of the episode's distance term (MODEL §6): w_nav, or with
 * loss.nav_norm start or progress w_nav R / r0 (r0 the start distance, R the
 * mean start radius), so progress counts relative to where the fly started. */
static double nav_weight_r0(const DmnModel *m, double r0) {
  if (m->cfg.loss_nav_norm == DMN_NAV_NORM_NONE) return m->cfg.loss_w_nav;
  return m->cfg.loss_w_nav * model_start_radius_mean(&m->cfg) / (r0 > 1.0 ? r0 : 1.0); /* (a start within 1 mm: as at 1 mm) */
}
static double nav_weight(const DmnModel *m, const double p0[2]) { return nav_weight_r0(m, start_distance(m, p0)); }

/* The distance term's value at distance `dist` and its slope (MODEL §6):
 * the distance itself, or with nav_norm: progress, beyond the start distance
 * r0 only `beyond_start` of the excess: r0 + s (dist - r0). */
static double nav_term(const DmnModel *m, double r0, double dist, double *slope) {
  if (m->cfg.loss_nav_norm != DMN_NAV_NORM_PROGRESS || dist <= r0) {
    *slope = 1.0;
    return dist;
  }
  *slope = m->cfg.loss_beyond_start;
  return r0 + *slope * (dist - r0);
}

/* |p - g| (the source may sit above the floor) and its gradient in (x, y). */
static void nav_distance(const DmnModel *m, const double p[2], double *dist, double grad[2]) {
  double dx = p[0] - m->env.src[0], dy = p[1] - m->env.src[1], dz = -m->env.src[2];
  *dist = sqrt(dx * dx + dy * dy + dz * dz);
  grad[0] = *dist > 0 ? dx / *dist : 0.0;
  grad[1] = *dist > 0 ? dy / *dist : 0.0;
}

void loss_path_begin(const DmnModel *m, const double p0[2], LossPath *a) {
  memset(a, 0, sizeof *a);
  a->r0 = start_distance(m, p0);
  a->t_end = m->T - loss_end_steps(m);
}

void loss_path_step(const DmnModel *m, LossPath *a, int t, const double p[2], const double p_prev[2], const double d[2]) {
  double dist, gdummy[2], slope;
  nav_distance(m, p, &dist, gdummy);
  a->dist_sum += dist;
  a->nav_sum += nav_term(m, a->r0, dist, &slope);
  if (t >= a->t_end) a->end_sum += dist;
  a->drive_sq_sum += d[0] * d[0] + d[1] * d[1];
  a->path += hypot(p[0] - p_prev[0], p[1] - p_prev[1]);
}

void loss_path_finish(const DmnModel *m, const LossPath *a, const double p_final[2], DmnLoss *L, DmnMetrics *M) {
  const int T = m->T;
  L->nav = nav_weight_r0(m, a->r0) * a->nav_sum / T;
  L->energy = m->cfg.loss_w_energy * a->drive_sq_sum / T;
  L->end = m->cfg.loss_w_end * a->end_sum / (T - a->t_end);
  double gdummy[2];
  nav_distance(m, p_final, &M->final_distance, gdummy);
  M->mean_distance = a->dist_sum / T;
  M->path_length = a->path;
}

void loss_path_pose_backward(const DmnModel *m, const double p0[2], int t, int t_end, const double p[2], double d_p[2]) {
  const int T = m->T;
  const double w_nav = nav_weight(m, p0) / T, w_end = m->cfg.loss_w_end / (T - t_end);
  /* w_nav mean_t f(|p_t - g|)  (f = nav_term: the distance, or capped in slope beyond the start) */
  double dist, gd[2], slope;
  nav_distance(m, p, &dist, gd);
  nav_term(m, start_distance(m, p0), dist, &slope);
  d_p[0] += w_nav * slope * gd[0];
  d_p[1] += w_nav * slope * gd[1];
  if (t >= t_end) { /* w_end mean over the closing steps of |p_t - g| */
    d_p[0] += w_end * gd[0];
    d_p[1] += w_end * gd[1];
  }
}

void loss_path_drive_backward(const DmnModel *m, const double d[2], double d_d[2]) {
  const double w_energy = m->cfg.loss_w_energy / m->T; /* w_energy mean_t |d_t|^2 */
  d_d[0] += 2.0 * w_energy * d[0];
  d_d[1] += 2.0 * w_energy * d[1];
}
