/* gradcheck — finite-difference proof of the BPTT gradient (like PETSc's
 * -tao_test_gradient): every entry of small groups, a seeded random subset
 * of large ones, and one random direction through all parameters. */
#ifndef DMN_GRADCHECK_H
#define DMN_GRADCHECK_H

#include "episode.h"

typedef struct GradCheckOptions {
  int max_per_group; /* entries checked per group (all if the group is smaller) */
  double h_rel;      /* finite-difference step (absolute), 4-point stencil */
  double tol;        /* pass if every relative error is below tol */
  unsigned long seed;
} GradCheckOptions;

typedef struct GradCheckResult {
  double max_rel[DMN_NGROUP];   /* worst entry error per group */
  double norm_rel[DMN_NGROUP];  /* ||g - g_fd|| / ||g|| over the checked entries */
  int n_checked[DMN_NGROUP];
  size_t worst_index;           /* flat index of the worst entry */
  double worst_rel, worst_g, worst_fd;
  double dir_rel;               /* random-direction error */
  double loss;
  int pass;
} GradCheckResult;

GradCheckOptions gradcheck_defaults(void);

/* Loss of one episode at parameters p (derived recomputed). */
PetscErrorCode gradcheck_loss(const DmnModel *m, const DmnParams *p, DmnDerived *d, const double p0[2], double psi0, DmnTape *t,
                              DmnWork *w, double *loss, char err[DMN_ERR_MAX]);

/* Analytic gradient g (zeroed here) and loss at p. */
PetscErrorCode gradcheck_gradient(const DmnModel *m, const DmnParams *p, DmnDerived *d, const double p0[2], double psi0, DmnTape *t,
                                  DmnWork *w, DmnParams *g, double *loss, char err[DMN_ERR_MAX]);

/* Compare a given gradient g with finite differences of the loss at p. */
PetscErrorCode gradcheck_compare(const DmnModel *m, const DmnParams *p, const DmnParams *g, const double p0[2], double psi0,
                                 const GradCheckOptions *o, GradCheckResult *res, char err[DMN_ERR_MAX]);

/* Print the per-group table (rank-0 caller). */
void gradcheck_print(const DmnModel *m, const GradCheckResult *r, const GradCheckOptions *o);

#endif
