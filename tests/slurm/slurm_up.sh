#!/usr/bin/env bash
# Start a real single-node Slurm on localhost for the sweep tests:
# munged (as the munge user), slurmctld and slurmd (as root) with a minimal
# slurm.conf in DIR.  Prints the exports the caller needs (SLURM_CONF).
# Stop with slurm_down.sh DIR (kills the daemons by PID).
# Usage: slurm_up.sh DIR   (DMN_SLURM_PORT=N: slurmctld on N, slurmd on N+1; default 16817,
# so a second Slurm, e.g. a study running beside the tests, does not collide)
set -euo pipefail
D=$1
mkdir -p "$D/state" "$D/spool" "$D/munge"
chmod a+rx "$D" "$(dirname "$D")"   # munged runs as the munge user
HOST=$(hostname -s)
CPUS=$(nproc)
# munge: its own key (created if the package did not), socket in our folder
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 2>/dev/null
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
chown munge:munge "$D/munge"
if ! pgrep -x munged > /dev/null; then
  runuser -u munge -- /usr/sbin/munged --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/seed"
  cp "$D/munge/munged.pid" "$D/munged.pid" 2>/dev/null || true
fi
munge -n | unmunge > /dev/null || { echo "slurm_up: munge does not work (see $D/munge/munged.log)"; exit 1; }
cat > "$D/slurm.conf" <<CONF
ClusterName=dmntest
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=${DMN_SLURM_PORT:-16817}
SlurmdPort=$(( ${DMN_SLURM_PORT:-16817} + 1 ))
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
NodeName=$HOST CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
/usr/sbin/slurmctld -f "$D/slurm.conf" -i
/usr/sbin/slurmd -f "$D/slurm.conf"
for i in $(seq 1 60); do
  if sinfo -h -o "%T" 2>/dev/null | grep -qE "^idle"; then
    echo "export SLURM_CONF=$D/slurm.conf"
    exit 0
  fi
  sleep 1
done
echo "slurm_up: the node did not become idle within 60 s:" >&2
sinfo -N -l >&2 || true
tail -20 "$D/slurmctld.log" "$D/slurmd.log" >&2 || true
exit 1
