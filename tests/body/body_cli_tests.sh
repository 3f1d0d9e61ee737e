#!/usr/bin/env bash
# The NeuroMechFly body through dmn_mpi (issue 19): a small trained
# checkpoint evaluated in both bodies from the same starts on 2 ranks
# (/neuromechfly in evaluation.h5: the comparison table, both bodies'
# trajectories with joints, contacts, odor and spikes); --calibrate-body
# against the reduced body recovers known constants (self-consistency) and
# against NeuroMechFly produces a fit that beats the uncalibrated body and
# loads as a config; and the errors: training in the forward-only body, an
# unknown body kind, a body folder that is not there (2 ranks, no hang).
# Usage: body_cli_tests.sh DMN_MPI SOURCE_DIR
set -u
DMN=$1 SRC=$2
. "$SRC/tests/mpi/harness.sh"
PY=/usr/bin/python3
S="--set circuit.n_kc=200 --set sim.steps=400 --set train.episodes=24 --set train.batch_per_rank=2 --set train.eval_episodes=4"
S="$S --set train.eval_radii= --set init.pn_to_dn=20 --set init.kc_to_mbon=40"

# a small trained circuit, then the same 4 starts in both bodies (1 s episodes)
if timeout 120 mpirun -n 2 "$DMN" $S --out "$W/run" > "$W/train.log" 2>&1 \
  && timeout 300 mpirun -n 2 "$DMN" $S --set sim.steps=1000 --set body.nmf_eval_episodes=4 --set train.eval_trajectories=2 --set body.nmf_noslip_iterations=0 \
    --evaluate "$W/run/checkpoint.h5" --body neuromechfly --out "$W/eval" > "$W/eval.log" 2>&1; then
  if grep -q "The same 4 held-out starts in both bodies" "$W/eval.log" && grep -q "NeuroMechFly (MuJoCo)" "$W/eval.log" \
    && $PY - "$W/eval/evaluation.h5" > "$W/h5.out" 2>&1 <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
g = f["neuromechfly"]
n = g["start_pose"].shape[0]
assert n == 4, n
for body in ("reduced", "neuromechfly"):
    s = g[body]
    for k in ("final_distance", "mean_distance", "path_length", "seconds"):
        assert s[k].shape == (n,), (body, k)
    assert 0 <= s.attrs["success_rate"] <= 1
    t = s["trajectories"]
    assert sorted(t.keys()) == ["episode_0000", "episode_0001"], list(t.keys())
    e = t["episode_0000"]
    assert e["position"].shape == (1000, 3) and e["odor_input"].shape == (1000, 2) and e["dn_drive"].shape == (1000, 2)
    assert "spikes" in e and "KC" in e["spikes"]
# the reduced body's numbers equal the reduced evaluation of the same starts
red = g["reduced/final_distance"][:]
ev = f["evaluation/trained/final_distance"][:n]
assert np.array_equal(red, ev), (red, ev)
nm = g["neuromechfly"]
e = nm["trajectories/episode_0000"]
assert e["joint_angles"].shape == (1000, 42), e["joint_angles"].shape
assert e["foot_contacts"].shape == (1000, 6) and e["foot_contacts"][:].sum() > 0
z = e["position"][:, 2]
assert 0.3 < z.min() and z.max() < 2.0, (z.min(), z.max())   # thorax height: upright
assert nm["health"].shape == (n, 8) and nm.attrs["unhealthy_episodes"] == 0
# the NeuroMechFly fly moved (its path is not the reduced body's)
p = e["position"][:, :2]
assert np.hypot(*(p[-1] - p[0])) > 2.0
assert not np.allclose(p, g["reduced/trajectories/episode_0000/position"][:, :2])
print("reduced %.0f %%, NeuroMechFly %.0f %%, %.0f physics steps/s" % (100 * g["reduced"].attrs["success_rate"],
      100 * nm.attrs["success_rate"], nm.attrs["physics_steps_per_s"]))
PY
  then ok "--evaluate --body neuromechfly on 2 ranks: both bodies side by side in evaluation.h5 ($(cat "$W/h5.out"))"
  else bad "--evaluate --body neuromechfly output" "$W/h5.out"; tail -5 "$W/eval.log"; fi
else bad "train + --evaluate --body neuromechfly" "$W/eval.log"; fi

# self-consistency: the reduced body with known constants, fitted from MODEL §5's
timeout 240 mpirun -n 2 "$DMN" --set body.amplitude=0.35 --set body.traction=0.8 --set body.turn_gain=0.6 --set body.spot_turn_threshold=0.3 \
  --set body.spot_turn_width=0.4 --calibrate-body reduced --out "$W/cal_red" > "$W/cal_red.log" 2>&1
if read -r a t g th w < <(sed -n 's/.*recovered to \([^,]*\), \([^,]*\), \([^,]*\), \([^,]*\), \(.*\)$/\1 \2 \3 \4 \5/p' "$W/cal_red.log") \
  && awk -v a="$a" -v t="$t" -v g="$g" -v th="$th" -v w="$w" 'BEGIN { exit !(a < 1e-3 && t < 1e-3 && g < 1e-3 && th < 1e-3 && w < 1e-3) }'; then
  ok "--calibrate-body reduced recovers amplitude 0.35, traction 0.8, turn_gain 0.6, spot-turn threshold 0.3 and width 0.4 (relative errors $a $t $g $th $w)"
else bad "--calibrate-body reduced self-consistency" "$W/cal_red.log"; fi

# against NeuroMechFly (no-slip solver off: 3.5x faster, tests/bench/README.md): a fit, better than before, usable as a base
if timeout 400 mpirun -n 2 "$DMN" --set body.nmf_noslip_iterations=0 --calibrate-body --out "$W/cal_nmf" > "$W/cal_nmf.log" 2>&1 \
  && read -r e1 e0 < <(sed -n 's/.*weighted relative squared error \([0-9.]*\) (the config.s reduced body: \([0-9.]*\)).*/\1 \2/p' "$W/cal_nmf.log") \
  && awk -v a="$e1" -v b="$e0" 'BEGIN { exit !(a < 0.5 * b) }' \
  && printf 'base: %s\n' "$W/cal_nmf/body_calibration.yaml" > "$W/use.yaml" \
  && "$DMN" "$W/use.yaml" --print-config > "$W/use.out" 2>&1 && grep -q "turn_gain: 0\.[0-9]" "$W/use.out" \
  && grep -q "spot_turn_threshold: 0\.[0-9]" "$W/use.out"; then
  ok "--calibrate-body neuromechfly: error $e1 vs $e0 uncalibrated; $(grep -o 'amplitude [0-9.]* rad, traction [0-9.]*, turn_gain [0-9.]*, spot_turn_threshold [0-9.]*' "$W/cal_nmf.log"); the snippet loads as a base"
else bad "--calibrate-body neuromechfly" "$W/cal_nmf.log"; cat "$W/use.out" 2> /dev/null | tail -3; fi

# errors: one clear line, the right exit code, every rank gone
timeout 60 mpirun -n 2 "$DMN" $S --body neuromechfly --out "$W/nope" > "$W/e1.log" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "forward only" "$W/e1.log"; then ok "training with body.kind neuromechfly: exit 2, 'forward only'"
else bad "training in the forward-only body (rc $rc)" "$W/e1.log"; fi
timeout 60 mpirun -n 2 "$DMN" $S --body walker --print-config > "$W/e2.log" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "body.kind" "$W/e2.log" && grep -q "neuromechfly" "$W/e2.log"; then ok "--body walker: exit 2 naming body.kind and its choices"
else bad "unknown body kind (rc $rc)" "$W/e2.log"; fi
timeout 60 mpirun -n 2 "$DMN" $S --set body.nmf_dir=/no/such/body --evaluate "$W/run/checkpoint.h5" --body neuromechfly --out "$W/e3" \
  > "$W/e3.log" 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "/no/such/body" "$W/e3.log"; then ok "a missing body folder: exit 2 naming it, on 2 ranks without a hang"
else bad "missing body folder (rc $rc)" "$W/e3.log"; fi
finish body_cli
