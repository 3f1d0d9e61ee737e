/* tape — the episode's memory: the tape of the forward pass (full,
 * compact or checkpointed: grad.tape, grad.checkpoint), the per-episode work
 * rows, and the start poses (episode.h).  Allocation happens here, once per
 * rank; nothing in episode.c allocates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "episode.h"
#include "util.h"

static double *zalloc(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

long tape_auto_segment(const DmnModel *m) {
  /* About sqrt(T) steps (memory O(sqrt T): T/K checkpoints + K rows), in
   * whole backward blocks (a segment's partial block takes the slower
   * generic kernels), and short enough that the rows a segment recomputes
   * (V, s, I: 24 B per neuron-step) are read back from cache, ~4 MB — a
   * half block (16 steps) at the least.  Measured: 2144 neurons 0.0527 s
   * (K = 71) -> 0.0497 (K = 64) backward; 8144 neurons 0.285 (71) -> 0.246
   * (32) -> 0.203 (16, half blocks). */
  const long B = DMN_BACKWARD_BLOCK, H = B / 2, n = m->n_neuron > 0 ? m->n_neuron : 1;
  long K = (lround(sqrt((double)m->T)) + H) / B * B;
  const long cap = (4L << 20) / (24L * n) / H * H;
  if (K > cap) K = cap;
  return K < H ? H : K;
}

/* Steps the layer-by-layer backward takes at once: a full block, or a half
 * one for segments shorter than a block or made of whole half blocks. */
static int tape_block(long K) {
  const long B = DMN_BACKWARD_BLOCK;
  return K > 0 && (K < B || (K % B != 0 && K % (B / 2) == 0)) ? (int)(B / 2) : (int)B;
}

void tape_alloc(const DmnModel *m, DmnTape *t) {
  memset(t, 0, sizeof(*t));
  size_t T = (size_t)m->T, n = (size_t)m->n_neuron;
  t->T = m->T;
  t->n_neuron = m->n_neuron;
  t->compact = m->cfg.grad_tape == DMN_TAPE_COMPACT;
  t->rows = m->T;
  /* checkpointed BPTT: K rows (grad.checkpoint, or chosen below); a compact tape stores every step */
  long K_cfg = m->cfg.grad_checkpoint < 0 ? tape_auto_segment(m) : m->cfg.grad_checkpoint;
  if (t->compact) K_cfg = 0;
  t->block = tape_block(K_cfg > 0 && K_cfg < m->T ? K_cfg : 0);
  if (K_cfg > 0 && K_cfg < m->T) {
    size_t K = (size_t)K_cfg, n_seg = (T + K - 1) / K;
    t->rows = (int)K;
    t->ck_vp = zalloc(n_seg * n);
    t->ck_cur = zalloc(n_seg * n);
    t->s_words = (int)((n + 63) / 64);
    t->s_bits = calloc(T * (size_t)t->s_words + 1, sizeof(uint64_t)); /* every spike still, for records and rasters (1 bit per neuron-step) */
    t->seg_act = calloc(K * n + 1, sizeof(int));
    t->seg_n_act = calloc(K * DMN_NLAYER, sizeof(int));
  }
  if (t->compact) {
    t->v32 = calloc(T * n + 1, sizeof(float));
    t->cur32 = calloc(T * n + 1, sizeof(float));
    t->s8 = calloc(T * n + 1, 1);
  } else {
    t->v = zalloc((size_t)t->rows * n);
    t->s = zalloc((size_t)t->rows * n);
    t->cur = zalloc((size_t)t->rows * n);
  }
  t->recept = zalloc(T * (size_t)m->n[DMN_L_ORN]);
  if (m->adapt > 0) t->orn_in = zalloc(T * (size_t)m->n[DMN_L_ORN]);
  t->conc = zalloc(T * 2);
  if (m->apl) t->apl = zalloc(T * DMN_N_APL);
  t->q = zalloc(T * (size_t)m->n[DMN_L_DN]);
  t->drive = zalloc(T * 2);
  t->body = calloc(T, sizeof(BodyStep));
  t->rate_hz = zalloc(n);
}

void tape_free(DmnTape *t) {
  free(t->v);
  free(t->s);
  free(t->cur);
  free(t->ck_vp);
  free(t->ck_cur);
  free(t->v32);
  free(t->cur32);
  free(t->s8);
  free(t->s_bits);
  free(t->recept);
  free(t->orn_in);
  free(t->seg_act);
  free(t->seg_n_act);
  free(t->conc);
  free(t->apl);
  free(t->q);
  free(t->drive);
  free(t->body);
  free(t->rate_hz);
  memset(t, 0, sizeof(*t));
}

void work_alloc(const DmnModel *m, DmnWork *w) {
  size_t n = (size_t)m->n_neuron;
  w->vp = zalloc(n);
  w->vp_prev = zalloc(n);
  w->g_vp = zalloc(n);
  w->g_i = zalloc(n);
  w->d_s = zalloc(n);
  w->d_x = zalloc(n);
  w->d_nu = zalloc(n);
  w->d_recept = zalloc((size_t)m->n[DMN_L_ORN]);
  w->adapt = zalloc((size_t)m->n[DMN_L_ORN]);
  w->d_adapt = zalloc((size_t)m->n[DMN_L_ORN]);
  w->d_q = zalloc((size_t)m->n[DMN_L_DN]);
  w->q_prev = zalloc((size_t)m->n[DMN_L_DN]);
  w->row_v = zalloc(n);
  w->row_s = zalloc(n);
  w->row_cur = zalloc(n);
  w->row_v1 = zalloc(n);
  w->row_s1 = zalloc(n);
  w->row_cur1 = zalloc(n);
  w->active = calloc(n + 1, sizeof(int));
  w->blk_ds = zalloc(n * DMN_BACKWARD_BLOCK);
  w->blk_dx = zalloc(n * DMN_BACKWARD_BLOCK);
  w->blk_dyT = zalloc(n * DMN_BACKWARD_BLOCK);
}

void work_free(DmnWork *w) {
  free(w->vp);
  free(w->vp_prev);
  free(w->g_vp);
  free(w->g_i);
  free(w->d_s);
  free(w->d_x);
  free(w->d_nu);
  free(w->d_recept);
  free(w->adapt);
  free(w->d_adapt);
  free(w->d_q);
  free(w->q_prev);
  free(w->row_v);
  free(w->row_s);
  free(w->row_cur);
  free(w->row_v1);
  free(w->row_s1);
  free(w->row_cur1);
  free(w->active);
  free(w->blk_ds);
  free(w->blk_dx);
  free(w->blk_dyT);
  memset(w, 0, sizeof(*w));
}

void episode_start_pose(const DmnModel *m, int stream, long individual, long episode, double p0[2], double *psi0) {
  episode_start_pose_width(m, stream, individual, episode, 1.0, p0, psi0);
}

void episode_start_pose_width(const DmnModel *m, int stream, long individual, long episode, double width, double p0[2], double *psi0) {
  DmnRng r = util_rng((uint64_t)m->cfg.sim_seed, (uint64_t)stream, (uint64_t)individual, (uint64_t)episode);
  double ang = 2.0 * M_PI * util_rng_uniform(&r);
  *psi0 = 2.0 * M_PI * util_rng_uniform(&r);
  double radius = m->cfg.arena_start_radius, r_max = m->cfg.arena_start_radius_max;
  if (r_max > radius) /* drawn third: a fixed radius keeps the v1 poses */
    radius = 0.5 * (radius + r_max) + width * (r_max - radius) * (util_rng_uniform(&r) - 0.5);
  p0[0] = m->env.src[0] + radius * cos(ang);
  p0[1] = m->env.src[1] + radius * sin(ang);
}

/* Compact tape: one step back to double (the forward kept full precision;
 * the backward reads V and I rounded to float, spikes exactly). */
