/* nir — export a trained circuit as a NIR graph (Neuromorphic Intermediate
 * Representation, HDF5), the exchange format of neuromorphic hardware and
 * simulators (Lava-DL, SpiNNaker2, snnTorch, Norse, Rockpool, ...).
 *
 * The graph (analysis/README.md, "NIR export"): Input (receptor responses)
 * -> ORN adaptation (LI, Delay, Scale) -> ORN gain (Scale) -> CubaLIF per
 * layer with Linear projections (effective weights, dense [post, pre]) ->
 * the APL as LI + Delay -> the DN rate filter (LI) -> the motor Affine ->
 * Output (tanh in metadata).  Time in ms, voltages in mV; the discrete
 * update the graph stands for is spelled out in /node/metadata. */
#ifndef DMN_NIR_H
#define DMN_NIR_H

#include "model.h"
#include "util.h"

/* Write the circuit of m with parameters p to path (via path.tmp).
 * Returns 0, or 1 with err naming the file and what failed. */
int nir_export(const char *path, const DmnModel *m, const DmnParams *p, char err[DMN_ERR_MAX]);

#endif
