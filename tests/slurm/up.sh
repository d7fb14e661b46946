#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on this machine from Debian's packages,
# all of its state in one folder, and print that folder. Needs root.
#
#   state=$(tests/slurm/up.sh)          # installs munge/slurm with apt if missing
#   sbatch/squeue/srun then use it (its slurm.conf is copied to /etc/slurm/)
#   tests/slurm/down.sh "$state"         # stops the daemons it started, by PID
#
# Settings from ../shared/notes/offline-and-machines.md: proctrack/linuxproc,
# task/none, cons_tres, no accounting (so no sacct: run Snakemake with
# `--slurm-status-command squeue`), MinJobAge=600 so squeue still shows a job
# after it ended, and slurmd -N localhost (the hostname is not localhost).
set -euo pipefail

die() { echo "up.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (munged and slurmd run as system users)"

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
   || ! command -v sbatch >/dev/null; then
  command -v apt-get >/dev/null || die "munge/slurm are not installed and there is no apt-get to install them"
  echo "up.sh: installing munge slurmctld slurmd slurm-client" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq munge slurmctld slurmd slurm-client >&2 \
    || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq munge slurmctld slurmd slurm-client >&2; } \
    || die "apt-get could not install munge/slurm"
fi

state=$(mktemp -d -t sharegrad-slurm.XXXXXX)
# munged runs as user munge and refuses folders it cannot read or that others may write.
chmod 0755 "$state"
mkdir -p "$state/munge" "$state/munge-socket" "$state/ctld" "$state/spool"
if [ -s /etc/munge/munge.key ]; then
  cp /etc/munge/munge.key "$state/munge/munge.key"
else
  dd if=/dev/urandom of="$state/munge/munge.key" bs=1024 count=1 status=none
fi
chown -R munge:munge "$state/munge" "$state/munge-socket"
# The key folder private, the socket's folder open to every client.
chmod 0700 "$state/munge"; chmod 0400 "$state/munge/munge.key"; chmod 0755 "$state/munge-socket"

# The config must sit where Slurm looks by default: the Snakemake job step
# drops SLURM_* variables (SLURM_CONF too) before its inner srun. Refuse to
# touch a machine that already has a Slurm of its own.
conf=/etc/slurm/slurm.conf
marker="# written by sharegrad tests/slurm/up.sh"
if [ -e "$conf" ] && ! head -1 "$conf" | grep -qF "$marker"; then
  rm -rf "$state"; die "$conf exists and is not ours: this machine has a Slurm of its own; not touching it"
fi
if [ -e "$conf" ] && pgrep -x slurmctld >/dev/null; then
  rm -rf "$state"; die "another test cluster is running (slurmctld is up, $conf is ours); run tests/slurm/down.sh on its state folder first"
fi
mkdir -p /etc/slurm

ports=$(( 20000 + RANDOM % 20000 ))
memory_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
cat > "$state/slurm.conf" <<CONF
$marker (state in $state)
ClusterName=sharegrad-test
SlurmctldHost=$(hostname -s)
SlurmctldPort=$ports
SlurmdPort=$(( ports + 1 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$state/munge-socket/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MinJobAge=600
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

cp "$state/slurm.conf" "$conf"
echo "$conf" > "$state/installed-conf"

# Foreground daemons started with & : $! is the daemon itself, so down.sh stops
# exactly these processes. setpriv execs (no wrapper process in between).
setpriv --reuid munge --regid munge --init-groups \
  munged -F --socket "$state/munge-socket/munge.socket" --key-file "$state/munge/munge.key" \
  --log-file "$state/munge/munged.log" --pid-file "$state/munge/munged.pid" --seed-file "$state/munge/munged.seed" \
  </dev/null >>"$state/munge/munged.out" 2>&1 &
echo "munged $!" >> "$state/pids"
for _ in $(seq 50); do [ -S "$state/munge-socket/munge.socket" ] && break; sleep 0.1; done
[ -S "$state/munge-socket/munge.socket" ] || { tail -3 "$state/munge/munged.out" >&2; "$(dirname "$0")/down.sh" "$state"; die "munged did not start"; }

export SLURM_CONF=$state/slurm.conf
slurmctld -D -f "$SLURM_CONF" </dev/null >>"$state/slurmctld.out" 2>&1 &
echo "slurmctld $!" >> "$state/pids"
slurmd -D -N localhost -f "$SLURM_CONF" </dev/null >>"$state/slurmd.out" 2>&1 &
echo "slurmd $!" >> "$state/pids"

for _ in $(seq 60); do
  if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "$state"
    exit 0
  fi
  sleep 0.5
done
echo "up.sh: the node did not become idle within 30 s; sinfo says: $(sinfo -N 2>&1 | tail -1)" >&2
tail -5 "$state/slurmctld.log" "$state/slurmd.log" >&2 || true
"$(dirname "$0")/down.sh" "$state" >&2 || true
exit 1
