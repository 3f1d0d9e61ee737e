/* io — HDF5 files: simulation output, gradient dumps / parameter files, and
 * the collective-write check of --verify.  Every failure names the file and
 * the dataset.  Files are written to PATH.tmp and renamed into place, so a
 * killed job never leaves a half-written file under the final name. */
#ifndef DMN_IO_H
#define DMN_IO_H

#include <mpi.h>
#include <petscsys.h>

#include "episode.h"
#include "model.h"
#include "optim.h"
#include "trainstate.h"

/* Output files carry format_version; checksums (attribute fnv1a64 on each
 * parameter / optimizer dataset, /population/row_fnv1a64) since format 2. */
#define DMN_FORMAT_VERSION 2

/* Compact per-episode record for output (owned by the rank that ran it). */
typedef struct DmnEpisodeRecord {
  long episode;
  int T;
  double *position; /* (T x 3) mm */
  double *heading;  /* (T) rad, unwrapped */
  double *odor;     /* (T x 2) concentration at left / right antenna */
  double *drive;    /* (T x 2) descending drive (left, right) */
  double *joints;   /* (T x n_joint) reduced body: q1 q2 q3 per leg LF LM LH RF RM RH (18); NeuroMechFly: its 42 leg joints, rad */
  double *contact;  /* (T x 6) reduced body: stance weights; NeuroMechFly: leg-floor contacts per leg */
  int n_joint;      /* columns of joints */
  int body_kind;    /* DMN_BODY_* the episode ran in (position z: NeuroMechFly's thorax height) */
  int n_spikes[DMN_NLAYER];
  int *spike_step[DMN_NLAYER], *spike_id[DMN_NLAYER];
  double rate_hz[DMN_NLAYER];
  DmnLoss loss;
  DmnMetrics metrics;
  double start[3]; /* x0, y0, psi0 */
  double seconds;  /* wall time of the episode on its rank */
} DmnEpisodeRecord;

void record_from_tape(const DmnModel *m, const DmnTape *t, long episode, DmnEpisodeRecord *r);
void record_free(DmnEpisodeRecord *r);
/* Ship a record to rank `dest` / receive one from `src` (T known to both). */
PetscErrorCode record_send(const DmnEpisodeRecord *r, int dest, MPI_Comm comm);
PetscErrorCode record_recv(const DmnModel *m, DmnEpisodeRecord *r, int src, MPI_Comm comm);

/* Episode e runs on rank e % size and sits in local[e / size] there.  Moves
 * the records of episodes 0..n-1 into all[] on rank 0, in episode order
 * (each sender sends in increasing e, so the order of messages matches). */
PetscErrorCode record_gather(const DmnModel *m, DmnEpisodeRecord *local, long n, MPI_Comm comm, DmnEpisodeRecord *all);

/* simulation_data.h5: /episode_NNNN/... for every episode and top-level
 * links to episode 0 (position, heading, odor_input, dn_drive, ...). */
int io_write_simulation(const char *path, const DmnModel *m, const DmnEpisodeRecord *recs, int n, const char *config_yaml,
                        char err[DMN_ERR_MAX]);

/* /params/<name> and (if g) /grads/<name>, /loss, /config. */
int io_write_params(const char *path, const DmnModel *m, const DmnParams *p, const DmnParams *g, double loss,
                    const char *config_yaml, char err[DMN_ERR_MAX]);
int io_read_params(const char *path, const DmnModel *m, DmnParams *p, char err[DMN_ERR_MAX]);
/* The parameters a run's evaluation judged: a checkpoint's /average
 * (train.average) when it has one (*from_average = 1), else /params. */
int io_read_trained_params(const char *path, const DmnModel *m, DmnParams *p, int *from_average, char err[DMN_ERR_MAX]);

/* Each rank writes its slice of one dataset collectively in dir, reads it
 * back and removes the file.  Collective over comm. */
int io_verify_collective(const char *dir, MPI_Comm comm, char err[DMN_ERR_MAX]);

/* checkpoint.h5, written collectively by every rank of comm (MPI-IO) to
 * PATH.tmp, then renamed by rank 0 after all ranks closed it: parameters,
 * Adam moments, counters, history, the connectome, the config, versions. */
int io_checkpoint_write(const char *path, MPI_Comm comm, const DmnModel *m, const DmnParams *p, const DmnAdam *a,
                        const DmnTrainState *st, const char *config_yaml, char err[DMN_ERR_MAX]);
/* Read a checkpoint into p (and a, st when not NULL); sizes must match m. */
/* PATH.prev.h5 of PATH.h5 (PATH.prev otherwise): where a checkpoint write
 * keeps the previous checkpoint. */
void io_prev_path(const char *path, char *out, size_t n);
long io_checkpoint_update(const char *path); /* its "update" attribute; -1 when unreadable */
int io_checkpoint_read(const char *path, const DmnModel *m, DmnParams *p, DmnAdam *a, DmnTrainState *st, char err[DMN_ERR_MAX]);

/* Population checkpoint (evolution): what every rank knows (genomes,
 * lineage) and each group's individual.  One collective write: the leader of
 * each group writes its slot's row of /population/params, adam_m, adam_v,
 * history and structure; rank 0 the replicated parts. */
typedef struct DmnPopulationIO {
  int P, slot, writer;  /* writer: this rank writes its slot's rows */
  long generation;      /* generations done */
  long next_id;         /* id of the next replacement */
  DmnGenome *genomes;   /* (P) */
  DmnEvolutionLog *log;
} DmnPopulationIO;
int io_population_write(const char *path, MPI_Comm world, const DmnModel *base, const DmnModel *mine, const DmnParams *p, const DmnAdam *a,
                        const DmnTrainState *st, const DmnPopulationIO *pop, const char *config_yaml, char err[DMN_ERR_MAX]);
/* Read slot's individual (p, a, st) and everything replicated (genomes (P),
 * log, generation, next_id). */
int io_population_read(const char *path, const DmnModel *m, int P, int slot, DmnParams *p, DmnAdam *a, DmnTrainState *st, long *generation,
                       long *next_id, DmnGenome *genomes, DmnEvolutionLog *log, char err[DMN_ERR_MAX]);

/* results.h5 (rank 0): history, evaluations (trained, initial, constant-odor
 * control), evaluation trajectories, config.  st = NULL (--evaluate's
 * evaluation.h5): no history. */
int io_write_results(const char *path, const DmnModel *m, const DmnTrainState *st, const DmnEvalSummary *trained,
                     const DmnEvalSummary *initial, const DmnEvalSummary *control, const DmnEvalSummary *intact, const DmnEvalSummary *best,
                     const DmnRadiiTable *radii, const DmnEpisodeRecord *traj, int n_traj, const DmnEvolutionLog *evo, const char *config_yaml,
                     char err[DMN_ERR_MAX]);
/* What a mode adds to its results file before the file is renamed into
 * place (--evaluate --body neuromechfly: /neuromechfly).  h5ctx is the
 * writer's H5Ctx (h5util.h), file its hid_t. */
typedef struct DmnResultsExtra {
  void (*write)(void *h5ctx, int64_t file, void *arg);
  void *arg;
} DmnResultsExtra;
int io_write_results_extra(const char *path, const DmnModel *m, const DmnEvalSummary *trained, const DmnEvalSummary *initial,
                           const DmnEvalSummary *control, const DmnRadiiTable *radii, const DmnEpisodeRecord *traj, int n_traj,
                           const char *config_yaml, const DmnResultsExtra *extra, char err[DMN_ERR_MAX]);
/* training_results.json as the seed wrote it (training_losses, final_metrics). */
int io_write_training_json(const char *path, const DmnTrainState *st, const DmnEvalSummary *trained, const DmnEvalSummary *initial,
                           const DmnEvalSummary *control, const DmnEvalSummary *intact, const DmnEvalSummary *best, const DmnRadiiTable *radii,
                           char err[DMN_ERR_MAX]);

/* mkdir -p */
int io_mkdirs(const char *dir, char err[DMN_ERR_MAX]);

#endif
