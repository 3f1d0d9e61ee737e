#!/usr/bin/env bash
# Faults a cluster job meets, injected on purpose (issue 18):
#  - a corrupt or truncated latest checkpoint, a missing one (a kill between
#    the two renames), both checkpoints bad: --resume falls back to
#    checkpoint.prev.h5 with a warning and ends bitwise identical to an
#    uninterrupted run, or stops with one clear error;
#  - SIGKILL of one rank at random points: every rank exits within 60 s and
#    resuming from what is on disk ends bitwise identical;
#  - disk full during a checkpoint write (a 600 kB tmpfs, when this user may
#    mount one): a clear error, the last good checkpoint untouched and
#    resumable; the output directory vanishing mid-run; an unwritable one;
#  - HDF5 inputs of the wrong shape, dtype, format version or without their
#    attributes, for --init, --resume and --evaluate.
# Usage: fault_tests.sh DMN_MPI H5PARAMS_CMP SOURCE_DIR [DMN_MERGE]
set -u
DMN=$1 CMP=$2 SRC=$3 MERGE=${4:-}
. "$SRC/tests/mpi/harness.sh"
PY=/usr/bin/python3
CORRUPT="$PY $SRC/tests/faults/h5corrupt.py"
SMALL="--set circuit.n_kc=200 --set sim.steps=400 --set train.episodes=24 --set train.eval_episodes=4 --set train.eval_trajectories=0"
SMALL="$SMALL --set output.checkpoint_every=8 --set train.batch_per_rank=2"
run() { # OUT [extra...]: 2 ranks, the small run
  local out=$1; shift
  timeout 120 mpirun -n 2 "$DMN" $SMALL --out "$out" "$@" > "$out.log" 2>&1
}
resume() { # CKPT LOG
  timeout 120 mpirun -n 2 "$DMN" $SMALL --resume "$1" > "$2" 2>&1
}
same() { "$CMP" "$W/ref/checkpoint.h5" "$1" --exact > /dev/null 2>&1; }

run "$W/ref"; rref=$?
run "$W/s" --stop-after 3; rs=$?   # checkpoints after updates 2 (-> .prev) and 3
if [ $rref -eq 0 ] && [ $rs -eq 0 ] && [ -s "$W/s/checkpoint.prev.h5" ] && $PY - "$W/s/checkpoint.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
ok = f.attrs["format_version"] == 2 and all("fnv1a64" in f[g][k].attrs for g in ("params", "adam_m", "adam_v", "average") for k in f[g])
sys.exit(0 if ok else 1)
PY
then ok "checkpoint.h5 + checkpoint.prev.h5 kept; format_version 2; every params/adam/average dataset carries its checksum"
else bad "checkpoint layout (rc $rref $rs)" "$W/s.log"; fi

# 1. a flipped byte in the latest checkpoint's data
cp -r "$W/s" "$W/c1"
$CORRUPT "$W/c1/checkpoint.h5" flip /average/kc_to_mbon
timeout 60 mpirun -n 2 "$DMN" $SMALL --init "$W/c1/checkpoint.h5" --loss-only > /dev/null 2> "$W/c1i.err"; rc=$?
[ $rc -eq 2 ] && grep -q "c1/checkpoint.h5: dataset '/average/kc_to_mbon' fails its checksum" "$W/c1i.err" \
  && ok "--init of a checkpoint with one flipped byte: exit 2, names the dataset and its checksum" || bad "--init corrupt (rc $rc)" "$W/c1i.err"
$CORRUPT "$W/c1/checkpoint.h5" flip /params/pn_to_kc
resume "$W/c1/checkpoint.h5" "$W/c1.log"; rc=$?
if [ $rc -eq 0 ] && grep -q "warning: .*c1/checkpoint.h5: dataset '/params/pn_to_kc' fails its checksum" "$W/c1.log" \
   && grep -q "resuming from the previous checkpoint .*checkpoint.prev.h5 (update 2): updates 3-3 are redone" "$W/c1.log" && same "$W/c1/checkpoint.h5"; then
  ok "--resume of a corrupt latest checkpoint: warning, falls back to checkpoint.prev.h5 (update 2), ends bitwise identical"
else bad "fallback from a corrupt checkpoint (rc $rc)" "$W/c1.log"; fi

# 2. truncated (a copy or a write cut short by something outside dmn)
cp -r "$W/s" "$W/c2"
$CORRUPT "$W/c2/checkpoint.h5" truncate 0.5
resume "$W/c2/checkpoint.h5" "$W/c2.log"; rc=$?
[ $rc -eq 0 ] && grep -q "not a readable HDF5 file" "$W/c2.log" && grep -q "resuming from the previous checkpoint" "$W/c2.log" && same "$W/c2/checkpoint.h5" \
  && ok "--resume of a truncated checkpoint: falls back, bitwise identical" || bad "fallback from a truncated checkpoint (rc $rc)" "$W/c2.log"

# 3. killed between the two renames: only checkpoint.prev.h5 is there
cp -r "$W/s" "$W/c3"
rm "$W/c3/checkpoint.h5"
resume "$W/c3/checkpoint.h5" "$W/c3.log"; rc=$?
[ $rc -eq 0 ] && grep -q "Resuming from .*c3/checkpoint.prev.h5: update 2" "$W/c3.log" && same "$W/c3/checkpoint.h5" \
  && ok "checkpoint.h5 missing, checkpoint.prev.h5 there: resumes from it, bitwise identical" || bad "resume from prev only (rc $rc)" "$W/c3.log"

# 4. both bad: one error naming each, no hang
cp -r "$W/s" "$W/c4"
$CORRUPT "$W/c4/checkpoint.h5" flip /adam_v/pn_to_kc
$CORRUPT "$W/c4/checkpoint.prev.h5" flip /params/theta
resume "$W/c4/checkpoint.h5" "$W/c4.log"; rc=$?
[ $rc -eq 2 ] && grep -q "error: .*c4/checkpoint.h5: dataset '/adam_v/pn_to_kc' fails its checksum" "$W/c4.log" \
  && grep -q "and the previous checkpoint too: .*checkpoint.prev.h5: dataset '/params/theta'" "$W/c4.log" \
  && ok "both checkpoints corrupt: exit 2 naming both datasets" || bad "both corrupt (rc $rc)" "$W/c4.log"

# 5. SIGKILL of one rank at random points of a longer run (several seconds even
# on an idle machine, so the kill lands mid-run; checkpoints every
# 2 updates, so kills land in checkpoint writes too); resume until done
LONG="--set circuit.n_kc=200 --set sim.steps=1000 --set train.episodes=480 --set train.batch_per_rank=2 --set train.eval_episodes=2"
LONG="$LONG --set train.eval_trajectories=0 --set output.checkpoint_every=8"
timeout 300 mpirun -n 2 "$DMN" $LONG --out "$W/kref" > "$W/kref.log" 2>&1
kills=0 survived=0
for trial in 1 2 3; do
  K=$W/k$trial
  mpirun -n 2 "$DMN" $LONG --out "$K" > "$K.log" 2>&1 &
  mp=$!
  for i in $(seq 1 300); do grep -q "^Episode" "$K.log" 2> /dev/null && break; sleep 0.05; done
  sleep "0.$((RANDOM % 9 + 1))"
  victim=$(pgrep -f -- "--out $K\$" | grep -v "^$mp\$" | shuf -n 1)
  t0=$(date +%s.%N)
  [ -n "$victim" ] && kill -9 "$victim" && kills=$((kills + 1))
  ( sleep 60; kill -9 $mp 2> /dev/null ) &
  watchdog=$!
  wait $mp; rk=$?
  kill $watchdog 2> /dev/null
  dt=$(echo "$(date +%s.%N) - $t0" | bc)
  left=$(pgrep -fc -- "--out $K\$")
  upd=$(grep -o "Update *[0-9]*" "$K.log" | tail -1 | tr -dc 0-9)
  # resume from whatever is on disk (nothing yet: start again)
  if [ -e "$K/checkpoint.h5" ] || [ -e "$K/checkpoint.prev.h5" ]; then
    timeout 300 mpirun -n 2 "$DMN" $LONG --resume "$K/checkpoint.h5" > "$K.r.log" 2>&1; rr=$?
  else
    timeout 300 mpirun -n 2 "$DMN" $LONG --out "$K" > "$K.r.log" 2>&1; rr=$?
  fi
  if [ $rk -ne 0 ] && [ "$left" -eq 0 ] && [ "$(echo "$dt < 60" | bc)" -eq 1 ] && [ $rr -eq 0 ] \
     && "$CMP" "$W/kref/checkpoint.h5" "$K/checkpoint.h5" --exact > /dev/null; then
    survived=$((survived + 1))
    ok "SIGKILL of rank pid $victim near update ${upd:-0}: all ranks gone in ${dt%??????} s (exit $rk); resumed, bitwise identical"
  else bad "SIGKILL trial $trial (exit $rk, $left ranks left, ${dt} s, resume rc $rr)" "$K.r.log"; fi
done
echo "SIGKILL: $kills injected, $survived survived"

# 5a. SIGKILL while a checkpoint is being written: a 23 MB checkpoint after
# every update; the kill lands when checkpoint.h5.tmp exists
BIG="--set circuit.n_kc=20000 --set sim.steps=100 --set train.episodes=64 --set train.batch_per_rank=2 --set output.checkpoint_every=4"
BIG="$BIG --set train.eval_episodes=2 --set train.eval_trajectories=0"
timeout 300 mpirun -n 2 "$DMN" $BIG --out "$W/bref" > "$W/bref.log" 2>&1
for trial in 1 2; do
  B=$W/bk$trial
  mpirun -n 2 "$DMN" $BIG --out "$B" > "$B.log" 2>&1 &
  mp=$!
  for i in $(seq 1 $((trial * 3))); do # the trial-th ... write: skip a few, then catch one in the act
    until [ -e "$B/checkpoint.h5.tmp" ] || ! kill -0 $mp 2> /dev/null; do :; done
    [ $i -lt $((trial * 3)) ] && while [ -e "$B/checkpoint.h5.tmp" ]; do :; done
  done
  caught=0; [ -e "$B/checkpoint.h5.tmp" ] && caught=1
  victim=$(pgrep -f -- "--out $B\$" | grep -v "^$mp\$" | shuf -n 1)
  [ -n "$victim" ] && kill -9 "$victim"
  wait $mp; rk=$?
  timeout 300 mpirun -n 2 "$DMN" $BIG --resume "$B/checkpoint.h5" > "$B.r.log" 2>&1; rr=$?
  if [ $caught -eq 1 ] && [ $rk -ne 0 ] && [ $rr -eq 0 ] && "$CMP" "$W/bref/checkpoint.h5" "$B/checkpoint.h5" --exact > /dev/null; then
    ok "SIGKILL during a checkpoint write (.tmp on disk): $(grep -o 'Resuming from [^:]*: update [0-9]*' "$B.r.log"); bitwise identical"
  else bad "kill during a checkpoint write (caught $caught, exit $rk, resume $rr)" "$B.r.log"; fi
done

# 5b. the same for evolution (population checkpoints, 2 individuals x 1 rank):
# a corrupt row falls back to the previous population; a SIGKILL mid-run resumes
EVO="--set circuit.n_kc=200 --set sim.steps=1000 --set train.episodes=400 --set train.batch_per_rank=2 --set train.eval_episodes=2"
EVO="$EVO --set train.eval_trajectories=0 --set evolution.population=2 --set evolution.episodes_per_generation=8 --set evolution.fitness_episodes=2"
popsame() { $PY - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
keys = ["population/params", "population/adam_m", "population/adam_v", "population/genome/hyper", "lineage/fitness", "lineage/checksum"]
sys.exit(0 if all(np.array_equal(a[k][()], b[k][()]) for k in keys) else 1)
PY
}
timeout 300 mpirun -n 2 "$DMN" $EVO --out "$W/eref" > "$W/eref.log" 2>&1
timeout 300 mpirun -n 2 "$DMN" $EVO --out "$W/es" --stop-after 3 > "$W/es.log" 2>&1
$CORRUPT "$W/es/checkpoint.h5" flip /population/params
timeout 300 mpirun -n 2 "$DMN" $EVO --resume "$W/es/checkpoint.h5" > "$W/es2.log" 2>&1; rc=$?
[ $rc -eq 0 ] && grep -q "'/population/params' row [01] fails its checksum" "$W/es2.log" && grep -q "Resuming population from .*checkpoint.prev.h5" "$W/es2.log" \
  && popsame "$W/eref/checkpoint.h5" "$W/es/checkpoint.h5" \
  && ok "population checkpoint with a corrupt row: falls back to checkpoint.prev.h5, ends bitwise identical (parameters, Adam, genomes, lineage)" \
  || bad "population fallback (rc $rc)" "$W/es2.log"
mpirun -n 2 "$DMN" $EVO --out "$W/ek" > "$W/ek.log" 2>&1 &
mp=$!
for i in $(seq 1 300); do grep -q "^Generation" "$W/ek.log" 2> /dev/null && break; sleep 0.05; done
sleep "0.$((RANDOM % 9 + 1))"
victim=$(pgrep -f -- "--out $W/ek\$" | grep -v "^$mp\$" | shuf -n 1)
[ -n "$victim" ] && kill -9 "$victim"
( sleep 60; kill -9 $mp 2> /dev/null ) &
watchdog=$!
wait $mp; rk=$?
kill $watchdog 2> /dev/null
gen=$(grep -c "^Generation" "$W/ek.log")
if [ -e "$W/ek/checkpoint.h5" ] || [ -e "$W/ek/checkpoint.prev.h5" ]; then
  timeout 300 mpirun -n 2 "$DMN" $EVO --resume "$W/ek/checkpoint.h5" > "$W/ek2.log" 2>&1; rr=$?
else
  timeout 300 mpirun -n 2 "$DMN" $EVO --out "$W/ek" > "$W/ek2.log" 2>&1; rr=$?
fi
[ $rk -ne 0 ] && [ "$(pgrep -fc -- "--out $W/ek\$")" -eq 0 ] && [ $rr -eq 0 ] && popsame "$W/eref/checkpoint.h5" "$W/ek/checkpoint.h5" \
  && ok "SIGKILL of a rank during evolution (after $gen generation lines): all ranks gone (exit $rk); resumed, bitwise identical" \
  || bad "SIGKILL during evolution (exit $rk, resume $rr)" "$W/ek2.log"

# 5c. SIGKILL during a lesion-study sweep task (what jobs/sweep.sbatch runs),
# resumed the way sweep.sbatch does it
SW="--set circuit.n_kc=200 --set sim.steps=1000 --set train.episodes=480 --set train.batch_per_rank=2 --set train.eval_episodes=2"
SW="$SW --set train.eval_trajectories=0 --set output.checkpoint_every=8 --sweep-index 2 --init $W/ref/checkpoint.h5"
timeout 300 mpirun -n 2 "$DMN" "$SRC/configs/lesion_sweep.yaml" $SW --set output.dir="$W/swref" > "$W/swref.log" 2>&1
mpirun -n 2 "$DMN" "$SRC/configs/lesion_sweep.yaml" $SW --set output.dir="$W/sw" > "$W/sw.log" 2>&1 &
mp=$!
for i in $(seq 1 300); do grep -q "^Episode" "$W/sw.log" 2> /dev/null && break; sleep 0.05; done
sleep "0.$((RANDOM % 9 + 1))"
victim=$(pgrep -f -- "output.dir=$W/sw\$" | grep -v "^$mp\$" | shuf -n 1)
[ -n "$victim" ] && kill -9 "$victim"
wait $mp; rk=$?
T=$W/sw/02_no_mbon_dn
R=(); { [ -s "$T/checkpoint.h5" ] || [ -s "$T/checkpoint.prev.h5" ]; } && R=(--resume "$T/checkpoint.h5")
timeout 300 mpirun -n 2 "$DMN" "$SRC/configs/lesion_sweep.yaml" $SW --set output.dir="$W/sw" "${R[@]}" > "$W/sw2.log" 2>&1; rr=$?
[ $rk -ne 0 ] && [ $rr -eq 0 ] && "$CMP" "$W/swref/02_no_mbon_dn/checkpoint.h5" "$T/checkpoint.h5" --exact > /dev/null \
  && grep -q "^  lesioned, retrained" "$W/sw2.log" \
  && ok "SIGKILL during a lesion-study sweep task (exit $rk): resumed as sweep.sbatch does, bitwise identical to the uninterrupted task" \
  || bad "SIGKILL in a sweep task (exit $rk, resume $rr)" "$W/sw2.log"

# 6. disk full during a checkpoint write: a 600 kB tmpfs holds one
# checkpoint (360 kB) but not the next one's temporary file beside it
mkdir -p "$W/full"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=600k tmpfs "$W/full" 2> /dev/null; then
  timeout 60 mpirun -n 2 "$DMN" $SMALL --out "$W/full/run" > "$W/full.log" 2>&1; rc=$?
  cp -r "$W/full/run" "$W/fullcopy"
  umount "$W/full"
  resume "$W/fullcopy/checkpoint.h5" "$W/full2.log"; rr=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "error: .*full/run/checkpoint.h5: cannot" "$W/full.log" \
     && grep -q "the last good checkpoint, .*(update 2), is untouched" "$W/full.log" && [ ! -e "$W/fullcopy/checkpoint.h5.tmp" ] \
     && [ $rr -eq 0 ] && grep -q "Resuming from .*fullcopy/checkpoint.h5: update 2" "$W/full2.log" && same "$W/fullcopy/checkpoint.h5"; then
    ok "disk full at the second checkpoint: exit $rc with the file named, no .tmp left, update 2 untouched; resumed elsewhere: bitwise identical"
  else bad "disk full (rc $rc, resume $rr)" "$W/full.log"; fi
else
  echo "skip disk-full test: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)"
fi

# 7. the output directory vanishes mid-run; an output path that cannot be a directory
mpirun -n 2 "$DMN" $LONG --out "$W/gone" > "$W/gone.log" 2>&1 &
mp=$!
for i in $(seq 1 300); do grep -q "^Episode" "$W/gone.log" 2> /dev/null && break; sleep 0.05; done
rm -rf "$W/gone"
( sleep 60; kill -9 $mp 2> /dev/null ) &
watchdog=$!
wait $mp; rc=$?
kill $watchdog 2> /dev/null
[ $rc -ne 0 ] && [ $rc -ne 137 ] && grep -q "error: .*gone/checkpoint.h5" "$W/gone.log" \
  && ok "output directory deleted mid-run: exit $rc naming the checkpoint, no hang" || bad "vanished output directory (rc $rc)" "$W/gone.log"
echo "a file" > "$W/afile"
timeout 60 mpirun -n 2 "$DMN" $SMALL --out "$W/afile/run" > "$W/nodir.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "afile/run" "$W/nodir.log" && ok "output directory that cannot be made: exit 2, one line naming it" || bad "unwritable output (rc $rc)" "$W/nodir.log"

# 8. HDF5 inputs: wrong shape, dtype, format version, missing attributes
$PY - "$W/s/checkpoint.h5" "$W" <<'PY'
import sys, shutil, h5py, numpy as np
src, w = sys.argv[1], sys.argv[2]
def variant(name, edit):
    shutil.copy(src, f"{w}/{name}.h5")
    with h5py.File(f"{w}/{name}.h5", "r+") as f:
        edit(f)
def shape(f):
    for g in ("params", "average"):
        x = f[g]["theta"][:]
        del f[g]["theta"]
        f[g]["theta"] = x[:-1]
def dtype(f):
    for g in ("params", "average"):
        n = f[g]["theta"].shape[0]
        del f[g]["theta"]
        f[g]["theta"] = np.array([b"x"] * n)
def version(f): f.attrs["format_version"] = 99.0
def noattr(f): del f.attrs["update"]
for n, e in (("shape", shape), ("dtype", dtype), ("version", version), ("noattr", noattr)):
    variant(n, e)
PY
for opt in --init --resume --evaluate; do
  for v in shape dtype version; do
    case $v in shape) want="dataset '/[a-z]*/theta' has [0-9]* entries" ;; dtype) want="cannot read dataset '/[a-z]*/theta'" ;;
                version) want="file format 99; this dmn .* reads formats up to 2" ;; esac
    cp "$W/$v.h5" "$W/in_$v.h5"
    extra=""; [ $opt = --init ] && extra="--loss-only"
    timeout 60 mpirun -n 2 "$DMN" $SMALL $opt "$W/in_$v.h5" $extra > "$W/in.log" 2>&1; rc=$?
    if [ $rc -eq 2 ] && grep -q "in_$v.h5: $want" "$W/in.log"; then ok "$opt of a file with the wrong $v: exit 2, names the file and what is wrong"
    else bad "$opt wrong $v (rc $rc)" "$W/in.log"; fi
  done
done
timeout 60 mpirun -n 2 "$DMN" $SMALL --resume "$W/noattr.h5" > "$W/na.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "noattr.h5: not a dmn checkpoint (attributes update" "$W/na.log" \
  && ok "--resume of a checkpoint without its update attribute: exit 2, says what is missing" || bad "missing attribute (rc $rc)" "$W/na.log"
timeout 60 mpirun -n 2 "$DMN" $SMALL --resume "$W/nothere/checkpoint.h5" > "$W/nr.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "nothere/checkpoint.h5: cannot read parameter file" "$W/nr.log" \
  && ok "--resume of a checkpoint that does not exist (nor its .prev): exit 2 naming it" || bad "missing --resume (rc $rc)" "$W/nr.log"
timeout 60 mpirun -n 2 "$DMN" $SMALL --set circuit.n_kc=300 --resume "$W/s/checkpoint.h5" > "$W/oc.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "different circuit" "$W/oc.log" && ok "--resume of another circuit's checkpoint: exit 2 (different circuit)" || bad "other circuit (rc $rc)" "$W/oc.log"

# 9. dmn_merge: a results file without its attributes, or whose metric attributes are strings
if [ -n "${MERGE:-}" ]; then
  mkdir -p "$W/mg/a" "$W/mg/b" "$W/mg/c"
  cp "$W/ref/results.h5" "$W/mg/a/"; cp "$W/ref/results.h5" "$W/mg/b/"; cp "$W/ref/results.h5" "$W/mg/c/"
  $PY - "$W/mg" <<'PY'
import sys, h5py
d = sys.argv[1]
with h5py.File(d + "/b/results.h5", "r+") as f: del f.attrs["dmn_version"]
with h5py.File(d + "/c/results.h5", "r+") as f:
    g = f["evaluation/trained"]
    for k in list(g.attrs):
        g.attrs[k] = "not a number"
PY
  "$MERGE" "$W/mg/m.h5" "$W/mg/a" "$W/mg/b" "$W/mg/c" > "$W/mg.out" 2> "$W/mg.err"; rc=$?
  if [ $rc -eq 3 ] && grep -q "b/results.h5: not a dmn results file" "$W/mg.err" && grep -q "Merged 2 of 3 runs" "$W/mg.out" && $PY - "$W/mg/m.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
s = f["summary"]
k = "retrained_success_rate"  # /evaluation/trained of each run
v = s[k][:]
sys.exit(0 if len(v) == 2 and np.isfinite(v[0]) and np.isnan(v[1]) else 1)
PY
  then ok "dmn_merge: a file without dmn_version named and skipped (exit 3); string-valued metrics merge as NaN, not garbage"
  else bad "dmn_merge bad attributes (rc $rc)" "$W/mg.err"; fi
fi

finish faults
