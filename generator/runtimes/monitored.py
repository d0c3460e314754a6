"""Stage `deploy`: whether the stack really monitors what it says, beyond "every scrape answers".

An exporter answers its scrape while what it watches may not answer it: the Redis exporter serves
`redis_up 0` when Redis is gone, a blackbox probe `probe_success 0`. Each catalog entry names that gauge
(`backend: {up, down}`); a target whose gauge is 0 is down, with the entry's sentence as the reason, in
`status`, `status --json` and the summary of `up`. A component that refused its last config reload (catalog
`reload.gauge` at 0) runs its previous config, which is said too. No component is named here.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

from generator import catalog
from generator.model import Stack
from generator.runtimes import health
from generator.runtimes.health import Endpoint, TargetInfo


def backend_gauges(stack: Stack) -> dict[str, str]:
    """metric -> the sentence that says what its 0 means, for the components of `stack` that have one."""
    found = {}
    for name in stack.components:
        backend = catalog.entry(name).backend
        if backend:
            found[backend["up"]] = backend["down"]
    return found


def backends_down(prometheus: Endpoint, stack: Stack) -> dict[tuple[str, str], str]:
    """(job, instance) -> why, for every target whose exporter says that what it watches does not answer."""
    found: dict[tuple[str, str], str] = {}
    for metric, down in backend_gauges(stack).items():
        query = urllib.parse.quote(f"{metric} == 0")
        data = health.api(prometheus, f"/api/v1/query?query={query}") or {}
        for result in data.get("result") or []:
            labels = result.get("metric") or {}
            key = (str(labels.get("job", "")), str(labels.get("instance", "")))
            found[key] = f"{metric} is 0: {down}"
    return found


def judged(targets: list[TargetInfo], down: dict[tuple[str, str], str]) -> list[TargetInfo]:
    """`targets` with the ones whose backend is down marked down, for that reason (their scrape answered)."""
    return [
        dataclasses.replace(t, health="down", error=down[(t.job, t.instance)])
        if t.health == "up" and (t.job, t.instance) in down
        else t
        for t in targets
    ]


def failed_reload(endpoint: Endpoint) -> str | None:
    """Why the component runs an older config than its files (its reload gauge is 0), or None."""
    gauge = catalog.entry(endpoint.component).reload.get("gauge")
    if not gauge or health.metric(endpoint, str(gauge)) != 0:
        return None
    return f"its last config reload failed ({gauge} is 0): it still runs the config before; see its log"
