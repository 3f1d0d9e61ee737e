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
  int is_signed;       /* Dale: w = sign(pre) * softplus(u); else w = u */
  int synthetic;       /* built by a generator, not read from data */
} DmnProjection;

typedef struct DmnConnectome {
  int n[DMN_NLAYER];
  int8_t *side[DMN_NLAYER];        /* (n[l]) 0 left, 1 right, -1 midline/unknown */
  uint8_t *transmitter[DMN_NLAYER]; /* (n[l]) DmnTransmitter */
  DmnProjection proj[DMN_NPROJ];
} DmnConnectome;

/* The synthetic circuit of MODEL §1, drawn from cfg->sim_seed. */
int connectome_build_synthetic(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]);
void connectome_copy(const DmnConnectome *src, DmnConnectome *dst);
void connectome_free(DmnConnectome *c);
/* (Re)build the transpose index of every projection from its CSR. */
void connectome_index(DmnConnectome *c);
void connectome_index_projection(DmnProjection *p);

/* Sign of a neuron's outgoing synapses under Dale's law. */
static inline double connectome_sign(const DmnConnectome *c, int layer, int i) {
  return c->transmitter[layer][i] == DMN_NT_ACH ? 1.0 : -1.0;
}

/* Lesions (on a copy, before model_build). Return the synapses removed. */
int connectome_lesion_synapse(DmnConnectome *c, int proj, int k);
int connectome_ablate_neuron(DmnConnectome *c, int layer, int i);

#endif
