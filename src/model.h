/* model — the immutable description of one circuit + body + task, and the
 * layout of its learnable parameters.
 *
 * DMN_PARAM_GROUPS is the one table of parameter groups: it defines DmnParams
 * (named pointers into one flat block, so Adam and MPI_Allreduce are one loop
 * over n numbers), the gradient struct (same type), the HDF5 /params/<name>
 * datasets and params_locate() for messages like "kc_to_mbon[123]". */
#ifndef DMN_MODEL_H
#define DMN_MODEL_H

#include <petscmat.h>
#include <stddef.h>

#include "apl.h"
#include "body.h"
#include "config.h"
#include "connectome.h"
#include "env.h"

/* clang-format off */
#define DMN_PARAM_GROUPS(X) \
  X(orn_gain,   "receptor -> ORN gain g_i (n_orn), mV") \
  X(orn_to_pn,  "ORN -> PN synapses u (nnz, CSR order)") \
  X(pn_to_kc,   "PN -> KC synapses u (nnz, CSR order; PETSc AIJ)") \
  X(kc_to_mbon, "KC -> MBON synapses u (nnz, CSR order; PETSc AIJ)") \
  X(mbon_to_dn, "MBON -> DN synapses u (n_dn x n_mbon)") \
  X(pn_to_dn,   "PN -> DN lateral-horn synapses u (n_dn x n_pn)") \
  X(kc_to_apl,  "KC -> APL synapses u (n_kc; empty without circuit.apl)") \
  X(apl_to_kc,  "APL -> KC synapses u (n_kc; empty without circuit.apl)") \
  X(rho,        "membrane tau = tau_min + softplus(rho), every neuron (n_neuron)") \
  X(theta,      "spike threshold, mV (n_neuron)") \
  X(bias,       "bias current, mV (n_neuron)") \
  X(motor_w,    "motor map M (2 x n_dn), ms") \
  X(motor_b,    "motor bias m (2)")
/* clang-format on */

#define DMN_GROUP_ENUM(name, doc) DMN_G_##name,
typedef enum { DMN_PARAM_GROUPS(DMN_GROUP_ENUM) DMN_NGROUP } DmnGroup;
#undef DMN_GROUP_ENUM

extern const char *const dmn_group_names[DMN_NGROUP];
extern const char *const dmn_group_docs[DMN_NGROUP];

/* Parameters and gradients share this type and layout. */
#define DMN_GROUP_PTR(name, doc) double *name;
typedef struct DmnParams {
  double *data; /* (n) the flat block */
  size_t n;
  DMN_PARAM_GROUPS(DMN_GROUP_PTR)
} DmnParams;
#undef DMN_GROUP_PTR

/* Projection index of a synapse parameter group, or -1. */
static inline int model_group_proj(int g) {
  switch (g) {
  case DMN_G_orn_to_pn: return DMN_P_ORN_TO_PN;
  case DMN_G_pn_to_kc: return DMN_P_PN_TO_KC;
  case DMN_G_kc_to_mbon: return DMN_P_KC_TO_MBON;
  case DMN_G_mbon_to_dn: return DMN_P_MBON_TO_DN;
  case DMN_G_pn_to_dn: return DMN_P_PN_TO_DN;
  default: return -1;
  }
}

typedef struct DmnModel {
  DmnConfig cfg;
  DmnConnectome conn;
  int n[DMN_NLAYER];
  int layer_off[DMN_NLAYER + 1]; /* neuron l,i has global index layer_off[l] + i */
  int n_neuron;
  int T;                         /* steps per episode */
  double dt;                     /* ms */
  double a_syn;                  /* exp(-dt / tau_syn) */
  double a_q;                    /* exp(-dt / tau_q), DN rate filter */
  double adapt, a_adapt;         /* sensing.adapt k and exp(-dt / adapt_tau): ORN adaptation (0: none) */
  int apl;                       /* the circuit has APLs (conn.apl != NULL; circuit.apl) */
  AplRuns apl_runs;              /* the KCs as runs of one side (apl.h) */
  double a_apl;                  /* exp(-dt / tau_apl) */
  double tau_min, v_rest, v_reset, gamma, beta;
  int smooth;                    /* spike_fn == sigmoid */
  int detach_reset;
  int feedback, window;          /* grad.sensory_feedback, grad.window */
  int use_petsc[DMN_NPROJ];      /* projection is held as a PETSc AIJ Mat (DmnDerived.mat) over its weight array */
  int petsc_backward;            /* the backward's W^T d_y of those as MatMultAdd (circuit.sparse_backend: petsc) */
  int backward_by_step;          /* 1: the backward pass step by step also where the layer-by-layer blocks apply (0 after model_build; test_grad compares the two) */
  EnvModel env;
  BodyModel body;
  size_t group_off[DMN_NGROUP], group_n[DMN_NGROUP], n_params;
} DmnModel;

/* Quantities derived from the parameters once per update, not per step:
 * effective weights and their derivative, membrane decays. */
typedef struct DmnDerived {
  double *w[DMN_NPROJ];     /* (nnz) effective weight, mV per spike */
  double *dw_du[DMN_NPROJ]; /* (nnz) dw/du; 0 for lesioned synapses */
  double *a;                /* (n_neuron) exp(-dt/tau) */
  double *da_drho;          /* (n_neuron) */
  Mat mat[DMN_NPROJ];       /* PETSc AIJ over w[] for PETSc-backed projections */
  double *w_t[DMN_NPROJ];   /* (nnz) w in transpose order (by presynaptic neuron, csc_row columns), refreshed with w:
                               the forward's event-driven walk and the backward's W^T d_y read it contiguously */
  Mat mat_t[DMN_NPROJ];     /* AIJ over w_t (no copy), the transpose of mat: the backward's W^T d_y as a row-wise gather */
  Vec vin[DMN_NPROJ], vout[DMN_NPROJ]; /* array-less work vectors sized n_pre / n_post */
  /* APL (src/MODEL.md §2b), per KC; 0 where a KC has no APL synapses */
  double *apl_w_in, *apl_dw_in;   /* (n_kc) KC -> APL weight w_in = softplus(u) and dw/du */
  double *apl_w_out, *apl_dw_out; /* (n_kc) APL -> KC weight w_out = -softplus(u) (Dale) and dw/du */
} DmnDerived;

/* The mean start radius of the config: start_radius, or the middle of
 * [start_radius, start_radius_max] (MODEL §5). */
static inline double model_start_radius_mean(const DmnConfig *c) {
  return c->arena_start_radius_max > c->arena_start_radius ? 0.5 * (c->arena_start_radius + c->arena_start_radius_max) : c->arena_start_radius;
}

/* Build a model from a config and a connectome (copied; NULL = the synthetic
 * connectome of the config).  The model is read-only afterwards. */
PetscErrorCode model_build(const DmnConfig *cfg, const DmnConnectome *conn, DmnModel *m, char err[DMN_ERR_MAX]);
void model_free(DmnModel *m);

void params_alloc(const DmnModel *m, DmnParams *p);
void params_free(DmnParams *p);
void params_copy(DmnParams *dst, const DmnParams *src);
void params_zero(DmnParams *p);
double *params_group(const DmnParams *p, const DmnModel *m, int g);
/* "kc_to_mbon[123]" for flat index k. */
void params_locate(const DmnModel *m, size_t k, char *buf, size_t n);

/* Initial parameters (MODEL §1–4, scales from the init: section). */
void model_init_params(const DmnModel *m, DmnParams *p);
/* The same drawn from individual k's stream (k = 0: model_init_params). */
void model_init_params_individual(const DmnModel *m, DmnParams *p, long individual);

PetscErrorCode derived_create(const DmnModel *m, DmnDerived *d);
PetscErrorCode derived_update(const DmnModel *m, const DmnParams *p, DmnDerived *d);
/* Connectome variants (connectome.variant_dropout > 0): after derived_update,
 * remove a random fraction of the PN->KC and KC->MBON synapses for one
 * training episode.  The draw is keyed by (sim.seed, global episode index), so
 * the set of variants is the same for any rank count. */
PetscErrorCode derived_apply_variant(const DmnModel *m, DmnDerived *d, uint64_t episode);
PetscErrorCode derived_destroy(DmnDerived *d);

#endif
