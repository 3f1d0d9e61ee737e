#!/usr/bin/env bash
# Loader benchmark: a generated Codex-style export of realistic size
# (139,255 neurons as in classification.csv.gz; N connection rows, one per
# neuropil, gzip) -> time and peak memory of `dmn_mpi --connectome-info`.
# Usage: tests/bench/connectome_load.sh [ROWS] (default 1,500,000 ~ 50 MB CSV)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ROWS=${1:-1500000}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
/usr/bin/python3 - "$W" "$ROWS" <<'PY'
import gzip, random, sys
w, rows = sys.argv[1], int(sys.argv[2])
random.seed(1)
N = 139255
ids = [720575940600000000 + 7 * i for i in range(N)]
# classes: 2,281 ORN, 685 PN, 5,177 KC, 96 MBON, 1,303 DN, the rest other
spec = [("olfactory", "sensory", 2281), ("ALPN", "central", 685), ("Kenyon_Cell", "central", 5177), ("MBON", "central", 96),
        ("", "descending", 1303)]
cls = []
for c, sc, n in spec: cls += [(c, sc)] * n
cls += [("other", "central")] * (N - len(cls))
gl = ["G%02d" % g for g in range(54)]
with gzip.open(f"{w}/classification.csv.gz", "wt") as f:
    f.write("root_id,flow,super_class,class,sub_class,cell_type,hemibrain_type,hemilineage,side,nerve\n")
    for i, (c, sc) in enumerate(cls):
        f.write(f"{ids[i]},intrinsic,{sc},{c},,,,,{'left' if i % 2 else 'right'},\n")
with gzip.open(f"{w}/consolidated_cell_types.csv.gz", "wt") as f:
    f.write("root_id,primary_type,additional_type(s)\n")
    for i, (c, sc) in enumerate(cls):
        t = {"olfactory": "ORN_" + gl[i % 54], "ALPN": gl[i % 54] + "_lPN", "Kenyon_Cell": "KCg-m", "MBON": "MBON%02d" % (i % 35)}.get(c, "T%d" % (i % 5000))
        f.write(f"{ids[i]},{t},\n")
nps = ["MB_CA_R", "MB_CA_L", "MB_ML_R", "LH_R", "AL_R", "SMP_L"]
with gzip.open(f"{w}/connections_princeton.csv.gz", "wt", compresslevel=3) as f:
    f.write("pre_root_id,post_root_id,neuropil,syn_count,nt_type\n")
    for r in range(rows):
        a, b = random.randrange(N), random.randrange(N)
        f.write(f"{ids[a]},{ids[b]},{random.choice(nps)},{random.randint(5, 60)},ACH\n")
PY
ls -l "$W"
SIZE=$(gzip -dc "$W/connections_princeton.csv.gz" | wc -c)
cmake --build "$ROOT/build" --target dmn_mpi > /dev/null
/usr/bin/time -f "%e s wall, %M KB peak RSS" "$ROOT/build/dmn_mpi" --connectome-info --set connectome.source=codex --set connectome.path="$W" \
  --set connectome.orn=class=olfactory --set connectome.pn=class=ALPN --set connectome.kc=class=Kenyon_Cell --set connectome.mbon=class=MBON \
  --set connectome.dn="super_class=descending cell_type=T400?" 2>&1 | tail -6
echo "connections: $ROWS rows, $((SIZE / 1000000)) MB uncompressed"
