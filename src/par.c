#include "par.h"

#include <stdio.h>

void par_fail(int rc, const char *call, const char *file, int line) {
  char msg[MPI_MAX_ERROR_STRING] = "";
  int len = 0, rank = -1;
  MPI_Error_string(rc, msg, &len);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fprintf(stderr, "dmn_mpi: MPI error on rank %d in %s (%s:%d): %s\n", rank, call, file, line, msg);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 3);
}

int par_rank(MPI_Comm comm) {
  int r;
  DMN_MPI(MPI_Comm_rank(comm, &r));
  return r;
}

int par_size(MPI_Comm comm) {
  int s;
  DMN_MPI(MPI_Comm_size(comm, &s));
  return s;
}

int par_agree_error(int rc, char err[DMN_ERR_MAX], MPI_Comm comm) {
  const int size = par_size(comm);
  int first = rc ? par_rank(comm) : size;
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == size) return 0;
  DMN_MPI(MPI_Bcast(err, DMN_ERR_MAX, MPI_CHAR, first, comm));
  return 1;
}
