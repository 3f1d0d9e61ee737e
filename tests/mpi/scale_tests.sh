#!/usr/bin/env bash
# The design card's command, `mpirun -n 64 dmn_mpi config.yaml`, on this
# machine (64 ranks oversubscribed on its cores), and a soak run (issue 18):
#  - 64 ranks train (batch 1 per rank) and checkpoint; the parameters equal a
#    2-rank run with the same global batch (64) to <= 1e-13 relative;
#    startup (launch to the first line of training), teardown (the last line
#    to exit) and peak memory per rank are reported;
#  - a population of 8 individuals x 8 ranks evolves at 64 ranks;
#  - soak: 100 updates at 4 ranks with a checkpoint every 2 updates: resident
#    memory of every rank sampled from the 10th update to the last is flat,
#    and no HDF5 object or file descriptor is left open at exit.
# Usage: scale_tests.sh DMN_MPI H5PARAMS_CMP
set -u
DMN=$1 CMP=$2
. "$(dirname "$0")/harness.sh"
export OMPI_MCA_mpi_yield_when_idle=1   # 64 ranks on 2 cores: yield instead of spinning
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | xargs printf %.1f; }
# t_line LOG PATTERN T0: seconds from T0 until PATTERN appears in LOG (polled)
watch_line() {
  local log=$1 pat=$2 t0=$3
  for i in $(seq 1 3000); do grep -q "$pat" "$log" 2> /dev/null && { since "$t0"; return; }; sleep 0.1; done
  echo "-"
}

S="--set circuit.n_kc=200 --set sim.steps=200 --set train.eval_episodes=64 --set train.eval_trajectories=0"
t0=$(now)
timeout 600 mpirun --oversubscribe -n 64 "$DMN" $S --set train.episodes=128 --set train.batch_per_rank=1 --out "$W/r64" > "$W/r64.log" 2>&1 &
mp=$!
t_start=$(watch_line "$W/r64.log" "^dmn train:" "$t0")
t_last=$(watch_line "$W/r64.log" "^Peak memory per rank" "$t0")
wait $mp; r64=$?
t_total=$(since "$t0")
teardown=$(echo "$t_total - $t_last" | bc | xargs printf %.1f)
mem=$(grep -o "^Peak memory per rank: .*" "$W/r64.log")
timeout 300 mpirun -n 2 "$DMN" $S --set train.episodes=128 --set train.batch_per_rank=32 --out "$W/r2" > "$W/r2.log" 2>&1; r2=$?
if [ $r64 -eq 0 ] && [ $r2 -eq 0 ] && [ -s "$W/r64/checkpoint.h5" ] && "$CMP" "$W/r2/checkpoint.h5" "$W/r64/checkpoint.h5" --tol 1e-13 > "$W/c.out"; then
  ok "64 ranks (batch 1 each) vs 2 ranks (batch 32), global batch 64: $(cat "$W/c.out")"
else bad "64 vs 2 ranks (rc $r64 $r2): $(cat "$W/c.out" 2> /dev/null)" "$W/r64.log"; fi
s64=$(grep -A3 "^Evaluation" "$W/r64.log" | grep "trained (average)"); s2=$(grep -A3 "^Evaluation" "$W/r2.log" | grep "trained (average)")
[ -n "$s64" ] && [ "$s64" = "$s2" ] && ok "the same held-out statistics at 64 and 2 ranks" || bad "statistics differ: '$s64' vs '$s2'"
echo "64 ranks: startup ${t_start} s (launch to the first line of training), whole run ${t_total} s, teardown ${teardown} s; ${mem#Peak memory per rank: }"

t0=$(now)
timeout 600 mpirun --oversubscribe -n 64 "$DMN" $S --set train.episodes=32 --set train.batch_per_rank=1 --set evolution.population=8 \
  --set evolution.episodes_per_generation=16 --set evolution.fitness_episodes=8 --out "$W/p64" > "$W/p64.log" 2>&1; rp=$?
if [ $rp -eq 0 ] && [ "$(grep -c '^Generation ' "$W/p64.log")" -eq 2 ] && grep -q "<- best" "$W/p64.log" && /usr/bin/python3 - "$W/p64/checkpoint.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
slot = f["population/rank_slot"][:].ravel()
ok = f.attrs["population"] == 8 and f["population/params"].shape[0] == 8 and sorted(np.bincount(slot)) == [8] * 8
sys.exit(0 if ok else 1)
PY
then ok "population of 8 individuals x 8 ranks evolves at 64 ranks (2 generations, $(since "$t0") s; $(grep -o '^Peak memory per rank: .*' "$W/p64.log" | cut -d: -f2))"
else bad "64-rank population (rc $rp)" "$W/p64.log"; fi

# soak: 800 episodes = 100 updates of 8 at 4 ranks, a checkpoint every 2 updates
SOAK="--set circuit.n_kc=200 --set sim.steps=300 --set train.episodes=800 --set train.batch_per_rank=2 --set output.checkpoint_every=16"
SOAK="$SOAK --set train.eval_episodes=8 --set train.eval_trajectories=2"
timeout 600 mpirun -n 4 "$DMN" $SOAK --out "$W/soak" > "$W/soak.log" 2>&1 &
mp=$!
rss() { # sum of the ranks' resident memory, kB
  local t=0
  for p in $(pgrep -f -- "--out $W/soak\$" | grep -v "^$mp\$"); do t=$((t + $(awk '/^VmRSS/ {print $2}' /proc/$p/status 2> /dev/null || echo 0))); done
  echo $t
}
first="" last="" n=0
while kill -0 $mp 2> /dev/null; do
  u=$(grep -o "Update *[0-9]*" "$W/soak.log" 2> /dev/null | tail -1 | tr -dc 0-9)
  if [ -n "$u" ] && [ "$u" -ge 10 ] && [ "$u" -lt 100 ]; then
    r=$(rss); [ "$r" -gt 0 ] && { [ -z "$first" ] && first=$r; last=$r; n=$((n + 1)); }
  fi
  sleep 0.2
done
wait $mp; rs=$?
if [ $rs -eq 0 ] && [ -n "$first" ] && [ "$n" -ge 3 ] && [ "$last" -le $((first + first / 20 + 2048)) ] && ! grep -q "left open at exit" "$W/soak.log"; then
  ok "soak, 4 ranks, 100 updates, 50 checkpoints: resident memory of the ranks $((first / 1024)) MB at update 10, $((last / 1024)) MB near the end ($n samples); no HDF5 object or file descriptor left open"
else bad "soak (rc $rs, rss $first -> $last kB, $n samples)" "$W/soak.log"; fi

finish scale
