"""The demo service on the compose runtime, and the live dashboard proof against that compose stack.

No Grafana image exists here, so the stack runs without Grafana; the dashboards the live check runs
are rendered from the same spec with Grafana enabled (its panels query Prometheus, not Grafana).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from test_dashboards_live import _live_failures
from test_runtime_compose import compose_spec, containers, docker_images_or_skip
from test_runtime_local import Deployment, deployment_factory, free_ports, query, wait_for

pytestmark = [pytest.mark.live, pytest.mark.docker, pytest.mark.xdist_group("runtime-compose")]


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def test_demo_runs_on_compose_and_every_panel_has_data(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
    tmp_path: Path,
) -> None:
    docker_images = docker_images_or_skip()
    ports = free_ports(port, "prometheus", "alertmanager", "node", "demo")
    demo = {"enabled": True, "port": ports["demo"], "image": docker_images["python"], "error_ratio": 0.05}
    spec = compose_spec(ports, "rtdemo", docker_images, demo=demo)
    stack = deployments(write_spec(spec), "compose", ports)
    result = stack.up()
    assert "create demo" in result.stdout
    assert containers(stack.project)["demo"].status == "running"

    # the demo answers on its published loopback port and Prometheus scrapes its RED metrics
    wait_for("demo requests in Prometheus", lambda: query(stack.prometheus, "demo_http_requests_total"))
    codes = {s["metric"].get("code") for s in query(stack.prometheus, "demo_http_requests_total")}
    assert "200" in codes

    with_grafana = copy.deepcopy(spec)
    with_grafana["components"]["grafana"] = {"port": port()}
    dashboards_spec = write_spec(with_grafana, name="with-grafana.yaml")
    assert yaml.safe_load(dashboards_spec.read_text())["components"]["grafana"]["port"]
    failures = ["not run yet"]
    deadline = time.monotonic() + 90  # rate windows and SLO recording rules need a few evaluations
    while failures and time.monotonic() < deadline:
        failures = _live_failures(dashboards_spec, stack.prometheus)
        if failures:
            time.sleep(2)
    assert failures == [], "\n".join(failures)
