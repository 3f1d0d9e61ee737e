/* episode — one closed-loop episode: odor -> receptors -> ORN -> PN -> KC ->
 * MBON -> DN -> drive -> legs -> pose -> odor, recorded on a tape, and the
 * reverse sweep (BPTT) that turns the loss into dL/dtheta for every
 * parameter.  Nothing here allocates once the tape and workspace exist. */
#ifndef DMN_EPISODE_H
#define DMN_EPISODE_H

#include <stdint.h>

#include "apl.h"
#include "body.h"
#include "loss.h"
#include "model.h"
#include "snn.h"

typedef struct DmnTape {
  int T, n_neuron;
  int compact;    /* grad.tape: compact -> v32, cur32, s8 instead of v, cur, s */
  int rows;       /* rows of v, s, cur: T, or K with grad.checkpoint = K (step t in row t % K) */
  int block;      /* steps per block of the layer-by-layer backward: DMN_BACKWARD_BLOCK, or half of it for short segments */
  double *v;      /* (rows x n_neuron) membrane potential, mV */
  double *s;      /* (rows x n_neuron) spikes (0/1; real in smooth mode) */
  double *cur;    /* (rows x n_neuron) synaptic current I, mV */
  double *ck_vp, *ck_cur; /* (ceil(T/K) x n_neuron) checkpoints: post-reset V and I before step j*K */
  float *v32, *cur32; /* (T x n_neuron) the same, rounded to float (compact tape) */
  uint8_t *s8;    /* (T x n_neuron) spikes 0/1 (compact tape) */
  uint64_t *s_bits; /* (T x s_words) checkpointed tape: spikes (s > 0.5) as bits, neuron i in word i/64 (records read them) */
  int s_words;
  double *recept; /* (T x n_orn) receptor responses */
  double *orn_in; /* (T x n_orn) with ORN adaptation: the adapted signal r - k A the ORNs get (NULL without: recept) */
  /* checkpointed: the spike lists of the segment being recomputed (row r =
   * step t0 + r: layer l's list at seg_act + r*n_neuron + layer_off[l], its
   * length at seg_n_act[r*DMN_NLAYER + l]), so the backward need not find
   * the spikes again */
  int *seg_act, *seg_n_act;
  double *conc;   /* (T x 2) odor at the left / right antenna */
  double *apl;    /* (T x DMN_N_APL) APL depolarisation z, left / right (NULL without APL) */
  double *q;      /* (T x n_dn) filtered DN rate, spikes/ms */
  double *drive;  /* (T x 2) descending drive d = tanh(M q + m) */
  BodyStep *body; /* (T) feet, velocities, pose after each step */
  double r_init[2 * DMN_LEGS], d_init[2]; /* feet and drive at t = -1 */
  double p0[2], psi0;                     /* start pose */
  double *rate_hz;                        /* (n_neuron) episode rates */
  DmnLoss loss;
  DmnMetrics metrics;
} DmnTape;

/* Per-episode scratch for the forward state and the adjoint carries. */
typedef struct DmnWork {
  double *vp, *vp_prev, *g_vp, *g_i, *d_s, *d_x, *d_nu, *d_recept, *d_q, *q_prev;
  double *adapt, *d_adapt; /* (n_orn) ORN adaptation state A and its adjoint carry */
  double d_apl[DMN_N_APL]; /* adjoint carry of the APL state z */
  /* (n_neuron) one step of V, s, I (and the step before) in double, for a compact tape */
  double *row_v, *row_s, *row_cur, *row_v1, *row_s1, *row_cur1;
  /* (n_neuron) the neurons of each layer with s != 0 at the current step,
   * layer l's at active + layer_off[l] (indices within the layer), n_active[l] of them */
  int *active;
  int n_active[DMN_NLAYER];
  /* (DMN_BACKWARD_BLOCK x n_neuron) dL/ds and dL/dx of a block of steps,
   * row b for step b0 + b: the layer-by-layer backward (detached sensing) */
  double *blk_ds, *blk_dx;
  double *blk_dyT; /* (DMN_BACKWARD_BLOCK x n_neuron) a layer's block of dL/dx transposed, step-contiguous */
  long n_blocks; /* blocks the last backward pass took layer by layer (0: it went step by step) */
} DmnWork;

/* Steps the backward pass takes layer by layer at a time when sensing is
 * detached: each projection's weights and index are then read once per
 * block instead of once per step. */
#define DMN_BACKWARD_BLOCK SNN_STEPS

/* The segment length K of checkpointed BPTT when grad.checkpoint is -1. */
long tape_auto_segment(const DmnModel *m);

/* Spike of neuron i at step `step`, whatever the tape's storage (a full
 * tape gives s itself, real-valued in smooth mode). */
static inline double tape_spike(const DmnTape *t, int step, int i) {
  if (t->s_bits) return (double)((t->s_bits[(size_t)step * (size_t)t->s_words + (size_t)(i >> 6)] >> (i & 63)) & 1u);
  size_t idx = (size_t)step * (size_t)t->n_neuron + (size_t)i;
  return t->s8 ? (double)t->s8[idx] : t->s[idx];
}
/* Offset of step t's row in v, s, cur. */
static inline size_t tape_row(const DmnTape *t, int step) { return (size_t)(step % t->rows) * (size_t)t->n_neuron; }

/* PETSc log events (-log_view shows where the time goes): the forward
 * pass, the backward pass, the recomputation of checkpointed segments inside
 * it, and in train.c the gradient allreduce, checkpoints and evaluation. */
extern PetscLogEvent DMN_EV_FORWARD, DMN_EV_BACKWARD, DMN_EV_RECOMPUTE, DMN_EV_ALLREDUCE, DMN_EV_CHECKPOINT, DMN_EV_EVALUATE;
PetscErrorCode episode_register_events(void);

void tape_alloc(const DmnModel *m, DmnTape *t);
void tape_free(DmnTape *t);
void work_alloc(const DmnModel *m, DmnWork *w);
void work_free(DmnWork *w);

/* Start pose of an episode: on the start circle around the source, uniform
 * heading, from the counter-based stream (seed, stream, individual, episode). */
void episode_start_pose(const DmnModel *m, int stream, long individual, long episode, double p0[2], double *psi0);
/* The same with the range of start radii narrowed to `width` (0..1) of its
 * extent around its middle (train.curriculum); width 1: episode_start_pose. */
void episode_start_pose_width(const DmnModel *m, int stream, long individual, long episode, double width, double p0[2], double *psi0);

/* Forward: runs T steps from (p0, psi0) with derived weights d.  Fills the
 * tape, tape->loss and tape->metrics.  A non-finite value stops with a
 * message naming layer and step (returns PETSC_ERR_FP). */
PetscErrorCode episode_forward(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const double p0[2], double psi0,
                               DmnTape *tape, DmnWork *w, char err[DMN_ERR_MAX]);

/* A body other than MODEL §5's, run forward only (body.kind neuromechfly:
 * src/nmf.c, driven by run_nmf.c).  The caller puts it at the start pose;
 * before each step the episode asks where its two odor sensors are, after
 * the circuit it hands over the step's drive and gets the pose back.  The
 * tape's body rows then hold the pose only (feet and velocities zero). */
typedef struct DmnBodyHook {
  void *ctx;
  void (*sensors)(void *ctx, double left[2], double right[2]);
  /* nonzero: the body cannot go on (err says why; the episode stops) */
  int (*step)(void *ctx, int t, const double drive[2], double p[2], double *psi, char *err, size_t n_err);
} DmnBodyHook;

PetscErrorCode episode_forward_body(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const double p0[2], double psi0,
                                    const DmnBodyHook *body, DmnTape *tape, DmnWork *w, char err[DMN_ERR_MAX]);

/* Backward: adds dL/dparams into g (caller zeroes). */
PetscErrorCode episode_backward(const DmnModel *m, const DmnParams *p, const DmnDerived *d, const DmnTape *tape, DmnWork *w,
                                DmnParams *g, char err[DMN_ERR_MAX]);

#endif
