"""Stage `deploy`: talking to the running components over HTTP from the host.

Health endpoints, the components' HTTP APIs, metrics (reload success gauges, build info), reloads and
bounded waits with progress lines (what `up` waits for after a change: `verify`). Both runtimes publish
every copy of every component on 127.0.0.1:<port>, so this module does not care which runtime runs them.
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
from typing import Any

from generator import catalog
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
    """How the host reaches one copy of a component (`replicas`; most components run one)."""

    component: str  # the copy's name: its process or service (prometheus, prometheus-2, ...)
    base: str  # http://127.0.0.1:PORT
    health: str | None  # path answering 200 when healthy, None: nothing to ask
    auth: tuple[str, str] | None = None  # basic auth (username, password)
    kind: str = ""  # the catalog component it is a copy of ("" for the copy named like it)

    @property
    def entry(self) -> str:
        """The catalog name of what runs there."""
        return self.kind or self.component

    @staticmethod
    def of(component: Component, secrets: Secrets, index: int = 1) -> Endpoint:
        """How to reach copy `index` of `component`."""
        instance = component.instances[index - 1]
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
        base = f"{scheme}://127.0.0.1:{instance.port}"
        return Endpoint(instance.name, base, entry.health, auth, component.name)

    @staticmethod
    def named(stack: Stack, name: str, secrets: Secrets) -> Endpoint:
        """How to reach the process or service `name` of `stack` (a component's copy)."""
        component, instance = stack.instance(name)
        return Endpoint.of(component, secrets, instance.index)


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
    where = catalog.entry(endpoint.entry).version
    if where:
        answer = request(endpoint, where["path"])
        try:
            return str(json.loads(answer.body).get(where["json"], "")) if answer.ok else ""
        except ValueError:
            return ""
    metrics_path = catalog.entry(endpoint.entry).metrics_path
    answer = request(endpoint, metrics_path)
    if answer.ok:
        for line in answer.body.splitlines():
            match = _BUILD_INFO.match(line)
            if match:
                return match.group(2)
    return ""


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


class Refused(DeployError):
    """A component refused its new configuration."""

    def __init__(self, component: str, reason: str) -> None:
        self.component = component
        self.reason = reason
        super().__init__(f"{component} refused the new configuration: {reason}")


def reload(endpoint: Endpoint, signal: Callable[[str, str], None], wait: float = 15.0) -> None:
    """Make `endpoint`'s component re-read its files; raise Refused unless it says it succeeded."""
    name = endpoint.component
    how = catalog.entry(endpoint.entry).reload
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
