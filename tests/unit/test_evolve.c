/* Genomes of the evolutionary outer loop, MPI-free: a rewiring keeps every
 * row's length (a KC's claw count, an MBON's input count), rows sorted and
 * duplicate-free, new partners on the postsynaptic side; parameters and
 * Adam moments move with their synapse; replaying a genome's edits on the
 * base connectome reproduces the structure; pack/unpack, hyperparameter
 * bounds and the config an individual trains with. */
#include <stdlib.h>
#include <string.h>

#include "../fixture.h"
#include "../harness.h"
#include "connectome.h"
#include "evolve.h"

static int rows_ok(const DmnConnectome *c, int q, int same_side) {
  const DmnProjection *p = &c->proj[q];
  for (int i = 0; i < p->n_post; i++)
    for (int k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++) {
      if (k > p->row_ptr[i] && p->col[k] <= p->col[k - 1]) return 0;
      if (same_side && c->side[p->pre][p->col[k]] != c->side[p->post][i]) return 0;
      if (p->row_of[k] != i) return 0;
    }
  /* the transpose index lists every synapse of its presynaptic neuron */
  for (int j = 0; j < p->n_pre; j++)
    for (int s = p->csc_ptr[j]; s < p->csc_ptr[j + 1]; s++)
      if (p->col[p->csc_syn[s]] != j) return 0;
  return 1;
}

int main(void) {
  DmnConfig cfg;
  fixture_small(&cfg, 400, 0);
  char err[DMN_ERR_MAX];
  DmnConnectome base;
  CHECK(connectome_build_synthetic(&cfg, &base, err) == 0, "%s", err);
  DmnConnectome c;
  connectome_copy(&base, &c);
  DmnGenome g;
  genome_founder(&cfg, 0, &g);
  CHECK(g.id == 0 && g.parent == -1 && g.n_edits == 0 && g.hyper[DMN_HY_lr_scale] == 1.0 && g.hyper[DMN_HY_w_energy] == cfg.loss_w_energy,
        "founder 0 is the config");

  /* label every synapse's parameters with its (post, pre) so we can follow them */
  const int q = DMN_P_PN_TO_KC;
  DmnProjection *p = &c.proj[q];
  const int nnz = p->nnz;
  double *u = malloc(sizeof(double) * (size_t)nnz), *m1 = malloc(sizeof(double) * (size_t)nnz), *v1 = malloc(sizeof(double) * (size_t)nnz);
  for (int i = 0; i < p->n_post; i++)
    for (int k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++) u[k] = m1[k] = v1[k] = 1000.0 * i + p->col[k];
  double *arr[3] = {u, m1, v1};
  DmnRng r = util_rng(7, DMN_STREAM_EVOLVE, 1, 2);
  long made = genome_rewire(&c, q, 0.05, &r, &g, arr, 3, -3.5);
  long alive = connectome_alive(p);
  CHECK(made == (long)(0.05 * alive + 0.5), "rewired %ld of %ld (5%%)", made, alive);
  CHECK(g.n_edits == made, "genome holds the %ld edits", made);
  int same_len = 1;
  for (int i = 0; i <= p->n_post; i++) same_len &= p->row_ptr[i] == base.proj[q].row_ptr[i];
  CHECK(same_len, "every KC keeps its claw count");
  CHECK(rows_ok(&c, q, 1), "rows sorted, distinct, same-side PNs, indices current");
  int followed = 1, fresh = 0, changed = 0;
  for (int i = 0; i < p->n_post; i++)
    for (int k = p->row_ptr[i]; k < p->row_ptr[i + 1]; k++) {
      if (u[k] == -3.5) {
        fresh++;
        followed &= m1[k] == 0.0 && v1[k] == 0.0;
      } else {
        followed &= u[k] == 1000.0 * i + p->col[k] && m1[k] == u[k] && v1[k] == u[k];
      }
      changed += p->col[k] != base.proj[q].col[k];
    }
  CHECK(followed, "untouched synapses keep their parameters and Adam moments; new ones start at u_new with zero moments");
  /* a synapse may be drawn twice in one mutation: it is fresh once */
  CHECK(fresh > 0 && fresh <= made && changed > 0, "%d fresh synapses for %ld edits, %d positions changed", fresh, made, changed);

  /* KC->MBON in the synthetic circuit: each MBON already has all KCs of its side, so regrowth crosses sides */
  long made2 = genome_rewire(&c, DMN_P_KC_TO_MBON, 0.01, &r, &g, NULL, 0, 0.0);
  CHECK(made2 > 0 && rows_ok(&c, DMN_P_KC_TO_MBON, 0), "KC->MBON pruned/regrown: %ld edits, rows sorted and distinct", made2);

  /* replaying the edits on the base reproduces the structure */
  const DmnConnectome *const bases[2] = {&base, NULL};
  DmnConnectome re;
  genome_connectome(bases, &g, &re);
  int same = 1;
  for (int j = 0; j < DMN_NPROJ; j++) same &= !memcmp(re.proj[j].col, c.proj[j].col, sizeof(int) * (size_t)c.proj[j].nnz);
  CHECK(same, "replay of %ld edits == the rewired circuit", g.n_edits);
  CHECK(rows_ok(&re, q, 1), "replayed indices current");

  /* an edit that does not apply is refused */
  DmnEdit e = {q, 0, p->col[p->row_ptr[0]], p->col[p->row_ptr[0] + 1]};
  CHECK(genome_apply_edit(p, &e, NULL, 0) == -1, "rewiring onto an existing partner is refused");

  /* pack / unpack */
  size_t nb;
  void *buf = genome_pack(&g, &nb);
  DmnGenome h;
  memset(&h, 0, sizeof h);
  genome_unpack(buf, &h);
  CHECK(h.n_edits == g.n_edits && !memcmp(h.edits, g.edits, sizeof(DmnEdit) * (size_t)g.n_edits) && !memcmp(h.hyper, g.hyper, sizeof g.hyper),
        "pack/unpack identity (%zu bytes for %ld edits)", nb, g.n_edits);
  free(buf);

  /* hyperparameters: founders > 0 mutated, within bounds; only the named ones move */
  cfg.evolution_hyper_range = 2.0;
  cfg.evolution_mutation_sigma = 3.0; /* large: the bounds must hold */
  snprintf(cfg.evolution_mutate, sizeof cfg.evolution_mutate, "lr_scale,w_energy");
  int in_bounds = 1, others_fixed = 1;
  for (int k = 1; k < 50; k++) {
    DmnGenome f;
    genome_founder(&cfg, k, &f);
    in_bounds &= f.hyper[DMN_HY_lr_scale] >= 0.5 && f.hyper[DMN_HY_lr_scale] <= 2.0;
    in_bounds &= f.hyper[DMN_HY_w_energy] >= cfg.loss_w_energy / 2 && f.hyper[DMN_HY_w_energy] <= cfg.loss_w_energy * 2;
    others_fixed &= f.hyper[DMN_HY_surrogate_beta] == cfg.circuit_surrogate_beta && f.hyper[DMN_HY_tau_scale] == 1.0;
    genome_free(&f);
  }
  CHECK(in_bounds && others_fixed, "founder hyperparameters within [x/2, 2x]; unnamed ones unchanged");
  DmnConfig ci;
  h.hyper[DMN_HY_lr_scale] = 3.0;
  genome_config(&cfg, &h, &ci);
  CHECK(ci.train_lr == 3.0 * cfg.train_lr && ci.train_lr_pn_to_dn == 3.0 * cfg.train_lr_pn_to_dn && ci.train_lr_rho == -1.0,
        "lr_scale multiplies train.lr and explicit group rates; -1 keeps following train.lr");

  genome_free(&g);
  genome_free(&h);
  free(u);
  free(m1);
  free(v1);
  connectome_free(&re);
  connectome_free(&c);
  connectome_free(&base);
  return th_summary("test_evolve");
}
