#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define DMN_GROUP_NAME(name, doc) #name,
#define DMN_GROUP_DOC(name, doc) doc,
const char *const dmn_group_names[DMN_NGROUP] = {DMN_PARAM_GROUPS(DMN_GROUP_NAME)};
const char *const dmn_group_docs[DMN_NGROUP] = {DMN_PARAM_GROUPS(DMN_GROUP_DOC)};

PetscErrorCode model_build(const DmnConfig *cfg, const DmnConnectome *conn, DmnModel *m, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  memset(m, 0, sizeof(*m));
  m->cfg = *cfg;
  if (config_validate(cfg, err)) PetscFunctionReturn(PETSC_ERR_USER_INPUT);
  if (conn) {
    connectome_copy(conn, &m->conn);
  } else if (connectome_build(cfg, &m->conn, err)) {
    PetscFunctionReturn(PETSC_ERR_USER_INPUT);
  }
  m->n_neuron = 0;
  for (int l = 0; l < DMN_NLAYER; l++) {
    m->n[l] = m->conn.n[l];
    m->layer_off[l] = m->n_neuron;
    m->n_neuron += m->n[l];
  }
  m->layer_off[DMN_NLAYER] = m->n_neuron;
  m->T = (int)cfg->sim_steps;
  m->dt = cfg->sim_dt;
  m->a_syn = exp(-m->dt / cfg->circuit_tau_syn);
  m->a_q = exp(-m->dt / cfg->motor_tau_q);
  m->adapt = cfg->sensing_adapt;
  m->a_adapt = exp(-m->dt / cfg->sensing_adapt_tau);
  m->apl = m->conn.apl != NULL;
  if (m->apl) apl_runs_build(m->n[DMN_L_KC], m->conn.side[DMN_L_KC], &m->apl_runs);
  m->a_apl = exp(-m->dt / cfg->circuit_tau_apl);
  m->tau_min = cfg->circuit_tau_min;
  m->v_rest = cfg->circuit_v_rest;
  m->v_reset = cfg->circuit_v_reset;
  m->gamma = cfg->circuit_surrogate_gamma;
  m->beta = cfg->circuit_surrogate_beta;
  m->smooth = cfg->circuit_spike_fn == DMN_SPIKE_SIGMOID;
  m->detach_reset = cfg->circuit_detach_reset;
  m->feedback = cfg->grad_sensory_feedback;
  m->window = (int)cfg->grad_window;
  /* The mushroom-body projections are the large sparse ones: PETSc AIJ
   * matrices over the weight arrays, whichever kernel multiplies them
   * (circuit.sparse_backend picks the backward's W^T d_y). */
  m->use_petsc[DMN_P_PN_TO_KC] = m->use_petsc[DMN_P_KC_TO_MBON] = 1;
  m->petsc_backward = cfg->circuit_sparse_backend == DMN_SPARSE_PETSC;
  env_model_init(&m->env, cfg, m->n[DMN_L_ORN], m->conn.side[DMN_L_ORN], m->conn.orn_channel, m->conn.n_channels);
  body_model_init(&m->body, cfg);
  body_model_tabulate(&m->body, m->T);

  size_t sizes[DMN_NGROUP] = {0};
  sizes[DMN_G_orn_gain] = (size_t)m->n[DMN_L_ORN];
  for (int g = 0; g < DMN_NGROUP; g++)
    if (model_group_proj(g) >= 0) sizes[g] = (size_t)m->conn.proj[model_group_proj(g)].nnz;
  if (m->apl) sizes[DMN_G_kc_to_apl] = sizes[DMN_G_apl_to_kc] = (size_t)m->n[DMN_L_KC];
  sizes[DMN_G_rho] = sizes[DMN_G_theta] = sizes[DMN_G_bias] = (size_t)m->n_neuron;
  sizes[DMN_G_motor_w] = 2 * (size_t)m->n[DMN_L_DN];
  sizes[DMN_G_motor_b] = 2;
  size_t off = 0;
  for (int g = 0; g < DMN_NGROUP; g++) {
    m->group_off[g] = off;
    m->group_n[g] = sizes[g];
    off += sizes[g];
  }
  m->n_params = off;
  PetscFunctionReturn(0);
}

void model_free(DmnModel *m) {
  apl_runs_free(&m->apl_runs);
  env_model_free(&m->env);
  body_model_free(&m->body);
  connectome_free(&m->conn);
}

void params_alloc(const DmnModel *m, DmnParams *p) {
  p->n = m->n_params;
  p->data = calloc(p->n ? p->n : 1, sizeof(double));
#define DMN_GROUP_SET(name, doc) p->name = p->data + m->group_off[DMN_G_##name];
  DMN_PARAM_GROUPS(DMN_GROUP_SET)
#undef DMN_GROUP_SET
}

void params_free(DmnParams *p) {
  free(p->data);
  memset(p, 0, sizeof(*p));
}
void params_copy(DmnParams *dst, const DmnParams *src) { memcpy(dst->data, src->data, sizeof(double) * src->n); }
void params_zero(DmnParams *p) { memset(p->data, 0, sizeof(double) * p->n); }
double *params_group(const DmnParams *p, const DmnModel *m, int g) { return p->data + m->group_off[g]; }

void params_locate(const DmnModel *m, size_t k, char *buf, size_t n) {
  for (int g = DMN_NGROUP - 1; g >= 0; g--)
    if (k >= m->group_off[g] && m->group_n[g]) {
      snprintf(buf, n, "%s[%zu]", dmn_group_names[g], k - m->group_off[g]);
      return;
    }
  snprintf(buf, n, "?[%zu]", k);
}

void model_init_params(const DmnModel *m, DmnParams *p) { model_init_params_individual(m, p, 0); }

void model_init_params_individual(const DmnModel *m, DmnParams *p, long individual) {
  const DmnConfig *c = &m->cfg;
  DmnRng r = util_rng((uint64_t)c->sim_seed, DMN_STREAM_INIT, (uint64_t)individual, 0);
  /* with adaptation an ORN adapted to a constant odor gets (1 - k) of its
   * receptor drive: start from the gain that drives it as without.  Not for
   * Weber receptors: their level is the distance, which adaptation is there
   * to remove (k = 1 removes it all). */
  const double gain = c->sensing_receptor == DMN_RECEPTOR_WEBER ? c->init_orn_gain : c->init_orn_gain / (1.0 - m->adapt);
  for (int i = 0; i < m->n[DMN_L_ORN]; i++) p->orn_gain[i] = gain;
  const double scale[DMN_NPROJ] = {c->init_orn_to_pn, c->init_pn_to_kc, c->init_kc_to_mbon, c->init_mbon_to_dn, c->init_pn_to_dn};
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *pr = &m->conn.proj[q];
    double *u = params_group(p, m, DMN_G_orn_to_pn + q);
    /* Real synapse counts set relative strengths: |w| = scale * count / mean
     * count (generated synapses all count 1, so this is exactly scale). */
    double mean_count = 0;
    long n_alive = 0;
    for (int k = 0; k < pr->nnz; k++)
      if (pr->alive[k]) mean_count += pr->count[k], n_alive++;
    mean_count = n_alive && mean_count > 0 ? mean_count / (double)n_alive : 1.0;
    for (int row = 0; row < pr->n_post; row++)
      for (int k = pr->row_ptr[row]; k < pr->row_ptr[row + 1]; k++) {
        double sgn = connectome_sign(&m->conn, pr->pre, pr->col[k]);
        double mag = scale[q] * (sgn < 0 ? c->init_inhibitory_scale : 1.0);
        if (c->connectome_weights_from_counts && !pr->synthetic) mag *= pr->count[k] / mean_count;
        if (q == DMN_P_ORN_TO_PN && c->init_orn_to_pn_contra != 1.0) {
          int a = m->conn.side[DMN_L_ORN][pr->col[k]], b = m->conn.side[DMN_L_PN][row];
          /* contra : ipsi = c : 1, their sum as with c = 1 so the PN drive stays the same */
          double cf = c->init_orn_to_pn_contra;
          if (a >= 0 && b >= 0) mag *= a != b ? 2.0 * cf / (1.0 + cf) : 2.0 / (1.0 + cf);
        }
        mag *= 1.0 + c->init_jitter * (2.0 * util_rng_uniform(&r) - 1.0);
        if (pr->is_signed)
          u[k] = util_softplus_inv(mag > 1e-6 ? mag : 1e-6); /* softplus cannot reach 0 */
        else
          u[k] = sgn * mag;
      }
  }
  const double tau0[DMN_NLAYER] = {c->circuit_tau_orn, c->circuit_tau_pn, c->circuit_tau_kc, c->circuit_tau_mbon, c->circuit_tau_dn};
  for (int l = 0; l < DMN_NLAYER; l++)
    for (int i = m->layer_off[l]; i < m->layer_off[l + 1]; i++) {
      double excess = tau0[l] - m->tau_min;
      p->rho[i] = util_softplus_inv(excess > 1e-3 ? excess : 1e-3);
      p->theta[i] = c->circuit_theta_init;
      p->bias[i] = l == DMN_L_ORN ? c->init_orn_bias : 0.0;
    }
  for (int k = 0; k < 2 * m->n[DMN_L_DN]; k++)
    p->motor_w[k] = c->init_motor_w * (1.0 + c->init_jitter * (2.0 * util_rng_uniform(&r) - 1.0));
  p->motor_b[0] = p->motor_b[1] = c->init_motor_b;
  /* APL synapses, drawn last so that a circuit without APL draws the v1
   * weights.  An APL sums every KC of its side, so the initial KC -> APL
   * weight is init.kc_to_apl per 1000 KCs of that side: the same
   * inhibition at the start whatever the KC count (1000 a side by default). */
  int apl_kcs[2] = {0, 0};
  for (int k = 0; m->apl && k < m->n[DMN_L_KC]; k++)
    if (m->conn.apl[k]) apl_kcs[m->conn.side[DMN_L_KC][k] == 1]++;
  if (m->apl)
    for (int k = 0; k < m->n[DMN_L_KC]; k++) {
      const double j_in = 1.0 + c->init_jitter * (2.0 * util_rng_uniform(&r) - 1.0);
      const double j_out = 1.0 + c->init_jitter * (2.0 * util_rng_uniform(&r) - 1.0);
      const int n_side = apl_kcs[m->conn.side[DMN_L_KC][k] == 1];
      const double w_in = c->init_kc_to_apl * 1000.0 / (n_side > 0 ? n_side : 1) * j_in, w_out = c->init_apl_to_kc * j_out;
      if (c->circuit_dale) {
        p->kc_to_apl[k] = util_softplus_inv(w_in > 1e-6 ? w_in : 1e-6);
        p->apl_to_kc[k] = util_softplus_inv(w_out > 1e-6 ? w_out : 1e-6);
      } else {
        p->kc_to_apl[k] = w_in;
        p->apl_to_kc[k] = -w_out;
      }
    }
}

/* w_t = w in transpose order (and mat_t, which wraps w_t, told its values changed). */
static PetscErrorCode refresh_transpose(const DmnModel *m, DmnDerived *d, int q) {
  PetscFunctionBeginUser;
  const DmnProjection *pr = &m->conn.proj[q];
  double *wt = d->w_t[q];
  if (d->mat_t[q]) PetscCall(MatSeqAIJGetArray(d->mat_t[q], &wt));
  for (int c = 0; c < pr->nnz; c++) wt[c] = d->w[q][pr->csc_syn[c]];
  if (d->mat_t[q]) PetscCall(MatSeqAIJRestoreArray(d->mat_t[q], &wt));
  PetscFunctionReturn(0);
}

PetscErrorCode derived_create(const DmnModel *m, DmnDerived *d) {
  PetscFunctionBeginUser;
  memset(d, 0, sizeof(*d));
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *pr = &m->conn.proj[q];
    d->w[q] = calloc((size_t)pr->nnz + 1, sizeof(double));
    d->dw_du[q] = calloc((size_t)pr->nnz + 1, sizeof(double));
    d->w_t[q] = calloc((size_t)pr->nnz + 1, sizeof(double));
    if (m->use_petsc[q]) {
      /* The Mat wraps our CSR arrays (no copy): updating w[] updates the Mat. */
      PetscCall(MatCreateSeqAIJWithArrays(PETSC_COMM_SELF, pr->n_post, pr->n_pre, pr->row_ptr, pr->col, d->w[q], &d->mat[q]));
      PetscCall(VecCreateSeqWithArray(PETSC_COMM_SELF, 1, pr->n_pre, NULL, &d->vin[q]));
      PetscCall(VecCreateSeqWithArray(PETSC_COMM_SELF, 1, pr->n_post, NULL, &d->vout[q]));
      /* W^T over the transpose index and w_t: what MatTranspose would build
       * (rows by presynaptic neuron, columns sorted), refreshed by copying
       * weights rather than by a MatTranspose per update */
      PetscCall(MatCreateSeqAIJWithArrays(PETSC_COMM_SELF, pr->n_pre, pr->n_post, pr->csc_ptr, pr->csc_row, d->w_t[q], &d->mat_t[q]));
    }
  }
  d->a = calloc((size_t)m->n_neuron, sizeof(double));
  d->da_drho = calloc((size_t)m->n_neuron, sizeof(double));
  const size_t n_kc = (size_t)m->n[DMN_L_KC] + 1;
  d->apl_w_in = calloc(n_kc, sizeof(double));
  d->apl_dw_in = calloc(n_kc, sizeof(double));
  d->apl_w_out = calloc(n_kc, sizeof(double));
  d->apl_dw_out = calloc(n_kc, sizeof(double));
  PetscFunctionReturn(0);
}

PetscErrorCode derived_update(const DmnModel *m, const DmnParams *p, DmnDerived *d) {
  PetscFunctionBeginUser;
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *pr = &m->conn.proj[q];
    const double *u = params_group(p, m, DMN_G_orn_to_pn + q);
    double *w = d->w[q];
    if (d->mat[q]) PetscCall(MatSeqAIJGetArray(d->mat[q], &w)); /* same array; keeps PETSc's object state honest */
    for (int row = 0; row < pr->n_post; row++)
      for (int k = pr->row_ptr[row]; k < pr->row_ptr[row + 1]; k++) {
        if (!pr->alive[k]) {
          w[k] = d->dw_du[q][k] = 0.0;
        } else if (pr->is_signed) {
          /* Dale (MODEL §1): w = sigma_pre * softplus(u); a `scale` lesion multiplies it */
          double sgn = connectome_sign(&m->conn, pr->pre, pr->col[k]) * pr->scale;
          w[k] = sgn * util_softplus(u[k]);
          d->dw_du[q][k] = sgn * util_sigmoid(u[k]);
        } else {
          w[k] = pr->scale * u[k];
          d->dw_du[q][k] = pr->scale;
        }
      }
    if (d->mat[q]) PetscCall(MatSeqAIJRestoreArray(d->mat[q], &w));
    PetscCall(refresh_transpose(m, d, q));
  }
  /* APL (MODEL §2b): w_in = softplus(u) (KCs are cholinergic), w_out =
   * -softplus(u) (GABA); without Dale w = u.  A KC without APL synapses: 0. */
  for (int k = 0; m->apl && k < m->n[DMN_L_KC]; k++) {
    if (!m->conn.apl[k]) {
      d->apl_w_in[k] = d->apl_dw_in[k] = d->apl_w_out[k] = d->apl_dw_out[k] = 0.0;
    } else if (m->cfg.circuit_dale) {
      d->apl_w_in[k] = util_softplus(p->kc_to_apl[k]);
      d->apl_dw_in[k] = util_sigmoid(p->kc_to_apl[k]);
      d->apl_w_out[k] = -util_softplus(p->apl_to_kc[k]);
      d->apl_dw_out[k] = -util_sigmoid(p->apl_to_kc[k]);
    } else {
      d->apl_w_in[k] = p->kc_to_apl[k];
      d->apl_w_out[k] = p->apl_to_kc[k];
      d->apl_dw_in[k] = d->apl_dw_out[k] = 1.0;
    }
  }
  /* a = exp(-dt/tau), tau = tau_min + softplus(rho) (MODEL §2) */
  for (int i = 0; i < m->n_neuron; i++) {
    double tau = m->tau_min + util_softplus(p->rho[i]);
    d->a[i] = exp(-m->dt / tau);
    d->da_drho[i] = d->a[i] * m->dt / (tau * tau) * util_sigmoid(p->rho[i]);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode derived_apply_variant(const DmnModel *m, DmnDerived *d, uint64_t episode) {
  PetscFunctionBeginUser;
  const double f = m->cfg.connectome_variant_dropout;
  if (f <= 0) PetscFunctionReturn(0);
  const int proj[2] = {DMN_P_PN_TO_KC, DMN_P_KC_TO_MBON};
  for (int j = 0; j < 2; j++) {
    int q = proj[j];
    const DmnProjection *pr = &m->conn.proj[q];
    DmnRng r = util_rng((uint64_t)m->cfg.sim_seed, DMN_STREAM_VARIANT, (uint64_t)q, episode);
    double *w = d->w[q];
    if (d->mat[q]) PetscCall(MatSeqAIJGetArray(d->mat[q], &w));
    for (int k = 0; k < pr->nnz; k++)
      if (util_rng_uniform(&r) < f) w[k] = d->dw_du[q][k] = 0.0; /* this fly lacks the synapse */
    if (d->mat[q]) PetscCall(MatSeqAIJRestoreArray(d->mat[q], &w));
    PetscCall(refresh_transpose(m, d, q));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode derived_destroy(DmnDerived *d) {
  PetscFunctionBeginUser;
  for (int q = 0; q < DMN_NPROJ; q++) {
    if (d->mat[q]) PetscCall(MatDestroy(&d->mat[q]));
    if (d->mat_t[q]) PetscCall(MatDestroy(&d->mat_t[q]));
    if (d->vin[q]) PetscCall(VecDestroy(&d->vin[q]));
    if (d->vout[q]) PetscCall(VecDestroy(&d->vout[q]));
    free(d->w[q]);
    free(d->dw_du[q]);
    free(d->w_t[q]);
  }
  free(d->a);
  free(d->da_drho);
  free(d->apl_w_in);
  free(d->apl_dw_in);
  free(d->apl_w_out);
  free(d->apl_dw_out);
  memset(d, 0, sizeof(*d));
  PetscFunctionReturn(0);
}
