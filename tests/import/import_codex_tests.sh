#!/usr/bin/env bash
# dmn_import_codex on a generated Codex-format folder (gzipped, one row per
# neuropil, a quoted field, a neuron outside the pathway): the compact files
# hold exactly the pathway's neurons and every edge among them, summed over
# neuropils (or only the chosen ones), ORN->PN and MBON->DN included; dmn_mpi
# loads them with orn_to_pn: data and mbon_to_dn: data; bad input is named.
#   import_codex_tests.sh DMN_IMPORT_CODEX DMN_MPI
set -u
IMP=$1 DMN=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
W=$(mktemp -d /tmp/dmn_import_XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && [ -f "$2" ] && tail -20 "$2" | sed 's/^/     | /'; }
C=$W/codex
mkdir -p "$C"
# ids: ORN 11-14 (DA1/DA2, both antennae), PN 21-22, KC 31-34, APL 41, MBON 51-52, DN 61-62, other 71
{
  echo "root_id,flow,super_class,class,sub_class,cell_type,hemibrain_type,hemilineage,side,nerve"
  for i in 11 12; do echo "$i,afferent,sensory,olfactory,,,,,left,AN"; done
  for i in 13 14; do echo "$i,afferent,sensory,olfactory,,,,,right,AN"; done
  echo "21,intrinsic,central,ALPN,uniglomerular,,,,right,"
  echo "22,intrinsic,central,ALPN,uniglomerular,,,,right,"
  for i in 31 32 33 34; do echo "$i,intrinsic,central,Kenyon_Cell,,,,,right,"; done
  echo "41,intrinsic,central,MB_CCN,,,,,right,"
  echo "51,intrinsic,central,MBON,,,,,right,"
  echo "52,intrinsic,central,MBON,,,,,left,"
  echo "61,efferent,descending,,,,,,right,"
  echo "62,efferent,descending,,,,,,left,"
  echo "71,intrinsic,central,LHLN,,\"a, quoted type\",,,right,"
} | gzip -c > "$C/classification.csv.gz"
{
  echo "root_id,primary_type,additional_type(s)"
  echo "11,ORN_DA1,"; echo "13,ORN_DA1,"; echo "12,ORN_DA2,"; echo "14,ORN_DA2,"
  echo "21,DA1_lPN,"; echo "22,DA2_lPN,"
  for i in 31 32 33 34; do echo "$i,KCg-m,"; done
  echo "41,APL,"; echo "51,MBON01,"; echo "52,MBON02,"; echo "61,DNa01,"; echo "62,DNa02,"; echo "71,\"LHLN, odd\","
} | gzip -c > "$C/consolidated_cell_types.csv.gz"
{
  echo "pre_root_id,post_root_id,neuropil,syn_count,nt_type"
  echo "11,21,AL_L,6,ACH"; echo "13,21,AL_R,7,ACH"; echo "12,22,AL_L,5,ACH"; echo "14,22,AL_R,9,ACH"
  echo "21,31,MB_CA_R,8,ACH"; echo "21,31,MB_PED_R,2,ACH"; echo "21,32,MB_CA_R,6,ACH"; echo "22,33,MB_CA_R,7,ACH"; echo "22,34,MB_CA_R,5,ACH"
  echo "21,71,LH_R,12,ACH"
  for k in 31 32 33 34; do echo "$k,51,MB_ML_R,6,ACH"; echo "$k,41,MB_VL_R,3,ACH"; done
  echo "33,52,MB_ML_R,4,ACH"; echo "41,31,MB_CA_R,9,GABA"
  echo "51,61,SMP_R,5,GLUT"; echo "52,62,SMP_L,6,GABA"; echo "51,62,SMP_R,1,GLUT"
  echo "71,61,LH_R,20,GABA"
} | gzip -c > "$C/connections_princeton_no_threshold.csv.gz"

"$IMP" "$C" "$W/out" > "$W/imp.out" 2>&1; rc=$?
cat "$W/imp.out"
n_neurons=$(($(wc -l < "$W/out/neurons.csv") - 1))
n_edges=$(($(wc -l < "$W/out/connections.csv") - 1))
if [ $rc -eq 0 ] && [ "$n_neurons" -eq 15 ] && [ "$n_edges" -eq 21 ] && ! grep -q "^71," "$W/out/neurons.csv" && ! grep -q ",71," "$W/out/connections.csv"; then
  ok "import: 15 pathway neurons (the LHLN left out), 21 pairs among them"
else bad "import counts (rc $rc, $n_neurons neurons, $n_edges pairs)" "$W/imp.out"; fi
grep -q "^21,31,ALL,10,ACH$" "$W/out/connections.csv" && ok "two neuropil rows of a pair summed (21->31: 8 + 2)" || bad "pair sum" "$W/out/connections.csv"
grep -q "^41,APL,APL,right,central,MB_CCN,,GABA$" "$W/out/neurons.csv" && grep -q "^51,MBON,MBON01,right,central,MBON,,GLUT$" "$W/out/neurons.csv" \
  && grep -q "^61,DN,DNa01,right,descending,,," "$W/out/neurons.csv" \
  && ok "classes from Codex (APL by primary_type, DN by super_class), transmitters voted from the rows" || bad "neuron rows" "$W/out/neurons.csv"
grep -q "ORN   -> PN           4" "$W/imp.out" && grep -q "MBON  -> DN           3" "$W/imp.out" && grep -q "MBON -> DN edges present" "$W/imp.out" \
  && ok "summary: ORN->PN and MBON->DN edges reported" || bad "summary" "$W/imp.out"
"$IMP" "$C" "$W/mb" --neuropil 'MB_*' > "$W/mb.out" 2>&1
n_mb=$(($(wc -l < "$W/mb/connections.csv") - 1))
[ "$n_mb" -eq 14 ] && grep -q "^21,31,MB_\*,10,ACH$" "$W/mb/connections.csv" && ok "--neuropil 'MB_*': 14 pairs in the mushroom body only" \
  || bad "--neuropil ($n_mb pairs)" "$W/mb/connections.csv"
"$IMP" "$C" "$W/min" --min-synapses 6 > /dev/null 2>&1
n_min=$(($(wc -l < "$W/min/connections.csv") - 1))
[ "$n_min" -eq 12 ] && ok "--min-synapses 6: 12 pairs" || bad "--min-synapses ($n_min pairs)"
# dmn reads the result, with the data's ORN->PN and MBON->DN edges
cat > "$W/cfg.yaml" <<YAML
connectome:
  source: flywire
  path: out
  orn: "class=ORN"
  pn: "class=PN"
  kc: "class=KC"
  mbon: "class=MBON"
  dn: "class=DN"
  orn_to_pn: data
  mbon_to_dn: data
YAML
timeout 60 "$DMN" "$W/cfg.yaml" --connectome-info > "$W/info.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "orn_to_pn" "$W/info.out" && grep -Eq "orn_to_pn +data" "$W/info.out" && grep -Eq "mbon_to_dn +data" "$W/info.out"; then
  ok "dmn_mpi --connectome-info loads the import (ORN->PN and MBON->DN from the data)"
else bad "dmn_mpi on the import (rc $rc)" "$W/info.out"; fi
# bad input: named
"$IMP" "$W/nothere" "$W/x" > /dev/null 2> "$W/e1"; rc=$?
[ $rc -eq 1 ] && grep -q "nothere/classification.csv\[.gz\] not found" "$W/e1" && ok "missing download folder named" || bad "missing folder (rc $rc)" "$W/e1"
mkdir -p "$W/broken" && cp "$C"/*.gz "$W/broken/"
printf 'root_id,super_class,class\n11,sensory,olfactory\nx12,sensory,olfactory\n' | gzip -c > "$W/broken/classification.csv.gz"
"$IMP" "$W/broken" "$W/y" > /dev/null 2> "$W/e2"; rc=$?
[ $rc -eq 1 ] && grep -q "broken/classification.csv.gz:3" "$W/e2" && [ ! -e "$W/y/neurons.csv" ] && ok "a bad root_id names file and line, nothing written" \
  || bad "bad row (rc $rc)" "$W/e2"
"$IMP" > /dev/null 2>&1; [ $? -eq 2 ] && ok "no arguments: usage, exit 2" || bad "usage"
echo "import_codex: $pass passed, $fail failed"
[ $fail -eq 0 ]
