"""What `up` waits for (generator/runtimes/verify.py, own_targets.py): the stack's own scrape targets verified,
up in Prometheus or, before Prometheus' first scrape, answering promstack's own request for their metrics
page; the team's targets listed but not awaited; and what the summary says about those not scraped yet.

The exporters here are stand-ins (a loopback HTTP server per copy, answering what the test needs: a
metrics page, or an error). Prometheus is the real binary where its own timing is what is tested, and a
fake (a loopback server answering `/api/v1/targets` from a list the test sets) where a test needs a state
the real one holds only by chance: a target reported down whose page answers promstack, a target still
unlisted on the Nth poll.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import skip_or_fail
from test_runtime_local import (
    Deployment,
    base_spec,
    deployment_factory,
    free_ports,
    get_json,
    need_binaries,
    scrape_counts,
    wait_for,
)

from generator.model import Stack
from generator.render import Target
from generator.runtimes import verify
from generator.runtimes.health import Endpoint, Unhealthy, Waiter
from generator.runtimes.own_targets import OwnTargets
from generator.runtimes.report import scrape_lines
from generator.runtimes.verify import TargetInfo, Verified
from generator.spec import stack_from_text
from generator.write import Secrets

NOTIFY = {"receivers": [{"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}}], "default_receiver": "team"}
PAGE = "# TYPE stand_in_up gauge\nstand_in_up 1\n"
NEVER = "0001-01-01T00:00:00Z"  # Prometheus' lastScrape of a target it has not scraped


def build(ports: dict[str, int], runtime: str = "local", replicas: int = 1) -> Stack:
    spec = {
        "version": 1,
        "name": "v",
        "components": {
            "prometheus": {"port": ports["prometheus"], "replicas": replicas},
            "alertmanager": {"port": ports["alertmanager"]},
            "grafana": {"enabled": False},
        },
        "exporters": {
            "node": {"port": ports["node"]},
            "pushgateway": {"port": ports["pushgateway"]},
            "redis": {"port": ports["redis"], "targets": ["redis:6379"]},
        },
        "notifications": NOTIFY,
    }
    return stack_from_text(yaml.safe_dump(spec, sort_keys=False), runtime=runtime)


def endpoints(stack: Stack, tmp_path: Path) -> dict[str, Endpoint]:
    secrets = Secrets(tmp_path, placeholders=True)
    return {name: Endpoint.named(stack, name, secrets) for name in stack.running()}


Answer = Callable[[str], "tuple[int, str] | None"]


class Server:
    """A loopback HTTP server: GET `path` (with its query) gets `answer(path)`, (status, body), 404 for None.
    It records every path asked."""

    def __init__(self, port: int, answer: Answer) -> None:
        self.asked: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.asked.append(self.path)
                status, body = answer(self.path) or (404, "not found")
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[int, Answer], Server]]:
    started: list[Server] = []

    def start(port: int, answer: Answer) -> Server:
        started.append(Server(port, answer))
        return started[-1]

    yield start
    for server in started:
        server.close()


def exporter(status: int, body: str = PAGE) -> Answer:
    """A stand-in exporter answering (status, body) at /metrics, whatever the query."""
    return lambda path: (status, body) if path.split("?")[0] == "/metrics" else None


def listed(job: str, address: str, health: str = "unknown", url: str = "", error: str = "") -> dict[str, Any]:
    """One entry of /api/v1/targets as Prometheus 2.42 answers it."""
    return {
        "discoveredLabels": {"__address__": address, "job": job},
        "labels": {"instance": address, "job": job},
        "scrapePool": job,
        "scrapeUrl": url or f"http://{address}/metrics",
        "lastError": error,
        "lastScrape": NEVER if health == "unknown" else "2024-01-01T00:00:00.123456789Z",
        "health": health,
        "scrapeInterval": "10s",
    }


def fake_prometheus(serve: Callable[..., Server], port: int, targets: Callable[[], list[dict[str, Any]]]) -> Server:
    """A stand-in for Prometheus' targets API: each GET answers what `targets()` lists at that moment."""

    def answer(path: str) -> tuple[int, str] | None:
        if not path.startswith("/api/v1/targets"):
            return None
        return 200, json.dumps({"status": "success", "data": {"activeTargets": targets()}})

    return serve(port, answer)


def waiter(seconds: float) -> Waiter:
    return Waiter(lambda line: None, time.monotonic() + seconds)


# -- which copy a target is -------------------------------------------------------------------------------


def test_a_target_is_asked_at_the_one_copy_its_scrape_url_names(tmp_path: Path) -> None:
    ports = {"prometheus": 20001, "alertmanager": 20002, "node": 20003, "pushgateway": 20004, "redis": 20005}
    stack = build(ports, replicas=2)
    found = endpoints(stack, tmp_path)
    second = stack.instance("prometheus-2")[1].port
    local = OwnTargets(stack, found.values(), Target("local", str(tmp_path)))

    def copy(job: str, url: str, own: OwnTargets = local) -> str | None:
        endpoint = own.copy_of(TargetInfo(job, "i", "unknown", "", url))
        return endpoint.component if endpoint else None

    assert copy("prometheus", "http://127.0.0.1:20001/metrics") == "prometheus"
    assert copy("prometheus", f"http://127.0.0.1:{second}/metrics") == "prometheus-2"
    # a multi-target exporter is scraped at its own address, what it watches in the query
    assert copy("redis-exporter", "http://127.0.0.1:20005/scrape?target=redis%3A6379") == "redis-exporter"
    # never a guess: an address no copy has, a copy of another component, another scheme
    assert copy("prometheus", "http://127.0.0.1:29999/metrics") is None
    assert copy("node-exporter", "http://127.0.0.1:20001/metrics") is None
    assert copy("prometheus", "https://127.0.0.1:20001/metrics") is None
    assert copy("prometheus", "") is None
    # compose: Prometheus scrapes each copy by its service name
    compose = OwnTargets(stack, found.values(), Target("compose", "/promstack"))
    assert copy("prometheus", "http://prometheus-2:9090/metrics", compose) == "prometheus-2"
    assert copy("prometheus", "http://127.0.0.1:20001/metrics", compose) is None
    # one address for every copy (a Kubernetes Service): which copy answers is not promstack's to say
    kubernetes = OwnTargets(stack, found.values(), Target("kubernetes", "/promstack"))
    service = next(a for a in kubernetes.copies if a.startswith("prometheus."))
    assert len(kubernetes.copies[service]) == 2
    assert copy("prometheus", f"http://{service}/metrics", kubernetes) is None


# -- the decision, against a real Prometheus that has not scraped yet -------------------------------------


@pytest.mark.live
def test_own_targets_prometheus_has_not_scraped_count_when_their_page_answers_promstack_only(
    tmp_path: Path, port: Callable[[], int], serve: Callable[..., Server]
) -> None:
    """Real Prometheus with a 5 minute interval: it lists the targets ~5s after it starts and scrapes each
    at a point of its choosing within those 5 minutes, so they stay `unknown` while this test runs (and
    where one is scraped early, the verdict is Prometheus': the outcome asserted is the same)."""
    if shutil.which("prometheus") is None:
        skip_or_fail("needs prometheus (Debian package prometheus)")
    ports = free_ports(port, "prometheus", "alertmanager", "node", "pushgateway", "redis", "closed")
    stack = build(ports)
    node = serve(ports["node"], exporter(200))
    pushgateway = serve(ports["pushgateway"], exporter(500, "exporter broken"))
    configured = {
        "node-exporter": frozenset({f"127.0.0.1:{ports['node']}"}),
        "pushgateway": frozenset({f"127.0.0.1:{ports['pushgateway']}"}),
        "api": frozenset({f"127.0.0.1:{ports['closed']}"}),  # the team's: nothing listens there
    }
    config = {
        "global": {"scrape_interval": "5m", "scrape_timeout": "10s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": sorted(addresses)}]}
            for job, addresses in configured.items()
        ],
    }
    # the query Prometheus sends is the one promstack sends
    config["scrape_configs"][0]["params"] = {"collect[]": ["cpu"]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        found = endpoints(stack, tmp_path)
        own = OwnTargets(stack, found.values(), Target("local", str(tmp_path)))
        prometheus = found["prometheus"]

        scraped = verify.wait_targets(prometheus, {"node-exporter"}, waiter(60), configured, own)
        jobs = {t.job: t for t in scraped.targets}
        assert set(jobs) == set(configured)  # the team's target is listed, and not waited for
        if jobs["node-exporter"].health == "unknown":
            assert [t.job for t in scraped.answered] == ["node-exporter"]
            assert node.asked == ["/metrics?collect%5B%5D=cpu"]
            assert jobs["node-exporter"].interval == "5m"
        assert jobs["api"].health in ("unknown", "down")

        # the page that answers HTTP 500 is no metrics page: not accepted, and `up` says why
        with pytest.raises(Unhealthy) as failed:
            verify.wait_targets(prometheus, {"node-exporter", "pushgateway"}, waiter(2), configured, own)
        assert failed.value.component == "pushgateway"
        address = f"127.0.0.1:{ports['pushgateway']}"
        if "is unknown" in failed.value.reason:
            assert failed.value.reason == (
                f"scrape target {address} is unknown: not scraped yet; promstack's own request failed: "
                f"GET http://{address}/metrics: HTTP 500"
            )
            assert pushgateway.asked and set(pushgateway.asked) == {"/metrics"}
        else:  # Prometheus scraped it meanwhile: its verdict
            assert failed.value.reason == (
                f"scrape target {address} is down: server returned HTTP status 500 Internal Server Error"
            )
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


# -- the decision, against a fake Prometheus holding the state the test needs -----------------------------


@dataclass
class NodeOnly:
    """A stack whose node-exporter copy is a stand-in (`node`, None where nothing listens), watched by a fake
    Prometheus that lists what `listing(address)` says at each poll."""

    address: str
    node: Server | None
    prometheus: Endpoint
    own: OwnTargets

    def wait(self, seconds: float, **team: frozenset[str]) -> verify.Scraped:
        """wait_targets for the stack's own job node-exporter (and the team's jobs `team`), for `seconds`."""
        configured = {"node-exporter": frozenset({self.address}), **team}
        return verify.wait_targets(self.prometheus, {"node-exporter"}, waiter(seconds), configured, self.own)


@pytest.fixture
def node_only(
    tmp_path: Path, port: Callable[[], int], serve: Callable[..., Server]
) -> Callable[[Answer | None, Callable[[str], list[dict[str, Any]]]], NodeOnly]:
    def make(page: Answer | None, listing: Callable[[str], list[dict[str, Any]]]) -> NodeOnly:
        ports = free_ports(port, "prometheus", "alertmanager", "node", "pushgateway", "redis")
        stack = build(ports)
        address = f"127.0.0.1:{ports['node']}"
        node = serve(ports["node"], page) if page else None
        fake_prometheus(serve, ports["prometheus"], lambda: listing(address))
        found = endpoints(stack, tmp_path)
        return NodeOnly(address, node, found["prometheus"], OwnTargets(stack, found.values(), Target("local", "/")))

    return make


def test_a_target_prometheus_reports_down_fails_even_when_its_page_answers(node_only: Callable[..., NodeOnly]) -> None:
    health = {"now": "down"}
    stack = node_only(exporter(200), lambda address: [listed("node-exporter", address, health["now"], error="timeout")])
    with pytest.raises(Unhealthy) as failed:
        stack.wait(1)
    assert failed.value.reason == f"scrape target {stack.address} is down: timeout"
    assert stack.node and stack.node.asked == []  # Prometheus' verdict is not second-guessed

    # once Prometheus scrapes it up, it counts
    health["now"] = "up"
    scraped = stack.wait(5)
    assert [t.health for t in scraped.targets] == ["up"] and scraped.answered == []


@pytest.mark.parametrize(
    ("page", "why"),
    [
        ((200, "<html><body>Node Exporter</body></html>"), "the answer holds no sample"),  # a UI, not metrics
        (None, "[Errno 111] Connection refused"),  # nothing listens at the copy's port
    ],
)
def test_an_own_target_whose_page_is_no_metrics_page_is_not_accepted(
    node_only: Callable[..., NodeOnly], page: tuple[int, str] | None, why: str
) -> None:
    stack = node_only(exporter(*page) if page else None, lambda address: [listed("node-exporter", address)])
    with pytest.raises(Unhealthy) as failed:
        stack.wait(1)
    assert failed.value.component == "node-exporter"
    assert failed.value.reason == (
        f"scrape target {stack.address} is unknown: not scraped yet; promstack's own request failed: "
        f"GET http://{stack.address}/metrics: {why}"
    )


def test_a_target_promstack_cannot_name_a_copy_for_waits_for_prometheus(
    node_only: Callable[..., NodeOnly], port: Callable[[], int]
) -> None:
    # Prometheus scrapes it somewhere that is no copy of the stack (relabelled elsewhere): not asked
    other = port()
    stack = node_only(exporter(200), lambda a: [listed("node-exporter", a, url=f"http://127.0.0.1:{other}/metrics")])
    with pytest.raises(Unhealthy) as failed:
        stack.wait(1)
    assert failed.value.reason == f"scrape target {stack.address} is unknown: not scraped yet"
    assert stack.node and stack.node.asked == []


def test_the_teams_targets_are_awaited_until_listed_not_until_scraped(node_only: Callable[..., NodeOnly]) -> None:
    polls: list[int] = []

    def listing(address: str) -> list[dict[str, Any]]:
        # target discovery lists the team's job a few polls after the stack's own (as after a reload)
        polls.append(1)
        team = [listed("api", "api:8000")] if len(polls) >= 4 else []
        return [listed("node-exporter", address), *team]

    scraped = node_only(exporter(200), listing).wait(30, api=frozenset({"api:8000"}))
    assert {(t.job, t.health) for t in scraped.targets} == {("node-exporter", "unknown"), ("api", "unknown")}
    assert [t.job for t in scraped.answered] == ["node-exporter"]
    assert len(polls) == 4


def test_own_pages_are_asked_at_once(tmp_path: Path, port: Callable[[], int], serve: Callable[..., Server]) -> None:
    """An exporter whose page connects to its backend first (postgres-exporter: a second where the database
    does not answer) does not hold up asking the others: node-exporter's stand-in answers a page only if the
    Pushgateway's is asked while node-exporter's request is open (asked one after the other, it never is)."""
    ports = free_ports(port, "prometheus", "alertmanager", "node", "pushgateway", "redis")
    stack = build(ports)
    asked = {"pushgateway": 0}
    changed = threading.Condition()
    node_open = threading.Event()

    def node_page(path: str) -> tuple[int, str]:
        with changed:
            before = asked["pushgateway"]
        node_open.set()
        with changed:
            meanwhile = changed.wait_for(lambda: asked["pushgateway"] > before, timeout=2)
        return (200, PAGE) if meanwhile else (503, "asked alone")

    def pushgateway_page(path: str) -> tuple[int, str]:
        node_open.wait(2)
        with changed:
            asked["pushgateway"] += 1
            changed.notify_all()
        return 200, PAGE

    serve(ports["node"], node_page)
    serve(ports["pushgateway"], pushgateway_page)
    node, pushgateway = f"127.0.0.1:{ports['node']}", f"127.0.0.1:{ports['pushgateway']}"
    both = [listed("node-exporter", node), listed("pushgateway", pushgateway)]
    fake_prometheus(serve, ports["prometheus"], lambda: both)
    found = endpoints(stack, tmp_path)
    own = OwnTargets(stack, found.values(), Target("local", str(tmp_path)))
    configured = {"node-exporter": frozenset({node}), "pushgateway": frozenset({pushgateway})}
    scraped = verify.wait_targets(found["prometheus"], set(configured), waiter(10), configured, own)
    assert sorted(t.job for t in scraped.answered) == ["node-exporter", "pushgateway"]


# -- what the summary of `up` says ------------------------------------------------------------------------


def test_the_summary_counts_targets_not_scraped_yet_apart_from_up_and_down() -> None:
    own = TargetInfo("node-exporter", "127.0.0.1:9100", "unknown", "", "", interval="10s")
    targets = [
        TargetInfo("prometheus", "127.0.0.1:9090", "up", "", "", interval="10s"),
        own,
        TargetInfo("api", "api:8000", "unknown", "", "", interval="1m"),
        TargetInfo("worker", "worker:9000", "down", "connection refused", "", interval="10s"),
    ]
    assert scrape_lines(Verified({}, targets, [], [own])) == [
        "scrape targets: 1 of 4 up; 2 not scraped yet: Prometheus scrapes them within 1m, "
        "`promstack status` then shows their health",
        "  1 of the 2 are the stack's own, and answered promstack's own request for their metrics page",
    ]
    team_only = [targets[0], targets[2]]
    assert scrape_lines(Verified({}, team_only, [], [])) == [
        "scrape targets: 1 of 2 up; 1 not scraped yet: Prometheus scrapes them within 1m, "
        "`promstack status` then shows their health"
    ]
    assert scrape_lines(Verified({}, [targets[0]], [], [])) == ["scrape targets: 1 of 1 up"]


# -- live: a cold `up` on the local runtime ---------------------------------------------------------------


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


@pytest.mark.live
@pytest.mark.xdist_group("runtime-local")
def test_a_cold_up_returns_before_prometheus_first_scrapes_the_stacks_own_targets(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    """A 30s interval: Prometheus scrapes each target first at a point of its choosing within 30s of
    listing it. `up` returns once every own target's page answered promstack; Prometheus' first scrape of
    at least one of them comes after that, and `status` then shows the team's target down."""
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node", "closed")
    closed = f"127.0.0.1:{ports['closed']}"  # the team's service: nothing listens there
    spec = base_spec(ports, "coldup", scrape_interval="30s", services=[{"name": "api", "targets": [closed]}])
    stack = deployments(write_spec(spec), "local", ports)

    up = stack.up()
    returned = time.time()
    up_count, total, waiting = scrape_counts(up.stdout)
    down = up.stdout.count("warning: target api ")
    assert total == 4 and up_count + waiting + down == 4, up.stdout  # each is up, down or not scraped yet
    assert "not scraped yet: Prometheus scrapes them within 30s, `promstack status` then shows" in up.stdout
    answered = re.search(r"\n  (\d) of the \d are the stack's own, and answered promstack's own request", up.stdout)
    assert answered and int(answered[1]) >= 1, up.stdout
    assert "scrape targets     all 3 of the stack's own answer" in up.stderr

    own = {"prometheus", "alertmanager", "node-exporter"}
    first: dict[str, float] = {}  # job -> when Prometheus first scraped it

    def all_scraped() -> bool:
        data = get_json(f"{stack.prometheus}/api/v1/targets?state=active") or {}
        for t in (data.get("data") or {}).get("activeTargets", []):
            job = t["labels"]["job"]
            when = verify._timestamp(t["lastScrape"])
            if job in own and when is not None and t["health"] != "unknown":
                first.setdefault(job, when)
        return set(first) == own

    wait_for("Prometheus' first scrape of the stack's own targets", all_scraped, 90)
    assert any(when > returned for when in first.values()), (first, returned)

    def api_down() -> list[str]:
        return [p for p in stack.status()["problems"] if p.startswith(f"target api {closed} is down: ")]

    wait_for("status to show the team's target down", api_down, 90)
