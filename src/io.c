#include "io.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dmn_version.h"
#include "util.h"

static void *xmalloc(size_t n) { return malloc(n ? n : 1); }

/* The spikes of neurons [lo, hi) at step k of a tape that keeps them as
 * bits: their count, and with ids their indices from lo (ascending) — a
 * word at a time (a few percent of the bits are set). */
static int spikes_from_bits(const DmnTape *t, int k, int lo, int hi, int *ids) {
  const uint64_t *row = t->s_bits + (size_t)k * (size_t)t->s_words;
  int c = 0;
  for (int wi = lo >> 6; lo < hi && wi <= (hi - 1) >> 6; wi++) {
    const int b0 = wi * 64;
    uint64_t word = row[wi];
    if (b0 < lo) word &= ~0ULL << (lo - b0);
    if (hi - b0 < 64) word &= (1ULL << (hi - b0)) - 1;
    if (!ids) {
      c += __builtin_popcountll(word);
      continue;
    }
    for (; word; word &= word - 1) ids[c++] = b0 + __builtin_ctzll(word) - lo;
  }
  return c;
}

void record_from_tape(const DmnModel *m, const DmnTape *t, long episode, DmnEpisodeRecord *r) {
  memset(r, 0, sizeof(*r));
  int T = t->T;
  r->episode = episode;
  r->T = T;
  r->position = xmalloc(sizeof(double) * 3 * T);
  r->heading = xmalloc(sizeof(double) * T);
  r->odor = xmalloc(sizeof(double) * 2 * T);
  r->drive = xmalloc(sizeof(double) * 2 * T);
  r->joints = xmalloc(sizeof(double) * 3 * DMN_LEGS * T);
  r->contact = xmalloc(sizeof(double) * DMN_LEGS * T);
  for (int k = 0; k < T; k++) {
    r->position[3 * k] = t->body[k].p[0];
    r->position[3 * k + 1] = t->body[k].p[1];
    r->position[3 * k + 2] = 0.0;
    r->heading[k] = t->body[k].psi;
    memcpy(r->odor + 2 * k, t->conc + 2 * k, 2 * sizeof(double));
    memcpy(r->drive + 2 * k, t->drive + 2 * k, 2 * sizeof(double));
    body_joints(&m->body, k, t->drive + 2 * k, r->joints + 3 * DMN_LEGS * k, r->contact + DMN_LEGS * k);
  }
  /* spikes as (step, neuron) pairs; in smooth mode a "spike" is s > 0.5 */
  for (int l = 0; l < DMN_NLAYER; l++) {
    const int lo = m->layer_off[l], hi = m->layer_off[l + 1];
    int cnt = 0;
    for (int k = 0; k < T; k++)
      if (t->s_bits) cnt += spikes_from_bits(t, k, lo, hi, NULL);
      else
        for (int i = lo; i < hi; i++) cnt += tape_spike(t, k, i) > 0.5;
    r->n_spikes[l] = cnt;
    r->spike_step[l] = xmalloc(sizeof(int) * cnt);
    r->spike_id[l] = xmalloc(sizeof(int) * cnt);
    cnt = 0;
    for (int k = 0; k < T; k++) {
      if (t->s_bits) {
        const int c0 = cnt;
        cnt += spikes_from_bits(t, k, lo, hi, r->spike_id[l] + cnt);
        for (int c = c0; c < cnt; c++) r->spike_step[l][c] = k;
        continue;
      }
      for (int i = lo; i < hi; i++)
        if (tape_spike(t, k, i) > 0.5) {
          r->spike_step[l][cnt] = k;
          r->spike_id[l][cnt++] = i - lo;
        }
    }
    r->rate_hz[l] = t->metrics.rate_hz[l];
  }
  r->loss = t->loss;
  r->metrics = t->metrics;
  r->start[0] = t->p0[0];
  r->start[1] = t->p0[1];
  r->start[2] = t->psi0;
}

void record_free(DmnEpisodeRecord *r) {
  free(r->position);
  free(r->heading);
  free(r->odor);
  free(r->drive);
  free(r->joints);
  free(r->contact);
  for (int l = 0; l < DMN_NLAYER; l++) {
    free(r->spike_step[l]);
    free(r->spike_id[l]);
  }
  memset(r, 0, sizeof(*r));
}

PetscErrorCode record_send(const DmnEpisodeRecord *r, int dest, MPI_Comm comm) {
  PetscFunctionBeginUser;
  int T = r->T;
  PetscCallMPI(MPI_Send(r, (int)sizeof(*r), MPI_BYTE, dest, 1, comm)); /* header; pointers are ignored */
  PetscCallMPI(MPI_Send(r->position, 3 * T, MPI_DOUBLE, dest, 2, comm));
  PetscCallMPI(MPI_Send(r->heading, T, MPI_DOUBLE, dest, 3, comm));
  PetscCallMPI(MPI_Send(r->odor, 2 * T, MPI_DOUBLE, dest, 4, comm));
  PetscCallMPI(MPI_Send(r->drive, 2 * T, MPI_DOUBLE, dest, 5, comm));
  PetscCallMPI(MPI_Send(r->joints, 3 * DMN_LEGS * T, MPI_DOUBLE, dest, 6, comm));
  PetscCallMPI(MPI_Send(r->contact, DMN_LEGS * T, MPI_DOUBLE, dest, 7, comm));
  for (int l = 0; l < DMN_NLAYER; l++) {
    PetscCallMPI(MPI_Send(r->spike_step[l], r->n_spikes[l], MPI_INT, dest, 8, comm));
    PetscCallMPI(MPI_Send(r->spike_id[l], r->n_spikes[l], MPI_INT, dest, 9, comm));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode record_recv(const DmnModel *m, DmnEpisodeRecord *r, int src, MPI_Comm comm) {
  PetscFunctionBeginUser;
  (void)m;
  PetscCallMPI(MPI_Recv(r, (int)sizeof(*r), MPI_BYTE, src, 1, comm, MPI_STATUS_IGNORE));
  int T = r->T;
  r->position = xmalloc(sizeof(double) * 3 * T);
  r->heading = xmalloc(sizeof(double) * T);
  r->odor = xmalloc(sizeof(double) * 2 * T);
  r->drive = xmalloc(sizeof(double) * 2 * T);
  r->joints = xmalloc(sizeof(double) * 3 * DMN_LEGS * T);
  r->contact = xmalloc(sizeof(double) * DMN_LEGS * T);
  PetscCallMPI(MPI_Recv(r->position, 3 * T, MPI_DOUBLE, src, 2, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->heading, T, MPI_DOUBLE, src, 3, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->odor, 2 * T, MPI_DOUBLE, src, 4, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->drive, 2 * T, MPI_DOUBLE, src, 5, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->joints, 3 * DMN_LEGS * T, MPI_DOUBLE, src, 6, comm, MPI_STATUS_IGNORE));
  PetscCallMPI(MPI_Recv(r->contact, DMN_LEGS * T, MPI_DOUBLE, src, 7, comm, MPI_STATUS_IGNORE));
  for (int l = 0; l < DMN_NLAYER; l++) {
    r->spike_step[l] = xmalloc(sizeof(int) * r->n_spikes[l]);
    r->spike_id[l] = xmalloc(sizeof(int) * r->n_spikes[l]);
    PetscCallMPI(MPI_Recv(r->spike_step[l], r->n_spikes[l], MPI_INT, src, 8, comm, MPI_STATUS_IGNORE));
    PetscCallMPI(MPI_Recv(r->spike_id[l], r->n_spikes[l], MPI_INT, src, 9, comm, MPI_STATUS_IGNORE));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode record_gather(const DmnModel *m, DmnEpisodeRecord *local, long n, MPI_Comm comm, DmnEpisodeRecord *all) {
  PetscFunctionBeginUser;
  int rank, size;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  for (long e = 0; e < n; e++) {
    int owner = (int)(e % size);
    long idx = e / size;
    if (owner == rank && rank == 0) {
      all[e] = local[idx];
      memset(&local[idx], 0, sizeof local[idx]); /* moved */
    } else if (owner == rank) {
      PetscCall(record_send(&local[idx], 0, comm));
    } else if (rank == 0) {
      PetscCall(record_recv(m, &all[e], owner, comm));
    }
  }
  PetscFunctionReturn(0);
}

/* ---- HDF5 helpers (every call checked; messages name file and object) ---- */

typedef struct {
  const char *path;
  char *err;
  int failed;
  int collective; /* a file written by every rank of comm (checkpoints) */
  MPI_Comm comm;
} H5Ctx;

/* A collective write goes on only while it succeeds on every rank: a rank
 * that failed (disk full on its part of the file) must not leave the
 * others waiting inside the next collective HDF5 call.  Called by every
 * rank before each collective dataset, failed or not. */
static void agree(H5Ctx *c) {
  if (c->collective) MPI_Allreduce(MPI_IN_PLACE, &c->failed, 1, MPI_INT, MPI_MAX, c->comm);
}

/* /connectome in every output: serial files write directly, the collective
 * checkpoint through cwrite (rank 0 holds the data). */
typedef struct {
  int collective, rank;
  hid_t xfer;
} Writer;
struct DmnModel;
static void write_connectome(H5Ctx *c, hid_t f, const DmnModel *m, const Writer *w);

static void h5fail(H5Ctx *c, const char *what, const char *obj) {
  const int e = errno; /* what the file system said, when it is one of these */
  const int fs = e == ENOSPC || e == EFBIG || e == EDQUOT || e == EIO || e == EROFS || e == ESTALE;
  if (!c->failed) snprintf(c->err, DMN_ERR_MAX, "%s: cannot %s '%s'%s%s", c->path, what, obj, fs ? ": " : "", fs ? strerror(e) : "");
  c->failed = 1;
}

static void write_ds(H5Ctx *c, hid_t loc, const char *name, hid_t mem_type, const void *data, int rank, const hsize_t *dims) {
  if (c->failed) return;
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t ds = sp < 0 ? -1 : H5Dcreate2(loc, name, mem_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || (dims[0] > 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)) h5fail(c, "write dataset", name);
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
}

static void write_d1(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n) { write_ds(c, loc, name, H5T_NATIVE_DOUBLE, x, 1, &n); }
static void write_d2(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n0, hsize_t n1) {
  hsize_t d[2] = {n0, n1};
  write_ds(c, loc, name, H5T_NATIVE_DOUBLE, x, 2, d);
}
static void write_i1(H5Ctx *c, hid_t loc, const char *name, const int *x, hsize_t n) { write_ds(c, loc, name, H5T_NATIVE_INT, x, 1, &n); }

static void write_str_attr(H5Ctx *c, hid_t loc, const char *name, const char *s) {
  if (c->failed) return;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(s) + 1);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, t, s) < 0) h5fail(c, "write attribute", name);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

static void write_num_attr(H5Ctx *c, hid_t loc, const char *name, double v) {
  if (c->failed) return;
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &v) < 0) h5fail(c, "write attribute", name);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
}

/* Integrity: every parameter / optimizer dataset carries the FNV-1a 64 of
 * its bytes as attribute "fnv1a64"; readers recompute it and name the
 * dataset that does not match.  All ranks of a collective write pass the
 * same value (the caller broadcasts it). */
static void write_sum_attr(H5Ctx *c, hid_t loc, const char *ds_name, uint64_t sum) {
  if (c->failed) return;
  hid_t ds = H5Dopen2(loc, ds_name, H5P_DEFAULT);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = ds < 0 ? -1 : H5Acreate2(ds, "fnv1a64", H5T_NATIVE_UINT64, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, H5T_NATIVE_UINT64, &sum) < 0) h5fail(c, "write checksum of", ds_name);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
}

/* 0 when dataset ds has no checksum (files before format 2) or it matches x. */
static int check_sum_attr(hid_t ds, const char *path, const char *name, const void *x, size_t bytes, char err[DMN_ERR_MAX]) {
  if (H5Aexists(ds, "fnv1a64") <= 0) return 0;
  uint64_t want = 0, got = util_fnv1a(x, bytes);
  hid_t a = H5Aopen(ds, "fnv1a64", H5P_DEFAULT);
  int bad = a < 0 || H5Aread(a, H5T_NATIVE_UINT64, &want) < 0;
  if (a >= 0) H5Aclose(a);
  if (bad || want != got) {
    snprintf(err, DMN_ERR_MAX, "%s: dataset '%s' fails its checksum (stored %016llx, read %016llx): the file is corrupt", path, name,
             (unsigned long long)want, (unsigned long long)got);
    return 1;
  }
  return 0;
}

/* A file of a newer format than this build reads is refused by name. */
static int check_format(hid_t f, const char *path, char err[DMN_ERR_MAX]) {
  double v = 0;
  hid_t a = H5Aexists(f, "format_version") > 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
  if (a < 0) return 0; /* written before format versions (dmn <= 0.9): format 1 */
  int bad = H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0;
  H5Aclose(a);
  if (bad || v > DMN_FORMAT_VERSION) {
    snprintf(err, DMN_ERR_MAX, "%s: file format %g; this dmn (%s) reads formats up to %d: use a newer dmn", path, v, DMN_VERSION,
             DMN_FORMAT_VERSION);
    return 1;
  }
  return 0;
}

/* The effective config as a string dataset /config (YAML text). */
static void write_config(H5Ctx *c, hid_t f, const char *yaml) {
  if (c->failed) return;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(yaml) + 1);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t ds = H5Dcreate2(f, "config", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, yaml) < 0) h5fail(c, "write dataset", "config");
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(sp);
  H5Tclose(t);
}

static hid_t make_group(H5Ctx *c, hid_t loc, const char *name) {
  if (c->failed) return -1;
  hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) h5fail(c, "create group", name);
  return g;
}

static hid_t open_tmp(H5Ctx *c, const char *path, char *tmp, size_t n) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages, not HDF5's stack dumps */
  snprintf(tmp, n, "%s.tmp", path);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    snprintf(c->err, DMN_ERR_MAX, "%s: cannot create file (check that the directory exists and is writable)", tmp);
    c->failed = 1;
  }
  return f;
}

static void write_version(H5Ctx *c, hid_t f);
static void write_config(H5Ctx *c, hid_t f, const char *yaml);

/* Every rank-0 output file starts alike: PATH.tmp, versions, the config,
 * the run's names and its connectome. */
static hid_t open_output(H5Ctx *c, const char *path, char *tmp, size_t n, const char *yaml, const DmnModel *m) {
  hid_t f = open_tmp(c, path, tmp, n);
  write_version(c, f);
  write_config(c, f, yaml);
  Writer serial = {0, 0, -1};
  write_connectome(c, f, m, &serial);
  return f;
}

static int close_and_rename(H5Ctx *c, hid_t f, const char *tmp, const char *path) {
  if (f >= 0 && H5Fclose(f) < 0) h5fail(c, "close", tmp);
  if (c->failed) {
    unlink(tmp);
    return 1;
  }
  if (rename(tmp, path)) {
    snprintf(c->err, DMN_ERR_MAX, "%s: cannot rename from %s: %s", path, tmp, strerror(errno));
    return 1;
  }
  return 0;
}

static void write_version(H5Ctx *c, hid_t f) {
  write_str_attr(c, f, "dmn_version", DMN_VERSION);
  write_str_attr(c, f, "dmn_git", DMN_GIT_HASH);
  write_str_attr(c, f, "model_contract", "src/MODEL.md v2.1");
  write_num_attr(c, f, "format_version", DMN_FORMAT_VERSION);
}

/* /<loc>/episode_NNNN/... for each record (shared by simulation and results). */
static void write_episodes(H5Ctx *c, hid_t loc, const DmnModel *m, const DmnEpisodeRecord *recs, int n, int link_first) {
  static const char *names[] = {"position", "heading", "odor_input", "dn_drive", "joint_angles", "foot_contacts", "spikes", "rates_hz"};
  for (int e = 0; e < n && !c->failed; e++) {
    const DmnEpisodeRecord *r = &recs[e];
    char gname[64];
    snprintf(gname, sizeof gname, "episode_%04ld", r->episode);
    hid_t g = make_group(c, loc, gname);
    hsize_t T = (hsize_t)r->T;
    write_d2(c, g, "position", r->position, T, 3);
    write_d1(c, g, "heading", r->heading, T);
    write_d2(c, g, "odor_input", r->odor, T, 2);
    write_d2(c, g, "dn_drive", r->drive, T, 2);
    write_d2(c, g, "joint_angles", r->joints, T, 3 * DMN_LEGS);
    write_d2(c, g, "foot_contacts", r->contact, T, DMN_LEGS);
    write_d1(c, g, "rates_hz", r->rate_hz, DMN_NLAYER);
    write_d1(c, g, "start_pose", r->start, 3);
    hid_t sg = make_group(c, g, "spikes");
    for (int l = 0; l < DMN_NLAYER && !c->failed; l++) {
      hid_t lg = make_group(c, sg, dmn_layer_names[l]);
      write_i1(c, lg, "step", r->spike_step[l], (hsize_t)r->n_spikes[l]);
      write_i1(c, lg, "neuron", r->spike_id[l], (hsize_t)r->n_spikes[l]);
      write_num_attr(c, lg, "n_neurons", m->n[l]);
      if (lg >= 0) H5Gclose(lg);
    }
    if (sg >= 0) H5Gclose(sg);
    write_num_attr(c, g, "loss_total", r->loss.total);
    write_num_attr(c, g, "loss_nav", r->loss.nav);
    write_num_attr(c, g, "loss_energy", r->loss.energy);
    write_num_attr(c, g, "loss_sparse", r->loss.sparse);
    write_num_attr(c, g, "loss_rate", r->loss.rate);
    write_num_attr(c, g, "loss_silent", r->loss.silent);
    write_num_attr(c, g, "loss_end", r->loss.end);
    write_num_attr(c, g, "final_distance_to_goal", r->metrics.final_distance);
    write_num_attr(c, g, "mean_distance_to_goal", r->metrics.mean_distance);
    write_num_attr(c, g, "total_distance_traveled", r->metrics.path_length);
    write_num_attr(c, g, "kc_active_fraction", r->metrics.kc_active_fraction);
    if (g >= 0) H5Gclose(g);
    if (e == 0 && link_first) /* the seed's readers open f['position'] etc.: link to episode 0 */
      for (size_t k = 0; k < sizeof names / sizeof names[0] && !c->failed; k++) {
        char target[128];
        snprintf(target, sizeof target, "/%s/%s", gname, names[k]);
        if (H5Lcreate_soft(target, loc, names[k], H5P_DEFAULT, H5P_DEFAULT) < 0) h5fail(c, "link", names[k]);
      }
  }
}

int io_write_simulation(const char *path, const DmnModel *m, const DmnEpisodeRecord *recs, int n, const char *yaml,
                        char err[DMN_ERR_MAX]) {
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t f = open_output(&c, path, tmp, sizeof tmp, yaml, m);
  write_num_attr(&c, f, "dt_ms", m->dt);
  write_num_attr(&c, f, "episodes", n);
  write_episodes(&c, f, m, recs, n, 1);
  return close_and_rename(&c, f, tmp, path);
}

int io_write_params(const char *path, const DmnModel *m, const DmnParams *p, const DmnParams *g, double loss, const char *yaml,
                    char err[DMN_ERR_MAX]) {
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t f = open_output(&c, path, tmp, sizeof tmp, yaml, m);
  write_num_attr(&c, f, "loss", loss);
  hid_t gp = make_group(&c, f, "params");
  hid_t gg = g ? make_group(&c, f, "grads") : -1;
  for (int k = 0; k < DMN_NGROUP; k++) {
    write_d1(&c, gp, dmn_group_names[k], params_group(p, m, k), m->group_n[k]);
    write_sum_attr(&c, gp, dmn_group_names[k], util_fnv1a(params_group(p, m, k), sizeof(double) * m->group_n[k]));
    if (g) write_d1(&c, gg, dmn_group_names[k], params_group(g, m, k), m->group_n[k]);
  }
  if (gp >= 0) H5Gclose(gp);
  if (gg >= 0) H5Gclose(gg);
  return close_and_rename(&c, f, tmp, path);
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
  int rc = check_format(f, path, err);
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
      rc = check_sum_attr(ds, path, name, params_group(p, m, k), sizeof(double) * m->group_n[k], err);
    }
    H5Sclose(sp);
    H5Dclose(ds);
  }
  H5Fclose(f);
  return rc;
}

/* Create a file collectively over comm with MPI-IO (every rank calls it). */
static hid_t create_collective(const char *path, MPI_Comm comm) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  return f;
}

int io_verify_collective(const char *dir, MPI_Comm comm, char err[DMN_ERR_MAX]) {
  int rank, size, rc = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  char path[DMN_STR_MAX + 64];
  snprintf(path, sizeof path, "%s/.dmn_verify.h5", dir);
  hid_t f = create_collective(path, comm);
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
  MPI_Allreduce(MPI_IN_PLACE, &rc, 1, MPI_INT, MPI_MAX, comm);
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

/* ---- checkpoints (collective) ------------------------------------------------ */

/* Create a dataset on every rank (collective metadata); rank 0 writes the
 * data, the others take part with an empty selection. */
static void cwrite(H5Ctx *c, hid_t loc, const char *name, hid_t type, const void *data, int rank_n, const hsize_t *dims, int rank,
                   hid_t xfer) {
  agree(c);
  if (c->failed) return;
  hid_t fs = H5Screate_simple(rank_n, dims, NULL);
  hid_t ds = H5Dcreate2(loc, name, type, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0) {
    h5fail(c, "create dataset", name);
  } else {
    hid_t ms = H5Scopy(fs);
    if (rank != 0) {
      H5Sselect_none(fs);
      H5Sselect_none(ms);
    }
    /* an empty dataset (circuit.apl false: no APL synapses) has nothing to
     * write, and a collective H5Dwrite of zero elements fails */
    hsize_t npts = 1;
    for (int k = 0; k < rank_n; k++) npts *= dims[k];
    if (npts && H5Dwrite(ds, type, ms, fs, xfer, data) < 0) h5fail(c, "write dataset", name);
    H5Sclose(ms);
    H5Dclose(ds);
  }
  H5Sclose(fs);
}

static void cwrite_d1(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n, int rank, hid_t xfer) {
  double dummy = 0;
  cwrite(c, loc, name, H5T_NATIVE_DOUBLE, n ? x : &dummy, 1, &n, rank, xfer);
}

/* ---- /connectome: which circuit the results belong to ------------------------ */


static void wds(H5Ctx *c, const Writer *w, hid_t loc, const char *name, hid_t type, const void *data, hsize_t n) {
  static const double zero[1] = {0};
  if (!n) data = zero; /* a valid pointer for empty datasets */
  if (w->collective)
    cwrite(c, loc, name, type, data, 1, &n, w->rank, w->xfer);
  else
    write_ds(c, loc, name, type, data, 1, &n);
}

static void wstr(H5Ctx *c, const Writer *w, hid_t loc, const char *name, const char *text) {
  /* one fixed-length string (a 1-element dataset: works serial and collective) */
  if (c->failed) return;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(text) + 1);
  hsize_t one = 1;
  if (w->collective)
    cwrite(c, loc, name, t, text, 1, &one, w->rank, w->xfer);
  else
    write_ds(c, loc, name, t, text, 1, &one);
  H5Tclose(t);
}

/* Root attributes naming the run: what dmn_merge and the analysis read. */
static void write_run_info(H5Ctx *c, hid_t f, const DmnModel *m) {
  const DmnConfig *cfg = &m->cfg;
  write_str_attr(c, f, "config_name", cfg->name[0] ? cfg->name : "default");
  write_num_attr(c, f, "seed", (double)cfg->sim_seed);
  write_num_attr(c, f, "sweep_index", cfg->sweep_index);
  write_num_attr(c, f, "sweep_size", config_sweep_tasks(cfg));
  write_str_attr(c, f, "sweep_name", config_sweep_name(cfg)); /* the condition: a sweep's seeds share it */
  write_num_attr(c, f, "sweep_condition", cfg->sweep_condition);
}

static void write_connectome(H5Ctx *c, hid_t f, const DmnModel *m, const Writer *w) {
  write_run_info(c, f, m);
  const DmnConnectome *cn = &m->conn;
  hid_t cg = make_group(c, f, "connectome");
  if (cg < 0) return;
  write_str_attr(c, cg, "source", cn->source);
  char *summary = connectome_summary(cn);
  wstr(c, w, cg, "summary", summary);
  free(summary);
  /* cell type names, one per line; layers store indices into them */
  size_t len = 1;
  for (int t = 0; t < cn->n_types; t++) len += strlen(cn->type_names[t]) + 1;
  char *names = malloc(len);
  names[0] = 0;
  for (int t = 0; t < cn->n_types; t++) strcat(strcat(names, cn->type_names[t]), "\n");
  wstr(c, w, cg, "type_names", names);
  free(names);
  for (int l = 0; l < DMN_NLAYER; l++) {
    hid_t lg = make_group(c, cg, dmn_layer_names[l]);
    hsize_t n = (hsize_t)cn->n[l];
    uint8_t *sil = calloc(n + 1, 1);
    if (cn->silenced[l]) memcpy(sil, cn->silenced[l], n);
    wds(c, w, lg, "id", H5T_NATIVE_INT64, cn->id[l], n);
    wds(c, w, lg, "type", H5T_NATIVE_INT, cn->type[l], n);
    wds(c, w, lg, "side", H5T_NATIVE_INT8, cn->side[l], n);
    wds(c, w, lg, "transmitter", H5T_NATIVE_UINT8, cn->transmitter[l], n);
    wds(c, w, lg, "silenced", H5T_NATIVE_UINT8, sil, n);
    free(sil);
    if (lg >= 0) H5Gclose(lg);
  }
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *pr = &cn->proj[q];
    hid_t pg = make_group(c, cg, dmn_proj_names[q]);
    wds(c, w, pg, "row_ptr", H5T_NATIVE_INT, pr->row_ptr, (hsize_t)pr->n_post + 1);
    wds(c, w, pg, "col", H5T_NATIVE_INT, pr->col, (hsize_t)pr->nnz);
    wds(c, w, pg, "alive", H5T_NATIVE_UINT8, pr->alive, (hsize_t)pr->nnz);
    wds(c, w, pg, "count", H5T_NATIVE_FLOAT, pr->count, (hsize_t)pr->nnz);
    write_num_attr(c, pg, "signed", pr->is_signed);
    write_num_attr(c, pg, "synthetic", pr->synthetic);
    write_num_attr(c, pg, "scale", pr->scale);
    write_str_attr(c, pg, "pre", dmn_layer_names[pr->pre]);
    write_str_attr(c, pg, "post", dmn_layer_names[pr->post]);
    if (pg >= 0) H5Gclose(pg);
  }
  hid_t lg = make_group(c, cg, "lesions");
  write_num_attr(c, lg, "count", cn->n_lesions);
  for (int k = 0; k < cn->n_lesions && lg >= 0; k++) {
    const DmnLesionRecord *r = &cn->lesions[k];
    char name[96];
    snprintf(name, sizeof name, "%02d_%s", k, r->name);
    hid_t g = make_group(c, lg, name);
    write_str_attr(c, g, "name", r->name);
    write_str_attr(c, g, "kind", r->kind);
    write_str_attr(c, g, "target", r->target);
    write_num_attr(c, g, "synapses_removed", (double)r->synapses_removed);
    write_num_attr(c, g, "factor", r->factor);
    if (r->layer == DMN_LESION_LAYER_APL) {
      write_str_attr(c, g, "layer", "APL");
      wds(c, w, g, "neuron_index", H5T_NATIVE_INT, r->neurons, (hsize_t)r->n_neurons); /* the side: 0 left, 1 right */
    } else if (r->layer >= 0) {
      write_str_attr(c, g, "layer", dmn_layer_names[r->layer]);
      int64_t *ids = malloc(sizeof(int64_t) * ((size_t)r->n_neurons + 1));
      for (int i = 0; i < r->n_neurons; i++) ids[i] = cn->id[r->layer][r->neurons[i]];
      wds(c, w, g, "neuron_index", H5T_NATIVE_INT, r->neurons, (hsize_t)r->n_neurons);
      wds(c, w, g, "neuron_id", H5T_NATIVE_INT64, ids, (hsize_t)r->n_neurons);
      free(ids);
    } else {
      write_str_attr(c, g, "projection", dmn_proj_names[r->proj]);
    }
    if (g >= 0) H5Gclose(g);
  }
  if (lg >= 0) H5Gclose(lg);
  /* kept from earlier versions: /connectome/transmitter_<LAYER> */
  for (int l = 0; l < DMN_NLAYER; l++) {
    char name[64];
    snprintf(name, sizeof name, "transmitter_%s", dmn_layer_names[l]);
    wds(c, w, cg, name, H5T_NATIVE_UINT8, cn->transmitter[l], (hsize_t)cn->n[l]);
  }
  H5Gclose(cg);
}

void io_prev_path(const char *path, char *out, size_t n) {
  size_t len = strlen(path);
  if (len > 3 && !strcmp(path + len - 3, ".h5")) snprintf(out, n, "%.*s.prev.h5", (int)(len - 3), path);
  else snprintf(out, n, "%s.prev", path);
}

/* Open PATH.tmp for a collective write by every rank of comm, with a
 * collective transfer list (collective_finish closes both). */
static hid_t collective_start(H5Ctx *c, const char *path, char *tmp, size_t n, MPI_Comm comm, hid_t *xfer) {
  snprintf(tmp, n, "%s.tmp", path);
  c->collective = 1;
  c->comm = comm;
  hid_t f = create_collective(tmp, comm);
  if (f < 0) {
    snprintf(c->err, DMN_ERR_MAX, "%s: cannot create checkpoint collectively (directory writable and shared by all ranks?)", tmp);
    c->failed = 1;
  }
  *xfer = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(*xfer, H5FD_MPIO_COLLECTIVE);
  return f;
}

/* Close a collectively written PATH.tmp; rank 0 renames it into place only
 * when every rank succeeded.  Everyone returns the same verdict. */
static int collective_finish(H5Ctx *c, hid_t f, hid_t xfer, const char *tmp, const char *path, MPI_Comm comm, int rank, char err[DMN_ERR_MAX]) {
  H5Pclose(xfer);
  if (f >= 0 && H5Fclose(f) < 0) h5fail(c, "close", tmp);
  /* every rank must have succeeded before the rename makes it the checkpoint */
  int bad = c->failed;
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm);
  int rc = 0;
  if (rank == 0) {
    if (bad) {
      unlink(tmp);
      if (!c->failed) snprintf(err, DMN_ERR_MAX, "%s: checkpoint write failed on another rank", path);
      rc = 1;
    } else {
      /* the last good checkpoint becomes PATH.prev.h5: a latest one found
       * corrupt later (disk, copy, a kill between these two renames) still
       * leaves one to resume from (io_resume_candidates) */
      char prev[DMN_STR_MAX + 16];
      io_prev_path(path, prev, sizeof prev);
      if (!access(path, F_OK) && rename(path, prev)) {
        snprintf(err, DMN_ERR_MAX, "%s: cannot keep the previous checkpoint as %s: %s", path, prev, strerror(errno));
        rc = 1;
      } else if (rename(tmp, path)) {
        snprintf(err, DMN_ERR_MAX, "%s: cannot rename from %s: %s", path, tmp, strerror(errno));
        rc = 1;
      }
    }
  }
  MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
  if (bad && !rc) rc = 1;
  if (rc && rank && !c->failed) snprintf(err, DMN_ERR_MAX, "%s: checkpoint write failed (see rank 0)", path);
  return rc;
}

int io_checkpoint_write(const char *path, MPI_Comm comm, const DmnModel *m, const DmnParams *p, const DmnAdam *a,
                        const DmnTrainState *st, const char *yaml, char err[DMN_ERR_MAX]) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t xfer;
  hid_t f = collective_start(&c, path, tmp, sizeof tmp, comm, &xfer);
  if (!c.failed) {
    /* attributes and groups are collective metadata: identical on every rank */
    write_version(&c, f);
    write_config(&c, f, yaml);
    write_num_attr(&c, f, "update", (double)st->update);
    write_num_attr(&c, f, "episodes_done", (double)st->episodes_done);
    write_num_attr(&c, f, "adam_step", (double)a->step);
    write_num_attr(&c, f, "best_update", (double)st->best_update); /* train.validate_every: best.h5's update (0: none) */
    write_num_attr(&c, f, "best_val_success", st->best_success);
    write_num_attr(&c, f, "best_val_median_final", st->best_median_final);
    int size;
    MPI_Comm_size(comm, &size);
    write_num_attr(&c, f, "n_ranks", size);
    const char *grp[4] = {"params", "adam_m", "adam_v", "average"};
    const DmnParams *src[4] = {p, &a->m, &a->v, &st->avg};
    for (int q = 0; q < (st->avg.data ? 4 : 3); q++) { /* /average: train.average's moving average */
      hid_t g = make_group(&c, f, grp[q]);
      for (int k = 0; k < DMN_NGROUP && g >= 0; k++) {
        const double *x = params_group(src[q], m, k);
        cwrite_d1(&c, g, dmn_group_names[k], x, m->group_n[k], rank, xfer);
        uint64_t sum = util_fnv1a(x, sizeof(double) * m->group_n[k]);
        MPI_Bcast(&sum, 1, MPI_UINT64_T, 0, comm); /* rank 0 wrote the data */
        write_sum_attr(&c, g, dmn_group_names[k], sum);
      }
      if (g >= 0) H5Gclose(g);
    }
    hid_t h = make_group(&c, f, "history");
    for (int k = 0; k < DMN_NHCOL && h >= 0; k++) cwrite_d1(&c, h, dmn_history_names[k], st->hist.col[k], (hsize_t)st->hist.n, rank, xfer);
    if (h >= 0) {
      hsize_t d2[2] = {(hsize_t)st->hist.n, DMN_NGROUP};
      double dummy = 0;
      cwrite(&c, h, "grad_norm_group", H5T_NATIVE_DOUBLE, st->hist.n ? st->hist.group_norm : &dummy, 2, d2, rank, xfer);
      H5Gclose(h);
    }
    /* the connectome the parameters belong to (masks, lesions, signs) */
    Writer wr = {1, rank, xfer};
    write_connectome(&c, f, m, &wr);
  }
  return collective_finish(&c, f, xfer, tmp, path, comm, rank, err);
}

static int read_attr(hid_t f, const char *name, double *v) {
  hid_t a = H5Aopen(f, name, H5P_DEFAULT);
  if (a < 0) return 1;
  int rc = H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0;
  H5Aclose(a);
  return rc;
}

static int read_d(hid_t f, const char *path, const char *name, double *x, hssize_t n, char err[DMN_ERR_MAX]) {
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  if (ds < 0) {
    snprintf(err, DMN_ERR_MAX, "%s: missing dataset '%s'", path, name);
    return 1;
  }
  hid_t sp = H5Dget_space(ds);
  hssize_t got = H5Sget_simple_extent_npoints(sp);
  int rc = 0;
  if (got != n) {
    snprintf(err, DMN_ERR_MAX, "%s: dataset '%s' has %lld entries, expected %lld (different circuit or config?)", path, name,
             (long long)got, (long long)n);
    rc = 1;
  } else if (n > 0 && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot read dataset '%s' (corrupt file?)", path, name);
    rc = 1;
  } else {
    rc = check_sum_attr(ds, path, name, x, sizeof(double) * (size_t)n, err);
  }
  H5Sclose(sp);
  H5Dclose(ds);
  return rc;
}

long io_checkpoint_update(const char *path) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = access(path, R_OK) ? -1 : H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  double u = -1;
  if (f >= 0) {
    if (read_attr(f, "update", &u)) u = -1;
    H5Fclose(f);
  }
  return (long)u;
}

int io_checkpoint_read(const char *path, const DmnModel *m, DmnParams *p, DmnAdam *a, DmnTrainState *st, char err[DMN_ERR_MAX]) {
  if (io_read_params(path, m, p, err)) return 1;
  if (!a && !st) return 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    snprintf(err, DMN_ERR_MAX, "%s: not a readable HDF5 file (corrupt or truncated?)", path);
    return 1;
  }
  int rc = 0;
  double upd, eps, astep;
  if (read_attr(f, "update", &upd) || read_attr(f, "episodes_done", &eps) || read_attr(f, "adam_step", &astep)) {
    snprintf(err, DMN_ERR_MAX, "%s: not a dmn checkpoint (attributes update / episodes_done / adam_step missing; a gradient dump "
                               "holds parameters only: use --init)", path);
    rc = 1;
  }
  char name[160];
  for (int k = 0; k < DMN_NGROUP && !rc && a; k++) {
    snprintf(name, sizeof name, "/adam_m/%s", dmn_group_names[k]);
    rc = read_d(f, path, name, params_group(&a->m, m, k), (hssize_t)m->group_n[k], err);
    snprintf(name, sizeof name, "/adam_v/%s", dmn_group_names[k]);
    if (!rc) rc = read_d(f, path, name, params_group(&a->v, m, k), (hssize_t)m->group_n[k], err);
  }
  if (!rc && a) a->step = (long)astep;
  if (!rc && st && st->avg.data) { /* train.average: the moving average; a checkpoint without one starts it at p */
    if (H5Lexists(f, "/average", H5P_DEFAULT) > 0) {
      for (int k = 0; k < DMN_NGROUP && !rc; k++) {
        snprintf(name, sizeof name, "/average/%s", dmn_group_names[k]);
        rc = read_d(f, path, name, params_group(&st->avg, m, k), (hssize_t)m->group_n[k], err);
      }
    } else {
      params_copy(&st->avg, p);
    }
  }
  if (!rc && st) {
    st->update = (long)upd;
    st->episodes_done = (long)eps;
    double bu = 0, bs = 0, bf = 0; /* absent before version 0.4: no validation yet */
    if (read_attr(f, "best_update", &bu) || read_attr(f, "best_val_success", &bs) || read_attr(f, "best_val_median_final", &bf)) bu = bs = bf = 0;
    st->best_update = (long)bu;
    st->best_success = bs;
    st->best_median_final = bf;
    history_reserve(&st->hist, st->update + 1);
    st->hist.n = st->update;
    for (int k = 0; k < DMN_NHCOL && !rc; k++) {
      snprintf(name, sizeof name, "/history/%s", dmn_history_names[k]);
      if (H5Lexists(f, name, H5P_DEFAULT) <= 0 && (k == DMN_H_loss_end || k >= DMN_H_val_success)) {
        /* a checkpoint of an older version (0.2: no loss_end; 0.3: no validation) */
        for (long u = 0; u < st->update; u++) st->hist.col[k][u] = history_missing_value(k);
        continue;
      }
      rc = read_d(f, path, name, st->hist.col[k], st->update, err);
    }
    if (!rc) rc = read_d(f, path, "/history/grad_norm_group", st->hist.group_norm, st->update * DMN_NGROUP, err);
  }
  H5Fclose(f);
  return rc;
}


/* ---- population checkpoints (evolution) --------------------------------------- */

/* A (P x ncol) dataset; the rank with my_row >= 0 writes that row, the others
 * take part with an empty selection. */
static void cwrite_rows(H5Ctx *c, hid_t loc, const char *name, hid_t type, const void *row, hsize_t P, hsize_t ncol, int my_row, hid_t xfer) {
  agree(c);
  if (c->failed) return;
  hsize_t dims[2] = {P, ncol}, mdim = ncol ? ncol : 1;
  hid_t fs = H5Screate_simple(2, dims, NULL), ms = H5Screate_simple(1, &mdim, NULL);
  hid_t ds = H5Dcreate2(loc, name, type, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  static const double dummy[1] = {0};
  if (ds < 0) {
    h5fail(c, "create dataset", name);
  } else {
    if (my_row >= 0 && ncol > 0) {
      hsize_t start[2] = {(hsize_t)my_row, 0}, count[2] = {1, ncol};
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    } else {
      H5Sselect_none(fs);
      H5Sselect_none(ms);
    }
    if (H5Dwrite(ds, type, ms, fs, xfer, row && ncol ? row : (const void *)dummy) < 0) h5fail(c, "write dataset", name);
    H5Dclose(ds);
  }
  H5Sclose(ms);
  H5Sclose(fs);
}

int io_population_write(const char *path, MPI_Comm world, const DmnModel *base, const DmnModel *mine, const DmnParams *p, const DmnAdam *a,
                        const DmnTrainState *st, const DmnPopulationIO *pop, const char *yaml, char err[DMN_ERR_MAX]) {
  int rank, size;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t xfer;
  hid_t f = collective_start(&c, path, tmp, sizeof tmp, world, &xfer);
  if (!c.failed) {
    const hsize_t P = (hsize_t)pop->P;
    const int row = pop->writer ? pop->slot : -1;
    write_version(&c, f);
    write_config(&c, f, yaml);
    write_num_attr(&c, f, "population", pop->P);
    write_num_attr(&c, f, "generation", (double)pop->generation);
    write_num_attr(&c, f, "next_id", (double)pop->next_id);
    write_num_attr(&c, f, "update", (double)st->update);
    write_num_attr(&c, f, "episodes_done", (double)st->episodes_done);
    write_num_attr(&c, f, "n_ranks", size);
    hid_t pg = make_group(&c, f, "population");
    /* each individual: one row per slot */
    cwrite_rows(&c, pg, "params", H5T_NATIVE_DOUBLE, p->data, P, p->n, row, xfer);
    cwrite_rows(&c, pg, "adam_m", H5T_NATIVE_DOUBLE, a->m.data, P, p->n, row, xfer);
    cwrite_rows(&c, pg, "adam_v", H5T_NATIVE_DOUBLE, a->v.data, P, p->n, row, xfer);
    double step = (double)a->step;
    cwrite_rows(&c, pg, "adam_step", H5T_NATIVE_DOUBLE, &step, P, 1, row, xfer);
    /* each row's checksum (params, adam_m, adam_v), written with the row */
    const uint64_t rsum[3] = {util_fnv1a(p->data, sizeof(double) * p->n), util_fnv1a(a->m.data, sizeof(double) * p->n),
                              util_fnv1a(a->v.data, sizeof(double) * p->n)};
    cwrite_rows(&c, pg, "row_fnv1a64", H5T_NATIVE_UINT64, rsum, P, 3, row, xfer);
    /* every rank's own parameter checksum (FNV-1a of the bytes): the ranks of a group must agree */
    uint64_t mysum = util_fnv1a(p->data, sizeof(double) * p->n); /* = train_params_checksum */
    cwrite_rows(&c, pg, "rank_checksum", H5T_NATIVE_UINT64, &mysum, (hsize_t)size, 1, rank, xfer);
    cwrite_rows(&c, pg, "rank_slot", H5T_NATIVE_INT, &pop->slot, (hsize_t)size, 1, rank, xfer);
    const DmnProjection *pk = &mine->conn.proj[DMN_P_PN_TO_KC], *km = &mine->conn.proj[DMN_P_KC_TO_MBON];
    cwrite_rows(&c, pg, "pn_to_kc_col", H5T_NATIVE_INT, pk->col, P, (hsize_t)pk->nnz, row, xfer);
    cwrite_rows(&c, pg, "kc_to_mbon_col", H5T_NATIVE_INT, km->col, P, (hsize_t)km->nnz, row, xfer);
    hid_t hg = make_group(&c, pg, "history");
    for (int k = 0; k < DMN_NHCOL && hg >= 0; k++)
      cwrite_rows(&c, hg, dmn_history_names[k], H5T_NATIVE_DOUBLE, st->hist.col[k], P, (hsize_t)st->hist.n, row, xfer);
    if (hg >= 0) {
      cwrite_rows(&c, hg, "grad_norm_group", H5T_NATIVE_DOUBLE, st->hist.group_norm, P, (hsize_t)st->hist.n * DMN_NGROUP, row, xfer);
      H5Gclose(hg);
    }
    /* genomes: known to every rank, written by rank 0 */
    hid_t gg = make_group(&c, pg, "genome");
    double *col = malloc(sizeof(double) * (P * DMN_NHYPER + 1));
    long max_e = 0;
    const char *gname[6] = {"id", "parent", "lesioned", "made_pn_kc", "made_kc_mbon", "n_edits"};
    for (int j = 0; j < 6; j++) {
      for (hsize_t k = 0; k < P; k++) {
        const DmnGenome *g = &pop->genomes[k];
        const double v[6] = {(double)g->id, (double)g->parent, g->lesioned, (double)g->made_pn_kc, (double)g->made_kc_mbon, (double)g->n_edits};
        col[k] = v[j];
        if (g->n_edits > max_e) max_e = g->n_edits;
      }
      cwrite(&c, gg, gname[j], H5T_NATIVE_DOUBLE, col, 1, &P, rank, xfer);
    }
    for (hsize_t k = 0; k < P; k++) memcpy(col + k * DMN_NHYPER, pop->genomes[k].hyper, sizeof(double) * DMN_NHYPER);
    hsize_t hd[2] = {P, DMN_NHYPER};
    cwrite(&c, gg, "hyper", H5T_NATIVE_DOUBLE, col, 2, hd, rank, xfer);
    char names[256] = "";
    for (int k = 0; k < DMN_NHYPER; k++) strcat(strcat(names, dmn_hyper_names[k]), k + 1 < DMN_NHYPER ? "," : "");
    write_str_attr(&c, gg, "hyper_columns", names);
    free(col);
    /* at least one edit wide: zero-width 2-D datasets do not survive a collective write */
    const size_t width = 4 * (size_t)(max_e > 0 ? max_e : 1);
    int32_t *ed = calloc(P * width, sizeof(int32_t));
    for (hsize_t k = 0; k < P; k++)
      if (pop->genomes[k].n_edits) memcpy(ed + k * width, pop->genomes[k].edits, sizeof(DmnEdit) * (size_t)pop->genomes[k].n_edits);
    hsize_t ec[2] = {P, width};
    cwrite(&c, gg, "edits", H5T_NATIVE_INT32, ed, 2, ec, rank, xfer);
    write_str_attr(&c, gg, "edits_layout", "per slot: n_edits x (projection, post, old_pre, new_pre), then padding");
    free(ed);
    if (gg >= 0) H5Gclose(gg);
    if (pg >= 0) H5Gclose(pg);
    /* the lineage so far */
    const DmnEvolutionLog *lg = pop->log;
    hid_t lgp = make_group(&c, f, "lineage"); /* empty before the first generation ends */
    hsize_t ld[2] = {(hsize_t)lg->n_gen, P};
    for (int k = 0; k < DMN_NLCOL && lgp >= 0 && lg->n_gen; k++) cwrite(&c, lgp, dmn_lineage_names[k], H5T_NATIVE_DOUBLE, lg->col[k], 2, ld, rank, xfer);
    if (lg->n_gen) cwrite(&c, lgp, "checksum", H5T_NATIVE_UINT64, lg->checksum, 2, ld, rank, xfer);
    if (lg->n_gen) cwrite(&c, lgp, "inherited_checksum", H5T_NATIVE_UINT64, lg->inherited, 2, ld, rank, xfer);
    if (lgp >= 0) H5Gclose(lgp);
    Writer wr = {1, rank, xfer};
    write_connectome(&c, f, base, &wr);
  }
  return collective_finish(&c, f, xfer, tmp, path, world, rank, err);
}

/* Read a dataset whose extent must be dims (rank 1 or 2); row >= 0: only that row of a 2-D one. */
static int read_ds(hid_t f, const char *path, const char *name, hid_t type, void *x, int nd, const hsize_t *dims, int row, char err[DMN_ERR_MAX]) {
  hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
  if (ds < 0) return snprintf(err, DMN_ERR_MAX, "%s: missing dataset '%s' (not a population checkpoint?)", path, name), 1;
  hid_t fs = H5Dget_space(ds);
  hsize_t got[2] = {0, 0};
  int rc = 0, gnd = H5Sget_simple_extent_ndims(fs);
  H5Sget_simple_extent_dims(fs, got, NULL);
  if (gnd != nd || got[0] != dims[0] || (nd == 2 && got[1] != dims[1])) {
    snprintf(err, DMN_ERR_MAX, "%s: dataset '%s' has shape %llu x %llu, expected %llu x %llu (different population, circuit or config?)", path, name,
             (unsigned long long)got[0], (unsigned long long)(gnd == 2 ? got[1] : 1), (unsigned long long)dims[0],
             (unsigned long long)(nd == 2 ? dims[1] : 1));
    rc = 1;
  } else if (dims[0] > 0 && (nd == 1 || dims[1] > 0)) {
    hid_t ms = H5S_ALL;
    if (row >= 0) {
      hsize_t start[2] = {(hsize_t)row, 0}, count[2] = {1, dims[1]};
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
      ms = H5Screate_simple(1, &dims[1], NULL);
    }
    if (H5Dread(ds, type, ms, row >= 0 ? fs : H5S_ALL, H5P_DEFAULT, x) < 0) {
      snprintf(err, DMN_ERR_MAX, "%s: cannot read dataset '%s' (corrupt file?)", path, name);
      rc = 1;
    }
    if (row >= 0) H5Sclose(ms);
  }
  H5Sclose(fs);
  H5Dclose(ds);
  return rc;
}

int io_population_read(const char *path, const DmnModel *m, int P, int slot, DmnParams *p, DmnAdam *a, DmnTrainState *st, long *generation,
                       long *next_id, DmnGenome *genomes, DmnEvolutionLog *lg, char err[DMN_ERR_MAX]) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return snprintf(err, DMN_ERR_MAX, "%s: not a readable HDF5 file (missing, corrupt or truncated?)", path), 1;
  double pop = 0, gen = 0, nid = 0, upd = 0, eps = 0;
  int rc = check_format(f, path, err);
  if (!rc && (read_attr(f, "population", &pop) || read_attr(f, "generation", &gen) || read_attr(f, "next_id", &nid) || read_attr(f, "update", &upd) ||
               read_attr(f, "episodes_done", &eps))) {
    snprintf(err, DMN_ERR_MAX, "%s: not a population checkpoint (attributes population / generation missing; a plain training checkpoint "
                               "resumes with evolution.population: 1)", path);
    rc = 1;
  } else if (!rc && (int)pop != P) {
    snprintf(err, DMN_ERR_MAX, "%s: population of %d individuals, but the config asks for %d", path, (int)pop, P);
    rc = 1;
  }
  const hsize_t n = p->n, uP = (hsize_t)P;
  hsize_t d[2] = {uP, n};
  if (!rc) rc = read_ds(f, path, "/population/params", H5T_NATIVE_DOUBLE, p->data, 2, d, slot, err);
  if (!rc) rc = read_ds(f, path, "/population/adam_m", H5T_NATIVE_DOUBLE, a->m.data, 2, d, slot, err);
  if (!rc) rc = read_ds(f, path, "/population/adam_v", H5T_NATIVE_DOUBLE, a->v.data, 2, d, slot, err);
  if (!rc && H5Lexists(f, "/population/row_fnv1a64", H5P_DEFAULT) > 0) { /* format 2 */
    uint64_t want[3];
    hsize_t d3[2] = {uP, 3};
    rc = read_ds(f, path, "/population/row_fnv1a64", H5T_NATIVE_UINT64, want, 2, d3, slot, err);
    const char *nm[3] = {"/population/params", "/population/adam_m", "/population/adam_v"};
    const double *x[3] = {p->data, a->m.data, a->v.data};
    for (int k = 0; k < 3 && !rc; k++)
      if (util_fnv1a(x[k], sizeof(double) * n) != want[k]) {
        snprintf(err, DMN_ERR_MAX, "%s: dataset '%s' row %d fails its checksum: the file is corrupt", path, nm[k], slot);
        rc = 1;
      }
  }
  double step = 0;
  hsize_t d1[2] = {uP, 1};
  if (!rc) rc = read_ds(f, path, "/population/adam_step", H5T_NATIVE_DOUBLE, &step, 2, d1, slot, err);
  a->step = (long)step;
  long U = (long)upd;
  st->update = U;
  st->episodes_done = (long)eps;
  history_reserve(&st->hist, U + 1);
  st->hist.n = U;
  char name[160];
  hsize_t dh[2] = {uP, (hsize_t)U};
  for (int k = 0; k < DMN_NHCOL && !rc; k++) {
    snprintf(name, sizeof name, "/population/history/%s", dmn_history_names[k]);
    if (k >= DMN_H_val_success && H5Lexists(f, name, H5P_DEFAULT) <= 0) { /* version 0.3: no validation columns */
      for (long u = 0; u < U; u++) st->hist.col[k][u] = history_missing_value(k);
      continue;
    }
    rc = read_ds(f, path, name, H5T_NATIVE_DOUBLE, st->hist.col[k], 2, dh, slot, err);
  }
  hsize_t dg[2] = {uP, (hsize_t)U * DMN_NGROUP};
  if (!rc) rc = read_ds(f, path, "/population/history/grad_norm_group", H5T_NATIVE_DOUBLE, st->hist.group_norm, 2, dg, slot, err);
  /* genomes */
  const char *gname[6] = {"id", "parent", "lesioned", "made_pn_kc", "made_kc_mbon", "n_edits"};
  double *col = malloc(sizeof(double) * 6 * uP), *hyp = malloc(sizeof(double) * uP * DMN_NHYPER);
  for (int j = 0; j < 6 && !rc; j++) {
    snprintf(name, sizeof name, "/population/genome/%s", gname[j]);
    rc = read_ds(f, path, name, H5T_NATIVE_DOUBLE, col + j * uP, 1, &uP, -1, err);
  }
  hsize_t dhy[2] = {uP, DMN_NHYPER};
  if (!rc) rc = read_ds(f, path, "/population/genome/hyper", H5T_NATIVE_DOUBLE, hyp, 2, dhy, -1, err);
  long max_e = 0;
  for (int k = 0; k < P && !rc; k++) max_e = (long)col[5 * uP + k] > max_e ? (long)col[5 * uP + k] : max_e;
  const size_t width = 4 * (size_t)(max_e > 0 ? max_e : 1);
  int32_t *ed = malloc(sizeof(int32_t) * uP * width);
  hsize_t de[2] = {uP, width};
  if (!rc) rc = read_ds(f, path, "/population/genome/edits", H5T_NATIVE_INT32, ed, 2, de, -1, err);
  for (int k = 0; k < P && !rc; k++) {
    DmnGenome *g = &genomes[k];
    g->id = (long)col[k], g->parent = (long)col[uP + k], g->lesioned = (int)col[2 * uP + k];
    g->made_pn_kc = (long)col[3 * uP + k], g->made_kc_mbon = (long)col[4 * uP + k];
    memcpy(g->hyper, hyp + (size_t)k * DMN_NHYPER, sizeof g->hyper);
    g->n_edits = 0;
    long ne = (long)col[5 * uP + k];
    for (long e = 0; e < ne; e++) {
      const int32_t *x = ed + (size_t)k * width + (size_t)e * 4;
      DmnEdit E = {x[0], x[1], x[2], x[3]};
      genome_push_edit(g, E);
    }
  }
  free(col);
  free(hyp);
  free(ed);
  /* lineage */
  long ng = (long)gen;
  evolution_log_reserve(lg, ng + 1);
  lg->n_gen = ng;
  hsize_t dl[2] = {(hsize_t)ng, uP};
  for (int k = 0; k < DMN_NLCOL && !rc && ng > 0; k++) {
    snprintf(name, sizeof name, "/lineage/%s", dmn_lineage_names[k]);
    rc = read_ds(f, path, name, H5T_NATIVE_DOUBLE, lg->col[k], 2, dl, -1, err);
  }
  if (!rc && ng > 0) rc = read_ds(f, path, "/lineage/checksum", H5T_NATIVE_UINT64, lg->checksum, 2, dl, -1, err);
  if (!rc && ng > 0) rc = read_ds(f, path, "/lineage/inherited_checksum", H5T_NATIVE_UINT64, lg->inherited, 2, dl, -1, err);
  *generation = ng;
  *next_id = (long)nid;
  (void)m;
  H5Fclose(f);
  return rc;
}

/* ---- results ------------------------------------------------------------------- */

/* /evolution in results.h5: the lineage and the final population table. */
static void write_evolution(H5Ctx *c, hid_t f, const DmnEvolutionLog *lg) {
  if (!lg || c->failed) return;
  hid_t g = make_group(c, f, "evolution");
  write_num_attr(c, g, "population", lg->P);
  write_num_attr(c, g, "generations", (double)lg->n_gen);
  write_num_attr(c, g, "best_slot", lg->best);
  hid_t l = make_group(c, g, "lineage");
  hsize_t d[2] = {(hsize_t)lg->n_gen, (hsize_t)lg->P};
  for (int k = 0; k < DMN_NLCOL && l >= 0; k++) {
    write_ds(c, l, dmn_lineage_names[k], H5T_NATIVE_DOUBLE, lg->col[k], 2, d);
    hid_t ds = c->failed ? -1 : H5Dopen2(l, dmn_lineage_names[k], H5P_DEFAULT);
    if (ds >= 0) {
      write_str_attr(c, ds, "doc", dmn_lineage_docs[k]);
      H5Dclose(ds);
    }
  }
  write_ds(c, l, "checksum", H5T_NATIVE_UINT64, lg->checksum, 2, d);
  write_ds(c, l, "inherited_checksum", H5T_NATIVE_UINT64, lg->inherited, 2, d);
  if (l >= 0) H5Gclose(l);
  hid_t fg = make_group(c, g, "final");
  write_d1(c, fg, "success_rate", lg->final_success, (hsize_t)lg->P);
  write_d1(c, fg, "median_final_distance", lg->final_median, (hsize_t)lg->P);
  write_d1(c, fg, "mean_distance", lg->final_mean_distance, (hsize_t)lg->P);
  if (fg >= 0) H5Gclose(fg);
  if (g >= 0) H5Gclose(g);
}

static void write_eval(H5Ctx *c, hid_t loc, const char *name, const DmnEvalSummary *s) {
  if (!s || c->failed) return;
  hid_t g = make_group(c, loc, name);
  write_d1(c, g, "final_distance", s->final_distance, (hsize_t)s->n);
  write_d1(c, g, "mean_distance", s->mean_distance, (hsize_t)s->n);
  write_d1(c, g, "path_length", s->path_length, (hsize_t)s->n);
  if (s->kc_active) write_d1(c, g, "kc_active", s->kc_active, (hsize_t)s->n);
  write_num_attr(c, g, "mean_kc_active", s->mean_kc_active);
  write_num_attr(c, g, "success_rate", s->success_rate);
  write_num_attr(c, g, "median_final_distance", s->median_final);
  write_num_attr(c, g, "mean_final_distance", s->mean_final);
  write_num_attr(c, g, "mean_distance", s->mean_mean_distance);
  write_num_attr(c, g, "mean_path_length", s->mean_path);
  write_num_attr(c, g, "success_radius_mm", DMN_SUCCESS_RADIUS_MM);
  if (g >= 0) H5Gclose(g);
}

int io_write_results(const char *path, const DmnModel *m, const DmnTrainState *st, const DmnEvalSummary *trained,
                     const DmnEvalSummary *initial, const DmnEvalSummary *control, const DmnEvalSummary *intact, const DmnEvalSummary *best,
                     const DmnRadiiTable *radii, const DmnEpisodeRecord *traj, int n_traj,
                     const DmnEvolutionLog *evo, const char *yaml, char err[DMN_ERR_MAX]) {
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t f = open_output(&c, path, tmp, sizeof tmp, yaml, m);
  if (st) { /* NULL for --evaluate: no training history */
    write_num_attr(&c, f, "updates", (double)st->update);
    write_num_attr(&c, f, "episodes_done", (double)st->episodes_done);
    write_num_attr(&c, f, "best_update", (double)st->best_update);
    write_num_attr(&c, f, "trained_is_average", st->avg.data ? 1 : 0); /* train.average: /evaluation/trained judged the average */
    hid_t h = make_group(&c, f, "history");
    for (int k = 0; k < DMN_NHCOL && h >= 0; k++) write_d1(&c, h, dmn_history_names[k], st->hist.col[k], (hsize_t)st->hist.n);
    if (h >= 0) {
      write_d2(&c, h, "grad_norm_group", st->hist.group_norm, (hsize_t)st->hist.n, DMN_NGROUP);
      char names[1024] = "";
      for (int k = 0; k < DMN_NGROUP; k++) {
        strncat(names, dmn_group_names[k], sizeof names - strlen(names) - 2);
        if (k + 1 < DMN_NGROUP) strncat(names, ",", sizeof names - strlen(names) - 1);
      }
      write_str_attr(&c, h, "grad_norm_group_columns", names);
      H5Gclose(h);
    }
  }
  hid_t e = make_group(&c, f, "evaluation");
  write_eval(&c, e, "trained", trained);
  write_eval(&c, e, "initial", initial);
  write_eval(&c, e, "constant_odor_control", control);
  write_eval(&c, e, "intact", intact);        /* lesion studies only */
  write_eval(&c, e, "best_validation", best); /* train.validate_every: best.h5 (root attribute best_update) */
  if (e >= 0 && radii && radii->n > 0) { /* train.eval_radii: the trained parameters from each start distance */
    hid_t rg = make_group(&c, e, "by_start_distance");
    write_d1(&c, rg, "start_distance", radii->radius, (hsize_t)radii->n);
    write_d1(&c, rg, "success_rate", radii->success_rate, (hsize_t)radii->n);
    write_d1(&c, rg, "median_final_distance", radii->median_final, (hsize_t)radii->n);
    write_d1(&c, rg, "mean_distance", radii->mean_distance, (hsize_t)radii->n);
    write_d1(&c, rg, "path_length", radii->path_length, (hsize_t)radii->n);
    write_num_attr(&c, rg, "episodes_each", radii->episodes);
    if (rg >= 0) H5Gclose(rg);
  }
  if (e >= 0 && n_traj > 0) {
    hid_t tg = make_group(&c, e, "trajectories");
    write_episodes(&c, tg, m, traj, n_traj, 0);
    if (tg >= 0) H5Gclose(tg);
  }
  if (e >= 0) H5Gclose(e);
  write_evolution(&c, f, evo);
  return close_and_rename(&c, f, tmp, path);
}

static void json_eval(FILE *fp, const char *name, const DmnEvalSummary *s, int last) {
  fprintf(fp, "    \"%s\": {\"episodes\": %d, \"success_rate\": %.6g, \"median_final_distance\": %.6g, \"mean_final_distance\": %.6g, "
              "\"mean_distance_to_goal\": %.6g, \"total_distance_traveled\": %.6g}%s\n",
          name, s->n, s->success_rate, s->median_final, s->mean_final, s->mean_mean_distance, s->mean_path, last ? "" : ",");
}

int io_write_training_json(const char *path, const DmnTrainState *st, const DmnEvalSummary *tr, const DmnEvalSummary *in,
                           const DmnEvalSummary *ctl, const DmnEvalSummary *intact, const DmnEvalSummary *best, const DmnRadiiTable *radii,
                           char err[DMN_ERR_MAX]) {
  char tmp[DMN_STR_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *fp = fopen(tmp, "w");
  if (!fp) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot write: %s", tmp, strerror(errno));
    return 1;
  }
  const DmnHistory *h = &st->hist;
  fprintf(fp, "{\n  \"training_losses\": [\n");
  for (long u = 0; u < h->n; u++)
    fprintf(fp, "    {\"update\": %ld, \"episodes\": %.0f, \"total\": %.10g, \"nav_distance\": %.10g, \"energy\": %.10g, \"sparsity\": %.10g, "
                "\"rate\": %.10g, \"silent\": %.10g, \"grad_norm\": %.6g}%s\n",
            u + 1, h->col[DMN_H_episodes][u], h->col[DMN_H_loss_total][u], h->col[DMN_H_loss_nav][u], h->col[DMN_H_loss_energy][u],
            h->col[DMN_H_loss_sparse][u], h->col[DMN_H_loss_rate][u], h->col[DMN_H_loss_silent][u], h->col[DMN_H_grad_norm][u],
            u + 1 < h->n ? "," : "");
  /* train.eval_at: the held-out curve, from the starting parameters (0 episodes) */
  fprintf(fp, "  ],\n  \"held_out_curve\": [\n    {\"episodes\": 0, \"success\": %.6g, \"median_final\": %.6g}", in->success_rate,
          in->median_final);
  for (long u = 0; u < h->n; u++)
    if (isfinite(h->col[DMN_H_eval_success][u]))
      fprintf(fp, ",\n    {\"episodes\": %.0f, \"success\": %.6g, \"median_final\": %.6g}", h->col[DMN_H_episodes][u],
              h->col[DMN_H_eval_success][u], h->col[DMN_H_eval_median_final][u]);
  fprintf(fp, "\n  ],\n");
  if (radii && radii->n > 0) { /* train.eval_radii */
    fprintf(fp, "  \"by_start_distance\": [\n");
    for (int k = 0; k < radii->n; k++)
      fprintf(fp, "    {\"start_distance\": %.6g, \"episodes\": %d, \"success_rate\": %.6g, \"median_final_distance\": %.6g, "
                  "\"mean_distance_to_goal\": %.6g, \"total_distance_traveled\": %.6g}%s\n",
              radii->radius[k], radii->episodes, radii->success_rate[k], radii->median_final[k], radii->mean_distance[k], radii->path_length[k],
              k + 1 < radii->n ? "," : "");
    fprintf(fp, "  ],\n");
  }
  fprintf(fp, "  \"final_metrics\": {\n");
  fprintf(fp, "    \"final_distance_to_goal\": %.6g,\n    \"mean_distance_to_goal\": %.6g,\n    \"total_distance_traveled\": %.6g,\n",
          tr->mean_final, tr->mean_mean_distance, tr->mean_path);
  fprintf(fp, "    \"success_rate\": %.6g,\n", tr->success_rate);
  fprintf(fp, "    \"trained_is_average\": %s,\n", st->avg.data ? "true" : "false");
  json_eval(fp, "trained", tr, 0);
  json_eval(fp, "initial", in, 0);
  json_eval(fp, "constant_odor_control", ctl, !intact && !best);
  if (intact) json_eval(fp, "intact", intact, !best);
  if (best) {
    fprintf(fp, "    \"best_validation_update\": %ld,\n", st->best_update);
    json_eval(fp, "best_validation", best, 1);
  }
  fprintf(fp, "  }\n}\n");
  if (fclose(fp) || rename(tmp, path)) {
    snprintf(err, DMN_ERR_MAX, "%s: cannot write: %s", path, strerror(errno));
    return 1;
  }
  return 0;
}
