#!/usr/bin/env bash
# The NeuroMechFly body's cost per solver setting (not part of the test
# suite): physics steps per second on one core and what each setting does to
# walking, for both scenes.  ~2 min.
#   tests/bench/nmf.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build
cmake --build "$B" --target bench_nmf > /dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); one core, CPU time; 2 s of walking per drive"
"$B/tests/bench_nmf" "$ROOT/configs/bodies/neuromechfly" nmf_scene_floor.xml
"$B/tests/bench_nmf" "$ROOT/configs/bodies/neuromechfly" nmf_scene_selfcol.xml | tail -n +3
