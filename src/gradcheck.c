#include "gradcheck.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

GradCheckOptions gradcheck_defaults(void) {
  GradCheckOptions o = {16, 1e-4, 1e-6, 12345};
  return o;
}

PetscErrorCode gradcheck_loss(const DmnModel *m, const DmnParams *p, DmnDerived *d, const double p0[2], double psi0, DmnTape *t,
                              DmnWork *w, double *loss, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  PetscCall(derived_update(m, p, d));
  /* our own failures (non-finite values) carry a message in err: pass the
   * code up without PETSc's traceback */
  PetscErrorCode ierr = episode_forward(m, p, d, p0, psi0, t, w, err);
  if (ierr) PetscFunctionReturn(ierr);
  *loss = t->loss.total;
  PetscFunctionReturn(0);
}

PetscErrorCode gradcheck_gradient(const DmnModel *m, const DmnParams *p, DmnDerived *d, const double p0[2], double psi0, DmnTape *t,
                                  DmnWork *w, DmnParams *g, double *loss, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  PetscErrorCode ierr = gradcheck_loss(m, p, d, p0, psi0, t, w, loss, err);
  if (ierr) PetscFunctionReturn(ierr);
  params_zero(g);
  ierr = episode_backward(m, p, d, t, w, g, err);
  PetscFunctionReturn(ierr);
}

/* Finite differences resolve a derivative only down to the rounding noise
 * of the loss divided by the step: noise = 20 * eps * max(1, |L|) / h
 * (measured: ~2.3 eps*|L|/h on the 40-KC closed loop; 20 leaves a margin).
 * Entries smaller than noise / tol are judged by their absolute error
 * against that resolution, so a wrong sign still fails wherever
 * |g| > noise. */
static double rel_err(double g, double fd, double noise, double tol) {
  double scale = fmax(fmax(fabs(g), fabs(fd)), noise / tol);
  return fabs(g - fd) / scale;
}
static double fd_noise(double loss, double h) { return 20.0 * DBL_EPSILON * fmax(1.0, fabs(loss)) / h; }

PetscErrorCode gradcheck_compare(const DmnModel *m, const DmnParams *p, const DmnParams *g, const double p0[2], double psi0,
                                 const GradCheckOptions *o, GradCheckResult *res, char err[DMN_ERR_MAX]) {
  PetscFunctionBeginUser;
  DmnParams x;
  DmnDerived d;
  DmnTape t;
  DmnWork w;
  params_alloc(m, &x);
  params_copy(&x, p);
  PetscCall(derived_create(m, &d));
  tape_alloc(m, &t);
  work_alloc(m, &w);
  memset(res, 0, sizeof(*res));
  PetscCall(gradcheck_loss(m, &x, &d, p0, psi0, &t, &w, &res->loss, err));
  DmnRng rng = util_rng(o->seed, DMN_STREAM_GRADCHECK, 0, 0);
  size_t *pick = malloc(sizeof(size_t) * (size_t)(o->max_per_group > 0 ? o->max_per_group : 1));
  res->pass = 1;
  for (int grp = 0; grp < DMN_NGROUP; grp++) {
    size_t n = m->group_n[grp], off = m->group_off[grp];
    int k = n <= (size_t)o->max_per_group ? (int)n : o->max_per_group;
    for (int a = 0; a < k; a++) {
      if ((size_t)k == n) {
        pick[a] = (size_t)a;
        continue;
      }
      int dup;
      do { /* distinct seeded picks */
        pick[a] = (size_t)util_rng_below(&rng, n);
        dup = 0;
        for (int b = 0; b < a; b++) dup |= pick[b] == pick[a];
      } while (dup);
    }
    double num = 0.0, den = 0.0;
    for (int a = 0; a < k; a++) {
      size_t idx = off + pick[a];
      double x0 = x.data[idx], h = o->h_rel, L[4]; /* absolute: theta = -50 mV is an offset, its scale is the sigmoid width */
      const double step[4] = {-2, -1, 1, 2};
      for (int s = 0; s < 4; s++) {
        x.data[idx] = x0 + step[s] * h;
        PetscCall(gradcheck_loss(m, &x, &d, p0, psi0, &t, &w, &L[s], err));
      }
      x.data[idx] = x0;
      /* f' = [8 (f(h) - f(-h)) - (f(2h) - f(-2h))] / (12 h), error O(h^4) */
      double fd = (8.0 * (L[2] - L[1]) - (L[3] - L[0])) / (12.0 * h);
      double gi = g->data[idx], e = rel_err(gi, fd, fd_noise(res->loss, h), o->tol);
      num += (gi - fd) * (gi - fd);
      den += gi * gi;
      if (e > res->max_rel[grp]) res->max_rel[grp] = e;
      if (e > res->worst_rel) {
        res->worst_rel = e;
        res->worst_index = idx;
        res->worst_g = gi;
        res->worst_fd = fd;
      }
    }
    res->n_checked[grp] = k;
    res->norm_rel[grp] = den > 0 ? sqrt(num / den) : sqrt(num);
    if (res->max_rel[grp] > o->tol) res->pass = 0;
  }
  /* one random direction through every parameter: g.v against dL/dalpha */
  double *v = malloc(sizeof(double) * x.n), gv = 0.0, vn = 0.0;
  for (size_t i = 0; i < x.n; i++) {
    v[i] = util_rng_normal(&rng) * fmax(1.0, fabs(p->data[i]));
    vn += v[i] * v[i];
  }
  vn = sqrt(vn);
  for (size_t i = 0; i < x.n; i++) gv += g->data[i] * (v[i] /= vn);
  double L[4], h = o->h_rel;
  const double step[4] = {-2, -1, 1, 2};
  for (int s = 0; s < 4; s++) {
    for (size_t i = 0; i < x.n; i++) x.data[i] = p->data[i] + step[s] * h * v[i];
    PetscCall(gradcheck_loss(m, &x, &d, p0, psi0, &t, &w, &L[s], err));
  }
  double fd = (8.0 * (L[2] - L[1]) - (L[3] - L[0])) / (12.0 * h);
  res->dir_rel = rel_err(gv, fd, fd_noise(res->loss, h), o->tol);
  if (res->dir_rel > o->tol) res->pass = 0;
  free(v);
  free(pick);
  work_free(&w);
  tape_free(&t);
  PetscCall(derived_destroy(&d));
  params_free(&x);
  PetscFunctionReturn(0);
}

void gradcheck_print(const DmnModel *m, const GradCheckResult *r, const GradCheckOptions *o) {
  printf("Gradient check (smooth mode, T = %d, loss %.10g): BPTT vs 4-point central differences\n", m->T, r->loss);
  printf("  %-12s %8s %14s %16s\n", "group", "checked", "max rel err", "|g-gfd|/|g|");
  for (int k = 0; k < DMN_NGROUP; k++)
    printf("  %-12s %4d/%-4zu %14.3e %16.3e %s\n", dmn_group_names[k], r->n_checked[k], m->group_n[k], r->max_rel[k], r->norm_rel[k],
           r->max_rel[k] <= o->tol ? "ok" : "FAIL");
  char where[128];
  params_locate(m, r->worst_index, where, sizeof where);
  printf("  random direction: rel err %.3e %s\n", r->dir_rel, r->dir_rel <= o->tol ? "ok" : "FAIL");
  printf("  worst entry: %s  bptt %.12g  fd %.12g  rel %.3e\n", where, r->worst_g, r->worst_fd, r->worst_rel);
  printf("  (entries below the finite-difference resolution 20*eps*|L|/h = %.1e are judged by absolute error)\n",
         20.0 * DBL_EPSILON * fmax(1.0, fabs(r->loss)) / o->h_rel);
  printf("%s (tolerance %.1e)\n", r->pass ? "GRADIENT CHECK PASSED" : "GRADIENT CHECK FAILED", o->tol);
}
