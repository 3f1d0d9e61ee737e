/* lesion — counterfactual edits of a connectome, applied in the order the
 * config lists them and recorded (which neurons, how many synapses) so every
 * output says exactly what was cut.  The parameter layout never changes: a
 * removed synapse stays in the CSR with alive = 0 (weight 0, gradient 0), so a
 * checkpoint of the intact circuit loads into the lesioned one (--init). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectome.h"
#include "select.h"
#include "util.h"

static const char *neuron_value(const DmnConnectome *c, int l, int i, const char *key, char *buf, size_t n) {
  if (!strcmp(key, "id")) {
    util_sfmt(buf, n, "%lld", (long long)c->id[l][i]);
    return buf;
  }
  if (!strcmp(key, "cell_type") || !strcmp(key, "type")) return connectome_type(c, l, i);
  if (!strcmp(key, "side")) {
    int s = c->side[l][i];
    return s == 0 ? "left" : s == 1 ? "right" : "";
  }
  if (!strcmp(key, "class") || !strcmp(key, "layer")) return dmn_layer_names[l];
  if (!strcmp(key, "index")) {
    util_sfmt(buf, n, "%d", i);
    return buf;
  }
  return NULL;
}

static DmnLesionRecord *new_record(DmnConnectome *c, const DmnLesionSpec *L) {
  c->lesions = realloc(c->lesions, sizeof(DmnLesionRecord) * (size_t)(c->n_lesions + 1));
  DmnLesionRecord *r = &c->lesions[c->n_lesions++];
  memset(r, 0, sizeof(*r));
  util_sfmt(r->name, sizeof r->name, "%s", L->name);
  util_sfmt(r->kind, sizeof r->kind, "%s", dmn_lesion_kinds[L->kind]);
  r->layer = L->layer;
  r->proj = L->proj;
  r->factor = 1.0;
  if (L->layer == DMN_LESION_LAYER_APL)
    util_sfmt(r->target, sizeof r->target, "APL %s", L->select);
  else if (L->layer >= 0)
    util_sfmt(r->target, sizeof r->target, "%s %s", dmn_layer_names[L->layer], L->select);
  else
    util_sfmt(r->target, sizeof r->target, "%s", dmn_proj_names[L->proj]);
  return r;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

static int lesion_neurons(DmnConnectome *c, const DmnLesionSpec *L, const DmnConfig *cfg, int idx, char err[DMN_ERR_MAX]) {
  char what[128];
  util_sfmt(what, sizeof what, "lesion '%s' (lesions[%d], config line %d)", L->name, idx, L->line);
  Selector sel;
  if (selector_parse(&sel, L->select, what, err)) return 1;
  int l = L->layer;
  char buf[DMN_SEL_TERMS][32];
  for (int k = 0; k < sel.n; k++)
    if (c->n[l] && !neuron_value(c, l, 0, sel.term[k].key, buf[k], sizeof buf[k])) {
      util_sfmt(err, DMN_ERR_MAX, "%s: unknown selector column '%s' (lesions select on id, cell_type, side)", what, sel.term[k].key);
      return 1;
    }
  DmnLesionRecord *r = new_record(c, L);
  r->neurons = malloc(sizeof(int) * ((size_t)c->n[l] + 1));
  if (!c->silenced[l]) c->silenced[l] = calloc((size_t)c->n[l] + 1, 1);
  int matched = 0;
  for (int i = 0; i < c->n[l]; i++) {
    const char *vals[DMN_SEL_TERMS];
    for (int k = 0; k < sel.n; k++) vals[k] = neuron_value(c, l, i, sel.term[k].key, buf[k], sizeof buf[k]);
    if (selector_match(&sel, vals)) r->neurons[matched++] = i;
  }
  if (!matched) {
    util_sfmt(err, DMN_ERR_MAX, "%s: select '%s' matches no %s neuron", what, L->select, dmn_layer_names[l]);
    return 1;
  }
  r->n_neurons = matched;
  if (L->fraction >= 0) { /* a seeded random subset of the matches (size-matched controls) */
    const int keep = (int)lround(L->fraction * matched);
    DmnRng rng = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_LESION, 1000 + (uint64_t)l, (uint64_t)L->seed);
    for (int a = 0; a < keep; a++) {
      int b = a + (int)util_rng_below(&rng, (uint64_t)(matched - a));
      int t = r->neurons[a];
      r->neurons[a] = r->neurons[b];
      r->neurons[b] = t;
    }
    r->n_neurons = keep;
    qsort(r->neurons, (size_t)keep, sizeof(int), cmp_int);
    util_sfmt(r->target + strlen(r->target), sizeof r->target - strlen(r->target), " fraction %g seed %ld", L->fraction, L->seed);
  }
  for (int j = 0; j < r->n_neurons; j++) {
    const int i = r->neurons[j];
    /* ablation = silenced and disconnected: an ablated ORN still has a
     * receptor and an ablated DN a motor weight, neither of which is a synapse */
    c->silenced[l][i] = 1;
    if (L->kind == DMN_LESION_ABLATE) r->synapses_removed += connectome_ablate_neuron(c, l, i);
  }
  return 0;
}

/* The APLs (one per side, index = side): ablating or silencing one removes
 * its only effect, the inhibition of its KCs, and with it the KC -> APL
 * synapses (both parameters then get gradient 0). */
static int lesion_apl(DmnConnectome *c, const DmnLesionSpec *L, int idx, char err[DMN_ERR_MAX]) {
  char what[128];
  util_sfmt(what, sizeof what, "lesion '%s' (lesions[%d], config line %d)", L->name, idx, L->line);
  if (!c->apl) {
    util_sfmt(err, DMN_ERR_MAX, "%s: this circuit has no APL (circuit.apl: false)", what);
    return 1;
  }
  Selector sel;
  if (selector_parse(&sel, L->select, what, err)) return 1;
  for (int k = 0; k < sel.n; k++)
    if (strcmp(sel.term[k].key, "id") && strcmp(sel.term[k].key, "side") && strcmp(sel.term[k].key, "cell_type") &&
        strcmp(sel.term[k].key, "type") && strcmp(sel.term[k].key, "index")) {
      util_sfmt(err, DMN_ERR_MAX, "%s: unknown selector column '%s' (the APLs select on id or index 0/1, side, cell_type)", what, sel.term[k].key);
      return 1;
    }
  DmnLesionRecord *r = new_record(c, L);
  r->neurons = malloc(sizeof(int) * 2);
  for (int side = 0; side < 2; side++) {
    const char *vals[DMN_SEL_TERMS];
    for (int k = 0; k < sel.n; k++) {
      const char *key = sel.term[k].key;
      vals[k] = !strcmp(key, "side") ? (side ? "right" : "left") : (!strcmp(key, "id") || !strcmp(key, "index")) ? (side ? "1" : "0") : "APL";
    }
    if (!selector_match(&sel, vals)) continue;
    r->neurons[r->n_neurons++] = side;
    for (int k = 0; k < c->n[DMN_L_KC]; k++)
      if (c->apl[k] && c->side[DMN_L_KC][k] == side) c->apl[k] = 0, r->synapses_removed += 2;
  }
  if (!r->n_neurons) {
    util_sfmt(err, DMN_ERR_MAX, "%s: select '%s' matches no APL", what, L->select);
    return 1;
  }
  return 0;
}

static int lesion_drop(DmnConnectome *c, const DmnLesionSpec *L, const DmnConfig *cfg) {
  DmnProjection *p = &c->proj[L->proj];
  DmnLesionRecord *r = new_record(c, L);
  int *alive = malloc(sizeof(int) * ((size_t)p->nnz + 1)), m = 0;
  for (int k = 0; k < p->nnz; k++)
    if (p->alive[k]) alive[m++] = k;
  long n_drop = lround(L->fraction * m);
  /* partial Fisher-Yates: the first n_drop of a seeded permutation */
  DmnRng rng = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_LESION, (uint64_t)L->proj, (uint64_t)L->seed);
  for (long a = 0; a < n_drop; a++) {
    long b = a + (long)util_rng_below(&rng, (uint64_t)(m - a));
    int t = alive[a];
    alive[a] = alive[b];
    alive[b] = t;
    p->alive[alive[a]] = 0;
  }
  r->synapses_removed = n_drop;
  util_sfmt(r->target + strlen(r->target), sizeof r->target - strlen(r->target), " fraction %g seed %ld", L->fraction, L->seed);
  free(alive);
  return 0;
}

/* Is presynaptic j already in row i (at a position other than `except`)? */
static int row_has(const DmnProjection *p, int i, int j, int except) {
  for (int k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++)
    if (k != except && p->col[k] == j) return 1;
  return 0;
}

/* After rewiring a projection's presynaptic ends (shuffle, randomize): rows
 * sorted again (alive and count travel along), the record counts the alive
 * synapses whose (post, pre) pair is new against the sorted old rows, and
 * the transpose index is rebuilt. */
static void finish_rewiring(DmnProjection *p, const int *old, DmnLesionRecord *r) {
  connectome_sort_rows(p);
  for (int i = 0; i < p->n_post; i++)
    for (int k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++) {
      if (!p->alive[k]) continue;
      int was = 0;
      for (int k0 = p->row_ptr[i]; k0 < p->row_ptr[i + 1] && !was; k0++) was = old[k0] == p->col[k];
      r->synapses_removed += !was;
    }
  connectome_index_projection(p);
}

/* Configuration-model shuffle: permute the presynaptic ends of the alive
 * synapses (every out-degree kept), rows untouched (every in-degree kept),
 * then remove double synapses by degree-preserving swaps. */
static int lesion_shuffle(DmnConnectome *c, const DmnLesionSpec *L, const DmnConfig *cfg, int idx, char err[DMN_ERR_MAX]) {
  DmnProjection *p = &c->proj[L->proj];
  DmnLesionRecord *r = new_record(c, L);
  util_sfmt(r->target + strlen(r->target), sizeof r->target - strlen(r->target), " seed %ld", L->seed);
  int *pos = malloc(sizeof(int) * ((size_t)p->nnz + 1)), *old = malloc(sizeof(int) * ((size_t)p->nnz + 1)), m = 0;
  memcpy(old, p->col, sizeof(int) * (size_t)p->nnz);
  for (int k = 0; k < p->nnz; k++)
    if (p->alive[k]) pos[m++] = k;
  DmnRng rng = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_LESION, 100 + (uint64_t)L->proj, (uint64_t)L->seed);
  for (int a = m - 1; a > 0; a--) {
    int b = (int)util_rng_below(&rng, (uint64_t)a + 1), t = p->col[pos[a]];
    p->col[pos[a]] = p->col[pos[b]];
    p->col[pos[b]] = t;
  }
  long budget = 1000L * (m + 10);
  for (int a = 0; a < m; a++) {
    int k = pos[a], i = p->row_of[k];
    while (row_has(p, i, p->col[k], k)) {
      if (budget-- <= 0) {
        util_sfmt(err, DMN_ERR_MAX, "lesion '%s' (lesions[%d], config line %d): cannot shuffle %s without double synapses (too dense)",
                 L->name, idx, L->line, dmn_proj_names[L->proj]);
        free(pos);
        free(old);
        return 1;
      }
      int k2 = pos[util_rng_below(&rng, (uint64_t)m)], i2 = p->row_of[k2];
      if (i2 == i || row_has(p, i, p->col[k2], k) || row_has(p, i2, p->col[k], k2)) continue;
      int t = p->col[k];
      p->col[k] = p->col[k2];
      p->col[k2] = t;
    }
  }
  finish_rewiring(p, old, r);
  free(pos);
  free(old);
  return 0;
}

/* Random graph of the same density: every alive synapse gets a presynaptic
 * partner drawn uniformly from the whole presynaptic layer (no double
 * synapses).  Rows stay, so every in-degree is kept (the parameter layout
 * cannot change) and out-degrees become binomial; the synapse counts stay
 * with their rows. */
static int lesion_randomize(DmnConnectome *c, const DmnLesionSpec *L, const DmnConfig *cfg, int idx, char err[DMN_ERR_MAX]) {
  DmnProjection *p = &c->proj[L->proj];
  DmnLesionRecord *r = new_record(c, L);
  util_sfmt(r->target + strlen(r->target), sizeof r->target - strlen(r->target), " seed %ld", L->seed);
  int *old = malloc(sizeof(int) * ((size_t)p->nnz + 1));
  memcpy(old, p->col, sizeof(int) * (size_t)p->nnz);
  DmnRng rng = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_LESION, 200 + (uint64_t)L->proj, (uint64_t)L->seed);
  for (int i = 0; i < p->n_post; i++) {
    const int a = p->row_ptr[i], b = p->row_ptr[i + 1];
    if (b - a > p->n_pre) {
      util_sfmt(err, DMN_ERR_MAX, "lesion '%s' (lesions[%d], config line %d): cannot randomize %s: a row has more synapses than presynaptic neurons",
                L->name, idx, L->line, dmn_proj_names[L->proj]);
      free(old);
      return 1;
    }
    /* every slot of the row draws anew (dead ones too, so the draw does not
     * depend on earlier lesions' order); rejection keeps the row free of doubles */
    for (int k = a; k < b; k++) p->col[k] = -1;
    for (int k = a; k < b; k++) {
      int j;
      do j = (int)util_rng_below(&rng, (uint64_t)p->n_pre);
      while (row_has(p, i, j, k));
      p->col[k] = j;
    }
  }
  finish_rewiring(p, old, r);
  free(old);
  return 0;
}

int connectome_apply_lesions(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]) {
  for (int n = 0; n < cfg->n_lesions; n++) {
    const DmnLesionSpec *L = &cfg->lesions[n];
    switch (L->kind) {
    case DMN_LESION_ABLATE:
    case DMN_LESION_SILENCE:
      if (L->layer == DMN_LESION_LAYER_APL ? lesion_apl(c, L, n, err) : lesion_neurons(c, L, cfg, n, err)) return 1;
      break;
    case DMN_LESION_DROP: lesion_drop(c, L, cfg); break;
    case DMN_LESION_SCALE: {
      DmnLesionRecord *r = new_record(c, L);
      r->factor = L->factor;
      c->proj[L->proj].scale *= L->factor;
      util_sfmt(r->target + strlen(r->target), sizeof r->target - strlen(r->target), " x %g", L->factor);
      break;
    }
    case DMN_LESION_SHUFFLE:
      if (lesion_shuffle(c, L, cfg, n, err)) return 1;
      break;
    case DMN_LESION_RANDOMIZE:
      if (lesion_randomize(c, L, cfg, n, err)) return 1;
      break;
    default: util_sfmt(err, DMN_ERR_MAX, "lesion %d: unknown kind", n); return 1;
    }
  }
  return 0;
}
