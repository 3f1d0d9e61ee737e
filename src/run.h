/* run — dmn_mpi's modes (run.c), called by the command line (cli.c). */
#ifndef DMN_RUN_H
#define DMN_RUN_H

#include <petscsys.h>

#include "config.h"
#include "connectome.h"

#define MAX_SETS 256

typedef struct CliOptions {
  const char *config_path;
  const char *sets[MAX_SETS];
  int n_sets;
  const char *out_dir, *resume, *init, *dump, *evaluate, *nir_ckpt, *nir_out;
  const char *calibrate; /* --calibrate-body TARGET: neuromechfly or reduced */
  int help, version, print_config, config_reference, verify, simulate, grad_check, loss_only, connectome_info;
  double duration;
  long episodes, grad_steps, stop_after;
  long sweep_index; /* -1: none given */
  int sweep_list;
} CliOptions;

int run_verify(const DmnConfig *cfg, const CliOptions *o);
int run_build_connectome(const DmnConfig *cfg, DmnConnectome *conn, double *secs, char err[DMN_ERR_MAX]);
PetscErrorCode run_simulate(const DmnConfig *cfg, const CliOptions *o, int *exit_code);
PetscErrorCode run_gradient_modes(DmnConfig cfg, const CliOptions *o, int *exit_code);
PetscErrorCode run_export_nir(const DmnConfig *cfg, const CliOptions *o, int *exit_code);
PetscErrorCode run_evaluate(const DmnConfig *cfg, const CliOptions *o, int *exit_code);
PetscErrorCode run_train(const DmnConfig *cfg, const CliOptions *o, int *exit_code);
PetscErrorCode run_calibrate(const DmnConfig *cfg, const CliOptions *o, int *exit_code);

#endif
