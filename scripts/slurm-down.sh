#!/usr/bin/env bash
# Stop the single-node Slurm that scripts/slurm-up.sh started: slurmd, slurmctld and
# munged, each by the PID recorded when it was started (nothing else is signalled).
set -uo pipefail

STATE=${CALMODEL_SLURM_STATE:-/var/lib/calmodel-slurm}

stop() {  # stop NAME PIDFILE
    local pidfile=$2 pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "slurm-down: stopped $1 (pid $pid)"
    fi
    rm -f "$pidfile"
}

stop slurmd "$STATE/slurmd.pid"
stop slurmctld "$STATE/slurmctld.pid"
stop munged "$STATE/munged.pid"
exit 0
