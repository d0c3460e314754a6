"""Stage `deploy`: what `up` waits for once a change is applied, and what `status` reads from Prometheus.

Every component healthy (`health.wait_healthy`), every scrape target of the stack's own jobs up on every
Prometheus copy, and every copy sending to every Alertmanager copy; the targets and firing alerts come
from Prometheus' HTTP API.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from generator import conventions
from generator.model import Stack
from generator.runtimes.health import Endpoint, Progress, Unhealthy, Waiter, api, wait_healthy


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


def wait_alertmanagers(prometheus: Endpoint, waiter: Waiter, wanted: int = 1) -> int:
    """Wait until Prometheus has discovered its `wanted` Alertmanager(s) (every copy). After a start or
    a reload the list is empty until target discovery catches up (up to 5s); an alert firing meanwhile
    is dropped and only sent again after the resend delay (1 minute)."""
    name = prometheus.component
    while True:
        data = api(prometheus, "/api/v1/alertmanagers") or {}
        active = len(data.get("activeAlertmanagers") or [])
        if active >= wanted:
            waiter.note(f"alerting {name}", f"  alerting           {name} sends to {active} Alertmanager(s)")
            return active
        if waiter.left() <= 0:
            raise Unhealthy(name, f"it has discovered {active} of the {wanted} Alertmanager(s) to send alerts to")
        waiter.note(f"alerting {name}", f"  alerting           waiting for {name} to discover Alertmanager")
        waiter.sleep()


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
    return 6 + min(30.0, max(i.ms for i in stack.scrape_intervals()) / 1000)


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
    # every Prometheus copy scrapes every target and sends to every Alertmanager copy
    prometheus = [e for e in endpoints.values() if e.entry == "prometheus"]
    alertmanagers = sum(1 for e in endpoints.values() if e.entry == "alertmanager")
    if prometheus:
        jobs = scrape_jobs(tree_dir)
        own = set(jobs) & {e.entry for e in endpoints.values()}
        for copy in prometheus:
            seen = wait_targets(copy, own, waiter, _settle(stack), jobs)
            found = found or seen  # what the first copy scrapes is what `up` reports
            if alertmanagers:
                wait_alertmanagers(copy, waiter, alertmanagers)
        for target in found:
            if target.job in own or target.health == "up":
                continue
            why = skipped.get(target.job) or target.error or ("not scraped yet" if target.health == "unknown" else "")
            warnings.append(f"target {target.job} {target.instance} is {target.health}: {why}")
    return Verified(ready, found, warnings)
