#!/usr/bin/env bash
# Evolution plus gradient at 4 ranks (issue 6): populations of 2 and 4
# individuals (groups of 2 and 1 ranks) — each group's ranks agree bitwise,
# groups differ, a replacement starts as an exact copy of its parent, the
# lineage is consistent, rewiring keeps every KC's claws; the same run twice
# and a stopped-and-resumed run are bitwise identical to an uninterrupted
# one; a deliberately crippled individual is selected away; bad population
# sizes and checkpoints get clear errors.
set -u
DMN=$1 SRC=$2
CHECK="/usr/bin/python3 $SRC/tests/mpi/evolve_check.py"
. "$(dirname "$0")/harness.sh"
checks() { # NAME OUT [args]: run evolve_check.py, count its lines
  local name=$1 out=$2; shift 2
  if $CHECK "$out/checkpoint.h5" "$@" > "$W/chk.out" 2>&1; then ok "$name: $(grep -c '^ok' "$W/chk.out") population checks"; sed 's/^/     /' "$W/chk.out"
  else bad "$name: population checks"; cat "$W/chk.out"; fi
}
SMALL="--set circuit.n_kc=200 --set sim.steps=300 --set train.episodes=48 --set train.batch_per_rank=2 --set train.eval_episodes=4"
SMALL="$SMALL --set train.eval_trajectories=1 --set evolution.episodes_per_generation=8 --set evolution.fitness_episodes=4"
run() { # OUT [extra...]
  local out=$1; shift
  timeout 300 mpirun --oversubscribe -n 4 "$DMN" $SMALL --out "$out" "$@" > "$out.log" 2>&1
}

for P in 4 2; do
  run "$W/p$P" --set evolution.population=$P; rc=$?
  if [ $rc -eq 0 ] && [ "$(grep -c '^Generation ' "$W/p$P.log")" -eq 6 ] && grep -q "<- best" "$W/p$P.log" && grep -q "trained, constant odor" "$W/p$P.log"; then
    ok "P = $P at 4 ranks: 6 generation lines, population table, evaluation of the best"
  else bad "P = $P run (rc $rc)" "$W/p$P.log"; fi
  checks "P = $P" "$W/p$P" --results "$W/p$P/results.h5"
done

# the same config and seed twice: bitwise-identical population
run "$W/again" --set evolution.population=2
if /usr/bin/python3 - "$W/p2/checkpoint.h5" "$W/again/checkpoint.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
keys = ["population/params", "population/adam_m", "population/adam_v", "population/genome/edits", "population/genome/hyper", "lineage/fitness", "lineage/checksum"]
sys.exit(0 if all(np.array_equal(a[k][()], b[k][()]) for k in keys) else 1)
PY
then ok "same config and seed: bitwise-identical population (parameters, Adam, genomes, lineage)"; else bad "population not reproducible"; fi

# stop after 2 generations, resume: identical to the uninterrupted run
run "$W/s" --set evolution.population=2 --stop-after 2; rs=$?
timeout 300 mpirun --oversubscribe -n 4 "$DMN" $SMALL --set evolution.population=2 --resume "$W/s/checkpoint.h5" > "$W/s2.log" 2>&1; rr=$?
if [ $rs -eq 0 ] && [ $rr -eq 0 ] && grep -q "Stopped after 2 generations" "$W/s.log" && grep -q "Resuming population from" "$W/s2.log" \
   && /usr/bin/python3 - "$W/p2/checkpoint.h5" "$W/s/checkpoint.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
keys = ["population/params", "population/adam_m", "population/adam_v", "population/genome/edits", "population/pn_to_kc_col",
        "population/kc_to_mbon_col", "population/history/loss_total", "lineage/fitness", "lineage/id", "lineage/checksum", "lineage/inherited_checksum"]
bad = [k for k in keys if not np.array_equal(a[k][()], b[k][()])]
print(bad)
sys.exit(1 if bad else 0)
PY
then ok "stop after 2 generations + --resume == uninterrupted, bitwise (population, genomes, lineage)"
else bad "population resume (rc $rs $rr)" "$W/s2.log"; fi

# SIGUSR1 (Slurm's warning before the time limit) inside a generation: checkpoint after the current update, exit 0;
# the resumed run equals an uninterrupted one bit for bit (generations of 256 episodes: the signal, 0.3 s after start,
# must land inside one; with 64 the version 0.6 engine sometimes finished generation 1 first)
SIG="--set circuit.n_kc=200 --set sim.steps=1500 --set train.episodes=768 --set train.batch_per_rank=2 --set train.eval_episodes=2"
SIG="$SIG --set train.eval_trajectories=0 --set evolution.episodes_per_generation=256 --set evolution.fitness_episodes=2 --set evolution.population=2"
mpirun --oversubscribe -n 4 "$DMN" $SIG --out "$W/sig" > "$W/sig.log" 2>&1 &
mp=$!
for i in $(seq 1 300); do grep -q "^dmn evolve" "$W/sig.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -USR1 $mp; wait $mp; rsig=$?
timeout 300 mpirun --oversubscribe -n 4 "$DMN" $SIG --resume "$W/sig/checkpoint.h5" > "$W/sig2.log" 2>&1; rr=$?
timeout 300 mpirun --oversubscribe -n 4 "$DMN" $SIG --out "$W/sigref" > "$W/sigref.log" 2>&1
if [ $rsig -eq 0 ] && grep -Eq "Stopped by signal 10 in generation [0-9]+ after update" "$W/sig.log" && [ $rr -eq 0 ] \
   && /usr/bin/python3 - "$W/sig/checkpoint.h5" "$W/sigref/checkpoint.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
keys = ["population/params", "population/adam_m", "population/adam_v", "population/genome/edits", "lineage/fitness", "lineage/checksum"]
sys.exit(0 if all(np.array_equal(a[k][()], b[k][()]) for k in keys) else 1)
PY
then ok "SIGUSR1 inside a generation ($(grep -Eo 'generation [0-9]+ after update [0-9]*' "$W/sig.log")): checkpoint, exit 0; resume == uninterrupted, bitwise"
else bad "population signal stop/resume (rc $rsig $rr)" "$W/sig.log"; tail -3 "$W/sig2.log"; fi

# one individual starts without any KC->MBON synapse: selection replaces it
# (founders share the config's hyperparameters here, so the lesion is the difference)
timeout 300 mpirun --oversubscribe -n 4 "$DMN" "$SRC/tests/data/evolve/crippled.yaml" --set sim.steps=300 --set train.episodes=24 \
  --set train.batch_per_rank=2 --set train.eval_episodes=4 --set evolution.episodes_per_generation=8 --set evolution.fitness_episodes=4 \
  --set evolution.mutation_sigma=0 --out "$W/crip" > "$W/crip.log" 2>&1; rc=$?
[ $rc -eq 0 ] && ok "crippled population ran" || bad "crippled run (rc $rc)" "$W/crip.log"
checks "crippled individual" "$W/crip" --lesioned 1

# bad input: population not dividing the ranks; a plain checkpoint or another population size on --resume
timeout 60 mpirun --oversubscribe -n 4 "$DMN" $SMALL --set evolution.population=3 --out "$W/bad3" > "$W/bad3.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "evolution.population = 3 needs a rank count that is a multiple of it (got 4 ranks)" "$W/bad3.log" \
  && ok "population 3 at 4 ranks: clear error, exit 2" || bad "population 3 (rc $rc)" "$W/bad3.log"
timeout 60 mpirun --oversubscribe -n 4 "$DMN" $SMALL --set evolution.population=4 --resume "$W/p2/checkpoint.h5" > "$W/bad4.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "population of 2 individuals, but the config asks for 4" "$W/bad4.log" \
  && ok "--resume with another population size: clear error" || bad "resume P mismatch (rc $rc)" "$W/bad4.log"
timeout 120 mpirun --oversubscribe -n 2 "$DMN" $SMALL --set train.episodes=8 --out "$W/plain" > /dev/null 2>&1
timeout 60 mpirun --oversubscribe -n 4 "$DMN" $SMALL --set evolution.population=2 --resume "$W/plain/checkpoint.h5" > "$W/bad5.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "not a population checkpoint" "$W/bad5.log" && ok "--resume of a plain checkpoint into a population: clear error" \
  || bad "resume plain into population (rc $rc)" "$W/bad5.log"

timeout 60 mpirun --oversubscribe -n 2 "$DMN" $SMALL --evaluate "$W/p2/checkpoint.h5" > "$W/bad6.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "a population checkpoint (evolution)" "$W/bad6.log" && ok "--evaluate / --init of a population checkpoint: clear error" \
  || bad "evaluate population checkpoint (rc $rc)" "$W/bad6.log"

finish evolve_mpi
