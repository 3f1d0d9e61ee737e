/* connectome — which neurons and synapses exist: layer sizes, sides,
 * transmitter signs, and one CSR mask per projection.  Learning never changes
 * a connectome; a lesion marks synapses dead in a fresh copy (MODEL §1: a
 * removed synapse has no influence and always gets gradient 0, while the
 * parameter layout stays that of the intact circuit so checkpoints carry over). */
#ifndef DMN_CONNECTOME_H
#define DMN_CONNECTOME_H

#include <stdint.h>

#include "config.h"

typedef enum { DMN_L_ORN, DMN_L_PN, DMN_L_KC, DMN_L_MBON, DMN_L_DN, DMN_NLAYER } DmnLayer;
typedef enum { DMN_P_ORN_TO_PN, DMN_P_PN_TO_KC, DMN_P_KC_TO_MBON, DMN_P_MBON_TO_DN, DMN_P_PN_TO_DN, DMN_NPROJ } DmnProj;

extern const char *const dmn_layer_names[DMN_NLAYER]; /* "ORN", "PN", ... */
extern const char *const dmn_proj_names[DMN_NPROJ];   /* "orn_to_pn", ... */

/* ACh is excitatory; GABA and glutamate inhibitory (Dale's law, MODEL §1). */
typedef enum { DMN_NT_ACH = 0, DMN_NT_GABA = 1, DMN_NT_GLUT = 2 } DmnTransmitter;

/* Synapses post <- pre in CSR by postsynaptic row, columns sorted. */
typedef struct DmnProjection {
  int pre, post;       /* DmnLayer */
  int n_post, n_pre, nnz;
  int *row_ptr;        /* (n_post + 1) */
  int *col;            /* (nnz) presynaptic index within the pre layer */
  uint8_t *alive;      /* (nnz) 1 = present, 0 = lesioned */
  int *csc_ptr;        /* (n_pre + 1) transpose index: synapses leaving pre neuron j ... */
  int *csc_syn;        /* (nnz) ... are csc_syn[csc_ptr[j] .. csc_ptr[j+1]) (CSR positions) */
  int *row_of;         /* (nnz) postsynaptic neuron of CSR position q */
  int *csc_row;        /* (nnz) postsynaptic neuron of transpose position c (= row_of[csc_syn[c]]) */
  int rows_contiguous; /* every row's presynaptic neurons form one contiguous range (synthetic KC->MBON) */
  float *count;        /* (nnz) synapse count from the data (1 for generated synapses) */
  double scale;        /* multiplies every effective weight (1; a `scale` lesion changes it) */
  int is_signed;       /* Dale: w = sign(pre) * softplus(u); else w = u */
  int synthetic;       /* built by a generator, not read from data */
} DmnProjection;

/* What one lesion did, for --connectome-info and every output file. */
typedef struct DmnLesionRecord {
  char name[64];
  char kind[16];        /* ablate | silence | drop | scale | shuffle */
  char target[DMN_STR_MAX]; /* "KC cell_type=KCg*" or "pn_to_kc" */
  int layer;            /* neurons' layer, or -1 for projection lesions */
  int proj;             /* projection, or -1 */
  int n_neurons;
  int *neurons;         /* (n_neurons) indices within the layer */
  long synapses_removed; /* alive synapses removed (ablate, drop) or rewired (shuffle) */
  double factor;        /* scale */
} DmnLesionRecord;

typedef struct DmnConnectome {
  int n[DMN_NLAYER];
  int8_t *side[DMN_NLAYER];        /* (n[l]) 0 left, 1 right, -1 midline/unknown; ORN: the antenna */
  uint8_t *transmitter[DMN_NLAYER]; /* (n[l]) DmnTransmitter */
  int64_t *id[DMN_NLAYER];          /* (n[l]) root/body id in the data; synthetic: index in the layer */
  int *type[DMN_NLAYER];            /* (n[l]) index into type_names */
  uint8_t *silenced[DMN_NLAYER];    /* (n[l]) 1 = output forced to 0; NULL when none is */
  int n_types;
  char **type_names;                /* (n_types) cell types, e.g. "KCg-m", "ORN_DA1" */
  int *orn_channel;                 /* (n[ORN]) receptor tuning channel (one per glomerulus) */
  int n_channels;
  char source[DMN_STR_MAX];         /* "synthetic (MODEL §1)" or the data path */
  char *notes;                      /* what the loader reported (dropped rows, defaults used); may be NULL */
  int n_lesions;
  DmnLesionRecord *lesions;         /* (n_lesions) in the order applied */
  DmnProjection proj[DMN_NPROJ];
  /* APL feedback inhibition (circuit.apl; src/MODEL.md §2b): one graded APL
   * per side, wired to the KCs of its side.  apl[k] = 1: KC k excites its
   * side's APL and receives its inhibition (both synapses; an ablated APL or
   * KC clears them).  NULL: no APL in this circuit (model v1). */
  uint8_t *apl; /* (n[KC]) */
} DmnConnectome;

/* The circuit a config asks for: synthetic or loaded from data, then its
 * lesions applied in order.  MPI-free (dmn_mpi builds it on rank 0 and
 * broadcasts it with connectome_pack/unpack). */
int connectome_build(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]);
/* The synthetic circuit of MODEL §1, drawn from cfg->sim_seed (no lesions). */
int connectome_build_synthetic(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]);
/* Real data (connectome_load.c): neuron and connection tables -> layers. */
int connectome_load(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]);
/* Apply cfg->lesions (lesion.c) to c, recording each. */
int connectome_apply_lesions(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]);
void connectome_copy(const DmnConnectome *src, DmnConnectome *dst);
void connectome_free(DmnConnectome *c);

/* Wire every KC with a known side to its side's APL (circuit.apl; else
 * c->apl stays NULL).  The builders call it; the KC layer must exist. */
void connectome_wire_apl(const DmnConfig *cfg, DmnConnectome *c);
/* KCs wired to an APL (0 without one). */
int connectome_apl_kcs(const DmnConnectome *c);

/* Building blocks for the builders (connectome.c). */
void connectome_alloc_layer(DmnConnectome *c, int layer, int n);
void connectome_proj_alloc(DmnProjection *p, int pre, int post, int n_pre, int n_post, int nnz);
int connectome_intern_type(DmnConnectome *c, const char *name);
/* Sort every row of a CSR by presynaptic index (alive flags and counts move along). */
void connectome_sort_rows(DmnProjection *p);

/* Flat byte image for MPI_Bcast; unpack allocates. */
void *connectome_pack(const DmnConnectome *c, size_t *n_bytes);
int connectome_unpack(const void *buf, size_t n_bytes, DmnConnectome *c);

/* Human-readable summary (--connectome-info; /connectome/summary in outputs), malloc'd. */
char *connectome_summary(const DmnConnectome *c);
/* Alive synapses of a projection. */
long connectome_alive(const DmnProjection *p);
/* Type name of neuron i of a layer. */
static inline const char *connectome_type(const DmnConnectome *c, int layer, int i) { return c->type_names[c->type[layer][i]]; }
/* (Re)build the transpose index of every projection from its CSR. */
void connectome_index(DmnConnectome *c);
void connectome_index_projection(DmnProjection *p);

/* Sign of a neuron's outgoing synapses under Dale's law. */
static inline double connectome_sign(const DmnConnectome *c, int layer, int i) {
  return c->transmitter[layer][i] == DMN_NT_ACH ? 1.0 : -1.0;
}

/* Low-level lesions (on a copy, before model_build; the transpose index must be
 * current). Return the alive synapses removed. */
int connectome_lesion_synapse(DmnConnectome *c, int proj, int k);
int connectome_ablate_neuron(DmnConnectome *c, int layer, int i);

#endif
