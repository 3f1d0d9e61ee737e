#!/usr/bin/env bash
# Benchmarks (not part of the test suite): one-core episode cost for the
# default circuit, 2x and 4x the KCs, both sparse backends, and training
# throughput at 1 and 2 ranks.  Speed goals live here, never in ctest.
#   RUNS=3 tests/bench/run.sh   every row the best of 3 runs (a noisy machine)
set -euo pipefail
RUNS=${RUNS:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build
cmake --build "$B" --target bench_episode dmn_mpi > /dev/null  # always current
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "one core, T = each config's sim.steps (default 8000; model v1 5000), best of 10 after a warm-up episode (this VM's speed varies from run to run)"
echo "(x bound: measured time over the floor -- bytes and flops one episode must touch over the streaming rates this core reaches;"
echo " the line 'floor: ...' on stderr gives the counts)"
# bench ARGS...: bench_episode RUNS times, the line with the smallest forward + backward
bench() {
  for _ in $(seq "$RUNS"); do "$B/tests/bench_episode" "$@" | tail -1; done | awk '{ t = $5 + $6; if (NR == 1 || t < best) { best = t; line = $0 } } END { print line }'
}
kc_scale() { awk -v k="$1" 'BEGIN { printf "%.4f", 1.9 * 2000 / k }'; }  # init.kc_to_mbon (model v2: 1.9) x 2000 / n_kc
echo "every row: the best of $RUNS run(s) (RUNS=N)"
printf "%-8s %-7s %-8s %-8s %9s %9s %9s %9s %9s %8s %9s %7s\n" KC T synapses backend fwd_s bwd_s ep/s ns/n-step ns/n-step mean_Hz peak_MB x_bound
printf "%-8s %-7s %-8s %-8s %9s %9s %9s %9s %9s %8s %9s %7s\n" "" "" "" "" "" "" "(f+b)" "(fwd)" "(f+b)" "" "" ""
for be in csr petsc; do bench reps=10 circuit.sparse_backend=$be; done
echo "model v1 (configs/model_v1.yaml: no APL, no ORN adaptation; a quieter circuit):"
bench reps=10 config="$ROOT/configs/model_v1.yaml"
# 2x and 4x the KCs with the KC->MBON initial weights scaled by 2000/n_kc:
# each MBON then gets the default's input and the circuit fires at the same
# rates, so the rows compare the engine's cost, not a busier circuit (with
# the default scale an MBON sums 4x the KCs: MBONs ~280 Hz at 8000 KCs).
for kc in 4000 8000; do bench reps=10 circuit.n_kc=$kc init.kc_to_mbon="$(kc_scale $kc)"; done
echo "the same with the default KC->MBON scale (a busier circuit):"
for kc in 4000 8000; do bench reps=10 circuit.n_kc=$kc; done
for T in 2500 10000; do bench reps=10 sim.steps=$T; done
FW=$ROOT/configs/connectomes/flywire_v783
if [ -d "$FW" ]; then
  echo "FlyWire v783 right mushroom body (configs/flywire_right.yaml: 2,251 ORN, 139 PN, 2,597 KC, 96 MBON, 10 DN):"
  bench reps=10 config="$ROOT/configs/flywire_right.yaml"
else
  echo "(FlyWire row skipped: no data in $FW)"
fi
echo
echo "forward pass alone (simulation; x bound against the forward's own floor), 1x, 2x, 4x the KCs:"
for kc in 2000 4000 8000; do bench forward-only reps=30 circuit.n_kc=$kc init.kc_to_mbon="$(kc_scale $kc)"; done
echo
echo "the BPTT tape (default circuit): every step in double, compact (float V, I; byte spikes), checkpointed (default: K = 64 here)"
for tape in "grad.checkpoint=0" "grad.tape=compact" "grad.checkpoint=-1"; do
  printf "%-20s" "$tape"; bench reps=10 $tape
done
echo
echo "training throughput (default config, 256 episodes = 8 updates of 32):"
for np in 1 2; do
  best=""
  for _ in $(seq "$RUNS"); do
    out=$(mpirun -n $np "$B/dmn_mpi" "$ROOT/configs/default.yaml" --set train.episodes=256 --set train.batch_per_rank=$((32 / np)) \
          --set train.eval_episodes=2 --set train.eval_trajectories=0 --out "$(mktemp -d)" 2>&1)
    secs=$(echo "$out" | grep -o 'in [0-9.]* s' | head -1 | awk '{print $2}')
    if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$secs; fi
  done
  echo "  $np rank(s): in $best s for 256 episodes -> $(awk -v s="$best" 'BEGIN { printf "%.2f episodes/s", 256 / s }')"
done
