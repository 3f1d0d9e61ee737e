/* readout — the two small stages around the circuit, each forward beside
 * its backward (src/MODEL.md §3, §4):
 *   ORN adaptation   x_i[t] = r_i[t] - k A_i[t-1],  A_i[t] = a_A A_i[t-1] + (1 - a_A) r_i[t],  A_i[-1] = r_i[0]
 *   motor read-out   q[t] = a_q q[t-1] + (1 - a_q) s_DN[t] / dt,  d[t] = tanh(M q[t] + m) */
#ifndef DMN_READOUT_H
#define DMN_READOUT_H

#include "model.h"

/* One step of ORN adaptation: x (n_orn) from r; A carries A[t-1] -> A[t]
 * (at t = 0 it is set to r[0] first). */
void adapt_forward(const DmnModel *m, int t, const double *r, double *A, double *x);
/* Backward of that step: d_r holds dL/dx[t] on entry and dL/dr[t] on
 * return; d_A carries dL/dA[t] -> dL/dA[t-1]. */
void adapt_backward(const DmnModel *m, int t, double *d_r, double *d_A);

/* One step of the motor read-out: q (n_dn) from q_prev and the DN spikes,
 * drive (2) from q. */
void motor_forward(const DmnModel *m, const DmnParams *p, const double *q_prev, const double *s_dn, double *q, double drive[2]);
/* Backward: d_drive = dL/dd[t]; accumulates the motor gradients into g,
 * adds dL/ds_DN[t] into ds_dn and carries d_q: dL/dq[t] (plus what came
 * from q[t+1]) -> the part that reaches q[t-1]. */
void motor_backward(const DmnModel *m, const DmnParams *p, const double *q, const double drive[2], const double d_drive[2], double *d_q,
                    double *ds_dn, DmnParams *g);

#endif
