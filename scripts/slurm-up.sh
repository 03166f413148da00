#!/usr/bin/env bash
# A single-node Slurm (Debian's slurm-wlm 22.05) for CI and local tests, as root and
# without systemd: munged, slurmctld and slurmd are started by hand.
#
#   scripts/slurm-up.sh      # idempotent: a second run finds everything up and returns
#   scripts/slurm-down.sh    # stops the daemons this script started (by PID)
#
# Packages: apt-get install slurmctld slurmd slurm-client munge
# The node line carries the machine's real CPUs and RealMemory (from `slurmd -C`);
# no cgroups (proctrack/linuxproc, task/none), cons_tres with CR_Core_Memory, and
# jobcomp/filetxt since there is no slurmdbd. Ends when the node is idle (or busy
# with jobs); exit non-zero, with the daemons' log tails, if it never gets there.
set -euo pipefail

STATE=${CALMODEL_SLURM_STATE:-/var/lib/calmodel-slurm}   # pid files, spool, logs
PARTITION=${CALMODEL_SLURM_PARTITION:-debug}
CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
WAIT_S=${CALMODEL_SLURM_WAIT_S:-90}

die() { echo "slurm-up: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (it starts munged, slurmctld and slurmd)"
for exe in munged munge unmunge slurmctld slurmd sinfo scontrol sbatch; do
    command -v "$exe" >/dev/null || die "$exe not found: apt-get install -y slurmctld slurmd slurm-client munge"
done

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

mkdir -p "$STATE"/{slurmctld,slurmd,log}

# --- munge: the key comes with Debian's package; make one if it is missing.
if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
fi
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid
    cp /run/munge/munged.pid "$STATE/munged.pid"
    for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
    munge -n | unmunge >/dev/null || die "munged does not answer"
fi

# --- slurm.conf: rewritten only when it would change.
node_line=$(slurmd -C | head -n 1)     # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
node=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node_line")
[ -n "$node" ] || die "cannot read the node from 'slurmd -C': $node_line"
tmp=$(mktemp)
cat >"$tmp" <<EOF
# Written by calmodel scripts/slurm-up.sh: one node, no cgroups, no slurmdbd.
ClusterName=calmodel
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=${STATE}/log/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
EnforcePartLimits=ALL
ReturnToService=2
KillWait=10
MinJobAge=300
SlurmctldTimeout=30
SlurmdTimeout=60
StateSaveLocation=${STATE}/slurmctld
SlurmdSpoolDir=${STATE}/slurmd
SlurmctldPidFile=${STATE}/slurmctld.pid
SlurmdPidFile=${STATE}/slurmd.pid
SlurmctldLogFile=${STATE}/log/slurmctld.log
SlurmdLogFile=${STATE}/log/slurmd.log
${node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=${PARTITION} Nodes=${node} Default=YES MaxTime=INFINITE State=UP
EOF
changed=0
if ! cmp -s "$tmp" "$CONF"; then
    mkdir -p "$(dirname "$CONF")"
    install -m 0644 "$tmp" "$CONF"
    changed=1
fi
rm -f "$tmp"

# --- daemons: start what is not running; re-read the config if it changed under them.
if alive "$STATE/slurmctld.pid" && scontrol ping >/dev/null 2>&1; then
    [ "$changed" -eq 0 ] || scontrol reconfigure
else
    slurmctld -i
fi
for _ in $(seq 40); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.5; done
scontrol ping | grep -q 'is UP' || { tail -n 20 "$STATE/log/slurmctld.log" >&2; die "slurmctld is not up"; }

if ! alive "$STATE/slurmd.pid"; then
    slurmd
fi

# --- wait until the node takes jobs (idle, or already running some).
deadline=$(( $(date +%s) + WAIT_S ))
while :; do
    state=$(sinfo -h -n "$node" -o '%T' 2>/dev/null | head -n 1)
    case "$state" in
        idle|mixed|allocated|completing) break ;;
        down*|drain*|fail*) scontrol update NodeName="$node" State=RESUME 2>/dev/null || true ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
        die "node $node is '$state' after ${WAIT_S}s"
    fi
    sleep 1
done
echo "slurm-up: node $node $state in partition $PARTITION ($(sed -n 's/.*\(CPUs=[0-9]*\).*\(RealMemory=[0-9]*\).*/\1 \2/p' <<<"$node_line"))"
