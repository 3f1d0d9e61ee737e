#!/usr/bin/env bash
# Submit a sweep: one array task per condition (x seed, sim.sweep_seeds) of
# CONFIG's sweep: list, then the merge (and report) once every task succeeded.
#   jobs/submit_sweep.sh CONFIG [INIT_CKPT] [sbatch options, e.g. --ntasks=64 --time=04:00:00]
#   jobs/submit_sweep.sh CONFIG --pretrain BASE_CONFIG [sbatch options]
# INIT_CKPT (a trained checkpoint; {seed} in it becomes each task's seed)
# makes every task a lesion study: intact, lesioned, retrained.  --pretrain
# first trains BASE_CONFIG once per seed of CONFIG's sim.sweep_seeds (an
# array job, one seed per task, into DIR/intact_s<seed>/) and starts each
# lesion task from its own seed's trained fly.
# Results: $DMN_SWEEP_DIR (default runs/<config>-<timestamp>)/NN_<task>/,
# merged.h5 and report/ beside them.  Prints the job ids.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONFIG=${1:?usage: jobs/submit_sweep.sh CONFIG [INIT_CKPT | --pretrain BASE_CONFIG] [sbatch options]}
shift
INIT="" PRETRAIN=""
if [ $# -gt 1 ] && [ "$1" = --pretrain ]; then PRETRAIN=$(realpath "$2"); shift 2
elif [ $# -gt 0 ] && [[ "$1" != -* ]]; then INIT=$(realpath -m "$1"); shift; fi
DMN=${DMN:-$ROOT/build/dmn_mpi}
N=$("$DMN" "$CONFIG" --sweep-list | awk '/sweep task/ { print $2 }')
[ -n "$N" ] && [ "$N" -gt 0 ] || { echo "submit_sweep: $CONFIG has no sweep: list" >&2; exit 2; }
DIR=${DMN_SWEEP_DIR:-runs/$(basename "$CONFIG" .yaml)-$(date +%Y%m%d_%H%M%S)}
mkdir -p "$DIR"
DIR=$(realpath "$DIR")
EXPORT="ALL,DMN_ROOT=$ROOT,DMN_SWEEP_DIR=$DIR"
DEP=()
if [ -n "$PRETRAIN" ]; then
  SEEDS=$("$DMN" "$CONFIG" --print-config | sed -n 's/^  sweep_seeds: "\(.*\)"/\1/p' | tr -d ' ')
  [ -n "$SEEDS" ] || SEEDS=$("$DMN" "$CONFIG" --print-config | sed -n 's/^  seed: \([0-9]*\)/\1/p' | head -1)
  PRE=$(sbatch --parsable --export="$EXPORT,DMN_RUN_DIR=$DIR/intact_s{seed}" --array="$SEEDS" --output="$DIR/slurm_intact_%A_%a.out" "$@" \
    "$ROOT/jobs/train.sbatch" "$PRETRAIN")
  PRE=${PRE%%;*}
  echo "pretraining job $PRE: $PRETRAIN for seeds $SEEDS into $DIR/intact_s<seed>/"
  INIT="$DIR/intact_s{seed}/checkpoint.h5"
  DEP=(--dependency=afterok:"$PRE")
fi
ARRAY=$(sbatch --parsable --export="$EXPORT" --array=0-$((N - 1)) --output="$DIR/slurm_%A_%a.out" "${DEP[@]}" "$@" \
  "$ROOT/jobs/sweep.sbatch" "$CONFIG" $INIT)
ARRAY=${ARRAY%%;*}
MERGE=$(sbatch --parsable --export="$EXPORT" --dependency=afterok:"$ARRAY" --output="$DIR/slurm_merge_%j.out" \
  "$ROOT/jobs/merge.sbatch" "$DIR")
MERGE=${MERGE%%;*}
echo "array job $ARRAY: $N tasks of $CONFIG${INIT:+ (lesion study from $INIT)}"
echo "merge job $MERGE (after all of $ARRAY succeed)"
echo "results: $DIR/NN_<task>/, $DIR/merged.h5, $DIR/report/"
echo "monitor: squeue -j ${PRE:+$PRE,}$ARRAY,$MERGE; tail -f $DIR/slurm_${ARRAY}_0.out"
