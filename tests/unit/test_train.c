/* Training options that do not touch the gradient: the learning-rate
 * schedule (train.lr_schedule) and mirror-paired start poses
 * (train.mirror_pairs).  MPI-free. */
#include <math.h>
#include <string.h>

#include "../harness.h"
#include "config.h"
#include "optim.h"
#include "train.h"
#include "util.h"

/* Bearing from the pose to the source, in (-pi, pi]. */
static double bearing(const DmnModel *m, const double p0[2], double psi) {
  double b = atan2(m->env.src[1] - p0[1], m->env.src[0] - p0[0]) - psi;
  return atan2(sin(b), cos(b));
}

int main(void) {
  DmnConfig cfg;
  config_defaults(&cfg);

  /* schedule: constant is 1 everywhere; cosine runs 1 -> lr_final, halfway
   * at the middle, monotone, and stays at lr_final past the planned end */
  const long U = 201;
  cfg.train_lr_schedule = DMN_LR_CONSTANT; /* (model v2's default is cosine) */
  int ones = 1;
  for (long u = 0; u < U + 5; u++) ones &= optim_lr_factor(&cfg, u, U) == 1.0;
  CHECK(ones, "constant schedule: factor 1 at every update");
  cfg.train_lr_schedule = DMN_LR_COSINE;
  cfg.train_lr_final = 0.1;
  CHECK(optim_lr_factor(&cfg, 0, U) == 1.0, "cosine starts at the full rate");
  CHECK_CLOSE(optim_lr_factor(&cfg, U - 1, U), 0.1, 1e-15, "cosine ends at lr_final");
  CHECK_CLOSE(optim_lr_factor(&cfg, (U - 1) / 2, U), 0.55, 1e-15, "cosine is halfway at the middle update");
  int mono = 1;
  for (long u = 1; u < U; u++) mono &= optim_lr_factor(&cfg, u, U) <= optim_lr_factor(&cfg, u - 1, U);
  CHECK(mono, "cosine never rises");
  CHECK(optim_lr_factor(&cfg, U + 10, U) == optim_lr_factor(&cfg, U - 1, U), "beyond the planned updates it stays at lr_final");
  CHECK(optim_lr_factor(&cfg, 0, 1) == 1.0, "a one-update run uses the full rate");
  cfg.train_lr_schedule = DMN_LR_CONSTANT;

  /* start poses: the model only needs its config and the odor source here */
  DmnModel m;
  memset(&m, 0, sizeof m);
  m.cfg = cfg;
  m.env.src[0] = cfg.odor_source_x;
  m.env.src[1] = cfg.odor_source_y;
  double p0[2], psi0, q0[2], phi0;
  train_start_pose(&m, 0, 6, p0, &psi0);
  episode_start_pose(&m, DMN_STREAM_TRAIN_START, 0, 6, q0, &phi0);
  CHECK(p0[0] == q0[0] && p0[1] == q0[1] && psi0 == phi0, "mirror_pairs off: the training stream's pose");
  train_start_pose(&m, 0, 7, p0, &psi0);
  episode_start_pose(&m, DMN_STREAM_TRAIN_START, 0, 7, q0, &phi0);
  CHECK(p0[0] == q0[0] && psi0 == phi0, "mirror_pairs off: odd episodes have their own pose");

  m.cfg.train_mirror_pairs = 1;
  int paired = 1, unchanged_even = 1, in_range = 1, distinct = 0;
  for (long e = 0; e < 64; e += 2) {
    double a[2], pa, b[2], pb, r[2], pr;
    train_start_pose(&m, 3, e, a, &pa);
    train_start_pose(&m, 3, e + 1, b, &pb);
    episode_start_pose(&m, DMN_STREAM_TRAIN_START, 3, e, r, &pr);
    unchanged_even &= a[0] == r[0] && a[1] == r[1] && pa == pr;
    paired &= a[0] == b[0] && a[1] == b[1] && fabs(bearing(&m, a, pa) + bearing(&m, b, pb)) < 1e-12;
    in_range &= pb >= 0 && pb < 2 * M_PI;
    distinct += fabs(bearing(&m, a, pa)) > 1e-3;
  }
  CHECK(unchanged_even, "mirror_pairs: even episodes keep the stream's pose");
  CHECK(paired, "mirror_pairs: episode 2k+1 starts at 2k's position with the bearing to the source negated");
  CHECK(in_range, "mirrored headings lie in [0, 2 pi)");
  CHECK(distinct > 28, "the pairs are not degenerate (%d of 32 with a non-zero bearing)", distinct);

  /* train.curriculum over a range of start radii: the range widens from its
   * middle; mirrored partners still share their position */
  m.cfg.arena_start_radius = 10;
  m.cfg.arena_start_radius_max = 50;
  m.cfg.train_curriculum = 0.5;
  m.cfg.train_episodes = 200;
  int narrow = 1, wide = 0, pair_same = 1;
  for (long e = 0; e < 200; e += 2) {
    double a[2], pa, b[2], pb;
    train_start_pose(&m, 0, e, a, &pa);
    train_start_pose(&m, 0, e + 1, b, &pb);
    const double ra = hypot(a[0] - m.env.src[0], a[1] - m.env.src[1]);
    pair_same &= a[0] == b[0] && a[1] == b[1];
    if (e < 100) narrow &= fabs(ra - 30) <= 20.0 * (double)e / 100 + 1e-9;
    else wide += ra < 15 || ra > 45;
  }
  CHECK(narrow, "curriculum: episode e < half draws its radius within 30 +- 20 e / 100 mm");
  CHECK(wide > 5, "curriculum: afterwards the whole range [10, 50] is drawn (%d of 50 outside [15, 45])", wide);
  CHECK(pair_same, "curriculum with mirror pairs: episode 2k+1 starts where 2k does");
  return th_summary("test_train");
}
