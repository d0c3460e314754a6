"""Runtime `local`: the stack as host processes under supervisord, end to end with the Debian binaries.

Also home of the helpers the other runtime tests import (`Deployment`, `promstack`, `wait_for`, ...):
one place that knows how to drive the real CLI against a throw-away state dir and project name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from generator.runtimes.state import State

PROMSTACK = str(Path(sys.executable).with_name("promstack"))
DEBIAN_BINARIES = ("prometheus", "prometheus-alertmanager", "prometheus-node-exporter")


def promstack(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMSTACK, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60, interval: float = 0.25) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


SCRAPE_COUNTS = re.compile(r"^scrape targets: (\d+) of (\d+) up(?:; (\d+) not scraped yet: .*)?$", re.MULTILINE)


def scrape_counts(stdout: str) -> tuple[int, int, int]:
    """(up, of, not scraped yet) from `up`'s summary: `up` verifies the stack's own targets without waiting
    for Prometheus' first scrape, so a target may still be waiting for it when `up` returns."""
    found = SCRAPE_COUNTS.search(stdout)
    assert found, stdout
    return int(found[1]), int(found[2]), int(found[3] or 0)


def target_health(stack: Deployment) -> dict[str, str]:
    """job -> health of its target (one each), as `status` reports them."""
    return {t["job"]: t["health"] for t in stack.status()["targets"]}


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.loads(answer.read())
    except OSError:
        return None


def query(prometheus: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    params = {"query": expr, **({"time": str(at)} if at is not None else {})}
    data = get_json(f"{prometheus}/api/v1/query?{urllib.parse.urlencode(params)}")
    return list(data["data"]["result"]) if data and data.get("status") == "success" else []


def metric(base: str, name: str) -> float | None:
    """An unlabelled sample from a component's own /metrics page."""
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def rule_names(prometheus: str) -> set[str]:
    data = get_json(f"{prometheus}/api/v1/rules") or {}
    return {r["name"] for g in data.get("data", {}).get("groups", []) for r in g["rules"]}


def add_silence(alertmanager: str, alertname: str = "Survives") -> str:
    """A silence of `alertname` (Alertmanager state that must survive every `up` and `down`); returns its id."""
    now = datetime.now(UTC)
    body = {
        "matchers": [{"name": "alertname", "value": alertname, "isRegex": False}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "promstack tests",
        "comment": "must survive",
    }
    request = urllib.request.Request(
        f"{alertmanager}/api/v2/silences",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return str(json.loads(answer.read())["silenceID"])


def silences(alertmanager: str) -> set[str]:
    return {s["id"] for s in get_json(f"{alertmanager}/api/v2/silences") or [] if s["status"]["state"] == "active"}


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Deployment:
    """One stack on one runtime in its own state dir and project; `close()` removes all of it."""

    spec: Path
    runtime: str
    ports: dict[str, int]
    state_dir: Path
    project: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PROMSTACK_STATE_DIR": str(self.state_dir),
            "PROMSTACK_PROJECT": self.project,
            **self.extra_env,
        }

    @property
    def root(self) -> Path:
        return self.state_dir / self.project

    @property
    def prometheus(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"

    @property
    def alertmanager(self) -> str:
        return f"http://127.0.0.1:{self.ports['alertmanager']}"

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return promstack(*args, env=self.env, timeout=timeout)

    def up(self, expect: int = 0, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        # --debug: a promstack bug shows its traceback in the assertion message
        result = self.run(
            "--debug", "up", str(self.spec), "--runtime", self.runtime, "--timeout", "120", timeout=timeout
        )
        assert result.returncode == expect, f"up exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        return result

    def status(self) -> dict[str, Any]:
        result = self.run("status", str(self.spec), "--json")
        assert result.returncode == 0, result.stderr
        return dict(json.loads(result.stdout))

    def close(self) -> None:
        result = self.run("down", str(self.spec), "--runtime", self.runtime, "--volumes", timeout=180)
        if result.returncode != 0:
            self.force_cleanup()  # whatever broke `down`, leave nothing running behind
        assert result.returncode == 0, result.stderr

    def force_cleanup(self) -> None:
        """Remove what the stack started without promstack: its supervisord, or its compose project."""
        if self.runtime == "local":
            pid_file = self.root / "run" / "supervisord.pid"
            if pid_file.exists():
                pid = int(pid_file.read_text())
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)  # supervisord stops its programs on the way out
                    wait_for("supervisord to exit", lambda: not alive(pid), 60)
            return
        import docker  # type: ignore[import-untyped]

        client = docker.from_env()
        label = {"label": f"com.docker.compose.project={self.project}"}
        for container in client.containers.list(all=True, filters=label):
            container.remove(force=True)
        for network in client.networks.list(filters=label):
            network.remove()
        for volume in client.volumes.list(filters=label):
            volume.remove(force=True)


def base_spec(ports: dict[str, int], name: str, **more: Any) -> dict[str, Any]:
    """A fast stack: 1s scrape/eval, Prometheus + Alertmanager + node exporter on the given ports."""
    spec: dict[str, Any] = {
        "name": name,
        "scrape_interval": "1s",
        "evaluation_interval": "1s",
        "components": {
            "prometheus": {"port": ports["prometheus"]},
            "alertmanager": {"port": ports["alertmanager"]},
            "grafana": {"enabled": False},
        },
        "exporters": {"node": {"port": ports["node"]}},
    }
    spec.update(more)
    return spec


def deployment_factory(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    """Factory of deployments; every one is taken down with its data at the end, even on failure.
    Each runtime test module wraps it in its own `deployments` fixture."""
    made: list[Deployment] = []

    def make(spec: Path, runtime: str, ports: dict[str, int], **env: str) -> Deployment:
        project = f"pst-{uuid.uuid4().hex[:10]}"
        deployment = Deployment(
            spec, runtime, ports, tmp_path / "state", project, {"HOOK_URL": "http://127.0.0.1:9/unused", **env}
        )
        made.append(deployment)
        return deployment

    yield make
    errors = []
    for deployment in reversed(made):
        try:
            deployment.close()
        except AssertionError as exc:  # keep tearing down the others
            errors.append(str(exc))
    assert not errors, errors


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def need_binaries(*more: str) -> None:
    missing = [b for b in (*DEBIAN_BINARIES, *more, "promtool", "amtool") if shutil.which(b) is None]
    if missing:
        pytest.skip(
            f"needs {', '.join(missing)} (Debian packages of the same names; promtool comes with prometheus, "
            "amtool with prometheus-alertmanager)"
        )


def free_ports(port: Callable[[], int], *names: str) -> dict[str, int]:
    return {name: port() for name in names}


pytestmark = pytest.mark.xdist_group("runtime-local")


@pytest.mark.live
def test_up_status_down_keeps_data_until_volumes(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node", "grafana", "cadvisor")
    spec = base_spec(ports, "rtlocal")
    spec["components"]["grafana"] = {"port": ports["grafana"]}  # enabled: no Grafana binary here
    spec["exporters"]["cadvisor"] = {"port": ports["cadvisor"]}  # Debian packages no cAdvisor
    stack = deployments(write_spec(spec), "local", ports)

    result = stack.up()
    # no Grafana nor cAdvisor here: reported plainly, not a failure, and left out with their alerts and
    # dashboards (no scrape job paging about them, no rule on metrics nobody produces)
    for name in ("grafana", "cadvisor"):
        assert f"left out on the local runtime, with its alerts and dashboard: {name} is not installed" in result.stdout
        assert f"left out on the local runtime, with its alerts and dashboard: {name} is not installed" in result.stderr
    assert "Grafana" not in result.stdout.split("left out")[0]
    assert not {"ContainerOomKilled", "ContainerCpuThrottled", "ContainerHighMemoryUsage"} & rule_names(
        stack.prometheus
    )
    assert "TargetDown" in rule_names(stack.prometheus)
    assert f"Prometheus    http://localhost:{ports['prometheus']}" in result.stdout
    up_count, total, waiting = scrape_counts(result.stdout)
    assert total == 3 and up_count + waiting == 3, result.stdout
    every = {"prometheus": "up", "alertmanager": "up", "node-exporter": "up"}
    wait_for("Prometheus to scrape every target", lambda: target_health(stack) == every)
    report = stack.status()
    components = report["components"]
    assert report["runtime"] == "local"
    assert {n: components[n]["state"] for n in ("prometheus", "alertmanager", "node-exporter")} == {
        "prometheus": "running",
        "alertmanager": "running",
        "node-exporter": "running",
    }
    assert components["prometheus"]["version"].startswith("2.42")
    assert components["alertmanager"]["health"] == "healthy"
    assert components["grafana"]["state"] == "skipped"
    assert components["cadvisor"]["state"] == "skipped"
    assert components["cadvisor"]["reason"].startswith("cadvisor is not installed")
    assert target_health(stack) == every

    # supervisord of this stack only: a unix socket (in run/ unless that path is too long for one),
    # every log and the data in the state dir
    sock = State(stack.root, stack.project).socket
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o700
    assert (stack.root / "logs" / "prometheus.log").exists()
    assert any((stack.root / "data" / "prometheus").iterdir())

    # a second `up` with the same spec changes nothing: same process
    started = metric(stack.prometheus, "process_start_time_seconds")
    again = stack.up()
    assert "applied: nothing (no changes)" in again.stdout
    assert metric(stack.prometheus, "process_start_time_seconds") == started

    # down keeps data: samples written before and silences are there after the next up
    silence = add_silence(stack.alertmanager)
    wait_for("a sample of up", lambda: query(stack.prometheus, 'up{job="node-exporter"}'))
    before = time.time()
    down = stack.run("down", str(stack.spec))
    assert down.returncode == 0 and "data kept" in down.stdout
    assert not listening(ports["prometheus"]) and not listening(ports["node"])
    stack.up()
    assert query(stack.prometheus, 'up{job="node-exporter"}', at=before)
    assert silence in silences(stack.alertmanager)
    stack.close()
    assert not (stack.root / "data").exists()
    assert not listening(ports["prometheus"])


@pytest.mark.live
def test_component_change_restarts_only_that_component(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    path = write_spec(base_spec(ports, "rtrestart"))
    stack = deployments(path, "local", ports)
    stack.up()
    prometheus_start = metric(stack.prometheus, "process_start_time_seconds")
    node_start = metric(f"http://127.0.0.1:{ports['node']}", "process_start_time_seconds")

    ports["node"] = port()  # a port is how the exporter runs: a restart; Prometheus only reloads
    write_spec(base_spec(ports, "rtrestart"))
    diff = stack.run("diff", str(path))
    assert "recreate  node-exporter" in diff.stdout and "reload    prometheus" in diff.stdout
    result = stack.up()
    assert "recreate node-exporter" in result.stdout
    assert metric(stack.prometheus, "process_start_time_seconds") == prometheus_start
    assert (metric(f"http://127.0.0.1:{ports['node']}", "process_start_time_seconds") or 0) > (node_start or 0)
    targets = {t["job"]: t for t in stack.status()["targets"]}
    assert targets["node-exporter"]["instance"] == f"127.0.0.1:{ports['node']}"
    wait_for("Prometheus to scrape the new node-exporter", lambda: target_health(stack)["node-exporter"] == "up")


@pytest.mark.live
def test_diff_names_secret_files_without_showing_them(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "rtdiff")), "local", ports, HOOK_URL="http://127.0.0.1:9/first")
    stack.up()
    assert stack.run("diff", str(stack.spec)).stdout.startswith("no changes")
    stack.extra_env["HOOK_URL"] = "http://127.0.0.1:9/second-secret-value"
    diff = stack.run("diff", str(stack.spec))
    assert diff.returncode == 0
    # Alertmanager 0.25 reads a webhook URL only inline: alertmanager.yml itself is a secret file
    assert "secret alertmanager/alertmanager.yml: changed (content not shown)" in diff.stdout
    assert "second-secret-value" not in diff.stdout + diff.stderr
    assert "reload    alertmanager" in diff.stdout
    live = stack.root / "tree" / "alertmanager" / "alertmanager.yml"
    assert stat.S_IMODE(live.stat().st_mode) == 0o600


@pytest.mark.live
def test_missing_binary_names_its_package(
    write_spec: Callable[..., Path], port: Callable[[], int], tmp_path: Path, deployments: Callable[..., Deployment]
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "rtmissing")), "local", ports)
    # a PATH with the checking tools and the core servers, but no node exporter
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("promtool", "amtool", "prometheus", "prometheus-alertmanager", "sh"):
        found = shutil.which(name)
        assert found is not None
        (bin_dir / name).symlink_to(found)
    stack.extra_env["PATH"] = str(bin_dir)
    result = stack.up(expect=1)
    assert "node-exporter is not installed" in result.stderr
    assert "package: prometheus-node-exporter" in result.stderr
    assert not listening(ports["prometheus"])  # nothing was started


def test_second_up_waits_then_refuses_while_locked(
    write_spec: Callable[..., Path], port: Callable[[], int], tmp_path: Path
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    spec = write_spec(base_spec(ports, "rtlock"))
    env = {
        **os.environ,
        "PROMSTACK_STATE_DIR": str(tmp_path / "state"),
        "PROMSTACK_PROJECT": "pst-lock",
        "PROMSTACK_LOCK_TIMEOUT": "1",
        "HOOK_URL": "http://127.0.0.1:9/x",
    }
    lock = tmp_path / "state" / "pst-lock" / "lock"
    lock.parent.mkdir(parents=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a running `up` holds
        began = time.monotonic()
        result = promstack("up", str(spec), "--runtime", "local", env=env, timeout=60)
        waited = time.monotonic() - began
    assert result.returncode == 1
    assert "another promstack up/down is running on stack 'pst-lock'" in result.stderr
    assert "waited 1s" in result.stderr
    assert waited >= 1  # it did wait for the lock before refusing
    assert not listening(ports["prometheus"])
