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
  long stop_after;     /* stop cleanly (with a checkpoint) after this many updates in this run; 0 = no limit */
  const DmnModel *intact; /* lesion study: the unlesioned circuit, evaluated with the starting parameters; or NULL */
} TrainOptions;

/* Train m from p (the initial parameters; updated in place).  Collective.
 * exit_code: 0 ok, 1 runtime failure (non-finite values, I/O), 2 bad input. */
PetscErrorCode train_run(const DmnModel *m, DmnParams *p, MPI_Comm comm, const TrainOptions *o, int *exit_code);

/* Evaluate p on cfg.train.eval_episodes held-out starts (own stream),
 * spread over ranks; out is complete on every rank.  n_traj (the same on
 * every rank) > 0 gathers the first n_traj episodes' records into traj on
 * rank 0 (traj may be NULL elsewhere).  tape/work: the caller's, or NULL. */
PetscErrorCode train_evaluate(const DmnModel *m, const DmnParams *p, MPI_Comm comm, DmnEvalSummary *out, DmnEpisodeRecord *traj,
                              int n_traj, DmnTape *tape, DmnWork *work, int *failed);

/* The constant-odor control: the same model sensing a fixed concentration
 * (that of the start circle) whatever the pose.  A shallow, read-only copy. */
DmnModel train_control_model(const DmnModel *m);

void train_print_eval_table(const DmnEvalSummary *trained, const DmnEvalSummary *initial, const DmnEvalSummary *control);

#endif
