/* connectome_info — the human-readable summary of a circuit: what
 * --connectome-info prints and what every output file stores as
 * /connectome/summary, so a result always says which wiring produced it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectome.h"
#include "util.h"

/* median, mean, min, max of n non-negative integer degrees */
static void degree_stats(const int *deg, int n, DmnText *b) {
  if (!n) {
    util_textf(b, "%-28s", "-");
    return;
  }
  int mx = 0, mn = deg[0];
  double sum = 0;
  for (int i = 0; i < n; i++) {
    mx = deg[i] > mx ? deg[i] : mx;
    mn = deg[i] < mn ? deg[i] : mn;
    sum += deg[i];
  }
  int *hist = calloc((size_t)mx + 2, sizeof(int));
  for (int i = 0; i < n; i++) hist[deg[i]]++;
  /* lower median by counting */
  int med = 0;
  for (int acc = 0; med <= mx; med++)
    if ((acc += hist[med]) * 2 >= n) break;
  free(hist);
  char s[64];
  snprintf(s, sizeof s, "%d / %.1f / %d-%d", med, sum / n, mn, mx);
  util_textf(b, "%-28s", s);
}

typedef struct {
  int type, n;
} TypeCount;
static int cmp_tc(const void *a, const void *b) {
  const TypeCount *x = a, *y = b;
  return x->n != y->n ? y->n - x->n : x->type - y->type;
}

char *connectome_summary(const DmnConnectome *c) {
  DmnText b = {0};
  util_textf(&b, "Connectome: %s\n", c->source);
  util_textf(&b, "  %-5s %8s %6s %6s %6s %6s  %-22s %s\n", "layer", "neurons", "left", "right", "other", "types", "ACh / GABA / Glu", "silenced");
  TypeCount *tc = calloc((size_t)c->n_types + 1, sizeof(TypeCount));
  for (int l = 0; l < DMN_NLAYER; l++) {
    int side[3] = {0}, nt[3] = {0}, sil = 0, types = 0;
    for (int t = 0; t < c->n_types; t++) tc[t] = (TypeCount){t, 0};
    for (int i = 0; i < c->n[l]; i++) {
      side[c->side[l][i] < 0 ? 2 : c->side[l][i]]++;
      nt[c->transmitter[l][i] % 3]++;
      sil += c->silenced[l] ? c->silenced[l][i] : 0;
      if (!tc[c->type[l][i]].n++) types++;
    }
    char nts[64];
    snprintf(nts, sizeof nts, "%d / %d / %d", nt[0], nt[1], nt[2]);
    util_textf(&b, "  %-5s %8d %6d %6d %6d %6d  %-22s %d\n", dmn_layer_names[l], c->n[l], side[0], side[1], side[2], types, nts, sil);
    qsort(tc, (size_t)c->n_types, sizeof(TypeCount), cmp_tc);
    util_textf(&b, "        types:");
    for (int k = 0; k < types && k < 8; k++) util_textf(&b, " %s %d%s", c->type_names[tc[k].type], tc[k].n, k + 1 < types && k < 7 ? "," : "");
    if (types > 8) util_textf(&b, " ... (+%d more)", types - 8);
    util_textf(&b, "\n");
  }
  free(tc);
  if (c->n_channels) util_textf(&b, "  receptors: %d tuning channels (ORN glomeruli); ORN side = antenna\n", c->n_channels);
  util_textf(&b, "  %-11s %-9s %9s %9s %10s  %-28s %-28s %s\n", "projection", "source", "synapses", "alive", "syn.count", "in-degree med/mean/range",
      "out-degree med/mean/range", "sign +/-, scale");
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *p = &c->proj[q];
    int *din = calloc((size_t)p->n_post + 1, sizeof(int)), *dout = calloc((size_t)p->n_pre + 1, sizeof(int));
    long alive = 0, pos = 0, neg = 0;
    double count = 0;
    for (int i = 0; i < p->n_post; i++)
      for (int k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++) {
        if (!p->alive[k]) continue;
        alive++;
        din[i]++;
        dout[p->col[k]]++;
        count += p->count[k];
        if (c->transmitter[p->pre][p->col[k]] == DMN_NT_ACH) pos++;
        else neg++;
      }
    util_textf(&b, "  %-11s %-9s %9d %9ld %10.0f  ", dmn_proj_names[q], p->synthetic ? "synthetic" : "data", p->nnz, alive, count);
    degree_stats(din, p->n_post, &b);
    util_textf(&b, " ");
    degree_stats(dout, p->n_pre, &b);
    if (p->is_signed)
      util_textf(&b, " %ld/%ld, x%g\n", pos, neg, p->scale);
    else
      util_textf(&b, " unsigned (w = u), x%g\n", p->scale);
    free(din);
    free(dout);
  }
  if (c->apl)
    util_textf(&b, "  APL: 2 graded GABAergic (one per side), KC -> APL and APL -> KC with %d of %d KCs (synthetic: every KC of its side)\n",
               connectome_apl_kcs(c), c->n[DMN_L_KC]);
  else
    util_textf(&b, "  APL: none (circuit.apl: false)\n");
  if (c->n_lesions) {
    util_textf(&b, "Lesions (applied in this order):\n");
    for (int k = 0; k < c->n_lesions; k++) {
      const DmnLesionRecord *r = &c->lesions[k];
      util_textf(&b, "  %d. %s: %s %s", k + 1, r->name, r->kind, r->target);
      if (r->layer == DMN_LESION_LAYER_APL) {
        util_textf(&b, " -> %d APL%s (%s%s)", r->n_neurons, r->n_neurons == 1 ? "" : "s", r->neurons[0] ? "right" : "left",
                   r->n_neurons > 1 ? ", right" : "");
      } else if (r->layer >= 0) {
        util_textf(&b, " -> %d neuron%s", r->n_neurons, r->n_neurons == 1 ? "" : "s");
        for (int i = 0; i < r->n_neurons && i < 6; i++) util_textf(&b, "%s%lld", i ? ", " : " (ids ", (long long)c->id[r->layer][r->neurons[i]]);
        if (r->n_neurons > 6) util_textf(&b, ", ...");
        if (r->n_neurons) util_textf(&b, ")");
      }
      if (!strcmp(r->kind, "ablate") || !strcmp(r->kind, "drop")) util_textf(&b, ", %ld synapses removed", r->synapses_removed);
      if (!strcmp(r->kind, "shuffle") || !strcmp(r->kind, "randomize")) util_textf(&b, ", %ld synapses rewired", r->synapses_removed);
      util_textf(&b, "\n");
    }
  } else {
    util_textf(&b, "Lesions: none\n");
  }
  if (c->notes && c->notes[0]) {
    util_textf(&b, "Loader notes:\n");
    const char *s = c->notes;
    while (*s) {
      const char *nl = strchr(s, '\n');
      size_t len = nl ? (size_t)(nl - s) : strlen(s);
      util_textf(&b, "  %.*s\n", (int)len, s);
      s += len + (nl != NULL);
    }
  }
  return b.s;
}
