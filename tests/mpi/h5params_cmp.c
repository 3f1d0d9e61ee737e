/* h5params_cmp A.h5 B.h5 [--exact | --tol REL]: compare /params/<group> of
 * two dmn files (checkpoints or gradient dumps).  Prints the max absolute
 * and relative difference; exit 0 if bitwise equal (--exact) or within REL. */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static double *read_all(hid_t f, const char *name, hssize_t *n) {
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  if (ds < 0) return NULL;
  hid_t sp = H5Dget_space(ds);
  *n = H5Sget_simple_extent_npoints(sp);
  double *x = malloc(sizeof(double) * (size_t)(*n + 1));
  if (*n > 0 && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0) *n = -1;
  H5Sclose(sp);
  H5Dclose(ds);
  return x;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: h5params_cmp A.h5 B.h5 [--exact | --tol REL]\n");
    return 2;
  }
  int exact = argc > 3 && !strcmp(argv[3], "--exact");
  double tol = argc > 4 && !strcmp(argv[3], "--tol") ? atof(argv[4]) : 0.0;
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t a = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT), b = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (a < 0 || b < 0) {
    fprintf(stderr, "cannot open %s\n", a < 0 ? argv[1] : argv[2]);
    return 2;
  }
  double max_abs = 0, max_rel = 0;
  long n_diff = 0, n_total = 0;
  for (int k = 0; k < DMN_NGROUP; k++) {
    char name[128];
    snprintf(name, sizeof name, "/params/%s", dmn_group_names[k]);
    hssize_t na, nb;
    double *x = read_all(a, name, &na), *y = read_all(b, name, &nb);
    if (!x || !y || na != nb || na < 0) {
      fprintf(stderr, "%s: missing or different size\n", name);
      return 2;
    }
    for (hssize_t i = 0; i < na; i++) {
      double d = fabs(x[i] - y[i]);
      n_diff += memcmp(&x[i], &y[i], sizeof(double)) != 0;
      max_abs = fmax(max_abs, d);
      max_rel = fmax(max_rel, d / fmax(fabs(x[i]), 1e-300 + fabs(y[i])));
    }
    n_total += na;
    free(x);
    free(y);
  }
  printf("%ld of %ld parameters differ; max |diff| %.3e, max rel %.3e\n", n_diff, n_total, max_abs, max_rel);
  if (exact) return n_diff == 0 ? 0 : 1;
  return max_rel <= tol ? 0 : 1;
}
