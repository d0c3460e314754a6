"""Runtime `local`: supervisord's control socket, and what happens when it is lost.

The socket lives in the state dir (run/supervisor.sock), where no temp cleaner reaches; a state dir too
deep for AF_UNIX reaches it through a short link that may be cleaned away without harm. When the
socket is lost anyway (deleted while supervisord runs) or supervisord is killed and leaves its programs
running, the next `up` finds those processes by pid, stops them and starts afresh: never a second
supervisord, never second copies fighting for the ports. `down` stops all of it too.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_runtime_local import (
    Deployment,
    alive,
    base_spec,
    deployment_factory,
    free_ports,
    listening,
    metric,
    need_binaries,
    wait_for,
)

from generator.runtimes.state import State

pytestmark = [pytest.mark.live, pytest.mark.xdist_group("runtime-local")]


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A state folder with a short path (pytest's own are nearly too long for a socket already); set up
    before `deployments`, so removed only after every stack in it is down."""
    folder = Path(tempfile.mkdtemp(prefix="ps-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def stack_processes(stack: Deployment) -> dict[int, str]:
    """pid -> executable of every process working in the stack's state dir: supervisord (its cwd is the
    state dir) and every program (each runs in its data folder), however they were started."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not alive(int(entry.name)):
            continue
        try:
            cwd, exe = os.readlink(entry / "cwd"), os.readlink(entry / "exe")
        except OSError:
            continue
        if cwd == str(stack.root) or cwd.startswith(f"{stack.root}/"):
            found[int(entry.name)] = Path(exe).name
    return found


def one_each(stack: Deployment) -> bool:
    """One supervisord (Python) and one process of each component, nothing twice."""
    counts = collections.Counter(stack_processes(stack).values())
    return len(counts) == 4 and set(counts.values()) == {1}


@pytest.mark.parametrize("depth", ["short", "deep"])
def test_socket_lives_in_the_state_dir_where_no_temp_cleaner_reaches(
    depth: str,
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    short_dir: Path,
    deployments: Callable[..., Deployment],
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "sockplace")), "local", ports)
    # deep: run/supervisor.sock alone is longer than an AF_UNIX path may be
    stack.state_dir = short_dir / "state" if depth == "short" else stack.state_dir.parent / ("d" * 60) / "state"
    stack.up()
    socket_file = stack.root / "run" / "supervisor.sock"
    assert len(str(socket_file)) > 108 if depth == "deep" else len(str(socket_file)) <= 100
    assert stat.S_ISSOCK(socket_file.stat().st_mode) and stat.S_IMODE(socket_file.stat().st_mode) == 0o700
    supervisord = int((stack.root / "run" / "supervisord.pid").read_text())
    started = metric(stack.prometheus, "process_start_time_seconds")

    # what a temp cleaner may take outside the state dir: the short link there, or (before) the socket itself
    address = State(stack.root, stack.project).socket
    if address != socket_file:
        (address.parent if address.parent.is_symlink() else address).unlink()
    again = stack.up()
    assert "applied: nothing (no changes)" in again.stdout, again.stdout + again.stderr
    assert int((stack.root / "run" / "supervisord.pid").read_text()) == supervisord
    assert metric(stack.prometheus, "process_start_time_seconds") == started
    assert one_each(stack)


@pytest.mark.parametrize("then", ["up", "down"])
@pytest.mark.parametrize("loss", ["socket deleted", "supervisord killed"])
def test_lost_supervisord_is_found_by_pid_never_duplicated(
    loss: str,
    then: str,
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "socklost")), "local", ports)
    stack.up()
    before = stack_processes(stack)
    assert one_each(stack), before
    supervisord = int((stack.root / "run" / "supervisord.pid").read_text())
    if loss == "socket deleted":
        (stack.root / "run" / "supervisor.sock").unlink()
    else:  # its programs live on, reparented, still holding the stack's ports
        os.kill(supervisord, signal.SIGKILL)
        wait_for("supervisord to die", lambda: not alive(supervisord), 10)
        assert all(alive(pid) for pid in before if pid != supervisord)

    if then == "up":
        result = stack.up()
        assert "no changes" not in result.stdout + result.stderr
        assert "stopping it and what it started" in result.stderr
        now = stack_processes(stack)
        assert not set(before) & set(now), (before, now)  # the old ones are stopped, not run beside new ones
        assert one_each(stack), now
        assert {c: e["health"] for c, e in stack.status()["components"].items()} == dict.fromkeys(
            ("prometheus", "alertmanager", "node-exporter"), "healthy"
        )
        assert "applied: nothing (no changes)" in stack.up().stdout  # and it is managed again
    else:
        down = stack.run("down", str(stack.spec), timeout=180)
        assert down.returncode == 0, down.stdout + down.stderr
        wait_for("every process of the stack to end", lambda: not stack_processes(stack), 10)
        assert not any(listening(p) for p in ports.values())
