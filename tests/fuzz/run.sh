#!/usr/bin/env bash
# Fuzz the input parsers with libFuzzer (clang-14, ASan + UBSan): the YAML
# config parser (fuzz_config), the connectome CSV reader (fuzz_csv) and the
# neuron selector grammar (fuzz_select).  Each runs FUZZ_SECONDS (default 60)
# from a seed corpus (the shipped configs, the bad-config examples, heads of
# the shipped connectome tables, tests/fuzz/seeds/) after replaying every
# saved regression input (tests/fuzz/regressions/<harness>/).  A crash, leak
# or UB report fails the run and leaves the input in $FUZZ_DIR/crash-*:
# copy it into regressions/ once fixed.
#   tests/fuzz/run.sh [harness...]        FUZZ_SECONDS=600 for a longer run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CC=${CC:-clang-14}
SECS=${FUZZ_SECONDS:-60}
OUT=${FUZZ_DIR:-$ROOT/build-fuzz}
mkdir -p "$OUT"
command -v "$CC" > /dev/null || { echo "fuzz: $CC not found (apt-get install clang-14 libclang-rt-14-dev)"; exit 1; }
FLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$ROOT/src" -std=c11 -D_GNU_SOURCE)
build() { # name sources... -- libs...
  local name=$1; shift
  "$CC" "${FLAGS[@]}" -o "$OUT/$name" "$@"
}
build fuzz_config "$ROOT/tests/fuzz/fuzz_config.c" "$ROOT/src/config.c" "$ROOT/src/config_parse.c" "$ROOT/src/util.c" -lyaml -lm
build fuzz_csv "$ROOT/tests/fuzz/fuzz_csv.c" "$ROOT/src/csv.c" "$ROOT/src/util.c" -lz -lm
build fuzz_select "$ROOT/tests/fuzz/fuzz_select.c" "$ROOT/src/select.c" "$ROOT/src/util.c" -lm
# seed corpora (read only) and a fresh working corpus per harness
S=$OUT/seeds
rm -rf "$S" && mkdir -p "$S/config" "$S/csv" "$S/select"
cp "$ROOT"/configs/*.yaml "$ROOT"/tests/data/*.yaml "$S/config/"
for f in "$ROOT"/configs/connectomes/*/*.csv; do head -c 4000 "$f" > "$S/csv/$(basename "$(dirname "$f")")_$(basename "$f")"; done
cp "$ROOT"/tests/fuzz/seeds/csv/* "$S/csv/" 2> /dev/null || true
cp "$ROOT"/tests/fuzz/seeds/select/* "$S/select/"
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(config csv select)
fail=0
for h in "${HARNESSES[@]}"; do
  R=$ROOT/tests/fuzz/regressions/$h
  if [ -d "$R" ] && [ -n "$(ls "$R")" ]; then
    if "$OUT/fuzz_$h" "$R"/* > "$OUT/$h.regressions.log" 2>&1; then echo "fuzz_$h: $(ls "$R" | wc -l) regression inputs replayed, clean"
    else echo "FAIL fuzz_$h: a regression input fails again"; tail -30 "$OUT/$h.regressions.log"; fail=1; continue; fi
  fi
  W=$OUT/corpus_$h
  rm -rf "$W" && mkdir -p "$W"
  if (cd "$OUT" && ASAN_OPTIONS=detect_leaks=1 "./fuzz_$h" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$OUT/crash-$h-" "$W" "$S/$h" > "$OUT/$h.log" 2>&1); then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$h.log")
    echo "fuzz_$h: ${SECS} s, ${execs:-?} executions, corpus $(ls "$W" | wc -l) new inputs, no crash, leak or UB"
  else
    echo "FAIL fuzz_$h: see $OUT/$h.log; the input is in $OUT/crash-$h-*"
    grep -m3 "ERROR\|runtime error\|SUMMARY" "$OUT/$h.log" || tail -20 "$OUT/$h.log"
    fail=1
  fi
done
rm -f /tmp/dmn_fuzz_csv_*.csv
exit $fail
