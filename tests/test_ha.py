"""High availability, live on both runtimes: two Prometheus copies and three clustered Alertmanagers.

A fault gives exactly one notification although both Prometheus copies fire the alert and send it to
every Alertmanager; a silence created on one Alertmanager holds on the others; with one Alertmanager
stopped the notification (that it is down) still arrives, once; and changing the number of copies is
applied live, keeping the data of the copies that stay.

"Exactly once" needs a moment after which no duplicate can come. An Alertmanager copy at position k of
the mesh flushes a group (logged at debug level: `msg=flushing`), waits k times `--cluster.peer-timeout`,
asks the notification log (gossiped by the copy that sent) whether the group was notified, and sends
if not; it flushes a group one flush after the other. So once every copy has begun two flushes of the
group after the notification arrived, each has decided about it at least once after the copy that
sent it, and a duplicate would already have been received. The peer timeout is 2s to keep the test
short (`args`, as a user would set it).

No alert resolves here while the copies flush it: Alertmanager copies may then send a stale firing
notification after the resolved one (prometheus/alertmanager#4008, README "High availability").
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_bridge import bridge_gateway
from port_registry import take
from test_e2e_alert import NOTIFY_FAST, Webhook, switch
from test_runtime_compose import compose_spec, containers, docker_images_or_skip, volumes
from test_runtime_local import (
    Deployment,
    add_silence,
    base_spec,
    deployment_factory,
    get_json,
    metric,
    need_binaries,
    query,
    silences,
    wait_for,
)

STEP = 100  # catalog `replicas.port_step` of prometheus and alertmanager


def gone(job: str, alert: str) -> dict[str, Any]:
    """A custom alert on a job's target being down, with the promtool tests every custom alert needs."""
    series = f'up{{job="{job}"}}'
    return {
        "alert": alert,
        "expr": f"{series} == 0",
        "severity": "critical",
        "summary": f"{job} is gone.",
        "tests": [
            {"series": {series: "0x15"}, "fires": True, "labels": {"job": job}},
            {"series": {series: "1x15"}, "fires": False},
        ],
    }


ALERTING = {
    "alerts": {"packs": "none", "rules": [gone("pushgateway", "PushgatewayGone"), gone("node-exporter", "NodeGone")]},
    "notifications": NOTIFY_FAST,
}
MESH_ARGS = ["--cluster.peer-timeout=2s"]


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def spaced(port: Callable[[], int], copies: int, gossip: bool = False) -> int:
    """A port whose copies' ports (+100, +200, ...) and gossip ports (+1 each) are free too."""
    while True:
        base = port()
        more = [base + STEP * i for i in range(1, copies)] + [base + STEP * i + 1 for i in range(copies)] * gossip
        if all(take(p) for p in more):
            return base


def ha_spec(
    runtime: str, name: str, ports: dict[str, int], prometheus: int, alertmanager: int, args: list[str]
) -> dict[str, Any]:
    if runtime == "local":
        need_binaries("prometheus-pushgateway")
        spec = base_spec(ports, name, **ALERTING)
        spec["exporters"]["pushgateway"] = {"port": ports["pushgateway"]}
    else:
        images = docker_images_or_skip()
        spec = compose_spec(ports, name, images, **ALERTING)
        spec["exporters"]["pushgateway"] = {"port": ports["pushgateway"], "image": images["pushgateway"]}
    spec["components"]["prometheus"]["replicas"] = prometheus
    spec["components"]["alertmanager"].update(replicas=alertmanager, args=args)
    return spec


def copies(ports: dict[str, int], name: str, count: int) -> list[str]:
    return [f"http://127.0.0.1:{ports[name] + STEP * i}" for i in range(count)]


def mesh_ready(alertmanagers: list[str], members: int) -> bool:
    status = [get_json(f"{am}/api/v2/status") or {} for am in alertmanagers]
    cluster = [s.get("cluster") or {} for s in status]
    return all(c.get("status") == "ready" and len(c.get("peers") or []) == members for c in cluster)


def log(stack: Deployment, name: str) -> str:
    if stack.runtime == "local":
        return (stack.root / "logs" / f"{name}.log").read_text(errors="replace")
    return str(containers(stack.project)[name].logs().decode(errors="replace"))


def flushes(stack: Deployment, name: str, alertname: str, job: str) -> int:
    """How often Alertmanager copy `name` began to flush the group of `alertname` and `job` (debug log)."""
    group = re.compile(rf'aggrGroup=.*alertname=\\"{alertname}\\", job=\\"{job}\\"')
    return sum(1 for line in log(stack, name).splitlines() if "msg=flushing" in line and group.search(line))


def settled(stack: Deployment, names: list[str], alertname: str, job: str) -> None:
    """Wait until every copy in `names` began two more flushes of the group (see the module docstring)."""
    start = {name: flushes(stack, name, alertname, job) for name in names}
    wait_for(
        f"every Alertmanager copy to flush {alertname} twice more",
        lambda: all(flushes(stack, n, alertname, job) >= start[n] + 2 for n in names),
        60,
    )


def alerts_on(alertmanager: str, alertname: str) -> list[dict[str, Any]]:
    found = get_json(f"{alertmanager}/api/v2/alerts") or []
    return [a for a in found if a["labels"].get("alertname") == alertname]


def firing_on(prometheus: str, alertname: str) -> bool:
    return bool(query(prometheus, f'ALERTS{{alertname="{alertname}",alertstate="firing"}}'))


@pytest.mark.live
@pytest.mark.parametrize("runtime", ["local", pytest.param("compose", marks=pytest.mark.docker)])
def test_two_prometheus_three_alertmanagers_notify_once(
    runtime: str, write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    ports = {
        "prometheus": spaced(port, 2),
        "alertmanager": spaced(port, 3, gossip=True),
        "node": port(),
        "pushgateway": port(),
    }
    spec = ha_spec(runtime, f"ha{runtime}", ports, 2, 3, [*MESH_ARGS, "--log.level=debug"])
    hook = Webhook("127.0.0.1" if runtime == "local" else bridge_gateway())
    prometheus = copies(ports, "prometheus", 2)
    alertmanagers = copies(ports, "alertmanager", 3)
    names = ["alertmanager", "alertmanager-2", "alertmanager-3"]
    try:
        stack = deployments(write_spec(spec), runtime, ports, HOOK_URL=hook.url)
        result = stack.up()
        assert f"Prometheus 2   http://localhost:{ports['prometheus'] + STEP}" in result.stdout
        report = stack.status()["components"]
        every = ["prometheus", "prometheus-2", *names]
        assert {n: report[n]["health"] for n in every} == dict.fromkeys(every, "healthy")
        assert report["alertmanager-3"]["component"] == "alertmanager" and report["alertmanager-3"]["replica"] == 3
        assert report["alertmanager-3"]["url"] == f"http://localhost:{ports['alertmanager'] + 2 * STEP}"
        assert "replica" not in report["pushgateway"]
        text = stack.run("status", str(stack.spec)).stdout
        assert all(f"\n  {n} " in text for n in every), text
        wait_for("the Alertmanager mesh of three", lambda: mesh_ready(alertmanagers, 3), 60)

        # a fault: both Prometheus copies fire, every Alertmanager gets it twice; one notification
        stop_pushgateway, _ = switch(stack, "pushgateway")
        stop_pushgateway()
        wait_for("both copies to fire", lambda: all(firing_on(p, "PushgatewayGone") for p in prometheus), 60)
        wait_for("the notification", lambda: hook.alerts("PushgatewayGone", "firing"), 60)
        settled(stack, names, "PushgatewayGone", "pushgateway")
        assert len(hook.alerts("PushgatewayGone", "firing")) == 1, hook.received
        labels = hook.alerts("PushgatewayGone", "firing")[0]["labels"]
        assert "replica" not in labels and labels["stack"] == spec["name"]  # dropped; external labels kept

        # a silence made on the second copy holds on the first and third
        silence = add_silence(alertmanagers[1], "NodeGone")
        for am in (alertmanagers[0], alertmanagers[2]):
            wait_for(f"the silence to reach {am}", lambda am=am: silence in silences(am), 30)
        stop_node, _ = switch(stack, "node-exporter")
        stop_node()
        wait_for("both copies to fire NodeGone", lambda: all(firing_on(p, "NodeGone") for p in prometheus), 60)

        def silenced(am: str) -> bool:
            held = alerts_on(am, "NodeGone")
            return bool(held) and all(a["status"]["silencedBy"] == [silence] for a in held)

        wait_for("every copy to hold NodeGone silenced", lambda: all(silenced(am) for am in alertmanagers), 30)
        settled(stack, names, "NodeGone", "node-exporter")
        assert not hook.alerts("NodeGone", "firing"), hook.received
        # what the silence does not match; TargetDown waits for a second failed scrape, so it may come later
        wait_for("TargetDown of the node exporter", lambda: hook.alerts("TargetDown", "firing", job="node-exporter"))

        # one Alertmanager stopped: the two others say so, once
        stop_first, _ = switch(stack, "alertmanager")
        stop_first()
        wait_for(
            "the notification that it is down", lambda: hook.alerts("TargetDown", "firing", job="alertmanager"), 90
        )
        settled(stack, names[1:], "TargetDown", "alertmanager")
        assert len(hook.alerts("TargetDown", "firing", job="alertmanager")) == 1, hook.received
        assert len(hook.alerts("PushgatewayGone", "firing")) == 1, hook.received
    finally:
        hook.close()


@pytest.mark.live
@pytest.mark.parametrize("runtime", ["local", pytest.param("compose", marks=pytest.mark.docker)])
def test_changing_the_number_of_copies_keeps_their_data(
    runtime: str, write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    """1 -> 2 Prometheus and 1 -> 3 Alertmanager copies, live: the first Prometheus is reloaded (not
    restarted) and keeps its samples, the first Alertmanager's silence reaches the new copies; back to 1:
    the other copies are removed and their data kept, so scaling up again finds it."""
    ports = {
        "prometheus": spaced(port, 2),
        "alertmanager": spaced(port, 3, gossip=True),
        "node": port(),
        "pushgateway": port(),
    }
    spec = ha_spec(runtime, f"hascale{runtime}", ports, 1, 1, MESH_ARGS)
    path = write_spec(spec)
    stack = deployments(path, runtime, ports)
    stack.up()
    prometheus, second = copies(ports, "prometheus", 2)
    alertmanagers = copies(ports, "alertmanager", 3)
    silence = add_silence(alertmanagers[0])
    wait_for("a sample of up", lambda: query(prometheus, 'up{job="node-exporter"}'))
    before = time.time()
    started = metric(prometheus, "process_start_time_seconds")

    def scale(prometheus_copies: int, alertmanager_copies: int) -> set[str]:
        """`up` with these numbers of copies; what it applied."""
        spec["components"]["prometheus"]["replicas"] = prometheus_copies
        spec["components"]["alertmanager"]["replicas"] = alertmanager_copies
        write_spec(spec)
        out = stack.up().stdout
        applied = next(line for line in out.splitlines() if line.startswith("applied:"))
        return set(applied.removeprefix("applied: ").split("; "))

    assert scale(2, 3) == {
        "reload prometheus",  # a new config file, not a restart
        "create prometheus-2",
        "recreate alertmanager",  # its gossip flags changed
        "create alertmanager-2",
        "create alertmanager-3",
    }
    assert metric(prometheus, "process_start_time_seconds") == started  # reloaded, not restarted
    assert query(prometheus, 'up{job="node-exporter"}', at=before)
    wait_for("the mesh of three", lambda: mesh_ready(alertmanagers, 3), 60)
    for am in alertmanagers:  # the first copy's silence, kept on disk across its restart, reaches the others
        wait_for(f"the silence on {am}", lambda am=am: silence in silences(am), 30)
    config = (get_json(f"{second}/api/v1/status/config") or {}).get("data", {}).get("yaml", "")
    assert "replica: prometheus-2" in config
    wait_for("a sample scraped by the second copy", lambda: query(second, 'up{job="node-exporter"}'))
    second_before = time.time()

    assert scale(1, 1) == {
        "reload prometheus",
        "remove prometheus-2",
        "recreate alertmanager",
        "remove alertmanager-2",
        "remove alertmanager-3",
    }
    assert metric(prometheus, "process_start_time_seconds") == started
    assert query(prometheus, 'up{job="node-exporter"}', at=before)
    assert silence in silences(alertmanagers[0])
    assert set(stack.status()["components"]) == {"prometheus", "alertmanager", "node-exporter", "pushgateway"}
    if runtime == "local":
        assert any((stack.root / "data" / "prometheus-2").iterdir())  # kept
    else:
        assert f"{stack.project}_prometheus-2-data" in volumes(stack.project)
        assert "prometheus-2" not in containers(stack.project)

    scale(2, 1)  # the second copy comes back on its own data
    assert query(second, 'up{job="node-exporter"}', at=second_before)
