#include "connectome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const dmn_layer_names[DMN_NLAYER] = {"ORN", "PN", "KC", "MBON", "DN"};
const char *const dmn_proj_names[DMN_NPROJ] = {"orn_to_pn", "pn_to_kc", "kc_to_mbon", "mbon_to_dn", "pn_to_dn"};

static void proj_alloc(DmnProjection *p, int pre, int post, int n_pre, int n_post, int nnz) {
  p->pre = pre;
  p->post = post;
  p->n_pre = n_pre;
  p->n_post = n_post;
  p->nnz = nnz;
  p->row_ptr = calloc((size_t)n_post + 1, sizeof(int));
  p->col = calloc((size_t)nnz ? (size_t)nnz : 1, sizeof(int));
  p->alive = malloc((size_t)nnz ? (size_t)nnz : 1);
  memset(p->alive, 1, (size_t)nnz);
  p->synthetic = 1;
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Dense post x pre projection (abstracted multi-synaptic pathways). */
static void proj_dense(DmnProjection *p, int pre, int post, int n_pre, int n_post) {
  proj_alloc(p, pre, post, n_pre, n_post, n_pre * n_post);
  for (int i = 0; i < n_post; i++) {
    p->row_ptr[i + 1] = (i + 1) * n_pre;
    for (int j = 0; j < n_pre; j++) p->col[i * n_pre + j] = j;
  }
}

int connectome_build_synthetic(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]) {
  memset(c, 0, sizeof(*c));
  c->n[DMN_L_ORN] = (int)cfg->circuit_n_orn;
  c->n[DMN_L_PN] = (int)cfg->circuit_n_pn;
  c->n[DMN_L_KC] = (int)cfg->circuit_n_kc;
  c->n[DMN_L_MBON] = (int)cfg->circuit_n_mbon;
  c->n[DMN_L_DN] = (int)cfg->circuit_n_dn;
  if (c->n[DMN_L_PN] != c->n[DMN_L_ORN] || c->n[DMN_L_ORN] % 2 || c->n[DMN_L_KC] % 2 || c->n[DMN_L_MBON] % 2) {
    snprintf(err, DMN_ERR_MAX, "synthetic connectome needs n_pn == n_orn and even n_orn, n_kc, n_mbon");
    return 1;
  }
  for (int l = 0; l < DMN_NLAYER; l++) {
    int n = c->n[l];
    c->side[l] = malloc((size_t)n);
    c->transmitter[l] = calloc((size_t)n, 1); /* ACh unless set below */
    for (int i = 0; i < n; i++) c->side[l][i] = (int8_t)(l == DMN_L_DN ? -1 : (i < n / 2 ? 0 : 1));
  }
  /* MBONs: a third each of ACh, GABA, Glu within each side (MODEL §1). */
  int half_mbon = c->n[DMN_L_MBON] / 2;
  for (int i = 0; i < c->n[DMN_L_MBON]; i++) c->transmitter[DMN_L_MBON][i] = (uint8_t)((i % half_mbon) % 3);

  /* ORN -> PN: PN(g, side) gets ORN(g, ipsi) and ORN(g, contra). */
  int n_glom = c->n[DMN_L_ORN] / 2;
  DmnProjection *p = &c->proj[DMN_P_ORN_TO_PN];
  proj_alloc(p, DMN_L_ORN, DMN_L_PN, c->n[DMN_L_ORN], c->n[DMN_L_PN], 2 * c->n[DMN_L_PN]);
  for (int i = 0; i < c->n[DMN_L_PN]; i++) {
    int g = i % n_glom;
    p->row_ptr[i + 1] = 2 * (i + 1);
    p->col[2 * i] = g;            /* left ORN of glomerulus g */
    p->col[2 * i + 1] = n_glom + g; /* right ORN (sorted order) */
  }

  /* PN -> KC: each KC draws kc_claws distinct PNs of its own side. */
  int claws = (int)cfg->circuit_kc_claws, n_kc = c->n[DMN_L_KC];
  p = &c->proj[DMN_P_PN_TO_KC];
  proj_alloc(p, DMN_L_PN, DMN_L_KC, c->n[DMN_L_PN], n_kc, claws * n_kc);
  for (int k = 0; k < n_kc; k++) {
    DmnRng r = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_CONNECTOME, DMN_P_PN_TO_KC, (uint64_t)k);
    int side = c->side[DMN_L_KC][k], base = side * n_glom;
    int *row = p->col + k * claws;
    for (int m = 0; m < claws; m++) {
      int j, dup;
      do { /* rejection keeps the draw uniform over distinct subsets */
        j = base + (int)util_rng_below(&r, (uint64_t)n_glom);
        dup = 0;
        for (int q = 0; q < m; q++) dup |= row[q] == j;
      } while (dup);
      row[m] = j;
    }
    qsort(row, (size_t)claws, sizeof(int), cmp_int);
    p->row_ptr[k + 1] = (k + 1) * claws;
  }

  /* KC -> MBON: all KCs of a side to all MBONs of that side. */
  int half_kc = n_kc / 2;
  p = &c->proj[DMN_P_KC_TO_MBON];
  proj_alloc(p, DMN_L_KC, DMN_L_MBON, n_kc, c->n[DMN_L_MBON], half_kc * c->n[DMN_L_MBON]);
  for (int m = 0; m < c->n[DMN_L_MBON]; m++) {
    int side = c->side[DMN_L_MBON][m];
    for (int q = 0; q < half_kc; q++) p->col[m * half_kc + q] = side * half_kc + q;
    p->row_ptr[m + 1] = (m + 1) * half_kc;
  }

  proj_dense(&c->proj[DMN_P_MBON_TO_DN], DMN_L_MBON, DMN_L_DN, c->n[DMN_L_MBON], c->n[DMN_L_DN]);
  proj_dense(&c->proj[DMN_P_PN_TO_DN], DMN_L_PN, DMN_L_DN, c->n[DMN_L_PN], c->n[DMN_L_DN]);

  for (int q = 0; q < DMN_NPROJ; q++) c->proj[q].is_signed = cfg->circuit_dale;
  if (!cfg->circuit_lh_signed) c->proj[DMN_P_PN_TO_DN].is_signed = 0;
  connectome_index(c);
  return 0;
}

void connectome_index(DmnConnectome *c) {
  for (int q = 0; q < DMN_NPROJ; q++) connectome_index_projection(&c->proj[q]);
}

void connectome_index_projection(DmnProjection *p) {
  {
    free(p->csc_ptr);
    free(p->csc_syn);
    free(p->row_of);
    p->csc_ptr = calloc((size_t)p->n_pre + 1, sizeof(int));
    p->csc_syn = malloc(sizeof(int) * ((size_t)p->nnz + 1));
    p->row_of = malloc(sizeof(int) * ((size_t)p->nnz + 1));
    for (int i = 0; i < p->n_post; i++)
      for (int k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++) {
        p->row_of[k] = i;
        p->csc_ptr[p->col[k] + 1]++;
      }
    for (int j = 0; j < p->n_pre; j++) p->csc_ptr[j + 1] += p->csc_ptr[j];
    int *fill = malloc(sizeof(int) * ((size_t)p->n_pre + 1));
    memcpy(fill, p->csc_ptr, sizeof(int) * ((size_t)p->n_pre + 1));
    for (int k = 0; k < p->nnz; k++) p->csc_syn[fill[p->col[k]]++] = k;
    free(fill);
  }
}

void connectome_copy(const DmnConnectome *s, DmnConnectome *d) {
  *d = *s;
  for (int l = 0; l < DMN_NLAYER; l++) {
    d->side[l] = malloc((size_t)s->n[l] + 1);
    memcpy(d->side[l], s->side[l], (size_t)s->n[l]);
    d->transmitter[l] = malloc((size_t)s->n[l] + 1);
    memcpy(d->transmitter[l], s->transmitter[l], (size_t)s->n[l]);
  }
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *a = &s->proj[q];
    DmnProjection *b = &d->proj[q];
    b->row_ptr = malloc(sizeof(int) * ((size_t)a->n_post + 1));
    memcpy(b->row_ptr, a->row_ptr, sizeof(int) * ((size_t)a->n_post + 1));
    b->col = malloc(sizeof(int) * ((size_t)a->nnz + 1));
    memcpy(b->col, a->col, sizeof(int) * (size_t)a->nnz);
    b->alive = malloc((size_t)a->nnz + 1);
    memcpy(b->alive, a->alive, (size_t)a->nnz);
    b->csc_ptr = b->csc_syn = b->row_of = NULL;
  }
  connectome_index(d);
}

void connectome_free(DmnConnectome *c) {
  for (int l = 0; l < DMN_NLAYER; l++) {
    free(c->side[l]);
    free(c->transmitter[l]);
  }
  for (int q = 0; q < DMN_NPROJ; q++) {
    free(c->proj[q].row_ptr);
    free(c->proj[q].col);
    free(c->proj[q].alive);
    free(c->proj[q].csc_ptr);
    free(c->proj[q].csc_syn);
    free(c->proj[q].row_of);
  }
  memset(c, 0, sizeof(*c));
}

int connectome_lesion_synapse(DmnConnectome *c, int proj, int k) {
  int was = c->proj[proj].alive[k];
  c->proj[proj].alive[k] = 0;
  return was;
}

int connectome_ablate_neuron(DmnConnectome *c, int layer, int i) {
  int removed = 0;
  for (int q = 0; q < DMN_NPROJ; q++) {
    DmnProjection *p = &c->proj[q];
    for (int row = 0; row < p->n_post; row++)
      for (int k = p->row_ptr[row]; k < p->row_ptr[row + 1]; k++)
        if (((p->post == layer && row == i) || (p->pre == layer && p->col[k] == i)) && p->alive[k]) {
          p->alive[k] = 0;
          removed++;
        }
  }
  return removed;
}
