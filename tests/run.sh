#!/usr/bin/env bash
# Install what is missing, build, and run the whole test suite (ctest), then
# the MPI-free unit tests again under AddressSanitizer + UBSan and valgrind,
# then fuzz the config, CSV and selector parsers for a bounded time.
#   tests/run.sh            everything (CI runs exactly this)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/jobs/install_deps.sh" valgrind slurmctld slurmd slurm-client munge python3-h5py python3-numpy python3-matplotlib clang-14 libclang-rt-14-dev
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1

echo "== build (Release, -Wall -Wextra, warnings fail the build)"
BUILD_DIR=$ROOT/build bash "$ROOT/jobs/build.sh"
echo "== ctest"
ctest --test-dir "$ROOT/build" --output-on-failure -j 2

echo "== unit tests under AddressSanitizer + UBSan (-Werror)"
BUILD_DIR=$ROOT/build-strict bash "$ROOT/jobs/build.sh" -DDMN_STRICT=ON
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$ROOT/build-strict" --output-on-failure -L unit
if [ -x "$ROOT/build-strict/tests/test_nmf" ]; then # the NeuroMechFly body (MuJoCo itself is not instrumented)
  ASAN_OPTIONS=detect_leaks=1 "$ROOT/build-strict/tests/test_nmf" "$ROOT/configs/bodies/neuromechfly" | grep -E "FAIL|ERROR|Sanitizer|passed"
fi

echo "== unit tests under valgrind (MPI-free)"
for t in test_body test_kernels test_evolve test_train; do
  valgrind -q --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite "$ROOT/build/tests/$t" > /dev/null
  echo "valgrind clean: $t"
done
valgrind -q --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite "$ROOT/build/tests/test_config" "$ROOT/tests/data" > /dev/null
echo "valgrind clean: test_config"
valgrind -q --error-exitcode=3 --leak-check=full --errors-for-leak-kinds=definite "$ROOT/build/tests/test_connectome" "$ROOT/configs/connectomes" > /dev/null
echo "valgrind clean: test_connectome"
echo "== fuzzing the input parsers (libFuzzer + ASan/UBSan, ${FUZZ_SECONDS:-45} s each)"
FUZZ_SECONDS=${FUZZ_SECONDS:-45} bash "$ROOT/tests/fuzz/run.sh"
echo "tests/run.sh: all stages passed"
