/* h5util — HDF5 helpers shared by io.c, checkpoint.c and results.c
 * (internal to the library; the public interface is io.h). */
#ifndef DMN_H5UTIL_H
#define DMN_H5UTIL_H

#include <hdf5.h>
#include <mpi.h>

#include "io.h"

/* ---- HDF5 helpers (every call checked; messages name file and object) ---- */

typedef struct {
  const char *path;
  char *err;
  int failed;
  int collective; /* a file written by every rank of comm (checkpoints) */
  MPI_Comm comm;
} H5Ctx;

/* /connectome in every output: serial files write directly, the collective
 * checkpoint through cwrite (rank 0 holds the data). */
typedef struct {
  int collective, rank;
  hid_t xfer;
} Writer;

void h5u_write_ds(H5Ctx *c, hid_t loc, const char *name, hid_t mem_type, const void *data, int rank, const hsize_t *dims);
void h5u_write_d1(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n);
void h5u_write_d2(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n0, hsize_t n1);
void h5u_write_str_attr(H5Ctx *c, hid_t loc, const char *name, const char *s);
void h5u_write_num_attr(H5Ctx *c, hid_t loc, const char *name, double v);
void h5u_write_sum_attr(H5Ctx *c, hid_t loc, const char *ds_name, uint64_t sum);
int h5u_check_sum_attr(hid_t ds, const char *path, const char *name, const void *x, size_t bytes, char err[DMN_ERR_MAX]);
int h5u_check_format(hid_t f, const char *path, char err[DMN_ERR_MAX]);
void h5u_write_config(H5Ctx *c, hid_t f, const char *yaml);
hid_t h5u_make_group(H5Ctx *c, hid_t loc, const char *name);
hid_t h5u_open_output(H5Ctx *c, const char *path, char *tmp, size_t n, const char *yaml, const DmnModel *m);
int h5u_close_and_rename(H5Ctx *c, hid_t f, const char *tmp, const char *path);
void h5u_write_version(H5Ctx *c, hid_t f);
void h5u_write_episodes(H5Ctx *c, hid_t loc, const DmnModel *m, const DmnEpisodeRecord *recs, int n, int link_first);
hid_t h5u_create_collective(const char *path, MPI_Comm comm);
void h5u_cwrite(H5Ctx *c, hid_t loc, const char *name, hid_t type, const void *data, int rank_n, const hsize_t *dims, int rank, hid_t xfer);
void h5u_cwrite_d1(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n, int rank, hid_t xfer);
void h5u_write_connectome(H5Ctx *c, hid_t f, const DmnModel *m, const Writer *w);
hid_t h5u_collective_start(H5Ctx *c, const char *path, char *tmp, size_t n, MPI_Comm comm, hid_t *xfer);
int h5u_collective_finish(H5Ctx *c, hid_t f, hid_t xfer, const char *tmp, const char *path, MPI_Comm comm, int rank, char err[DMN_ERR_MAX]);
int h5u_read_attr(hid_t f, const char *name, double *v);
int h5u_read_d(hid_t f, const char *path, const char *name, double *x, hssize_t n, char err[DMN_ERR_MAX]);
void h5u_cwrite_rows(H5Ctx *c, hid_t loc, const char *name, hid_t type, const void *row, hsize_t P, hsize_t ncol, int my_row, hid_t xfer);
int h5u_read_ds(hid_t f, const char *path, const char *name, hid_t type, void *x, int nd, const hsize_t *dims, int row, char err[DMN_ERR_MAX]);

#endif
