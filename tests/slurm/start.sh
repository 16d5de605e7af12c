#!/usr/bin/env bash
# Starts (or stops) a single-node Slurm on localhost for tests: munged, slurmctld and slurmd,
# with tests/slurm/slurm.conf filled in under DIR. Nothing under /etc/slurm is changed: point
# Slurm's commands at it with `export SLURM_CONF=DIR/slurm.conf` (this script prints that line).
#
#   tests/slurm/start.sh start DIR    # prints: export SLURM_CONF=DIR/slurm.conf
#   tests/slurm/start.sh stop DIR     # stops what `start DIR` started
#
# Needs Debian's slurm-wlm and munge (apt-get install slurm-wlm munge) and root: slurmd
# starts jobs as their user. SLURMCTLD_PORT and SLURMD_PORT change the ports (6817, 6818).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
action="${1:-}"
dir="${2:-}"
if [[ "$action" != start && "$action" != stop || -z "$dir" ]]; then
    echo "start.sh: usage: start.sh start|stop DIR" >&2
    exit 2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

stop_pidfile() {
    local f="$1" pid
    [[ -s "$f" ]] || return 0
    pid="$(cat "$f")"
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

if [[ "$action" == stop ]]; then
    stop_pidfile "$dir/slurmd.pid"
    stop_pidfile "$dir/slurmctld.pid"
    # munged only if this script started it (a machine's own munged stays).
    stop_pidfile "$dir/munged.pid"
    exit 0
fi

for tool in munged slurmctld slurmd sinfo; do
    if ! command -v "$tool" >/dev/null; then
        echo "start.sh: $tool not found: apt-get install slurm-wlm munge" >&2
        exit 2
    fi
done
if [[ "$(id -u)" != 0 ]]; then
    echo "start.sh: slurmd must run as root here: run it with sudo" >&2
    exit 2
fi

# munge: the key the package made at install time; start munged unless one already answers.
if ! munge -n </dev/null >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid 2>>"$dir/munged.log" || {
        echo "start.sh: munged did not start: see $dir/munged.log" >&2; exit 1; }
    for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
    # A copy of its pid here marks it as started by this script, so that `stop` stops it.
    cp /run/munge/munged.pid "$dir/munged.pid"
    munge -n </dev/null >/dev/null
fi

host="$(hostname -s)"
mkdir -p "$dir/ctld" "$dir/slurmd"
sed -e "s|@HOST@|$host|g" -e "s|@STATE@|$dir|g" -e "s|@CPUS@|$(nproc)|g" \
    -e "s|@CTLD_PORT@|${SLURMCTLD_PORT:-6817}|g" -e "s|@SLURMD_PORT@|${SLURMD_PORT:-6818}|g" \
    "$here/slurm.conf" > "$dir/slurm.conf"
export SLURM_CONF="$dir/slurm.conf"

slurmctld -i || { echo "start.sh: slurmctld did not start: see $dir/slurmctld.log" >&2; exit 1; }
slurmd || { echo "start.sh: slurmd did not start: see $dir/slurmd.log" >&2; exit 1; }
for _ in $(seq 120); do
    state="$(sinfo -h -n "$host" -o %T 2>/dev/null || true)"
    [[ "$state" == idle ]] && break
    sleep 0.5
done
if [[ "$state" != idle ]]; then
    echo "start.sh: node $host is '${state:-unknown}' after 60 s, not idle: see $dir/slurmctld.log and $dir/slurmd.log" >&2
    exit 1
fi
echo "export SLURM_CONF=$dir/slurm.conf"
