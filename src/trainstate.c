/* trainstate — the training state besides parameters and Adam moments: the
 * per-update history, evaluation summaries, and evolution's genomes and
 * lineage log (trainstate.h).  Below io.c, train.c and evolve.c: the
 * checkpoint writers and readers use it without calling up into the loops
 * that fill it. */
#include "trainstate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- training history ---------------------------------------------------------- */

#define DMN_HCOL_NAME(name, doc) #name,
const char *const dmn_history_names[DMN_NHCOL] = {DMN_HISTORY_COLUMNS(DMN_HCOL_NAME)};
#undef DMN_HCOL_NAME

void history_reserve(DmnHistory *h, long n) {
  if (n <= h->cap) return;
  long cap = n > 2 * h->cap ? n : 2 * h->cap;
  for (int k = 0; k < DMN_NHCOL; k++) h->col[k] = realloc(h->col[k], sizeof(double) * (size_t)cap);
  h->group_norm = realloc(h->group_norm, sizeof(double) * (size_t)cap * DMN_NGROUP);
  h->cap = cap;
}

void history_push(DmnHistory *h, const double row[DMN_NHCOL], const double group_norm[DMN_NGROUP]) {
  history_reserve(h, h->n + 1);
  for (int k = 0; k < DMN_NHCOL; k++) h->col[k][h->n] = row[k];
  memcpy(h->group_norm + h->n * DMN_NGROUP, group_norm, sizeof(double) * DMN_NGROUP);
  h->n++;
}

double history_missing_value(int column) { return column >= DMN_H_val_success ? NAN : 0.0; }

void history_free(DmnHistory *h) {
  for (int k = 0; k < DMN_NHCOL; k++) free(h->col[k]);
  free(h->group_norm);
  memset(h, 0, sizeof(*h));
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void eval_summary_finish(DmnEvalSummary *s) {
  int n = s->n, ok = 0;
  double sum[DMN_EM_N] = {0};
  double *sorted = malloc(sizeof(double) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) {
    ok += s->final_distance[i] < DMN_SUCCESS_RADIUS_MM;
    for (int k = 0; k < DMN_EM_N; k++) sum[k] += s->metric[k] ? s->metric[k][i] : 0;
    sorted[i] = s->final_distance[i];
  }
  qsort(sorted, (size_t)n, sizeof(double), cmp_double);
  s->success_rate = n ? (double)ok / n : 0;
  s->median_final = n ? (n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2])) : 0;
  for (int k = 0; k < DMN_EM_N; k++) s->metric_mean[k] = n ? sum[k] / n : 0;
  free(sorted);
}

void eval_metrics_of(const DmnMetrics *m, double out[DMN_EM_N]) {
#define DMN_EM_VALUE(name, field, mean, col, unit, doc) out[DMN_EM_##name] = m->field;
  DMN_EVAL_METRICS(DMN_EM_VALUE)
#undef DMN_EM_VALUE
}

static double *dup_doubles(const double *a, size_t n) {
  if (!a) return NULL;
  double *b = malloc(sizeof(double) * (n ? n : 1));
  memcpy(b, a, sizeof(double) * n);
  return b;
}

void eval_summary_copy(const DmnEvalSummary *s, DmnEvalSummary *out) {
  const size_t n = (size_t)s->n;
  *out = *s;
  for (int k = 0; k < DMN_EM_N; k++) out->metric[k] = dup_doubles(s->metric[k], n);
  out->loss_term = dup_doubles(s->loss_term, n * DMN_NLOSS_TERM);
}

void eval_summary_free(DmnEvalSummary *s) {
  for (int k = 0; k < DMN_EM_N; k++) free(s->metric[k]);
  free(s->loss_term);
  memset(s, 0, sizeof(*s));
}

#define DMN_LCOL_NAME(name, doc) #name,
const char *const dmn_lineage_names[DMN_NLCOL] = {DMN_LINEAGE_COLUMNS(DMN_LCOL_NAME)};
#undef DMN_LCOL_NAME
#define DMN_LCOL_DOC(name, doc) doc,
const char *const dmn_lineage_docs[DMN_NLCOL] = {DMN_LINEAGE_COLUMNS(DMN_LCOL_DOC)};
#undef DMN_LCOL_DOC

/* ---- genomes ------------------------------------------------------------------ */

void genome_free(DmnGenome *g) {
  free(g->edits);
  memset(g, 0, sizeof(*g));
}

void genome_copy(DmnGenome *dst, const DmnGenome *src) {
  DmnEdit *keep = dst->edits;
  long cap = dst->cap;
  *dst = *src;
  dst->edits = keep;
  dst->cap = cap;
  if (dst->cap < src->n_edits) {
    dst->cap = src->n_edits;
    dst->edits = realloc(dst->edits, sizeof(DmnEdit) * (size_t)dst->cap);
  }
  if (src->n_edits) memcpy(dst->edits, src->edits, sizeof(DmnEdit) * (size_t)src->n_edits);
}

void genome_push_edit(DmnGenome *g, DmnEdit e) {
  if (g->n_edits == g->cap) {
    g->cap = g->cap ? 2 * g->cap : 64;
    g->edits = realloc(g->edits, sizeof(DmnEdit) * (size_t)g->cap);
  }
  g->edits[g->n_edits++] = e;
}

/* ---- the lineage log ---------------------------------------------------------- */

void evolution_log_init(DmnEvolutionLog *l, int P) {
  memset(l, 0, sizeof(*l));
  l->P = P;
  l->best = -1;
  l->final_success = calloc((size_t)P, sizeof(double));
  l->final_median = calloc((size_t)P, sizeof(double));
  l->final_mean_distance = calloc((size_t)P, sizeof(double));
}

void evolution_log_reserve(DmnEvolutionLog *l, long n_gen) {
  if (n_gen <= l->cap) return;
  size_t n = (size_t)n_gen * (size_t)l->P;
  for (int k = 0; k < DMN_NLCOL; k++) l->col[k] = realloc(l->col[k], sizeof(double) * n);
  l->checksum = realloc(l->checksum, sizeof(uint64_t) * n);
  l->inherited = realloc(l->inherited, sizeof(uint64_t) * n);
  l->cap = n_gen;
}

void evolution_log_free(DmnEvolutionLog *l) {
  for (int k = 0; k < DMN_NLCOL; k++) free(l->col[k]);
  free(l->checksum);
  free(l->inherited);
  free(l->final_success);
  free(l->final_median);
  free(l->final_mean_distance);
  memset(l, 0, sizeof(*l));
}
