#include "train.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "par.h"

/* Set by SIGTERM / SIGUSR1 / SIGUSR2 (Slurm: scancel, --signal=USR1@120):
 * training finishes the current update, checkpoints and exits cleanly. */
static volatile sig_atomic_t stop_signal = 0;
static void on_stop_signal(int sig) { stop_signal = sig; }

uint64_t train_params_checksum(const DmnParams *p) { return util_fnv1a(p->data, p->n * sizeof(double)); }

DmnModel train_control_model(const DmnModel *m) {
  DmnModel c = *m;
  double g[2];
  c.env.constant_odor = env_concentration(&m->env, m->env.src[0] + model_start_radius_mean(&m->cfg), m->env.src[1], g);
  return c;
}

PetscErrorCode train_evaluate(const DmnModel *m, const DmnParams *p, MPI_Comm comm, DmnEvalSummary *out, DmnEpisodeRecord *traj,
                              int n_traj, DmnTape *tape, DmnWork *work, int *failed) {
  return train_evaluate_set(m, p, comm, DMN_STREAM_EVAL_START, 0, (int)m->cfg.train_eval_episodes, out, traj, n_traj, tape, work, failed);
}

PetscErrorCode train_evaluate_set(const DmnModel *m, const DmnParams *p, MPI_Comm comm, int stream, long key, int n, DmnEvalSummary *out,
                                  DmnEpisodeRecord *traj, int n_traj, DmnTape *tape, DmnWork *work, int *failed) {
  PetscFunctionBeginUser;
  int rank, size;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  DMN_MPI(MPI_Comm_size(comm, &size));
  memset(out, 0, sizeof(*out));
  out->n = n;
  enum { NB = DMN_EM_N + DMN_NLOSS_TERM };
  double *buf = calloc(NB * (size_t)n, sizeof(double));
  DmnDerived d;
  DmnTape own_t;
  DmnWork own_w;
  PetscCall(derived_create(m, &d));
  PetscCall(derived_update(m, p, &d));
  if (!tape) tape_alloc(m, tape = &own_t); /* a caller's tape avoids touching 100s of MB again */
  if (!work) work_alloc(m, work = &own_w);
  DmnTape *tp = tape;
  DmnWork *wp = work;
  char err[DMN_ERR_MAX];
  int fail = 0;
  /* the first n_traj episodes keep their full record (local index e / size);
   * gathered below.  n_traj agrees on every rank. */
  if (n_traj > n) n_traj = n;
  DmnEpisodeRecord *mine = n_traj > 0 ? calloc((size_t)n_traj / (size_t)size + 1, sizeof(DmnEpisodeRecord)) : NULL;
  for (int e = rank; e < n; e += size) {
    double p0[2], psi0;
    episode_start_pose(m, stream, key, e, p0, &psi0);
    if (episode_forward(m, p, &d, p0, psi0, tp, wp, err)) {
      fprintf(stderr, "dmn_mpi: error on rank %d, evaluation episode %d: %s\n", rank, e, err);
      fail = 1;
      break;
    }
    double mv[DMN_EM_N];
    eval_metrics_of(&tp->metrics, mv);
    for (int k = 0; k < DMN_EM_N; k++) buf[k * n + e] = mv[k];
    const DmnLoss *L = &tp->loss;
    const double lt[DMN_NLOSS_TERM] = {L->nav, L->energy, L->sparse, L->rate, L->silent, L->end};
    for (int j = 0; j < DMN_NLOSS_TERM; j++) buf[(DMN_EM_N + j) * n + e] = lt[j];
    if (mine && e < n_traj) record_from_tape(m, tp, e, &mine[e / size]);
  }
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &fail, 1, MPI_INT, MPI_MAX, comm));
  *failed = fail;
  if (!fail && mine) PetscCall(record_gather(m, mine, n_traj, comm, traj));
  if (mine) {
    for (int k = 0; k <= n_traj / size; k++) record_free(&mine[k]);
    free(mine);
  }
  if (!fail) {
    /* each slot was filled by exactly one rank, the rest are zero: a sum gathers them */
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, buf, NB * n, MPI_DOUBLE, MPI_SUM, comm));
    for (int k = 0; k < DMN_EM_N; k++) {
      out->metric[k] = malloc(sizeof(double) * (size_t)n);
      memcpy(out->metric[k], buf + (size_t)k * n, sizeof(double) * (size_t)n);
    }
    out->loss_term = malloc(sizeof(double) * (size_t)n * DMN_NLOSS_TERM);
    for (int e = 0; e < n; e++)
      for (int j = 0; j < DMN_NLOSS_TERM; j++) out->loss_term[e * DMN_NLOSS_TERM + j] = buf[(DMN_EM_N + j) * n + e];
    eval_summary_finish(out);
  }
  free(buf);
  if (wp == &own_w) work_free(&own_w);
  if (tp == &own_t) tape_free(&own_t);
  PetscCall(derived_destroy(&d));
  PetscFunctionReturn(0);
}

PetscErrorCode train_evaluate_radii(const DmnModel *m, const DmnParams *p, MPI_Comm comm, DmnTape *tape, DmnWork *work, DmnRadiiTable *out,
                                    int *failed) {
  PetscFunctionBeginUser;
  double radii[DMN_MAX_RADII];
  const int n = config_eval_radii(&m->cfg, radii, DMN_MAX_RADII);
  int rank;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  *failed = 0;
  if (out) memset(out, 0, sizeof *out);
  if (n <= 0) PetscFunctionReturn(0);
  if (!rank)
    printf("\nBy start distance (the trained parameters; %ld held-out starts each, random headings; success = final distance < %.0f mm):\n"
           "  %-24s %9s %14s %14s %12s\n",
           m->cfg.train_eval_episodes, DMN_SUCCESS_RADIUS_MM, "start distance", "success", "median final", "mean distance", "path length");
  for (int k = 0; k < n; k++) {
    DmnModel rm = *m; /* a shallow copy differing in the start circle only */
    rm.cfg.arena_start_radius = radii[k];
    rm.cfg.arena_start_radius_max = 0.0;
    DmnEvalSummary s;
    int f = 0;
    PetscCall(train_evaluate(&rm, p, comm, &s, NULL, 0, tape, work, &f));
    *failed |= f;
    if (!rank && !f)
      printf("  %7.1f mm%-14s %8.1f%% %11.2f mm %11.2f mm %9.2f mm\n", radii[k], "", 100 * s.success_rate, s.median_final, s.mean_mean_distance,
             s.mean_path_length);
    if (out && !f) {
      out->radius[out->n] = radii[k];
      out->success_rate[out->n] = s.success_rate;
      out->median_final[out->n] = s.median_final;
      out->mean_distance[out->n] = s.mean_mean_distance;
      out->path_length[out->n] = s.mean_path_length;
      out->episodes = s.n;
      out->n++;
    }
    eval_summary_free(&s);
  }
  if (!rank) fflush(stdout);
  PetscFunctionReturn(0);
}

void train_print_eval_table(const DmnEvalSummary *tr, const DmnEvalSummary *in, const DmnEvalSummary *ctl) {
  train_print_eval_table_best(tr, in, ctl, NULL, 0, NULL);
}

void train_print_eval_table_best(const DmnEvalSummary *tr, const DmnEvalSummary *in, const DmnEvalSummary *ctl, const DmnEvalSummary *best,
                                 long best_update, const char *trained_label) {
  printf("\nEvaluation on %d held-out start poses (success = final distance < %.0f mm):\n", tr->n, DMN_SUCCESS_RADIUS_MM);
  printf("  %-24s %9s %14s %14s %12s\n", "parameters", "success", "median final", "mean distance", "path length");
  char best_name[64];
  snprintf(best_name, sizeof best_name, "best validation (upd %ld)", best_update);
  const DmnEvalSummary *s[4] = {in, tr, best, ctl};
  const char *name[4] = {"untrained (initial)", trained_label ? trained_label : "trained", best_name, "trained, constant odor"};
  for (int k = 0; k < 4; k++)
    if (s[k] && s[k]->n)
      printf("  %-24s %8.1f%% %11.2f mm %11.2f mm %9.2f mm\n", name[k], 100 * s[k]->success_rate, s[k]->median_final,
             s[k]->mean_mean_distance, s[k]->mean_path_length);
  fflush(stdout);
}

PetscErrorCode trainer_create(const DmnModel *m, DmnTrainer *tr) {
  PetscFunctionBeginUser;
  PetscCall(derived_create(m, &tr->d));
  tape_alloc(m, &tr->t);
  work_alloc(m, &tr->w);
  params_alloc(m, &tr->g);
  tr->red = malloc(sizeof(double) * (tr->g.n + DMN_TRAIN_NSTAT));
  PetscFunctionReturn(0);
}

PetscErrorCode trainer_destroy(DmnTrainer *tr) {
  PetscFunctionBeginUser;
  free(tr->red);
  params_free(&tr->g);
  work_free(&tr->w);
  tape_free(&tr->t);
  PetscCall(derived_destroy(&tr->d));
  PetscFunctionReturn(0);
}

/* Training start pose of episode e; with train.mirror_pairs an odd episode
 * starts where its even partner does, heading reflected about the line to
 * the source, so the pair's bearings are +beta and -beta. */
void train_start_pose(const DmnModel *m, long individual, long e, double p0[2], double *psi0) {
  const int mirror = m->cfg.train_mirror_pairs && (e & 1);
  const long drawn = mirror ? e - 1 : e; /* a mirrored episode repeats its partner's draw, radius included */
  /* train.curriculum: the range of start radii widens with the episode index
   * (global, so the same for any rank count) */
  const double span = m->cfg.train_curriculum * (double)m->cfg.train_episodes;
  const double width = span > 0 && (double)drawn < span ? (double)drawn / span : 1.0;
  episode_start_pose_width(m, DMN_STREAM_TRAIN_START, individual, drawn, width, p0, psi0);
  if (mirror) {
    double to_src = atan2(m->env.src[1] - p0[1], m->env.src[0] - p0[0]);
    double psi = 2.0 * to_src - *psi0;
    *psi0 = psi - 2.0 * M_PI * floor(psi / (2.0 * M_PI)); /* [0, 2 pi) like every start heading */
  }
}

PetscErrorCode train_update(const DmnModel *m, DmnTrainer *tr, DmnParams *p, DmnAdam *adam, long u, long individual, MPI_Comm comm,
                            double row[DMN_NHCOL], double gn[DMN_NGROUP], int *exit_code) {
  PetscFunctionBeginUser;
  const DmnConfig *c = &m->cfg;
  int rank, size;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  DMN_MPI(MPI_Comm_size(comm, &size));
  const long B = c->train_batch_per_rank, G = B * size;
  DmnDerived *d = &tr->d;
  DmnParams *g = &tr->g;
  char err[DMN_ERR_MAX] = "";
  double t0 = util_wtime();
  *exit_code = 0;
  PetscCall(derived_update(m, p, d));
  params_zero(g);
  /* stats reduced with the gradient: loss terms and metrics summed over episodes */
  enum { S_TOTAL, S_NAV, S_ENERGY, S_SPARSE, S_RATE, S_SILENT, S_END, S_FINAL, S_MEAN, S_PATH, S_KC, S_R0, S_N = S_R0 + DMN_NLAYER };
  _Static_assert(S_N == DMN_TRAIN_NSTAT, "DMN_TRAIN_NSTAT sizes the reduction buffer");
  double stats[S_N] = {0};
  int fail = 0;
  for (long b = 0; b < B && !fail; b++) {
    long e = u * G + rank * B + b; /* global episode index of this individual */
    double p0[2], psi0;
    train_start_pose(m, individual, e, p0, &psi0);
    if (c->connectome_variant_dropout > 0) {
      /* a fresh variant of the connectome for this episode (MODEL §1 masks untouched) */
      PetscCall(derived_update(m, p, d));
      PetscCall(derived_apply_variant(m, d, (uint64_t)e + ((uint64_t)individual << 40)));
    }
    if (episode_forward(m, p, d, p0, psi0, &tr->t, &tr->w, err) || episode_backward(m, p, d, &tr->t, &tr->w, g, err)) {
      fprintf(stderr, "dmn_mpi: error on rank %d, training episode %ld (update %ld): %s\n", rank, e + 1, u + 1, err);
      fail = 1;
      break;
    }
    const DmnLoss *L = &tr->t.loss;
    const DmnMetrics *M = &tr->t.metrics;
    double r[S_N] = {L->total, L->nav, L->energy, L->sparse, L->rate, L->silent, L->end, M->final_distance, M->mean_distance, M->path_length,
                     M->kc_active_fraction};
    for (int l = 0; l < DMN_NLAYER; l++) r[S_R0 + l] = M->rate_hz[l];
    for (int k = 0; k < S_N; k++) stats[k] += r[k];
  }
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &fail, 1, MPI_INT, MPI_MAX, comm));
  if (fail) {
    if (!rank) fprintf(stderr, "dmn_mpi: training stopped before update %ld; parameters were not updated\n", u + 1);
    *exit_code = 1;
    PetscFunctionReturn(0);
  }
  /* one allreduce carries the gradient and the statistics */
  double *red = tr->red;
  memcpy(red, g->data, sizeof(double) * g->n);
  memcpy(red + g->n, stats, sizeof stats);
  PetscCall(PetscLogEventBegin(DMN_EV_ALLREDUCE, 0, 0, 0, 0));
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, red, (int)(g->n + S_N), MPI_DOUBLE, MPI_SUM, comm));
  PetscCall(PetscLogEventEnd(DMN_EV_ALLREDUCE, 0, 0, 0, 0));
  for (size_t i = 0; i < g->n; i++) g->data[i] = red[i] / G;
  for (int k = 0; k < S_N; k++) stats[k] = red[g->n + k] / G;
  double norm = optim_grad_norms(m, g, gn);
  if (!isfinite(norm)) {
    for (int k = 0; k < DMN_NGROUP; k++)
      if (!isfinite(gn[k]) && !rank) fprintf(stderr, "dmn_mpi: error: non-finite gradient in group %s at update %ld\n", dmn_group_names[k], u + 1);
    *exit_code = 1;
    PetscFunctionReturn(0);
  }
  double clip = optim_clip(g, norm, c->train_clip_norm);
  optim_adam_step(m, adam, p, g, optim_lr_factor(c, u, (c->train_episodes + G - 1) / G));
  memset(row, 0, sizeof(double) * DMN_NHCOL);
  row[DMN_H_val_success] = row[DMN_H_val_median_final] = NAN; /* set by train_run's validation, if any */
  row[DMN_H_eval_success] = row[DMN_H_eval_median_final] = NAN; /* set by train_run's train.eval_at, if any */
  row[DMN_H_episodes] = (double)((u + 1) * G);
  row[DMN_H_loss_total] = stats[S_TOTAL];
  row[DMN_H_loss_nav] = stats[S_NAV];
  row[DMN_H_loss_energy] = stats[S_ENERGY];
  row[DMN_H_loss_sparse] = stats[S_SPARSE];
  row[DMN_H_loss_rate] = stats[S_RATE];
  row[DMN_H_loss_silent] = stats[S_SILENT];
  row[DMN_H_loss_end] = stats[S_END];
  row[DMN_H_final_distance] = stats[S_FINAL];
  row[DMN_H_mean_distance] = stats[S_MEAN];
  row[DMN_H_path_length] = stats[S_PATH];
  row[DMN_H_kc_active] = stats[S_KC];
  for (int l = 0; l < DMN_NLAYER; l++) row[DMN_H_rate_orn + l] = stats[S_R0 + l];
  row[DMN_H_grad_norm] = norm;
  row[DMN_H_clip_factor] = clip;
  row[DMN_H_seconds] = util_wtime() - t0;
  PetscFunctionReturn(0);
}

int train_params_agree(const DmnParams *p, MPI_Comm comm, uint64_t *lo_out, uint64_t *hi_out) {
  uint64_t h = train_params_checksum(p), lo = h, hi = h;
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, comm));
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, comm));
  if (lo_out) *lo_out = lo;
  if (hi_out) *hi_out = hi;
  return lo == hi;
}

int train_resume_read(const char *path, MPI_Comm comm, DmnResumeRead read, void *ctx, const char **used) {
  static char prev[DMN_STR_MAX + 16];
  int rank;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  char err[DMN_ERR_MAX] = "", err_prev[DMN_ERR_MAX] = "";
  long upd = -1, upd_prev = -1;
  *used = path;
  if (!par_agree_error(read(path, ctx, &upd, err), err, comm)) return 0;
  io_prev_path(path, prev, sizeof prev);
  const int missing = access(prev, R_OK) != 0;
  int bad_prev = missing;
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &bad_prev, 1, MPI_INT, MPI_MAX, comm));
  if (!bad_prev) bad_prev = par_agree_error(read(prev, ctx, &upd_prev, err_prev), err_prev, comm);
  if (!rank) {
    fprintf(stderr, "dmn_mpi: %s: %s\n", bad_prev ? "error" : "warning", err);
    if (!bad_prev && upd > upd_prev)
      fprintf(stderr, "dmn_mpi: warning: resuming from the previous checkpoint %s (update %ld): updates %ld-%ld are redone\n", prev, upd_prev,
              upd_prev + 1, upd);
    else if (!bad_prev)
      fprintf(stderr, "dmn_mpi: warning: resuming from the previous checkpoint %s (update %ld): the updates after it are redone\n", prev,
              upd_prev);
    else if (!missing)
      fprintf(stderr, "dmn_mpi: error: and the previous checkpoint too: %s\n", err_prev[0] ? err_prev : "unreadable on another rank");
  }
  if (bad_prev) return 1;
  *used = prev;
  return 0;
}

int train_stop_requested(MPI_Comm comm) {
  int sig = (int)stop_signal;
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &sig, 1, MPI_INT, MPI_MAX, comm));
  return sig;
}

void train_catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
}

PetscErrorCode train_report(const DmnModel *m, const DmnParams *p, const DmnParams *init, const DmnTrainState *st, MPI_Comm comm,
                            const TrainOptions *o, DmnTrainer *tr, const DmnEvolutionLog *evo, int *exit_code) {
  PetscFunctionBeginUser;
  const DmnConfig *c = &m->cfg;
  int rank;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  char err[DMN_ERR_MAX] = "", path[DMN_STR_MAX + 64];
  char *yaml = config_to_yaml(c);
  DmnEvalSummary trs, in, ctl, intact;
  memset(&intact, 0, sizeof intact);
  int n_traj = (int)(c->train_eval_trajectories < c->train_eval_episodes ? c->train_eval_trajectories : c->train_eval_episodes);
  DmnEpisodeRecord *traj = rank == 0 ? calloc((size_t)n_traj + 1, sizeof(DmnEpisodeRecord)) : NULL;
  int f1 = 0, f2 = 0, f3 = 0;
  PetscCall(PetscLogEventBegin(DMN_EV_EVALUATE, 0, 0, 0, 0));
  PetscCall(train_evaluate(m, p, comm, &trs, traj, n_traj, &tr->t, &tr->w, &f1));
  /* train.episodes 0 (a lesion study's lesioned-only evaluation): the
   * starting parameters are the trained ones; the evaluation is
   * deterministic, so one pass serves both rows */
  if (p->n == init->n && !memcmp(p->data, init->data, sizeof(double) * p->n))
    eval_summary_copy(&trs, &in);
  else
    PetscCall(train_evaluate(m, init, comm, &in, NULL, 0, &tr->t, &tr->w, &f2));
  DmnModel cm = train_control_model(m);
  PetscCall(train_evaluate(&cm, p, comm, &ctl, NULL, 0, &tr->t, &tr->w, &f3));
  PetscCall(PetscLogEventEnd(DMN_EV_EVALUATE, 0, 0, 0, 0));
  if (o->intact) { /* lesion study: the starting parameters on the unlesioned circuit */
    int f4 = 0;
    PetscCall(train_evaluate(o->intact, init, comm, &intact, NULL, 0, NULL, NULL, &f4));
    f3 |= f4;
  }
  DmnEvalSummary best;
  memset(&best, 0, sizeof best);
  if (st && st->best_update > 0 && !evo) { /* train.validate_every: best.h5's parameters on the held-out starts too */
    DmnParams bp;
    params_alloc(m, &bp);
    snprintf(path, sizeof path, "%s/best.h5", o->run_dir);
    int rc = io_read_params(path, m, &bp, err), any = rc;
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, comm));
    if (any) { /* moved or deleted since: the run's own results do not depend on it */
      if (!rank) fprintf(stderr, "dmn_mpi: warning: no evaluation of the best validated parameters: %s\n", rc ? err : "best.h5 unreadable on another rank");
    } else {
      int f5 = 0;
      PetscCall(train_evaluate(m, &bp, comm, &best, NULL, 0, &tr->t, &tr->w, &f5));
      f3 |= f5;
    }
    params_free(&bp);
  }
  const DmnEvalSummary *bs = best.n ? &best : NULL;
  if (f1 || f2 || f3) {
    *exit_code = 1;
  } else if (!rank) {
    if (o->intact) {
      printf("\nLesion study (sweep task %d: condition %s, seed %ld): starting parameters from --init\n", c->sweep_index,
             c->sweep_index >= 0 ? config_sweep_name(c) : "-", c->sim_seed);
      printf("  %-24s %8.1f%% %11.2f mm %11.2f mm %9.2f mm\n", "intact circuit", 100 * intact.success_rate, intact.median_final,
             intact.mean_mean_distance, intact.mean_path_length);
      printf("  %-24s %8.1f%% %11.2f mm %11.2f mm %9.2f mm\n", "lesioned", 100 * in.success_rate, in.median_final, in.mean_mean_distance,
             in.mean_path_length);
      printf("  %-24s %8.1f%% %11.2f mm %11.2f mm %9.2f mm\n", "lesioned, retrained", 100 * trs.success_rate, trs.median_final,
             trs.mean_mean_distance, trs.mean_path_length);
    }
    train_print_eval_table_best(&trs, &in, &ctl, bs, st ? st->best_update : 0,
                                st && st->avg.data ? "trained (average)" : NULL);
  }
  DmnRadiiTable radii;
  memset(&radii, 0, sizeof radii);
  if (!f1 && !f2 && !f3 && !evo) { /* by start distance, after the main table (collective: every rank) */
    int f6 = 0;
    PetscCall(train_evaluate_radii(m, p, comm, &tr->t, &tr->w, &radii, &f6));
    if (f6) *exit_code = 1;
  }
  if (!f1 && !f2 && !f3 && !rank) {
    printf("\nFinal Trajectory Metrics (trained, held-out mean):\n  final_distance_to_goal: %.4f\n  mean_distance_to_goal: %.4f\n"
           "  total_distance_traveled: %.4f\n",
           trs.mean_final_distance, trs.mean_mean_distance, trs.mean_path_length);
    snprintf(path, sizeof path, "%s/results.h5", o->run_dir);
    const DmnEvalSummary *ip = o->intact ? &intact : NULL;
    int rc = io_write_results(path, m, st, &trs, &in, &ctl, ip, bs, &radii, traj, n_traj, evo, yaml, err);
    snprintf(path, sizeof path, "%s/training_results.json", o->run_dir);
    if (!rc) rc = io_write_training_json(path, st, &trs, &in, &ctl, ip, bs, &radii, err);
    if (rc) {
      fprintf(stderr, "dmn_mpi: error: %s\n", err);
      *exit_code = 1;
    } else {
      printf("\n\u2713 Results saved to %s/ (checkpoint.h5, %sresults.h5, training_results.json)\n", o->run_dir, bs ? "best.h5, " : "");
    }
  }
  DMN_MPI(MPI_Bcast(exit_code, 1, MPI_INT, 0, comm));
  if (traj)
    for (int k = 0; k < n_traj; k++) record_free(&traj[k]);
  free(traj);
  eval_summary_free(&trs);
  eval_summary_free(&in);
  eval_summary_free(&ctl);
  eval_summary_free(&intact);
  eval_summary_free(&best);
  free(yaml);
  PetscFunctionReturn(0);
}

void train_fmt_time(double s, char *buf, size_t n) {
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* train.validate_every: judge `use` on the validation starts (a stream of
 * their own), record it in the last history row, and write best.h5 when it
 * beats the best so far (more successes; ties: a smaller median final
 * distance).  exit_code 1 on failure. */
static PetscErrorCode validate(const DmnModel *m, const DmnParams *use, const DmnAdam *adam, DmnTrainState *st, DmnTrainer *tr, MPI_Comm comm,
                               const char *best_ckpt, const char *yaml, int *exit_code) {
  PetscFunctionBeginUser;
  int rank, vfail = 0;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  char err[DMN_ERR_MAX] = "";
  DmnEvalSummary vs;
  PetscCall(train_evaluate_set(m, use, comm, DMN_STREAM_VALIDATE, 0, (int)m->cfg.train_validate_episodes, &vs, NULL, 0, &tr->t, &tr->w, &vfail));
  if (vfail) {
    eval_summary_free(&vs);
    *exit_code = 1;
    PetscFunctionReturn(0);
  }
  st->hist.col[DMN_H_val_success][st->hist.n - 1] = vs.success_rate;
  st->hist.col[DMN_H_val_median_final][st->hist.n - 1] = vs.median_final;
  const int better = !st->best_update || vs.success_rate > st->best_success ||
                     (vs.success_rate == st->best_success && vs.median_final < st->best_median_final);
  if (better) {
    st->best_update = st->update;
    st->best_success = vs.success_rate;
    st->best_median_final = vs.median_final;
    PetscCall(PetscLogEventBegin(DMN_EV_CHECKPOINT, 0, 0, 0, 0));
    int brc = io_checkpoint_write(best_ckpt, comm, m, use, adam, st, yaml, err);
    PetscCall(PetscLogEventEnd(DMN_EV_CHECKPOINT, 0, 0, 0, 0));
    if (brc) {
      if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
      *exit_code = 1;
    }
  }
  if (!rank && !*exit_code) {
    printf("Validation after update %ld: success %5.1f%% median final %6.2f mm on %d starts%s (best: update %ld, %.1f%%)\n", st->update,
           100 * vs.success_rate, vs.median_final, vs.n, better ? " -> best.h5" : "", st->best_update, 100 * st->best_success);
    fflush(stdout);
  }
  eval_summary_free(&vs);
  PetscFunctionReturn(0);
}

/* train.eval_at: does a listed episode count fall in (before, after]? */
static int eval_due(const DmnConfig *c, long before, long after) {
  long at[64];
  const int n = config_int_list(c->train_eval_at, 1, at, 64);
  for (int i = 0; i < n; i++)
    if (at[i] > before && at[i] <= after) return 1;
  return 0;
}

/* train.eval_at: the held-out evaluation (the final one's starts) of `use`
 * now, into the last history row: a learning or compensation curve. */
static PetscErrorCode eval_point(const DmnModel *m, const DmnParams *use, DmnTrainState *st, DmnTrainer *tr, MPI_Comm comm, int *exit_code) {
  PetscFunctionBeginUser;
  int rank, fail = 0;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  DmnEvalSummary es;
  PetscCall(train_evaluate(m, use, comm, &es, NULL, 0, &tr->t, &tr->w, &fail));
  if (fail) {
    eval_summary_free(&es);
    *exit_code = 1;
    PetscFunctionReturn(0);
  }
  st->hist.col[DMN_H_eval_success][st->hist.n - 1] = es.success_rate;
  st->hist.col[DMN_H_eval_median_final][st->hist.n - 1] = es.median_final;
  if (!rank) {
    printf("Held-out evaluation after %ld episodes: success %5.1f%% median final %6.2f mm on %d starts%s\n", st->episodes_done,
           100 * es.success_rate, es.median_final, es.n, st->avg.data ? " (average)" : "");
    fflush(stdout);
  }
  eval_summary_free(&es);
  PetscFunctionReturn(0);
}

typedef struct {
  const DmnModel *m;
  DmnParams *p;
  DmnAdam *adam;
  DmnTrainState *st;
} ResumeCtx;

static int resume_checkpoint(const char *path, void *ctx, long *update, char err[DMN_ERR_MAX]) {
  ResumeCtx *r = ctx;
  *update = io_checkpoint_update(path); /* also of a file whose data fail their checksums */
  return io_checkpoint_read(path, r->m, r->p, r->adam, r->st, err);
}

PetscErrorCode train_run(const DmnModel *m, DmnParams *p, MPI_Comm comm, const TrainOptions *o, int *exit_code) {
  PetscFunctionBeginUser;
  const DmnConfig *c = &m->cfg;
  int rank, size;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  DMN_MPI(MPI_Comm_size(comm, &size));
  const long B = c->train_batch_per_rank, G = B * size;
  const long U = (c->train_episodes + G - 1) / G; /* updates in the whole run */
  char err[DMN_ERR_MAX] = "", ckpt[DMN_STR_MAX + 64], best_ckpt[DMN_STR_MAX + 64];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", o->run_dir);
  snprintf(best_ckpt, sizeof best_ckpt, "%s/best.h5", o->run_dir);
  char *yaml = config_to_yaml(c);
  *exit_code = 0;

  DmnParams init;
  params_alloc(m, &init);
  params_copy(&init, p); /* kept for the untrained evaluation */
  DmnAdam adam;
  optim_adam_init(m, &adam);
  DmnTrainState st;
  memset(&st, 0, sizeof st);
  DmnTrainer tr;
  memset(&tr, 0, sizeof tr);
  if (c->train_average > 0) { /* Polyak averaging: starts at the initial parameters */
    params_alloc(m, &st.avg);
    params_copy(&st.avg, p);
  }
  if (o->resume) {
    ResumeCtx rctx = {m, p, &adam, &st};
    const char *used;
    if (train_resume_read(o->resume, comm, resume_checkpoint, &rctx, &used)) {
      *exit_code = 2;
      goto done;
    }
    if (!rank) printf("Resuming from %s: update %ld, %ld episodes done (adam step %ld)\n", used, st.update, st.episodes_done, adam.step);
  }
  history_reserve(&st.hist, U + 1);
  if (!rank)
    printf("dmn train: %ld episodes = %ld updates x %ld (batch %ld per rank x %d rank%s), T = %d steps, circuit ORN %d PN %d KC %d MBON %d "
           "DN %d, %zu parameters\n  run directory %s/\n",
           U * G, U, G, B, size, size > 1 ? "s" : "", m->T, m->n[0], m->n[1], m->n[2], m->n[3], m->n[4], m->n_params, o->run_dir);

  PetscCall(trainer_create(m, &tr));
  /* A live bar only on a real terminal: under mpirun rank 0's stdout is a
   * pty even when mpirun writes to a file (Slurm logs), so default to plain
   * lines there.  DMN_PROGRESS=bar|lines overrides. */
  const char *pm = getenv("DMN_PROGRESS");
  const int tty = pm ? !strcmp(pm, "bar") : (isatty(fileno(stdout)) && !getenv("OMPI_COMM_WORLD_SIZE"));
  train_catch_signals();
  double t_run = util_wtime(), secs_sum = 0;
  long done_here = 0;
  long last_good = o->resume ? st.update : -1; /* the update of the newest checkpoint on disk */
  for (long u = st.update; u < U; u++) {
    double row[DMN_NHCOL], gn[DMN_NGROUP];
    PetscCall(train_update(m, &tr, p, &adam, u, 0, comm, row, gn, exit_code));
    if (*exit_code) {
      if (!rank) fprintf(stderr, "dmn_mpi: last checkpoint: %s\n", ckpt);
      break;
    }
    st.update = u + 1;
    st.episodes_done = st.update * G;
    if (st.avg.data) { /* train.average: avg = a avg + (1 - a) p */
      const double a = c->train_average;
      for (size_t i = 0; i < p->n; i++) st.avg.data[i] = a * st.avg.data[i] + (1.0 - a) * p->data[i];
    }
    const DmnParams *use = st.avg.data ? &st.avg : p; /* what validation and the evaluation judge */
    secs_sum += row[DMN_H_seconds];
    done_here++;
    history_push(&st.hist, row, gn);
    if (!rank) {
      char eta[32];
      train_fmt_time(secs_sum / done_here * (double)(U - st.update), eta, sizeof eta);
      printf("%sEpisode %5ld/%ld | Update %4ld/%ld | Loss: %9.4f | Nav: %9.4f | Energy: %8.4f | final %6.2f mm | KC %4.1f%% | DN %5.1f Hz | "
             "|g| %8.2e | %5.1f ep/s | ETA %s%s",
             tty ? "\r" : "", st.episodes_done, U * G, st.update, U, row[DMN_H_loss_total], row[DMN_H_loss_nav], row[DMN_H_loss_energy],
             row[DMN_H_final_distance], 100 * row[DMN_H_kc_active], row[DMN_H_rate_dn], row[DMN_H_grad_norm],
             (double)G / row[DMN_H_seconds], eta, tty ? "" : "\n");
      if (tty && (st.update % 10 == 0 || st.update == U)) printf("\n"); /* keep every 10th line on a terminal */
      fflush(stdout);
    }
    if (c->train_validate_every > 0 && (st.update % c->train_validate_every == 0 || st.update == U)) {
      PetscCall(validate(m, use, &adam, &st, &tr, comm, best_ckpt, yaml, exit_code));
      if (*exit_code) break;
    }
    if (eval_due(c, st.episodes_done - G, st.episodes_done)) {
      PetscCall(eval_point(m, use, &st, &tr, comm, exit_code));
      if (*exit_code) break;
    }
    /* all ranks must hold bitwise-identical parameters (MODEL §7) */
    if (st.update % c->train_check_every == 0 || st.update == U) {
      uint64_t lo, hi;
      if (!train_params_agree(p, comm, &lo, &hi)) {
        if (!rank) fprintf(stderr, "dmn_mpi: error: parameters differ between ranks after update %ld (checksums %016llx..%016llx)\n",
                           st.update, (unsigned long long)lo, (unsigned long long)hi);
        *exit_code = 1;
        break;
      }
    }
    /* a signal on any rank stops every rank after this same update */
    int sig = train_stop_requested(comm);
    long ce = c->output_checkpoint_every;
    int last = st.update == U || (o->stop_after && done_here >= o->stop_after) || sig;
    if (last || (st.episodes_done / ce) > ((st.episodes_done - G) / ce)) {
      PetscCall(PetscLogEventBegin(DMN_EV_CHECKPOINT, 0, 0, 0, 0));
      int ckrc = io_checkpoint_write(ckpt, comm, m, p, &adam, &st, yaml, err);
      PetscCall(PetscLogEventEnd(DMN_EV_CHECKPOINT, 0, 0, 0, 0));
      if (ckrc) {
        if (!rank) {
          fprintf(stderr, "dmn_mpi: error: %s\n", err);
          if (last_good >= 0)
            fprintf(stderr, "dmn_mpi: the last good checkpoint, %s (update %ld), is untouched: fix the cause (disk space?) and --resume it\n",
                    ckpt, last_good);
        }
        *exit_code = 1;
        break;
      }
      last_good = st.update;
    }
    if (sig && st.update < U) {
      if (!rank) printf("Stopped by signal %d after update %ld (checkpoint written); resume with --resume %s\n", sig, st.update, ckpt);
      fflush(stdout);
      goto cleanup;
    }
    if (o->stop_after && done_here >= o->stop_after && st.update < U) {
      if (!rank) printf("Stopped after %ld updates as asked; resume with --resume %s\n", done_here, ckpt);
      goto cleanup;
    }
  }
  if (*exit_code) goto cleanup;
  if (!rank) printf("Training done: %ld updates, %ld episodes in %.1f s\n", st.update, st.episodes_done, util_wtime() - t_run);
  /* evaluation: trained (train.average: the average), untrained, and the trained circuit blind to odor */
  PetscCall(train_report(m, st.avg.data ? &st.avg : p, &init, &st, comm, o, &tr, NULL, exit_code));
cleanup:
  PetscCall(trainer_destroy(&tr));
done:
  history_free(&st.hist);
  if (st.avg.data) params_free(&st.avg);
  optim_adam_free(&adam);
  params_free(&init);
  free(yaml);
  PetscFunctionReturn(0);
}
