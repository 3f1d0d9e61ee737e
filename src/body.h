/* body — the tripod-gait walker of MODEL §5 with no-slip stance, forward and
 * exact adjoint.  Units: mm, ms, rad.  Constants and the closed-form solve
 * follow ../shared/body-reference.md (legs LF LM LH RF RM RH). */
#ifndef DMN_BODY_H
#define DMN_BODY_H

#include <stdint.h>

#include "config.h"

#define DMN_LEGS 6

typedef struct BodyModel {
  double dt;         /* ms */
  double omega;      /* CPG phase advance per step, rad */
  double A, L, eta;  /* coxa yaw amplitude, femur lift, traction */
  double turn_gain;  /* gain on the drives' difference as the legs see it (body.turn_gain) */
  double spot_threshold, spot_width; /* soft dead zone of turning on the spot (body.spot_turn_threshold, _width; 0: none) */
  double eps;        /* regulariser of the 3x3 normal equations, mm^2 */
  double h, L1, L2, L3, q2_0, q3_0;
  double ax[DMN_LEGS], ay[DMN_LEGS], q1_0[DMN_LEGS], offset[DMN_LEGS], side_sign[DMN_LEGS];
  int drive_of_leg[DMN_LEGS]; /* 0 = left drive, 1 = right drive */
  double arena[2];   /* clamp box [0, arena_x] x [0, arena_y] */
  /* What depends on the step and the leg's phase only (sin, cos of the
   * phase, the reach, the stance weight), tabulated for steps -1 .. n_tab-2
   * by body_model_tabulate: the same bits as computing them, without a dozen
   * transcendental calls per step.  NULL: computed on the fly. */
  int phase_class[DMN_LEGS]; /* legs with the same phase offset share a row */
  int n_class, n_tab;
  double *tab;               /* [(t + 1) * n_class + class] x {sin, cos, reach, stance} */
} BodyModel;

/* One step's forward record: what the adjoint needs (everything else is
 * recomputed from the phase). */
typedef struct BodyStep {
  double r[2 * DMN_LEGS]; /* foot (x, y) in the body frame at this step, mm */
  double x[3];            /* solved (vx, vy, w) before traction, mm/ms, rad/ms */
  double psi;             /* heading after the step (unwrapped), rad */
  double p[2];            /* position after the step, mm */
  uint8_t inside[2];      /* 1 where the arena clamp was inactive */
} BodyStep;

void body_model_init(BodyModel *b, const DmnConfig *cfg);
/* Tabulate the phase terms for steps -1 .. T-1 (optional; frees with body_model_free). */
void body_model_tabulate(BodyModel *b, int T);
void body_model_free(BodyModel *b);

/* Phase of leg i at step t (t = -1 gives the phase before the first step). */
double body_phase(const BodyModel *b, int t, int leg);

/* Foot positions (x, y per leg) for drive d at step t: forward kinematics. */
void body_feet(const BodyModel *b, int t, const double d[2], double r[2 * DMN_LEGS]);

/* Joint angles (q1, q2, q3 per leg, 18) and stance weights c (6) at step t. */
void body_joints(const BodyModel *b, int t, const double d[2], double q[3 * DMN_LEGS], double c[DMN_LEGS]);

/* One step: drive d, feet at the previous step r_prev, pose before the step
 * (p_prev, psi_prev) -> st (feet, velocities, pose after the step). */
void body_step(const BodyModel *b, int t, const double d[2], const double r_prev[2 * DMN_LEGS], const double p_prev[2],
               double psi_prev, BodyStep *st);

/* Adjoint of body_step.  In: d_r (adjoint of st->r, carried from step t+1;
 * consumed), d_psi and d_p (adjoints of the pose after the step).  Adds
 * dL/dd to d_d, dL/dr_prev to d_r_prev; writes the adjoints of the pose
 * before the step into d_p_prev, d_psi_prev. */
void body_step_backward(const BodyModel *b, int t, const double d[2], const double r_prev[2 * DMN_LEGS], const BodyStep *st,
                        const double d_r[2 * DMN_LEGS], double d_psi, const double d_p[2], double d_d[2],
                        double d_r_prev[2 * DMN_LEGS], double d_p_prev[2], double *d_psi_prev);

/* Adjoint of body_feet for the drive only: d_d += (dr/dd)^T d_r. */
void body_feet_backward(const BodyModel *b, int t, const double d[2], const double d_r[2 * DMN_LEGS], double d_d[2]);

/* Closed-form solve of the no-slip normal equations (body-reference.md). */
void body_solve(double S0, double Sx, double Sy, double Srr, double eps, const double rhs[3], double x[3]);

#endif
