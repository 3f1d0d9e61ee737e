/* train — BPTT training across MPI ranks (MODEL §7) and evaluation on
 * held-out start poses.  Every rank of the communicator holds the same
 * parameters; update u uses the global episodes u*G .. u*G+G-1 (G =
 * batch_per_rank x ranks), rank r the slice r*B .. r*B+B-1 of them, so a
 * fixed G gives the same episodes for any rank count. */
#ifndef DMN_TRAIN_H
#define DMN_TRAIN_H

#include <mpi.h>

#include "io.h"

typedef struct TrainOptions {
  const char *run_dir; /* where checkpoint.h5, results.h5, training_results.json go */
  const char *resume;  /* checkpoint to continue from, or NULL */
  long stop_after;     /* stop cleanly (with a checkpoint) after this many updates (evolution: generations) in this run; 0 = no limit */
  const DmnModel *intact; /* lesion study: the unlesioned circuit, evaluated with the starting parameters; or NULL */
} TrainOptions;

/* Train m from p (the initial parameters; updated in place).  Collective.
 * exit_code: 0 ok, 1 runtime failure (non-finite values, I/O), 2 bad input. */
PetscErrorCode train_run(const DmnModel *m, DmnParams *p, MPI_Comm comm, const TrainOptions *o, int *exit_code);

/* Buffers of an update loop (derived weights, tape, workspace, gradient). */
#define DMN_TRAIN_NSTAT (11 + DMN_NLAYER)
typedef struct DmnTrainer {
  DmnDerived d;
  DmnTape t;
  DmnWork w;
  DmnParams g;
  double *red; /* gradient + statistics, one allreduce */
} DmnTrainer;
PetscErrorCode trainer_create(const DmnModel *m, DmnTrainer *tr);
PetscErrorCode trainer_destroy(DmnTrainer *tr);

/* The start pose of training episode e of an individual (train.mirror_pairs
 * aware); the same for any rank count. */
void train_start_pose(const DmnModel *m, long individual, long e, double p0[2], double *psi0);

/* One update u of one individual on comm (collective): every rank runs its
 * batch_per_rank episodes (global episode u*G + rank*B + b, start poses keyed
 * by (individual, episode)), the gradient is averaged, clipped and Adam
 * steps.  row/gn: the history row.  exit_code 1 = runtime failure (reported). */
PetscErrorCode train_update(const DmnModel *m, DmnTrainer *tr, DmnParams *p, DmnAdam *adam, long u, long individual, MPI_Comm comm,
                            double row[DMN_NHCOL], double gn[DMN_NGROUP], int *exit_code);

/* FNV-1a over the parameter bytes, and whether every rank of comm holds the same bits. */
uint64_t train_params_checksum(const DmnParams *p);
int train_params_agree(const DmnParams *p, MPI_Comm comm, uint64_t *lo, uint64_t *hi);

/* SIGTERM/SIGUSR1/SIGUSR2 request a clean stop; train_stop_requested is
 * collective (a signal on any rank stops all at the same point). */
void train_catch_signals(void);
int train_stop_requested(MPI_Comm comm);

/* --resume PATH: read(PATH) on every rank; if it fails on any (missing,
 * truncated, a checksum), read PATH.prev.h5 instead, with a warning that
 * says so and how many updates are redone.  *used: the path read.  Returns
 * 0 when one of them was read on every rank (rank 0 printed the errors
 * otherwise). */
typedef int (*DmnResumeRead)(const char *path, void *ctx, long *update, char err[DMN_ERR_MAX]);
int train_resume_read(const char *path, MPI_Comm comm, DmnResumeRead read, void *ctx, const char **used);
void train_fmt_time(double s, char *buf, size_t n);

/* The end of a run: evaluate p (trained), init (untrained) and the
 * constant-odor control, print the table, write results.h5 (+ /evolution
 * when evo) and training_results.json.  Collective. */
PetscErrorCode train_report(const DmnModel *m, const DmnParams *p, const DmnParams *init, const DmnTrainState *st, MPI_Comm comm,
                            const TrainOptions *o, DmnTrainer *tr, const DmnEvolutionLog *evo, int *exit_code);

/* Evaluate p on cfg.train.eval_episodes held-out starts (own stream),
 * spread over ranks; out is complete on every rank.  n_traj (the same on
 * every rank) > 0 gathers the first n_traj episodes' records into traj on
 * rank 0 (traj may be NULL elsewhere).  tape/work: the caller's, or NULL. */
PetscErrorCode train_evaluate(const DmnModel *m, const DmnParams *p, MPI_Comm comm, DmnEvalSummary *out, DmnEpisodeRecord *traj,
                              int n_traj, DmnTape *tape, DmnWork *work, int *failed);

/* The constant-odor control: the same model sensing a fixed concentration
 * (that of the start circle) whatever the pose.  A shallow, read-only copy. */
/* The same over n episodes of start-pose stream (stream, key). */
PetscErrorCode train_evaluate_set(const DmnModel *m, const DmnParams *p, MPI_Comm comm, int stream, long key, int n, DmnEvalSummary *out,
                                  DmnEpisodeRecord *traj, int n_traj, DmnTape *tape, DmnWork *work, int *failed);

DmnModel train_control_model(const DmnModel *m);

/* train.eval_radii: the parameters p evaluated on train.eval_episodes starts
 * at each listed distance (the held-out stream, radius fixed); rank 0 prints
 * a table.  *failed as train_evaluate. */
PetscErrorCode train_evaluate_radii(const DmnModel *m, const DmnParams *p, MPI_Comm comm, DmnTape *tape, DmnWork *work, DmnRadiiTable *out,
                                    int *failed);

void train_print_eval_table(const DmnEvalSummary *trained, const DmnEvalSummary *initial, const DmnEvalSummary *control);
/* The same with a row for best.h5's parameters (best NULL: none) and the
 * trained row's label (NULL: "trained"). */
void train_print_eval_table_best(const DmnEvalSummary *trained, const DmnEvalSummary *initial, const DmnEvalSummary *control,
                                 const DmnEvalSummary *best, long best_update, const char *trained_label);

#endif
