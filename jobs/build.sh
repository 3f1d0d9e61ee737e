#!/usr/bin/env bash
# Configure and build dmn into BUILD_DIR (default build/).  Extra arguments go to cmake.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "$@" > "$BUILD.cmake.log" 2>&1 || { cat "$BUILD.cmake.log"; exit 1; }
cmake --build "$BUILD" -j "$(nproc)" 2>&1 | grep -E "warning|error|Error" && { echo "dmn: build produced warnings or errors (see above)"; exit 1; } || true
test -x "$BUILD/dmn_mpi"
