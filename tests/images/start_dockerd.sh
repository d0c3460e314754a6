#!/usr/bin/env bash
# Start a Docker daemon for the promstack test-suite if none is answering.
#
# Idempotent: exits 0 as soon as `docker info` works and the default bridge has
# its address (up to $BRIDGE_TIMEOUT seconds).  Otherwise starts `dockerd` in
# the background (detached, log in $DOCKERD_LOG), waits up to $DOCKERD_TIMEOUT
# seconds for `docker info`, and exits non-zero with the log tail on failure.  Meant for root on a machine where docker.io was just
# apt-installed and no init system (systemd) is running.
#
# On the reference CI machine (Debian 12, docker.io 20.10.24, cgroup v1,
# iptables-nft) plain `dockerd` works: overlay2 + cgroupfs, no extra flags.
# If overlay2 is unusable (e.g. the root fs is itself overlayfs) the script
# retries once with --storage-driver=vfs.  Extra flags: $DOCKERD_FLAGS.
set -u

LOG=${DOCKERD_LOG:-/var/log/dockerd-promstack.log}
TIMEOUT=${DOCKERD_TIMEOUT:-60}
EXTRA_FLAGS=${DOCKERD_FLAGS:-}
PIDFILE=/var/run/docker.pid

docker_ok() { docker info >/dev/null 2>&1; }

# Containers reach the host at the default bridge's gateway (the live tests' webhook listens there), and
# the bridge interface gets that address a moment after the engine first answers: wait for it, bounded.
# No bridge network (dockerd --bridge=none) or no `ip` to look: nothing to wait for. The tests read the
# address through tests/docker_bridge.py, which waits too.
bridge_ready() {
    local name
    name=$(docker network inspect bridge --format '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null) ||
        return 0
    command -v ip >/dev/null 2>&1 || return 0
    ip -4 -o addr show dev "${name:-docker0}" 2>/dev/null | grep -q ' inet '
}

# Success: the engine answers and its bridge has its address (or BRIDGE_TIMEOUT seconds passed).
ready() {
    local deadline=$((SECONDS + ${BRIDGE_TIMEOUT:-30}))
    until bridge_ready; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "start_dockerd: warning: the docker bridge has no IPv4 address after ${BRIDGE_TIMEOUT:-30}s" >&2
            break
        fi
        sleep 0.5
    done
    [ -z "${1:-}" ] || echo "$1"
    exit 0
}

if docker_ok; then
    ready
fi

if ! command -v dockerd >/dev/null 2>&1; then
    echo "start_dockerd: dockerd not found (apt-get install docker.io)" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "start_dockerd: docker is not answering and starting dockerd needs root" >&2
    exit 1
fi

# Make sure cgroups are mounted (no systemd to do it for us).
if ! grep -qE '^cgroup2? ' /proc/mounts; then
    mkdir -p /sys/fs/cgroup
    mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null || true
fi

# Is dockerd alive?  $1 = pid we started (setsid may have forked, so also
# accept the pid dockerd wrote to its pid file).
alive() {
    kill -0 "$1" 2>/dev/null && return 0
    [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# A daemon may be starting already (e.g. a parallel invocation): wait for it.
wait_ready() {
    local deadline=$((SECONDS + $1))
    while [ "$SECONDS" -lt "$deadline" ]; do
        docker_ok && return 0
        if [ -n "${2:-}" ] && ! alive "$2"; then
            return 1  # our dockerd died
        fi
        sleep 1
    done
    return 1
}

if [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    if wait_ready "$TIMEOUT"; then
        ready
    fi
    echo "start_dockerd: dockerd (pid $(cat "$PIDFILE")) is running but not answering" >&2
    tail -n 30 "$LOG" >&2 2>/dev/null
    exit 1
fi
# Stale pid file from an unclean shutdown blocks dockerd from starting.
rm -f "$PIDFILE"

start() {
    mkdir -p "$(dirname "$LOG")"
    OFFSET=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
    echo "=== $(date -u +%FT%TZ) start_dockerd: dockerd $*" >>"$LOG"
    # setsid + nohup: fully detach so the daemon survives this shell/job.
    # shellcheck disable=SC2086
    setsid nohup dockerd "$@" </dev/null >>"$LOG" 2>&1 &
    DOCKERD_PID=$!
}

# Log lines written by the dockerd we started last (not older runs).
new_log() { tail -c +$((OFFSET + 1)) "$LOG" 2>/dev/null; }

# shellcheck disable=SC2086
start $EXTRA_FLAGS
if wait_ready "$TIMEOUT" "$DOCKERD_PID"; then
    ready "start_dockerd: dockerd ready (pid $DOCKERD_PID, log $LOG)"
fi

if ! alive "$DOCKERD_PID" &&
    new_log | grep -qiE 'error initializing graphdriver|driver not supported|overlay.*(not supported|failed|invalid argument)'; then
    echo "start_dockerd: overlay2 failed, retrying with --storage-driver=vfs" >&2
    rm -f "$PIDFILE"
    # shellcheck disable=SC2086
    start --storage-driver=vfs $EXTRA_FLAGS
    if wait_ready "$TIMEOUT" "$DOCKERD_PID"; then
        ready "start_dockerd: dockerd ready with vfs (pid $DOCKERD_PID, log $LOG)"
    fi
fi

if alive "$DOCKERD_PID"; then
    echo "start_dockerd: dockerd (pid $DOCKERD_PID) not ready within ${TIMEOUT}s; log tail ($LOG):" >&2
else
    echo "start_dockerd: dockerd exited; log tail ($LOG):" >&2
fi
new_log | tail -n 30 >&2
exit 1
