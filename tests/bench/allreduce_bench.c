/* allreduce_bench [N_DOUBLES] — time of the one MPI_Allreduce per update
 * (the flat gradient + statistics vector, MPI_SUM) at this rank count:
 * median of 50 after 5 warm-ups.  tests/bench/scaling.sh runs it at 2-8
 * ranks and turns it into the scaling model of README "Performance". */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  long n = argc > 1 ? atol(argv[1]) : 55444 + 20;
  double *x = malloc(sizeof(double) * (size_t)n), t[50];
  for (long i = 0; i < n; i++) x[i] = rank + 1e-3 * (double)i;
  for (int r = 0; r < 55; r++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double dt = MPI_Wtime() - t0;
    MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (r >= 5) t[r - 5] = dt;
  }
  qsort(t, 50, sizeof(double), cmp);
  if (!rank) printf("%d ranks: allreduce of %ld doubles (%.0f KB): median %.1f us, min %.1f us\n", size, n, n * 8 / 1024.0, 1e6 * t[25], 1e6 * t[0]);
  free(x);
  MPI_Finalize();
  return 0;
}
