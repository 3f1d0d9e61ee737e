#!/usr/bin/env bash
# dmn_mpi end to end at NP ranks: --verify, bad input exits non-zero on all
# ranks without hanging, --set, print-config round trip, --simulate
# reproducible across rank counts, gradient dump -> --init --loss-only.
set -u
DMN=$1 SRC=$2 NP=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
RUN="mpirun --oversubscribe -n $NP $DMN"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     | /' "$2" | head -20; }

# --verify
if timeout 120 $RUN --verify --out "$W/verify" > "$W/v.out" 2>&1 && grep -q "All checks passed" "$W/v.out" \
   && grep -q "$NP rank" "$W/v.out"; then ok "--verify at $NP ranks"; cat "$W/v.out"; else bad "--verify at $NP ranks" "$W/v.out"; fi

# bad input: every class exits 2 within the timeout with the exact message, once
for f in "$SRC"/tests/data/bad_*.yaml; do
  want=$(sed -n 's/^# expect: //p' "$f" | head -1)
  name=$(basename "$f")
  (cd "$SRC/tests/data" && timeout 60 $RUN "$name" --simulate > "$W/b.out" 2> "$W/b.err")
  rc=$?
  if [ $rc -eq 2 ] && grep -qF "dmn_mpi: error: $want" "$W/b.err" && [ "$(grep -c 'dmn_mpi: error' "$W/b.err")" -eq 1 ]; then
    ok "bad config $name -> exit 2"
  else
    echo "rc=$rc" >> "$W/b.err"; bad "bad config $name (wanted: $want)" "$W/b.err"
  fi
done
timeout 60 $RUN /nonexistent/run.yaml --simulate > /dev/null 2> "$W/m.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "/nonexistent/run.yaml: cannot open config file" "$W/m.err"; then ok "missing config names the path"; else bad "missing config" "$W/m.err"; fi
timeout 60 $RUN --simulate --set sim.dtt=2 > /dev/null 2> "$W/s.err"; rc=$?
if [ $rc -eq 2 ] && grep -qF "unknown key 'sim.dtt' (did you mean 'sim.dt'?)" "$W/s.err"; then ok "--set typo"; else bad "--set typo" "$W/s.err"; fi
timeout 60 $RUN --bogus > /dev/null 2> "$W/o.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "unknown option '--bogus'" "$W/o.err"; then ok "unknown option"; else bad "unknown option" "$W/o.err"; fi

# --help and the documentation agree: every option --help lists has a row in
# jobs/README.md's option table, and every row there is an option --help lists
if [ "$NP" -eq 1 ]; then
  $DMN --help > "$W/help.out" 2>&1
  h_opts=$(grep -oE '^  --[a-z-]+' "$W/help.out" | tr -d ' ' | sort -u)
  d_opts=$(grep -E '^\| `--' "$SRC/jobs/README.md" | grep -oE '`--[a-z-]+' | tr -d '`' | sort -u)
  missing=$(comm -23 <(echo "$h_opts") <(echo "$d_opts") | tr '\n' ' ')
  extra=$(comm -13 <(echo "$h_opts") <(echo "$d_opts") | tr '\n' ' ')
  if [ -n "$h_opts" ] && [ -z "$missing" ] && [ -z "$extra" ]; then ok "--help and jobs/README.md list the same $(echo "$h_opts" | wc -l) options"
  else echo "undocumented: $missing; documented but not in --help: $extra" > "$W/hd.out"; bad "--help vs jobs/README.md options" "$W/hd.out"; fi
fi

# print-config round trip (and --set reaches it)
$RUN --print-config --set circuit.n_kc=100 --set odor.field=gaussian > "$W/c1.yaml" 2>&1
$RUN "$W/c1.yaml" --print-config > "$W/c2.yaml" 2>&1
if cmp -s "$W/c1.yaml" "$W/c2.yaml" && grep -q "n_kc: 100" "$W/c1.yaml" && grep -q "field: gaussian" "$W/c1.yaml"; then
  ok "print-config round trip"; else bad "print-config round trip" "$W/c2.yaml"; fi
if cmp -s <($RUN --print-config) <($RUN "$SRC/configs/default.yaml" --print-config); then ok "configs/default.yaml = built-in defaults"
else bad "configs/default.yaml differs from the defaults"; fi
# ... and lists every key (a key missing from the file would silently take its default)
if diff <($RUN --print-config 2>/dev/null | grep -v '^#') <(grep -v '^#' "$SRC/configs/default.yaml") > "$W/keys.diff"; then
  ok "configs/default.yaml lists every key, as --print-config writes it"
else bad "configs/default.yaml is not --print-config's output: $(head -3 "$W/keys.diff" | tr '\n' ' ')"; fi
# every shipped config parses and validates (once: at one rank)
if [ "$NP" -eq 1 ]; then
  badcfg=""
  for f in "$SRC"/configs/*.yaml; do $RUN "$f" --print-config > /dev/null 2> "$W/cfg.err" || badcfg="$badcfg $(basename "$f"): $(head -1 "$W/cfg.err")"; done
  [ -z "$badcfg" ] && ok "every configs/*.yaml parses and validates" || bad "shipped configs:$badcfg"
fi

# --simulate: same episodes, same results, whatever the rank count
SIMARGS="--simulate --episodes 4 --set sim.steps=400 --set circuit.n_kc=200"
timeout 120 mpirun --oversubscribe -n 1 $DMN $SIMARGS --out "$W/s1" > "$W/s1.out" 2>&1
timeout 120 $RUN $SIMARGS --out "$W/sn" > "$W/sn.out" 2>&1
strip() { grep '^Episode' "$1" | sed 's/| [0-9.]* s$//'; }
if [ -s "$W/sn/simulation_data.h5" ] && [ "$(strip "$W/s1.out")" = "$(strip "$W/sn.out")" ] && [ "$(strip "$W/sn.out" | wc -l)" -eq 4 ]; then
  ok "--simulate at $NP ranks reproduces 1 rank"; else bad "--simulate reproducibility" "$W/sn.out"; diff <(strip "$W/s1.out") <(strip "$W/sn.out"); fi

# gradient dump, then --init FILE --loss-only gives the same loss
GA="--set sim.steps=300 --set circuit.n_kc=200"
timeout 120 $RUN $GA --gradient-dump "$W/g.h5" > "$W/g.out" 2>&1
timeout 120 $RUN $GA --init "$W/g.h5" --loss-only > "$W/l.out" 2>&1
l1=$(sed -n 's/^Gradient dump: loss \([^,]*\),.*/\1/p' "$W/g.out"); l2=$(sed -n 's/^loss //p' "$W/l.out")
if [ -n "$l1" ] && [ "$l1" = "$l2" ] && [ ! -e "$W/g.h5.tmp" ]; then ok "gradient dump -> --init --loss-only ($l1)"; else bad "dump/init loss ($l1 vs $l2)" "$W/l.out"; fi
timeout 60 $RUN $GA --init "$W/nothere.h5" --loss-only > /dev/null 2> "$W/i.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "$W/nothere.h5: cannot read parameter file" "$W/i.err"; then ok "missing --init file names the path"; else bad "missing --init" "$W/i.err"; fi
echo "garbage" > "$W/corrupt.h5"
timeout 60 $RUN $GA --init "$W/corrupt.h5" --loss-only > /dev/null 2> "$W/k.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "corrupt.h5: not a readable HDF5 file" "$W/k.err"; then ok "corrupt --init file named"; else bad "corrupt --init" "$W/k.err"; fi
timeout 60 $RUN --set circuit.n_kc=100 --set sim.steps=300 --init "$W/g.h5" --loss-only > /dev/null 2> "$W/z.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "dataset '/params/pn_to_kc' has" "$W/z.err"; then ok "mismatched --init names the dataset"; else bad "mismatched --init" "$W/z.err"; fi

# an exploding gradient (MODEL §8: large surrogate, full sensory feedback) stops with layer/step, no PETSc traceback
timeout 120 $RUN --set circuit.n_kc=200 --set circuit.surrogate_gamma=100 --set grad.sensory_feedback=full --set sim.steps=3000 \
  --gradient-dump "$W/x.h5" > /dev/null 2> "$W/x.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "non-finite gradient in the backward pass at step [0-9]* of 3000" "$W/x.err" && ! grep -q "PETSC ERROR" "$W/x.err" \
   && [ ! -e "$W/x.h5" ]; then ok "exploding gradient named (step, place), no file written"; else bad "exploding gradient (rc $rc)" "$W/x.err"; fi

# connectome data: a missing folder is one clear error on every rank count
timeout 60 $RUN --connectome-info --set connectome.source=flywire --set connectome.path=/nonexistent/flywire > /dev/null 2> "$W/d.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "data directory '/nonexistent/flywire' not found" "$W/d.err" && [ "$(grep -c 'dmn_mpi: error' "$W/d.err")" -eq 1 ]; then
  ok "missing connectome data names the folder"; else bad "missing connectome data (rc $rc)" "$W/d.err"; fi
# the synthetic circuit with lesions: summary on rank 0, records in the output file
cat > "$W/les.yaml" <<'YAML'
sim: {steps: 200}
lesions:
  - {name: no_kc_3, kind: ablate, layer: KC, select: "id=3"}
  - {kind: drop, projection: kc_to_mbon, fraction: 0.5, seed: 1}
YAML
if timeout 60 $RUN "$W/les.yaml" --connectome-info > "$W/ci.out" 2>&1 && grep -q "1. no_kc_3: ablate KC id=3 -> 1 neuron (ids 3), 26 synapses removed" "$W/ci.out" \
   && grep -q "2. drop_kc_to_mbon: drop kc_to_mbon fraction 0.5 seed 1, 16992 synapses removed" "$W/ci.out"; then
  ok "--connectome-info lists the lesions with exact counts"; else bad "--connectome-info lesions" "$W/ci.out"; fi
SHARED="$SRC/configs/connectomes"
if [ -d "$SHARED/fixture" ]; then
  if timeout 60 $RUN --connectome-info --set connectome.source=flywire --set connectome.path="$SHARED/fixture" > "$W/fx.out" 2>&1 \
     && grep -Eq "KC +200 " "$W/fx.out" && grep -Eq "pn_to_kc +data +403 " "$W/fx.out"; then
    ok "--connectome-info on the FlyWire fixture at $NP ranks"; else bad "fixture --connectome-info" "$W/fx.out"; fi
else
  echo "SKIP fixture tests: $SHARED/fixture not found (the data shipped in configs/connectomes)"
fi
if [ "$NP" = 2 ] && [ -d "$SHARED/flywire_v783" ]; then
  # the real right mushroom body trains for a few episodes; /connectome in the outputs
  if timeout 300 $RUN "$SRC/configs/flywire_right.yaml" --set connectome.path="$SHARED/flywire_v783" --set sim.steps=300 \
       --set train.episodes=8 --set train.batch_per_rank=2 --set train.eval_episodes=2 --set train.eval_trajectories=1 --out "$W/fw" > "$W/fw.out" 2>&1 \
     && grep -q "circuit ORN 2251 PN 139 KC 2597 MBON 96 DN 10" "$W/fw.out" \
     && grep -aq "pn_to_kc    data" "$W/fw/results.h5" && grep -aq "pn_to_kc    data" "$W/fw/checkpoint.h5"; then
    ok "configs/flywire_right.yaml trains 8 episodes at 2 ranks; /connectome/summary in results.h5 and checkpoint.h5"
  else bad "flywire_right training" "$W/fw.out"; fi
  # analysis/kc_classes.py on that fly: the three KC classes with their sizes,
  # and class rates that add up to the layer rate dmn recorded (rates_hz)
  if [ -s "$W/fw/checkpoint.h5" ] && timeout 120 $RUN "$SRC/configs/flywire_right.yaml" --set connectome.path="$SHARED/flywire_v783" \
       --set sim.steps=300 --simulate --episodes 2 --init "$W/fw/checkpoint.h5" --out "$W/fwsim" > "$W/fwsim.out" 2>&1 \
     && /usr/bin/python3 "$SRC/analysis/kc_classes.py" "$W/fwsim/simulation_data.h5" "$W/fw/checkpoint.h5" > "$W/kcc.out" 2>&1 \
     && /usr/bin/python3 - "$W/kcc.out" "$W/fwsim/simulation_data.h5" > "$W/kcc.chk" 2>&1 <<'PY'
import sys, h5py, numpy as np
rows = {l.split("|")[1].strip(): [c.strip() for c in l.split("|")[2:-1]] for l in open(sys.argv[1]) if l.startswith("| ") and "KCs" not in l}
assert {k: int(v[0]) for k, v in rows.items()} == {"gamma": 1271, "alpha/beta": 860, "alpha'/beta'": 466}, rows
f = h5py.File(sys.argv[2], "r")
dmn = np.mean([f[e]["rates_hz"][2] for e in f if e.startswith("episode_")])
ours = sum(int(v[0]) * float(v[3]) for v in rows.values()) / 2597
assert dmn > 0.1 and abs(ours - dmn) < 0.01 + 0.01 * dmn, (ours, dmn)
assert abs(sum(float(v[4].rstrip(" %")) for v in rows.values()) - 100) <= 2
print("KC rate %.3f Hz from the classes, %.3f Hz recorded" % (ours, dmn))
PY
  then ok "analysis/kc_classes.py: γ 1271, α/β 860, α′/β′ 466 KCs; $(cat "$W/kcc.chk")"
  else bad "analysis/kc_classes.py on the FlyWire fly" "$W/kcc.out"; cat "$W/kcc.chk" "$W/fwsim.out" 2> /dev/null | tail -5; fi
fi

echo "cli_np$NP: $pass passed, $fail failed"
[ $fail -eq 0 ]
