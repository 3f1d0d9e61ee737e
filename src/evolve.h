/* evolve — evolution plus gradient: population-based training (Jaderberg
 * et al. 2017) with Lamarckian inheritance on top of the BPTT update loop.
 *
 * The world communicator is split into P groups of equal size; each group is
 * one individual (parameters, Adam state, hyperparameters, structure) and
 * averages its gradients inside its own communicator.  After every
 * generation all individuals are scored on the same seeded fitness episodes;
 * the bottom fraction copies parameters, Adam state and genome from
 * individuals drawn from the top fraction (one broadcast from the winner's
 * leader over the world), then mutates hyperparameters and structure. */
#ifndef DMN_EVOLVE_H
#define DMN_EVOLVE_H

#include "train.h"
#include "util.h"

/* Run a population (cfg->evolution_population > 1).  base[0]: the circuit
 * individuals start on; base[1]: the lesioned one (evolution.lesioned > 0)
 * or NULL.  init: parameters every founder starts from (--init), or NULL for
 * each founder's own seeded initialisation.  Collective over world. */
PetscErrorCode evolve_run(const DmnConfig *cfg, const DmnConnectome *const base[2], const DmnParams *init, MPI_Comm world, const TrainOptions *o,
                          int *exit_code);

/* ---- MPI-free pieces (unit-tested) ---- */

/* The founder genome of slot k (k > 0: hyperparameters mutated once). */
void genome_founder(const DmnConfig *cfg, int k, DmnGenome *g);
/* The config an individual trains with: the hyperparameters written in. */
void genome_config(const DmnConfig *base, const DmnGenome *g, DmnConfig *out);
/* Its structure: base[g->lesioned] with the edits replayed (transpose index rebuilt). */
void genome_connectome(const DmnConnectome *const base[2], const DmnGenome *g, DmnConnectome *out);

/* Apply one edit to a projection; the row stays sorted, and the synapse's
 * entries in the parameter-layout arrays arr[0..n_arr-1] (each indexed by CSR
 * position, e.g. u and both Adam moments) move with it.  The transpose index
 * is stale afterwards (connectome_index_projection).  Returns the synapse's
 * new CSR position, or -1 if the edit does not apply. */
int genome_apply_edit(DmnProjection *p, const DmnEdit *e, double **arr, int n_arr);

/* Draw round(fraction x alive) rewirings of projection proj (PN->KC: a PN of
 * the KC's side; KC->MBON: a KC of the MBON's side, any side when none is
 * free), apply them to c and arr as above, reset the moved synapses to u_new
 * (arr[0]) and 0 (the other arrays), and append them to g.  Returns the
 * number made. */
long genome_rewire(DmnConnectome *c, int proj, double fraction, DmnRng *r, DmnGenome *g, double **arr, int n_arr, double u_new);

/* Mutate the hyperparameters named in cfg->evolution_mutate. */
void genome_mutate_hyper(const DmnConfig *cfg, DmnGenome *g, DmnRng *r);

/* Bytes for MPI_Bcast; unpack replaces g's contents. */
void *genome_pack(const DmnGenome *g, size_t *n);
void genome_unpack(const void *buf, DmnGenome *g);

#endif
