#!/usr/bin/env bash
# Podman as root on a machine without systemd (CI, sandboxes): writes
# /etc/containers/containers.conf so that every podman call (ours and Nextflow's) uses
#   runtime runc       (crun 1.8 refuses this hybrid cgroup v1 set-up)
#   cgroupfs + file    (no systemd, no journald)
#   default ulimits    below the machine's hard limits (podman's defaults exceed them)
# Idempotent: rewritten only when the content would change; an existing file that this
# script did not write is kept, and its path printed.
set -euo pipefail

CONF=/etc/containers/containers.conf
MARK="# written by calmodel scripts/podman-setup.sh"
die() { echo "podman-setup: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
command -v podman >/dev/null || die "podman not found: apt-get install -y podman runc"
command -v runc >/dev/null || die "runc not found: apt-get install -y runc"

nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nproc" = unlimited ] && nproc=1048576
nofile=$(( nofile < 65536 ? nofile : 65536 )); nproc=$(( nproc < 32768 ? nproc : 32768 ))

tmp=$(mktemp)
cat >"$tmp" <<CONF
$MARK
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
if [ -e "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARK"; then
    echo "podman-setup: keeping $CONF (not ours); it needs: $(tr '\n' ' ' <"$tmp")" >&2
elif ! cmp -s "$tmp" "$CONF"; then
    install -D -m 0644 "$tmp" "$CONF"
fi
rm -f "$tmp"
podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Store.GraphDriverName}}' \
    | sed 's/^/podman-setup: runtime, cgroups, storage: /'
