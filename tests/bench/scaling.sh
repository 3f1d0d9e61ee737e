#!/usr/bin/env bash
# Scaling model (not a test): what 64 and 1024 ranks cost per update.
# Measures here: (1) MPI_Allreduce of the gradient vector at 2, 4, 8 ranks;
# (2) the mean and spread of training-episode times (forward + backward of
# 16 episodes from different starts: bench_episode).  Model: one update =
# max over ranks of B episodes + one allreduce;
#   E[max of P sums] ~ B*mean + sqrt(B)*sd*sqrt(2 ln P)   (Gaussian tail)
#   allreduce(P) ~ 2 log2(P) alpha + 2 n beta           (ring / recursive doubling)
# with alpha, beta from ALPHA_US (default 2 us, InfiniBand) and BW_GBS
# (default 10 GB/s): a cluster network, not this machine's shared memory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$ROOT/build
cmake --build "$B" --target allreduce_bench bench_episode dmn_mpi > /dev/null
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
NPAR=$("$B/dmn_mpi" --gradient-dump /tmp/dmn_scaling_dump.h5 | sed -n 's/.*, \([0-9]*\) parameters.*/\1/p')
rm -f /tmp/dmn_scaling_dump.h5
echo "gradient vector: $NPAR parameters (+ 20 statistics) = $(( (NPAR + 20) * 8 / 1024 )) KB per allreduce"
for np in 2 4 8; do mpirun --oversubscribe -n $np "$B/tests/allreduce_bench" $((NPAR + 20)); done
echo "(4 and 8 ranks are oversubscribed on $(nproc) cores here: upper bounds)"
read -r MEAN SD < <("$B/tests/bench_episode" reps=16 2>&1 >/dev/null | sed -n 's/^episodes: mean \([0-9.]*\) s, sd \([0-9.]*\) s.*/\1 \2/p')
BATCH=${BATCH:-8}
echo "episode (forward + backward): mean $MEAN s, sd $SD s over 16 episodes from different starts; batch_per_rank $BATCH"
awk -v m="$MEAN" -v sd="$SD" -v b="$BATCH" -v n="$((NPAR + 20))" -v a="${ALPHA_US:-2}" -v g="${BW_GBS:-10}" 'BEGIN {
  comp = b * m
  printf "%6s %14s %14s %14s %10s\n", "ranks", "compute s", "imbalance s", "allreduce ms", "efficiency"
  split("1 2 64 1024 4096", P, " ")
  for (i = 1; i <= 5; i++) {
    p = P[i]; imb = p > 1 ? sqrt(b) * sd * sqrt(2 * log(p)) : 0
    ar = p > 1 ? (2 * log(p) / log(2) * a * 1e-6 + 2 * n * 8 / (g * 1e9)) : 0
    printf "%6d %14.3f %14.3f %14.3f %9.1f%%\n", p, comp, imb, 1e3 * ar, 100 * comp / (comp + imb + ar)
  }
}'
