"""Alert history from Prometheus' own series: `ALERTS{alertstate="firing"}` (present at every evaluation
while an alert fires) and `ALERTS_FOR_STATE` (its value: when the alert's condition became true).

A range query at the rule evaluation interval (coarser for long spans: at most MAX_POINTS points a series)
gives each alert instance's firing episodes: runs of points with no gap longer than one step and a half.
An episode lasts from its first firing point to one step past its last; it was resolved if it ended
before the span did, and its time to resolve runs from when its condition became true (ALERTS_FOR_STATE,
so the `for` wait counts) to its end. Per alert name: how often it fired, how long, the mean time to
resolve, the instances; flapping: fired FLAPPING_EPISODES times or more, MEAN_FLAP seconds or less each
on average; the noisiest ten: most episodes, then most time firing; and episodes started per UTC day.
"""

from __future__ import annotations

import time
from typing import Any

from generator.report.prom import MAX_POINTS, Labels, Prometheus

FIRING = 'ALERTS{alertstate="firing"}'
FOR_STATE = "ALERTS_FOR_STATE"
FLAPPING_EPISODES = 3
MEAN_FLAP = 600.0
NOISIEST = 10


def _key(labels: Labels) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ("__name__", "alertstate")))


def episodes(points: list[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    """(first, last) time of each run of points no more than 1.5 steps apart."""
    runs: list[tuple[float, float]] = []
    for at, _ in points:
        if runs and at - runs[-1][1] <= 1.5 * step:
            runs[-1] = (runs[-1][0], at)
        else:
            runs.append((at, at))
    return runs


def history(prom: Prometheus, start: float, end: float, interval: float) -> dict[str, Any]:
    step = max(interval, (end - start) / MAX_POINTS)
    active_at = {_key(labels): dict(points) for labels, points in prom.matrix(FOR_STATE, start, end, step)}
    by_name: dict[str, dict[str, Any]] = {}
    per_day: dict[str, int] = {}
    for labels, points in prom.matrix(FIRING, start, end, step):
        name = labels.get("alertname", "")
        entry = by_name.setdefault(
            name,
            {
                "alertname": name,
                "severity": labels.get("severity", ""),
                "fired": 0,
                "firing_seconds": 0.0,
                "resolved": 0,
                "resolve_seconds": [],
                "instances": 0,
                "still_firing": 0,
            },
        )
        entry["instances"] += 1
        since = active_at.get(_key(labels), {})
        for first, last in episodes(points, step):
            entry["fired"] += 1
            entry["firing_seconds"] += last - first + step
            day = time.strftime("%Y-%m-%d", time.gmtime(first))
            per_day[day] = per_day.get(day, 0) + 1
            if last + step <= end - step / 2:
                entry["resolved"] += 1
                began = since.get(first, first)
                entry["resolve_seconds"].append(last + step - min(began, first))
            else:
                entry["still_firing"] += 1
    alerts = []
    for entry in by_name.values():
        times = entry.pop("resolve_seconds")
        entry["mean_time_to_resolve_seconds"] = sum(times) / len(times) if times else None
        entry["flapping"] = (
            entry["fired"] >= FLAPPING_EPISODES and entry["firing_seconds"] / entry["fired"] <= MEAN_FLAP
        )
        alerts.append(entry)
    alerts.sort(key=lambda a: (-a["fired"], -a["firing_seconds"], a["alertname"]))
    return {
        "step_seconds": step,
        "alerts": alerts,
        "flapping": [a["alertname"] for a in alerts if a["flapping"]],
        "noisiest": [a["alertname"] for a in alerts[:NOISIEST]],
        "per_day": [{"day": day, "fired": count} for day, count in sorted(per_day.items())],
    }
