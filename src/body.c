#include "body.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sharpness K of the stance sigmoid and the lift softplus (MODEL §5). */
#define BODY_K 8.0

void body_model_init(BodyModel *b, const DmnConfig *c) {
  memset(b, 0, sizeof(*b));
  b->dt = c->sim_dt;
  b->omega = 2.0 * M_PI * c->body_cpg_freq * c->sim_dt * 1e-3;
  b->A = c->body_amplitude;
  b->L = c->body_lift;
  b->eta = c->body_traction;
  b->turn_gain = c->body_turn_gain;
  b->spot_threshold = c->body_spot_turn_threshold;
  b->spot_width = c->body_spot_turn_width;
  b->eps = 1e-6;
  b->h = 0.9;
  b->L1 = 0.35;
  b->L2 = 0.70;
  b->L3 = 0.60;
  b->q2_0 = -M_PI / 6.0;
  b->q3_0 = asin((-b->h - b->L2 * sin(b->q2_0)) / b->L3) - b->q2_0; /* foot on the floor in stance */
  const double ax[DMN_LEGS] = {0.35, 0.0, -0.35, 0.35, 0.0, -0.35};
  const double ay[DMN_LEGS] = {0.25, 0.30, 0.25, -0.25, -0.30, -0.25};
  const double q1[DMN_LEGS] = {M_PI / 6, M_PI / 2, 5 * M_PI / 6, -M_PI / 6, -M_PI / 2, -5 * M_PI / 6};
  /* tripod {LF, RM, LH} offset 0, {RF, LM, RH} offset pi */
  const double off[DMN_LEGS] = {0.0, M_PI, 0.0, M_PI, 0.0, M_PI};
  for (int i = 0; i < DMN_LEGS; i++) {
    b->ax[i] = ax[i];
    b->ay[i] = ay[i];
    b->q1_0[i] = q1[i];
    b->offset[i] = off[i];
    b->drive_of_leg[i] = i < 3 ? 0 : 1;
    b->side_sign[i] = i < 3 ? 1.0 : -1.0; /* s_left = +1, s_right = -1 (body-reference B1) */
  }
  /* legs whose phase offsets are equal (bit for bit) have the same phase terms */
  for (int i = 0; i < DMN_LEGS; i++) {
    int k = 0;
    while (k < i && b->offset[k] != b->offset[i]) k++;
    b->phase_class[i] = k < i ? b->phase_class[k] : b->n_class++;
  }
  b->arena[0] = c->arena_size_x;
  b->arena[1] = c->arena_size_y;
}

double body_phase(const BodyModel *b, int t, int leg) { return b->omega * t + b->offset[leg]; }

/* Femur angle q2 = q2_0 + L sp(sin phi) from s = sin phi (the lift). */
static double leg_lift(const BodyModel *b, double s) { return b->q2_0 + b->L * (log1p(exp(BODY_K * s)) / BODY_K); }

/* Reach rho of a leg from its phase (femur lift): independent of the drive. */
static double leg_reach(const BodyModel *b, double s) {
  const double q2 = leg_lift(b, s);
  return b->L1 + b->L2 * cos(q2) + b->L3 * cos(q2 + b->q3_0);
}

/* Stance weight sigmoid(-8 sin phi). */
static double stance_of(double s) { return 1.0 / (1.0 + exp(BODY_K * s)); }

enum { TAB_SIN, TAB_COS, TAB_REACH, TAB_STANCE, TAB_W };

/* The phase terms of leg i at step t: from the table, or computed (the same expressions). */
static void leg_terms(const BodyModel *b, int t, int i, double out[TAB_W]) {
  if (b->tab && t >= -1 && t + 1 < b->n_tab) {
    memcpy(out, b->tab + ((size_t)(t + 1) * (size_t)b->n_class + (size_t)b->phase_class[i]) * TAB_W, sizeof(double) * TAB_W);
    return;
  }
  double phi = body_phase(b, t, i);
  out[TAB_SIN] = sin(phi);
  out[TAB_COS] = cos(phi);
  out[TAB_REACH] = leg_reach(b, out[TAB_SIN]);
  out[TAB_STANCE] = stance_of(out[TAB_SIN]);
}

void body_model_tabulate(BodyModel *b, int T) {
  body_model_free(b);
  size_t n = (size_t)(T + 1) * (size_t)b->n_class * TAB_W;
  double *tab = malloc(sizeof(double) * (n ? n : 1));
  if (!tab) return; /* computed on the fly instead */
  for (int t = -1; t < T; t++)
    for (int i = 0; i < DMN_LEGS; i++) leg_terms(b, t, i, tab + ((size_t)(t + 1) * (size_t)b->n_class + (size_t)b->phase_class[i]) * TAB_W);
  b->tab = tab;
  b->n_tab = T + 1;
}

void body_model_free(BodyModel *b) {
  free(b->tab);
  b->tab = NULL;
  b->n_tab = 0;
}

/* The drive each side's legs see: the mean m of the two drives plus
 * turn_gain times their half-difference D (body.turn_gain; gain 1 and no
 * threshold: d itself, the same bits as before the gain existed).
 *
 * NeuroMechFly does not turn on the spot with small opposite drives: its
 * legs push against each other ((0.2, -0.2) turns at 0.006 rad/s, (1, -1)
 * at 3.3; src/MODEL.md §5).  The spot-turn threshold tau makes the reduced
 * body do the same, smoothly so the gradient passes:
 *   D = delta - tau tanh(delta / tau) sech^2(m / w),  delta = (dL - dR)/2,
 * a soft dead zone |delta| < tau that fades once the fly walks forward
 * (mean drive m beyond the width w), where NeuroMechFly turns freely. */
typedef struct LegDrive {
  double e[2];        /* the legs' drive, left and right */
  double dD_dm, dD_dh; /* partials of D by the mean and the half-difference */
} LegDrive;

static void leg_drive_full(const BodyModel *b, const double d[2], LegDrive *o) {
  const double mean = 0.5 * (d[0] + d[1]), half = 0.5 * (d[0] - d[1]);
  double D = half;
  o->dD_dm = 0.0, o->dD_dh = 1.0;
  if (b->spot_threshold > 0) {
    const double tau = b->spot_threshold, w = b->spot_width;
    const double th = tanh(half / tau), tm = tanh(mean / w), gate = 1.0 - tm * tm; /* sech^2(m / w) */
    D = half - tau * th * gate;
    o->dD_dh = 1.0 - (1.0 - th * th) * gate;
    o->dD_dm = tau * th * 2.0 * gate * tm / w;
  }
  o->e[0] = mean + b->turn_gain * D;
  o->e[1] = mean - b->turn_gain * D;
}

static int leg_drive_is_identity(const BodyModel *b) { return b->turn_gain == 1.0 && b->spot_threshold <= 0; }

static void leg_drive(const BodyModel *b, const double d[2], double e[2]) {
  if (leg_drive_is_identity(b)) {
    e[0] = d[0], e[1] = d[1];
    return;
  }
  LegDrive o;
  leg_drive_full(b, d, &o);
  e[0] = o.e[0], e[1] = o.e[1];
}

void body_feet(const BodyModel *b, int t, const double d_in[2], double r[2 * DMN_LEGS]) {
  double d[2];
  leg_drive(b, d_in, d);
  for (int i = 0; i < DMN_LEGS; i++) {
    double lt[TAB_W];
    leg_terms(b, t, i, lt);
    double co = lt[TAB_COS], rho = lt[TAB_REACH];
    /* q1 = q1_0 + s_k A d_k cos(phi) */
    double q1 = b->q1_0[i] + b->side_sign[i] * b->A * d[b->drive_of_leg[i]] * co;
    r[2 * i] = b->ax[i] + rho * cos(q1);
    r[2 * i + 1] = b->ay[i] + rho * sin(q1);
  }
}

void body_feet_backward(const BodyModel *b, int t, const double d_in[2], const double d_r[2 * DMN_LEGS], double d_d_out[2]) {
  const int identity = leg_drive_is_identity(b);
  LegDrive o = {{d_in[0], d_in[1]}, 0.0, 1.0};
  if (!identity) leg_drive_full(b, d_in, &o);
  const double *d = o.e;
  /* adjoint of the legs' drive e; without gain or threshold it is d's own */
  double d_e[2] = {0.0, 0.0}, *d_d = identity ? d_d_out : d_e;
  for (int i = 0; i < DMN_LEGS; i++) {
    double lt[TAB_W];
    leg_terms(b, t, i, lt);
    double co = lt[TAB_COS], rho = lt[TAB_REACH];
    double q1 = b->q1_0[i] + b->side_sign[i] * b->A * d[b->drive_of_leg[i]] * co;
    /* fwd: r = a + rho (cos q1, sin q1) */
    double d_q1 = rho * (-sin(q1) * d_r[2 * i] + cos(q1) * d_r[2 * i + 1]);
    d_d[b->drive_of_leg[i]] += d_q1 * b->side_sign[i] * b->A * co;
  }
  if (d_d == d_e) { /* e = m +- g D(m, half): back to m and half, then to d = (m + half, m - half) */
    const double g_diff = b->turn_gain * (d_e[0] - d_e[1]);
    const double d_m = d_e[0] + d_e[1] + g_diff * o.dD_dm, d_h = g_diff * o.dD_dh;
    d_d_out[0] += 0.5 * (d_m + d_h);
    d_d_out[1] += 0.5 * (d_m - d_h);
  }
}

void body_joints(const BodyModel *b, int t, const double d_in[2], double q[3 * DMN_LEGS], double c[DMN_LEGS]) {
  double d[2];
  leg_drive(b, d_in, d);
  for (int i = 0; i < DMN_LEGS; i++) {
    double lt[TAB_W];
    leg_terms(b, t, i, lt);
    q[3 * i] = b->q1_0[i] + b->side_sign[i] * b->A * d[b->drive_of_leg[i]] * lt[TAB_COS];
    q[3 * i + 1] = leg_lift(b, lt[TAB_SIN]);
    q[3 * i + 2] = b->q3_0;
    c[i] = lt[TAB_STANCE];
  }
}

static double stance_weight(const BodyModel *b, int t, int i) {
  double lt[TAB_W];
  leg_terms(b, t, i, lt);
  return lt[TAB_STANCE];
}

void body_solve(double S0, double Sx, double Sy, double Srr, double eps, const double rhs[3], double x[3]) {
  /* N = [[a, 0, -Sy], [0, a, Sx], [-Sy, Sx, g]],  a = S0 + eps, g = Srr + eps */
  double a = S0 + eps, g = Srr + eps;
  double schur = g - (Sx * Sx + Sy * Sy) / a; /* weighted spread of the feet, >= 7 mm^2 */
  double w = (rhs[2] + (Sy * rhs[0] - Sx * rhs[1]) / a) / schur;
  x[0] = (rhs[0] + Sy * w) / a;
  x[1] = (rhs[1] - Sx * w) / a;
  x[2] = w;
}

/* Normal-equation sums of step t for feet r and their velocities u. */
typedef struct {
  double S0, Sx, Sy, Srr, rhs[3];
} BodySums;

static BodySums body_sums(const BodyModel *b, int t, const double *r, const double *u) {
  BodySums S = {0};
  for (int i = 0; i < DMN_LEGS; i++) {
    double c = stance_weight(b, t, i), rx = r[2 * i], ry = r[2 * i + 1], ux = u[2 * i], uy = u[2 * i + 1];
    S.S0 += c;
    S.Sx += c * rx;
    S.Sy += c * ry;
    S.Srr += c * (rx * rx + ry * ry);
    S.rhs[0] -= c * ux;
    S.rhs[1] -= c * uy;
    S.rhs[2] -= c * (rx * uy - ry * ux);
  }
  return S;
}

void body_step(const BodyModel *b, int t, const double d[2], const double r_prev[2 * DMN_LEGS], const double p_prev[2],
               double psi_prev, BodyStep *st) {
  double u[2 * DMN_LEGS];
  body_feet(b, t, d, st->r);
  for (int k = 0; k < 2 * DMN_LEGS; k++) u[k] = (st->r[k] - r_prev[k]) / b->dt;
  BodySums S = body_sums(b, t, st->r, u);
  body_solve(S.S0, S.Sx, S.Sy, S.Srr, b->eps, S.rhs, st->x);
  double vx = b->eta * st->x[0], vy = b->eta * st->x[1], w = b->eta * st->x[2];
  /* heading first, then position with the new heading (MODEL §5) */
  st->psi = psi_prev + w * b->dt;
  double c = cos(st->psi), s = sin(st->psi);
  double p[2] = {p_prev[0] + (c * vx - s * vy) * b->dt, p_prev[1] + (s * vx + c * vy) * b->dt};
  for (int k = 0; k < 2; k++) {
    st->inside[k] = p[k] >= 0.0 && p[k] <= b->arena[k];
    st->p[k] = p[k] < 0.0 ? 0.0 : (p[k] > b->arena[k] ? b->arena[k] : p[k]);
  }
}

void body_step_backward(const BodyModel *b, int t, const double d[2], const double r_prev[2 * DMN_LEGS], const BodyStep *st,
                        const double d_r_in[2 * DMN_LEGS], double d_psi, const double d_p[2], double d_d[2],
                        double d_r_prev[2 * DMN_LEGS], double d_p_prev[2], double *d_psi_prev) {
  const double dt = b->dt, eta = b->eta;
  double vx = eta * st->x[0], vy = eta * st->x[1];
  /* fwd: p = clamp(p_raw); derivative 1 inside, 0 where clamped */
  double d_raw[2] = {st->inside[0] ? d_p[0] : 0.0, st->inside[1] ? d_p[1] : 0.0};
  /* fwd: p_raw = p_prev + R(psi) v dt */
  double c = cos(st->psi), s = sin(st->psi);
  d_p_prev[0] = d_raw[0];
  d_p_prev[1] = d_raw[1];
  double d_vx = (c * d_raw[0] + s * d_raw[1]) * dt;
  double d_vy = (-s * d_raw[0] + c * d_raw[1]) * dt;
  d_psi += (d_raw[0] * (-s * vx - c * vy) + d_raw[1] * (c * vx - s * vy)) * dt;
  /* fwd: psi = psi_prev + w dt */
  *d_psi_prev = d_psi;
  double d_w = d_psi * dt;
  /* fwd: (vx, vy, w) = eta * x,  N x = rhs */
  double xbar[3] = {eta * d_vx, eta * d_vy, eta * d_w};
  double u[2 * DMN_LEGS];
  for (int k = 0; k < 2 * DMN_LEGS; k++) u[k] = (st->r[k] - r_prev[k]) / dt;
  BodySums S = body_sums(b, t, st->r, u);
  /* adjoint of the solve: rhs_bar = N^-1 xbar (N symmetric), N_bar = -rhs_bar x^T */
  double bbar[3];
  body_solve(S.S0, S.Sx, S.Sy, S.Srr, b->eps, xbar, bbar);
  const double *x = st->x;
  double Nb02 = -bbar[0] * x[2], Nb20 = -bbar[2] * x[0];
  double Nb12 = -bbar[1] * x[2], Nb21 = -bbar[2] * x[1];
  double d_Sx = Nb12 + Nb21, d_Sy = -(Nb02 + Nb20), d_Srr = -bbar[2] * x[2];
  /* (d_S0 is not needed: the stance weights depend only on the phase.) */
  double d_r[2 * DMN_LEGS];
  for (int i = 0; i < DMN_LEGS; i++) {
    double cw = stance_weight(b, t, i), rx = st->r[2 * i], ry = st->r[2 * i + 1], ux = u[2 * i], uy = u[2 * i + 1];
    /* fwd: Sx += c rx, Sy += c ry, Srr += c (rx^2 + ry^2),
     *      rhs0 -= c ux, rhs1 -= c uy, rhs2 -= c (rx uy - ry ux) */
    double d_rx = cw * d_Sx + 2.0 * cw * rx * d_Srr - cw * uy * bbar[2];
    double d_ry = cw * d_Sy + 2.0 * cw * ry * d_Srr + cw * ux * bbar[2];
    double d_ux = -cw * bbar[0] + cw * ry * bbar[2];
    double d_uy = -cw * bbar[1] - cw * rx * bbar[2];
    /* fwd: u = (r - r_prev) / dt */
    d_r[2 * i] = d_r_in[2 * i] + d_rx + d_ux / dt;
    d_r[2 * i + 1] = d_r_in[2 * i + 1] + d_ry + d_uy / dt;
    d_r_prev[2 * i] -= d_ux / dt;
    d_r_prev[2 * i + 1] -= d_uy / dt;
  }
  body_feet_backward(b, t, d, d_r, d_d);
}
