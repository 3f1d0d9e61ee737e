/* bench_nmf — the NeuroMechFly body's cost and fidelity per solver setting:
 * physics steps per second on one core, ns per physics step, the MuJoCo
 * data's memory, and the walking it produces (drive (1, 1): speed; (1, 0.2):
 * yaw rate) so a faster setting can be judged by what it changes.
 *   bench_nmf BODY_DIR [SCENE]      (tests/bench/nmf.sh runs it) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nmf.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* 2 s with drive d: speed along the heading and yaw rate over the last 1.5 s */
static int walk(NmfBody *b, const double d[2], double *v, double *w, double *cpu) {
  char err[1024];
  if (nmf_reset(b, 0, 0, 0, err, sizeof err)) return 1;
  double p[2], psi, pp[2], pps, along = 0, psi0 = 0;
  nmf_pose(b, pp, &pps);
  double t0 = now();
  for (int t = 0; t < 2000; t++) {
    if (nmf_step(b, d, err, sizeof err)) return 1;
    nmf_pose(b, p, &psi);
    if (t == 500) psi0 = psi;
    if (t > 500) along += (p[0] - pp[0]) * cos(pps) + (p[1] - pp[1]) * sin(pps);
    pp[0] = p[0], pp[1] = p[1], pps = psi;
  }
  *cpu = now() - t0;
  *v = along / 1.499, *w = (pps - psi0) / 1.499;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_nmf BODY_DIR [SCENE]\n");
    return 2;
  }
  printf("%-22s %-9s %12s %12s %9s %11s %11s %8s\n", "scene", "no-slip", "steps/s", "ns/step", "x real", "v(1,1)", "yaw(1,.2)", "data_MB");
  printf("%-22s %-9s %12s %12s %9s %11s %11s %8s\n", "", "iters", "(1 core)", "", "time", "mm/s", "rad/s", "");
  const int noslip[] = {-1, 10, 0};
  for (int k = 0; k < 3; k++) {
    NmfOptions o;
    memset(&o, 0, sizeof o);
    snprintf(o.dir, sizeof o.dir, "%s", argv[1]);
    snprintf(o.scene, sizeof o.scene, "%s", argc > 2 ? argv[2] : "nmf_scene_floor.xml");
    o.brain_dt_ms = 1.0, o.cpg_freq = 12.0, o.noslip_iterations = noslip[k];
    char err[2048];
    NmfBody *b = nmf_open(&o, err, sizeof err);
    if (!b) {
      fprintf(stderr, "bench_nmf: %s\n", err);
      return 1;
    }
    const double fwd[2] = {1, 1}, turn[2] = {1, 0.2};
    double v, w, v2, w2, c1, c2;
    if (walk(b, fwd, &v, &w, &c1) || walk(b, turn, &v2, &w2, &c2)) return 1;
    const double steps = 2 * 2000.0 * nmf_substeps(b), cpu = c1 + c2;
    printf("%-22s %-9d %12.0f %12.0f %9.2f %11.2f %11.3f %8.0f\n", o.scene, noslip[k] < 0 ? 100 : noslip[k], steps / cpu, 1e9 * cpu / steps,
           cpu / 4.0, v, w2, nmf_memory_bytes(b) / 1e6);
    fflush(stdout);
    nmf_close(b);
  }
  return 0;
}
