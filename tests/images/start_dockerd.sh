#!/usr/bin/env bash
# Start a Docker daemon for the promstack test-suite if none is answering.
#
# Idempotent: exits 0 immediately when `docker info` already works.  Otherwise
# starts `dockerd` in the background (detached, log in $DOCKERD_LOG), waits up
# to $DOCKERD_TIMEOUT seconds for `docker info`, and exits non-zero with the
# log tail on failure.  Meant for root on a machine where docker.io was just
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

if docker_ok; then
    exit 0
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
        exit 0
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
    echo "start_dockerd: dockerd ready (pid $DOCKERD_PID, log $LOG)"
    exit 0
fi

if ! alive "$DOCKERD_PID" &&
    new_log | grep -qiE 'error initializing graphdriver|driver not supported|overlay.*(not supported|failed|invalid argument)'; then
    echo "start_dockerd: overlay2 failed, retrying with --storage-driver=vfs" >&2
    rm -f "$PIDFILE"
    # shellcheck disable=SC2086
    start --storage-driver=vfs $EXTRA_FLAGS
    if wait_ready "$TIMEOUT" "$DOCKERD_PID"; then
        echo "start_dockerd: dockerd ready with vfs (pid $DOCKERD_PID, log $LOG)"
        exit 0
    fi
fi

if alive "$DOCKERD_PID"; then
    echo "start_dockerd: dockerd (pid $DOCKERD_PID) not ready within ${TIMEOUT}s; log tail ($LOG):" >&2
else
    echo "start_dockerd: dockerd exited; log tail ($LOG):" >&2
fi
new_log | tail -n 30 >&2
exit 1
