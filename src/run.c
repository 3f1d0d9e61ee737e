/* run — the modes of dmn_mpi once its command line is parsed (cli.c):
 * train (and populations), evaluate, simulate, the gradient modes, the NIR
 * export, --verify; the run directory and the circuit they work on. */
#include "run.h"

#include <errno.h>
#include <hdf5.h>
#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "dmn_version.h"
#include "episode.h"
#include "evolve.h"
#include "gradcheck.h"
#include "io.h"
#include "model.h"
#include "bodyeval.h"
#include "nir.h"
#include "par.h"
#include "train.h"
#include "util.h"

static int rank_world(void) {
  int r;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &r));
  return r;
}

static void default_run_dir(const DmnConfig *cfg, const CliOptions *o, char *dir, size_t n) {
  if (o->out_dir) {
    snprintf(dir, n, "%s", o->out_dir);
  } else if (cfg->sweep_index >= 0 && cfg->n_sweep) {
    /* one folder per sweep, one sub-folder per condition: <base>/NN_<name>,
     * base = output.dir or runs/<config>-<array job id> (no timestamps, so
     * every task of an array agrees without talking) */
    const char *job = getenv("SLURM_ARRAY_JOB_ID");
    char base[2 * DMN_STR_MAX + 64];
    if (cfg->output_dir[0]) snprintf(base, sizeof base, "%s", cfg->output_dir);
    else snprintf(base, sizeof base, "runs/%s-%s", cfg->name, job && *job ? job : "sweep");
    char task[DMN_NAME_MAX + 32];
    config_sweep_task_name(cfg, cfg->sweep_index, task, sizeof task);
    util_sfmt(dir, n, "%s/%02d_%s", base, cfg->sweep_index, task);
  } else if (cfg->output_dir[0]) {
    snprintf(dir, n, "%s", cfg->output_dir);
  } else {
    char stamp[32] = "";
    if (!rank_world()) {
      time_t now = time(NULL);
      strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", localtime(&now));
    }
    DMN_MPI(MPI_Bcast(stamp, sizeof stamp, MPI_CHAR, 0, MPI_COMM_WORLD)); /* one directory for all ranks */
    snprintf(dir, n, "runs/%s-%s", cfg->name, stamp);
  }
}

/* Make the run directory on rank 0 and agree on success everywhere. */
static int make_run_dir(const char *dir, char err[DMN_ERR_MAX]) {
  int rc = 0;
  if (!rank_world()) rc = io_mkdirs(dir, err);
  DMN_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD));
  if (rc) DMN_MPI(MPI_Bcast(err, DMN_ERR_MAX, MPI_CHAR, 0, MPI_COMM_WORLD));
  return rc;
}

/* ---- --verify ------------------------------------------------------------ */

int run_verify(const DmnConfig *cfg, const CliOptions *o) {
  int rank, size, ok_all = 1;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  DMN_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size));
  char dir[DMN_STR_MAX], err[DMN_ERR_MAX] = "";
  snprintf(dir, sizeof dir, "%s", o->out_dir ? o->out_dir : (cfg->output_dir[0] ? cfg->output_dir : "runs"));
  if (!rank) printf("dmn %s environment check on %d rank%s\n", DMN_VERSION, size, size > 1 ? "s" : "");
#define ROW(ok, what, detail)                                                     \
  do {                                                                            \
    if (!(ok)) ok_all = 0;                                                        \
    if (!rank) printf("  %s %-9s %s\n", (ok) ? "\u2713" : "\u2717", what, detail); \
  } while (0)
  /* MPI: every rank answers an allreduce with the right sum */
  long sum = rank, expect = (long)size * (size - 1) / 2;
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD));
  char line[DMN_ERR_MAX + 128];
  snprintf(line, sizeof line, "%d rank%s answered an allreduce (sum of ranks %ld, expected %ld)", size, size > 1 ? "s" : "", sum, expect);
  ROW(sum == expect, "MPI", line);
  /* PETSc: real double scalars */
  char pv[128];
  PetscGetVersion(pv, sizeof pv);
  int petsc_ok = sizeof(PetscScalar) == sizeof(double) && sizeof(PetscReal) == sizeof(double);
#if defined(PETSC_USE_COMPLEX)
  petsc_ok = 0;
#endif
  snprintf(line, sizeof line, "%s, scalar %s", pv, petsc_ok ? "real double" : "NOT real double (rebuild PETSc with real double scalars)");
  ROW(petsc_ok, "PETSc", line);
  /* HDF5: parallel build, collective write in the output directory */
  int h5_ok = 0;
#ifdef H5_HAVE_PARALLEL
  h5_ok = 1;
#endif
  if (h5_ok) {
    if (make_run_dir(dir, err)) h5_ok = 0;
    else h5_ok = io_verify_collective(dir, MPI_COMM_WORLD, err) == 0;
  } else {
    snprintf(err, sizeof err, "HDF5 is a serial build");
  }
  unsigned maj, mn, rel;
  H5get_libversion(&maj, &mn, &rel);
  if (h5_ok)
    snprintf(line, sizeof line, "%u.%u.%u parallel; collective write + read-back in %s/", maj, mn, rel, dir);
  else
    snprintf(line, sizeof line, "%u.%u.%u: %s", maj, mn, rel, err);
  ROW(h5_ok, "HDF5", line);
  /* libyaml: parse a document with the config parser */
  DmnConfig probe;
  config_defaults(&probe);
  const char *doc = "sim:\n  steps: 7\n";
  int y_ok = config_parse_text(&probe, doc, strlen(doc), "(probe)", err) == 0 && probe.sim_steps == 7;
  snprintf(line, sizeof line, "%s parses YAML", yaml_get_version_string());
  ROW(y_ok, "libyaml", line);
  snprintf(line, sizeof line, "%s is valid", cfg->path[0] ? cfg->path : "built-in default config");
  ROW(1, "config", line);
#undef ROW
  if (!rank) printf("%s\n", ok_all ? "All checks passed." : "Some checks FAILED.");
  return ok_all ? 0 : 1;
}

/* ---- model set-up shared by the compute modes ----------------------------- */


/* The circuit of the config: rank 0 builds it (reading connectome data and
 * applying the lesions) and broadcasts the packed image, so data files are
 * read once, not by every rank of a 1000-rank job.  Everyone returns the
 * same verdict. */
int run_build_connectome(const DmnConfig *cfg, DmnConnectome *conn, double *secs, char err[DMN_ERR_MAX]) {
  long n = 0;
  void *buf = NULL;
  double t0 = util_wtime();
  if (!rank_world()) {
    if (connectome_build(cfg, conn, err)) {
      n = -1;
    } else {
      size_t nb;
      buf = connectome_pack(conn, &nb);
      n = (long)nb;
      connectome_free(conn);
    }
  }
  DMN_MPI(MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD));
  if (n < 0) {
    DMN_MPI(MPI_Bcast(err, DMN_ERR_MAX, MPI_CHAR, 0, MPI_COMM_WORLD));
    return 1;
  }
  if (rank_world()) buf = malloc((size_t)n + 1);
  for (long off = 0; off < n; off += 1L << 30) { /* MPI counts are int */
    long chunk = n - off < (1L << 30) ? n - off : (1L << 30);
    DMN_MPI(MPI_Bcast((char *)buf + off, (int)chunk, MPI_BYTE, 0, MPI_COMM_WORLD));
  }
  int rc = connectome_unpack(buf, (size_t)n, conn);
  free(buf);
  if (rc) snprintf(err, DMN_ERR_MAX, "internal error: connectome image could not be unpacked");
  if (secs) *secs = util_wtime() - t0;
  return rc;
}

/* Build the model and its initial (or --init) parameters.  A user error is
 * reported once (rank 0) and sets *user_err (exit status 2); the model and
 * parameters are then not allocated. */
static PetscErrorCode setup_model(const DmnConfig *cfg, const CliOptions *o, DmnModel *m, DmnParams *p, int *user_err) {
  PetscFunctionBeginUser;
  char err[DMN_ERR_MAX] = "";
  *user_err = 0;
  DmnConnectome conn;
  if (run_build_connectome(cfg, &conn, NULL, err)) {
    if (!rank_world()) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    *user_err = 1;
    PetscFunctionReturn(0);
  }
  int bad = model_build(cfg, &conn, m, err) != 0;
  connectome_free(&conn);
  if (bad) {
    if (!rank_world()) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    *user_err = 1;
    PetscFunctionReturn(0);
  }
  params_alloc(m, p);
  model_init_params(m, p);
  if (o->init) {
    /* every rank reads the same file; all agree on failure.  A checkpoint's
     * average (train.average) is what its run evaluated as "trained". */
    char path[DMN_STR_MAX + 64];
    const char *at = strstr(o->init, "{seed}");
    if (at) util_sfmt(path, sizeof path, "%.*s%ld%s", (int)(at - o->init), o->init, m->cfg.sim_seed, at + 6);
    else util_sfmt(path, sizeof path, "%s", o->init);
    int from_average = 0;
    int rc = io_read_trained_params(path, m, p, &from_average, err);
    if (!rc && from_average && !rank_world()) printf("--init %s: its Polyak average (/average)\n", path);
    int any = rc;
    DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
    if (any) {
      if (!rank_world()) fprintf(stderr, "dmn_mpi: error: %s\n", rc ? err : "--init file could not be read on another rank");
      *user_err = 1;
      params_free(p);
      model_free(m);
    }
  }
  PetscFunctionReturn(0);
}

/* The effective config beside the outputs (rank 0). */
static void write_config_copy(const char *dir, const DmnConfig *cfg) {
  if (rank_world()) return;
  char path[DMN_STR_MAX + 128];
  snprintf(path, sizeof path, "%s/config.yaml", dir);
  char *yaml = config_to_yaml(cfg);
  FILE *fp = fopen(path, "w");
  if (fp) {
    fputs(yaml, fp);
    fclose(fp);
  }
  free(yaml);
}

/* ---- --simulate --------------------------------------------------------------- */

static void print_episode(const DmnEpisodeRecord *r, long n_total, double secs) {
  printf("Episode %3ld/%ld | start (%5.1f, %5.1f) heading %6.1f deg | final %6.2f mm | mean %6.2f mm | path %6.2f mm | "
         "rates Hz ORN %.1f PN %.1f KC %.2f (%.1f%% active) MBON %.1f DN %.1f | %.3f s\n",
         r->episode + 1, n_total, r->start[0], r->start[1], r->start[2] * 180.0 / M_PI, r->metrics.final_distance,
         r->metrics.mean_distance, r->metrics.path_length, r->rate_hz[DMN_L_ORN], r->rate_hz[DMN_L_PN], r->rate_hz[DMN_L_KC],
         100.0 * r->metrics.kc_active_fraction, r->rate_hz[DMN_L_MBON], r->rate_hz[DMN_L_DN], secs);
  fflush(stdout);
}

PetscErrorCode run_simulate(const DmnConfig *cfg, const CliOptions *o, int *exit_code) {
  PetscFunctionBeginUser;
  int rank, size;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  DMN_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size));
  char err[DMN_ERR_MAX] = "", dir[DMN_STR_MAX + 64];
  DmnModel m;
  DmnParams p;
  int uerr;
  PetscCall(setup_model(cfg, o, &m, &p, &uerr));
  if (uerr) {
    *exit_code = 2;
    PetscFunctionReturn(0);
  }
  default_run_dir(cfg, o, dir, sizeof dir);
  if (make_run_dir(dir, err)) {
    if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    *exit_code = 2;
    PetscFunctionReturn(0);
  }
  write_config_copy(dir, cfg);
  long n_ep = cfg->sim_episodes;
  if (!rank)
    printf("dmn --simulate: %ld episode%s of %d steps (%.2f s) on %d rank%s, circuit ORN %d PN %d KC %d MBON %d DN %d, spike_fn %s\n",
           n_ep, n_ep > 1 ? "s" : "", m.T, m.T * m.dt / 1000.0, size, size > 1 ? "s" : "", m.n[0], m.n[1], m.n[2], m.n[3], m.n[4],
           config_enum_name("circuit", "spike_fn", cfg->circuit_spike_fn));
  DmnDerived d;
  DmnTape t;
  DmnWork w;
  PetscCall(derived_create(&m, &d));
  PetscCall(derived_update(&m, &p, &d));
  tape_alloc(&m, &t);
  work_alloc(&m, &w);
  /* episode e runs on rank e % size; its start pose depends only on e */
  long n_mine = 0;
  for (long e = rank; e < n_ep; e += size) n_mine++;
  DmnEpisodeRecord *mine = calloc((size_t)(n_mine ? n_mine : 1), sizeof(DmnEpisodeRecord));
  double *secs = calloc((size_t)(n_mine ? n_mine : 1), sizeof(double));
  int fail = 0;
  long k = 0;
  for (long e = rank; e < n_ep; e += size, k++) {
    double p0[2], psi0, t0 = util_wtime();
    episode_start_pose(&m, DMN_STREAM_SIM_START, 0, e, p0, &psi0);
    if (episode_forward(&m, &p, &d, p0, psi0, &t, &w, err)) {
      fprintf(stderr, "dmn_mpi: error on rank %d, episode %ld: %s\n", rank, e + 1, err);
      fail = 1;
      break;
    }
    record_from_tape(&m, &t, e, &mine[k]);
    secs[k] = mine[k].seconds = util_wtime() - t0;
    if (size == 1) print_episode(&mine[k], n_ep, secs[k]);
  }
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &fail, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  if (fail) {
    *exit_code = 1;
  } else {
    /* gather records on rank 0 in episode order and write one file */
    DmnEpisodeRecord *all = NULL;
    if (!rank) all = calloc((size_t)n_ep, sizeof(DmnEpisodeRecord));
    PetscCall(record_gather(&m, mine, n_ep, MPI_COMM_WORLD, all));
    if (!rank && size > 1)
      for (long e = 0; e < n_ep; e++) print_episode(&all[e], n_ep, all[e].seconds);
    int rc = 0;
    if (!rank) {
      char path[DMN_STR_MAX + 128];
      snprintf(path, sizeof path, "%s/simulation_data.h5", dir);
      char *yaml = config_to_yaml(cfg);
      rc = io_write_simulation(path, &m, all, (int)n_ep, yaml, err);
      free(yaml);
      if (rc) {
        fprintf(stderr, "dmn_mpi: error: %s\n", err);
      } else {
        double mean_final_distance = 0, rates[DMN_NLAYER] = {0}, kc_act = 0;
        for (long e = 0; e < n_ep; e++) {
          mean_final_distance += all[e].metrics.final_distance / n_ep;
          kc_act += all[e].metrics.kc_active_fraction / n_ep;
          for (int l = 0; l < DMN_NLAYER; l++) rates[l] += all[e].rate_hz[l] / n_ep;
        }
        printf("\nLayer mean rates (Hz): ORN %.1f  PN %.1f  KC %.2f  MBON %.1f  DN %.1f   KC active %.1f%%\n", rates[0], rates[1],
               rates[2], rates[3], rates[4], 100 * kc_act);
        printf("Final Trajectory Metrics (episode 1):\n  final_distance_to_goal: %.4f\n  mean_distance_to_goal: %.4f\n"
               "  total_distance_traveled: %.4f\n",
               all[0].metrics.final_distance, all[0].metrics.mean_distance, all[0].metrics.path_length);
        printf("\n\u2713 Results saved to %s/ (simulation_data.h5, config.yaml)\n", dir);
      }
      for (long e = 0; e < n_ep; e++) record_free(&all[e]);
      free(all);
    }
    DMN_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD));
    *exit_code = rc ? 1 : 0;
  }
  for (long i = 0; i < n_mine; i++) record_free(&mine[i]);
  free(mine);
  free(secs);
  work_free(&w);
  tape_free(&t);
  PetscCall(derived_destroy(&d));
  params_free(&p);
  model_free(&m);
  PetscFunctionReturn(0);
}

/* ---- --grad-check, --gradient-dump, --loss-only ---------------------------- */

PetscErrorCode run_gradient_modes(DmnConfig cfg, const CliOptions *o, int *exit_code) {
  PetscFunctionBeginUser;
  int rank;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  char err[DMN_ERR_MAX] = "";
  if (o->grad_check) {
    /* MODEL §2: smooth spikes, full reset derivative and exact sensory
     * feedback make BPTT the exact derivative of the loss. */
    cfg.circuit_spike_fn = DMN_SPIKE_SIGMOID;
    cfg.circuit_detach_reset = 0;
    cfg.grad_sensory_feedback = DMN_FEEDBACK_FULL;
    cfg.grad_tape = DMN_TAPE_DOUBLE; /* real-valued spikes, unrounded V and I */
    cfg.sim_steps = o->grad_steps;
  }
  DmnModel m;
  DmnParams p, g;
  int uerr;
  PetscCall(setup_model(&cfg, o, &m, &p, &uerr));
  if (uerr) {
    *exit_code = 2;
    PetscFunctionReturn(0);
  }
  params_alloc(&m, &g);
  DmnDerived d;
  DmnTape t;
  DmnWork w;
  PetscCall(derived_create(&m, &d));
  tape_alloc(&m, &t);
  work_alloc(&m, &w);
  double p0[2], psi0, loss;
  episode_start_pose(&m, DMN_STREAM_SIM_START, 0, 0, p0, &psi0); /* "the seeded episode" */
  int rc = 0;
  if (rank == 0) { /* one rank computes; the others wait for the verdict */
    double t0 = util_wtime();
    PetscErrorCode ierr = gradcheck_gradient(&m, &p, &d, p0, psi0, &t, &w, &g, &loss, err);
    if (ierr) {
      fprintf(stderr, "dmn_mpi: error: %s\n", err[0] ? err : "internal error in the episode (see the PETSc message above)");
      rc = 1;
    } else if (o->grad_check) {
      printf("dmn --grad-check: circuit ORN %d PN %d KC %d MBON %d DN %d, %zu parameters, T = %d (spike_fn sigmoid, detach_reset "
             "false, sensory_feedback full)\n",
             m.n[0], m.n[1], m.n[2], m.n[3], m.n[4], m.n_params, m.T);
      GradCheckOptions opt = gradcheck_defaults();
      GradCheckResult res;
      if (gradcheck_compare(&m, &p, &g, p0, psi0, &opt, &res, err)) {
        fprintf(stderr, "dmn_mpi: error: %s\n", err);
        rc = 1;
      } else {
        gradcheck_print(&m, &res, &opt);
        printf("(%.1f s)\n", util_wtime() - t0);
        rc = res.pass ? 0 : 1;
      }
    } else {
      if (o->dump) {
        char *yaml = config_to_yaml(&cfg);
        if (io_write_params(o->dump, &m, &p, &g, loss, yaml, err)) {
          fprintf(stderr, "dmn_mpi: error: %s\n", err);
          rc = 1;
        } else {
          printf("Gradient dump: loss %.17g, %zu parameters -> %s (/params/<group>, /grads/<group>)\n", loss, m.n_params, o->dump);
        }
        free(yaml);
      }
      if (o->loss_only) printf("loss %.17g\n", loss);
    }
    fflush(stdout);
  }
  DMN_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD));
  *exit_code = rc;
  work_free(&w);
  tape_free(&t);
  PetscCall(derived_destroy(&d));
  params_free(&g);
  params_free(&p);
  model_free(&m);
  PetscFunctionReturn(0);
}

/* ---- training and evaluation ---------------------------------------------------- */

/* Population-based training: the circuits individuals start on (with
 * evolution.lesioned, the intact one and the config's lesions), built once on
 * rank 0 and broadcast like every connectome. */
static PetscErrorCode run_population(const DmnConfig *cfg, const CliOptions *o, const DmnParams *p, const TrainOptions *to, int *exit_code) {
  PetscFunctionBeginUser;
  char err[DMN_ERR_MAX] = "";
  DmnConnectome conn[2];
  int have[2] = {0, 0};
  DmnConfig ic = *cfg;
  if (cfg->evolution_lesioned > 0) ic.n_lesions = cfg->sweep_base_lesions > 0 ? cfg->sweep_base_lesions : 0;
  have[0] = run_build_connectome(&ic, &conn[0], NULL, err) == 0;
  if (have[0] && cfg->evolution_lesioned > 0) have[1] = run_build_connectome(cfg, &conn[1], NULL, err) == 0;
  if (!have[0] || (cfg->evolution_lesioned > 0 && !have[1])) {
    if (!rank_world()) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    *exit_code = 2;
  } else {
    const DmnConnectome *const base[2] = {&conn[0], have[1] ? &conn[1] : NULL};
    PetscCall(evolve_run(cfg, base, o->init ? p : NULL, MPI_COMM_WORLD, to, exit_code));
  }
  for (int k = 0; k < 2; k++)
    if (have[k]) connectome_free(&conn[k]);
  PetscFunctionReturn(0);
}

PetscErrorCode run_train(const DmnConfig *cfg, const CliOptions *o, int *exit_code) {
  PetscFunctionBeginUser;
  int rank;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  char err[DMN_ERR_MAX] = "", dir[DMN_STR_MAX + 64];
  DmnModel m;
  DmnParams p;
  int uerr;
  PetscCall(setup_model(cfg, o, &m, &p, &uerr));
  if (uerr) {
    *exit_code = 2;
    PetscFunctionReturn(0);
  }
  if (o->resume && !o->out_dir) {
    /* continue in the directory the checkpoint lives in */
    snprintf(dir, sizeof dir, "%s", o->resume);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
  } else {
    default_run_dir(cfg, o, dir, sizeof dir);
  }
  if (make_run_dir(dir, err)) {
    if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    *exit_code = 2;
  } else {
    write_config_copy(dir, cfg);
    TrainOptions to = {dir, o->resume, o->stop_after, NULL};
    /* a sweep condition started from trained parameters is a lesion study:
     * the same parameters on the circuit without the condition's lesions are
     * the intact baseline */
    DmnModel intact;
    int have_intact = 0;
    if (o->init && cfg->sweep_base_lesions >= 0) {
      DmnConfig ic = *cfg;
      ic.n_lesions = cfg->sweep_base_lesions;
      DmnConnectome conn;
      if (run_build_connectome(&ic, &conn, NULL, err) == 0) {
        have_intact = model_build(&ic, &conn, &intact, err) == 0;
        connectome_free(&conn);
      }
      if (!have_intact) {
        if (!rank) fprintf(stderr, "dmn_mpi: error: intact baseline: %s\n", err);
        *exit_code = 2;
      }
      to.intact = have_intact ? &intact : NULL;
    }
    if (!*exit_code && cfg->evolution_population > 1) {
      if (to.intact) {
        if (!rank) fprintf(stderr, "dmn_mpi: error: a lesion study (--init with a sweep condition) trains one individual: set evolution.population: 1\n");
        *exit_code = 2;
      } else {
        PetscCall(run_population(cfg, o, &p, &to, exit_code));
      }
    } else if (!*exit_code) {
      PetscCall(train_run(&m, &p, MPI_COMM_WORLD, &to, exit_code));
    }
    if (have_intact) model_free(&intact);
  }
  params_free(&p);
  model_free(&m);
  PetscFunctionReturn(0);
}

/* The model of a mode that reads its parameters from a checkpoint itself
 * (--evaluate, --export-nir): p holds the config's initial parameters,
 * whatever --init says. */
static PetscErrorCode setup_model_for_checkpoint(const DmnConfig *cfg, const CliOptions *o, DmnModel *m, DmnParams *p, int *uerr) {
  PetscFunctionBeginUser;
  CliOptions o2 = *o;
  o2.init = NULL;
  PetscCall(setup_model(cfg, &o2, m, p, uerr));
  PetscFunctionReturn(0);
}

/* --export-nir CKPT OUT: the trained parameters (the average when the
 * checkpoint has one, as --evaluate) as a NIR graph, written by rank 0. */
PetscErrorCode run_export_nir(const DmnConfig *cfg, const CliOptions *o, int *exit_code) {
  PetscFunctionBeginUser;
  int rank;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  char err[DMN_ERR_MAX] = "";
  DmnModel m;
  DmnParams p;
  int uerr;
  PetscCall(setup_model_for_checkpoint(cfg, o, &m, &p, &uerr));
  if (uerr) {
    *exit_code = 2;
    PetscFunctionReturn(0);
  }
  int from_average = 0, rc = 0;
  if (!rank) {
    rc = io_read_trained_params(o->nir_ckpt, &m, &p, &from_average, err) ? 2 : 0;
    if (!rc && nir_export(o->nir_out, &m, &p, err)) rc = 1;
    if (rc) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    else
      printf("NIR graph of %s%s written to %s (ORN %d, PN %d, KC %d, MBON %d, DN %d; time in ms, voltages in mV)\n", o->nir_ckpt,
             from_average ? " (/average)" : "", o->nir_out, m.n[0], m.n[1], m.n[2], m.n[3], m.n[4]);
  }
  DMN_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD));
  *exit_code = rc;
  params_free(&p);
  model_free(&m);
  PetscFunctionReturn(0);
}

PetscErrorCode run_evaluate(const DmnConfig *cfg, const CliOptions *o, int *exit_code) {
  PetscFunctionBeginUser;
  int rank;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  char err[DMN_ERR_MAX] = "";
  DmnModel m;
  DmnParams init, p;
  int uerr;
  PetscCall(setup_model_for_checkpoint(cfg, o, &m, &init, &uerr));
  if (uerr) {
    *exit_code = 2;
    PetscFunctionReturn(0);
  }
  params_alloc(&m, &p);
  int from_average = 0;
  int rc = io_read_trained_params(o->evaluate, &m, &p, &from_average, err), any = rc;
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  if (any) {
    if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", rc ? err : "parameters unreadable on another rank");
    *exit_code = 2;
  } else {
    /* evaluation.h5 goes beside the checkpoint (or into --out) */
    char dir[DMN_STR_MAX];
    if (o->out_dir) {
      snprintf(dir, sizeof dir, "%s", o->out_dir);
    } else {
      snprintf(dir, sizeof dir, "%s", o->evaluate);
      char *slash = strrchr(dir, '/');
      if (slash) *slash = 0;
      else snprintf(dir, sizeof dir, ".");
    }
    const DmnConfig *c = &m.cfg;
    const int n_traj = (int)(c->train_eval_trajectories < c->train_eval_episodes ? c->train_eval_trajectories : c->train_eval_episodes);
    DmnEpisodeRecord *traj = rank == 0 ? calloc((size_t)n_traj + 1, sizeof(DmnEpisodeRecord)) : NULL;
    DmnEvalSummary tr, in, ctl;
    int f1, f2, f3;
    DmnModel cm = train_control_model(&m);
    PetscCall(train_evaluate(&m, &p, MPI_COMM_WORLD, &tr, traj, n_traj, NULL, NULL, &f1));
    PetscCall(train_evaluate(&m, &init, MPI_COMM_WORLD, &in, NULL, 0, NULL, NULL, &f2));
    PetscCall(train_evaluate(&cm, &p, MPI_COMM_WORLD, &ctl, NULL, 0, NULL, NULL, &f3));
    if (f1 || f2 || f3) {
      *exit_code = 1;
    } else if (make_run_dir(dir, err)) {
      if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
      *exit_code = 1;
    } else if (!rank) {
      printf("Parameters: %s%s\n", o->evaluate, from_average ? " (/average: the parameter average the run's own evaluation used)" : "");
      train_print_eval_table(&tr, &in, &ctl);
    }
    DmnRadiiTable radii;
    memset(&radii, 0, sizeof radii);
    if (!*exit_code) { /* collective */
      int f4 = 0;
      PetscCall(train_evaluate_radii(&m, &p, MPI_COMM_WORLD, NULL, NULL, &radii, &f4));
      if (f4) *exit_code = 1;
    }
    /* --body neuromechfly: the first body.nmf_eval_episodes of these starts
     * again, in both bodies, into /neuromechfly of the same file */
    DmnBodyComparison cmp;
    memset(&cmp, 0, sizeof cmp);
    const int with_nmf = c->body_kind == DMN_BODY_NEUROMECHFLY;
    if (!*exit_code && with_nmf) { /* collective */
      int f5 = 0, u5 = 0;
      PetscCall(bodyeval_compare(&m, &p, MPI_COMM_WORLD, &cmp, &f5, &u5));
      if (u5) *exit_code = 2;
      else if (f5) *exit_code = 1;
      else if (!rank) bodyeval_print(&cmp);
    }
    if (!*exit_code && !rank) {
      char path[DMN_STR_MAX + 32];
      snprintf(path, sizeof path, "%s/evaluation.h5", dir);
      char *yaml = config_to_yaml(cfg);
      DmnResultsExtra extra = {bodyeval_write_h5, &cmp};
      if (io_write_results_extra(path, &m, &tr, &in, &ctl, &radii, traj, n_traj, yaml, with_nmf ? &extra : NULL, err)) {
        fprintf(stderr, "dmn_mpi: error: %s\n", err);
        *exit_code = 1;
      } else {
        printf("\n\u2713 Evaluation saved to %s (per-episode metrics, %d trajectories%s)\n", path, n_traj,
               with_nmf ? "; /neuromechfly: both bodies side by side" : "");
      }
      free(yaml);
    }
    bodyeval_free(&cmp);
    DMN_MPI(MPI_Bcast(exit_code, 1, MPI_INT, 0, MPI_COMM_WORLD));
    if (traj)
      for (int k = 0; k < n_traj; k++) record_free(&traj[k]);
    free(traj);
    eval_summary_free(&tr);
    eval_summary_free(&in);
    eval_summary_free(&ctl);
  }
  params_free(&p);
  params_free(&init);
  model_free(&m);
  PetscFunctionReturn(0);
}

/* --calibrate-body [TARGET]: the reduced body's constants fitted to TARGET's
 * walking; body_calibration.yaml in --out (or the working directory). */
PetscErrorCode run_calibrate(const DmnConfig *cfg, const CliOptions *o, int *exit_code) {
  PetscFunctionBeginUser;
  char dir[DMN_STR_MAX], err[DMN_ERR_MAX], path[DMN_STR_MAX + 32];
  snprintf(dir, sizeof dir, "%s", o->out_dir ? o->out_dir : ".");
  int bad = par_rank(MPI_COMM_WORLD) == 0 && o->out_dir ? make_run_dir(dir, err) : 0;
  if (par_agree_error(bad, err, MPI_COMM_WORLD)) {
    if (!par_rank(MPI_COMM_WORLD)) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    *exit_code = 1;
    PetscFunctionReturn(0);
  }
  snprintf(path, sizeof path, "%s/body_calibration.yaml", dir);
  PetscCall(bodyeval_calibrate(cfg, o->calibrate, path, MPI_COMM_WORLD, exit_code));
  PetscFunctionReturn(0);
}
