#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, for testing profiles/slurm (tests/test_cluster.py, .ci/run):
#   tests/cluster/start-slurm.sh STATE_DIR
# installs slurm-wlm and munge with apt-get if they are missing (needs root), writes STATE_DIR/slurm.conf for
# this host (slurmctld and slurmd on localhost, no accounting database, no cgroups), starts munged, slurmctld and
# slurmd in the foreground of background jobs, records their process ids in STATE_DIR/pids/, and waits until
# `sinfo` shows the node idle. Its last line is `export SLURM_CONF=...`: the SLURM commands (sbatch, squeue, and
# the executor plugin calling them) find this cluster through that variable. Nothing outside STATE_DIR is
# written (no /etc/slurm, no system munge socket), so a cluster the host already runs is left alone.
# Stop it with tests/cluster/stop-slurm.sh STATE_DIR, which stops exactly these processes, by process id.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 2
fi
mkdir -p "$1"
STATE=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)

# ---------------------------------------------------------------- packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null \
    || ! command -v sinfo >/dev/null; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "start-slurm.sh: slurm-wlm and munge are not installed, and installing them needs root and apt-get" >&2
        exit 1
    fi
    echo "start-slurm.sh: installing slurm-wlm and munge" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends slurm-wlm munge >&2
fi
if [[ $(id -u) -ne 0 ]]; then
    # slurmd starts jobs as their users, which needs root; the CI machine runs as root.
    echo "start-slurm.sh: slurmd must run as root" >&2
    exit 1
fi

# ---------------------------------------------------------------- state directory
mkdir -p "$STATE"/{pids,log,munge,socket,ctld,spool}
# The key is root's alone; the socket is reachable by every user (jobs may run as any user).
chmod 755 "$STATE" "$STATE/socket"
chmod 700 "$STATE/munge"
if [[ -e "$STATE/pids/munged" || -e "$STATE/pids/slurmctld" || -e "$STATE/pids/slurmd" ]]; then
    echo "start-slurm.sh: $STATE already holds a cluster's process ids; stop it first with stop-slurm.sh" >&2
    exit 1
fi

# Started daemons are stopped again if a later step fails, so a failed start leaves nothing running.
trap 'status=$?; if [[ $status -ne 0 ]]; then "$HERE/stop-slurm.sh" "$STATE" >&2 || true; fi' EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- munge (its own key and socket)
dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$STATE/munge/munge.key"
SOCKET="$STATE/socket/munge.socket"
munged --foreground --force --socket="$SOCKET" --key-file="$STATE/munge/munge.key" \
    --pid-file="$STATE/munge/munged.pid" --seed-file="$STATE/munge/munged.seed" \
    --log-file="$STATE/log/munged.log" </dev/null >>"$STATE/log/munged.out" 2>&1 &
echo $! >"$STATE/pids/munged"
for _ in $(seq 100); do
    [[ -S "$SOCKET" ]] && break
    sleep 0.1
done
[[ -S "$SOCKET" ]] || { echo "start-slurm.sh: munged did not start (see $STATE/log/munged.log)" >&2; exit 1; }

# ---------------------------------------------------------------- slurm.conf for this host
HOST=$(hostname -s)
# What slurmd detects on this machine (CPUs, memory), e.g. "NodeName=vm CPUs=2 ... RealMemory=24105".
DETECTED=$(slurmd -C | head -1)
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$DETECTED")
MEMORY=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$DETECTED")
CPUS=${CPUS:-$(nproc)}
MEMORY=${MEMORY:-1000}
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
cat >"$STATE/slurm.conf" <<EOF
# Written by tests/cluster/start-slurm.sh: one node, controller and node daemon on this host.
ClusterName=sbmljax-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/ctld/slurmctld.pid
SlurmdPidFile=$STATE/spool/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups (containers and CI machines often lack a writable cgroup tree), no accounting database: the
# plugin cannot ask sacct, as on a real cluster without slurmdbd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Jobs stay visible to squeue for 5 minutes after they end (SLURM's default), long enough for the plugin's
# status checks.
MinJobAge=300
ReturnToService=2
SlurmdParameters=config_overrides
SlurmdTimeout=300
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$STATE/slurm.conf"
# SLURM's commands find the cluster through $SLURM_CONF, but the executor plugin's job step drops every SLURM_*
# variable before it calls srun inside a job, so srun reads the compiled-in /etc/slurm/slurm.conf: link it to
# this cluster's, unless the host has a configuration of its own (then refuse rather than touch it).
SYSTEM_CONF=/etc/slurm/slurm.conf
if [[ -L "$SYSTEM_CONF" && "$(readlink "$SYSTEM_CONF")" == */slurm.conf && ! -e "$SYSTEM_CONF" ]]; then
    rm -f "$SYSTEM_CONF"  # left by a test cluster that was not stopped (its state directory is gone)
fi
if [[ -e "$SYSTEM_CONF" || -L "$SYSTEM_CONF" ]]; then
    echo "start-slurm.sh: $SYSTEM_CONF exists (this host is configured for a SLURM cluster, or another test" \
        "cluster runs); not starting a second one" >&2
    exit 1
fi
mkdir -p "$(dirname "$SYSTEM_CONF")"
ln -s "$SLURM_CONF" "$SYSTEM_CONF"
echo "$SYSTEM_CONF" >"$STATE/pids/system-conf-link"

# ---------------------------------------------------------------- daemons
slurmctld -D -c -f "$SLURM_CONF" </dev/null >>"$STATE/log/slurmctld.out" 2>&1 &
echo $! >"$STATE/pids/slurmctld"
slurmd -D -f "$SLURM_CONF" </dev/null >>"$STATE/log/slurmd.out" 2>&1 &
echo $! >"$STATE/pids/slurmd"

for _ in $(seq 120); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
    [[ "$state" == "idle" ]] && break
    for daemon in slurmctld slurmd munged; do
        if ! kill -0 "$(cat "$STATE/pids/$daemon")" 2>/dev/null; then
            echo "start-slurm.sh: $daemon exited; its log:" >&2
            tail -20 "$STATE/log/$daemon.log" "$STATE/log/$daemon.out" >&2 2>/dev/null || true
            exit 1
        fi
    done
    sleep 0.5
done
if [[ "$state" != "idle" ]]; then
    echo "start-slurm.sh: the node is not idle after 60 s (state: ${state:-none}); see $STATE/log/" >&2
    sinfo -N -l >&2 || true
    exit 1
fi
echo "start-slurm.sh: node $HOST idle ($CPUS CPUs, $MEMORY MB), controller on port $CTLD_PORT" >&2
echo "export SLURM_CONF=$SLURM_CONF"
