/* results — results.h5 (history, evaluations, trajectories, evolution)
 * and training_results.json. */
#include "io.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"

/* ---- results ------------------------------------------------------------------- */

/* /evolution in results.h5: the lineage and the final population table. */
static void write_evolution(H5Ctx *c, hid_t f, const DmnEvolutionLog *lg) {
  if (!lg || c->failed) return;
  hid_t g = h5u_make_group(c, f, "evolution");
  h5u_write_num_attr(c, g, "population", lg->P);
  h5u_write_num_attr(c, g, "generations", (double)lg->n_gen);
  h5u_write_num_attr(c, g, "best_slot", lg->best);
  hid_t l = h5u_make_group(c, g, "lineage");
  hsize_t d[2] = {(hsize_t)lg->n_gen, (hsize_t)lg->P};
  for (int k = 0; k < DMN_NLCOL && l >= 0; k++) {
    h5u_write_ds(c, l, dmn_lineage_names[k], H5T_NATIVE_DOUBLE, lg->col[k], 2, d);
    hid_t ds = c->failed ? -1 : H5Dopen2(l, dmn_lineage_names[k], H5P_DEFAULT);
    if (ds >= 0) {
      h5u_write_str_attr(c, ds, "doc", dmn_lineage_docs[k]);
      H5Dclose(ds);
    }
  }
  h5u_write_ds(c, l, "checksum", H5T_NATIVE_UINT64, lg->checksum, 2, d);
  h5u_write_ds(c, l, "inherited_checksum", H5T_NATIVE_UINT64, lg->inherited, 2, d);
  if (l >= 0) H5Gclose(l);
  hid_t fg = h5u_make_group(c, g, "final");
  h5u_write_d1(c, fg, "success_rate", lg->final_success, (hsize_t)lg->P);
  h5u_write_d1(c, fg, "median_final_distance", lg->final_median, (hsize_t)lg->P);
  h5u_write_d1(c, fg, "mean_distance", lg->final_mean_distance, (hsize_t)lg->P);
  if (fg >= 0) H5Gclose(fg);
  if (g >= 0) H5Gclose(g);
}

static void write_eval(H5Ctx *c, hid_t loc, const char *name, const DmnEvalSummary *s) {
  if (!s || c->failed) return;
  hid_t g = h5u_make_group(c, loc, name);
  /* one dataset per row of metrics.h, with its unit and meaning, and its mean as an attribute */
#define DMN_EM_ROW(nm, field, mean, col, unit, doc) {#nm, #mean, unit, doc},
  static const struct { const char *name, *mean, *unit, *doc; } row[DMN_EM_N] = {DMN_EVAL_METRICS(DMN_EM_ROW)};
#undef DMN_EM_ROW
  char names[256] = "";
  for (int k = 0; k < DMN_EM_N && !c->failed; k++) {
    h5u_write_d1(c, g, row[k].name, s->metric[k], (hsize_t)s->n);
    hid_t ds = c->failed ? -1 : H5Dopen2(g, row[k].name, H5P_DEFAULT);
    if (ds >= 0) {
      h5u_write_str_attr(c, ds, "unit", row[k].unit);
      h5u_write_str_attr(c, ds, "doc", row[k].doc);
      H5Dclose(ds);
    }
    h5u_write_num_attr(c, g, row[k].mean, s->metric_mean[k]);
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? "," : "", row[k].name);
  }
  h5u_write_str_attr(c, g, "metrics", names); /* what analysis/report.py tables */
  h5u_write_num_attr(c, g, "success_rate", s->success_rate);
  h5u_write_num_attr(c, g, "median_final_distance", s->median_final);
  h5u_write_num_attr(c, g, "success_radius_mm", DMN_SUCCESS_RADIUS_MM);
  if (g >= 0) H5Gclose(g);
}

static int write_results(const char *path, const DmnModel *m, const DmnTrainState *st, const DmnEvalSummary *trained,
                         const DmnEvalSummary *initial, const DmnEvalSummary *control, const DmnEvalSummary *intact,
                         const DmnEvalSummary *best, const DmnRadiiTable *radii, const DmnEpisodeRecord *traj, int n_traj,
                         const DmnEvolutionLog *evo, const char *yaml, const DmnResultsExtra *extra, char err[DMN_ERR_MAX]) {
  H5Ctx c = {.path = path, .err = err};
  char tmp[DMN_STR_MAX + 8];
  hid_t f = h5u_open_output(&c, path, tmp, sizeof tmp, yaml, m);
  if (st) { /* NULL for --evaluate: no training history */
    h5u_write_num_attr(&c, f, "updates", (double)st->update);
    h5u_write_num_attr(&c, f, "episodes_done", (double)st->episodes_done);
    h5u_write_num_attr(&c, f, "best_update", (double)st->best_update);
    h5u_write_num_attr(&c, f, "trained_is_average", st->avg.data ? 1 : 0); /* train.average: /evaluation/trained judged the average */
    hid_t h = h5u_make_group(&c, f, "history");
    for (int k = 0; k < DMN_NHCOL && h >= 0; k++) h5u_write_d1(&c, h, dmn_history_names[k], st->hist.col[k], (hsize_t)st->hist.n);
    if (h >= 0) {
      h5u_write_d2(&c, h, "grad_norm_group", st->hist.group_norm, (hsize_t)st->hist.n, DMN_NGROUP);
      char names[1024] = "";
      for (int k = 0; k < DMN_NGROUP; k++) {
        strncat(names, dmn_group_names[k], sizeof names - strlen(names) - 2);
        if (k + 1 < DMN_NGROUP) strncat(names, ",", sizeof names - strlen(names) - 1);
      }
      h5u_write_str_attr(&c, h, "grad_norm_group_columns", names);
      H5Gclose(h);
    }
  }
  hid_t e = h5u_make_group(&c, f, "evaluation");
  write_eval(&c, e, "trained", trained);
  write_eval(&c, e, "initial", initial);
  write_eval(&c, e, "constant_odor_control", control);
  write_eval(&c, e, "intact", intact);        /* lesion studies only */
  write_eval(&c, e, "best_validation", best); /* train.validate_every: best.h5 (root attribute best_update) */
  if (e >= 0 && radii && radii->n > 0) { /* train.eval_radii: the trained parameters from each start distance */
    hid_t rg = h5u_make_group(&c, e, "by_start_distance");
    h5u_write_d1(&c, rg, "start_distance", radii->radius, (hsize_t)radii->n);
    h5u_write_d1(&c, rg, "success_rate", radii->success_rate, (hsize_t)radii->n);
    h5u_write_d1(&c, rg, "median_final_distance", radii->median_final, (hsize_t)radii->n);
    h5u_write_d1(&c, rg, "mean_distance", radii->mean_distance, (hsize_t)radii->n);
    h5u_write_d1(&c, rg, "path_length", radii->path_length, (hsize_t)radii->n);
    h5u_write_num_attr(&c, rg, "episodes_each", radii->episodes);
    if (rg >= 0) H5Gclose(rg);
  }
  if (e >= 0 && n_traj > 0) {
    hid_t tg = h5u_make_group(&c, e, "trajectories");
    h5u_write_episodes(&c, tg, m, traj, n_traj, 0);
    if (tg >= 0) H5Gclose(tg);
  }
  if (e >= 0) H5Gclose(e);
  write_evolution(&c, f, evo);
  _Static_assert(sizeof(hid_t) == sizeof(int64_t), "DmnResultsExtra passes a hid_t as int64_t");
  if (extra && !c.failed && f >= 0) extra->write(&c, (int64_t)f, extra->arg);
  return h5u_close_and_rename(&c, f, tmp, path);
}

int io_write_results(const char *path, const DmnModel *m, const DmnTrainState *st, const DmnEvalSummary *trained,
                     const DmnEvalSummary *initial, const DmnEvalSummary *control, const DmnEvalSummary *intact, const DmnEvalSummary *best,
                     const DmnRadiiTable *radii, const DmnEpisodeRecord *traj, int n_traj, const DmnEvolutionLog *evo, const char *yaml,
                     char err[DMN_ERR_MAX]) {
  return write_results(path, m, st, trained, initial, control, intact, best, radii, traj, n_traj, evo, yaml, NULL, err);
}

int io_write_results_extra(const char *path, const DmnModel *m, const DmnEvalSummary *trained, const DmnEvalSummary *initial,
                           const DmnEvalSummary *control, const DmnRadiiTable *radii, const DmnEpisodeRecord *traj, int n_traj,
                           const char *yaml, const DmnResultsExtra *extra, char err[DMN_ERR_MAX]) {
  return write_results(path, m, NULL, trained, initial, control, NULL, NULL, radii, traj, n_traj, NULL, yaml, extra, err);
}

static void json_eval(FILE *fp, const char *name, const DmnEvalSummary *s, int last) {
  fprintf(fp, "    \"%s\": {\"episodes\": %d, \"success_rate\": %.6g, \"median_final_distance\": %.6g, \"mean_final_distance\": %.6g, "
              "\"mean_distance_to_goal\": %.6g, \"total_distance_traveled\": %.6g}%s\n",
          name, s->n, s->success_rate, s->median_final, s->mean_final_distance, s->mean_mean_distance, s->mean_path_length, last ? "" : ",");
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
          tr->mean_final_distance, tr->mean_mean_distance, tr->mean_path_length);
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
