/* h5util — the HDF5 helpers every writer and reader uses: every call
 * checked, failures naming the file and the object; collective writes
 * that agree on failure across ranks; checksums and format versions; the
 * /connectome and root attributes every output carries. */
#include "h5util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dmn_version.h"
#include "util.h"

/* used only here */
static void h5u_agree(H5Ctx *c);
static void h5u_h5fail(H5Ctx *c, const char *what, const char *obj);
static hid_t h5u_open_tmp(H5Ctx *c, const char *path, char *tmp, size_t n);
static void h5u_wds(H5Ctx *c, const Writer *w, hid_t loc, const char *name, hid_t type, const void *data, hsize_t n);
static void h5u_write_i1(H5Ctx *c, hid_t loc, const char *name, const int *x, hsize_t n);
static void h5u_write_run_info(H5Ctx *c, hid_t f, const DmnModel *m);
static void h5u_wstr(H5Ctx *c, const Writer *w, hid_t loc, const char *name, const char *text);
#include "par.h"

/* A collective write goes on only while it succeeds on every rank: a rank
 * that failed (disk full on its part of the file) must not leave the
 * others waiting inside the next collective HDF5 call.  Called by every
 * rank before each collective dataset, failed or not. */
static void h5u_agree(H5Ctx *c) {
  if (c->collective) DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &c->failed, 1, MPI_INT, MPI_MAX, c->comm));
}

static void h5u_h5fail(H5Ctx *c, const char *what, const char *obj) {
  const int e = errno; /* what the file system said, when it is one of these */
  const int fs = e == ENOSPC || e == EFBIG || e == EDQUOT || e == EIO || e == EROFS || e == ESTALE;
  if (!c->failed) snprintf(c->err, DMN_ERR_MAX, "%s: cannot %s '%s'%s%s", c->path, what, obj, fs ? ": " : "", fs ? strerror(e) : "");
  c->failed = 1;
}

void h5u_write_ds(H5Ctx *c, hid_t loc, const char *name, hid_t mem_type, const void *data, int rank, const hsize_t *dims) {
  if (c->failed) return;
  hid_t sp = H5Screate_simple(rank, dims, NULL);
  hid_t ds = sp < 0 ? -1 : H5Dcreate2(loc, name, mem_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || (dims[0] > 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)) h5u_h5fail(c, "write dataset", name);
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
}

void h5u_write_d1(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n) { h5u_write_ds(c, loc, name, H5T_NATIVE_DOUBLE, x, 1, &n); }
void h5u_write_d2(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n0, hsize_t n1) {
  hsize_t d[2] = {n0, n1};
  h5u_write_ds(c, loc, name, H5T_NATIVE_DOUBLE, x, 2, d);
}

static void h5u_write_i1(H5Ctx *c, hid_t loc, const char *name, const int *x, hsize_t n) { h5u_write_ds(c, loc, name, H5T_NATIVE_INT, x, 1, &n); }

void h5u_write_str_attr(H5Ctx *c, hid_t loc, const char *name, const char *s) {
  if (c->failed) return;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(s) + 1);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, t, s) < 0) h5u_h5fail(c, "write attribute", name);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  H5Tclose(t);
}

void h5u_write_num_attr(H5Ctx *c, hid_t loc, const char *name, double v) {
  if (c->failed) return;
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, H5T_NATIVE_DOUBLE, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &v) < 0) h5u_h5fail(c, "write attribute", name);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
}

/* Integrity: every parameter / optimizer dataset carries the FNV-1a 64 of
 * its bytes as attribute "fnv1a64"; readers recompute it and name the
 * dataset that does not match.  All ranks of a collective write pass the
 * same value (the caller broadcasts it). */
void h5u_write_sum_attr(H5Ctx *c, hid_t loc, const char *ds_name, uint64_t sum) {
  if (c->failed) return;
  hid_t ds = H5Dopen2(loc, ds_name, H5P_DEFAULT);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = ds < 0 ? -1 : H5Acreate2(ds, "fnv1a64", H5T_NATIVE_UINT64, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0 || H5Awrite(a, H5T_NATIVE_UINT64, &sum) < 0) h5u_h5fail(c, "write checksum of", ds_name);
  if (a >= 0) H5Aclose(a);
  H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
}

/* 0 when dataset ds has no checksum (files before format 2) or it matches x. */
int h5u_check_sum_attr(hid_t ds, const char *path, const char *name, const void *x, size_t bytes, char err[DMN_ERR_MAX]) {
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
int h5u_check_format(hid_t f, const char *path, char err[DMN_ERR_MAX]) {
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
void h5u_write_config(H5Ctx *c, hid_t f, const char *yaml) {
  if (c->failed) return;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(yaml) + 1);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t ds = H5Dcreate2(f, "config", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0 || H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, yaml) < 0) h5u_h5fail(c, "write dataset", "config");
  if (ds >= 0) H5Dclose(ds);
  H5Sclose(sp);
  H5Tclose(t);
}

hid_t h5u_make_group(H5Ctx *c, hid_t loc, const char *name) {
  if (c->failed) return -1;
  hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) h5u_h5fail(c, "create group", name);
  return g;
}

static hid_t h5u_open_tmp(H5Ctx *c, const char *path, char *tmp, size_t n) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* our messages, not HDF5's stack dumps */
  snprintf(tmp, n, "%s.tmp", path);
  hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    snprintf(c->err, DMN_ERR_MAX, "%s: cannot create file (check that the directory exists and is writable)", tmp);
    c->failed = 1;
  }
  return f;
}

/* Every rank-0 output file starts alike: PATH.tmp, versions, the config,
 * the run's names and its connectome. */
hid_t h5u_open_output(H5Ctx *c, const char *path, char *tmp, size_t n, const char *yaml, const DmnModel *m) {
  hid_t f = h5u_open_tmp(c, path, tmp, n);
  h5u_write_version(c, f);
  h5u_write_config(c, f, yaml);
  Writer serial = {0, 0, -1};
  h5u_write_connectome(c, f, m, &serial);
  return f;
}

int h5u_close_and_rename(H5Ctx *c, hid_t f, const char *tmp, const char *path) {
  if (f >= 0 && H5Fclose(f) < 0) h5u_h5fail(c, "close", tmp);
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

void h5u_write_version(H5Ctx *c, hid_t f) {
  h5u_write_str_attr(c, f, "dmn_version", DMN_VERSION);
  h5u_write_str_attr(c, f, "dmn_git", DMN_GIT_HASH);
  h5u_write_str_attr(c, f, "model_contract", "src/MODEL.md v2.1");
  h5u_write_num_attr(c, f, "format_version", DMN_FORMAT_VERSION);
}

/* /<loc>/episode_NNNN/... for each record (shared by simulation and results). */
void h5u_write_episodes(H5Ctx *c, hid_t loc, const DmnModel *m, const DmnEpisodeRecord *recs, int n, int link_first) {
  static const char *names[] = {"position", "heading", "odor_input", "dn_drive", "joint_angles", "foot_contacts", "spikes", "rates_hz"};
  for (int e = 0; e < n && !c->failed; e++) {
    const DmnEpisodeRecord *r = &recs[e];
    char gname[64];
    snprintf(gname, sizeof gname, "episode_%04ld", r->episode);
    hid_t g = h5u_make_group(c, loc, gname);
    hsize_t T = (hsize_t)r->T;
    h5u_write_d2(c, g, "position", r->position, T, 3);
    h5u_write_d1(c, g, "heading", r->heading, T);
    h5u_write_d2(c, g, "odor_input", r->odor, T, 2);
    h5u_write_d2(c, g, "dn_drive", r->drive, T, 2);
    h5u_write_d2(c, g, "joint_angles", r->joints, T, (hsize_t)(r->n_joint > 0 ? r->n_joint : 3 * DMN_LEGS));
    if (r->body_kind == DMN_BODY_NEUROMECHFLY)
      h5u_write_str_attr(c, g, "body", "neuromechfly: position z = thorax height, joint_angles = the 42 leg joints in actuator order "
                                       "(LF LM LH RF RM RH x Coxa Coxa_roll Coxa_yaw Femur Femur_roll Tibia Tarsus1), "
                                       "foot_contacts = leg-floor contacts per leg");
    h5u_write_d2(c, g, "foot_contacts", r->contact, T, DMN_LEGS);
    h5u_write_d1(c, g, "rates_hz", r->rate_hz, DMN_NLAYER);
    h5u_write_d1(c, g, "start_pose", r->start, 3);
    hid_t sg = h5u_make_group(c, g, "spikes");
    for (int l = 0; l < DMN_NLAYER && !c->failed; l++) {
      hid_t lg = h5u_make_group(c, sg, dmn_layer_names[l]);
      h5u_write_i1(c, lg, "step", r->spike_step[l], (hsize_t)r->n_spikes[l]);
      h5u_write_i1(c, lg, "neuron", r->spike_id[l], (hsize_t)r->n_spikes[l]);
      h5u_write_num_attr(c, lg, "n_neurons", m->n[l]);
      if (lg >= 0) H5Gclose(lg);
    }
    if (sg >= 0) H5Gclose(sg);
    h5u_write_num_attr(c, g, "loss_total", r->loss.total);
    h5u_write_num_attr(c, g, "loss_nav", r->loss.nav);
    h5u_write_num_attr(c, g, "loss_energy", r->loss.energy);
    h5u_write_num_attr(c, g, "loss_sparse", r->loss.sparse);
    h5u_write_num_attr(c, g, "loss_rate", r->loss.rate);
    h5u_write_num_attr(c, g, "loss_silent", r->loss.silent);
    h5u_write_num_attr(c, g, "loss_end", r->loss.end);
    h5u_write_num_attr(c, g, "final_distance_to_goal", r->metrics.final_distance);
    h5u_write_num_attr(c, g, "mean_distance_to_goal", r->metrics.mean_distance);
    h5u_write_num_attr(c, g, "total_distance_traveled", r->metrics.path_length);
    h5u_write_num_attr(c, g, "kc_active_fraction", r->metrics.kc_active_fraction);
    if (g >= 0) H5Gclose(g);
    if (e == 0 && link_first) /* the seed's readers open f['position'] etc.: link to episode 0 */
      for (size_t k = 0; k < sizeof names / sizeof names[0] && !c->failed; k++) {
        char target[128];
        snprintf(target, sizeof target, "/%s/%s", gname, names[k]);
        if (H5Lcreate_soft(target, loc, names[k], H5P_DEFAULT, H5P_DEFAULT) < 0) h5u_h5fail(c, "link", names[k]);
      }
  }
}


/* Create a file collectively over comm with MPI-IO (every rank calls it). */
hid_t h5u_create_collective(const char *path, MPI_Comm comm) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  return f;
}

/* ---- checkpoints (collective) ------------------------------------------------ */

/* Create a dataset on every rank (collective metadata); rank 0 writes the
 * data, the others take part with an empty selection. */
void h5u_cwrite(H5Ctx *c, hid_t loc, const char *name, hid_t type, const void *data, int rank_n, const hsize_t *dims, int rank,
                   hid_t xfer) {
  h5u_agree(c);
  if (c->failed) return;
  hid_t fs = H5Screate_simple(rank_n, dims, NULL);
  hid_t ds = H5Dcreate2(loc, name, type, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (ds < 0) {
    h5u_h5fail(c, "create dataset", name);
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
    if (npts && H5Dwrite(ds, type, ms, fs, xfer, data) < 0) h5u_h5fail(c, "write dataset", name);
    H5Sclose(ms);
    H5Dclose(ds);
  }
  H5Sclose(fs);
}

void h5u_cwrite_d1(H5Ctx *c, hid_t loc, const char *name, const double *x, hsize_t n, int rank, hid_t xfer) {
  double dummy = 0;
  h5u_cwrite(c, loc, name, H5T_NATIVE_DOUBLE, n ? x : &dummy, 1, &n, rank, xfer);
}

/* ---- /connectome: which circuit the results belong to ------------------------ */


static void h5u_wds(H5Ctx *c, const Writer *w, hid_t loc, const char *name, hid_t type, const void *data, hsize_t n) {
  static const double zero[1] = {0};
  if (!n) data = zero; /* a valid pointer for empty datasets */
  if (w->collective)
    h5u_cwrite(c, loc, name, type, data, 1, &n, w->rank, w->xfer);
  else
    h5u_write_ds(c, loc, name, type, data, 1, &n);
}

static void h5u_wstr(H5Ctx *c, const Writer *w, hid_t loc, const char *name, const char *text) {
  /* one fixed-length string (a 1-element dataset: works serial and collective) */
  if (c->failed) return;
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, strlen(text) + 1);
  hsize_t one = 1;
  if (w->collective)
    h5u_cwrite(c, loc, name, t, text, 1, &one, w->rank, w->xfer);
  else
    h5u_write_ds(c, loc, name, t, text, 1, &one);
  H5Tclose(t);
}

/* Root attributes naming the run: what dmn_merge and the analysis read. */
static void h5u_write_run_info(H5Ctx *c, hid_t f, const DmnModel *m) {
  const DmnConfig *cfg = &m->cfg;
  h5u_write_str_attr(c, f, "config_name", cfg->name[0] ? cfg->name : "default");
  h5u_write_num_attr(c, f, "seed", (double)cfg->sim_seed);
  h5u_write_num_attr(c, f, "sweep_index", cfg->sweep_index);
  h5u_write_num_attr(c, f, "sweep_size", config_sweep_tasks(cfg));
  h5u_write_str_attr(c, f, "sweep_name", config_sweep_name(cfg)); /* the condition: a sweep's seeds share it */
  h5u_write_num_attr(c, f, "sweep_condition", cfg->sweep_condition);
}

void h5u_write_connectome(H5Ctx *c, hid_t f, const DmnModel *m, const Writer *w) {
  h5u_write_run_info(c, f, m);
  const DmnConnectome *cn = &m->conn;
  hid_t cg = h5u_make_group(c, f, "connectome");
  if (cg < 0) return;
  h5u_write_str_attr(c, cg, "source", cn->source);
  char *summary = connectome_summary(cn);
  h5u_wstr(c, w, cg, "summary", summary);
  free(summary);
  /* cell type names, one per line; layers store indices into them */
  size_t len = 1;
  for (int t = 0; t < cn->n_types; t++) len += strlen(cn->type_names[t]) + 1;
  char *names = malloc(len);
  names[0] = 0;
  for (int t = 0; t < cn->n_types; t++) strcat(strcat(names, cn->type_names[t]), "\n");
  h5u_wstr(c, w, cg, "type_names", names);
  free(names);
  for (int l = 0; l < DMN_NLAYER; l++) {
    hid_t lg = h5u_make_group(c, cg, dmn_layer_names[l]);
    hsize_t n = (hsize_t)cn->n[l];
    uint8_t *sil = calloc(n + 1, 1);
    if (cn->silenced[l]) memcpy(sil, cn->silenced[l], n);
    h5u_wds(c, w, lg, "id", H5T_NATIVE_INT64, cn->id[l], n);
    h5u_wds(c, w, lg, "type", H5T_NATIVE_INT, cn->type[l], n);
    h5u_wds(c, w, lg, "side", H5T_NATIVE_INT8, cn->side[l], n);
    h5u_wds(c, w, lg, "transmitter", H5T_NATIVE_UINT8, cn->transmitter[l], n);
    h5u_wds(c, w, lg, "silenced", H5T_NATIVE_UINT8, sil, n);
    free(sil);
    if (lg >= 0) H5Gclose(lg);
  }
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *pr = &cn->proj[q];
    hid_t pg = h5u_make_group(c, cg, dmn_proj_names[q]);
    h5u_wds(c, w, pg, "row_ptr", H5T_NATIVE_INT, pr->row_ptr, (hsize_t)pr->n_post + 1);
    h5u_wds(c, w, pg, "col", H5T_NATIVE_INT, pr->col, (hsize_t)pr->nnz);
    h5u_wds(c, w, pg, "alive", H5T_NATIVE_UINT8, pr->alive, (hsize_t)pr->nnz);
    h5u_wds(c, w, pg, "count", H5T_NATIVE_FLOAT, pr->count, (hsize_t)pr->nnz);
    h5u_write_num_attr(c, pg, "signed", pr->is_signed);
    h5u_write_num_attr(c, pg, "synthetic", pr->synthetic);
    h5u_write_num_attr(c, pg, "scale", pr->scale);
    h5u_write_str_attr(c, pg, "pre", dmn_layer_names[pr->pre]);
    h5u_write_str_attr(c, pg, "post", dmn_layer_names[pr->post]);
    if (pg >= 0) H5Gclose(pg);
  }
  hid_t lg = h5u_make_group(c, cg, "lesions");
  h5u_write_num_attr(c, lg, "count", cn->n_lesions);
  for (int k = 0; k < cn->n_lesions && lg >= 0; k++) {
    const DmnLesionRecord *r = &cn->lesions[k];
    char name[96];
    snprintf(name, sizeof name, "%02d_%s", k, r->name);
    hid_t g = h5u_make_group(c, lg, name);
    h5u_write_str_attr(c, g, "name", r->name);
    h5u_write_str_attr(c, g, "kind", r->kind);
    h5u_write_str_attr(c, g, "target", r->target);
    h5u_write_num_attr(c, g, "synapses_removed", (double)r->synapses_removed);
    h5u_write_num_attr(c, g, "factor", r->factor);
    if (r->layer == DMN_LESION_LAYER_APL) {
      h5u_write_str_attr(c, g, "layer", "APL");
      h5u_wds(c, w, g, "neuron_index", H5T_NATIVE_INT, r->neurons, (hsize_t)r->n_neurons); /* the side: 0 left, 1 right */
    } else if (r->layer >= 0) {
      h5u_write_str_attr(c, g, "layer", dmn_layer_names[r->layer]);
      int64_t *ids = malloc(sizeof(int64_t) * ((size_t)r->n_neurons + 1));
      for (int i = 0; i < r->n_neurons; i++) ids[i] = cn->id[r->layer][r->neurons[i]];
      h5u_wds(c, w, g, "neuron_index", H5T_NATIVE_INT, r->neurons, (hsize_t)r->n_neurons);
      h5u_wds(c, w, g, "neuron_id", H5T_NATIVE_INT64, ids, (hsize_t)r->n_neurons);
      free(ids);
    } else {
      h5u_write_str_attr(c, g, "projection", dmn_proj_names[r->proj]);
    }
    if (g >= 0) H5Gclose(g);
  }
  if (lg >= 0) H5Gclose(lg);
  /* kept from earlier versions: /connectome/transmitter_<LAYER> */
  for (int l = 0; l < DMN_NLAYER; l++) {
    char name[64];
    snprintf(name, sizeof name, "transmitter_%s", dmn_layer_names[l]);
    h5u_wds(c, w, cg, name, H5T_NATIVE_UINT8, cn->transmitter[l], (hsize_t)cn->n[l]);
  }
  H5Gclose(cg);
}

/* The previous checkpoint's name (io.h). */
void io_prev_path(const char *path, char *out, size_t n) {
  size_t len = strlen(path);
  if (len > 3 && !strcmp(path + len - 3, ".h5")) snprintf(out, n, "%.*s.prev.h5", (int)(len - 3), path);
  else snprintf(out, n, "%s.prev", path);
}

/* Open PATH.tmp for a collective write by every rank of comm, with a
 * collective transfer list (collective_finish closes both). */
hid_t h5u_collective_start(H5Ctx *c, const char *path, char *tmp, size_t n, MPI_Comm comm, hid_t *xfer) {
  snprintf(tmp, n, "%s.tmp", path);
  c->collective = 1;
  c->comm = comm;
  hid_t f = h5u_create_collective(tmp, comm);
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
int h5u_collective_finish(H5Ctx *c, hid_t f, hid_t xfer, const char *tmp, const char *path, MPI_Comm comm, int rank, char err[DMN_ERR_MAX]) {
  H5Pclose(xfer);
  if (f >= 0 && H5Fclose(f) < 0) h5u_h5fail(c, "close", tmp);
  /* every rank must have succeeded before the rename makes it the checkpoint */
  int bad = c->failed;
  DMN_MPI(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm));
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
  DMN_MPI(MPI_Bcast(&rc, 1, MPI_INT, 0, comm));
  if (bad && !rc) rc = 1;
  if (rc && rank && !c->failed) snprintf(err, DMN_ERR_MAX, "%s: checkpoint write failed (see rank 0)", path);
  return rc;
}

int h5u_read_attr(hid_t f, const char *name, double *v) {
  hid_t a = H5Aopen(f, name, H5P_DEFAULT);
  if (a < 0) return 1;
  int rc = H5Aread(a, H5T_NATIVE_DOUBLE, v) < 0;
  H5Aclose(a);
  return rc;
}

int h5u_read_d(hid_t f, const char *path, const char *name, double *x, hssize_t n, char err[DMN_ERR_MAX]) {
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
    rc = h5u_check_sum_attr(ds, path, name, x, sizeof(double) * (size_t)n, err);
  }
  H5Sclose(sp);
  H5Dclose(ds);
  return rc;
}

/* ---- population checkpoints (evolution) --------------------------------------- */

/* A (P x ncol) dataset; the rank with my_row >= 0 writes that row, the others
 * take part with an empty selection. */
void h5u_cwrite_rows(H5Ctx *c, hid_t loc, const char *name, hid_t type, const void *row, hsize_t P, hsize_t ncol, int my_row, hid_t xfer) {
  h5u_agree(c);
  if (c->failed) return;
  hsize_t dims[2] = {P, ncol}, mdim = ncol ? ncol : 1;
  hid_t fs = H5Screate_simple(2, dims, NULL), ms = H5Screate_simple(1, &mdim, NULL);
  hid_t ds = H5Dcreate2(loc, name, type, fs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  static const double dummy[1] = {0};
  if (ds < 0) {
    h5u_h5fail(c, "create dataset", name);
  } else {
    if (my_row >= 0 && ncol > 0) {
      hsize_t start[2] = {(hsize_t)my_row, 0}, count[2] = {1, ncol};
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    } else {
      H5Sselect_none(fs);
      H5Sselect_none(ms);
    }
    if (H5Dwrite(ds, type, ms, fs, xfer, row && ncol ? row : (const void *)dummy) < 0) h5u_h5fail(c, "write dataset", name);
    H5Dclose(ds);
  }
  H5Sclose(ms);
  H5Sclose(fs);
}

/* Read a dataset whose extent must be dims (rank 1 or 2); row >= 0: only that row of a 2-D one. */
int h5u_read_ds(hid_t f, const char *path, const char *name, hid_t type, void *x, int nd, const hsize_t *dims, int row, char err[DMN_ERR_MAX]) {
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
