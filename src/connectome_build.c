/* connectome_build — the circuit a config asks for: generated (synthetic)
 * or loaded from data, then lesioned.  The top of the connectome modules:
 * it calls the generator and the structure helpers (connectome.c), the
 * loaders (connectome_load.c) and the lesions (lesion.c); none of them
 * calls back up. */
#include "connectome.h"

int connectome_build(const DmnConfig *cfg, DmnConnectome *c, char err[DMN_ERR_MAX]) {
  int rc = cfg->connectome_source == DMN_SOURCE_SYNTHETIC ? connectome_build_synthetic(cfg, c, err) : connectome_load(cfg, c, err);
  if (rc) return rc;
  if (connectome_apply_lesions(cfg, c, err)) {
    connectome_free(c);
    return 1;
  }
  return 0;
}
