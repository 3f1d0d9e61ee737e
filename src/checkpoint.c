/* checkpoint — collective checkpoints and population checkpoints: written
 * by every rank with MPI-IO to PATH.tmp, checksummed, renamed into place
 * (the previous one kept as PATH.prev.h5); read back with every dataset
 * checked. */
#include "io.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5util.h"
#include "util.h"
#include "par.h"

int io_checkpoint_write(const char *path, MPI_Comm comm, const DmnModel *m, const DmnParams *p, const DmnAdam *a,
                        const DmnTrainState *st, const char *yaml, char err[DMN_ERR_MAX]) {
  int rank;
  DMN_MPI(MPI_Comm_rank(comm, &rank));
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t xfer;
  hid_t f = h5u_collective_start(&c, path, tmp, sizeof tmp, comm, &xfer);
  if (!c.failed) {
    /* attributes and groups are collective metadata: identical on every rank */
    h5u_write_version(&c, f);
    h5u_write_config(&c, f, yaml);
    h5u_write_num_attr(&c, f, "update", (double)st->update);
    h5u_write_num_attr(&c, f, "episodes_done", (double)st->episodes_done);
    h5u_write_num_attr(&c, f, "adam_step", (double)a->step);
    h5u_write_num_attr(&c, f, "best_update", (double)st->best_update); /* train.validate_every: best.h5's update (0: none) */
    h5u_write_num_attr(&c, f, "best_val_success", st->best_success);
    h5u_write_num_attr(&c, f, "best_val_median_final", st->best_median_final);
    int size;
    DMN_MPI(MPI_Comm_size(comm, &size));
    h5u_write_num_attr(&c, f, "n_ranks", size);
    const char *grp[4] = {"params", "adam_m", "adam_v", "average"};
    const DmnParams *src[4] = {p, &a->m, &a->v, &st->avg};
    for (int q = 0; q < (st->avg.data ? 4 : 3); q++) { /* /average: train.average's moving average */
      hid_t g = h5u_make_group(&c, f, grp[q]);
      for (int k = 0; k < DMN_NGROUP && g >= 0; k++) {
        const double *x = params_group(src[q], m, k);
        h5u_cwrite_d1(&c, g, dmn_group_names[k], x, m->group_n[k], rank, xfer);
        uint64_t sum = util_fnv1a(x, sizeof(double) * m->group_n[k]);
        DMN_MPI(MPI_Bcast(&sum, 1, MPI_UINT64_T, 0, comm)); /* rank 0 wrote the data */
        h5u_write_sum_attr(&c, g, dmn_group_names[k], sum);
      }
      if (g >= 0) H5Gclose(g);
    }
    hid_t h = h5u_make_group(&c, f, "history");
    for (int k = 0; k < DMN_NHCOL && h >= 0; k++) h5u_cwrite_d1(&c, h, dmn_history_names[k], st->hist.col[k], (hsize_t)st->hist.n, rank, xfer);
    if (h >= 0) {
      hsize_t d2[2] = {(hsize_t)st->hist.n, DMN_NGROUP};
      double dummy = 0;
      h5u_cwrite(&c, h, "grad_norm_group", H5T_NATIVE_DOUBLE, st->hist.n ? st->hist.group_norm : &dummy, 2, d2, rank, xfer);
      H5Gclose(h);
    }
    /* the connectome the parameters belong to (masks, lesions, signs) */
    Writer wr = {1, rank, xfer};
    h5u_write_connectome(&c, f, m, &wr);
  }
  return h5u_collective_finish(&c, f, xfer, tmp, path, comm, rank, err);
}

long io_checkpoint_update(const char *path) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = access(path, R_OK) ? -1 : H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  double u = -1;
  if (f >= 0) {
    if (h5u_read_attr(f, "update", &u)) u = -1;
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
  if (h5u_read_attr(f, "update", &upd) || h5u_read_attr(f, "episodes_done", &eps) || h5u_read_attr(f, "adam_step", &astep)) {
    snprintf(err, DMN_ERR_MAX, "%s: not a dmn checkpoint (attributes update / episodes_done / adam_step missing; a gradient dump "
                               "holds parameters only: use --init)", path);
    rc = 1;
  }
  char name[160];
  for (int k = 0; k < DMN_NGROUP && !rc && a; k++) {
    snprintf(name, sizeof name, "/adam_m/%s", dmn_group_names[k]);
    rc = h5u_read_d(f, path, name, params_group(&a->m, m, k), (hssize_t)m->group_n[k], err);
    snprintf(name, sizeof name, "/adam_v/%s", dmn_group_names[k]);
    if (!rc) rc = h5u_read_d(f, path, name, params_group(&a->v, m, k), (hssize_t)m->group_n[k], err);
  }
  if (!rc && a) a->step = (long)astep;
  if (!rc && st && st->avg.data) { /* train.average: the moving average; a checkpoint without one starts it at p */
    if (H5Lexists(f, "/average", H5P_DEFAULT) > 0) {
      for (int k = 0; k < DMN_NGROUP && !rc; k++) {
        snprintf(name, sizeof name, "/average/%s", dmn_group_names[k]);
        rc = h5u_read_d(f, path, name, params_group(&st->avg, m, k), (hssize_t)m->group_n[k], err);
      }
    } else {
      params_copy(&st->avg, p);
    }
  }
  if (!rc && st) {
    st->update = (long)upd;
    st->episodes_done = (long)eps;
    double bu = 0, bs = 0, bf = 0; /* absent before version 0.4: no validation yet */
    if (h5u_read_attr(f, "best_update", &bu) || h5u_read_attr(f, "best_val_success", &bs) || h5u_read_attr(f, "best_val_median_final", &bf)) bu = bs = bf = 0;
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
      rc = h5u_read_d(f, path, name, st->hist.col[k], st->update, err);
    }
    if (!rc) rc = h5u_read_d(f, path, "/history/grad_norm_group", st->hist.group_norm, st->update * DMN_NGROUP, err);
  }
  H5Fclose(f);
  return rc;
}

int io_population_write(const char *path, MPI_Comm world, const DmnModel *base, const DmnModel *mine, const DmnParams *p, const DmnAdam *a,
                        const DmnTrainState *st, const DmnPopulationIO *pop, const char *yaml, char err[DMN_ERR_MAX]) {
  int rank, size;
  DMN_MPI(MPI_Comm_rank(world, &rank));
  DMN_MPI(MPI_Comm_size(world, &size));
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t xfer;
  hid_t f = h5u_collective_start(&c, path, tmp, sizeof tmp, world, &xfer);
  if (!c.failed) {
    const hsize_t P = (hsize_t)pop->P;
    const int row = pop->writer ? pop->slot : -1;
    h5u_write_version(&c, f);
    h5u_write_config(&c, f, yaml);
    h5u_write_num_attr(&c, f, "population", pop->P);
    h5u_write_num_attr(&c, f, "generation", (double)pop->generation);
    h5u_write_num_attr(&c, f, "next_id", (double)pop->next_id);
    h5u_write_num_attr(&c, f, "update", (double)st->update);
    h5u_write_num_attr(&c, f, "episodes_done", (double)st->episodes_done);
    h5u_write_num_attr(&c, f, "n_ranks", size);
    hid_t pg = h5u_make_group(&c, f, "population");
    /* each individual: one row per slot */
    h5u_cwrite_rows(&c, pg, "params", H5T_NATIVE_DOUBLE, p->data, P, p->n, row, xfer);
    h5u_cwrite_rows(&c, pg, "adam_m", H5T_NATIVE_DOUBLE, a->m.data, P, p->n, row, xfer);
    h5u_cwrite_rows(&c, pg, "adam_v", H5T_NATIVE_DOUBLE, a->v.data, P, p->n, row, xfer);
    double step = (double)a->step;
    h5u_cwrite_rows(&c, pg, "adam_step", H5T_NATIVE_DOUBLE, &step, P, 1, row, xfer);
    /* each row's checksum (params, adam_m, adam_v), written with the row */
    const uint64_t rsum[3] = {util_fnv1a(p->data, sizeof(double) * p->n), util_fnv1a(a->m.data, sizeof(double) * p->n),
                              util_fnv1a(a->v.data, sizeof(double) * p->n)};
    h5u_cwrite_rows(&c, pg, "row_fnv1a64", H5T_NATIVE_UINT64, rsum, P, 3, row, xfer);
    /* every rank's own parameter checksum (FNV-1a of the bytes): the ranks of a group must agree */
    uint64_t mysum = util_fnv1a(p->data, sizeof(double) * p->n); /* = train_params_checksum */
    h5u_cwrite_rows(&c, pg, "rank_checksum", H5T_NATIVE_UINT64, &mysum, (hsize_t)size, 1, rank, xfer);
    h5u_cwrite_rows(&c, pg, "rank_slot", H5T_NATIVE_INT, &pop->slot, (hsize_t)size, 1, rank, xfer);
    const DmnProjection *pk = &mine->conn.proj[DMN_P_PN_TO_KC], *km = &mine->conn.proj[DMN_P_KC_TO_MBON];
    h5u_cwrite_rows(&c, pg, "pn_to_kc_col", H5T_NATIVE_INT, pk->col, P, (hsize_t)pk->nnz, row, xfer);
    h5u_cwrite_rows(&c, pg, "kc_to_mbon_col", H5T_NATIVE_INT, km->col, P, (hsize_t)km->nnz, row, xfer);
    hid_t hg = h5u_make_group(&c, pg, "history");
    for (int k = 0; k < DMN_NHCOL && hg >= 0; k++)
      h5u_cwrite_rows(&c, hg, dmn_history_names[k], H5T_NATIVE_DOUBLE, st->hist.col[k], P, (hsize_t)st->hist.n, row, xfer);
    if (hg >= 0) {
      h5u_cwrite_rows(&c, hg, "grad_norm_group", H5T_NATIVE_DOUBLE, st->hist.group_norm, P, (hsize_t)st->hist.n * DMN_NGROUP, row, xfer);
      H5Gclose(hg);
    }
    /* genomes: known to every rank, written by rank 0 */
    hid_t gg = h5u_make_group(&c, pg, "genome");
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
      h5u_cwrite(&c, gg, gname[j], H5T_NATIVE_DOUBLE, col, 1, &P, rank, xfer);
    }
    for (hsize_t k = 0; k < P; k++) memcpy(col + k * DMN_NHYPER, pop->genomes[k].hyper, sizeof(double) * DMN_NHYPER);
    hsize_t hd[2] = {P, DMN_NHYPER};
    h5u_cwrite(&c, gg, "hyper", H5T_NATIVE_DOUBLE, col, 2, hd, rank, xfer);
    char names[256] = "";
    for (int k = 0; k < DMN_NHYPER; k++) strcat(strcat(names, dmn_hyper_names[k]), k + 1 < DMN_NHYPER ? "," : "");
    h5u_write_str_attr(&c, gg, "hyper_columns", names);
    free(col);
    /* at least one edit wide: zero-width 2-D datasets do not survive a collective write */
    const size_t width = 4 * (size_t)(max_e > 0 ? max_e : 1);
    int32_t *ed = calloc(P * width, sizeof(int32_t));
    for (hsize_t k = 0; k < P; k++)
      if (pop->genomes[k].n_edits) memcpy(ed + k * width, pop->genomes[k].edits, sizeof(DmnEdit) * (size_t)pop->genomes[k].n_edits);
    hsize_t ec[2] = {P, width};
    h5u_cwrite(&c, gg, "edits", H5T_NATIVE_INT32, ed, 2, ec, rank, xfer);
    h5u_write_str_attr(&c, gg, "edits_layout", "per slot: n_edits x (projection, post, old_pre, new_pre), then padding");
    free(ed);
    if (gg >= 0) H5Gclose(gg);
    if (pg >= 0) H5Gclose(pg);
    /* the lineage so far */
    const DmnEvolutionLog *lg = pop->log;
    hid_t lgp = h5u_make_group(&c, f, "lineage"); /* empty before the first generation ends */
    hsize_t ld[2] = {(hsize_t)lg->n_gen, P};
    for (int k = 0; k < DMN_NLCOL && lgp >= 0 && lg->n_gen; k++) h5u_cwrite(&c, lgp, dmn_lineage_names[k], H5T_NATIVE_DOUBLE, lg->col[k], 2, ld, rank, xfer);
    if (lg->n_gen) h5u_cwrite(&c, lgp, "checksum", H5T_NATIVE_UINT64, lg->checksum, 2, ld, rank, xfer);
    if (lg->n_gen) h5u_cwrite(&c, lgp, "inherited_checksum", H5T_NATIVE_UINT64, lg->inherited, 2, ld, rank, xfer);
    if (lgp >= 0) H5Gclose(lgp);
    Writer wr = {1, rank, xfer};
    h5u_write_connectome(&c, f, base, &wr);
  }
  return h5u_collective_finish(&c, f, xfer, tmp, path, world, rank, err);
}

int io_population_read(const char *path, const DmnModel *m, int P, int slot, DmnParams *p, DmnAdam *a, DmnTrainState *st, long *generation,
                       long *next_id, DmnGenome *genomes, DmnEvolutionLog *lg, char err[DMN_ERR_MAX]) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return snprintf(err, DMN_ERR_MAX, "%s: not a readable HDF5 file (missing, corrupt or truncated?)", path), 1;
  double pop = 0, gen = 0, nid = 0, upd = 0, eps = 0;
  int rc = h5u_check_format(f, path, err);
  if (!rc && (h5u_read_attr(f, "population", &pop) || h5u_read_attr(f, "generation", &gen) || h5u_read_attr(f, "next_id", &nid) || h5u_read_attr(f, "update", &upd) ||
               h5u_read_attr(f, "episodes_done", &eps))) {
    snprintf(err, DMN_ERR_MAX, "%s: not a population checkpoint (attributes population / generation missing; a plain training checkpoint "
                               "resumes with evolution.population: 1)", path);
    rc = 1;
  } else if (!rc && (int)pop != P) {
    snprintf(err, DMN_ERR_MAX, "%s: population of %d individuals, but the config asks for %d", path, (int)pop, P);
    rc = 1;
  }
  const hsize_t n = p->n, uP = (hsize_t)P;
  hsize_t d[2] = {uP, n};
  if (!rc) rc = h5u_read_ds(f, path, "/population/params", H5T_NATIVE_DOUBLE, p->data, 2, d, slot, err);
  if (!rc) rc = h5u_read_ds(f, path, "/population/adam_m", H5T_NATIVE_DOUBLE, a->m.data, 2, d, slot, err);
  if (!rc) rc = h5u_read_ds(f, path, "/population/adam_v", H5T_NATIVE_DOUBLE, a->v.data, 2, d, slot, err);
  if (!rc && H5Lexists(f, "/population/row_fnv1a64", H5P_DEFAULT) > 0) { /* format 2 */
    uint64_t want[3];
    hsize_t d3[2] = {uP, 3};
    rc = h5u_read_ds(f, path, "/population/row_fnv1a64", H5T_NATIVE_UINT64, want, 2, d3, slot, err);
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
  if (!rc) rc = h5u_read_ds(f, path, "/population/adam_step", H5T_NATIVE_DOUBLE, &step, 2, d1, slot, err);
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
    rc = h5u_read_ds(f, path, name, H5T_NATIVE_DOUBLE, st->hist.col[k], 2, dh, slot, err);
  }
  hsize_t dg[2] = {uP, (hsize_t)U * DMN_NGROUP};
  if (!rc) rc = h5u_read_ds(f, path, "/population/history/grad_norm_group", H5T_NATIVE_DOUBLE, st->hist.group_norm, 2, dg, slot, err);
  /* genomes */
  const char *gname[6] = {"id", "parent", "lesioned", "made_pn_kc", "made_kc_mbon", "n_edits"};
  double *col = malloc(sizeof(double) * 6 * uP), *hyp = malloc(sizeof(double) * uP * DMN_NHYPER);
  for (int j = 0; j < 6 && !rc; j++) {
    snprintf(name, sizeof name, "/population/genome/%s", gname[j]);
    rc = h5u_read_ds(f, path, name, H5T_NATIVE_DOUBLE, col + j * uP, 1, &uP, -1, err);
  }
  hsize_t dhy[2] = {uP, DMN_NHYPER};
  if (!rc) rc = h5u_read_ds(f, path, "/population/genome/hyper", H5T_NATIVE_DOUBLE, hyp, 2, dhy, -1, err);
  long max_e = 0;
  for (int k = 0; k < P && !rc; k++) max_e = (long)col[5 * uP + k] > max_e ? (long)col[5 * uP + k] : max_e;
  const size_t width = 4 * (size_t)(max_e > 0 ? max_e : 1);
  int32_t *ed = malloc(sizeof(int32_t) * uP * width);
  hsize_t de[2] = {uP, width};
  if (!rc) rc = h5u_read_ds(f, path, "/population/genome/edits", H5T_NATIVE_INT32, ed, 2, de, -1, err);
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
    rc = h5u_read_ds(f, path, name, H5T_NATIVE_DOUBLE, lg->col[k], 2, dl, -1, err);
  }
  if (!rc && ng > 0) rc = h5u_read_ds(f, path, "/lineage/checksum", H5T_NATIVE_UINT64, lg->checksum, 2, dl, -1, err);
  if (!rc && ng > 0) rc = h5u_read_ds(f, path, "/lineage/inherited_checksum", H5T_NATIVE_UINT64, lg->inherited, 2, dl, -1, err);
  *generation = ng;
  *next_id = (long)nid;
  (void)m;
  H5Fclose(f);
  return rc;
}
