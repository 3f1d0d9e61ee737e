/* io — simulation output, parameter files (gradient dumps, --init), the
 * collective-write check of --verify, directories.  HDF5 helpers in
 * h5util.c, checkpoints in checkpoint.c, results in results.c. */
#include "io.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5util.h"
#include "util.h"
#include "par.h"

int io_write_simulation(const char *path, const DmnModel *m, const DmnEpisodeRecord *recs, int n, const char *yaml,
                        char err[DMN_ERR_MAX]) {
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t f = h5u_open_output(&c, path, tmp, sizeof tmp, yaml, m);
  h5u_write_num_attr(&c, f, "dt_ms", m->dt);
  h5u_write_num_attr(&c, f, "episodes", n);
  h5u_write_episodes(&c, f, m, recs, n, 1);
  return h5u_close_and_rename(&c, f, tmp, path);
}

int io_write_params(const char *path, const DmnModel *m, const DmnParams *p, const DmnParams *g, double loss, const char *yaml,
                    char err[DMN_ERR_MAX]) {
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t f = h5u_open_output(&c, path, tmp, sizeof tmp, yaml, m);
  h5u_write_num_attr(&c, f, "loss", loss);
  hid_t gp = h5u_make_group(&c, f, "params");
  hid_t gg = g ? h5u_make_group(&c, f, "grads") : -1;
  for (int k = 0; k < DMN_NGROUP; k++) {
    h5u_write_d1(&c, gp, dmn_group_names[k], params_group(p, m, k), m->group_n[k]);
    h5u_write_sum_attr(&c, gp, dmn_group_names[k], util_fnv1a(params_group(p, m, k), sizeof(double) * m->group_n[k]));
    if (g) h5u_write_d1(&c, gg, dmn_group_names[k], params_group(g, m, k), m->group_n[k]);
  }
  if (gp >= 0) H5Gclose(gp);
  if (gg >= 0) H5Gclose(gg);
  return h5u_close_and_rename(&c, f, tmp, path);
}

static int read_params_from(const char *path, const char *group, const DmnModel *m, DmnParams *p, char err[DMN_ERR_MAX]);

int io_read_params(const char *path, const DmnModel *m, DmnParams *p, char err[DMN_ERR_MAX]) {
  return read_params_from(path, "params", m, p, err);
}

int io_read_trained_params(const char *path, const DmnModel *m, DmnParams *p, int *from_average, char err[DMN_ERR_MAX]) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  *from_average = 0;
  hid_t f = access(path, R_OK) ? -1 : H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) {
    *from_average = H5Lexists(f, "/average", H5P_DEFAULT) > 0;
    H5Fclose(f);
  }
  return read_params_from(path, *from_average ? "average" : "params", m, p, err); /* (names the problem if unreadable) */
}

int io_verify_collective(const char *dir, MPI_Comm comm, char err[DMN_ERR_MAX]) {
  int rank, size, rc = 0;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  DMN_MPI(MPI_Comm_size(comm, &size));
  char path[DMN_STR_MAX + 64];
  snprintf(path, sizeof path, "%s/.dmn_verify.h5", dir);
  hid_t f = h5u_create_collective(path, comm);
  if (f < 0) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot create a file collectively (is the directory on a shared, writable file system?)", path);
    return 1;
  }
  const hsize_t per = 16, total = per * (hsize_t)size;
  hid_t fs = H5Screate_simple(1, &total, NULL);
  hid_t ds = H5Dcreate2(f, "ranks", H5T_NATIVE_DOUBLE, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  double buf[16], back[16];
  for (int i = 0; i < 16; i++) buf[i] = rank * 1000.0 + i;
  hsize_t start = per * (hsize_t)rank;
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &per, NULL);
  hid_t ms = H5Screate_simple(1, &per, NULL);
  hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
  if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, xfer, buf) < 0) rc = 1;
  if (!rc && H5Dread(ds, H5T_NATIVE_DOUBLE, ms, fs, xfer, back) < 0) rc = 1;
  for (int i = 0; !rc && i < 16; i++)
    if (back[i] != buf[i]) rc = 1;
  H5Pclose(xfer);
  H5Sclose(ms);
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(fs);
  if (H5Fclose(f) < 0) rc = 1;
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, comm));
  if (rank == 0) unlink(path);
  if (rc) snprintf(err, DMN_ERR_MAX, "%s: collective write/read-back of dataset 'ranks' failed", path);
  return rc;
}

int io_mkdirs(const char *dir, char err[DMN_ERR_MAX]) {
  char buf[DMN_STR_MAX];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      if (mkdir(buf, 0775) && errno != EEXIST) goto fail;
      *p = '/';
    }
  if (mkdir(buf, 0775) && errno != EEXIST) goto fail;
  return 0;
fail:
  snprintf(err, DMN_ERR_MAX, "%s: cannot create directory: %s", buf, strerror(errno));
  return 1;
}


static int read_params_from(const char *path, const char *group, const DmnModel *m, DmnParams *p, char err[DMN_ERR_MAX]) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  if (access(path, R_OK)) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot read parameter file: %s", path, strerror(errno));
    return 1;
  }
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    snprintf(err, DMN_ERR_MAX, "%s: not a readable HDF5 file (corrupt or truncated?)", path);
    return 1;
  }
  int rc = h5u_check_format(f, path, err);
  if (!rc && H5Aexists(f, "population") > 0) {
    /* individuals carry their own rewired structure: only a population run can use them */
    snprintf(err, DMN_ERR_MAX, "%s: a population checkpoint (evolution) holds one parameter set per individual in /population/params; "
                               "continue it with --resume and the same config (results.h5 of the run evaluates the best individual)", path);
    rc = 1;
  }
  for (int k = 0; k < DMN_NGROUP && !rc; k++) {
    char name[128];
    snprintf(name, sizeof name, "/%s/%s", group, dmn_group_names[k]);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) {
      snprintf(err, DMN_ERR_MAX, "%s: missing dataset '%s'", path, name);
      rc = 1;
      break;
    }
    hid_t sp = H5Dget_space(ds);
    hssize_t npts = H5Sget_simple_extent_npoints(sp);
    if (npts != (hssize_t)m->group_n[k]) {
      snprintf(err, DMN_ERR_MAX, "%s: dataset '%s' has %lld entries, this model needs %zu (different circuit sizes or connectome?)", path,
               name, (long long)npts, m->group_n[k]);
      rc = 1;
    } else if (npts > 0 && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, params_group(p, m, k)) < 0) {
      snprintf(err, DMN_ERR_MAX, "%s: cannot read dataset '%s' (corrupt file?)", path, name);
      rc = 1;
    } else {
      rc = h5u_check_sum_attr(ds, path, name, params_group(p, m, k), sizeof(double) * m->group_n[k], err);
    }
    H5Sclose(sp);
    H5Dclose(ds);
  }
  H5Fclose(f);
  return rc;
}
