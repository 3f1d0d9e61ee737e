#!/usr/bin/env bash
# Training at several rank counts: bitwise reproducibility (same config,
# seed, ranks), the same parameters up to summation order at 1, 2 and 4
# ranks with the same global batch, and resume == uninterrupted, bit for bit.
set -u
DMN=$1 CMP=$2
. "$(dirname "$0")/harness.sh"
SMALL="--set circuit.n_kc=200 --set sim.steps=400 --set train.episodes=24 --set train.eval_episodes=4 --set train.eval_trajectories=2"
SMALL="$SMALL --set output.checkpoint_every=8"
run() { # NP B OUT [extra...]
  local np=$1 b=$2 out=$3; shift 3
  timeout 300 mpirun --oversubscribe -n "$np" "$DMN" $SMALL --set train.batch_per_rank="$b" --out "$out" "$@" > "$out.log" 2>&1
}

run 2 2 "$W/a"; ra=$?
run 2 2 "$W/b"; rb=$?
if [ $ra -eq 0 ] && [ $rb -eq 0 ] && "$CMP" "$W/a/checkpoint.h5" "$W/b/checkpoint.h5" --exact > "$W/c.out"; then
  ok "same config, seed and 2 ranks: bitwise-identical parameters ($(cat "$W/c.out"))"
else bad "bitwise reproducibility (rc $ra $rb)" "$W/a.log"; cat "$W/c.out" 2>/dev/null; fi
for f in results.h5 training_results.json config.yaml; do
  [ -s "$W/a/$f" ] && ok "output $f written" || bad "output $f missing" "$W/a.log"
done
grep -q '"training_losses"' "$W/a/training_results.json" && grep -q '"final_metrics"' "$W/a/training_results.json" \
  && ok "training_results.json has training_losses and final_metrics" || bad "json content"
# train.eval_at: held-out evaluations during training, recorded where they happened, not perturbing training
run 2 2 "$W/ea" --set train.eval_at=8,16 --set train.eval_radii=10,20; rea=$?
if [ $rea -eq 0 ] && "$CMP" "$W/a/checkpoint.h5" "$W/ea/checkpoint.h5" --exact > /dev/null && /usr/bin/python3 - "$W/ea" <<'PY'
import sys, json, h5py, numpy as np
d = sys.argv[1]
r = h5py.File(d + "/results.h5", "r")
ep, es = r["history/episodes"][:], r["history/eval_success"][:]
assert list(ep[np.isfinite(es)]) == [8, 16], (ep, es)          # batch 4: updates ending at 8 and 16 episodes
assert np.isnan(es[~np.isin(ep, [8, 16])]).all()
j = json.load(open(d + "/training_results.json"))
assert [p["episodes"] for p in j["held_out_curve"]] == [0, 8, 16], j["held_out_curve"]
g = r["evaluation/by_start_distance"]
assert list(g["start_distance"][:]) == [10, 20] and g.attrs["episodes_each"] == 4
assert [b["start_distance"] for b in j["by_start_distance"]] == [10, 20]
PY
then ok "train.eval_at: held-out success after 8 and 16 episodes (history, JSON), parameters unchanged; by-distance table in results.h5 and JSON"
else bad "train.eval_at / by_start_distance (rc $rea)" "$W/ea.log"; fi
grep -q "^Episode .*| Update .*| Loss:" "$W/a.log" && grep -q "untrained (initial)" "$W/a.log" && grep -q "constant odor" "$W/a.log" \
  && ok "progress lines and evaluation table printed" || bad "progress/evaluation printout" "$W/a.log"

# the same global batch (4) at 1, 2 and 4 ranks: same episodes, same parameters up to summation order
run 1 4 "$W/r1"; run 4 1 "$W/r4"; run 2 2 "$W/r2"
for n in 2 4; do
  if "$CMP" "$W/r1/checkpoint.h5" "$W/r$n/checkpoint.h5" --tol 1e-9 > "$W/x$n.out"; then
    ok "1 vs $n ranks, global batch 4: $(cat "$W/x$n.out")"
  else bad "1 vs $n ranks differ: $(cat "$W/x$n.out")" "$W/r$n.log"; fi
done

# connectome variants: a per-episode random synapse dropout keyed by the global
# episode, so 1 and 2 ranks train on the same variants; and they change training
run 1 4 "$W/v1" --set connectome.variant_dropout=0.2; run 2 2 "$W/v2" --set connectome.variant_dropout=0.2
if "$CMP" "$W/v1/checkpoint.h5" "$W/v2/checkpoint.h5" --tol 1e-9 > "$W/v.out"; then
  ok "connectome variants: 1 vs 2 ranks, $(cat "$W/v.out")"
else bad "connectome variants differ across rank counts: $(cat "$W/v.out")" "$W/v2.log"; fi
if ! "$CMP" "$W/r1/checkpoint.h5" "$W/v1/checkpoint.h5" --tol 1e-9 > /dev/null; then ok "variants change the trained parameters"
else bad "variant dropout had no effect"; fi

# resume: stop after 3 of 6 updates (checkpoint), resume, compare with the uninterrupted run
run 2 2 "$W/s" --stop-after 3; rs=$?
timeout 300 mpirun --oversubscribe -n 2 "$DMN" $SMALL --set train.batch_per_rank=2 --resume "$W/s/checkpoint.h5" > "$W/s2.log" 2>&1; rr=$?
if [ $rs -eq 0 ] && [ $rr -eq 0 ] && grep -q "Resuming from" "$W/s2.log" && "$CMP" "$W/a/checkpoint.h5" "$W/s/checkpoint.h5" --exact > "$W/rc.out"; then
  ok "stop after 3 updates + --resume == uninterrupted, bitwise ($(cat "$W/rc.out"))"
else bad "resume differs (rc $rs $rr): $(cat "$W/rc.out" 2>/dev/null)" "$W/s2.log"; fi
[ ! -e "$W/a/checkpoint.h5.tmp" ] && ok "no .tmp left behind" || bad ".tmp checkpoint left"

# validation (train.validate_every): best.h5 holds the parameters of the best validated update,
# training itself is untouched, and stop + resume reproduces the run including best.h5
VAL="--set train.validate_every=2 --set train.validate_episodes=4 --set init.pn_to_dn=3"
run 2 2 "$W/val" $VAL; rv=$?
run 2 2 "$W/vs" $VAL --stop-after 3; rvs=$?
timeout 300 mpirun --oversubscribe -n 2 "$DMN" $SMALL --set train.batch_per_rank=2 $VAL --resume "$W/vs/checkpoint.h5" > "$W/vs2.log" 2>&1; rvr=$?
run 2 2 "$W/nov" --set init.pn_to_dn=3
if [ $rv -eq 0 ] && [ -s "$W/val/best.h5" ] && grep -q "^Validation after update 2: success" "$W/val.log" \
   && grep -q "best validation (upd" "$W/val.log" && /usr/bin/python3 - "$W/val" <<'PY'
import sys, json, h5py, numpy as np
d = sys.argv[1]
r, b = h5py.File(d + "/results.h5", "r"), h5py.File(d + "/best.h5", "r")
vs, vf = r["history/val_success"][:], r["history/val_median_final"][:]
done = np.isfinite(vs)
bu = int(r.attrs["best_update"])
best = max(range(len(vs)), key=lambda u: (vs[u], -vf[u]) if done[u] else (-1, 0))  # first best: ties keep the earlier update
ok = (list(np.nonzero(done)[0] + 1) == [2, 4, 6] and bu == best + 1 and int(b.attrs["update"]) == bu
      and "best_validation" in r["evaluation"] and json.load(open(d + "/training_results.json"))["final_metrics"]["best_validation_update"] == bu)
sys.exit(0 if ok else 1)
PY
then ok "validation every 2 updates: history val_success at updates 2, 4, 6; best.h5 = the best validated update; evaluated and reported"
else bad "validation / best.h5 (rc $rv)" "$W/val.log"; fi
if "$CMP" "$W/val/checkpoint.h5" "$W/nov/checkpoint.h5" --exact > /dev/null; then ok "validation does not change training (bitwise)"
else bad "validation changed the trained parameters"; fi
if [ $rvs -eq 0 ] && [ $rvr -eq 0 ] && "$CMP" "$W/val/checkpoint.h5" "$W/vs/checkpoint.h5" --exact > /dev/null \
   && "$CMP" "$W/val/best.h5" "$W/vs/best.h5" --exact > /dev/null; then ok "with validation: stop + --resume == uninterrupted, checkpoint and best.h5 bitwise"
else bad "validation resume (rc $rvs $rvr)" "$W/vs2.log"; fi
cp -r "$W/val" "$W/nob" && rm "$W/nob/best.h5"
timeout 300 mpirun --oversubscribe -n 2 "$DMN" $SMALL --set train.batch_per_rank=2 $VAL --set train.episodes=32 --resume "$W/nob/checkpoint.h5" > "$W/nob.log" 2>&1; rnb=$?
if [ $rnb -eq 0 ] && { grep -q "warning: no evaluation of the best validated parameters" "$W/nob.log" || [ -s "$W/nob/best.h5" ]; }; then
  ok "best.h5 deleted before a resume: the run still finishes and evaluates (warning instead of an error)"
else bad "resume without best.h5 (rc $rnb)" "$W/nob.log"; fi

# parameter averaging (train.average): training unchanged, the checkpoint holds
# avg = a avg + (1 - a) p from the initial parameters, and resume keeps it
AVG="--set train.average=0.5 --set train.validate_every=3 --set train.validate_episodes=4"
run 2 2 "$W/avg" $AVG; ravg=$?
run 2 2 "$W/avs" $AVG --stop-after 2; ravs=$?
timeout 300 mpirun --oversubscribe -n 2 "$DMN" $SMALL --set train.batch_per_rank=2 $AVG --resume "$W/avs/checkpoint.h5" > "$W/avs2.log" 2>&1; ravr=$?
run 2 2 "$W/av1" $AVG --set train.episodes=4
timeout 120 mpirun --oversubscribe -n 2 "$DMN" $SMALL --gradient-dump "$W/init.h5" > /dev/null 2>&1
if [ $ravg -eq 0 ] && "$CMP" "$W/avg/checkpoint.h5" "$W/a/checkpoint.h5" --exact > /dev/null && grep -q "trained (average)" "$W/avg.log" \
   && /usr/bin/python3 - "$W/av1/checkpoint.h5" "$W/init.h5" "$W/avg/checkpoint.h5" "$W/avs/checkpoint.h5" <<'PY'
import sys, h5py, numpy as np
one, init, full, resumed = (h5py.File(x, "r") for x in sys.argv[1:])
g = list(one["params"].keys())
err = max(np.max(np.abs(one["average"][k][:] - (0.5 * init["params"][k][:] + 0.5 * one["params"][k][:])), initial=0) for k in g)
moved = any(np.any(full["average"][k][:] != full["params"][k][:]) for k in g)
same = all(np.array_equal(full["average"][k][:], resumed["average"][k][:]) for k in g)
sys.exit(0 if err < 1e-12 and moved and same else 1)
PY
then ok "train.average: training unchanged (bitwise), after one update avg = (init + p)/2, stop + --resume keeps the average bitwise, trained row = average"
else bad "parameter averaging (rc $ravg $ravs $ravr)" "$W/avg.log"; fi

# a signal (Slurm --signal=USR1@120, scancel) mid-run: checkpoint, clean exit, resume == uninterrupted
# (400 episodes: about 2 s at version 0.5's speed, so the signal lands mid-run)
SIG="--set circuit.n_kc=200 --set sim.steps=2000 --set train.episodes=400 --set train.batch_per_rank=2 --set train.eval_episodes=2 --set train.eval_trajectories=0"
mpirun --oversubscribe -n 2 "$DMN" $SIG --out "$W/sig" > "$W/sig.log" 2>&1 &
mp=$!
for i in $(seq 1 300); do grep -q "^Episode" "$W/sig.log" 2>/dev/null && break; sleep 0.1; done
kill -USR1 $mp; wait $mp; rsig=$?
timeout 300 mpirun --oversubscribe -n 2 "$DMN" $SIG --resume "$W/sig/checkpoint.h5" > "$W/sig2.log" 2>&1; rr=$?
timeout 300 mpirun --oversubscribe -n 2 "$DMN" $SIG --out "$W/sigref" > "$W/sigref.log" 2>&1
if [ $rsig -eq 0 ] && grep -q "Stopped by signal 10 after update" "$W/sig.log" && [ $rr -eq 0 ] \
   && "$CMP" "$W/sig/checkpoint.h5" "$W/sigref/checkpoint.h5" --exact > "$W/sig.out"; then
  ok "SIGUSR1 mid-run: $(grep -o 'after update [0-9]*' "$W/sig.log"), checkpoint, exit 0; resume == uninterrupted ($(cat "$W/sig.out"))"
else bad "signal stop/resume (rc $rsig $rr): $(cat "$W/sig.out" 2>/dev/null)" "$W/sig.log"; fi

# --evaluate on a checkpoint; a gradient dump is refused as a checkpoint by --resume
timeout 120 mpirun --oversubscribe -n 2 "$DMN" $SMALL --evaluate "$W/a/checkpoint.h5" > "$W/e.log" 2>&1 \
  && grep -q "trained, constant odor" "$W/e.log" && ok "--evaluate CKPT" || bad "--evaluate" "$W/e.log"
# ... writes evaluation.h5 beside the checkpoint: the printed success rate, per-episode metrics, the trajectories
if /usr/bin/python3 - "$W/a/evaluation.h5" "$W/e.log" <<'PY'
import sys, re, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
fd = f["evaluation/trained/final_distance"][:]
printed = float(re.search(r"^  trained +([0-9.]+)%", open(sys.argv[2]).read(), re.M).group(1))
ok = (len(fd) == 4 and np.all(np.isfinite(fd)) and abs(100 * np.mean(fd < 5.0) - printed) < 0.06
      and len(f["evaluation/trajectories"]) == 2 and "history" not in f and "config" in f)
sys.exit(0 if ok else 1)
PY
then ok "--evaluate writes evaluation.h5 beside the checkpoint (4 episodes, success as printed, 2 trajectories)"
else bad "evaluation.h5" "$W/e.log"; fi
timeout 120 mpirun --oversubscribe -n 2 "$DMN" $SMALL --gradient-dump "$W/g.h5" > /dev/null 2>&1
timeout 120 mpirun --oversubscribe -n 2 "$DMN" $SMALL --resume "$W/g.h5" > "$W/gr.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "not a dmn checkpoint" "$W/gr.log" && ok "--resume of a gradient dump: clear error" || bad "resume of dump (rc $rc)" "$W/gr.log"

finish train_mpi
