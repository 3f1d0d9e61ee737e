#include "optim.h"

#include <math.h>
#include <string.h>

#include "util.h"

void optim_adam_rates(const DmnModel *model, double lr_out[DMN_NGROUP]) {
  const DmnConfig *c = &model->cfg;
  /* train.lr_<group> for every group of the one table (a new group without its key fails to compile) */
#define DMN_GROUP_LR(name, doc) c->train_lr_##name,
  const double lr[DMN_NGROUP] = {DMN_PARAM_GROUPS(DMN_GROUP_LR)};
#undef DMN_GROUP_LR
  for (int k = 0; k < DMN_NGROUP; k++) lr_out[k] = lr[k] < 0 ? c->train_lr : lr[k];
}

void optim_adam_init(const DmnModel *model, DmnAdam *a) {
  const DmnConfig *c = &model->cfg;
  memset(a, 0, sizeof(*a));
  params_alloc(model, &a->m);
  params_alloc(model, &a->v);
  optim_adam_rates(model, a->lr);
  a->beta1 = c->train_beta1;
  a->beta2 = c->train_beta2;
  a->eps = c->train_adam_eps;
}

void optim_adam_free(DmnAdam *a) {
  params_free(&a->m);
  params_free(&a->v);
}

double optim_grad_norms(const DmnModel *model, const DmnParams *g, double group_norm[DMN_NGROUP]) {
  for (int k = 0; k < DMN_NGROUP; k++) group_norm[k] = util_norm2(params_group(g, model, k), model->group_n[k]);
  return util_norm2(group_norm, DMN_NGROUP);
}

double optim_clip(DmnParams *g, double norm, double clip) {
  if (clip <= 0 || !(norm > clip)) return 1.0;
  double f = clip / norm;
  for (size_t i = 0; i < g->n; i++) g->data[i] *= f;
  return f;
}

void optim_adam_step(const DmnModel *model, DmnAdam *a, DmnParams *p, const DmnParams *g, double lr_factor) {
  a->step++;
  const double b1 = a->beta1, b2 = a->beta2;
  const double c1 = 1.0 - pow(b1, (double)a->step), c2 = 1.0 - pow(b2, (double)a->step);
  for (int k = 0; k < DMN_NGROUP; k++) {
    const double lr = a->lr[k] * lr_factor;
    size_t off = model->group_off[k], n = model->group_n[k];
    double *x = p->data + off, *m = a->m.data + off, *v = a->v.data + off;
    const double *gr = g->data + off;
    for (size_t i = 0; i < n; i++) {
      m[i] = b1 * m[i] + (1.0 - b1) * gr[i];
      v[i] = b2 * v[i] + (1.0 - b2) * gr[i] * gr[i];
      if (lr > 0) x[i] -= lr * (m[i] / c1) / (sqrt(v[i] / c2) + a->eps);
    }
  }
}

double optim_lr_factor(const DmnConfig *c, long update, long n_updates) {
  if (c->train_lr_schedule != DMN_LR_COSINE || n_updates <= 1) return 1.0;
  double x = (double)update / (double)(n_updates - 1); /* 0 at the first update, 1 at the last */
  if (x > 1) x = 1; /* a resumed run with more episodes than planned stays at lr_final */
  return c->train_lr_final + (1.0 - c->train_lr_final) * 0.5 * (1.0 + cos(M_PI * x));
}
