#!/usr/bin/env bash
# NIR export (issue 21): a trained checkpoint exported with --export-nir is a
# valid NIR graph (analysis/nir_check.py, the checks nir.read(type_check=True)
# makes), and running the file alone on the odor dmn's fly sensed
# (analysis/nir_run.py) reproduces dmn's spike trains in every layer and the
# descending drive exactly — for the v2.1 model, without APL and without ORN
# adaptation, and with a silenced neuron.  A perturbed file must not pass,
# and the checker names what a malformed file gets wrong.
# Usage: nir_tests.sh DMN_MPI SOURCE_DIR
set -u
DMN=$1 SRC=$2
. "$SRC/tests/mpi/harness.sh"
PY=/usr/bin/python3
S="--set circuit.n_kc=200 --set sim.steps=400 --set train.episodes=24 --set train.batch_per_rank=2 --set train.eval_episodes=2"
S="$S --set train.eval_trajectories=0 --set init.pn_to_dn=20 --set init.kc_to_mbon=40"
roundtrip() { # NAME [extra...]
  local n=$1; shift
  timeout 120 mpirun -n 2 "$DMN" $S "$@" --out "$W/$n" > "$W/$n.log" 2>&1 \
    && timeout 60 mpirun -n 1 "$DMN" $S "$@" --export-nir "$W/$n/checkpoint.h5" "$W/$n.nir" > "$W/$n.x.log" 2>&1 \
    && timeout 60 mpirun -n 1 "$DMN" $S "$@" --simulate --init "$W/$n/checkpoint.h5" --out "$W/$n.sim" > "$W/$n.s.log" 2>&1 || return 2
  $PY "$SRC/analysis/nir_check.py" "$W/$n.nir" > "$W/$n.check" 2>&1 || return 3
  $PY "$SRC/analysis/nir_run.py" "$W/$n.nir" "$W/$n.sim/simulation_data.h5" > "$W/$n.run" 2>&1 || return 4
}
printf 'lesions:\n  - {kind: silence, layer: PN, select: all, fraction: 0.2, seed: 3}\n' > "$W/silence.yaml"
for v in "v21" "noapl --set circuit.apl=false" "noadapt --set sensing.adapt=0 --set sensing.receptor=gaussian" "silenced $W/silence.yaml"; do
  set -- $v; n=$1; shift
  roundtrip "$n" "$@"; rc=$?
  if [ $rc -eq 0 ] && grep -q "valid NIR graph" "$W/$n.check" && grep -q "identical spike trains and drive" "$W/$n.run"; then
    ok "$n: valid NIR ($(grep -o '[0-9]* nodes, [0-9]* edges' "$W/$n.check")); replay: $(grep -E '^  (KC|DN) ' "$W/$n.run" | tr -s ' ' | tr '\n' ';')"
  else bad "$n round trip (stage $rc)" "$W/$n.run"; cat "$W/$n.check" "$W/$n.x.log" 2> /dev/null | tail -5; fi
done
# the recorded spikes in NIR's data layout (NIRGraphData / EventData), read back
$PY "$SRC/analysis/nir_events.py" "$W/v21.sim/simulation_data.h5" "$W/events.h5" > "$W/ev.out" 2>&1 && $PY - "$W/events.h5" "$W/v21.sim/simulation_data.h5" <<'PY'
import sys, h5py, numpy as np
ev, sim = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert ev.attrs["__type__"] == "NIRGraphData"
dt = sim.attrs["dt_ms"]
for layer in ("ORN", "PN", "KC", "MBON", "DN"):
    g = ev[f"nodes/{layer.lower()}"]
    assert g.attrs["__type__"] == "NIRNodeData"
    o = g["observables/spikes"]
    assert o.attrs["__type__"] == "EventData" and o["idx"].shape == o["time"].shape and o.attrs["t_max"] == 400 * dt
    idx, t = o["idx"][0], o["time"][0]
    got = sorted(zip((t[idx >= 0] / dt).round().astype(int).tolist(), idx[idx >= 0].tolist()))
    e = sim["episode_0000/spikes/" + layer]
    assert got == sorted(zip(e["step"][()].tolist(), e["neuron"][()].tolist())), layer
    assert np.all(np.isinf(t[idx < 0]))
d = ev["nodes/output/observables/drive"]
assert d.attrs["__type__"] == "TimeGriddedData" and np.array_equal(d["data"][0], sim["episode_0000/dn_drive"][()])
PY
[ $? -eq 0 ] && ok "nir_events.py: the episode's spikes as NIR EventData per layer and the drive as TimeGriddedData, read back identical" \
  || bad "NIRData events" "$W/ev.out"
grep -q "written dense" "$W/v21.x.log" && ok "the dense-projection warning gives the size" || bad "no size warning" "$W/v21.x.log"

# a perturbed file does not pass the replay; malformed files are named by the checker
cp "$W/v21.nir" "$W/pert.nir"
$PY -c "import h5py; f = h5py.File('$W/pert.nir', 'r+'); w = f['node/nodes/kc_to_mbon/weight']; w[...] = w[()] * 1.05"
$PY "$SRC/analysis/nir_run.py" "$W/pert.nir" "$W/v21.sim/simulation_data.h5" > "$W/pert.run" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "DIFFERENT" "$W/pert.run" && ok "KC->MBON weights x 1.05: the replay reports different spike trains (exit 1)" || bad "perturbed file passed" "$W/pert.run"
cp "$W/v21.nir" "$W/bad.nir"
$PY - "$W/bad.nir" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
f["node/nodes/kc/units"] = b"mV"                        # an extra dataset in a node group
w = f["node/nodes/pn_to_kc/weight"][()]
del f["node/nodes/pn_to_kc/weight"]
f["node/nodes/pn_to_kc/weight"] = w[:, :-1]            # the wrong input width
del f["node/nodes/dn/tau_syn"]                         # a required parameter missing
PY
$PY "$SRC/analysis/nir_check.py" "$W/bad.nir" > "$W/bad.check" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "node kc (CubaLIF): dataset 'units' is not a CubaLIF parameter" "$W/bad.check" \
   && grep -q "type mismatch: pn.output (50,) -> pn_to_kc.input (49,)" "$W/bad.check" && grep -q "node dn (CubaLIF): dataset 'tau_syn' missing" "$W/bad.check"; then
  ok "nir_check.py names an extra dataset, a shape mismatch along an edge and a missing parameter (exit 1)"
else bad "checker on a malformed file (rc $rc)" "$W/bad.check"; fi
timeout 60 mpirun -n 1 "$DMN" $S --export-nir "$W/nothere.h5" "$W/x.nir" > "$W/ne.log" 2>&1; rc=$?
[ $rc -eq 2 ] && grep -q "nothere.h5: cannot read parameter file" "$W/ne.log" && [ ! -e "$W/x.nir" ] && ok "--export-nir of a missing checkpoint: exit 2, nothing written" \
  || bad "export of a missing checkpoint (rc $rc)" "$W/ne.log"
finish nir
