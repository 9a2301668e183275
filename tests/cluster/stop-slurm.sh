#!/usr/bin/env bash
# Stops the cluster that tests/cluster/start-slurm.sh STATE_DIR started:
#   tests/cluster/stop-slurm.sh STATE_DIR
# cancels the jobs still queued or running on it (their job steps are not children of slurmd), then stops
# slurmd, slurmctld and munged by the process ids recorded in STATE_DIR/pids/ (TERM, then KILL after 10 s),
# checking first that each id still belongs to that daemon. Other processes, and other SLURM or munge
# daemons on the host, are left alone. Safe to run twice, or after a partial start.
set -uo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 2
fi
STATE=$1
[[ -d "$STATE/pids" ]] || exit 0
export SLURM_CONF="$STATE/slurm.conf"

alive() {  # alive PID DAEMON: the process exists and runs that daemon's program
    [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "$2"
}

pid_of() {
    [[ -f "$STATE/pids/$1" ]] && cat "$STATE/pids/$1"
}

ctld=$(pid_of slurmctld || true)
if [[ -n "$ctld" ]] && alive "$ctld" slurmctld && [[ -f "$SLURM_CONF" ]]; then
    if [[ -n "$(squeue -h -o %i 2>/dev/null)" ]]; then
        scancel --full --quiet $(squeue -h -o %i) 2>/dev/null || true
        for _ in $(seq 40); do
            [[ -z "$(squeue -h -o %i 2>/dev/null)" ]] && break
            sleep 0.25
        done
    fi
fi

status=0
for daemon in slurmd slurmctld munged; do
    pid=$(pid_of "$daemon" || true)
    [[ -n "$pid" ]] || continue
    if alive "$pid" "$daemon"; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            alive "$pid" "$daemon" || break
            sleep 0.1
        done
        if alive "$pid" "$daemon"; then
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
        if alive "$pid" "$daemon"; then
            echo "stop-slurm.sh: $daemon (pid $pid) did not stop" >&2
            status=1
            continue
        fi
    fi
    rm -f "$STATE/pids/$daemon"
done
# The /etc/slurm/slurm.conf link start-slurm.sh made, if it still points into this state directory.
link=$(cat "$STATE/pids/system-conf-link" 2>/dev/null || true)
if [[ -n "$link" && -L "$link" && "$(readlink "$link")" == "$(cd "$STATE" && pwd)/slurm.conf" ]]; then
    rm -f "$link"
fi
rm -f "$STATE/pids/system-conf-link"
exit $status
