"""The port registry the live tests use: a port is given to one process only, even under xdist."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from port_registry import free_port, take

TAKE = "import sys; sys.path.insert(0, sys.argv[1]); from port_registry import free_port, take; " + (
    "print(*[free_port() for _ in range(int(sys.argv[2]))]); sys.stdout.flush(); sys.stdin.read()"
)


def test_workers_and_concurrent_runs_never_share_a_port() -> None:
    # two runs of two workers each, all holding their ports at once (each waits on stdin before exiting)
    tests = str(Path(__file__).resolve().parent)
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE, tests, "25"],
            env={**os.environ, "PYTEST_XDIST_WORKER": worker, "PYTEST_XDIST_WORKER_COUNT": "2"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in ("gw0", "gw1", "gw0", "gw1")
    ]
    try:
        given = [int(p) for taker in takers if taker.stdout for p in taker.stdout.readline().split()]
    finally:
        for taker in takers:
            taker.communicate("", timeout=60)
    assert len(given) == 100 and len(set(given)) == 100


def test_a_port_is_taken_only_while_nothing_listens_there() -> None:
    ports = [free_port() for _ in range(5)]
    assert len(set(ports)) == 5
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free when given
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        address = busy.getsockname()[1]
        assert not take(address)
    assert take(address)
    assert not take(address)  # this process holds it now
