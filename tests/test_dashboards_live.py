"""Live proof of the dashboards: real Prometheus 2.42, Alertmanager, node, redis and blackbox exporters, a
Redis and the demo service (also a service of its own, with an SLO measured by a probe), run from the local
rendering; every panel that is not empty by design shows data."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from generator import catalog, pipeline
from generator.errors import CheckError
from generator.render import args
from generator.write import Secrets, write_tree

pytestmark = pytest.mark.live
COMPONENTS = ("prometheus", "alertmanager", "node-exporter", "redis-exporter", "blackbox-exporter", "demo")
TOOLS = {"redis-server": "redis-server"}  # started by the test itself, not a component


def _binary(name: str) -> str:
    entry = catalog.entry(name)
    for candidate in entry.binaries:
        if shutil.which(candidate):
            return candidate
    pytest.skip(f"{name} is not installed (Debian package: {entry.package})")


def _get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.running[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def tails(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.logs.glob("*.log")))


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    for name in list(procs.running):
        procs.stop(name)


def _wait(what: str, test: Callable[[], bool], seconds: float, procs: Processes) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if test():
                return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"{what} within {seconds} s\n{procs.tails()}")


def _live_failures(spec: Path, url: str) -> list[str]:
    try:
        pipeline.check_spec(spec, live=url, only=["dashboards/live"])
    except CheckError as exc:
        return exc.failures
    return []


def test_every_panel_shows_data_on_a_running_stack(
    tmp_path: Path, port: Callable[[], int], write_spec: Callable[..., Path], processes: Processes
) -> None:
    binaries = {name: _binary(name) for name in COMPONENTS}
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package: redis-server)")
    ports = {name: port() for name in (*COMPONENTS, "grafana", "redis")}
    demo = f"127.0.0.1:{ports['demo']}"
    probe = {"name": "site", "module": "http_2xx", "targets": [f"http://{demo}/metrics"]}
    spec = write_spec(
        {
            "name": "livetest",
            "scrape_interval": "1s",
            "evaluation_interval": "1s",
            "components": {n: {"port": ports[n]} for n in ("prometheus", "alertmanager", "grafana")},
            "exporters": {
                "node": {"port": ports["node-exporter"]},
                "redis": {"port": ports["redis-exporter"], "targets": [f"127.0.0.1:{ports['redis']}"]},
                "blackbox": {"port": ports["blackbox-exporter"], "probes": [probe]},
            },
            # an SLO measured by the probe: its row on the SLOs dashboard reads the recorded ratios
            "services": [
                {"name": "site", "targets": [demo], "slos": [{"name": "up", "objective": 99, "probe": "site"}]}
            ],
            "demo": {"enabled": True, "port": ports["demo"], "error_ratio": 0.05},
        }
    )
    root = tmp_path / "tree"
    rendered = pipeline.render_spec(spec, "local", root)
    write_tree(rendered.tree, root, Secrets(tmp_path, environ={"HOOK_URL": "http://127.0.0.1:9/hook"}), salt="t")
    assert yaml.safe_load((root / "prometheus/prometheus.yml").read_text())["scrape_configs"]

    processes.start("redis", ["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", ""])
    for name in COMPONENTS:
        data = tmp_path / "data" / name
        data.mkdir(parents=True)
        argv = args.command(rendered.stack, name, rendered.target, str(data))
        processes.start(name, [binaries[name], *argv])

    prometheus = f"http://127.0.0.1:{ports['prometheus']}"

    def all_up() -> bool:
        targets = _get(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]  # type: ignore[index]
        jobs = {t["labels"]["job"]: t["health"] for t in targets if t["labels"]["job"] != "grafana"}
        return set(jobs) >= {"prometheus", "alertmanager", "node-exporter", "redis-exporter", "demo", "site"} and all(
            health == "up" for health in jobs.values()
        )

    _wait("every target (but Grafana, not run here) is up", all_up, 60, processes)

    # the rate windows ($__rate_interval = 4 s) and the SLO rules need a few scrapes: retry while warming up
    failures: list[str] = ["not run yet"]
    deadline = time.monotonic() + 60
    while failures and time.monotonic() < deadline:
        failures = _live_failures(spec, prometheus)
        if failures:
            time.sleep(2)
    assert failures == [], "\n".join(failures) + "\n" + processes.tails()

    # and the check does see a panel go empty: stop the redis exporter, whose series then go stale
    processes.stop("redis-exporter")
    _wait(
        "redis_up disappears",
        lambda: not _get(f"{prometheus}/api/v1/query?query=redis_up")["data"]["result"],  # type: ignore[index]
        30,
        processes,
    )
    failures = _live_failures(spec, prometheus)
    assert failures and all("promstack-redis" in f or "redis" in f.lower() for f in failures), failures
    assert any('panel "Up" shows no data' in f for f in failures), failures
