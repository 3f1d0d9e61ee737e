/* bench_episode [section.key=value ...] — one-core cost of an episode of the
 * configured circuit: forward, backward, ns per neuron-step, peak RSS.
 * Not a test (no pass/fail); tests/bench/run.sh prints a table. */
#include <petscsys.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "episode.h"
#include "util.h"

int main(int argc, char **argv) {
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  DmnConfig c;
  char err[DMN_ERR_MAX];
  config_defaults(&c);
  int reps = 3;
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "reps=", 5)) reps = atoi(argv[i] + 5);
    else if (argv[i][0] != '-' && config_set(&c, argv[i], err)) {
      fprintf(stderr, "%s\n", err);
      return 2;
    }
  }
  DmnModel m;
  DmnParams p, g;
  DmnDerived d;
  DmnTape t;
  DmnWork w;
  PetscCall(model_build(&c, NULL, &m, err));
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
  for (int r = 0; r <= reps; r++) { /* run 0 warms the tape (first touch) */
    double p0[2], psi0;
    episode_start_pose(&m, DMN_STREAM_TRAIN_START, 0, r, p0, &psi0);
    double t0 = util_wtime();
    PetscCall(episode_forward(&m, &p, &d, p0, psi0, &t, &w, err));
    double t1 = util_wtime();
    params_zero(&g);
    PetscCall(episode_backward(&m, &p, &d, &t, &w, &g, err));
    double t2 = util_wtime();
    if (r) {
      fwd = fmin(fwd, t1 - t0);
      bwd = fmin(bwd, t2 - t1);
    }
    spikes = 0;
    for (int l = 0; l < DMN_NLAYER; l++) spikes += t.metrics.rate_hz[l] * m.n[l];
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double ns = 1e9 / ((double)m.T * m.n_neuron);
  printf("%-8d %-7d %-8ld %-8s %9.4f %9.4f %9.2f %9.1f %9.1f %8.1f %9ld\n", m.n[DMN_L_KC], m.T, nnz,
         config_enum_name("circuit", "sparse_backend", c.circuit_sparse_backend), fwd, bwd, 1.0 / (fwd + bwd), fwd * ns, (fwd + bwd) * ns,
         spikes / m.n_neuron, ru.ru_maxrss / 1024);
  work_free(&w);
  tape_free(&t);
  PetscCall(derived_destroy(&d));
  params_free(&g);
  params_free(&p);
  model_free(&m);
  PetscCall(PetscFinalize());
  return 0;
}
