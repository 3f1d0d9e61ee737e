#!/usr/bin/env bash
# Stop the daemons slurm_up.sh started in DIR, by PID.
D=$1
for f in slurmd slurmctld munged; do
  p="$D/$f.pid"
  [ "$f" = munged ] && p="$D/munge/munged.pid"
  if [ -s "$p" ]; then kill "$(cat "$p")" 2>/dev/null || true; fi
done
sleep 1
for f in slurmd slurmctld; do [ -s "$D/$f.pid" ] && kill -9 "$(cat "$D/$f.pid")" 2>/dev/null || true; done
exit 0
