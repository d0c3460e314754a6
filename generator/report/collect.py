"""The report as data: one plain dict, the JSON format itself (docs/report.md describes every key).

Every figure is an instant query at the report's end over its span (`window`), except the budget
burn-down, a range query of what each step spent, added up here. The span is what was asked for
(`--since`), or less when Prometheus holds less: then `span.note` says so in words.
"""

from __future__ import annotations

from typing import Any

from generator import slo_math
from generator.model import SLO, Service, Stack
from generator.report import alerts, capacity
from generator.report.prom import Prometheus
from generator.units import Duration

BURN_DOWN_POINTS = 48
QUANTILES = (("p95", "0.95"), ("p99", "0.99"))


def collect(stack: Stack, prom: Prometheus, since: Duration, now: float) -> dict[str, Any]:
    span = _span(prom, float(since.seconds), now)
    window = f"{int(span['seconds'])}s"
    start = now - span["seconds"]
    least = 4 * float(stack.scrape_interval.seconds)  # rate() over a window needs a few scrapes in it
    return {
        "format": 1,
        "stack": stack.name,
        "generated_at": now,
        "span": {**span, "asked": str(since), "start": start, "end": now},
        "slos": [_slo(prom, s, slo, window, start, now, least) for s in stack.services if s.http for slo in s.slos],
        "services": [_service(prom, s, window, now) for s in stack.services],
        "alerts": alerts.history(prom, start, now, float(stack.evaluation_interval.seconds)),
        "capacity": capacity.forecast(prom, now, window),
    }


def _span(prom: Prometheus, asked: float, now: float) -> dict[str, Any]:
    lowest = prom.value("min(prometheus_tsdb_lowest_timestamp_seconds)", now)
    held = now - lowest if lowest is not None else asked
    seconds = max(1.0, min(asked, held))
    note = ""
    if held < asked:
        note = (
            f"Asked for the last {words(asked)}, but Prometheus holds data for the last {words(held)} only: "
            f"every figure covers those {words(seconds)}."
        )
    return {"seconds": seconds, "held_seconds": held, "note": note}


def words(seconds: float) -> str:
    """A span in words: 30d, 2h 13m, 45s."""
    parts: list[str] = []
    rest = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size or (unit == "s" and not parts):
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return " ".join(parts[:2])


def _slo(
    prom: Prometheus, service: Service, slo: SLO, window: str, start: float, now: float, least: float
) -> dict[str, Any]:
    budget = slo_math.budget(slo)
    ratio = prom.value(slo_math.error_ratio(service, slo, window), now)
    left = prom.value(slo_math.budget_left(service, slo, window), now)
    return {
        "service": service.name,
        "slo": slo.name,
        "kind": slo.kind,
        "objective": float(slo.objective),
        "period": str(slo.period),
        "error_budget": float(budget),
        "achieved": None if ratio is None else 100 * (1 - ratio),
        "error_ratio": ratio,
        "budget_left": left,
        "burn_rate": None if ratio is None else ratio / float(budget),
        "burn_down": _burn_down(prom, service, slo, start, now, least),
    }


def _burn_down(
    prom: Prometheus, service: Service, slo: SLO, start: float, now: float, least: float
) -> list[list[float]]:
    """[time, budget left from the span's start to then] at BURN_DOWN_POINTS times (fewer when the span is
    short: each window holds `least` seconds at least): the headline's own expression over a growing window,
    so the last point is the headline figure."""
    step = max((now - start) / BURN_DOWN_POINTS, least)
    curve = []
    at = now
    while at - start >= least:
        left = prom.value(slo_math.budget_left(service, slo, f"{int(at - start)}s"), at)
        if left is not None:
            curve.append([at, left])
        at -= step
    return curve[::-1]


def _service(prom: Prometheus, service: Service, window: str, now: float) -> dict[str, Any]:
    job = f'job="{service.name}"'
    found: dict[str, Any] = {
        "service": service.name,
        "availability": _percent(prom.value(f"avg(avg_over_time(up{{{job}}}[{window}]))", now)),
        "requests": None,
        "error_ratio": None,
        "p95_seconds": None,
        "p99_seconds": None,
    }
    if service.http is None:
        return found
    requests = service.http.requests
    found["requests"] = prom.value(f"sum(increase({requests}{{{job}}}[{window}]))", now)
    found["error_ratio"] = prom.value(
        f"(sum(rate({requests}{{{job},{service.http.errors}}}[{window}])) or vector(0))"
        f" / sum(rate({requests}{{{job}}}[{window}]))",
        now,
    )
    if service.http.duration:
        for key, q in QUANTILES:
            expr = f"histogram_quantile({q}, sum by (le) (rate({service.http.duration}_bucket{{{job}}}[{window}])))"
            found[f"{key}_seconds"] = prom.value(expr, now)
    return found


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value
