#include "episode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snn.h"
#include "util.h"
#include "readout.h"

PetscLogEvent DMN_EV_FORWARD, DMN_EV_BACKWARD, DMN_EV_RECOMPUTE, DMN_EV_ALLREDUCE, DMN_EV_CHECKPOINT, DMN_EV_EVALUATE;

PetscErrorCode episode_register_events(void) {
  PetscClassId id;
  PetscFunctionBeginUser;
  if (DMN_EV_FORWARD) PetscFunctionReturn(0);
  PetscCall(PetscClassIdRegister("dmn", &id));
  PetscCall(PetscLogEventRegister("DmnForward", id, &DMN_EV_FORWARD));
  PetscCall(PetscLogEventRegister("DmnBackward", id, &DMN_EV_BACKWARD));
  PetscCall(PetscLogEventRegister("DmnRecompute", id, &DMN_EV_RECOMPUTE));
  PetscCall(PetscLogEventRegister("DmnAllreduce", id, &DMN_EV_ALLREDUCE));
  PetscCall(PetscLogEventRegister("DmnCheckpoint", id, &DMN_EV_CHECKPOINT));
  PetscCall(PetscLogEventRegister("DmnEvaluate", id, &DMN_EV_EVALUATE));
  PetscFunctionReturn(0);
}

static void tape_load_row(const DmnTape *tape, int t, double *v, double *s, double *cur) {
  size_t n = (size_t)tape->n_neuron, o = (size_t)t * n;
  for (size_t i = 0; i < n; i++) {
    v[i] = tape->v32[o + i];
    s[i] = tape->s8[o + i];
    if (cur) cur[i] = tape->cur32[o + i];
  }
}

static SnnConst snn_const(const DmnModel *m) {
  SnnConst k = {m->v_rest, m->v_reset, m->a_syn, m->gamma, m->beta, m->smooth, m->detach_reset};
  return k;
}

/* What the ORNs get at step t (x = g_i times it): the receptor response,
 * or with adaptation (sensing.adapt) the adapted signal r - k A. */
static const double *orn_input(const DmnModel *m, const DmnTape *tape, int t) {
  return (tape->orn_in ? tape->orn_in : tape->recept) + (size_t)t * (size_t)m->n[DMN_L_ORN];
}

/* The APL state of step t on the tape (NULL before the first step, where
 * it is 0, and without APL). */
static double *apl_row(const DmnTape *tape, int t) { return tape->apl && t >= 0 ? tape->apl + (size_t)t * DMN_N_APL : NULL; }

/* The APL's part of the KC layer's backward at step t (MODEL §2b): before
 * the KCs' LIF backward, their spikes' share of dL/dz[t] (ds_row: the
 * step's dL/ds); after it (dx_row: dL/dI input), the inhibition's weight
 * gradient and the APL carry to step t-1.  The same calls in both backward
 * paths, so they give the same bits. */
static void apl_backward_spikes(const DmnModel *m, const DmnDerived *d, const double *s_row, double *ds_row, DmnWork *w, DmnParams *g) {
  const int o = m->layer_off[DMN_L_KC];
  apl_forward_backward(&m->apl_runs, m->a_apl, d->apl_w_in, d->apl_dw_in, s_row + o, w->d_apl, ds_row + o, g->kc_to_apl);
}
static void apl_backward_input(const DmnModel *m, const DmnDerived *d, const DmnTape *tape, int t, const double *dx_row, DmnWork *w,
                               DmnParams *g) {
  apl_input_backward(&m->apl_runs, m->a_apl, d->apl_w_out, d->apl_dw_out, apl_row(tape, t - 1),
                     dx_row + m->layer_off[DMN_L_KC], w->d_apl, g->apl_to_kc);
}

/* Add the projections into `post` at step t (row pointers into the tape). */
static PetscErrorCode project_into(const DmnModel *m, const DmnDerived *d, int q, const double *s_row, const DmnWork *w, double *cur_row) {
  PetscFunctionBeginUser;
  const DmnProjection *pr = &m->conn.proj[q];
  const double *x = s_row + m->layer_off[pr->pre];
  double *y = cur_row + m->layer_off[pr->post];
  /* Event-driven whatever the backend: only presynaptic neurons that spiked
   * contribute, walked through the transpose index over the very weight
   * array the PETSc matrix wraps (MatCreateSeqAIJWithArrays: no copy).  A
   * MatMultAdd would touch every synapse every step (measured 2x slower). */
  snn_project_forward(pr, d->w_t[q], x, w->active + m->layer_off[pr->pre], w->n_active[pr->pre], y);
  PetscFunctionReturn(0);
}

/* act, n_act: the presynaptic neurons that spiked at this step. */
static PetscErrorCode project_back(const DmnModel *m, const DmnDerived *d, int q, const double *s_row, const int *act, int n_act,
                                   const double *d_x, double *d_s, DmnParams *g) {
  PetscFunctionBeginUser;
  const DmnProjection *pr = &m->conn.proj[q];
  const double *x = s_row + m->layer_off[pr->pre];
  const double *dy = d_x + m->layer_off[pr->post];
  double *dx = d_s + m->layer_off[pr->pre];
  double *gu = params_group(g, m, DMN_G_orn_to_pn + q);
  if (d->mat[q] && m->petsc_backward)
    PetscCall(snn_project_backward_petsc(d->mat_t[q], d->vout[q], d->vin[q], pr, d->dw_du[q], x, act, n_act, dy, dx, gu));
  else
    snn_project_backward(pr, d->w[q], d->w_t[q], d->dw_du[q], x, act, n_act, dy, dx, gu);
  PetscFunctionReturn(0);
}

/* Projections feeding each layer, in the order signals cross within a step. */
static const int layer_inputs[DMN_NLAYER][2] = {
    {-1, -1}, {DMN_P_ORN_TO_PN, -1}, {DMN_P_PN_TO_KC, -1}, {DMN_P_KC_TO_MBON, -1}, {DMN_P_MBON_TO_DN, DMN_P_PN_TO_DN}};

/* The circuit's part of step t (MODEL §2): I = a_s I[t-1] + W x + receptor
 * drive, then every layer's LIF update, signals crossing all layers within
 * the step.  vp: post-reset V of step t-1 in, of step t out.  cur on entry:
 * with `decayed` it already holds a_s I[t-1] (written by the step before as
 * its cur_next); else it is computed from cur_prev (NULL: I[-1] = 0).
 * cur_next (or NULL): receives a_s I[t] for the next step, in the same
 * sweep as the LIF update.  Shared by the forward pass and the
 * recomputation of checkpointed BPTT, so both compute the same bits. */
static PetscErrorCode circuit_step(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const SnnConst *k, const double *rec,
                                   const double *cur_prev, int decayed, const double *apl_prev, double *apl, double *vp, double *cur,
                                   double *cur_next, double *v, double *s, DmnWork *w) {
  PetscFunctionBeginUser;
  const int n = m->n_neuron, n_orn = m->n[DMN_L_ORN];
  if (!decayed) {
    if (cur_prev) snn_decay(n, m->a_syn, cur_prev, cur); /* cur[t] = a_syn cur[t-1] + W x[t] */
    else memset(cur, 0, sizeof(double) * (size_t)n);
  }
  double *restrict cur_orn = cur + m->layer_off[DMN_L_ORN];
  const double *restrict gain = p->orn_gain;
  for (int i = 0; i < n_orn; i++) cur_orn[i] += gain[i] * rec[i];
  for (int l = 0; l < DMN_NLAYER; l++) {
    for (int j = 0; j < 2; j++)
      if (layer_inputs[l][j] >= 0) PetscCall(project_into(m, d, layer_inputs[l][j], s, w, cur));
    int o = m->layer_off[l];
    /* the APL's inhibition of step t-1 joins the KCs' input (MODEL §2b) */
    if (l == DMN_L_KC && m->apl) apl_input(&m->apl_runs, d->apl_w_out, apl_prev, cur + o);
    /* w->active: who spiked; the projections and statistics walk only these */
    w->n_active[l] = snn_lif_step(k, m->n[l], d->a + o, p->theta + o, p->bias + o, cur + o, m->conn.silenced[l], vp + o, v + o, s + o,
                                  cur_next ? cur_next + o : NULL, w->active + o);
    if (l == DMN_L_KC && m->apl) apl_forward(m->conn.side[l], m->a_apl, d->apl_w_in, s + o, w->active + o, w->n_active[l], apl_prev, apl);
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode forward_impl(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const double p0[2], double psi0,
                                   const DmnBodyHook *hook, DmnTape *tape, DmnWork *w, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  const int T = m->T, n = m->n_neuron, n_orn = m->n[DMN_L_ORN], n_dn = m->n[DMN_L_DN];
  const SnnConst k = snn_const(m);
  tape->p0[0] = p0[0];
  tape->p0[1] = p0[1];
  tape->psi0 = psi0;
  for (int i = 0; i < n; i++)
    w->vp[i] = m->v_rest; /* V = V_rest, cur = 0 at the start */
  memset(w->q_prev, 0, sizeof(double) * (size_t)n_dn);
  /* Feet before the first step: the drive the circuit gives at rest, tanh(m)
   * (body-reference U2), so the first step does not jerk the heading. */
  tape->d_init[0] = tanh(p->motor_b[0]);
  tape->d_init[1] = tanh(p->motor_b[1]);
  body_feet(&m->body, -1, tape->d_init, tape->r_init);

  /* Spike statistics accumulate as the episode runs (a checkpointed tape
   * does not keep every step).  KC population sparseness: the fraction of
   * KCs that spike within a 100 ms window, averaged over the whole windows
   * of the episode (a KC counted as active for having spiked once in 5 s
   * would overstate it while the fly walks through changing odor). */
  memset(tape->rate_hz, 0, sizeof(double) * (size_t)n);
  int win = (int)(100.0 / m->dt + 0.5), o_kc = m->layer_off[DMN_L_KC], n_kc = m->n[DMN_L_KC];
  if (win < 1) win = 1;
  const int n_win = T / win;
  double kc_active = 0.0;
  int kc_count = 0;
  double *last = w->d_s; /* scratch here: the window in which each KC last spiked (the backward pass overwrites it) */
  for (int i = 0; i < n_kc; i++)
    last[o_kc + i] = -1.0;
  const int K = tape->rows;
  /* A checkpointed tape's rows are recomputed by the backward pass, so the
   * forward keeps its state in two work rows (in cache) and writes the
   * ring only for the last segment (the non-finite diagnosis reads it). */
  const int last0 = tape->ck_vp ? ((T - 1) / K) * K : 0;

  LossPath acc; /* the distance and drive terms of the loss, and the path metrics (loss.c) */
  loss_path_begin(m, p0, &acc);
  int decayed = 0; /* the step before wrote a_syn I[t-1] into this step's cur (its cur_next) */
  for (int t = 0; t < T; t++) {
    const double *pp = t ? tape->body[t - 1].p : p0;
    double psi_prev = t ? tape->body[t - 1].psi : psi0;
    double *cur, *v, *s;
    const double *cur_prev;
    const int in_rows = tape->compact || (tape->ck_vp && t < last0);
    double *cur_next = NULL; /* where the next step's cur is: its decay is written there in this step's sweep */
    if (in_rows) { /* compute in double rows (a compact tape stores them rounded below) */
      cur = w->row_cur, v = w->row_v, s = w->row_s, cur_prev = w->row_cur1;
      if (t + 1 < T && (tape->compact || t + 1 < last0)) cur_next = w->row_cur1; /* I[t-1] is not needed after the checkpoint below */
    } else {
      cur = tape->cur + tape_row(tape, t), v = tape->v + tape_row(tape, t), s = tape->s + tape_row(tape, t);
      cur_prev = !t ? NULL : (tape->ck_vp && t == last0 ? w->row_cur1 : tape->cur + tape_row(tape, t - 1));
      if (t + 1 < T) cur_next = tape->cur + tape_row(tape, t + 1);
    }
    if (tape->ck_vp && t % K == 0) { /* checkpoint: the state entering this segment */
      size_t j = (size_t)(t / K) * (size_t)n;
      memcpy(tape->ck_vp + j, w->vp, sizeof(double) * (size_t)n);
      if (cur_prev) memcpy(tape->ck_cur + j, cur_prev, sizeof(double) * (size_t)n);
    }
    double *rec = tape->recept + (size_t)t * n_orn;
    /* sensing at the pose before the step (MODEL §3) */
    if (hook) {
      double left[2], right[2];
      hook->sensors(hook->ctx, left, right);
      env_sense_points(&m->env, left, right, tape->conc + 2 * t, rec);
    } else
      env_sense(&m->env, pp, psi_prev, tape->conc + 2 * t, rec);
    if (tape->orn_in) adapt_forward(m, t, rec, w->adapt, tape->orn_in + (size_t)t * n_orn); /* ORN adaptation (readout.c) */
    PetscCall(circuit_step(m, p, d, &k, orn_input(m, tape, t), t ? cur_prev : NULL, decayed, apl_row(tape, t - 1), apl_row(tape, t), w->vp, cur,
                           cur_next, v, s, w));
    decayed = cur_next != NULL;
    /* statistics over the neurons that spiked (s != 0), not over all of them */
    for (int l = 0; l < DMN_NLAYER; l++) {
      const int o = m->layer_off[l], *act = w->active + o;
      for (int a = 0; a < w->n_active[l]; a++)
        tape->rate_hz[o + act[a]] += s[o + act[a]];
    }
    if (tape->s_bits) {
      uint64_t *bits = tape->s_bits + (size_t)t * (size_t)tape->s_words;
      memset(bits, 0, sizeof(uint64_t) * (size_t)tape->s_words);
      for (int l = 0; l < DMN_NLAYER; l++) {
        const int o = m->layer_off[l], *act = w->active + o;
        for (int a = 0; a < w->n_active[l]; a++) {
          const int i = o + act[a];
          bits[i >> 6] |= (uint64_t)(s[i] > 0.5) << (i & 63);
        }
      }
    }
    if (t < n_win * win) {
      int wi = t / win;
      const int *act = w->active + o_kc;
      for (int a = 0; a < w->n_active[DMN_L_KC]; a++) {
        const int i = o_kc + act[a];
        if (s[i] > 0.5 && last[i] != wi) {
          last[i] = wi;
          kc_count++;
        }
      }
      if (t % win == win - 1) {
        kc_active += n_kc ? (double)kc_count / n_kc : 0.0;
        kc_count = 0;
      }
    }
    if (tape->compact) {
      size_t row = (size_t)t * n;
      for (int i = 0; i < n; i++) {
        tape->v32[row + i] = (float)v[i];
        tape->cur32[row + i] = (float)cur[i];
        tape->s8[row + i] = (uint8_t)(s[i] != 0.0);
      }
    }
    if (in_rows) {
      double *tmp = w->row_cur; /* this step's I is the next step's I[t-1], kept in double */
      w->row_cur = w->row_cur1;
      w->row_cur1 = tmp;
    }
    /* motor (MODEL §4): q = a_q q + (1 - a_q) s_DN / dt;  d = tanh(M q + m) */
    double *q = tape->q + (size_t)t * n_dn, *dr = tape->drive + 2 * t;
    motor_forward(m, p, w->q_prev, s + m->layer_off[DMN_L_DN], q, dr);
    memcpy(w->q_prev, q, sizeof(double) * (size_t)n_dn);
    /* body (MODEL §5) */
    if (hook) {
      BodyStep *bs = &tape->body[t];
      memset(bs, 0, sizeof *bs);
      if (hook->step(hook->ctx, t, dr, bs->p, &bs->psi, err, DMN_ERR_MAX)) PetscFunctionReturn(PETSC_ERR_LIB);
    } else {
      const double *r_prev = t ? tape->body[t - 1].r : tape->r_init;
      body_step(&m->body, t, dr, r_prev, pp, psi_prev, &tape->body[t]);
    }
    loss_path_step(m, &acc, t, tape->body[t].p, pp, dr);
  }

  /* rates nu_i = 1000 / (T dt) sum_t s_i[t] (Hz) */
  double hz = 1000.0 / (T * m->dt);
  for (int i = 0; i < n; i++)
    tape->rate_hz[i] *= hz;

  DmnLoss *L = &tape->loss;
  DmnMetrics *M = &tape->metrics;
  memset(L, 0, sizeof(*L));
  loss_path_finish(m, &acc, tape->body[T - 1].p, L, M);
  loss_rate_terms(m, tape->rate_hz, L, w->d_nu);
  L->total = L->nav + L->energy + L->sparse + L->rate + L->silent + L->end;
  for (int l = 0; l < DMN_NLAYER; l++) {
    double sum = 0.0;
    for (int i = m->layer_off[l]; i < m->layer_off[l + 1]; i++)
      sum += tape->rate_hz[i];
    M->rate_hz[l] = m->n[l] ? sum / m->n[l] : 0.0;
  }
  M->kc_active_fraction = n_win ? kc_active / n_win : 0.0;

  if (!isfinite(L->total)) {
    /* Find where it went wrong, only on failure (no cost on the normal path);
     * a checkpointed tape holds the neuron rows of its last segment only. */
    for (int t = 0; t < T; t++) {
      int held = tape->compact || tape->rows == T || t >= T - tape->rows;
      for (int l = 0; l < DMN_NLAYER && held; l++)
        for (int i = m->layer_off[l]; i < m->layer_off[l + 1]; i++)
          if (tape->compact ? !isfinite(tape->v32[(size_t)t * n + i]) || !isfinite(tape->cur32[(size_t)t * n + i])
                            : !isfinite(tape->v[tape_row(tape, t) + i]) || !isfinite(tape->cur[tape_row(tape, t) + i])) {
            snprintf(err, DMN_ERR_MAX, "non-finite membrane state in layer %s (neuron %d) at step %d of the episode",
                     dmn_layer_names[l], i - m->layer_off[l], t);
            PetscFunctionReturn(PETSC_ERR_FP);
          }
      if (!isfinite(tape->body[t].p[0]) || !isfinite(tape->body[t].p[1]) || !isfinite(tape->body[t].psi)) {
        snprintf(err, DMN_ERR_MAX, "non-finite body pose at step %d of the episode", t);
        PetscFunctionReturn(PETSC_ERR_FP);
      }
    }
    snprintf(err, DMN_ERR_MAX, "non-finite loss (nav %g, energy %g, sparse %g, rate %g, silent %g, end %g)", L->nav, L->energy, L->sparse,
             L->rate, L->silent, L->end);
    PetscFunctionReturn(PETSC_ERR_FP);
  }
  PetscFunctionReturn(0);
}

/* Adjoint carries of the body and motor chain between steps of the backward
 * pass: feet, position and heading after step t, and the filtered DN rates. */
typedef struct BodyCarry {
  double d_r[2 * DMN_LEGS], d_p[2], d_psi;
} BodyCarry;

/* Everything above the circuit at step t of the backward pass: the distance
 * and drive terms of the loss, the body, the motor read-out.  Writes the
 * whole row ds_row = dL/ds[t] that does not come through synapses (the rate
 * terms of every neuron, the motor read-out's for the DNs) and moves the
 * carries to step t-1 — except through sensing, which the caller adds
 * (d_p_prev, d_psi_prev are those carries before sensing). */
static void top_backward(const DmnModel *m, const DmnParams *p, const DmnTape *tape, int t, int t_end, BodyCarry *c, DmnWork *w,
                         DmnParams *g, double *ds_row, double d_p_prev[2], double *d_psi_prev) {
  const int T = m->T, n = m->n_neuron, n_dn = m->n[DMN_L_DN];
  const double hz = 1000.0 / (T * m->dt);
  const double *dr = tape->drive + 2 * t;

  /* loss: the distance terms' adjoint at the pose after step t */
  loss_path_pose_backward(m, tape->p0, t, t_end, tape->body[t].p, c->d_p);

  /* body */
  double d_d[2] = {0, 0}, d_r_prev[2 * DMN_LEGS] = {0};
  const double *r_prev = t ? tape->body[t - 1].r : tape->r_init;
  body_step_backward(&m->body, t, dr, r_prev, &tape->body[t], c->d_r, c->d_psi, c->d_p, d_d, d_r_prev, d_p_prev, d_psi_prev);
  memcpy(c->d_r, d_r_prev, sizeof d_r_prev);

  /* loss: the drive term's adjoint */
  loss_path_drive_backward(m, dr, d_d);

  /* motor: d = tanh(M q + m);  q = a_q q_prev + (1 - a_q) s_DN / dt */
  const double *q = tape->q + (size_t)t * n_dn;
  for (int i = 0; i < n; i++)
    ds_row[i] = w->d_nu[i] * hz; /* rate terms: d nu / d s[t] = hz */
  motor_backward(m, p, q, dr, d_d, w->d_q, ds_row + m->layer_off[DMN_L_DN], g);
}

/* LIF backward of layer l at step t (v, s, cur: this step's rows; v_prev,
 * s_prev: the previous step's, NULL at a segment's first step, where the
 * checkpoint ck_vp holds the post-reset potential, or at t = 0). */
static void layer_backward(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const SnnConst *k, int l, int t, const double *ck_vp,
                           const double *v, const double *s, const double *cur, const double *v_prev, const double *s_prev,
                           const double *ds_row, double *dx_row, DmnWork *w, DmnParams *g) {
  const int o = m->layer_off[l], nl = m->n[l];
  if (v_prev && snn_lif_backward_fast(k, m->conn.silenced[l])) {
    /* the training case: the previous post-reset potential is computed inside the sweep */
    snn_lif_backward_from_prev(k, nl, d->a + o, d->da_drho + o, p->theta + o, p->bias + o, v + o, cur + o, v_prev + o, s_prev + o, ds_row + o,
                               w->g_vp + o, w->g_i + o, dx_row + o, g->theta + o, g->bias + o, g->rho + o);
    return;
  }
  if (v_prev) {
    const double *v1 = v_prev + o, *s1 = s_prev + o;
    for (int i = 0; i < nl; i++)
      w->vp_prev[o + i] = snn_post_reset(k, v1[i], s1[i]);
  } else if (t) { /* first step of a checkpointed segment: the checkpoint holds it */
    memcpy(w->vp_prev + o, ck_vp + o, sizeof(double) * (size_t)nl);
  } else {
    for (int i = 0; i < nl; i++)
      w->vp_prev[o + i] = m->v_rest;
  }
  snn_lif_backward(k, nl, d->a + o, d->da_drho + o, p->theta + o, p->bias + o, m->conn.silenced[l], v + o, s + o, cur + o, w->vp_prev + o,
                   ds_row + o, w->g_vp + o, w->g_i + o, dx_row + o, g->theta + o, g->bias + o, g->rho + o);
}

/* Layer l's carried adjoints finite?  (Exploding gradients, MODEL §8.) */
static int layer_carries_finite(const DmnModel *m, const DmnWork *w, int l) {
  double sum = 0.0;
  for (int i = m->layer_off[l]; i < m->layer_off[l + 1]; i++)
    sum += w->g_vp[i] + w->g_i[i];
  return isfinite(sum);
}

static void exploded(const DmnModel *m, int t, const char *where, char err[DMN_ERR_MAX]) {
  snprintf(err, DMN_ERR_MAX,
           "non-finite gradient in the backward pass at step %d of %d (%s): it exploded through the closed loop; use "
           "grad.sensory_feedback detach or a shorter window, or a smaller circuit.surrogate_gamma (MODEL §8)",
           t, m->T, where);
}

/* Tape rows of step t and of the step before (prev NULL where the caller
 * must take the previous post-reset potential from the checkpoint or V_rest). */
static void tape_rows(const DmnTape *tape, DmnWork *w, int t, int t0, int checkpointed, const double **v, const double **s, const double **cur,
                      const double **v_prev, const double **s_prev) {
  *v_prev = *s_prev = NULL;
  if (tape->compact) {
    tape_load_row(tape, t, w->row_v, w->row_s, w->row_cur);
    if (t) tape_load_row(tape, t - 1, w->row_v1, w->row_s1, NULL);
    *v = w->row_v, *s = w->row_s, *cur = w->row_cur;
    if (t) *v_prev = w->row_v1, *s_prev = w->row_s1;
  } else {
    *v = tape->v + tape_row(tape, t), *s = tape->s + tape_row(tape, t), *cur = tape->cur + tape_row(tape, t);
    if (t > t0 || (t && !checkpointed)) *v_prev = tape->v + tape_row(tape, t - 1), *s_prev = tape->s + tape_row(tape, t - 1);
  }
}

/* The neurons of layer l that spiked at step t (s_row: the step's spikes),
 * for the weight gradients: kept by the checkpointed segment's
 * recomputation, else found again (into w->active). */
static int spike_list(const DmnModel *m, const DmnTape *tape, DmnWork *w, int t, int l, const double *s_row, const int **act) {
  const int o = m->layer_off[l];
  if (tape->seg_act) {
    const int r = t % tape->rows; /* the row within the segment, as tape_row */
    *act = tape->seg_act + (size_t)r * (size_t)m->n_neuron + o;
    return tape->seg_n_act[r * DMN_NLAYER + l];
  }
  *act = w->active + o;
  return snn_active(m->n[l], s_row + o, w->active + o);
}

/* Steps [b0, b1) of a segment with sensing detached, layer by layer: first
 * the body and motor chain for every step of the block (it does not depend
 * on the circuit when the sensed odor is a given), then each layer, top
 * first, over all the block's steps, then the projections into it over all
 * the steps.  Every sum gets the same terms in the same order as the
 * step-by-step loop (each dL/ds[t] still receives the rate term, then the
 * layers above in the same order; each gradient entry still sums its steps
 * last first), so the bits are the same — test_grad checks it (and
 * test_kernels each block kernel). */
static PetscErrorCode block_backward(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const SnnConst *k, const DmnTape *tape, int b0,
                                     int b1, int t0, const double *ck_vp, int t_end, BodyCarry *c, DmnWork *w, DmnParams *g,
                                     char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  const int n = m->n_neuron, n_orn = m->n[DMN_L_ORN];
  for (int t = b1 - 1; t >= b0; t--) {
    double d_p_prev[2], d_psi_prev;
    top_backward(m, p, tape, t, t_end, c, w, g, w->blk_ds + (size_t)(t - b0) * n, d_p_prev, &d_psi_prev);
    c->d_p[0] = d_p_prev[0];
    c->d_p[1] = d_p_prev[1];
    c->d_psi = d_psi_prev;
    if (!isfinite(c->d_p[0] + c->d_p[1] + c->d_psi)) {
      exploded(m, t, "body pose", err);
      PetscFunctionReturn(PETSC_ERR_FP);
    }
  }
  for (int l = DMN_NLAYER - 1; l >= 0; l--) {
    for (int t = b1 - 1; t >= b0; t--) {
      const double *v, *s, *cur, *v_prev, *s_prev;
      tape_rows(tape, w, t, t0, ck_vp != NULL, &v, &s, &cur, &v_prev, &s_prev);
      double *ds_t = w->blk_ds + (size_t)(t - b0) * n, *dx_t = w->blk_dx + (size_t)(t - b0) * n;
      const int apl = l == DMN_L_KC && m->apl;
      if (apl) apl_backward_spikes(m, d, s, ds_t, w, g);
      layer_backward(m, p, d, k, l, t, ck_vp, v, s, cur, v_prev, s_prev, ds_t, dx_t, w, g);
      if (apl) apl_backward_input(m, d, tape, t, dx_t, w, g);
    }
    if (!layer_carries_finite(m, w, l)) {
      exploded(m, b0, dmn_layer_names[l], err);
      PetscFunctionReturn(PETSC_ERR_FP);
    }
    for (int j = 0; j < 2; j++) {
      const int q = layer_inputs[l][j];
      if (q < 0) continue;
      const DmnProjection *pr = &m->conn.proj[q];
      const int pre = pr->pre, o = m->layer_off[pre];
      const int steps = (d->mat[q] && m->petsc_backward) ? 0 : b1 - b0;
      if (steps && pr->rows_contiguous) {
        /* rows over ranges of presynaptic neurons (KC->MBON): axpys along
         * the rows for the whole block, each weight read once per block */
        snn_project_backward_rows_steps(pr, d->w[q], steps, w->blk_dx + m->layer_off[pr->post], w->blk_ds + o, (size_t)n);
      } else if (steps) {
        /* the transpose gathers (PN->KC) for the whole block: d_x of the
         * postsynaptic layer transposed so each synapse feeds every step
         * with vector operations; only the weight gradients remain per step */
        const int op = m->layer_off[pr->post], np = m->n[pr->post];
        for (int i = 0; i < np; i++) /* written in order; the block's rows are read in step with each other */
          for (int t = 0; t < steps; t++)
            w->blk_dyT[(size_t)i * steps + t] = w->blk_dx[(size_t)t * n + op + i];
        snn_project_backward_steps(pr, d->w_t[q], steps, w->blk_dyT, w->blk_ds + o, (size_t)n);
      }
      if (steps && pr->rows_contiguous && tape->seg_act) {
        /* the block's spike lists (kept by the recomputation), then the weight gradients row by row */
        const double *xs[DMN_BACKWARD_BLOCK];
        const int *acts[DMN_BACKWARD_BLOCK];
        int n_acts[DMN_BACKWARD_BLOCK];
        for (int t = b0; t < b1; t++) {
          const double *s = tape->s + tape_row(tape, t);
          xs[t - b0] = s + o;
          n_acts[t - b0] = spike_list(m, tape, w, t, pre, s, &acts[t - b0]);
        }
        snn_project_weight_grad_rows_steps(pr, d->dw_du[q], steps, xs, acts, n_acts, w->blk_dx + m->layer_off[pr->post], (size_t)n,
                                           params_group(g, m, DMN_G_orn_to_pn + q));
        continue;
      }
      for (int t = b1 - 1; t >= b0; t--) {
        const double *s = tape->s + tape_row(tape, t);
        const int *act;
        const int n_act = spike_list(m, tape, w, t, pre, s, &act);
        double *dx_t = w->blk_dx + (size_t)(t - b0) * n, *ds_t = w->blk_ds + (size_t)(t - b0) * n;
        if (steps)
          snn_project_weight_grad(pr, d->dw_du[q], s + o, act, n_act, dx_t + m->layer_off[pr->post], params_group(g, m, DMN_G_orn_to_pn + q));
        else
          PetscCall(project_back(m, d, q, s, act, n_act, dx_t, ds_t, g));
      }
    }
  }
  /* receptors -> ORN: x = g_i r_i, or g_i (r_i - k A_i) with adaptation (no further: the sensed odor is a given) */
  for (int t = b1 - 1; t >= b0; t--) {
    const double *rec = orn_input(m, tape, t), *dx_orn = w->blk_dx + (size_t)(t - b0) * n + m->layer_off[DMN_L_ORN];
    for (int i = 0; i < n_orn; i++)
      g->orn_gain[i] += dx_orn[i] * rec[i];
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode backward_impl(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const DmnTape *tape, DmnWork *w,
                                    DmnParams *g, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  const int T = m->T, n = m->n_neuron, n_orn = m->n[DMN_L_ORN], n_dn = m->n[DMN_L_DN];
  const SnnConst k = snn_const(m);
  const int t_end = T - loss_end_steps(m);
  /* carries: adjoints of the state after step t, flowing to step t-1 */
  memset(w->g_vp, 0, sizeof(double) * (size_t)n);
  memset(w->g_i, 0, sizeof(double) * (size_t)n);
  memset(w->d_q, 0, sizeof(double) * (size_t)n_dn);
  memset(w->d_adapt, 0, sizeof(double) * (size_t)n_orn);
  memset(w->d_apl, 0, sizeof w->d_apl);
  BodyCarry c;
  memset(&c, 0, sizeof c);
  w->n_blocks = 0;
  const int sense_from = m->feedback == DMN_FEEDBACK_FULL ? 0 : (m->feedback == DMN_FEEDBACK_WINDOW ? T - m->window : T);
  /* Where the sensed odor is a given (every step with detach, the steps
   * before the window with grad.sensory_feedback: window) nothing flows from
   * the circuit back into the body: those steps go layer by layer in blocks
   * (the full tape in double: a compact one converts rows step by step).
   * The steps after them go step by step first — the carries are the same
   * variables, every sum keeps its order, so the bits are those of going
   * step by step throughout. */
  const int can_block = !tape->compact && !m->backward_by_step;

  /* Segments of K steps, last first.  Without checkpoints there is one
   * segment holding every step; with grad.checkpoint = K each segment's
   * neuron rows are first recomputed from its checkpoint, bit for bit as
   * the forward pass computed them (circuit_step). */
  const int K = tape->rows, n_seg = (T + K - 1) / K;
  for (int seg = n_seg - 1; seg >= 0; seg--) {
    const int t0 = seg * K, t1 = t0 + K < T ? t0 + K : T;
    const double *ck_vp = tape->ck_vp ? tape->ck_vp + (size_t)seg * n : NULL;
    if (tape->ck_vp) {
      PetscCall(PetscLogEventBegin(DMN_EV_RECOMPUTE, 0, 0, 0, 0));
      memcpy(w->vp, ck_vp, sizeof(double) * (size_t)n);
      for (int t = t0; t < t1; t++) {
        const double *cur_prev = t == t0 ? (t ? tape->ck_cur + (size_t)seg * n : NULL) : tape->cur + tape_row(tape, t - 1);
        PetscCall(circuit_step(m, p, d, &k, orn_input(m, tape, t), cur_prev, t > t0, apl_row(tape, t - 1), apl_row(tape, t), w->vp,
                               tape->cur + tape_row(tape, t),
                               t + 1 < t1 ? tape->cur + tape_row(tape, t + 1) : NULL, tape->v + tape_row(tape, t), tape->s + tape_row(tape, t), w));
        for (int l = 0; l < DMN_NLAYER; l++) { /* keep the step's spike lists for the backward (spike_list) */
          const int r = t - t0;
          memcpy(tape->seg_act + (size_t)r * n + m->layer_off[l], w->active + m->layer_off[l], sizeof(int) * (size_t)w->n_active[l]);
          tape->seg_n_act[r * DMN_NLAYER + l] = w->n_active[l];
        }
      }
      PetscCall(PetscLogEventEnd(DMN_EV_RECOMPUTE, 0, 0, 0, 0));
    }
    /* steps [t0, tb) in blocks, [tb, t1) step by step */
    const int tb = !can_block ? t0 : (sense_from < t0 ? t0 : (sense_from > t1 ? t1 : sense_from));
    for (int t = t1 - 1; t >= tb; t--) {
      const double *v, *s, *cur, *v_prev, *s_prev; /* this step and the one before */
      tape_rows(tape, w, t, t0, ck_vp != NULL, &v, &s, &cur, &v_prev, &s_prev);
      const double *pp = t ? tape->body[t - 1].p : tape->p0;
      double psi_prev = t ? tape->body[t - 1].psi : tape->psi0;

      double d_p_prev[2], d_psi_prev;
      top_backward(m, p, tape, t, t_end, &c, w, g, w->d_s, d_p_prev, &d_psi_prev);

      /* circuit, top layer first: each layer's d_s is complete once the layers above are done */
      for (int l = DMN_NLAYER - 1; l >= 0; l--) {
        const int apl = l == DMN_L_KC && m->apl;
        if (apl) apl_backward_spikes(m, d, s, w->d_s, w, g);
        layer_backward(m, p, d, &k, l, t, ck_vp, v, s, cur, v_prev, s_prev, w->d_s, w->d_x, w, g);
        if (apl) apl_backward_input(m, d, tape, t, w->d_x, w, g);
        for (int j = 0; j < 2; j++)
          if (layer_inputs[l][j] >= 0) {
            const int *act;
            const int n_act = spike_list(m, tape, w, t, m->conn.proj[layer_inputs[l][j]].pre, s, &act);
            PetscCall(project_back(m, d, layer_inputs[l][j], s, act, n_act, w->d_x, w->d_s, g));
          }
      }

      /* receptors -> ORN: x = g_i r_i (or g_i (r_i - k A_i), below) */
      const double *rec = tape->recept + (size_t)t * n_orn, *in = orn_input(m, tape, t), *dx_orn = w->d_x + m->layer_off[DMN_L_ORN];
      for (int i = 0; i < n_orn; i++) {
        g->orn_gain[i] += dx_orn[i] * in[i];
        w->d_recept[i] = dx_orn[i] * p->orn_gain[i];
      }
      if (tape->orn_in) adapt_backward(m, t, w->d_recept, w->d_adapt);
      /* sensing: through the pose only where grad.sensory_feedback allows (MODEL §8) */
      if (t >= sense_from) env_sense_backward(&m->env, pp, psi_prev, tape->conc + 2 * t, rec, w->d_recept, d_p_prev, &d_psi_prev);

      c.d_p[0] = d_p_prev[0];
      c.d_p[1] = d_p_prev[1];
      c.d_psi = d_psi_prev;

      /* Exploding gradients (MODEL §8) are caught where they happen: the pose
       * adjoint every step, the neurons' carried adjoints every 16 steps. */
      int bad_pose = !isfinite(c.d_p[0] + c.d_p[1] + c.d_psi);
      if (bad_pose || (t & 15) == 0) {
        const char *where = bad_pose ? "body pose" : NULL;
        for (int l = 0; l < DMN_NLAYER && !where; l++)
          if (!layer_carries_finite(m, w, l)) where = dmn_layer_names[l];
        if (where) {
          exploded(m, t, where, err);
          PetscFunctionReturn(PETSC_ERR_FP);
        }
      }
    }
    for (int b1 = tb; b1 > t0; b1 -= tape->block) {
      const int b0 = b1 - tape->block > t0 ? b1 - tape->block : t0;
      PetscCall(block_backward(m, p, d, &k, tape, b0, b1, t0, ck_vp, t_end, &c, w, g, err));
      w->n_blocks++;
    }
  } /* segments */
  /* feet at t = -1 depend on the motor bias through d[-1] = tanh(m) */
  double d_dinit[2] = {0, 0};
  body_feet_backward(&m->body, -1, tape->d_init, c.d_r, d_dinit);
  for (int side = 0; side < 2; side++)
    g->motor_b[side] += d_dinit[side] * (1.0 - tape->d_init[side] * tape->d_init[side]);

  for (size_t i = 0; i < g->n; i++)
    if (!isfinite(g->data[i])) {
      char where[128];
      params_locate(m, i, where, sizeof where);
      snprintf(err, DMN_ERR_MAX, "non-finite gradient at %s (backward pass); lower the learning rate or shorten grad.window",
               where);
      PetscFunctionReturn(PETSC_ERR_FP);
    }
  PetscFunctionReturn(0);
}

PetscErrorCode episode_forward(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const double p0[2], double psi0,
                               DmnTape *tape, DmnWork *w, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(DMN_EV_FORWARD, 0, 0, 0, 0));
  PetscErrorCode rc = forward_impl(m, p, d, p0, psi0, NULL, tape, w, err);
  PetscCall(PetscLogEventEnd(DMN_EV_FORWARD, 0, 0, 0, 0));
  PetscFunctionReturn(rc); /* PETSC_ERR_FP with err set: the caller reports it */
}

PetscErrorCode episode_forward_body(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const double p0[2], double psi0,
                                    const DmnBodyHook *body, DmnTape *tape, DmnWork *w, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(DMN_EV_FORWARD, 0, 0, 0, 0));
  PetscErrorCode rc = forward_impl(m, p, d, p0, psi0, body, tape, w, err);
  PetscCall(PetscLogEventEnd(DMN_EV_FORWARD, 0, 0, 0, 0));
  PetscFunctionReturn(rc);
}

PetscErrorCode episode_backward(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const DmnTape *tape, DmnWork *w,
                                DmnParams *g, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(DMN_EV_BACKWARD, 0, 0, 0, 0));
  PetscErrorCode rc = backward_impl(m, p, d, tape, w, g, err);
  PetscCall(PetscLogEventEnd(DMN_EV_BACKWARD, 0, 0, 0, 0));
  PetscFunctionReturn(rc);
}
