/* bodyeval — the NeuroMechFly body in the closed loop (src/MODEL.md §5b):
 * a trained circuit evaluated in both bodies from the same held-out starts
 * (--evaluate CKPT --body neuromechfly), and the reduced body's constants
 * fitted to NeuroMechFly's walking (--calibrate-body).  Collective over comm;
 * episodes and drives are spread over the ranks. */
#ifndef DMN_BODYEVAL_H
#define DMN_BODYEVAL_H

#include <mpi.h>
#include <petscsys.h>

#include "io.h"
#include "model.h"
#include "nmf.h"

void bodyeval_options(const DmnConfig *cfg, NmfOptions *o);

/* The comparison of the two bodies on body.nmf_eval_episodes held-out starts
 * (the first ones of the reduced evaluation's stream). */
typedef struct DmnBodyComparison {
  const DmnModel *m;
  int n, n_traj, T;
  double *start;                                          /* (n x 3) x0, y0, psi0 */
  double *final_distance[2], *mean_distance[2], *path[2], *seconds[2]; /* [0] reduced, [1] NeuroMechFly */
  double *health;                                         /* (n x 8) NeuroMechFly: nonfinite, flipped, sunk, contacts_full, max_contacts, error, min_up, min_foot_z */
  double success[2], median_final[2];
  int unhealthy;
  double physics_steps_per_s, memory_mb;
  DmnEpisodeRecord *traj[2];                              /* rank 0: (n_traj) each */
  char problem[256];                                      /* the first unhealthy episode's problem */
} DmnBodyComparison;

/* failed: a rank could not run an episode (message printed); *uerr: the body
 * could not be set up (bad folder, no MuJoCo: message printed, exit 2). */
PetscErrorCode bodyeval_compare(const DmnModel *m, const DmnParams *p, MPI_Comm comm, DmnBodyComparison *out, int *failed, int *uerr);
void bodyeval_print(const DmnBodyComparison *c);
/* /neuromechfly in the evaluation file (DmnResultsExtra.write). */
void bodyeval_write_h5(void *h5ctx, int64_t file, void *arg);
void bodyeval_free(DmnBodyComparison *c);

/* --calibrate-body [neuromechfly | reduced]: forward speed and yaw rate over
 * a grid of constant drives in the target body, the reduced body's
 * amplitude, traction and turn gain fitted to them (frequency set to the
 * target's), the fit printed and written as a config snippet to out_yaml.
 * Target reduced = the reduced body with the config's constants, the fit
 * starting from MODEL §5's: a self-consistency check that must recover them. */
PetscErrorCode bodyeval_calibrate(const DmnConfig *cfg, const char *target, const char *out_yaml, MPI_Comm comm, int *exit_code);

#endif
