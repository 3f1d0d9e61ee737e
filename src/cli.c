/* cli — the dmn_mpi command line: parse options, read the config on rank 0
 * and broadcast it, dispatch to a mode.  Errors that every rank sees alike
 * (bad config, bad options) make every rank exit 2 together; a failure on
 * one rank during a collective phase aborts all ranks (never a hang). */
#include "cli.h"
#include "run.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <petscsys.h>
#include <signal.h>
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
#include "nir.h"
#include "train.h"
#include "util.h"
#include "par.h"



static int rank_world(void) {
  int r;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &r));
  return r;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: mpirun -n N dmn_mpi [CONFIG.yaml] [options]\n"
          "\n"
          "Trains / simulates connectome-constrained spiking fly olfactory circuits in\n"
          "closed loop with a walking body (see README.md and src/MODEL.md).  CONFIG defaults to the\n"
          "built-in defaults (= configs/default.yaml).\n"
          "\n"
          "Modes (default: train):\n"
          "  (none)                train by BPTT; checkpoint.h5, results.h5, training_results.json\n"
          "  --resume CKPT         continue a training run from its checkpoint (same ranks: bit for bit)\n"
          "  --evaluate CKPT       evaluate CKPT's parameters (and the untrained ones) on held-out starts\n"
          "  --simulate            forward simulation only; writes simulation_data.h5\n"
          "  --export-nir CKPT OUT write CKPT's trained circuit as a NIR graph (HDF5) to OUT\n"
          "  --calibrate-body [TARGET] fit the reduced body's amplitude, traction, turn gain,\n"
          "                        spot-turn threshold and width to TARGET's walking\n"
          "                        (neuromechfly, default; or reduced: a\n"
          "                        self-consistency check); writes body_calibration.yaml\n"
          "  --grad-check          BPTT gradient vs finite differences (smooth mode)\n"
          "  --gradient-dump FILE  one seeded episode: loss, /params and /grads to FILE\n"
          "  --loss-only           print the loss of the seeded episode (17 digits)\n"
          "  --connectome-info     load/build the circuit (with its lesions) and summarise it\n"
          "  --sweep-list          list the config's sweep conditions and the array size they need\n"
          "  --verify              check MPI, PETSc, parallel HDF5 and libyaml\n"
          "  --print-config        print the effective config (defaults filled in)\n"
          "  --config-reference    print every config key as a Markdown table\n"
          "  --version             versions of dmn and its libraries\n"
          "  --help                this text\n"
          "\n"
          "Options:\n"
          "  --set KEY=VALUE       override a config key, e.g. --set circuit.n_kc=1000\n"
          "                        (repeatable; validated like the file)\n"
          "  --out DIR             run directory (default output.dir, else\n"
          "                        runs/<config-name>-YYYYMMDD_HHMMSS)\n"
          "  --body KIND           body.kind for this run: reduced, or neuromechfly (MuJoCo;\n"
          "                        with --evaluate: the same starts in both bodies)\n"
          "  --init FILE           start from parameters in FILE (checkpoint: its train.average\n"
          "                        average when it has one; or a gradient dump); {seed} in\n"
          "                        FILE becomes sim.seed (a lesion study over sweep seeds)\n"
          "  --stop-after N        stop cleanly after N updates, or N generations of a population\n"
          "                        (checkpoint written; --resume later)\n"
          "  --duration SECONDS    episode length in seconds (sets sim.steps)\n"
          "  --episodes N          episodes for --simulate (sets sim.episodes; training: train.episodes)\n"
          "  --grad-steps N        episode length for --grad-check (default 100)\n"
          "  --sweep-index I       run task I of the config's sweep: list (conditions x\n"
          "                        sim.sweep_seeds; default:\n"
          "                        $SLURM_ARRAY_TASK_ID); with --init CKPT a lesion study:\n"
          "                        intact vs lesioned vs retrained\n"
          "\n"
          "PETSc options such as -log_view are passed through.  The config reference is\n"
          "in configs/README.md (section \"Configuration\") and from --config-reference.\n");
}

/* Returns 0 ok, 2 usage error (message printed by rank 0). */
static int parse_args(int argc, char **argv, CliOptions *o) {
  memset(o, 0, sizeof(*o));
  o->grad_steps = 100;
  o->sweep_index = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
#define NEED_VALUE()                                                                     \
  do {                                                                                   \
    if (i + 1 >= argc) {                                                                 \
      if (!rank_world()) fprintf(stderr, "dmn_mpi: error: %s needs a value\n", a);     \
      return 2;                                                                          \
    }                                                                                    \
  } while (0)
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) o->help = 1;
    else if (!strcmp(a, "--version")) o->version = 1;
    else if (!strcmp(a, "--print-config")) o->print_config = 1;
    else if (!strcmp(a, "--config-reference")) o->config_reference = 1;
    else if (!strcmp(a, "--verify")) o->verify = 1;
    else if (!strcmp(a, "--simulate")) o->simulate = 1;
    else if (!strcmp(a, "--grad-check")) o->grad_check = 1;
    else if (!strcmp(a, "--loss-only")) o->loss_only = 1;
    else if (!strcmp(a, "--connectome-info")) o->connectome_info = 1;
    else if (!strcmp(a, "--sweep-list")) o->sweep_list = 1;
    else if (!strcmp(a, "--sweep-index")) {
      NEED_VALUE();
      char *end;
      o->sweep_index = strtol(argv[++i], &end, 10);
      if (*end || o->sweep_index < 0) {
        if (!rank_world()) fprintf(stderr, "dmn_mpi: error: --sweep-index needs an integer >= 0, got '%s'\n", argv[i]);
        return 2;
      }
    }
    else if (!strcmp(a, "--set")) {
      NEED_VALUE();
      if (o->n_sets < MAX_SETS) o->sets[o->n_sets++] = argv[++i];
    } else if (!strncmp(a, "--set=", 6)) {
      if (o->n_sets < MAX_SETS) o->sets[o->n_sets++] = a + 6;
    } else if (!strcmp(a, "--out")) {
      NEED_VALUE();
      o->out_dir = argv[++i];
    } else if (!strcmp(a, "--resume")) {
      NEED_VALUE();
      o->resume = argv[++i];
    } else if (!strcmp(a, "--evaluate")) {
      NEED_VALUE();
      o->evaluate = argv[++i];
    } else if (!strcmp(a, "--export-nir")) {
      if (i + 2 >= argc) {
        if (!rank_world()) fprintf(stderr, "dmn_mpi: error: --export-nir needs two arguments: CKPT OUT.nir\n");
        return 2;
      }
      o->nir_ckpt = argv[++i];
      o->nir_out = argv[++i];
    } else if (!strcmp(a, "--body")) {
      NEED_VALUE();
      static char body_set[96]; /* validated like --set body.kind=KIND */
      snprintf(body_set, sizeof body_set, "body.kind=%.80s", argv[++i]);
      if (o->n_sets < MAX_SETS) o->sets[o->n_sets++] = body_set;
    } else if (!strcmp(a, "--calibrate-body")) {
      o->calibrate = "neuromechfly";
      if (i + 1 < argc && (!strcmp(argv[i + 1], "neuromechfly") || !strcmp(argv[i + 1], "reduced"))) o->calibrate = argv[++i];
    } else if (!strcmp(a, "--init")) {
      NEED_VALUE();
      o->init = argv[++i];
    } else if (!strcmp(a, "--gradient-dump")) {
      NEED_VALUE();
      o->dump = argv[++i];
    } else if (!strcmp(a, "--duration") || !strcmp(a, "--episodes") || !strcmp(a, "--grad-steps") || !strcmp(a, "--stop-after")) {
      NEED_VALUE();
      char *end;
      double v = strtod(argv[++i], &end);
      if (*end || v <= 0) {
        if (!rank_world()) fprintf(stderr, "dmn_mpi: error: %s needs a positive number, got '%s'\n", a, argv[i]);
        return 2;
      }
      if (!strcmp(a, "--duration")) o->duration = v;
      else if (!strcmp(a, "--episodes")) o->episodes = (long)v;
      else if (!strcmp(a, "--stop-after")) o->stop_after = (long)v;
      else o->grad_steps = (long)v;
    } else if (a[0] == '-' && a[1] == '-') {
      if (!rank_world()) fprintf(stderr, "dmn_mpi: error: unknown option '%s' (see dmn_mpi --help)\n", a);
      return 2;
    } else if (a[0] == '-') {
      /* single-dash: a PETSc option (-log_view, ...); skip its value if any */
      if (i + 1 < argc && argv[i + 1][0] != '-') i++;
    } else if (!o->config_path) {
      o->config_path = a;
    } else {
      if (!rank_world()) fprintf(stderr, "dmn_mpi: error: more than one config file given ('%s' and '%s')\n", o->config_path, a);
      return 2;
    }
#undef NEED_VALUE
  }
  return 0;
}

/* Rank 0 reads the file; everyone parses the same bytes, so everyone reaches
 * the same verdict and exits together. */
static int load_config(const CliOptions *o, DmnConfig *cfg, char err[DMN_ERR_MAX]) {
  config_defaults(cfg);
  /* the sweep condition is chosen before parsing: its lesions and keys are
   * applied by the parser on top of the file */
  cfg->sweep_index = (int)o->sweep_index;
  const char *task = getenv("SLURM_ARRAY_TASK_ID");
  if (cfg->sweep_index < 0 && task && *task) cfg->sweep_index = atoi(task);
  if (o->config_path) {
    long len = 0;
    char *buf = NULL;
    char msg[DMN_ERR_MAX] = "";
    if (!rank_world()) {
      size_t got = 0;
      buf = util_read_text_file(o->config_path, "config file", DMN_CONFIG_MAX_BYTES, &got, msg, sizeof msg);
      len = buf ? (long)got : -1;
    }
    DMN_MPI(MPI_Bcast(&len, 1, MPI_LONG, 0, MPI_COMM_WORLD));
    if (len < 0) {
      DMN_MPI(MPI_Bcast(msg, DMN_ERR_MAX, MPI_CHAR, 0, MPI_COMM_WORLD));
      snprintf(err, DMN_ERR_MAX, "%s", msg);
      return 1;
    }
    if (rank_world()) buf = malloc((size_t)len + 1);
    DMN_MPI(MPI_Bcast(buf, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD));
    buf[len] = 0;
    config_set_origin(cfg, o->config_path);
    int rc = config_parse_text(cfg, buf, (size_t)len, o->config_path, err);
    free(buf);
    if (rc) return 1;
  } else {
    snprintf(cfg->name, sizeof cfg->name, "default");
  }
  for (int i = 0; i < o->n_sets; i++)
    if (config_set(cfg, o->sets[i], err)) return 1;
  if (o->duration > 0) cfg->sim_steps = (long)(o->duration * 1000.0 / cfg->sim_dt + 0.5);
  if (o->episodes > 0) cfg->sim_episodes = o->simulate ? o->episodes : cfg->sim_episodes;
  if (o->episodes > 0 && !o->simulate) cfg->train_episodes = o->episodes;
  return config_validate(cfg, err);
}

static void print_versions(void) {
  char mpi_ver[MPI_MAX_LIBRARY_VERSION_STRING];
  int len;
  DMN_MPI(MPI_Get_library_version(mpi_ver, &len));
  char *nl = strchr(mpi_ver, ',');
  if (nl) *nl = 0;
  char petsc_ver[256];
  PetscGetVersion(petsc_ver, sizeof petsc_ver);
  unsigned maj, min, rel;
  H5get_libversion(&maj, &min, &rel);
  printf("dmn %s (git %s)\n", DMN_VERSION, DMN_GIT_HASH);
  printf("  MPI:     %s\n", mpi_ver);
  printf("  PETSc:   %s (%s scalars, %d-bit indices)\n", petsc_ver, sizeof(PetscScalar) == sizeof(double) ? "real double" : "other",
         (int)sizeof(PetscInt) * 8);
  printf("  HDF5:    %u.%u.%u (%s)\n", maj, min, rel,
#ifdef H5_HAVE_PARALLEL
         "parallel"
#else
         "serial"
#endif
  );
  printf("  libyaml: %s\n", yaml_get_version_string());
}

/* Open file descriptors of this process (Linux /proc; -1 elsewhere). */
static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

/* What a cluster user sizes the next job by, and what a leak would show:
 * peak memory per rank, and HDF5 objects or file descriptors left open
 * (both 0 after a clean run; tested by the soak run). */
static void report_resources(int fds_at_start) {
  int rank, size;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  DMN_MPI(MPI_Comm_size(MPI_COMM_WORLD, &size));
  struct {
    double mb;
    int rank;
  } mine = {util_peak_rss_mb(), rank}, peak;
  double sum = 0;
  DMN_MPI(MPI_Reduce(&mine, &peak, 1, MPI_DOUBLE_INT, MPI_MAXLOC, 0, MPI_COMM_WORLD));
  DMN_MPI(MPI_Reduce(&mine.mb, &sum, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD));
  long open[2] = {(long)H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), fds_at_start >= 0 ? (long)(open_fds() - fds_at_start) : 0}, total[2];
  DMN_MPI(MPI_Reduce(open, total, 2, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD));
  if (rank) return;
  printf("Peak memory per rank: %.1f MB (rank %d), mean %.1f MB over %d rank%s\n", peak.mb, peak.rank, sum / size, size, size > 1 ? "s" : "");
  if (total[0] > 0 || total[1] > 0)
    fprintf(stderr, "dmn_mpi: warning: left open at exit: %ld HDF5 objects, %ld file descriptors more than at start (a leak: please report)\n",
            total[0], total[1]);
  fflush(stdout);
}

int cli_main(int argc, char **argv) {
  /* PETSc sees only single-dash options (-log_view ...); ours are --long. */
  char **pargv = malloc(sizeof(char *) * (size_t)(argc + 1));
  int pargc = 0;
  pargv[pargc++] = argv[0];
  for (int i = 1; i < argc; i++)
    if (argv[i][0] == '-' && argv[i][1] != '-') {
      pargv[pargc++] = argv[i];
      if (i + 1 < argc && argv[i + 1][0] != '-') pargv[pargc++] = argv[++i];
    }
  pargv[pargc] = NULL;
  PetscErrorCode ierr = PetscInitialize(&pargc, &pargv, NULL, NULL);
  if (ierr) return 1;
  /* a file-size limit (ulimit -f, a quota enforced that way) must be a
   * write error that names the file, not a core dump: writes then fail
   * with EFBIG and the HDF5 layer reports them */
  signal(SIGXFSZ, SIG_IGN);
  /* MPI errors come back to the caller, and DMN_MPI (par.h) reports them
   * with the call and the line before aborting every rank */
  DMN_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  if (episode_register_events()) return 1;
  int rank;
  DMN_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  const int fds_at_start = open_fds();
  CliOptions o;
  int code = parse_args(argc, argv, &o);
  if (code) goto out;
  if (o.help) {
    if (!rank) usage(stdout);
    goto out;
  }
  if (o.version) {
    if (!rank) print_versions();
    goto out;
  }
  if (o.config_reference) {
    if (!rank) {
      char *md = config_reference_markdown();
      fputs(md, stdout);
      free(md);
    }
    goto out;
  }
  DmnConfig cfg;
  char err[DMN_ERR_MAX] = "";
  if (load_config(&o, &cfg, err)) {
    if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
    code = 2;
    goto out;
  }
  int compute = !(o.print_config || o.verify || o.connectome_info || o.sweep_list);
  if (!cfg.n_sweep && o.sweep_index >= 0) {
    if (!rank) fprintf(stderr, "dmn_mpi: error: --sweep-index %ld given, but %s has no sweep: list\n", o.sweep_index, cfg.path[0] ? cfg.path : "the config");
    code = 2;
    goto out;
  }
  const int n_tasks = config_sweep_tasks(&cfg);
  if (cfg.n_sweep && cfg.sweep_index < 0 && compute) {
    if (!rank)
      fprintf(stderr, "dmn_mpi: error: %s has a sweep of %d task%s: pass --sweep-index I (0 .. %d) or run as a Slurm array task "
                      "(sbatch --array=0-%d); --sweep-list shows them\n", cfg.path, n_tasks, n_tasks == 1 ? "" : "s", n_tasks - 1,
              n_tasks - 1);
    code = 2;
    goto out;
  }
  if (o.sweep_list) {
    if (!rank) {
      if (!cfg.n_sweep) {
        printf("%s has no sweep: list (one condition: the config itself)\n", cfg.path[0] ? cfg.path : "the config");
      } else {
        if (n_tasks > cfg.n_sweep)
          printf("%s: %d sweep tasks (%d condition%s x %d seeds: %s)\n", cfg.path, n_tasks, cfg.n_sweep, cfg.n_sweep == 1 ? "" : "s",
                 n_tasks / cfg.n_sweep, cfg.sim_sweep_seeds);
        else
          printf("%s: %d sweep tasks (%d condition%s)\n", cfg.path, n_tasks, cfg.n_sweep, cfg.n_sweep == 1 ? "" : "s");
        for (int i = 0; i < n_tasks; i++) {
          char task[DMN_NAME_MAX + 32];
          config_sweep_task_name(&cfg, i, task, sizeof task);
          printf("  %3d  %s\n", i, task);
        }
        printf("Slurm: sbatch --array=0-%d jobs/sweep.sbatch %s   (or jobs/submit_sweep.sh %s)\n", n_tasks - 1, cfg.path, cfg.path);
      }
    }
    goto out;
  }
  if (o.print_config) {
    if (!rank) {
      char *y = config_to_yaml(&cfg);
      fputs(y, stdout);
      free(y);
    }
  } else if (o.connectome_info) {
    DmnConnectome conn;
    double secs = 0;
    if (run_build_connectome(&cfg, &conn, &secs, err)) {
      if (!rank) fprintf(stderr, "dmn_mpi: error: %s\n", err);
      code = 2;
    } else {
      if (!rank) {
        char *txt = connectome_summary(&conn);
        fputs(txt, stdout);
        printf("Built in %.2f s; peak memory of rank 0 %.1f MB\n", secs, util_peak_rss_mb());
        free(txt);
      }
      connectome_free(&conn);
    }
  } else if (o.verify) {
    code = run_verify(&cfg, &o);
  } else if (cfg.body_kind == DMN_BODY_NEUROMECHFLY && !o.evaluate && !o.nir_ckpt && !o.calibrate) {
    if (!rank)
      fprintf(stderr, "dmn_mpi: error: %s: body.kind neuromechfly is forward only (MuJoCo has no gradient): train with body.kind reduced, "
                      "then --evaluate CKPT --body neuromechfly\n", cfg.path[0] ? cfg.path : "config");
    code = 2;
  } else if (o.simulate) {
    ierr = run_simulate(&cfg, &o, &code);
  } else if (o.grad_check || o.dump || o.loss_only) {
    ierr = run_gradient_modes(cfg, &o, &code);
  } else if (o.evaluate) {
    ierr = run_evaluate(&cfg, &o, &code);
  } else if (o.nir_ckpt) {
    ierr = run_export_nir(&cfg, &o, &code);
  } else if (o.calibrate) {
    ierr = run_calibrate(&cfg, &o, &code);
  } else {
    ierr = run_train(&cfg, &o, &code);
  }
  if (ierr) {
    /* a PETSc error in a collective phase: take every rank down, never hang */
    fprintf(stderr, "dmn_mpi: internal error (PETSc code %d) on rank %d\n", (int)ierr, rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (compute && !code && !o.print_config && !o.connectome_info && !o.verify) report_resources(fds_at_start);
out:
  fflush(stdout);
  PetscFinalize();
  free(pargv);
  return code;
}
