/* bench_episode [config=FILE.yaml] [section.key=value ...] — one-core cost of
 * an episode of the configured circuit (the synthetic one, or a real
 * connectome named by the config file): forward, backward, ns per
 * neuron-step, peak RSS.
 * `forward-only` skips the backward pass (for profiling the forward alone).
 * Not a test (no pass/fail); tests/bench/run.sh prints a table. */
#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "episode.h"
#include "util.h"

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  DmnConfig c;
  char err[DMN_ERR_MAX];
  config_defaults(&c);
  int reps = 3, forward_only = 0;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "reps=", 5)) reps = atoi(argv[i] + 5);
    else if (!strcmp(argv[i], "forward-only")) forward_only = 1; /* for profiling the forward pass alone */
    else if (!strncmp(argv[i], "config=", 7)) {
      if (config_load_file(&c, argv[i] + 7, err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
      }
    } else if (argv[i][0] != '-' && config_set(&c, argv[i], err)) {
      fprintf(stderr, "%s\n", err);
      return 2;
    }
  }
  DmnModel m;
  DmnParams p, g;
  DmnDerived d;
  DmnTape t;
  DmnWork w;
  DmnConnectome conn;
  if (connectome_build(&c, &conn, err)) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  PetscCall(model_build(&c, &conn, &m, err));
  connectome_free(&conn);
  params_alloc(&m, &p);
  params_alloc(&m, &g);
  model_init_params(&m, &p);
  PetscCall(derived_create(&m, &d));
  PetscCall(derived_update(&m, &p, &d));
  tape_alloc(&m, &t);
  work_alloc(&m, &w);
  long nnz = 0;
  for (int q = 0; q < DMN_NPROJ; q++) nnz += m.conn.proj[q].nnz;
  double fwd = 1e30, bwd = 1e30, spikes = 0;
  /* rates averaged over the timed episodes (activity differs from start to start) */
  double *rate = calloc((size_t)m.n_neuron, sizeof(double));
  double ep_sum = 0, ep_sq = 0; /* forward + backward per episode: the spread the scaling model's imbalance needs */
  for (int r = 0; r <= reps; r++) { /* run 0 warms the tape (first touch) */
    double p0[2], psi0;
    episode_start_pose(&m, DMN_STREAM_TRAIN_START, 0, r, p0, &psi0);
    double t0 = util_wtime();
    PetscCall(episode_forward(&m, &p, &d, p0, psi0, &t, &w, err));
    double t1 = util_wtime();
    params_zero(&g);
    if (!forward_only) PetscCall(episode_backward(&m, &p, &d, &t, &w, &g, err));
    double t2 = util_wtime();
    if (r) {
      fwd = fmin(fwd, t1 - t0);
      bwd = fmin(bwd, t2 - t1);
      ep_sum += t2 - t0;
      ep_sq += (t2 - t0) * (t2 - t0);
    }
    if (r)
      for (int i = 0; i < m.n_neuron; i++) rate[i] += t.rate_hz[i] / reps;
  }
  for (int i = 0; i < m.n_neuron; i++) spikes += rate[i];
  /* The floor.  What one episode must touch at the least (per step): every
   * neuron's LIF update forward (8 flops; a, theta, bias, I, Vp read, V, s, Vp
   * written: 64 B) and backward (25 flops; 17 arrays: 136 B, plus the
   * post-reset potential of the step before, 24 B); forward synapses only
   * from presynaptic neurons that spiked (2 flops; weight, index, target:
   * 24 B), the same synapses again for the weight gradient (3 flops, 32 B);
   * the backward's dense W^T d_y over every synapse (2 flops; weight and
   * index: 12 B) -- the surrogate makes every adjoint non-zero; and with
   * checkpointed BPTT the forward once more.  Bound = max(flops / F, bytes /
   * B), F and B measured by a streaming multiply-add over arrays as large
   * as one step's working set (B) and over L1-resident arrays (F). */
  double active = 0, nnz_all = 0; /* synapses from spiking neurons per step; all synapses */
  for (int q = 0; q < DMN_NPROJ; q++) {
    const DmnProjection *pr = &m.conn.proj[q];
    nnz_all += pr->nnz;
    for (int j = 0; j < pr->n_pre; j++)
      active += rate[m.layer_off[pr->pre] + j] * m.dt / 1000.0 * (pr->csc_ptr[j + 1] - pr->csc_ptr[j]);
  }
  const int recompute = t.ck_vp != NULL;
  double f_fwd = 8.0 * m.n_neuron + 2.0 * active, b_fwd = 64.0 * m.n_neuron + 24.0 * active;
  double f_bwd = 25.0 * m.n_neuron + 3.0 * m.n_neuron + 3.0 * active + 2.0 * nnz_all + (recompute ? f_fwd : 0);
  double b_bwd = 136.0 * m.n_neuron + 24.0 * m.n_neuron + 32.0 * active + 12.0 * nnz_all + (recompute ? b_fwd : 0);
  if (forward_only) f_bwd = b_bwd = 0.0; /* the floor of the forward pass alone */
  size_t ws = (size_t)((b_fwd + b_bwd) / 24.0) + 1; /* triad elements touching one step's bytes */
  double *xa = malloc(sizeof(double) * ws), *ya = malloc(sizeof(double) * ws);
  for (size_t i = 0; i < ws; i++) xa[i] = 1e-3 * (double)(i % 97), ya[i] = 0.0;
  double bw = 0, fl = 0;
  for (int trial = 0; trial < 3; trial++) {
    int reps_b = (int)(2e8 / (double)ws) + 1;
    double t0 = util_wtime();
    for (int r = 0; r < reps_b; r++)
      for (size_t i = 0; i < ws; i++) ya[i] += 1.0000001 * xa[i];
    double t1 = util_wtime();
    bw = fmax(bw, 24.0 * (double)ws * reps_b / (t1 - t0));
    const size_t l1 = 256; /* 4 KB */
    int reps_f = (int)(2e8 / (double)l1);
    t0 = util_wtime();
    for (int r = 0; r < reps_f; r++)
      for (size_t i = 0; i < l1; i++) ya[i] += 1.0000001 * xa[i];
    t1 = util_wtime();
    fl = fmax(fl, 2.0 * (double)l1 * reps_f / (t1 - t0));
  }
  double bound = (double)m.T * fmax((f_fwd + f_bwd) / fl, (b_fwd + b_bwd) / bw);
  fprintf(stderr, "floor: %.0f flops and %.0f bytes per step (%.0f synapses from spiking neurons, %.0f in all%s); streaming %.1f GB/s over %.2f MB, "
                  "%.1f Gflop/s in L1 -> bound %.4f s per episode; measured %.4f s = %.1fx (check %g)\n",
          f_fwd + f_bwd, b_fwd + b_bwd, active, nnz_all, recompute && !forward_only ? "; forward counted twice: checkpointed" : "", bw / 1e9, 24.0 * ws / 1e6,
          fl / 1e9, bound, fwd + bwd, (fwd + bwd) / bound, ya[ws / 2]);
  free(xa);
  free(ya);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double ns = 1e9 / ((double)m.T * m.n_neuron);
  printf("%-8d %-7d %-8ld %-8s %9.4f %9.4f %9.2f %9.1f %9.1f %8.1f %9ld %7.1f\n", m.n[DMN_L_KC], m.T, nnz,
         config_enum_name("circuit", "sparse_backend", c.circuit_sparse_backend), fwd, bwd, 1.0 / (fwd + bwd), fwd * ns, (fwd + bwd) * ns,
         spikes / m.n_neuron, ru.ru_maxrss / 1024, (fwd + bwd) / bound);
  if (reps > 0) {
    const double mean = ep_sum / reps;
    fprintf(stderr, "episodes: mean %.4f s, sd %.4f s (forward%s per episode over %d episodes from different starts)\n", mean,
            sqrt(fmax(0.0, ep_sq / reps - mean * mean)), forward_only ? "" : " + backward", reps);
  }
  free(rate);
  work_free(&w);
  tape_free(&t);
  PetscCall(derived_destroy(&d));
  params_free(&g);
  params_free(&p);
  model_free(&m);
  PetscCall(PetscFinalize());
  return 0;
}
