#!/usr/bin/env bash
# The main job on one machine: install what is missing, build, check the
# MPI/PETSc/HDF5 stack, and train on the default config (then evaluate).
#   jobs/local.sh [CONFIG] [extra dmn_mpi options]     (NP=ranks, default: cores)
# Results: runs/<config-name>-<timestamp>/ (checkpoint.h5, results.h5,
# training_results.json); the last lines say where.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONFIG=${1:-$ROOT/configs/default.yaml}
shift || true
bash "$ROOT/jobs/install_deps.sh"
bash "$ROOT/jobs/build.sh"
NP=${NP:-$(nproc)}
MPI=(mpirun -n "$NP")
[ "$NP" -gt "$(nproc)" ] && MPI+=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$ROOT"
"${MPI[@]}" build/dmn_mpi "$CONFIG" --verify
echo
"${MPI[@]}" build/dmn_mpi "$CONFIG" "$@"
