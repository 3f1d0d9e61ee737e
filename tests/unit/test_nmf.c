/* test_nmf — the NeuroMechFly body in MuJoCo (src/nmf.c), no brain and no
 * MPI: the scene loads, the preprogrammed step is a periodic spline through
 * the recorded samples, the drives walk it forward, turn it both ways and
 * back it up, it stays upright; a hand-built Braitenberg controller (no
 * learning) sensing at the model's antennae approaches an odor source; and
 * flygym's own odor-taxis example (source 24 mm away, two aversive sources,
 * stop within 2 mm in 5 s) is run with its constants.
 *   test_nmf BODY_DIR      (configs/bodies/neuromechfly)
 * Numbers it measures are printed (tests/README.md quotes them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../harness.h"
#include "nmf.h"

static NmfOptions options(const char *dir) {
  NmfOptions o;
  memset(&o, 0, sizeof o);
  snprintf(o.dir, sizeof o.dir, "%s", dir);
  snprintf(o.scene, sizeof o.scene, "nmf_scene_floor.xml");
  o.brain_dt_ms = 1.0;
  o.cpg_freq = 12.0;
  o.noslip_iterations = -1;
  o.sensors = NMF_SENSE_ANTENNAE;
  return o;
}

static double cpu_s(void) { return (double)clock() / CLOCKS_PER_SEC; }

/* Walk with drive d for ms milliseconds; forward speed (along the heading)
 * and yaw rate over the part after `settle` ms. */
static void walk(NmfBody *b, const double d[2], int ms, int settle, double *v, double *w) {
  char err[1024];
  CHECK(!nmf_reset(b, 0, 0, 0, err, sizeof err), "reset: %s", err);
  double p[2], psi, p_prev[2], psi_prev, along = 0, psi0 = 0;
  nmf_pose(b, p_prev, &psi_prev);
  for (int t = 0; t < ms; t++) {
    if (nmf_step(b, d, err, sizeof err)) {
      CHECK(0, "step %d: %s", t, err);
      break;
    }
    nmf_pose(b, p, &psi);
    if (t == settle) psi0 = psi;
    if (t > settle) along += (p[0] - p_prev[0]) * cos(psi_prev) + (p[1] - p_prev[1]) * sin(psi_prev);
    p_prev[0] = p[0], p_prev[1] = p[1], psi_prev = psi;
  }
  const double secs = (ms - 1 - settle) * 1e-3;
  *v = along / secs;
  *w = (psi_prev - psi0) / secs;
}

static double dist2(const double a[2], const double b[2]) { return hypot(a[0] - b[0], a[1] - b[1]); }

/* An exponential odor field (MODEL §3's shape, lambda 15 mm) and a
 * Braitenberg vehicle on it: slow the legs on the side of the stronger
 * antenna, by the relative difference of the two. */
static int braitenberg(NmfBody *b, const double src[2], double x0, double y0, double psi0, int ms, double *final) {
  char err[1024];
  if (nmf_reset(b, x0, y0, psi0, err, sizeof err)) return -1;
  double p[2], psi;
  for (int t = 0; t < ms; t++) {
    double l[2], r[2];
    nmf_sensors(b, l, r);
    double cl = exp(-dist2(l, src) / 15.0), cr = exp(-dist2(r, src) / 15.0);
    double bias = 300.0 * (cl - cr) / (0.5 * (cl + cr)); /* > 0: odor on the left */
    double m = tanh(bias * bias) * 0.8, d[2] = {1, 1};
    d[bias > 0 ? 0 : 1] -= m; /* slow the stronger side's legs: turn toward it */
    if (nmf_step(b, d, err, sizeof err)) return -1;
    nmf_pose(b, p, &psi);
    if (dist2(p, src) < 2.0) {
      *final = dist2(p, src);
      return t + 1;
    }
  }
  *final = dist2(p, src);
  return ms;
}

/* flygym v1.2.1 examples/olfaction/simple_odor_taxis.py with its constants:
 * an attractive source at (24, 0, 1.5) mm, aversive ones at (8, -4, 1.5) and
 * (16, 4, 1.5), intensity = peak / distance^2; palps:antennae weighted 1:9
 * (attractive) and 0:10 (aversive); gains -500 and 80; a decision every
 * 50 ms; spawn at the origin facing +y; stop within 2 mm of the attractive
 * source, at most 5 s.  Returns the time it got there (ms), or -1. */
static int flygym_odor_taxis(NmfBody *b, double *closest) {
  char err[1024];
  const double src[3][3] = {{24, 0, 1.5}, {8, -4, 1.5}, {16, 4, 1.5}};
  if (nmf_reset(b, 0, 0, M_PI / 2, err, sizeof err)) return -2;
  double d[2] = {1, 1};
  *closest = 1e9;
  for (int t = 0; t < 5000; t++) {
    if (t % 50 == 0) {
      double s[4][3], att[4], av[4]; /* sensors: L antenna, R antenna, L palp, R palp */
      nmf_sensor_sites(b, s);
      for (int k = 0; k < 4; k++) {
        double r2[3];
        for (int q = 0; q < 3; q++) {
          double dx = s[k][0] - src[q][0], dy = s[k][1] - src[q][1], dz = s[k][2] - src[q][2];
          r2[q] = dx * dx + dy * dy + dz * dz;
        }
        att[k] = 1.0 / r2[0];
        av[k] = 1.0 / r2[1] + 1.0 / r2[2];
      }
      double aL = (1 * att[2] + 9 * att[0]) / 10, aR = (1 * att[3] + 9 * att[1]) / 10;
      double vL = av[0], vR = av[1];
      double bias = -500 * (aL - aR) / (0.5 * (aL + aR)) + 80 * (vL - vR) / (0.5 * (vL + vR));
      double norm = tanh(bias * bias) * (bias > 0 ? 1 : -1);
      d[0] = d[1] = 1;
      d[norm > 0 ? 1 : 0] -= fabs(norm) * 0.8;
    }
    if (nmf_step(b, d, err, sizeof err)) return -2;
    double p[2], psi;
    nmf_pose(b, p, &psi);
    double r = hypot(p[0] - 24, p[1]);
    if (r < *closest) *closest = r;
    if (r < 2.0) return t + 1;
  }
  return -1;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "configs/bodies/neuromechfly";
  char err[2048];

  /* errors name what is wrong */
  {
    NmfOptions o = options("/nonexistent/nmf");
    NmfBody *b = nmf_open(&o, err, sizeof err);
    CHECK(!b && strstr(err, "/nonexistent/nmf"), "a missing folder is named: %s", err);
    o = options(dir);
    o.brain_dt_ms = 0.25; /* 2.5 physics steps of 0.1 ms */
    b = nmf_open(&o, err, sizeof err);
    CHECK(!b && strstr(err, "sim.dt"), "a brain step that is no whole number of physics steps is refused: %s", err);
    nmf_close(b);
  }

  NmfOptions o = options(dir);
  double c0 = cpu_s();
  NmfBody *b = nmf_open(&o, err, sizeof err);
  CHECK(b != NULL, "open %s: %s", dir, err);
  if (!b) return th_summary("test_nmf");
  printf("  scene loaded in %.2f s CPU; %d physics steps (%.2g ms) per brain step; MuJoCo data %.0f MB\n", cpu_s() - c0, nmf_substeps(b),
         1000 * nmf_physics_dt(b), nmf_memory_bytes(b) / 1e6);
  CHECK(nmf_substeps(b) == 10, "1 ms brain step = 10 physics steps of 0.1 ms: %d", nmf_substeps(b));

  /* the preprogrammed step: periodic, the recorded samples at the knots, the
   * neutral pose at magnitude 0, adhesion off in swing only */
  {
    FILE *fp;
    char path[1200], line[8192];
    snprintf(path, sizeof path, "%s/steps/single_steps_untethered.csv", dir);
    fp = fopen(path, "r");
    CHECK(fp != NULL, "open %s", path);
    double row0[NMF_NJOINT] = {0}, row5[NMF_NJOINT] = {0};
    for (int r = -1; fp && r <= 5 && fgets(line, sizeof line, fp); r++) {
      if (r != 0 && r != 5) continue;
      char *s = line;
      strtod(s, &s); /* t_s */
      for (int j = 0; j < NMF_NJOINT; j++) (r ? row5 : row0)[j] = strtod(s + 1, &s);
    }
    if (fp) fclose(fp);
    double worst_knot = 0, worst_period = 0, worst_neutral = 0;
    const double h = 2 * M_PI / 44; /* 45 samples, the last = the first */
    for (int leg = 0; leg < NMF_LEGS; leg++) {
      double q0[NMF_DOFS], q5[NMF_DOFS], qa[NMF_DOFS], qb[NMF_DOFS], qn[NMF_DOFS], qpi[NMF_DOFS];
      nmf_step_targets(b, leg, 0.0, 1.0, q0);
      nmf_step_targets(b, leg, 5 * h, 1.0, q5);
      nmf_step_targets(b, leg, 1.234, 1.0, qa);
      nmf_step_targets(b, leg, 1.234 + 6 * M_PI, 1.0, qb);
      nmf_step_targets(b, leg, 2.5, 0.0, qn);
      nmf_step_targets(b, leg, M_PI, 1.0, qpi);
      for (int k = 0; k < NMF_DOFS; k++) {
        worst_knot = fmax(worst_knot, fmax(fabs(q0[k] - row0[leg * NMF_DOFS + k]), fabs(q5[k] - row5[leg * NMF_DOFS + k])));
        worst_period = fmax(worst_period, fabs(qa[k] - qb[k]));
        worst_neutral = fmax(worst_neutral, fabs(qn[k] - qpi[k]));
      }
      CHECK(!nmf_adhesion_on(b, leg, 0.1) && nmf_adhesion_on(b, leg, 4.0) && nmf_adhesion_on(b, leg, 4.0 + 2 * M_PI),
            "leg %d: adhesion off early in the cycle (swing), on late (stance)", leg);
    }
    CHECK(worst_knot < 1e-9, "the spline passes through the recorded samples: %.2e rad", worst_knot);
    CHECK(worst_period < 1e-9, "the step is 2 pi periodic in phase: %.2e rad", worst_period);
    CHECK(worst_neutral < 1e-12, "magnitude 0 holds the neutral pose (phase pi): %.2e rad", worst_neutral);
  }

  /* walking: forward at a physiological speed for 3 s, upright */
  double v, w;
  const double fwd[2] = {1, 1}, left[2] = {0.4, 1.2}, right[2] = {1.2, 0.4}, back[2] = {-1, -1};
  c0 = cpu_s();
  walk(b, fwd, 3000, 1000, &v, &w);
  const double secs = cpu_s() - c0;
  const NmfHealth *hl = nmf_health(b);
  printf("  drive (1, 1): %.2f mm/s forward, yaw %.3f rad/s; 3 s of physics in %.1f s CPU (%.0f physics steps/s); lowest up-axis z %.3f, "
         "lowest tarsus %.3f mm, at most %d contacts\n",
         v, w, secs, 30000 / secs, hl->min_up, hl->min_foot_z, hl->max_contacts);
  CHECK(v > 8 && v < 30, "(1, 1) walks forward at a walking fly's speed (8-30 mm/s): %.2f mm/s", v);
  CHECK(fabs(w) < 0.3, "(1, 1) walks straight: yaw %.3f rad/s", w);
  CHECK(!hl->flipped && hl->min_up > 0.8, "upright for 3 s: up-axis z >= %.3f", hl->min_up);
  CHECK(!hl->nonfinite && !hl->sunk && !hl->contacts_full, "healthy physics: %s", nmf_health_problem(b));
  CHECK(nmf_height(b) > 0.3 && nmf_height(b) < 2.0, "thorax above the floor: %.3f mm", nmf_height(b));
  walk(b, left, 1500, 500, &v, &w);
  printf("  drive (0.4, 1.2): %.2f mm/s, yaw %+.3f rad/s\n", v, w);
  CHECK(w > 1.0, "(0.4, 1.2) turns left (counter-clockwise): %.3f rad/s", w);
  walk(b, right, 1500, 500, &v, &w);
  printf("  drive (1.2, 0.4): %.2f mm/s, yaw %+.3f rad/s\n", v, w);
  CHECK(w < -1.0, "(1.2, 0.4) turns right: %.3f rad/s", w);
  walk(b, back, 1500, 500, &v, &w);
  printf("  drive (-1, -1): %.2f mm/s (negative: backward), yaw %+.3f rad/s\n", v, w);
  CHECK(v < -2.0, "(-1, -1) walks backward: %.2f mm/s along the heading", v);
  CHECK(!nmf_health(b)->flipped, "upright walking backward");

  /* sensing and drive wiring: a Braitenberg vehicle (no learning) at the
   * antennae approaches the source from three headings */
  /* (without the no-slip solver: 3.5x faster, walking within 1 %, tests/bench/README.md) */
  NmfOptions o0 = options(dir);
  o0.noslip_iterations = 0;
  NmfBody *b0 = nmf_open(&o0, err, sizeof err);
  CHECK(b0 != NULL, "open without no-slip: %s", err);
  const double src[2] = {20, 0};
  const double heading[3] = {M_PI / 2, -M_PI / 4, 0.6 * M_PI};
  for (int k = 0; k < 3 && b0; k++) {
    double fin = NAN;
    int ms = braitenberg(b0, src, 0, 0, heading[k], 3000, &fin);
    printf("  Braitenberg from 20 mm, heading %+.2f rad: %s after %.2f s (distance %.2f mm)\n", heading[k], fin < 2 ? "reached" : "stopped",
           ms / 1000.0, fin);
    CHECK(ms > 0 && fin < 5.0, "the Braitenberg vehicle gets within 5 mm of the source from heading %.2f (final %.2f mm)", heading[k], fin);
  }

  nmf_close(b0);

  /* flygym's odor-taxis protocol (the scene's solver settings, as flygym runs it) */
  {
    double closest = NAN;
    int ms = flygym_odor_taxis(b, &closest);
    printf("  flygym simple_odor_taxis protocol: %s (closest %.2f mm to the attractive source)\n",
           ms > 0 ? "reached within 2 mm" : "did not reach within 2 mm in 5 s", closest);
    if (ms > 0) printf("    at t = %.2f s\n", ms / 1000.0);
    CHECK(ms > 0 && ms <= 5000, "flygym's odor-taxis task: within 2 mm of the source in 5 s (closest %.2f mm)", closest);
  }
  nmf_close(b);
  return th_summary("test_nmf");
}
