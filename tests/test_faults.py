"""Faults on a running stack: a crashed Prometheus or Alertmanager, a restarted Docker engine, a full or
unusable state directory. Live, bounded, on both runtimes where the fault exists there.

How a crash is made: locally, SIGKILL to the process supervisord started. On compose, `docker kill`
would not do: Docker records it as a manual stop and `restart: unless-stopped` leaves the container
exited (checked on Docker 20.10: status exited, exit code 137, no restart). A crash is the container's
process dying on its own, so the test sends SIGKILL from the host to the container's main process
(`State.Pid`), which Docker sees as an exit like an OOM kill, and its restart policy applies.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_e2e_alert import ALERTING, Webhook, bridge_gateway
from test_runtime_compose import IMAGES, compose_spec, containers, docker_images_or_skip
from test_runtime_local import (
    Deployment,
    add_silence,
    base_spec,
    deployment_factory,
    free_ports,
    get_json,
    listening,
    metric,
    need_binaries,
    silences,
    wait_for,
)

pytestmark = pytest.mark.live
COMPOSE = pytest.param("compose", marks=[pytest.mark.docker, pytest.mark.xdist_group("runtime-compose")])
RUNTIMES = ["local", COMPOSE]
# how long a crashed component takes to answer again is a figure for bench/, not a test: the tests
# wait for each condition, with generous timeouts as a safety net only


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def _stack(
    runtime: str, port: Callable[[], int], name: str, *extra: str, **more: Any
) -> tuple[dict[str, Any], dict[str, int]]:
    """A fast spec (1s scrape and evaluation) for `runtime`, with free ports for `extra` components too."""
    ports = free_ports(port, "prometheus", "alertmanager", "node", *extra)
    if runtime == "local":
        need_binaries()
        return base_spec(ports, name, **more), ports
    return compose_spec(ports, name, docker_images_or_skip(), **more), ports


def query_range(prometheus: str, expr: str, start: float, end: float) -> list[float]:
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "1"}
    data = get_json(f"{prometheus}/api/v1/query_range?{urllib.parse.urlencode(params)}") or {}
    series = (data.get("data") or {}).get("result") or []
    return [float(v) for s in series for _, v in s["values"]]


def ready(base: str) -> bool:
    return bool(_status(f"{base}/-/ready") == 200)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except OSError:
        return 0


def main_pid(stack: Deployment, component: str) -> int:
    """The pid (in this host's namespace) of the component's process."""
    if stack.runtime == "local":
        supervisorctl = str(Path(sys.executable).with_name("supervisorctl"))
        conf = str(stack.root / "run" / "supervisord.conf")
        done = subprocess.run(
            [supervisorctl, "-c", conf, "pid", component], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.stdout.strip().isdigit(), done.stdout + done.stderr
        return int(done.stdout)
    container = containers(stack.project)[component]
    container.reload()
    return int(container.attrs["State"]["Pid"])


def crash(stack: Deployment, component: str, base: str) -> None:
    """SIGKILL the component's process; return once a new process answers /-/ready."""
    pid = main_pid(stack, component)
    assert pid > 0
    os.kill(pid, signal.SIGKILL)

    def back() -> bool:
        with contextlib.suppress(AssertionError, KeyError):
            return main_pid(stack, component) not in (0, pid) and ready(base)
        return False

    wait_for(f"{component} to come back after SIGKILL", back, 120, 0.1)


def samples_before(prometheus: str, seconds: int = 10) -> float:
    """Wait until Prometheus holds `seconds` of node-exporter samples; return the time they end."""
    expr = f'count_over_time(up{{job="node-exporter"}}[{seconds}s])'

    def enough() -> bool:
        now = time.time()
        return any(v >= seconds - 2 for v in query_range(prometheus, expr, now, now))

    wait_for(f"{seconds}s of samples", enough, 60)
    return time.time()


# --- a. Prometheus crashes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_crashed_prometheus_comes_back_with_its_data(
    runtime: str, write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    spec, ports = _stack(runtime, port, "faultprom")
    stack = deployments(write_spec(spec), runtime, ports)
    stack.up()
    before = samples_before(stack.prometheus)
    restarts = containers(stack.project)["prometheus"].attrs["RestartCount"] if runtime == "compose" else None

    crash(stack, "prometheus", stack.prometheus)
    # what was scraped before the crash is still there (replayed from the write-ahead log)
    kept = query_range(stack.prometheus, 'up{job="node-exporter"}', before - 10, before)
    assert len(kept) >= 8 and set(kept) == {1.0}
    if runtime == "compose":  # the same container, restarted by its policy (not recreated by anyone)
        container = containers(stack.project)["prometheus"]
        assert container.attrs["RestartCount"] == restarts + 1
    # `status` agrees once the supervisor counts it as started (local: after startsecs=2)
    wait_for("status to say healthy", lambda: stack.status()["components"]["prometheus"]["health"] == "healthy", 60)


# --- b. Alertmanager crashes --------------------------------------------------------------------------------
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_crashed_alertmanager_keeps_silences_and_delivers(
    runtime: str, write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    spec, ports = _stack(runtime, port, "faultam", "pushgateway", **ALERTING)
    if runtime == "local":
        need_binaries("prometheus-pushgateway")
        spec["exporters"]["pushgateway"] = {"port": ports["pushgateway"]}
        host = "127.0.0.1"
    else:
        spec["exporters"]["pushgateway"] = {
            "port": ports["pushgateway"],
            "image": docker_images_or_skip()["pushgateway"],
        }
        host = bridge_gateway()
    hook = Webhook(host)
    try:
        stack = deployments(write_spec(spec), runtime, ports, HOOK_URL=hook.url)
        stack.up()
        silence = add_silence(stack.alertmanager)
        # Alertmanager writes silences to disk only every --data.maintenance-interval (rendered 10s) and on
        # a clean shutdown: a crash within that window would lose the silence, so wait for the snapshot
        wait_for(
            "the silence snapshot",
            lambda: (metric(stack.alertmanager, "alertmanager_silences_snapshot_size_bytes") or 0) > 0,
            120,
        )

        crash(stack, "alertmanager", stack.alertmanager)
        assert silence in silences(stack.alertmanager)

        # alerting works end to end after the restart: a new alert reaches the receiver
        _stop_pushgateway(stack)
        wait_for(
            "the firing TargetDown notification of the Pushgateway",
            lambda: hook.alerts("TargetDown", "firing", job="pushgateway"),
            90,
        )
    finally:
        hook.close()


def _stop_pushgateway(stack: Deployment) -> None:
    if stack.runtime == "compose":
        containers(stack.project)["pushgateway"].stop(timeout=5)
        return
    supervisorctl = str(Path(sys.executable).with_name("supervisorctl"))
    conf = str(stack.root / "run" / "supervisord.conf")
    done = subprocess.run(
        [supervisorctl, "-c", conf, "stop", "pushgateway"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- c. the Docker engine restarts --------------------------------------------------------------------------
DOCKERD_PID = Path("/var/run/docker.pid")


def _foreign_containers(project: str) -> list[str]:
    import docker  # type: ignore[import-untyped]

    running = docker.from_env().containers.list(filters={"status": "running"})
    return sorted(c.name for c in running if c.labels.get("com.docker.compose.project") != project)


def _stop_dockerd() -> None:
    """SIGTERM to dockerd, as `systemctl stop docker` does: it stops every container, then exits."""
    pid = int(DOCKERD_PID.read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 90
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            pytest.fail(f"dockerd (pid {pid}) did not exit within 90s of SIGTERM")
        time.sleep(0.2)


def _start_dockerd() -> None:
    done = subprocess.run([str(IMAGES / "start_dockerd.sh")], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.docker
@pytest.mark.xdist_group("runtime-compose")
def test_stack_comes_back_after_the_docker_engine_restarts(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    spec, ports = _stack("compose", port, "faultengine")
    if os.geteuid() != 0 or not DOCKERD_PID.exists():
        pytest.skip("restarting the Docker engine needs root and a dockerd started by tests/images/start_dockerd.sh")
    stack = deployments(write_spec(spec), "compose", ports)
    stack.up()
    others = _foreign_containers(stack.project)
    if others:  # e.g. another checkout's test-suite on the same engine: never stop other people's containers
        pytest.skip(f"other containers run on this Docker engine ({', '.join(others[:3])}); not restarting it")
    before = samples_before(stack.prometheus)
    ids = {name: c.id for name, c in containers(stack.project).items()}
    try:
        _stop_dockerd()
        assert not listening(ports["prometheus"])
    finally:
        _start_dockerd()  # whatever happened, the engine runs again afterwards

    def healthy() -> bool:
        found = containers(stack.project)
        return set(found) == set(ids) and all(
            c.status == "running" and c.attrs["State"].get("Health", {}).get("Status") == "healthy"
            for c in found.values()
        )

    wait_for("every container running and healthy again", healthy, 180, 1)
    assert {name: c.id for name, c in containers(stack.project).items()} == ids  # restarted, not recreated
    wait_for("Prometheus to answer", lambda: ready(stack.prometheus), 30)
    kept = query_range(stack.prometheus, 'up{job="node-exporter"}', before - 10, before)
    assert len(kept) >= 8 and set(kept) == {1.0}
    report = stack.status()
    assert {n: c["health"] for n, c in report["components"].items()} == {
        "prometheus": "healthy",
        "alertmanager": "healthy",
        "node-exporter": "healthy",
    }


# --- d. a full or unusable state directory -----------------------------------------------------------------
@pytest.fixture
def mount_tmpfs() -> Iterator[Callable[..., Path]]:
    """Mount a tmpfs of a given size (a real full disk); unmounted at the end, whatever happened.
    `shown_at`: also bind-mount its folder of that name there (the rest of the tmpfs stays out of view)."""
    mounted: list[Path] = []

    def mount(where: Path, size: str, shown_at: Path | None = None) -> Path:
        if shutil.which("mount") is None or os.geteuid() != 0:
            pytest.skip("needs `mount` (util-linux) and root to put the state dir on a small tmpfs")
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"needs `mount -t tmpfs` (root): {done.stderr.decode().strip()}")
        mounted.append(where)
        if shown_at is not None:
            (where / shown_at.name).mkdir()
            shown_at.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", str(where / shown_at.name), str(shown_at)], check=True)
            mounted.append(shown_at)
        return where

    yield mount
    for where in reversed(mounted):
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)  # a process still holds a file: detach


def refused_up(stack: Deployment) -> str:
    """`up` without --debug (which would add the traceback), expected to fail: its stderr."""
    result = stack.run("up", str(stack.spec), "--runtime", stack.runtime, "--timeout", "120")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.stderr


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mode & 0o7777, p.read_bytes() if p.is_file() else b"")
        for p in sorted(root.rglob("*"))
    }


def test_up_on_a_full_state_dir_fails_cleanly(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    tmp_path: Path,
    mount_tmpfs: Callable[[Path, str], Path],
    deployments: Callable[..., Deployment],
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    mount_tmpfs(tmp_path / "state", "64k")
    stack = deployments(write_spec(base_spec(ports, "faultfull")), "local", ports)
    stderr = refused_up(stack)
    assert f"error: cannot write the next configuration into {stack.root / 'staging'}: No space left" in stderr
    assert "No space left on device; nothing running was changed" in stderr
    # nothing half-written, nothing started
    assert not (stack.root / "staging").exists()
    assert not (stack.root / "state.json").exists()
    assert [p for p in (stack.root / "tree").rglob("*") if p.is_file()] == []
    assert not (stack.root / "run" / "supervisord.pid").exists()
    assert not listening(ports["prometheus"])


def test_full_state_dir_leaves_the_running_stack_alone(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    tmp_path: Path,
    mount_tmpfs: Callable[[Path, str], Path],
    deployments: Callable[..., Deployment],
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    disk = mount_tmpfs(tmp_path / "state", "64m")
    spec = base_spec(ports, "faultfill")
    path = write_spec(spec)
    stack = deployments(path, "local", ports)
    try:
        stack.up()
        tree, good = snapshot(stack.root / "tree"), snapshot(stack.root / "last-good")
        record = (stack.root / "state.json").read_text()
        started = metric(stack.prometheus, "process_start_time_seconds")
        filler = disk / "filler"
        with filler.open("wb") as handle, contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()

        spec["scrape_interval"] = "2s"  # a change to prometheus.yml: would be a reload
        write_spec(spec)
        assert "No space left on device; nothing running was changed" in refused_up(stack)
        assert snapshot(stack.root / "tree") == tree
        assert snapshot(stack.root / "last-good") == good
        assert (stack.root / "state.json").read_text() == record
        assert not (stack.root / "staging").exists()
        assert metric(stack.prometheus, "process_start_time_seconds") == started  # untouched, still serving
        assert json.loads(stack.run("status", str(path), "--json").stdout)["components"]["prometheus"]["health"] == (
            "healthy"
        )
    finally:
        (disk / "filler").unlink(missing_ok=True)
        stack.close()


def test_state_dir_under_a_file_is_a_clear_error(
    write_spec: Callable[..., Path], port: Callable[[], int], tmp_path: Path
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    stack = Deployment(write_spec(base_spec(ports, "faultfile")), "local", ports, blocker / "state", "pst-blocked")
    result = stack.run("up", str(stack.spec), "--runtime", "local", timeout=120)
    assert result.returncode == 1
    assert f"error: cannot use the state directory {blocker}/state/pst-blocked: Not a directory" in result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert blocker.read_text() == "not a folder\n"
    assert not listening(ports["prometheus"])


@pytest.mark.parametrize("full", ["run", "tree"])
def test_a_full_disk_during_converge_rolls_back(
    full: str,
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    mount_tmpfs: Callable[..., Path],
    deployments: Callable[..., Deployment],
) -> None:
    """The disk fills up after the next tree is staged: writing supervisord's program files (run/) or
    installing the live files (tree/) fails with ENOSPC. A real full disk: that one folder is a small
    tmpfs, bind-mounted there and filled to the last byte once the stack runs (the filler beside, not in
    the folder: a file in tree/ that the spec does not make would be removed first, freeing the room);
    staging/ and everything else have room."""
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    spec = base_spec(ports, "faultconverge")
    path = write_spec(spec)
    stack = deployments(path, "local", ports)
    made = stack.run("down", str(path), "--runtime", "local")  # promstack makes (and marks) the state dir
    assert made.returncode == 0, made.stderr
    disk = mount_tmpfs(stack.root.parent / "disk", "1m", shown_at=stack.root / full)
    filler = disk / "filler"
    try:
        stack.up()
        tree, good = snapshot(stack.root / "tree"), snapshot(stack.root / "last-good")
        record = (stack.root / "state.json").read_text()
        started = metric(stack.prometheus, "process_start_time_seconds")
        with contextlib.suppress(OSError), filler.open("wb", buffering=0) as handle:
            while True:
                handle.write(b"\0" * 4096)

        spec["scrape_interval"] = "2s"  # prometheus.yml changes: a reload; every program file is rewritten
        write_spec(spec)
        stderr = refused_up(stack)
        assert "No space left on device" in stderr
        assert "The stack is back on its previous configuration" in stderr
        assert snapshot(stack.root / "tree") == tree
        assert snapshot(stack.root / "last-good") == good
        assert (stack.root / "state.json").read_text() == record
        assert not (stack.root / "staging").exists()
        assert [p.name for p in (disk / full).rglob(".*") if p.name != ".promstack.json"] == []  # no temp file
        assert metric(stack.prometheus, "process_start_time_seconds") == started  # the same process, serving
        assert stack.status()["components"]["node-exporter"]["health"] == "healthy"
    finally:
        filler.unlink(missing_ok=True)
