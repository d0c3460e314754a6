"""Long-term storage, live on both runtimes: two Prometheus copies remote-write to the VictoriaMetrics the
stack runs (Debian's 1.79 locally, an image of it on compose). Their samples are queryable there once
(the copies' `replica` label dropped, one sample per scrape interval kept), with VictoriaMetrics' own
retention, and they are still there after Prometheus' own data is deleted."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]
import pytest
from test_e2e_alert import switch
from test_ha import STEP, spaced
from test_runtime_compose import compose_spec, containers, docker_images_or_skip
from test_runtime_local import Deployment, base_spec, deployment_factory, need_binaries, query, wait_for

NODE = 'up{job="node-exporter"}'


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def flag(base: str, name: str) -> str | None:
    """The value VictoriaMetrics runs with for flag `name` (its /metrics lists every flag)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith(f'flag{{name="{name}", value="'):
                return line.split('value="', 1)[1].split('"', 1)[0]
    return None


def forget(stack: Deployment, copies: list[str]) -> None:
    """Stop the Prometheus copies and delete their data behind promstack's back (the next `up` starts
    them again, empty): locally their data folders, on compose their containers and volumes."""
    for name in copies:
        stop, _ = switch(stack, name)
        stop()
        if stack.runtime == "local":
            shutil.rmtree(stack.root / "data" / name)
        else:
            container = containers(stack.project)[name]
            volume = next(m["Name"] for m in container.attrs["Mounts"] if m["Type"] == "volume")
            container.remove()
            docker.from_env().volumes.get(volume).remove()


@pytest.mark.live
@pytest.mark.parametrize("runtime", ["local", pytest.param("compose", marks=pytest.mark.docker)])
def test_samples_reach_victoriametrics_once_and_outlive_prometheus(
    runtime: str, write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    ports = {"prometheus": spaced(port, 2), "alertmanager": port(), "node": port(), "vm": port()}
    # samples become visible to queries after 1s, not its default 30s: a shorter test
    store: dict[str, Any] = {"port": ports["vm"], "retention": "90d", "args": ["-search.latencyOffset=1s"]}
    if runtime == "local":
        need_binaries("victoria-metrics")
        spec = base_spec(ports, f"lt{runtime}")
    else:
        images = docker_images_or_skip()
        spec = compose_spec(ports, f"lt{runtime}", images)
        store["image"] = images["victoriametrics"]
    spec["components"]["prometheus"]["replicas"] = 2
    spec["storage"] = {"victoriametrics": store}
    stack = deployments(write_spec(spec), runtime, ports)
    stack.up()
    vm = f"http://127.0.0.1:{ports['vm']}"
    prometheus = [f"http://127.0.0.1:{ports['prometheus'] + STEP * i}" for i in range(2)]
    assert stack.status()["components"]["victoriametrics"]["health"] == "healthy"
    assert flag(vm, "retentionPeriod") == "2160h"  # 90d, its own retention
    assert flag(vm, "dedup.minScrapeInterval") == "1s"  # the stack's scrape interval

    # both copies write; the store holds one series (no `replica` label), one sample per interval
    def sending(copy: str) -> bool:
        sent = query(copy, 'prometheus_remote_storage_samples_total{remote_name="victoriametrics"} > 0')
        return len({s["metric"]["instance"] for s in sent}) == 2

    wait_for("both Prometheus copies to write to VictoriaMetrics", lambda: all(sending(p) for p in prometheus), 60)
    found = wait_for(
        "a minute of samples in VictoriaMetrics", lambda: query(vm, f"count_over_time({NODE}[1m]) > 50"), 120
    )
    assert len(found) == 1 and "replica" not in found[0]["metric"], found
    # two copies scrape it every second: 120 samples a minute arrive, one per second is kept
    assert float(found[0]["value"][1]) <= 65, found
    series = query(vm, f"{NODE}[1m]")
    at = float(series[0]["values"][10][0])  # a sample of then, which Prometheus is about to lose

    # Prometheus' own data deleted: the store still answers for the past, Prometheus no longer does
    forget(stack, ["prometheus", "prometheus-2"])
    stack.up()
    assert not query(prometheus[0], NODE, at=at) and not query(prometheus[1], NODE, at=at)
    kept = query(vm, NODE, at=at)
    assert len(kept) == 1 and kept[0]["metric"]["instance"] == series[0]["metric"]["instance"], kept
