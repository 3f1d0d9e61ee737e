/* bodyeval — the NeuroMechFly body in the closed loop: the two-body
 * evaluation and the calibration of the reduced body (bodyeval.h). */
#include "bodyeval.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "episode.h"
#include "h5util.h"
#include "par.h"
#include "trainstate.h"
#include "util.h"

#ifndef DMN_NMF_DIR
#define DMN_NMF_DIR "configs/bodies/neuromechfly"
#endif

void bodyeval_options(const DmnConfig *cfg, NmfOptions *o) {
  memset(o, 0, sizeof *o);
  if (cfg->body_nmf_dir[0]) config_relative_path(cfg, cfg->body_nmf_dir, o->dir, sizeof o->dir);
  else snprintf(o->dir, sizeof o->dir, "%s", DMN_NMF_DIR);
  snprintf(o->scene, sizeof o->scene, "%s", cfg->body_nmf_scene);
  o->brain_dt_ms = cfg->sim_dt;
  o->cpg_freq = cfg->body_nmf_cpg_freq;
  o->noslip_iterations = (int)cfg->body_nmf_noslip_iterations;
  o->njmax = (int)cfg->body_nmf_njmax;
  o->nconmax = (int)cfg->body_nmf_nconmax;
  o->sensors = (int)cfg->body_nmf_sensors; /* the ENUM's order antennae|palps|reduced is NMF_SENSE_*'s */
  o->ant_x = cfg->sensing_antenna_x;
  o->ant_y = cfg->sensing_antenna_y;
}

/* ---- the episode's body hook: NeuroMechFly, with an optional trace ---- */

typedef struct HookCtx {
  NmfBody *b;
  int record;       /* keep the trace of this episode */
  double *joints;   /* (T x 42) */
  double *contacts; /* (T x 6) */
  double *height;   /* (T) */
} HookCtx;

static void hook_sensors(void *ctx, double left[2], double right[2]) { nmf_sensors(((HookCtx *)ctx)->b, left, right); }

static int hook_step(void *ctx, int t, const double drive[2], double p[2], double *psi, char *err, size_t n_err) {
  HookCtx *h = ctx;
  if (nmf_step(h->b, drive, err, n_err)) return 1;
  nmf_pose(h->b, p, psi);
  if (h->record) {
    int c[NMF_LEGS];
    nmf_joints(h->b, h->joints + (size_t)t * NMF_NJOINT);
    nmf_contacts(h->b, c);
    for (int l = 0; l < NMF_LEGS; l++) h->contacts[(size_t)t * NMF_LEGS + l] = c[l];
    h->height[t] = nmf_height(h->b);
  }
  return 0;
}

enum { H_NONFINITE, H_FLIPPED, H_SUNK, H_FULL, H_MAXCON, H_ERROR, H_MINUP, H_MINFOOT, H_N };

static double median(const double *x, int n) {
  double *y = malloc(sizeof(double) * (size_t)(n ? n : 1));
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(x[i])) y[k++] = x[i];
  for (int i = 1; i < k; i++) /* insertion sort: n is small (tens) */
    for (int j = i; j > 0 && y[j - 1] > y[j]; j--) {
      double t = y[j];
      y[j] = y[j - 1];
      y[j - 1] = t;
    }
  double r = k ? (k % 2 ? y[k / 2] : 0.5 * (y[k / 2 - 1] + y[k / 2])) : NAN;
  free(y);
  return r;
}

PetscErrorCode bodyeval_compare(const DmnModel *m, const DmnParams *p, MPI_Comm comm, DmnBodyComparison *out, int *failed, int *uerr) {
  PetscFunctionBeginUser;
  const int rank = par_rank(comm), size = par_size(comm);
  memset(out, 0, sizeof *out);
  *failed = *uerr = 0;
  NmfOptions o;
  bodyeval_options(&m->cfg, &o);
  char err[DMN_ERR_MAX] = "";
  NmfBody *b = nmf_open(&o, err, sizeof err);
  if (par_agree_error(b ? 0 : 1, err, comm)) {
    if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    nmf_close(b);
    *uerr = 1;
    PetscFunctionReturn(0);
  }
  const int n = (int)m->cfg.body_nmf_eval_episodes, T = m->T;
  const int n_traj = (int)(m->cfg.train_eval_trajectories < n ? m->cfg.train_eval_trajectories : n);
  out->m = m, out->n = n, out->n_traj = n_traj, out->T = T;
  out->start = calloc((size_t)3 * n, sizeof(double));
  out->health = calloc((size_t)H_N * n, sizeof(double));
  for (int k = 0; k < 2; k++) {
    out->final_distance[k] = calloc((size_t)n, sizeof(double));
    out->mean_distance[k] = calloc((size_t)n, sizeof(double));
    out->path[k] = calloc((size_t)n, sizeof(double));
    out->seconds[k] = calloc((size_t)n, sizeof(double));
  }
  DmnDerived d;
  DmnTape tape;
  DmnWork w;
  PetscCall(derived_create(m, &d));
  PetscCall(derived_update(m, p, &d));
  tape_alloc(m, &tape);
  work_alloc(m, &w);
  HookCtx h = {.b = b};
  h.joints = malloc(sizeof(double) * (size_t)T * NMF_NJOINT);
  h.contacts = malloc(sizeof(double) * (size_t)T * NMF_LEGS);
  h.height = malloc(sizeof(double) * (size_t)T);
  DmnBodyHook hook = {.ctx = &h, .sensors = hook_sensors, .step = hook_step};
  DmnEpisodeRecord *mine[2] = {NULL, NULL};
  for (int k = 0; k < 2 && n_traj > 0; k++) mine[k] = calloc((size_t)n_traj / (size_t)size + 1, sizeof(DmnEpisodeRecord));
  if (!rank) {
    printf("NeuroMechFly evaluation: %d held-out starts in both bodies, %d ranks; scene %s, %d physics steps of %g ms per brain step, "
           "no-slip iterations %d, odor at the %s\n",
           n, size, o.scene, nmf_substeps(b), 1000 * nmf_physics_dt(b), o.noslip_iterations < 0 ? 100 : o.noslip_iterations,
           o.sensors == NMF_SENSE_ANTENNAE ? "antennae" : o.sensors == NMF_SENSE_PALPS ? "antennae and palps (9:1)" : "reduced body's antenna points");
    fflush(stdout);
  }
  int fail = 0;
  double nmf_secs = 0;
  long nmf_eps = 0;
  for (int e = rank; e < n && !fail; e += size) {
    double p0[2], psi0;
    episode_start_pose(m, DMN_STREAM_EVAL_START, 0, e, p0, &psi0);
    out->start[3 * e] = p0[0], out->start[3 * e + 1] = p0[1], out->start[3 * e + 2] = psi0;
    double t0 = MPI_Wtime();
    if (episode_forward(m, p, &d, p0, psi0, &tape, &w, err)) {
      fprintf(stderr, "dmn_mpi: error on rank %d, start %d in the reduced body: %s\n", rank, e, err);
      fail = 1;
      break;
    }
    out->seconds[0][e] = MPI_Wtime() - t0;
    out->final_distance[0][e] = tape.metrics.final_distance;
    out->mean_distance[0][e] = tape.metrics.mean_distance;
    out->path[0][e] = tape.metrics.path_length;
    if (e < n_traj) {
      record_from_tape(m, &tape, e, &mine[0][e / size]);
      mine[0][e / size].seconds = out->seconds[0][e];
    }
    /* the same start in NeuroMechFly */
    h.record = e < n_traj;
    t0 = MPI_Wtime();
    int bad = nmf_reset(b, p0[0], p0[1], psi0, err, sizeof err);
    PetscErrorCode rc = bad ? PETSC_ERR_LIB : episode_forward_body(m, p, &d, p0, psi0, &hook, &tape, &w, err);
    out->seconds[1][e] = MPI_Wtime() - t0;
    nmf_secs += out->seconds[1][e];
    nmf_eps++;
    const NmfHealth *hl = nmf_health(b);
    double *hr = out->health + (size_t)H_N * e;
    hr[H_NONFINITE] = hl->nonfinite, hr[H_FLIPPED] = hl->flipped, hr[H_SUNK] = hl->sunk, hr[H_FULL] = hl->contacts_full;
    hr[H_MAXCON] = hl->max_contacts, hr[H_ERROR] = rc != 0, hr[H_MINUP] = hl->min_up, hr[H_MINFOOT] = hl->min_foot_z;
    const char *problem = rc ? err : nmf_health_problem(b);
    if (rc) { /* a MuJoCo error or a non-finite state: this episode is void, the evaluation goes on */
      out->final_distance[1][e] = out->mean_distance[1][e] = out->path[1][e] = NAN;
    } else {
      out->final_distance[1][e] = tape.metrics.final_distance;
      out->mean_distance[1][e] = tape.metrics.mean_distance;
      out->path[1][e] = tape.metrics.path_length;
      if (e < n_traj) {
        DmnEpisodeRecord *r = &mine[1][e / size];
        record_from_tape(m, &tape, e, r);
        free(r->joints);
        r->n_joint = NMF_NJOINT;
        r->joints = malloc(sizeof(double) * (size_t)T * NMF_NJOINT);
        memcpy(r->joints, h.joints, sizeof(double) * (size_t)T * NMF_NJOINT);
        memcpy(r->contact, h.contacts, sizeof(double) * (size_t)T * NMF_LEGS);
        for (int t = 0; t < T; t++) r->position[3 * t + 2] = h.height[t];
        r->body_kind = DMN_BODY_NEUROMECHFLY;
        r->seconds = out->seconds[1][e];
      }
    }
    printf("  start %3d (rank %d): NeuroMechFly final distance %6.2f mm, reduced %6.2f mm; %5.1f s%s%s\n", e, rank, out->final_distance[1][e],
           out->final_distance[0][e], out->seconds[1][e], problem[0] ? "; " : "", problem);
    fflush(stdout);
  }
  *failed = par_agree_error(fail, err, comm);
  if (!*failed) {
    for (int k = 0; k < 2; k++) {
      DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, out->final_distance[k], n, MPI_DOUBLE, MPI_SUM, comm));
      DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, out->mean_distance[k], n, MPI_DOUBLE, MPI_SUM, comm));
      DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, out->path[k], n, MPI_DOUBLE, MPI_SUM, comm));
      DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, out->seconds[k], n, MPI_DOUBLE, MPI_SUM, comm));
    }
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, out->start, 3 * n, MPI_DOUBLE, MPI_SUM, comm));
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, out->health, H_N * n, MPI_DOUBLE, MPI_SUM, comm));
    double agg[2] = {nmf_secs, (double)nmf_eps};
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, agg, 2, MPI_DOUBLE, MPI_SUM, comm));
    out->physics_steps_per_s = agg[0] > 0 ? agg[1] * T * nmf_substeps(b) / agg[0] : 0;
    out->memory_mb = nmf_memory_bytes(b) / 1e6;
    for (int k = 0; k < 2; k++) {
      int ok = 0;
      for (int e = 0; e < n; e++) ok += out->final_distance[k][e] < DMN_SUCCESS_RADIUS_MM; /* NaN (void) is no success */
      out->success[k] = n ? (double)ok / n : 0;
      out->median_final[k] = median(out->final_distance[k], n);
    }
    for (int e = 0; e < n; e++) {
      const double *hr = out->health + (size_t)H_N * e;
      if (hr[H_NONFINITE] || hr[H_FLIPPED] || hr[H_SUNK] || hr[H_FULL] || hr[H_ERROR]) out->unhealthy++;
    }
    for (int k = 0; k < 2 && n_traj > 0; k++) {
      out->traj[k] = rank == 0 ? calloc((size_t)n_traj, sizeof(DmnEpisodeRecord)) : NULL;
      PetscCall(record_gather(m, mine[k], n_traj, comm, out->traj[k]));
    }
  }
  for (int k = 0; k < 2; k++)
    if (mine[k]) {
      for (int j = 0; j <= n_traj / size; j++) record_free(&mine[k][j]);
      free(mine[k]);
    }
  free(h.joints);
  free(h.contacts);
  free(h.height);
  work_free(&w);
  tape_free(&tape);
  PetscCall(derived_destroy(&d));
  nmf_close(b);
  PetscFunctionReturn(0);
}

void bodyeval_print(const DmnBodyComparison *c) {
  printf("\nThe same %d held-out starts in both bodies (success = final distance < %.0f mm):\n", c->n, DMN_SUCCESS_RADIUS_MM);
  printf("  %-28s %9s %14s %14s %12s\n", "body", "success", "median final", "mean distance", "path length");
  const char *name[2] = {"reduced (MODEL §5)", "NeuroMechFly (MuJoCo)"};
  for (int k = 0; k < 2; k++) {
    double md = 0, pl = 0;
    int cnt = 0;
    for (int e = 0; e < c->n; e++)
      if (isfinite(c->mean_distance[k][e])) md += c->mean_distance[k][e], pl += c->path[k][e], cnt++;
    printf("  %-28s %8.1f%% %11.2f mm %11.2f mm %9.2f mm\n", name[k], 100 * c->success[k], c->median_final[k], cnt ? md / cnt : NAN,
           cnt ? pl / cnt : NAN);
  }
  double s[2] = {0, 0};
  for (int e = 0; e < c->n; e++) s[0] += c->seconds[0][e], s[1] += c->seconds[1][e];
  printf("Physics: %.0f steps/s per core (%.2f x real time), %.1f s per episode (reduced body %.2f s), MuJoCo data %.0f MB per rank; "
         "%d of %d episodes unhealthy\n",
         c->physics_steps_per_s, c->n ? s[1] / c->n / (c->T * 1e-3) : 0, c->n ? s[1] / c->n : 0, c->n ? s[0] / c->n : 0, c->memory_mb,
         c->unhealthy, c->n);
  fflush(stdout);
}

void bodyeval_write_h5(void *h5ctx, int64_t file, void *arg) {
  H5Ctx *c = h5ctx;
  const DmnBodyComparison *b = arg;
  hid_t g = h5u_make_group(c, (hid_t)file, "neuromechfly");
  const hsize_t n = (hsize_t)b->n;
  h5u_write_str_attr(c, g, "doc",
                     "the same held-out starts (evaluation stream, first n) run in the reduced body (MODEL §5) and in NeuroMechFly "
                     "(MuJoCo, src/MODEL.md §5b): per-episode metrics side by side; trajectories of the first episodes in both");
  h5u_write_d2(c, g, "start_pose", b->start, n, 3);
  const char *what[2] = {"reduced", "neuromechfly"};
  for (int k = 0; k < 2; k++) {
    hid_t s = h5u_make_group(c, g, what[k]);
    h5u_write_d1(c, s, "final_distance", b->final_distance[k], n);
    h5u_write_d1(c, s, "mean_distance", b->mean_distance[k], n);
    h5u_write_d1(c, s, "path_length", b->path[k], n);
    h5u_write_d1(c, s, "seconds", b->seconds[k], n);
    h5u_write_num_attr(c, s, "success_rate", b->success[k]);
    h5u_write_num_attr(c, s, "median_final_distance", b->median_final[k]);
    if (b->traj[k] && b->n_traj > 0) {
      hid_t tg = h5u_make_group(c, s, "trajectories");
      h5u_write_episodes(c, tg, b->m, b->traj[k], b->n_traj, 0);
      if (tg >= 0) H5Gclose(tg);
    }
    if (k == 1) {
      h5u_write_d2(c, s, "health", b->health, n, H_N);
      h5u_write_str_attr(c, s, "health_columns", "nonfinite_steps,flipped_steps,sunk_steps,contacts_full_steps,max_contacts,error,min_up_z,min_foot_z_mm");
      h5u_write_num_attr(c, s, "unhealthy_episodes", b->unhealthy);
      h5u_write_num_attr(c, s, "physics_steps_per_s", b->physics_steps_per_s);
      h5u_write_num_attr(c, s, "mujoco_data_mb", b->memory_mb);
    }
    if (s >= 0) H5Gclose(s);
  }
  h5u_write_num_attr(c, g, "success_radius_mm", DMN_SUCCESS_RADIUS_MM);
  if (g >= 0) H5Gclose(g);
}

void bodyeval_free(DmnBodyComparison *c) {
  free(c->start);
  free(c->health);
  for (int k = 0; k < 2; k++) {
    free(c->final_distance[k]);
    free(c->mean_distance[k]);
    free(c->path[k]);
    free(c->seconds[k]);
    if (c->traj[k]) {
      for (int e = 0; e < c->n_traj; e++) record_free(&c->traj[k][e]);
      free(c->traj[k]);
    }
  }
  memset(c, 0, sizeof *c);
}

/* ---- calibration --------------------------------------------------------- */

/* Constant drives the bodies walk with: straight at four strengths, gentle
 * and sharp turns both ways, one side still, turning on the spot at three
 * strengths (one side backward: what a trained circuit does at rest; the
 * weakest probe NeuroMechFly's dead zone), backward. */
static const double calib_drive[][2] = {{1, 1},     {0.75, 0.75}, {0.5, 0.5},   {0.25, 0.25}, {1, 0.6}, {0.6, 1},  {1, 0.2},
                                        {0.2, 1},   {0.8, 0.4},   {0.4, 0.8},   {0.5, 0},     {0, 0.5}, {0.25, -0.25}, {-0.25, 0.25},
                                        {0.5, -0.5}, {-0.5, 0.5}, {1, -1},      {-1, 1},      {-1, -1}, {-0.5, -0.5}};
enum { N_CALIB = sizeof calib_drive / sizeof calib_drive[0] };
#define CALIB_SETTLE_MS 500.0  /* the CPG magnitudes converge (20 /s) and the gait settles */
#define CALIB_WINDOW_MS 1500.0 /* then speed and yaw rate are averaged over this */

/* Forward speed (mm/s, along the heading) and yaw rate (rad/s) from a pose series. */
static void speed_and_yaw(const double *xy, const double *psi, int n, double dt_ms, double *v, double *w) {
  double along = 0;
  for (int t = 1; t < n; t++) along += (xy[2 * t] - xy[2 * t - 2]) * cos(psi[t - 1]) + (xy[2 * t + 1] - xy[2 * t - 1]) * sin(psi[t - 1]);
  const double secs = (n - 1) * dt_ms * 1e-3;
  *v = along / secs;
  *w = (psi[n - 1] - psi[0]) / secs;
}

typedef struct ReducedConst {
  double amplitude, traction, turn_gain, spot_threshold, spot_width, cpg_freq;
} ReducedConst;
enum { N_FIT = 5 }; /* fitted: amplitude, traction, turn gain, spot-turn threshold and width */

/* The reduced body with constants k walking with constant drive d. */
static void reduced_walk(const DmnConfig *cfg, const ReducedConst *k, const double d[2], double *v, double *w) {
  DmnConfig c = *cfg;
  c.body_amplitude = k->amplitude, c.body_traction = k->traction, c.body_turn_gain = k->turn_gain, c.body_cpg_freq = k->cpg_freq;
  c.body_spot_turn_threshold = k->spot_threshold, c.body_spot_turn_width = k->spot_width;
  BodyModel b;
  body_model_init(&b, &c);
  const int settle = (int)(CALIB_SETTLE_MS / c.sim_dt + 0.5), n = (int)(CALIB_WINDOW_MS / c.sim_dt + 0.5) + 1;
  double *xy = malloc(sizeof(double) * 2 * (size_t)n), *psi = malloc(sizeof(double) * (size_t)n);
  double r[2 * DMN_LEGS], p[2] = {0, 0}, ps = 0;
  b.arena[0] = b.arena[1] = 1e6; /* no walls: a free floor, like NeuroMechFly's */
  p[0] = p[1] = 5e5;
  body_feet(&b, -1, d, r);
  BodyStep st;
  for (int t = 0; t < settle + n; t++) {
    body_step(&b, t, d, r, p, ps, &st);
    memcpy(r, st.r, sizeof r);
    p[0] = st.p[0], p[1] = st.p[1], ps = st.psi;
    if (t >= settle) xy[2 * (t - settle)] = p[0], xy[2 * (t - settle) + 1] = p[1], psi[t - settle] = ps;
  }
  speed_and_yaw(xy, psi, n, c.sim_dt, v, w);
  free(xy);
  free(psi);
  body_model_free(&b);
}

static int nmf_walk(NmfBody *b, double dt_ms, const double d[2], double *v, double *w, char *err, size_t n_err) {
  const int settle = (int)(CALIB_SETTLE_MS / dt_ms + 0.5), n = (int)(CALIB_WINDOW_MS / dt_ms + 0.5) + 1;
  double *xy = malloc(sizeof(double) * 2 * (size_t)n), *psi = malloc(sizeof(double) * (size_t)n);
  int rc = nmf_reset(b, 0, 0, 0, err, n_err);
  for (int t = 0; t < settle + n && !rc; t++) {
    rc = nmf_step(b, d, err, n_err);
    double p[2], ps;
    nmf_pose(b, p, &ps);
    if (t >= settle) xy[2 * (t - settle)] = p[0], xy[2 * (t - settle) + 1] = p[1], psi[t - settle] = ps;
  }
  if (!rc) speed_and_yaw(xy, psi, n, dt_ms, v, w);
  free(xy);
  free(psi);
  return rc;
}

typedef struct FitData {
  const DmnConfig *cfg;
  double v[N_CALIB], w[N_CALIB], sv, sw, cpg_freq;
} FitData;

static void fit_unpack(const FitData *f, const double x[N_FIT], ReducedConst *k) {
  k->amplitude = fmin(fmax(x[0], 0.01), 3.0);
  k->traction = fmin(fmax(x[1], 0.01), 1.0);
  k->turn_gain = fmin(fmax(x[2], 0.0), 10.0);
  k->spot_threshold = fmin(fmax(x[3], 0.0), 2.0);
  k->spot_width = fmin(fmax(x[4], 0.02), 3.0);
  k->cpg_freq = f->cpg_freq;
}

/* Squared error of speed and yaw rate, each relative to the target's largest
 * magnitude, summed over the drives; leaving the bounds is penalised. */
/* Backward walking counts a quarter: NeuroMechFly walks backward at ~57 %
 * of its forward speed, which the symmetric reduced body cannot do, and a
 * trained circuit seldom drives both sides backward. */
static double calib_weight(int i) { return calib_drive[i][0] < 0 && calib_drive[i][1] < 0 ? 0.25 : 1.0; }

static double const_error(const FitData *f, const ReducedConst *k, double *v_out, double *w_out) {
  double e = 0;
  for (int i = 0; i < N_CALIB; i++) {
    double v, w;
    reduced_walk(f->cfg, k, calib_drive[i], &v, &w);
    if (v_out) v_out[i] = v, w_out[i] = w;
    e += calib_weight(i) * (pow((v - f->v[i]) / f->sv, 2) + pow((w - f->w[i]) / f->sw, 2));
  }
  return e;
}

static double fit_error(const FitData *f, const double x[N_FIT], double *v_out, double *w_out) {
  ReducedConst k;
  fit_unpack(f, x, &k);
  double out = fabs(x[0] - k.amplitude) + fabs(x[1] - k.traction) + fabs(x[2] - k.turn_gain) + fabs(x[3] - k.spot_threshold) +
               fabs(x[4] - k.spot_width);
  return const_error(f, &k, v_out, w_out) + 10 * out * out;
}

/* Nelder-Mead over (amplitude, traction, turn gain, spot-turn threshold,
 * width); returns the error at the x it leaves. */
static double fit_nelder_mead(const FitData *f, double x[N_FIT], int iters) {
  enum { D = N_FIT };
  double s[D + 1][D], fs[D + 1];
  for (int i = 0; i <= D; i++) {
    memcpy(s[i], x, sizeof(double) * D);
    if (i) s[i][i - 1] *= 0.8;
    fs[i] = fit_error(f, s[i], NULL, NULL);
  }
  for (int it = 0; it < iters; it++) {
    int lo = 0, hi = 0;
    for (int i = 1; i <= D; i++) {
      if (fs[i] < fs[lo]) lo = i;
      if (fs[i] > fs[hi]) hi = i;
    }
    int nh = lo;
    for (int i = 0; i <= D; i++)
      if (i != hi && fs[i] > fs[nh]) nh = i;
    if (fs[hi] - fs[lo] < 1e-10 * (1 + fs[lo])) break;
    double c[D] = {0}, xr[D], xe[D], xc[D];
    for (int i = 0; i <= D; i++)
      if (i != hi)
        for (int j = 0; j < D; j++) c[j] += s[i][j] / D;
    for (int j = 0; j < D; j++) xr[j] = c[j] + (c[j] - s[hi][j]);
    double fr = fit_error(f, xr, NULL, NULL);
    if (fr < fs[lo]) {
      for (int j = 0; j < D; j++) xe[j] = c[j] + 2 * (c[j] - s[hi][j]);
      double fe = fit_error(f, xe, NULL, NULL);
      if (fe < fr) memcpy(s[hi], xe, sizeof xe), fs[hi] = fe;
      else memcpy(s[hi], xr, sizeof xr), fs[hi] = fr;
    } else if (fr < fs[nh]) {
      memcpy(s[hi], xr, sizeof xr), fs[hi] = fr;
    } else {
      for (int j = 0; j < D; j++) xc[j] = c[j] + 0.5 * (s[hi][j] - c[j]);
      double fc = fit_error(f, xc, NULL, NULL);
      if (fc < fs[hi]) memcpy(s[hi], xc, sizeof xc), fs[hi] = fc;
      else
        for (int i = 0; i <= D; i++)
          if (i != lo) {
            for (int j = 0; j < D; j++) s[i][j] = s[lo][j] + 0.5 * (s[i][j] - s[lo][j]);
            fs[i] = fit_error(f, s[i], NULL, NULL);
          }
    }
  }
  int lo = 0;
  for (int i = 1; i <= D; i++)
    if (fs[i] < fs[lo]) lo = i;
  memcpy(x, s[lo], sizeof(double) * D);
  return fs[lo];
}

PetscErrorCode bodyeval_calibrate(const DmnConfig *cfg, const char *target, const char *out_yaml, MPI_Comm comm, int *exit_code) {
  PetscFunctionBeginUser;
  const int rank = par_rank(comm), size = par_size(comm);
  const int vs_nmf = strcmp(target, "reduced") != 0;
  char err[DMN_ERR_MAX] = "";
  NmfBody *b = NULL;
  NmfOptions o;
  bodyeval_options(cfg, &o);
  if (vs_nmf) {
    b = nmf_open(&o, err, sizeof err);
    if (par_agree_error(b ? 0 : 1, err, comm)) {
      if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
      nmf_close(b);
      *exit_code = 2;
      PetscFunctionReturn(0);
    }
  }
  FitData f = {.cfg = cfg};
  const ReducedConst truth = {cfg->body_amplitude,           cfg->body_traction,       cfg->body_turn_gain,
                              cfg->body_spot_turn_threshold, cfg->body_spot_turn_width, cfg->body_cpg_freq};
  f.cpg_freq = vs_nmf ? cfg->body_nmf_cpg_freq : cfg->body_cpg_freq;
  if (!rank) {
    printf("Calibrating the reduced body against %s: %d constant drives, %.1f s each (speed and yaw rate over the last %.1f s)%s\n",
           vs_nmf ? "NeuroMechFly" : "the reduced body with the config's constants (self-consistency)", N_CALIB,
           (CALIB_SETTLE_MS + CALIB_WINDOW_MS) / 1000, CALIB_WINDOW_MS / 1000, vs_nmf ? "" : "");
    fflush(stdout);
  }
  double t0 = MPI_Wtime();
  int fail = 0;
  for (int i = rank; i < N_CALIB; i += size) {
    if (vs_nmf) {
      if (nmf_walk(b, cfg->sim_dt, calib_drive[i], &f.v[i], &f.w[i], err, sizeof err)) {
        fail = 1;
        break;
      }
      const char *problem = nmf_health_problem(b);
      printf("  drive (%5.2f, %5.2f): %7.2f mm/s, %6.2f rad/s (rank %d)%s%s\n", calib_drive[i][0], calib_drive[i][1], f.v[i], f.w[i], rank,
             problem[0] ? "; " : "", problem);
      fflush(stdout);
    } else {
      reduced_walk(cfg, &truth, calib_drive[i], &f.v[i], &f.w[i]);
    }
  }
  if (par_agree_error(fail, err, comm)) {
    if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    nmf_close(b);
    *exit_code = 1;
    PetscFunctionReturn(0);
  }
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, f.v, N_CALIB, MPI_DOUBLE, MPI_SUM, comm));
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, f.w, N_CALIB, MPI_DOUBLE, MPI_SUM, comm));
  const double walk_secs = MPI_Wtime() - t0;
  for (int i = 0; i < N_CALIB; i++) f.sv = fmax(f.sv, fabs(f.v[i])), f.sw = fmax(f.sw, fabs(f.w[i]));
  if (f.sv <= 0) f.sv = 1;
  if (f.sw <= 0) f.sw = 1;
  /* every rank fits the same numbers the same way; rank 0 reports */
  DmnConfig def;
  config_defaults(&def);
  /* from MODEL §5's constants with a small threshold: Nelder-Mead's first
   * simplex scales each coordinate, so none may start at 0 */
  double x[N_FIT] = {def.body_amplitude, def.body_traction, def.body_turn_gain, 0.2, def.body_spot_turn_width};
  /* before: the config's own reduced body (its frequency too) */
  const ReducedConst before = vs_nmf ? truth
                                     : (ReducedConst){def.body_amplitude,           def.body_traction,       def.body_turn_gain,
                                                      def.body_spot_turn_threshold, def.body_spot_turn_width, def.body_cpg_freq};
  /* restarts escape a collapsed simplex; stop when one no longer improves */
  double e_fit = fit_error(&f, x, NULL, NULL);
  for (int restart = 0, improved = 1; restart < 4 && improved; restart++) {
    const double e_before = e_fit;
    e_fit = fit_nelder_mead(&f, x, 600);
    improved = e_fit < e_before * (1 - 1e-9);
  }
  ReducedConst k;
  fit_unpack(&f, x, &k);
  double v0[N_CALIB], w0[N_CALIB], v1[N_CALIB], w1[N_CALIB];
  const double e0 = const_error(&f, &before, v0, w0), e1 = fit_error(&f, x, v1, w1);
  double rms_v = 0, rms_w = 0;
  for (int i = 0; i < N_CALIB; i++) rms_v += pow(v1[i] - f.v[i], 2), rms_w += pow(w1[i] - f.w[i], 2);
  rms_v = sqrt(rms_v / N_CALIB), rms_w = sqrt(rms_w / N_CALIB);
  if (!rank) {
    printf("\n  %-14s %21s %21s %21s\n", "drive (dL, dR)", vs_nmf ? "NeuroMechFly" : "target", vs_nmf ? "reduced, this config" : "reduced, MODEL §5",
           "reduced, fitted");
    printf("  %-14s %10s %10s %10s %10s %10s %10s\n", "", "mm/s", "rad/s", "mm/s", "rad/s", "mm/s", "rad/s");
    for (int i = 0; i < N_CALIB; i++)
      printf("  (%5.2f, %5.2f) %10.2f %10.3f %10.2f %10.3f %10.2f %10.3f\n", calib_drive[i][0], calib_drive[i][1], f.v[i], f.w[i], v0[i], w0[i],
             v1[i], w1[i]);
    printf("\nFit (frequency set to the target's %.3g Hz): amplitude %.4f rad, traction %.4f, turn_gain %.4f, spot_turn_threshold %.4f, "
           "spot_turn_width %.4f\n",
           k.cpg_freq, k.amplitude, k.traction, k.turn_gain, k.spot_threshold, k.spot_width);
    printf("Fit error: weighted relative squared error %.4f (%s: %.4f); rms speed error %.2f mm/s, rms yaw-rate error %.3f rad/s "
           "(backward drives weigh 1/4)\n",
           e1, vs_nmf ? "the config's reduced body" : "MODEL §5's constants", e0, rms_v, rms_w);
    if (!vs_nmf)
      printf("Self-consistency: the config's constants amplitude %.4f, traction %.4f, turn_gain %.4f, spot_turn_threshold %.4f, "
             "spot_turn_width %.4f; recovered to %.2e, %.2e, %.2e, %.2e, %.2e\n",
             truth.amplitude, truth.traction, truth.turn_gain, truth.spot_threshold, truth.spot_width,
             fabs(k.amplitude - truth.amplitude) / truth.amplitude, fabs(k.traction - truth.traction) / truth.traction,
             fabs(k.turn_gain - truth.turn_gain) / fmax(truth.turn_gain, 1e-9),
             fabs(k.spot_threshold - truth.spot_threshold) / fmax(truth.spot_threshold, 1e-9),
             fabs(k.spot_width - truth.spot_width) / truth.spot_width);
    printf("Walking took %.1f s on %d rank%s\n", walk_secs, size, size == 1 ? "" : "s");
    char tmp[DMN_STR_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", out_yaml);
    FILE *fp = fopen(tmp, "w");
    int ok = fp != NULL;
    if (fp) {
      time_t now = time(NULL);
      char when[64];
      strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
      fprintf(fp, "# The reduced body (src/MODEL.md §5) fitted to %s by dmn_mpi --calibrate-body (%s).\n",
              vs_nmf ? "NeuroMechFly" : "the reduced body itself (self-consistency)", when);
      if (vs_nmf)
        fprintf(fp, "# NeuroMechFly: scene %s, CPG %.3g Hz, no-slip iterations %d, brain step %g ms = %d physics steps.\n", o.scene,
                o.cpg_freq, o.noslip_iterations < 0 ? 100 : o.noslip_iterations, cfg->sim_dt, nmf_substeps(b));
      fprintf(fp, "# %d constant drives, speed and yaw rate over %.1f s after %.1f s; weighted relative squared error %.4f (before: %.4f),\n",
              N_CALIB, CALIB_WINDOW_MS / 1000, CALIB_SETTLE_MS / 1000, e1, e0);
      fprintf(fp, "# rms speed error %.2f mm/s, rms yaw-rate error %.3f rad/s.  Use it as a base or paste it into a config.\n", rms_v, rms_w);
      fprintf(fp, "#   drive (dL, dR): target mm/s rad/s | fitted mm/s rad/s\n");
      for (int i = 0; i < N_CALIB; i++)
        fprintf(fp, "#   (%5.2f, %5.2f): %7.2f %7.3f | %7.2f %7.3f\n", calib_drive[i][0], calib_drive[i][1], f.v[i], f.w[i], v1[i], w1[i]);
      fprintf(fp, "body:\n  cpg_freq: %.6g\n  amplitude: %.6g\n  traction: %.6g\n  turn_gain: %.6g\n  spot_turn_threshold: %.6g\n  spot_turn_width: %.6g\n",
              k.cpg_freq, k.amplitude, k.traction, k.turn_gain, k.spot_threshold, k.spot_width);
      ok = fclose(fp) == 0 && rename(tmp, out_yaml) == 0;
    }
    if (ok) printf("\u2713 Calibrated body constants written to %s\n", out_yaml);
    else {
      fprintf(stderr, "dmn_mpi: error: cannot write %s\n", out_yaml);
      *exit_code = 1;
    }
  }
  DMN_MPI(MPI_Bcast(exit_code, 1, MPI_INT, 0, comm));
  nmf_close(b);
  PetscFunctionReturn(0);
}
