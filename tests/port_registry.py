"""Loopback ports for the live tests and the bench, never handed to two takers at once.

Binding port 0, closing the socket and returning its number races: two xdist workers (or two runs of
the suite on one machine) can be given the same port before either binds it, and the kernel hands out
its ephemeral ports again to outgoing connections. So a port here comes from below the ephemeral range,
each xdist worker starts in its own slice of that range, and a port is taken only under an exclusive
lock on a file named after it in a directory shared by every run of this user. The lock is held until
the process exits, so the port is given once per process and to no other process meanwhile; it must
also be free (a bind succeeds) when it is taken.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from pathlib import Path

LOCKS = Path(tempfile.gettempdir()) / f"promstack-test-ports-{os.getuid()}"
FIRST = 20000
_held: list[int] = []  # the lock files' descriptors: closing one would release its port
_cursor: int | None = None


def _ports() -> range:
    """FIRST up to the kernel's ephemeral range (where ports bound to 0 and outgoing connections go)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(FIRST, low if low > FIRST + 1000 else FIRST + 10000)


def _start(ports: range) -> int:
    """This xdist worker's slice of `ports` (gw0 the first, gw1 the next, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(worker) if worker.isdigit() else 0
    return ports.start + (len(ports) // max(count, 1)) * (index % max(count, 1))


def take(port: int) -> bool:
    """Lock `port` for this process if no other holds it and nothing listens there."""
    fd = os.open(LOCKS / str(port), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another worker or run holds it
        os.close(fd)
        return False
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:  # something outside the suite listens there
            os.close(fd)
            return False
    _held.append(fd)
    return True


def free_port() -> int:
    global _cursor
    ports = _ports()
    LOCKS.mkdir(mode=0o700, exist_ok=True)
    if _cursor is None:
        _cursor = _start(ports)
    for _ in range(len(ports)):
        port, _cursor = _cursor, ports.start + (_cursor + 1 - ports.start) % len(ports)
        if take(port):
            return port
    raise RuntimeError(f"no free loopback port left in {ports.start}-{ports.stop - 1}")
