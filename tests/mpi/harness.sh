# Shared by the MPI test scripts (sourced): Open MPI as root, a scratch
# folder removed on exit, and ok/bad counters; `bad NAME [LOG]` shows the
# last 20 lines of LOG.  Each script ends with `finish NAME`.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && tail -20 "$2" | sed 's/^/     | /'; }
finish() { echo "$1: $pass passed, $fail failed"; [ $fail -eq 0 ]; }
