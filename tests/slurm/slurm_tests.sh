#!/usr/bin/env bash
# The cluster workflow on a real single-node Slurm (started here, stopped by
# PID at the end): a training job interrupted by USR1 (as --signal=B:USR1@120
# does before a time limit) checkpoints, requeues itself and finishes; a
# 3-condition lesion sweep submitted with jobs/submit_sweep.sh runs as an
# array and its dependent merge + report; dmn_merge with a corrupt, a missing
# and a mismatched input.  If Slurm cannot start here the test FAILS (it
# never passes silently).
#   slurm_tests.sh DMN_MPI DMN_MERGE SRC
set -u
DMN=$1 MERGE=$2 SRC=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
W=$(mktemp -d /tmp/dmn_slurm_XXXXXX)
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && [ -f "$2" ] && tail -25 "$2" | sed 's/^/     | /'; }
cleanup() { bash "$SRC/tests/slurm/slurm_down.sh" "$W/slurm"; rm -rf "$W"; }
trap cleanup EXIT
for b in slurmctld slurmd sbatch munged; do
  command -v $b > /dev/null || { echo "FAIL Slurm is not installed ($b missing; tests/run.sh installs slurmctld slurmd slurm-client munge)"; exit 1; }
done
if ! bash "$SRC/tests/slurm/slurm_up.sh" "$W/slurm" > "$W/up.log" 2>&1; then
  echo "FAIL Slurm could not be started on this machine:"; sed 's/^/     | /' "$W/up.log"; exit 1
fi
export SLURM_CONF=$W/slurm/slurm.conf
ok "single-node Slurm up ($(sinfo -h -o '%P %a %D %T'))"
cd "$W"
# wait_file FILE SECONDS: until FILE exists and is non-empty
wait_file() { for _ in $(seq 1 "$2"); do [ -s "$1" ] && return 0; sleep 1; done; return 1; }
# wait_jobs ID... : until none is queued or running, or only jobs whose
# dependency can never be satisfied are left (max 400 s)
wait_jobs() {
  for _ in $(seq 1 400); do
    left=$(squeue -h -o "%r" -j "$(IFS=,; echo "$*")" 2> /dev/null | grep -v DependencyNeverSatisfied)
    [ -z "$left" ] && return 0
    sleep 1
  done
  return 1
}

CIRCUIT="circuit:
  n_kc: 200
train:
  batch_per_rank: 2
  eval_episodes: 4
  eval_trajectories: 1"
# 1. training job: USR1 mid-run -> checkpoint, clean exit, requeue, resume, finish
#    (long enough that the signal, sent within a second of the first
#    progress line, arrives mid-run: ~200 episodes/s here since version 0.5)
cat > long.yaml <<YAML
$CIRCUIT
  episodes: 3000
sim:
  steps: 2000
output:
  checkpoint_every: 400
YAML
JOB=$(sbatch --parsable --ntasks=2 --output="$W/train_%j.out" --export=ALL,DMN_ROOT="$SRC",DMN="$DMN",DMN_RUN_DIR="$W/train" \
  "$SRC/jobs/train.sbatch" long.yaml)
LOG=$W/train_$JOB.out
for _ in $(seq 1 120); do grep -q "^Episode" "$LOG" 2> /dev/null && break; sleep 1; done
scancel --batch --signal=USR1 "$JOB"
# Slurm holds a requeued job for ~2 minutes; let it start again now (test speed only)
for _ in $(seq 1 60); do
  scontrol show job "$JOB" 2> /dev/null | grep -q "Restarts=1" && { scontrol update JobId="$JOB" StartTime=now 2> /dev/null; break; }
  sleep 1
done
wait_file "$W/train/results.h5" 300
wait_jobs "$JOB"
if [ -s "$W/train/results.h5" ] && grep -q "Stopped by signal 10 after update" "$LOG" && grep -q "requeueing to resume" "$LOG" \
   && grep -q "Resuming from $W/train/checkpoint.h5" "$LOG" && grep -q "Results saved" "$LOG"; then
  ok "train.sbatch: USR1 -> $(grep -o 'Stopped by signal 10 after update [0-9]*' "$LOG"), requeued, resumed, finished"
else bad "train.sbatch USR1 / requeue / resume" "$LOG"; fi

# 2. a 3-condition lesion study from that checkpoint: array + dependent merge + report
cat > tiny.yaml <<YAML
$CIRCUIT
  episodes: 8
sim:
  steps: 400
sweep:
  - name: intact
  - name: kc_mbon_half
    lesions: [{kind: scale, projection: kc_to_mbon, factor: 0.5}]
  - name: no_mbon_dn
    lesions: [{kind: scale, projection: mbon_to_dn, factor: 0}]
YAML
DMN_SWEEP_DIR=$W/sweep DMN="$DMN" bash "$SRC/jobs/submit_sweep.sh" tiny.yaml "$W/train/checkpoint.h5" --ntasks=1 > submit.out 2>&1
cat submit.out
ARRAY=$(sed -n 's/^array job \([0-9]*\):.*/\1/p' submit.out)
MJOB=$(sed -n 's/^merge job \([0-9]*\) .*/\1/p' submit.out)
if [ -n "$ARRAY" ] && [ -n "$MJOB" ]; then ok "submit_sweep.sh: array job $ARRAY, merge job $MJOB"; else bad "submit_sweep.sh" submit.out; fi
wait_jobs "$ARRAY" "$MJOB"
MLOG=$(ls "$W"/sweep/slurm_merge_*.out 2> /dev/null | head -1)
if [ -s "$W/sweep/merged.h5" ] && grep -q "Merged 3 of 3 runs" "$MLOG"; then
  ok "array of 3 conditions + dependent merge: $(grep -c '^ *[0-9] ' "$MLOG") rows"; sed -n '/idx/,/success rate/p' "$MLOG"
else bad "sweep array / merge" "${MLOG:-$W/sweep/slurm_${ARRAY}_0.out}"; ls -R "$W/sweep" | head -30; fi
if /usr/bin/python3 - "$W/sweep/merged.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
s = f["summary"]
names = [c.decode() for c in s["condition"][:]]
assert names == ["intact", "kc_mbon_half", "no_mbon_dn"], names
for col in ["intact", "lesioned", "retrained"]:
    sr, fd = s[col + "_success_rate"][:], s[col + "_mean_final_distance"][:]
    assert np.all((sr >= 0) & (sr <= 1)) and np.all((fd > 0) & (fd < 150)), (col, sr, fd)
# the intact baseline is the same parameters on the same circuit for every condition
assert np.allclose(s["intact_mean_final_distance"][:], s["intact_mean_final_distance"][0]), "intact baselines differ"
assert list(f["runs"].keys()) == ["00_intact", "01_kc_mbon_half", "02_no_mbon_dn"]
assert f["runs/02_no_mbon_dn"].attrs["sweep_name"] == b"no_mbon_dn"
print("merged summary: 3 rows, sane values, runs copied")
PY
then ok "merged.h5: 3 conditions with sane intact / lesioned / retrained values"; else bad "merged.h5 content"; fi
n_png=$(find "$W/sweep/report" -name '*.png' -size +1k 2> /dev/null | wc -l)
[ -s "$W/sweep/report/lesion_effect.png" ] && [ -s "$W/sweep/report/summary.csv" ] && [ "$n_png" -ge 13 ] \
  && ok "report: lesion_effect.png, summary.csv/md and $n_png non-empty PNGs" || bad "report figures ($n_png PNGs)" "$MLOG"

# 2b. a lesion study over seeds: --pretrain trains one intact fly per seed (an
#     array), each lesion task starts from its own seed's fly, all merged
cat > base.yaml <<YAML
$CIRCUIT
  episodes: 8
sim:
  steps: 300
YAML
cat > seeds.yaml <<YAML
base: base.yaml
sim:
  sweep_seeds: "1,2"
train:
  eval_at: "4"
sweep:
  - name: intact
  - name: no_lh
    lesions: [{kind: scale, projection: pn_to_dn, factor: 0}]
YAML
DMN_SWEEP_DIR=$W/seeds DMN="$DMN" bash "$SRC/jobs/submit_sweep.sh" seeds.yaml --pretrain base.yaml --ntasks=1 > submit2.out 2>&1
cat submit2.out
PRE=$(sed -n 's/^pretraining job \([0-9]*\):.*/\1/p' submit2.out)
ARRAY2=$(sed -n 's/^array job \([0-9]*\):.*/\1/p' submit2.out)
MJOB2=$(sed -n 's/^merge job \([0-9]*\) .*/\1/p' submit2.out)
wait_jobs "$PRE" "$ARRAY2" "$MJOB2"
if [ -n "$PRE" ] && [ -s "$W/seeds/intact_s1/checkpoint.h5" ] && [ -s "$W/seeds/intact_s2/checkpoint.h5" ] && [ -s "$W/seeds/merged.h5" ] \
   && grep -q "^--init $W/seeds/intact_s1/checkpoint.h5: its Polyak average" "$W/seeds/slurm_${ARRAY2}_2.out" \
   && grep -q "^--init $W/seeds/intact_s2/checkpoint.h5: its Polyak average" "$W/seeds/slurm_${ARRAY2}_3.out" \
   && /usr/bin/python3 - "$W/seeds/merged.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
s = f["summary"]
assert [c.decode() for c in s["condition"][:]] == ["intact", "intact", "no_lh", "no_lh"], s["condition"][:]
assert list(s["seed"][:]) == [1, 2, 1, 2], s["seed"][:]
assert sorted(f["runs"].keys()) == ["00_intact", "01_intact", "02_no_lh", "03_no_lh"], list(f["runs"].keys())
assert [f["runs"][k].attrs["seed"] for k in sorted(f["runs"].keys())] == [1, 2, 1, 2]
h = f["runs/02_no_lh/history"]
assert np.isfinite(h["eval_success"][:]).sum() == 1
PY
then ok "--pretrain: intact flies for seeds 1, 2 (array), 2 conditions x 2 seeds from their own seed's fly, merged"
else bad "lesion study over seeds with --pretrain" "$(ls "$W"/seeds/slurm_*.out 2> /dev/null | head -1)"; ls -R "$W/seeds" | head -30; fi
[ -s "$W/seeds/report/compensation.png" ] && ok "report: compensation.png over seeds" || bad "compensation.png"

# 3. dmn_merge: one corrupt and one missing input are named, the rest merged (exit 3)
mkdir -p part && cp -r "$W/sweep/00_intact" "$W/sweep/01_kc_mbon_half" part/
mkdir part/02_broken part/03_gone && head -c 3000 "$W/sweep/02_no_mbon_dn/results.h5" > part/02_broken/results.h5
"$MERGE" part.h5 part/*/ > merge.out 2> merge.err; rc=$?
if [ $rc -eq 3 ] && grep -q "02_broken/results.h5: not a readable HDF5 file" merge.err && grep -q "03_gone/results.h5: missing" merge.err \
   && grep -q "Merged 2 of 4 runs" merge.out && [ -s part.h5 ]; then ok "dmn_merge: corrupt + missing named, 2 of 4 merged, exit 3"
else echo "rc=$rc" >> merge.err; bad "dmn_merge partial" merge.err; fi
# a results file of another model version is refused, nothing written
cp -r "$W/sweep/01_kc_mbon_half" part/04_other
/usr/bin/python3 -c "import h5py; f = h5py.File('part/04_other/results.h5', 'r+'); f.attrs['model_contract'] = 'src/MODEL.md v9.9'"
"$MERGE" mism.h5 part/00_intact part/04_other > /dev/null 2> mism.err; rc=$?
[ $rc -eq 2 ] && grep -q "written by dmn .* (src/MODEL.md v9.9)" mism.err && [ ! -e mism.h5 ] && ok "dmn_merge refuses mixed model versions (exit 2)" \
  || { echo "rc=$rc" >> mism.err; bad "dmn_merge mismatch" mism.err; }
# another dmn release of the same model merges, says so, and records both releases
cp -r "$W/sweep/01_kc_mbon_half" part/05_release
/usr/bin/python3 -c "import h5py; f = h5py.File('part/05_release/results.h5', 'r+'); f.attrs['dmn_version'] = '9.9.9'"
"$MERGE" rel.h5 part/00_intact part/05_release > /dev/null 2> rel.err; rc=$?
[ $rc -eq 0 ] && grep -q "written by dmn 9.9.9.*the same model" rel.err \
  && /usr/bin/python3 -c "import h5py, sys; v = h5py.File('rel.h5', 'r').attrs['dmn_version']; v = v.decode() if isinstance(v, bytes) else v; sys.exit(0 if '9.9.9' in v and ', ' in v else 1)" \
  && ok "dmn_merge merges another dmn release of the same model (a note; both releases recorded)" \
  || { echo "rc=$rc" >> rel.err; bad "dmn_merge across releases" rel.err; }
# two sweeps merged into one report can share a sweep index: each condition
# keeps its own run (report.py once took the first run of that index for both)
cp -r "$W/sweep/01_kc_mbon_half" part/06_other
# (its lesioned final distances shifted by 1 mm, so the two runs surely differ)
/usr/bin/python3 -c "import h5py; f = h5py.File('part/06_other/results.h5', 'r+'); f.attrs['sweep_index'] = 0.0; f.attrs['sweep_name'] = 'other_sweep'
d = f['evaluation/initial/final_distance']; d[...] = d[...] + 1.0"
"$MERGE" coll.h5 part/00_intact part/06_other > coll.out 2>&1 && /usr/bin/python3 "$SRC/analysis/report.py" coll.h5 --out coll_report > coll_rep.out 2>&1 \
  && /usr/bin/python3 - coll_report/summary.csv part/00_intact/results.h5 part/06_other/results.h5 >> coll_rep.out 2>&1 <<'PY'
import csv, sys, h5py, numpy as np
rows = {r["condition"]: r for r in csv.DictReader(open(sys.argv[1]))}
assert set(rows) == {"intact", "other_sweep"}, rows.keys()
for name, path in [("intact", sys.argv[2]), ("other_sweep", sys.argv[3])]:
    want = h5py.File(path, "r")["evaluation/initial/final_distance"][:].mean()
    got = float(rows[name]["lesioned_final_mm"])
    assert abs(got - want) < 1e-3, (name, got, want)
a, b = (float(rows[n]["lesioned_final_mm"]) for n in ("intact", "other_sweep"))
assert abs(abs(a - b) - 1.0) < 1e-3, (a, b)
print("colliding index: each condition reports its own run")
PY
grep -q "each condition reports its own run" coll_rep.out && ok "dmn_merge + report.py: two sweeps sharing an index keep their own runs" \
  || bad "merged sweeps sharing an index" coll_rep.out
# the analysis on a single run too
/usr/bin/python3 "$SRC/analysis/report.py" "$W/train/results.h5" --out run_report > rr.out 2>&1 \
  && [ -s run_report/trajectory.png ] && [ -s run_report/neural_activity.png ] && [ -s run_report/odor_response.png ] \
  && [ -s run_report/learning_curves.png ] && ok "report.py on one run: 4 figures" || bad "report.py on a run" rr.out

echo "slurm: $pass passed, $fail failed"
[ $fail -eq 0 ]
