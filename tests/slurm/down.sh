#!/usr/bin/env bash
# Tear down what up.sh started: cancel the jobs still queued or running, stop
# the daemons by the PIDs up.sh recorded (slurmd, slurmctld, munged, in that
# order), then delete the state folder. Safe to call twice.
set -uo pipefail
state=${1:?usage: down.sh STATE_DIR (printed by up.sh)}
[ -f "$state/pids" ] || { echo "down.sh: no $state/pids; nothing to stop" >&2; exit 0; }
export SLURM_CONF=$state/slurm.conf

# Jobs first, while slurmctld can still signal them.
if scancel --full "$(squeue -h -o %i | tr '\n' ' ')" 2>/dev/null; then sleep 1; fi

stop() {
  local name=$1 pid=$2
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  echo "down.sh: $name ($pid) ignored SIGTERM; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null
}
for name in slurmd slurmctld munged; do
  pid=$(awk -v n="$name" '$1 == n {print $2}' "$state/pids")
  [ -n "$pid" ] && stop "$name" "$pid"
done
# Only the slurm.conf that up.sh put in place, and only if it is still ours.
if [ -f "$state/installed-conf" ]; then
  conf=$(cat "$state/installed-conf")
  if [ -f "$conf" ] && head -1 "$conf" | grep -qF "(state in $state)"; then rm -f "$conf"; fi
fi
rm -f "$state/pids"
[ "${KEEP_SLURM_STATE:-0}" = 1 ] || rm -rf "$state"
