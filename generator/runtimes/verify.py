"""Stage `deploy`: what `up` waits for once a change is applied, and what `status` reads from Prometheus.

Every component healthy (`health.wait_healthy`); on every Prometheus copy, every configured scrape target
listed (target discovery has loaded the config) and every target of the stack's own jobs verified; and
every copy sending to every Alertmanager copy. The targets and firing alerts come from Prometheus' HTTP API.

An own target is verified when Prometheus reports it up, or when it has not scraped it yet and the
target's metrics page answers promstack's own request (`own_targets`). Prometheus applies a new config's
targets about 5s late, then scrapes each first at an offset of its choosing inside its interval: waiting
for that first scrape made a cold `up` of the example (10s interval) take 16-18s instead of about 9s.
A target Prometheus reports down fails `up` (once `--timeout` is spent) with Prometheus' error.

The team's targets (`services`, blackbox probes, components scraped where they run) must be listed, not scraped:
`up` does not wait an interval for them. Those scraped and down are warnings; those not scraped yet have
no health to tell, and the summary says how many and within what interval Prometheus scrapes them.
Once the stack's own are verified, listing the rest is awaited for at most DISCOVERY seconds: discovery
lists a reloaded config's targets within 5s (the old ones until then); past that, `up` reports what
Prometheus lists as it is. (This replaces the wait of up to an interval more for every target to be
scraped once.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from generator import conventions
from generator.model import Stack
from generator.render import Target
from generator.runtimes.health import Endpoint, Progress, Unhealthy, Waiter, api, wait_healthy
from generator.runtimes.own_targets import OwnTargets

# seconds target discovery takes to list a started or reloaded config's targets: its 5s update delay, and one more
DISCOVERY = 6.0


@dataclass(frozen=True)
class TargetInfo:
    job: str
    instance: str
    health: str  # up | down | unknown
    error: str
    url: str
    scraped: float | None = None  # epoch seconds of the last scrape
    address: str = ""  # as configured (before relabelling)
    interval: str = ""  # Prometheus' scrape interval of it ("10s")

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
            str(t.get("scrapeInterval", "")),
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
class Scraped:
    """What one Prometheus copy lists once `up` may go on."""

    targets: list[TargetInfo]  # the configured ones (and any of a job no longer configured, until it goes)
    answered: list[TargetInfo]  # of the stack's own, not scraped yet: their metrics page answered promstack


def wait_targets(
    prometheus: Endpoint, own_jobs: set[str], waiter: Waiter, configured: dict[str, frozenset[str]], own: OwnTargets
) -> Scraped:
    """Wait until Prometheus lists every `configured` target (job -> addresses) and each target of the
    stack's own jobs is verified: up, or not scraped yet and answering promstack's own request for its
    metrics page (own_targets). The team's targets need not be scraped: the summary says which are not yet.
    A reloaded config's targets are listed up to 5s late, the old ones meanwhile; once the stack's own are
    verified, the team's get DISCOVERY seconds more to be listed."""
    expected = {(job, address) for job, addresses in configured.items() for address in addresses}
    mine = {(job, address) for job, address in expected if job in own_jobs}
    verified_at: float | None = None
    while True:
        found = targets(prometheus) or []
        current = [t for t in found if (t.job, t.address) in expected or t.job not in configured]
        listed = {(t.job, t.address) for t in found if t.job in configured}
        answered: list[TargetInfo] = []
        pending: list[tuple[TargetInfo, str]] = []  # of the stack's own, not verified yet: why
        unscraped = [t for t in current if t.job in own_jobs and t.health == "unknown"]
        problems = dict(zip(unscraped, own.ask(unscraped), strict=True))
        for t in current:
            if t.job not in own_jobs or t.health == "up":
                continue
            problem = problems.get(t)
            if problem == "":
                answered.append(t)
            elif t.health == "unknown":
                failed = f"; promstack's own request failed: {problem}" if problem else ""
                pending.append((t, f"not scraped yet{failed}"))
            else:
                pending.append((t, t.error or t.health))
        unlisted = sorted(mine - listed)
        if not pending and not unlisted:
            if verified_at is None:
                verified_at = time.monotonic()
                count = sum(1 for t in current if t.job in own_jobs)
                said = f"all {count} of the stack's own are up"
                if answered:
                    said = (
                        f"all {count} of the stack's own answer ({len(answered)} to promstack's own request, "
                        "not scraped by Prometheus yet)"
                    )
                waiter.note("targets", f"  scrape targets     {said}")
            if listed == expected or time.monotonic() - verified_at >= DISCOVERY or waiter.left() <= 0:
                return Scraped(current, answered)
        elif waiter.left() <= 0:
            if unlisted:
                job, address = unlisted[0]
                if not any(t.job == job for t in found):
                    raise Unhealthy(job, "Prometheus has no scrape target for it")
                raise Unhealthy(job, f"Prometheus does not list its scrape target {address}")
            first, why = pending[0]
            raise Unhealthy(first.job, f"scrape target {first.instance} is {first.health}: {why}")
        else:
            waiting = [f"Prometheus to list {', '.join(sorted({job for job, _ in unlisted}))}"] if unlisted else []
            waiting += [", ".join(sorted({t.job for t, _ in pending}))] if pending else []
            waiter.note("targets", f"  scrape targets     waiting for {'; '.join(waiting)}")
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
    answered: list[TargetInfo] = field(default_factory=list)  # own, not scraped yet, answered promstack


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


def verify(
    stack: Stack,
    endpoints: dict[str, Endpoint],
    tree_dir: Path,
    skipped: dict[str, str],
    timeout: float,
    out: Progress,
    dead: Callable[[str], str | None],
    target: Target,
) -> Verified:
    """Every component healthy, every target of the stack's own jobs verified, alerts deliverable; the
    team's targets that are down become warnings (with the reason a skipped component gives), the ones not
    scraped yet are counted in the summary."""
    waiter = Waiter(out, time.monotonic() + timeout)
    ready = wait_healthy(list(endpoints.values()), waiter, dead)
    warnings: list[str] = []
    scraped = Scraped([], [])
    # every Prometheus copy scrapes every target and sends to every Alertmanager copy
    prometheus = [e for e in endpoints.values() if e.entry == "prometheus"]
    alertmanagers = sum(1 for e in endpoints.values() if e.entry == "alertmanager")
    if prometheus:
        jobs = scrape_jobs(tree_dir)
        own = set(jobs) & {e.entry for e in endpoints.values()}
        asked = OwnTargets(stack, endpoints.values(), target)
        for copy in prometheus:
            seen = wait_targets(copy, own, waiter, jobs, asked)
            scraped = scraped if scraped.targets else seen  # what the first copy lists is what `up` reports
            if alertmanagers:
                wait_alertmanagers(copy, waiter, alertmanagers)
        for t in scraped.targets:
            if t.job in own or t.health == "up" or (t.health == "unknown" and t.job not in skipped):
                continue  # not scraped yet: no health to tell, the summary counts it
            why = skipped.get(t.job) or t.error or t.health
            warnings.append(f"target {t.job} {t.instance} is {t.health}: {why}")
    return Verified(ready, scraped.targets, warnings, scraped.answered)
