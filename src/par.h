/* par — the parallel layer: every MPI call of the engine goes through
 * DMN_MPI, which checks its return code (MPI_COMM_WORLD returns errors
 * instead of aborting inside the library, cli.c) and on failure names the
 * call, the file and line and MPI's message on stderr, then takes every
 * rank down with MPI_Abort — never a silent wrong value or a hang.  Plus the
 * agreements the engine needs more than once. */
#ifndef DMN_PAR_H
#define DMN_PAR_H

#include <mpi.h>

#include "config.h"

void par_fail(int rc, const char *call, const char *file, int line);
static inline void par_check(int rc, const char *call, const char *file, int line) {
  if (rc != MPI_SUCCESS) par_fail(rc, call, file, line);
}
#define DMN_MPI(call) par_check((call), #call, __FILE__, __LINE__)

int par_rank(MPI_Comm comm);
int par_size(MPI_Comm comm);

/* Every rank learns whether rc is nonzero on any rank, and the message of
 * the lowest failing rank in err (rank 0 prints it).  Returns 1 if any failed. */
int par_agree_error(int rc, char err[DMN_ERR_MAX], MPI_Comm comm);

#endif
