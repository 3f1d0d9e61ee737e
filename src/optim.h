/* optim — Adam with one learning rate per parameter group (MODEL §7) and
 * overflow-safe global-norm clipping.  Parameters, gradients and both Adam
 * moments share the DmnParams layout, so every update is one loop. */
#ifndef DMN_OPTIM_H
#define DMN_OPTIM_H

#include "model.h"

typedef struct DmnAdam {
  DmnParams m, v;          /* first / second moments, same layout as the parameters */
  long step;               /* updates applied */
  double lr[DMN_NGROUP];   /* 0 = group frozen */
  double beta1, beta2, eps;
} DmnAdam;

void optim_adam_init(const DmnModel *model, DmnAdam *a);
/* Per-group learning rates of the model's config (lr_<group>, -1 = train.lr). */
void optim_adam_rates(const DmnModel *model, double lr[DMN_NGROUP]);
void optim_adam_free(DmnAdam *a);

/* Per-group and global gradient norms (overflow-safe). */
double optim_grad_norms(const DmnModel *model, const DmnParams *g, double group_norm[DMN_NGROUP]);

/* Scale g so that its global norm is at most clip (clip <= 0: off).
 * Returns the factor applied (1 if none). */
double optim_clip(DmnParams *g, double norm, double clip);

/* One Adam step: p -= lr_factor * lr_g * mhat / (sqrt(vhat) + eps). */
void optim_adam_step(const DmnModel *model, DmnAdam *a, DmnParams *p, const DmnParams *g, double lr_factor);

/* train.lr_schedule's factor at 0-based update `update` of n_updates (1 for
 * constant; cosine from 1 down to train.lr_final at the last update).  The
 * schedule follows the current train.episodes, so a run resumed with more
 * episodes stretches the rest of its schedule. */
double optim_lr_factor(const DmnConfig *c, long update, long n_updates);

#endif
