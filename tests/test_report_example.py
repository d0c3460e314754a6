"""`promstack report` of the example (stack/stack.yaml) after a live run on the local runtime with its demo:
every section is filled, and its figures match direct queries of the Prometheus HTTP API, computed here.

The example runs as it is but for what a test must change: its ports (free ones), its intervals (seconds, so
minutes of data hold many samples), the `for` of ServiceHighErrorRatio (a second, not five minutes) and its
receivers (webhooks to a closed loopback port: nothing leaves this host). Its team's services and probes
point at hosts that do not exist here: their targets are down, TargetDown fires for them, and the api's SLO
measured by its health probe spends its budget; the demo's errors are switched on so that its own alerts
fire too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_report_live import _firing_a_while, _firing_episodes, _one, _query, _report_json, _set_errors
from test_runtime_local import Deployment, deployment_factory, free_ports, need_binaries, wait_for

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.xdist_group("runtime-local"), pytest.mark.live]


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def _example(ports: dict[str, int]) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((ROOT / "stack" / "stack.yaml").read_text())
    # 2s: the PostgreSQL exporter takes a second to answer while its database is unreachable (none runs here)
    spec.update(scrape_interval="2s", scrape_timeout="2s", evaluation_interval="1s")
    spec.pop("environments")
    spec["alerts"]["overrides"]["ServiceHighErrorRatio"] = {"for": "1s"}  # not five minutes of waiting
    for name in ("prometheus", "alertmanager", "grafana"):
        spec["components"].setdefault(name, {})["port"] = ports[name]
    for name in ("node", "blackbox", "redis", "postgres"):
        spec["exporters"][name]["port"] = ports[name]
    spec["demo"]["port"] = ports["demo"]
    notifications = spec["notifications"]
    for receiver in notifications["receivers"]:
        for kind in [k for k in receiver if k != "name"]:
            del receiver[kind]
        receiver["webhook"] = {"url": {"env": "HOOK_URL"}}
    del notifications["smtp"]
    return spec


def test_a_report_of_the_example_has_every_section_and_its_figures_match(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment], tmp_path: Path
) -> None:
    need_binaries("python3")
    names = ("prometheus", "alertmanager", "grafana", "node", "blackbox", "redis", "postgres", "demo")
    ports = free_ports(port, *names)
    example = ROOT / "stack" / "example.env"
    env = dict(line.split("=", 1) for line in example.read_text().splitlines() if line and not line.startswith("#"))
    stack = deployments(write_spec(_example(ports)), "local", ports, **env)
    stack.up()
    prom, demo = stack.prometheus, f"http://127.0.0.1:{ports['demo']}"
    wait_for(
        "demo traffic and a down target of the team",
        lambda: (
            _query(prom, 'sum(increase(demo_http_requests_total{job="demo"}[30s])) > 20', time.time())
            and _query(prom, 'ALERTS{alertname="TargetDown",alertstate="firing",job="api"}', time.time())
        ),
        90,
    )
    _set_errors(demo, 0.5)  # the demo's own alerts fire on its error ratio
    _firing_a_while(prom, "ServiceHighErrorRatio", 180)

    report, at, window = _report_json(stack, tmp_path, "1h")

    # every section is filled: the example's SLOs, its services, the alerts that fired, the host's capacity
    slos = {(s["service"], s["slo"]): s for s in report["slos"]}
    assert set(slos) == {("api", "availability"), ("api", "health"), ("demo", "availability"), ("demo", "latency")}
    services = {s["service"]: s for s in report["services"]}
    assert set(services) == {"api", "worker", "demo"}
    history = {a["alertname"]: a for a in report["alerts"]["alerts"]}
    assert {"TargetDown", "ServiceHighErrorRatio"} <= set(history) and report["alerts"]["noisiest"]
    assert report["capacity"]["node_metrics"] is True

    # the demo's availability SLO, from counter increases computed here
    errors = _one(prom, f'sum(increase(demo_http_requests_total{{job="demo",code=~"5.."}}[{window}]))', at)
    total = _one(prom, f'sum(increase(demo_http_requests_total{{job="demo"}}[{window}]))', at)
    assert slos["demo", "availability"]["achieved"] == pytest.approx(100 * (1 - errors / total), rel=1e-9)
    assert slos["demo", "availability"]["budget_left"] == pytest.approx(1 - errors / total / 0.01, rel=1e-9)
    # the api's health SLO is measured by its probe, which fails here (no host `api`): from raw samples
    probes = [
        float(v)
        for series in _query(prom, f'probe_success{{job="blackbox-api-health"}}[{window}]', at)
        for _, v in series["values"]
    ]
    assert probes and sum(probes) == 0
    assert slos["api", "health"]["achieved"] == pytest.approx(100 * sum(probes) / len(probes), abs=1e-9)
    assert slos["api", "health"]["budget_left"] == pytest.approx(1 - 1 / 0.005, rel=1e-9)
    # the api's request SLO has no requests at all: no figure rather than a made-up one
    assert slos["api", "availability"]["achieved"] is None

    # services: availability from raw `up` samples (the api is never up here, the demo always)
    for name in ("api", "demo"):
        ups = [float(v) for _, v in _query(prom, f'up{{job="{name}"}}[{window}]', at)[0]["values"]]
        assert services[name]["availability"] == pytest.approx(100 * sum(ups) / len(ups), rel=1e-9)
    assert services["api"]["availability"] == 0 and services["demo"]["requests"] == pytest.approx(total, rel=1e-9)
    assert services["demo"]["error_ratio"] == pytest.approx(errors / total, rel=1e-9)

    # alerts: episodes cut from raw ALERTS samples here
    episodes = _firing_episodes(prom, "ServiceHighErrorRatio", window, at, 1.0)
    assert history["ServiceHighErrorRatio"]["fired"] == len(episodes) >= 1
    assert history["ServiceHighErrorRatio"]["still_firing"] >= 1
    down = _query(prom, f'ALERTS{{alertname="TargetDown",alertstate="firing"}}[{window}]', at)
    assert history["TargetDown"]["instances"] == len({json.dumps(s["metric"], sort_keys=True) for s in down})

    # the text formats hold every section too
    markdown = stack.run("report", str(stack.spec), "--since", "1h", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    for heading in ("## SLOs", "## Services", "## Alerts", "## Capacity"):
        assert heading in markdown.stdout
