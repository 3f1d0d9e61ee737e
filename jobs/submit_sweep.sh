#!/usr/bin/env bash
# Submit a sweep: one array task per condition of CONFIG's sweep: list, then
# the merge (and report) once every task succeeded.  Prints the job ids.
#   jobs/submit_sweep.sh CONFIG [INIT_CKPT] [sbatch options, e.g. --ntasks=64 --time=04:00:00]
# Results: $DMN_SWEEP_DIR (default runs/<config>-<timestamp>)/NN_<condition>/,
# merged.h5 and report/ beside them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONFIG=${1:?usage: jobs/submit_sweep.sh CONFIG [INIT_CKPT] [sbatch options]}
shift
INIT=""
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then INIT=$(realpath "$1"); shift; fi
DMN=${DMN:-$ROOT/build/dmn_mpi}
N=$("$DMN" "$CONFIG" --sweep-list | awk '/sweep condition/ { print $2 }')
[ -n "$N" ] && [ "$N" -gt 0 ] || { echo "submit_sweep: $CONFIG has no sweep: list" >&2; exit 2; }
DIR=${DMN_SWEEP_DIR:-runs/$(basename "$CONFIG" .yaml)-$(date +%Y%m%d_%H%M%S)}
mkdir -p "$DIR"
DIR=$(realpath "$DIR")
EXPORT="ALL,DMN_ROOT=$ROOT,DMN_SWEEP_DIR=$DIR"
ARRAY=$(sbatch --parsable --export="$EXPORT" --array=0-$((N - 1)) --output="$DIR/slurm_%A_%a.out" "$@" \
  "$ROOT/jobs/sweep.sbatch" "$CONFIG" $INIT)
ARRAY=${ARRAY%%;*}
MERGE=$(sbatch --parsable --export="$EXPORT" --dependency=afterok:"$ARRAY" --output="$DIR/slurm_merge_%j.out" \
  "$ROOT/jobs/merge.sbatch" "$DIR")
MERGE=${MERGE%%;*}
echo "array job $ARRAY: $N conditions of $CONFIG${INIT:+ (lesion study from $INIT)}"
echo "merge job $MERGE (after all of $ARRAY succeed)"
echo "results: $DIR/NN_<condition>/, $DIR/merged.h5, $DIR/report/"
echo "monitor: squeue -j $ARRAY,$MERGE; tail -f $DIR/slurm_${ARRAY}_0.out"
