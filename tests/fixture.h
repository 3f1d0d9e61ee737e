/* fixture — the small circuits the tests build by hand, in one place (a
 * test that needs another size says so where it calls these).  Header-only
 * and PETSc-free, so the MPI-free unit tests include it too. */
#ifndef DMN_TEST_FIXTURE_H
#define DMN_TEST_FIXTURE_H

#include "config.h"

/* The tiny synthetic circuit of the gradient and lesion checks: 10 ORNs,
 * 10 PNs, 40 KCs with 3 claws, 6 MBONs, 4 DNs (every layer small enough for
 * finite differences over all its entries, big enough for every lesion kind). */
static inline void fixture_tiny(DmnConfig *c) {
  config_defaults(c);
  c->circuit_n_orn = c->circuit_n_pn = 10;
  c->circuit_n_kc = 40;
  c->circuit_kc_claws = 3;
  c->circuit_n_mbon = 6;
  c->circuit_n_dn = 4;
}

/* The default circuit with n_kc KCs (the rest as MODEL §1), and T steps when
 * T > 0: what the module and training checks run. */
static inline void fixture_small(DmnConfig *c, int n_kc, int T) {
  config_defaults(c);
  c->circuit_n_kc = n_kc;
  if (T > 0) c->sim_steps = T;
}

#endif
