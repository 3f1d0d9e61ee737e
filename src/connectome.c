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
  p->count = malloc(sizeof(float) * ((size_t)nnz + 1));
  for (int k = 0; k < nnz; k++) p->count[k] = 1.0f;
  p->scale = 1.0;
  p->synthetic = 1;
}

void connectome_proj_alloc(DmnProjection *p, int pre, int post, int n_pre, int n_post, int nnz) {
  proj_alloc(p, pre, post, n_pre, n_post, nnz);
}

int connectome_intern_type(DmnConnectome *c, const char *name) {
  for (int t = 0; t < c->n_types; t++)
    if (!strcmp(c->type_names[t], name)) return t;
  if ((c->n_types & (c->n_types - 1)) == 0) /* grow at powers of two */
    c->type_names = realloc(c->type_names, sizeof(char *) * (size_t)(c->n_types ? 2 * c->n_types : 1));
  c->type_names[c->n_types] = strdup(name);
  return c->n_types++;
}

void connectome_alloc_layer(DmnConnectome *c, int l, int n) {
  c->n[l] = n;
  c->side[l] = calloc((size_t)n + 1, 1);
  c->transmitter[l] = calloc((size_t)n + 1, 1);
  c->id[l] = calloc((size_t)n + 1, sizeof(int64_t));
  c->type[l] = calloc((size_t)n + 1, sizeof(int));
  c->silenced[l] = NULL;
}

long connectome_alive(const DmnProjection *p) {
  long n = 0;
  for (int k = 0; k < p->nnz; k++) n += p->alive[k];
  return n;
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
  snprintf(c->source, sizeof c->source, "synthetic (MODEL §1, seed %ld)", cfg->sim_seed);
  int n_glom = c->n[DMN_L_ORN] / 2, half_mbon = c->n[DMN_L_MBON] / 2;
  for (int l = 0; l < DMN_NLAYER; l++) {
    int n = c->n[l];
    connectome_alloc_layer(c, l, n); /* ACh unless set below */
    for (int i = 0; i < n; i++) {
      char name[64];
      c->side[l][i] = (int8_t)(l == DMN_L_DN ? -1 : (i < n / 2 ? 0 : 1));
      c->id[l][i] = i;
      /* Type names follow FlyWire's conventions (ORN_<glomerulus>, <glomerulus>_PN)
       * so that selectors and the glomerulus matching read the same. */
      switch (l) {
      case DMN_L_ORN: snprintf(name, sizeof name, "ORN_G%02d", i % n_glom); break;
      case DMN_L_PN: snprintf(name, sizeof name, "G%02d_PN", i % n_glom); break;
      case DMN_L_KC: snprintf(name, sizeof name, "KC"); break;
      case DMN_L_MBON: snprintf(name, sizeof name, "MBON%02d", i % half_mbon); break;
      default: snprintf(name, sizeof name, "DN%02d", i); break;
      }
      c->type[l][i] = connectome_intern_type(c, name);
    }
  }
  /* Receptors: the ORNs of glomerulus g on either antenna share tuning channel g. */
  c->n_channels = n_glom;
  c->orn_channel = malloc(sizeof(int) * ((size_t)c->n[DMN_L_ORN] + 1));
  for (int i = 0; i < c->n[DMN_L_ORN]; i++) c->orn_channel[i] = i % n_glom;
  /* MBONs: a third each of ACh, GABA, Glu within each side (MODEL §1). */
  for (int i = 0; i < c->n[DMN_L_MBON]; i++) c->transmitter[DMN_L_MBON][i] = (uint8_t)((i % half_mbon) % 3);

  /* ORN -> PN: PN(g, side) gets ORN(g, ipsi) and ORN(g, contra). */
  DmnProjection *p = &c->proj[DMN_P_ORN_TO_PN];
  proj_alloc(p, DMN_L_ORN, DMN_L_PN, c->n[DMN_L_ORN], c->n[DMN_L_PN], 2 * c->n[DMN_L_PN]);
  for (int i = 0; i < c->n[DMN_L_PN]; i++) {
    int g = i % n_glom;
    p->row_ptr[i + 1] = 2 * (i + 1);
    p->col[2 * i] = g;            /* left ORN of glomerulus g */
    p->col[2 * i + 1] = n_glom + g; /* right ORN (sorted order) */
  }

  /* PN -> KC: each KC draws kc_claws (+- kc_claws_spread) distinct PNs of its own side. */
  int claws0 = (int)cfg->circuit_kc_claws, spread = (int)cfg->circuit_kc_claws_spread, n_kc = c->n[DMN_L_KC];
  int *n_claws = malloc(sizeof(int) * ((size_t)n_kc + 1));
  long nnz_kc = 0;
  for (int k = 0; k < n_kc; k++) {
    n_claws[k] = claws0;
    if (spread) { /* its own stream: spread 0 draws exactly the circuit of earlier versions */
      DmnRng rc = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_CONNECTOME, 100 + DMN_P_PN_TO_KC, (uint64_t)k);
      n_claws[k] += (int)util_rng_below(&rc, 2 * (uint64_t)spread + 1) - spread;
    }
    nnz_kc += n_claws[k];
  }
  p = &c->proj[DMN_P_PN_TO_KC];
  proj_alloc(p, DMN_L_PN, DMN_L_KC, c->n[DMN_L_PN], n_kc, (int)nnz_kc);
  for (int k = 0; k < n_kc; k++) p->row_ptr[k + 1] = p->row_ptr[k] + n_claws[k];
  for (int k = 0; k < n_kc; k++) {
    DmnRng r = util_rng((uint64_t)cfg->sim_seed, DMN_STREAM_CONNECTOME, DMN_P_PN_TO_KC, (uint64_t)k);
    int side = c->side[DMN_L_KC][k], base = side * n_glom, claws = n_claws[k];
    int *row = p->col + p->row_ptr[k];
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
  }
  free(n_claws);

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
  connectome_wire_apl(cfg, c);
  return 0;
}

void connectome_wire_apl(const DmnConfig *cfg, DmnConnectome *c) {
  free(c->apl);
  c->apl = NULL;
  if (!cfg->circuit_apl) return;
  /* The APL arborises throughout its side's mushroom body and exchanges
   * synapses with essentially every KC there (Aso et al. 2014; hemibrain:
   * KC->APL from almost all KCs), so every KC of a side is wired; a KC of
   * unknown side has no APL. */
  const int n = c->n[DMN_L_KC];
  c->apl = calloc((size_t)n + 1, 1);
  for (int k = 0; k < n; k++) c->apl[k] = c->side[DMN_L_KC][k] == 0 || c->side[DMN_L_KC][k] == 1;
}

int connectome_apl_kcs(const DmnConnectome *c) {
  int n = 0;
  for (int k = 0; c->apl && k < c->n[DMN_L_KC]; k++) n += c->apl[k];
  return n;
}

typedef struct {
  int col;
  uint8_t alive;
  float count;
} SynSlot;
static int cmp_slot(const void *a, const void *b) { return ((const SynSlot *)a)->col - ((const SynSlot *)b)->col; }

void connectome_sort_rows(DmnProjection *p) {
  int longest = 0;
  for (int i = 0; i < p->n_post; i++)
    if (p->row_ptr[i + 1] - p->row_ptr[i] > longest) longest = p->row_ptr[i + 1] - p->row_ptr[i];
  SynSlot *row = malloc(sizeof(SynSlot) * ((size_t)longest + 1));
  for (int i = 0; i < p->n_post; i++) {
    int k0 = p->row_ptr[i], n = p->row_ptr[i + 1] - k0;
    for (int k = 0; k < n; k++) row[k] = (SynSlot){p->col[k0 + k], p->alive[k0 + k], p->count[k0 + k]};
    qsort(row, (size_t)n, sizeof(SynSlot), cmp_slot);
    for (int k = 0; k < n; k++) p->col[k0 + k] = row[k].col, p->alive[k0 + k] = row[k].alive, p->count[k0 + k] = row[k].count;
  }
  free(row);
}

void connectome_index(DmnConnectome *c) {
  for (int q = 0; q < DMN_NPROJ; q++) connectome_index_projection(&c->proj[q]);
}

void connectome_index_projection(DmnProjection *p) {
  {
    free(p->csc_ptr);
    free(p->csc_syn);
    free(p->row_of);
    free(p->csc_row);
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
    p->csc_row = malloc(sizeof(int) * ((size_t)p->nnz + 1));
    for (int c = 0; c < p->nnz; c++) p->csc_row[c] = p->row_of[p->csc_syn[c]];
    p->rows_contiguous = 1;
    for (int i = 0; i < p->n_post; i++) {
      const int a = p->row_ptr[i], b = p->row_ptr[i + 1];
      if (b > a && p->col[b - 1] - p->col[a] != b - a - 1) p->rows_contiguous = 0;
    }
  }
}

void connectome_copy(const DmnConnectome *s, DmnConnectome *d) {
  /* via the packed image: one code path for copies and MPI broadcasts */
  size_t n;
  void *buf = connectome_pack(s, &n);
  connectome_unpack(buf, n, d);
  free(buf);
}

/* ---- packed image (copies and MPI broadcast) ------------------------------- */

typedef struct {
  unsigned char *p;
  size_t n, cap;
} Pack;

static void put(Pack *k, const void *src, size_t n) {
  if (k->n + n + 8 > k->cap) {
    k->cap = 2 * k->cap + n + 1024;
    k->p = realloc(k->p, k->cap);
  }
  if (n) memcpy(k->p + k->n, src, n);
  k->n += n;
}
static void put_int(Pack *k, long v) { put(k, &v, sizeof v); }
static void put_str(Pack *k, const char *s) {
  long n = s ? (long)strlen(s) : -1;
  put_int(k, n);
  if (s) put(k, s, (size_t)n);
}

typedef struct {
  const unsigned char *p;
  size_t n, at;
  int bad;
} Unpack;

static void get(Unpack *u, void *dst, size_t n) {
  if (u->at + n > u->n) {
    u->bad = 1;
    memset(dst, 0, n);
    return;
  }
  memcpy(dst, u->p + u->at, n);
  u->at += n;
}
static long get_int(Unpack *u) {
  long v = 0;
  get(u, &v, sizeof v);
  return v;
}
/* n bytes from the image into a fresh array with 8 spare bytes (empty arrays stay valid). */
static void *get_arr(Unpack *u, size_t n) {
  void *p = malloc(n + 8);
  get(u, p, n);
  return p;
}
static char *get_str(Unpack *u) {
  long n = get_int(u);
  if (n < 0 || u->bad || (size_t)n > u->n) return NULL;
  char *s = malloc((size_t)n + 1);
  get(u, s, (size_t)n);
  s[n] = 0;
  return s;
}

void *connectome_pack(const DmnConnectome *c, size_t *n_bytes) {
  Pack k = {NULL, 0, 0};
  put_str(&k, c->source);
  put_str(&k, c->notes);
  put_int(&k, c->n_types);
  for (int t = 0; t < c->n_types; t++) put_str(&k, c->type_names[t]);
  for (int l = 0; l < DMN_NLAYER; l++) {
    size_t n = (size_t)c->n[l];
    put_int(&k, c->n[l]);
    put(&k, c->side[l], n);
    put(&k, c->transmitter[l], n);
    put(&k, c->id[l], n * sizeof(int64_t));
    put(&k, c->type[l], n * sizeof(int));
    put_int(&k, c->silenced[l] != NULL);
    if (c->silenced[l]) put(&k, c->silenced[l], n);
  }
  put_int(&k, c->n_channels);
  put(&k, c->orn_channel, sizeof(int) * (size_t)c->n[DMN_L_ORN]);
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *p = &c->proj[q];
    long hdr[6] = {p->pre, p->post, p->n_pre, p->n_post, p->nnz, p->is_signed | p->synthetic << 1};
    put(&k, hdr, sizeof hdr);
    put(&k, &p->scale, sizeof p->scale);
    put(&k, p->row_ptr, sizeof(int) * ((size_t)p->n_post + 1));
    put(&k, p->col, sizeof(int) * (size_t)p->nnz);
    put(&k, p->alive, (size_t)p->nnz);
    put(&k, p->count, sizeof(float) * (size_t)p->nnz);
  }
  put_int(&k, c->apl != NULL);
  if (c->apl) put(&k, c->apl, (size_t)c->n[DMN_L_KC]);
  put_int(&k, c->n_lesions);
  for (int i = 0; i < c->n_lesions; i++) {
    const DmnLesionRecord *r = &c->lesions[i];
    put(&k, r, sizeof *r); /* the neurons pointer inside is ignored on unpack */
    put(&k, r->neurons, sizeof(int) * (size_t)r->n_neurons);
  }
  *n_bytes = k.n;
  return k.p;
}

static int unpack(const void *buf, size_t n_bytes, DmnConnectome *c) {
  Unpack u = {buf, n_bytes, 0, 0};
  memset(c, 0, sizeof(*c));
  char *src = get_str(&u);
  snprintf(c->source, sizeof c->source, "%s", src ? src : "");
  free(src);
  c->notes = get_str(&u);
  long nt = get_int(&u);
  for (long t = 0; t < nt && !u.bad; t++) {
    char *name = get_str(&u);
    connectome_intern_type(c, name ? name : "?");
    free(name);
  }
  for (int l = 0; l < DMN_NLAYER && !u.bad; l++) {
    long n = get_int(&u);
    if (n < 0 || (size_t)n > n_bytes) return 1;
    c->n[l] = (int)n;
    c->side[l] = get_arr(&u, (size_t)n);
    c->transmitter[l] = get_arr(&u, (size_t)n);
    c->id[l] = get_arr(&u, (size_t)n * sizeof(int64_t));
    c->type[l] = get_arr(&u, (size_t)n * sizeof(int));
    if (get_int(&u)) c->silenced[l] = get_arr(&u, (size_t)n);
  }
  c->n_channels = (int)get_int(&u);
  c->orn_channel = get_arr(&u, sizeof(int) * (size_t)c->n[DMN_L_ORN]);
  for (int q = 0; q < DMN_NPROJ && !u.bad; q++) {
    DmnProjection *p = &c->proj[q];
    long hdr[6];
    get(&u, hdr, sizeof hdr);
    if (hdr[3] < 0 || hdr[4] < 0 || (size_t)hdr[4] > n_bytes || (size_t)hdr[3] > n_bytes) return 1;
    p->pre = (int)hdr[0];
    p->post = (int)hdr[1];
    p->n_pre = (int)hdr[2];
    p->n_post = (int)hdr[3];
    p->nnz = (int)hdr[4];
    p->is_signed = (int)(hdr[5] & 1);
    p->synthetic = (int)(hdr[5] >> 1 & 1);
    get(&u, &p->scale, sizeof p->scale);
    p->row_ptr = get_arr(&u, sizeof(int) * ((size_t)p->n_post + 1));
    p->col = get_arr(&u, sizeof(int) * (size_t)p->nnz);
    p->alive = get_arr(&u, (size_t)p->nnz);
    p->count = get_arr(&u, sizeof(float) * (size_t)p->nnz);
  }
  if (get_int(&u)) c->apl = get_arr(&u, (size_t)c->n[DMN_L_KC]);
  c->n_lesions = (int)get_int(&u);
  if (c->n_lesions < 0 || c->n_lesions > 1000) return 1;
  c->lesions = calloc((size_t)c->n_lesions + 1, sizeof(DmnLesionRecord));
  for (int i = 0; i < c->n_lesions && !u.bad; i++) {
    DmnLesionRecord *r = &c->lesions[i];
    get(&u, r, sizeof *r);
    r->neurons = get_arr(&u, sizeof(int) * (size_t)(r->n_neurons > 0 ? r->n_neurons : 0));
  }
  if (u.bad) return 1;
  for (int q = 0; q < DMN_NPROJ; q++) /* column indices in range, or the image is corrupt */
    for (int k = 0; k < c->proj[q].nnz; k++)
      if (c->proj[q].col[k] < 0 || c->proj[q].col[k] >= c->proj[q].n_pre) return 1;
  connectome_index(c);
  return 0;
}

/* A damaged image frees what it allocated and says so. */
int connectome_unpack(const void *buf, size_t n_bytes, DmnConnectome *c) {
  if (!unpack(buf, n_bytes, c)) return 0;
  connectome_free(c);
  return 1;
}

void connectome_free(DmnConnectome *c) {
  for (int l = 0; l < DMN_NLAYER; l++) {
    free(c->side[l]);
    free(c->transmitter[l]);
    free(c->id[l]);
    free(c->type[l]);
    free(c->silenced[l]);
  }
  for (int t = 0; t < c->n_types; t++) free(c->type_names[t]);
  free(c->type_names);
  free(c->orn_channel);
  free(c->apl);
  free(c->notes);
  for (int i = 0; i < c->n_lesions; i++) free(c->lesions[i].neurons);
  free(c->lesions);
  for (int q = 0; q < DMN_NPROJ; q++) {
    free(c->proj[q].row_ptr);
    free(c->proj[q].col);
    free(c->proj[q].alive);
    free(c->proj[q].count);
    free(c->proj[q].csc_ptr);
    free(c->proj[q].csc_syn);
    free(c->proj[q].row_of);
    free(c->proj[q].csc_row);
  }
  memset(c, 0, sizeof(*c));
}

int connectome_lesion_synapse(DmnConnectome *c, int proj, int k) {
  int was = c->proj[proj].alive[k];
  c->proj[proj].alive[k] = 0;
  return was;
}

int connectome_ablate_neuron(DmnConnectome *c, int layer, int i) {
  /* its input row (CSR) and its output column (the CSC index): O(degree), not O(nnz) */
  int removed = 0;
  for (int q = 0; q < DMN_NPROJ; q++) {
    DmnProjection *p = &c->proj[q];
    if (p->post == layer)
      for (int k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++) removed += p->alive[k], p->alive[k] = 0;
    if (p->pre == layer)
      for (int a = p->csc_ptr[i]; a < p->csc_ptr[i + 1]; a++) {
        int k = p->csc_syn[a];
        removed += p->alive[k];
        p->alive[k] = 0;
      }
  }
  if (layer == DMN_L_KC && c->apl && c->apl[i]) { /* KC -> APL and APL -> KC */
    c->apl[i] = 0;
    removed += 2;
  }
  return removed;
}
