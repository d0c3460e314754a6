"""Stage `deploy`: talking to the running components over HTTP from the host.

Health endpoints, Prometheus' targets/alerts/rules API, metrics (reload success gauges, build info) and
bounded waits with progress lines. Both runtimes publish every component on 127.0.0.1:<port>, so this
module does not care which runtime runs them.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from generator import catalog, conventions
from generator.errors import DeployError
from generator.model import Component, Stack
from generator.render import args
from generator.write import Secrets

Progress = Callable[[str], None]
# components that re-read their files on request, and the gauges that say whether the last reload worked
# components that re-read their files without a restart (catalog `reload`)
RELOADABLE = frozenset(name for name, entry in catalog.entries().items() if entry.reload)

_BUILD_INFO = re.compile(r'^(\w+)_build_info\{[^}]*\bversion="([^"]*)"')


@dataclass(frozen=True)
class Endpoint:
    """How the host reaches one component."""

    component: str
    base: str  # http://127.0.0.1:PORT
    health: str | None  # path answering 200 when healthy, None: nothing to ask
    auth: tuple[str, str] | None = None  # basic auth (username, password)

    @staticmethod
    def of(component: Component, secrets: Secrets) -> Endpoint:
        entry = catalog.entry(component.name)
        auth = None
        if component.auth and component.auth.basic:
            auth = (component.auth.basic.username, secrets.value(component.auth.basic.password))
        elif entry.login:
            # the admin API (Grafana's provisioning reload) needs the admin login; the health path does
            # not. The password is the spec's, or the generated one it was started with (never admin/admin)
            user = str(component.options[entry.login["user"]])
            auth = (user, secrets.value(args.login_password(component)))
        scheme = "https" if component.auth and component.auth.tls else "http"
        return Endpoint(component.name, f"{scheme}://127.0.0.1:{component.port}", entry.health, auth)


@dataclass
class Response:
    status: int  # 0: no answer
    body: str
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def request(endpoint: Endpoint, path: str, method: str = "GET", timeout: float = 3.0, body: Any = None) -> Response:
    """`body`: sent as JSON."""
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    req = urllib.request.Request(endpoint.base + path, method=method, data=data)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if endpoint.auth:
        token = base64.b64encode(f"{endpoint.auth[0]}:{endpoint.auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    # our own component on loopback, typically behind a self-signed certificate: no verification
    context = ssl._create_unverified_context() if endpoint.base.startswith("https") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as answer:
            return Response(answer.status, answer.read().decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read().decode(errors="replace"), f"HTTP {exc.code}")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Response(0, "", str(reason))


def healthy(endpoint: Endpoint) -> Response:
    if endpoint.health is None:
        return Response(200, "")
    return request(endpoint, endpoint.health)


def api(endpoint: Endpoint, path: str) -> Any:
    """`data` of a Prometheus HTTP API answer, or None."""
    answer = request(endpoint, path, timeout=5)
    if not answer.ok:
        return None
    try:
        return json.loads(answer.body).get("data")
    except ValueError:
        return None


def metric(endpoint: Endpoint, name: str, path: str = "/metrics") -> float | None:
    """Value of an unlabelled sample `name` on the component's own metrics page."""
    answer = request(endpoint, path)
    if not answer.ok:
        return None
    for line in answer.body.splitlines():
        if line.startswith(name + " "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def version(endpoint: Endpoint) -> str:
    """The running version: where the catalog says (Grafana's health answer), else `*_build_info`."""
    where = catalog.entry(endpoint.component).version
    if where:
        answer = request(endpoint, where["path"])
        try:
            return str(json.loads(answer.body).get(where["json"], "")) if answer.ok else ""
        except ValueError:
            return ""
    metrics_path = catalog.entry(endpoint.component).metrics_path
    answer = request(endpoint, metrics_path)
    if answer.ok:
        for line in answer.body.splitlines():
            match = _BUILD_INFO.match(line)
            if match:
                return match.group(2)
    return ""


@dataclass(frozen=True)
class TargetInfo:
    job: str
    instance: str
    health: str  # up | down | unknown
    error: str
    url: str
    scraped: float | None = None  # epoch seconds of the last scrape
    address: str = ""  # as configured (before relabelling)

    def as_dict(self) -> dict[str, str]:
        return {"job": self.job, "instance": self.instance, "health": self.health, "error": self.error, "url": self.url}


def targets(prometheus: Endpoint) -> list[TargetInfo] | None:
    data = api(prometheus, "/api/v1/targets?state=active")
    if data is None:
        return None
    found = [
        TargetInfo(
            t.get("labels", {}).get("job", t.get("scrapePool", "")),
            t.get("labels", {}).get("instance", ""),
            t.get("health", "unknown"),
            t.get("lastError", ""),
            t.get("scrapeUrl", ""),
            _timestamp(str(t.get("lastScrape", ""))),
            str(t.get("discoveredLabels", {}).get("__address__", "")),
        )
        for t in data.get("activeTargets", [])
    ]
    return sorted(found, key=lambda t: (t.job, t.instance))


def _timestamp(text: str) -> float | None:
    """RFC 3339 with nanoseconds (Go) -> epoch seconds; Go's zero time (never scraped) -> None."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if not match or text.startswith("0001-"):
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    fraction = (match.group(2) or ".0")[:7]
    return datetime.fromisoformat(f"{match.group(1)}{fraction}{zone}").timestamp()


def firing(prometheus: Endpoint) -> list[dict[str, Any]]:
    data = api(prometheus, "/api/v1/alerts")
    alerts = (data or {}).get("alerts", [])
    return [a for a in alerts if a.get("state") == "firing"]


@dataclass
class Waiter:
    """Bounded polling with one progress line per state change (not one per poll)."""

    out: Progress
    deadline: float
    interval: float = 0.25
    said: dict[str, str] = field(default_factory=dict)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def note(self, key: str, line: str) -> None:
        if self.said.get(key) != line:
            self.said[key] = line
            self.out(line)

    def sleep(self) -> None:
        time.sleep(max(0.0, min(self.interval, self.left())))


class Unhealthy(Exception):
    """A component did not become healthy: which and why."""

    def __init__(self, component: str, reason: str) -> None:
        self.component = component
        self.reason = reason
        super().__init__(f"{component}: {reason}")


def wait_healthy(endpoints: list[Endpoint], waiter: Waiter, dead: Callable[[str], str | None]) -> dict[str, float]:
    """Wait until every endpoint answers its health path; `dead(name)` tells of a process that gave up."""
    started = time.monotonic()
    pending = {e.component: e for e in endpoints}
    ready: dict[str, float] = {}
    while pending:
        for name, endpoint in list(pending.items()):
            answer = healthy(endpoint)
            if answer.ok:
                ready[name] = time.monotonic() - started
                waiter.note(name, f"  {name:<18} healthy after {ready[name]:.1f}s")
                del pending[name]
                continue
            gone = dead(name)
            if gone:
                raise Unhealthy(name, gone)
            waiter.note(name, f"  {name:<18} waiting ({answer.error or answer.status})")
        if not pending:
            break
        if waiter.left() <= 0:
            name, endpoint = next(iter(pending.items()))
            answer = healthy(endpoint)
            raise Unhealthy(
                name,
                f"{endpoint.base}{endpoint.health} did not answer 200 in time (last: {answer.error or answer.status})",
            )
        waiter.sleep()
    return ready


def wait_targets(
    prometheus: Endpoint, own_jobs: set[str], waiter: Waiter, settle: float, configured: dict[str, frozenset[str]]
) -> list[TargetInfo]:
    """Wait until every target of the stack's own jobs is up, then (up to `settle` seconds more) until
    Prometheus scrapes exactly the `configured` targets (job -> addresses) and each was scraped once.
    Target discovery applies a reload with a delay of up to 5s, during which the old targets are listed."""
    expected = {(job, address) for job, addresses in configured.items() for address in addresses}
    own_ok_at: float | None = None
    while True:
        found = targets(prometheus) or []
        current = [t for t in found if (t.job, t.address) in expected or t.job not in configured]
        own = [t for t in current if t.job in own_jobs]
        missing = own_jobs - {t.job for t in own}
        down = [t for t in own if t.health != "up"]
        if not missing and not down:
            if own_ok_at is None:
                own_ok_at = time.monotonic()
                waiter.note("targets", f"  scrape targets     all {len(own)} of the stack's own are up")
            listed = {(t.job, t.address) for t in found if t.job in configured}
            settled = listed == expected and all(t.health != "unknown" for t in current)
            if settled or time.monotonic() - own_ok_at >= settle or waiter.left() <= 0:
                return current
        elif waiter.left() <= 0:
            if missing:
                raise Unhealthy(sorted(missing)[0], "Prometheus has no scrape target for it")
            first = down[0]
            why = first.error or ("not scraped yet" if first.health == "unknown" else first.health)
            raise Unhealthy(first.job, f"scrape target {first.instance} is {first.health}: {why}")
        else:
            waiting = sorted({t.job for t in down} | missing)
            waiter.note("targets", f"  scrape targets     waiting for {', '.join(waiting)}")
        waiter.sleep()


def wait_alertmanagers(prometheus: Endpoint, waiter: Waiter) -> int:
    """Wait until Prometheus has discovered its Alertmanager(s). After a start or a reload the list is
    empty until target discovery catches up (up to 5s); an alert firing meanwhile is dropped and only
    sent again after the resend delay (1 minute)."""
    while True:
        data = api(prometheus, "/api/v1/alertmanagers") or {}
        active = len(data.get("activeAlertmanagers") or [])
        if active:
            waiter.note("alerting", f"  alerting           Prometheus sends to {active} Alertmanager(s)")
            return active
        if waiter.left() <= 0:
            raise Unhealthy("prometheus", "it has not discovered any Alertmanager to send alerts to")
        waiter.note("alerting", "  alerting           waiting for Prometheus to discover Alertmanager")
        waiter.sleep()


class Refused(DeployError):
    """A component refused its new configuration."""

    def __init__(self, component: str, reason: str) -> None:
        self.component = component
        self.reason = reason
        super().__init__(f"{component} refused the new configuration: {reason}")


def reload(endpoint: Endpoint, signal: Callable[[str, str], None], wait: float = 15.0) -> None:
    """Make `endpoint`'s component re-read its files; raise Refused unless it says it succeeded."""
    name = endpoint.component
    how = catalog.entry(name).reload
    for path in how.get("api", ()):  # Grafana: its admin API re-reads provisioning, one kind at a time
        answer = request(endpoint, path, "POST", timeout=30)
        if not answer.ok:
            raise Refused(name, f"{path} answered {answer.status}: {answer.body.strip()[:300] or answer.error}")
    if "gauge" not in how:
        return
    gauge = str(how["gauge"])
    stamp = gauge.replace("_successful", "_success_timestamp_seconds")
    before = metric(endpoint, stamp)
    answer = request(endpoint, "/-/reload", "POST", timeout=60)
    if answer.status == 403:
        # Prometheus without --web.enable-lifecycle refuses the endpoint; SIGHUP does the same reload
        signal(name, "HUP")
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if metric(endpoint, stamp) != before or metric(endpoint, gauge) == 0:
                break
            time.sleep(0.2)
    elif not answer.ok:
        raise Refused(name, answer.body.strip()[:500] or answer.error or f"HTTP {answer.status}")
    if metric(endpoint, gauge) != 1:
        raise Refused(name, f"{gauge} is not 1 after the reload; see its log")


@dataclass
class Verified:
    ready: dict[str, float]  # component -> seconds until healthy
    targets: list[TargetInfo]
    warnings: list[str]


def scrape_jobs(tree_dir: Path) -> dict[str, frozenset[str]]:
    """job -> its statically configured target addresses, from the live prometheus.yml."""
    try:
        config = yaml.safe_load((tree_dir / conventions.PROMETHEUS_CONFIG).read_text()) or {}
    except OSError:
        return {}
    jobs: dict[str, frozenset[str]] = {}
    for job in config.get("scrape_configs") or []:
        addresses = {str(t) for group in job.get("static_configs") or [] for t in group.get("targets") or []}
        jobs[str(job.get("job_name"))] = frozenset(addresses)
    return jobs


def _settle(stack: Stack) -> float:
    """Seconds until every target is listed and scraped once: discovery's 5s delay + the longest interval."""
    intervals = [stack.scrape_interval, *(c.interval for c in stack.components.values())]
    intervals += [s.interval for s in stack.services]
    return 6 + min(30.0, max(i.ms for i in intervals) / 1000)


def verify(
    stack: Stack,
    endpoints: dict[str, Endpoint],
    tree_dir: Path,
    skipped: dict[str, str],
    timeout: float,
    out: Progress,
    dead: Callable[[str], str | None],
) -> Verified:
    """Every component healthy, every target of the stack's own jobs up, alerts deliverable; the team's
    targets that are down become warnings (with the reason a skipped component gives)."""
    waiter = Waiter(out, time.monotonic() + timeout)
    ready = wait_healthy(list(endpoints.values()), waiter, dead)
    warnings: list[str] = []
    found: list[TargetInfo] = []
    if "prometheus" in endpoints:
        jobs = scrape_jobs(tree_dir)
        own = set(jobs) & set(endpoints)
        found = wait_targets(endpoints["prometheus"], own, waiter, _settle(stack), jobs)
        if "alertmanager" in endpoints:
            wait_alertmanagers(endpoints["prometheus"], waiter)
        for target in found:
            if target.job in own or target.health == "up":
                continue
            why = skipped.get(target.job) or target.error or ("not scraped yet" if target.health == "unknown" else "")
            warnings.append(f"target {target.job} {target.instance} is {target.health}: {why}")
    return Verified(ready, found, warnings)
