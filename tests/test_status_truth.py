"""`status` tells the truth about what is monitored: an exporter that answers while what it watches does not
(`redis_up` 0) is a target down, with the reason, in `status`, `status --json` and the summary of `up`; a
config reload a component refused is shown too.

Live, on the local runtime, with the real redis exporter: one Redis target is a loopback port nobody listens
on, the other a real redis-server that the test then stops.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import skip_or_fail
from test_runtime_local import (
    Deployment,
    base_spec,
    deployment_factory,
    free_ports,
    need_binaries,
    scrape_counts,
    wait_for,
)

from generator import catalog
from generator.runtimes import monitored
from generator.runtimes.report import status_lines
from generator.runtimes.verify import TargetInfo

REASON = "redis_up is 0: the exporter answers, but cannot reach Redis"


def test_every_backend_gauge_is_a_metric_its_exporter_exposes() -> None:
    found = {name: e.backend for name, e in catalog.entries().items() if e.backend}
    assert {"redis-exporter", "postgres-exporter", "mysqld-exporter", "blackbox-exporter"} <= set(found)
    for name, backend in found.items():
        assert set(backend) == {"up", "down"}, name
        assert backend["up"] in catalog.entry(name).raw["metrics"], name


def test_a_target_whose_backend_is_down_is_down_for_that_reason() -> None:
    up = TargetInfo("redis-exporter", "127.0.0.1:6379", "up", "", "")
    other = TargetInfo("node-exporter", "127.0.0.1:9100", "up", "", "")
    refused = TargetInfo("redis-exporter", "127.0.0.1:6380", "down", "connection refused", "")
    down = {("redis-exporter", "127.0.0.1:6379"): REASON, ("redis-exporter", "127.0.0.1:6380"): REASON}
    judged = monitored.judged([up, other, refused], down)
    assert [(t.health, t.error) for t in judged] == [("down", REASON), ("up", ""), ("down", "connection refused")]


def test_status_lines_lead_with_the_verdict_and_its_reasons() -> None:
    report: dict[str, Any] = {
        "deployed": True,
        "stack": "s",
        "runtime": "local",
        "project": "p",
        "health": "degraded",
        "problems": [f"target redis-exporter 127.0.0.1:1 is down: {REASON}"],
        "components": {},
        "targets": [{"job": "redis-exporter", "instance": "127.0.0.1:1", "health": "down", "error": REASON}],
        "alerts": [],
    }
    lines = status_lines(report)
    assert lines[:2] == [
        "stack 's' on local (project 'p'): degraded",
        f"  target redis-exporter 127.0.0.1:1 is down: {REASON}",
    ]
    assert f"  redis-exporter 127.0.0.1:1: down {REASON}" in lines


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


@pytest.fixture
def redis_server(port: Callable[[], int], tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    binary = shutil.which("redis-server")
    if binary is None:
        skip_or_fail("needs redis-server (Debian package redis-server)")
    listen = port()
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(listen),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield listen, server
    finally:
        server.terminate()
        server.wait(timeout=30)


def _reload(base: str) -> int:
    request = urllib.request.Request(f"{base}/-/reload", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@pytest.mark.live
def test_status_shows_a_stack_whose_redis_is_unreachable_as_degraded_with_the_reason(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
    redis_server: tuple[int, subprocess.Popen[bytes]],
) -> None:
    need_binaries("prometheus-redis-exporter")
    ports = free_ports(port, "prometheus", "alertmanager", "node", "redis-exporter", "closed")
    live, server = redis_server
    closed, running = f"127.0.0.1:{ports['closed']}", f"127.0.0.1:{live}"  # nothing listens on `closed`
    spec = base_spec(ports, "truth")
    spec["exporters"]["redis"] = {"port": ports["redis-exporter"], "targets": [closed, running]}
    stack = deployments(write_spec(spec), "local", ports)

    up = stack.up()
    # the deployment itself is fine. `up` returns once the stack's own targets answer, maybe before
    # Prometheus scraped the Redis nobody answers for: then the summary counts it as not scraped yet, else
    # as down, saying why; either way every target is counted once
    warned = f"warning: target redis-exporter {closed} is down: {REASON}" in up.stdout
    up_count, total, waiting = scrape_counts(up.stdout)
    assert total == 5 and up_count + waiting + up.stdout.count("  warning: target ") == 5, up.stdout
    assert warned or waiting, up.stdout

    def closed_down() -> dict[str, Any] | None:
        found = stack.status()
        return found if found["problems"] == [f"target redis-exporter {closed} is down: {REASON}"] else None

    report = wait_for("status to show the Redis nobody answers for as down", closed_down, 60)
    assert report["health"] == "degraded"
    assert report["problems"] == [f"target redis-exporter {closed} is down: {REASON}"]
    targets = {t["instance"]: t for t in report["targets"] if t["job"] == "redis-exporter"}
    assert targets[closed]["health"] == "down" and targets[closed]["error"] == REASON
    assert targets[running]["health"] == "up"
    text = stack.run("status", str(stack.spec)).stdout
    assert text.splitlines()[0].endswith("(project '" + stack.project + "'): degraded")
    assert f"  target redis-exporter {closed} is down: {REASON}" in text

    # the real Redis stops: its exporter still answers, and status says the second one is down too
    server.terminate()
    server.wait(timeout=30)

    def both_down() -> dict[str, Any] | None:
        found = stack.status()
        return found if len(found["problems"]) == 2 else None

    report = wait_for("the stopped Redis to show as down", both_down, 60)
    assert f"target redis-exporter {running} is down: {REASON}" in report["problems"]

    # a config Alertmanager refuses to reload: it keeps running the previous one, and status says so
    live_config = stack.root / "tree" / "alertmanager" / "alertmanager.yml"
    live_config.write_text(live_config.read_text() + "\nnot: [valid\n")
    assert _reload(stack.alertmanager) >= 400
    report = stack.status()
    alertmanager = report["components"]["alertmanager"]
    assert alertmanager["config_reload"] == "failed"
    assert report["components"]["prometheus"]["config_reload"] == "ok"
    failed = (
        "alertmanager: its last config reload failed (alertmanager_config_last_reload_successful is 0): "
        "it still runs the config before; see its log"
    )
    assert failed in report["problems"]
    assert json.loads(stack.run("status", str(stack.spec), "--json").stdout)["health"] == "degraded"


def test_a_component_that_does_not_run_or_answer_is_a_reason_a_left_out_one_is_not() -> None:
    from generator.runtimes.inspect import _problems

    report = {
        "components": {
            "prometheus": {"state": "running", "health": "unhealthy (HTTP 503)"},
            "alertmanager": {"state": "stopped", "health": "-"},
            "grafana": {"state": "skipped", "health": "-", "reason": "grafana is not installed"},
        },
        "targets": [{"job": "api", "instance": "api:8000", "health": "unknown", "error": ""}],
    }
    assert _problems(report) == [
        "prometheus is running and unhealthy (HTTP 503)",
        "alertmanager is stopped",
        "target api api:8000 is unknown: not scraped yet",
    ]
