#include "readout.h"

#include <math.h>

void adapt_forward(const DmnModel *m, int t, const double *r, double *A, double *x) {
  const int n = m->n[DMN_L_ORN];
  for (int i = 0; i < n; i++) {
    if (!t) A[i] = r[i];
    x[i] = r[i] - m->adapt * A[i];
    A[i] = m->a_adapt * A[i] + (1.0 - m->a_adapt) * r[i];
  }
}

void adapt_backward(const DmnModel *m, int t, double *d_r, double *d_A) {
  /* d_A carries dL/dA[t] (A[t] feeds x[t+1] and A[t+1]); r[t] reaches x[t]
   * and A[t], and at t = 0 also A[-1] = r[0] */
  const int n = m->n[DMN_L_ORN];
  const double ka = m->adapt, aa = m->a_adapt;
  for (int i = 0; i < n; i++) {
    const double d_in = d_r[i], d_a = d_A[i];
    d_r[i] = d_in + (1.0 - aa) * d_a;
    d_A[i] = -ka * d_in + aa * d_a; /* dL/dA[t-1] */
    if (!t) d_r[i] += d_A[i];
  }
}

void motor_forward(const DmnModel *m, const DmnParams *p, const double *q_prev, const double *s_dn, double *q, double drive[2]) {
  const int n_dn = m->n[DMN_L_DN];
  for (int i = 0; i < n_dn; i++) q[i] = m->a_q * q_prev[i] + (1.0 - m->a_q) * s_dn[i] / m->dt;
  for (int side = 0; side < 2; side++) {
    double z = p->motor_b[side];
    for (int i = 0; i < n_dn; i++) z += p->motor_w[side * n_dn + i] * q[i];
    drive[side] = tanh(z);
  }
}

void motor_backward(const DmnModel *m, const DmnParams *p, const double *q, const double drive[2], const double d_drive[2], double *d_q,
                    double *ds_dn, DmnParams *g) {
  const int n_dn = m->n[DMN_L_DN];
  for (int side = 0; side < 2; side++) {
    /* fwd: d = tanh(z), z = m + M q */
    const double dz = d_drive[side] * (1.0 - drive[side] * drive[side]);
    g->motor_b[side] += dz;
    for (int i = 0; i < n_dn; i++) {
      g->motor_w[side * n_dn + i] += dz * q[i];
      d_q[i] += p->motor_w[side * n_dn + i] * dz;
    }
  }
  /* fwd: q[t] = a_q q[t-1] + (1 - a_q) s[t] / dt */
  for (int i = 0; i < n_dn; i++) {
    ds_dn[i] += (1.0 - m->a_q) / m->dt * d_q[i];
    d_q[i] *= m->a_q;
  }
}
