"""Semantic checks of `alerts.rules[]` entries: `expr` or `kind` (never both), and each kind's parameters,
metric and windows, located in the spec. The schema knows every parameter's shape; this knows which kind
takes which, what type of metric it reads, and that its windows hold enough samples."""

from __future__ import annotations

import difflib
from collections.abc import Generator, Iterator, Mapping
from decimal import Decimal
from typing import Any

from generator import conventions
from generator.errors import Problem
from generator.kinds import FOR, KINDS, PARAMETERS, SEASONS, TYPES, WINDOWS, Metric
from generator.kinds import metrics as kind_metrics
from generator.spec.loader import Document
from generator.units import duration_ms, format_duration

COMMON = (
    *("alert", "kind", "metric", "match", "by", "for", "keep_firing_for", "severity", "summary"),
    *("description", "runbook", "dashboard", "labels"),
)
MIN_SAMPLES = 4  # a rate window holds at least this many scrapes
_PERCENT_KINDS = ("ratio",)
_USE = {
    "histogram": "kind: latency reads histograms",
    "summary": "kind: latency reads summaries",
    "counter": "a counter only grows; kind: ratio, change or anomaly read its rate",
    "gauge": "kind: threshold, change, forecast or anomaly read gauges",
}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> Decimal | None:
    return Decimal(str(value)) if isinstance(value, int | float) and not isinstance(value, bool) else None


def kind_problems(doc: Document) -> Iterator[Problem]:
    data = _dict(doc.data)
    rules = _dict(data.get("alerts")).get("rules")
    if not isinstance(rules, list):
        return
    known = kind_metrics.known(data)
    intervals = _intervals(data)
    for i, rule in enumerate(rules):
        if isinstance(rule, dict):
            yield from _rule_problems(doc, f"$.alerts.rules[{i}]", rule, known, intervals)


def _intervals(data: Mapping[str, Any]) -> dict[str, int]:
    """job -> its scrape interval in ms (services' own, else the global one)."""
    default = duration_ms(str(data.get("scrape_interval") or conventions.DEFAULT_SCRAPE_INTERVAL)) or 15_000
    found: dict[str, int] = {}
    for service in kind_metrics.services(data):
        own = service.get("interval")
        found[str(service.get("name"))] = (duration_ms(own) if isinstance(own, str) else None) or default
    found[""] = default
    return found


def _rule_problems(
    doc: Document, base: str, rule: dict[str, Any], known: dict[str, Metric], intervals: dict[str, int]
) -> Iterator[Problem]:
    kind = rule.get("kind")
    if kind is None:
        if "expr" not in rule:
            yield doc.problem(base, "a rule needs `expr` (and its `tests`), or `kind` and its parameters")
        elif "summary" not in rule:
            yield doc.problem(base, "a rule with `expr` needs a `summary`")
        kind_only = {"metric", "match", "by", *(key for keys in PARAMETERS.values() for key in keys)}
        for key in sorted(k for k in rule if k in kind_only and "expr" in rule):
            yield doc.problem(f"{base}.{key}", f"`{key}` is a parameter of alert kinds; give `kind:` too")
        return
    if kind not in KINDS:
        return  # the schema names the kinds
    if "expr" in rule:
        yield doc.problem(f"{base}.expr", f"give either `expr` or `kind` ({kind} compiles its own expression)")
    if "tests" in rule:
        yield doc.problem(f"{base}.tests", f"kind {kind} writes its own tests; remove these (or use `expr`)")
    takes = PARAMETERS[kind]
    for key in sorted(rule):
        if key not in COMMON and key not in takes and key not in ("expr", "tests"):
            yield doc.problem(
                f"{base}.{key}",
                f"`{key}` is not a parameter of kind {kind} (it takes {', '.join(takes) or 'only metric and match'})",
            )
    metric = yield from _metric(doc, base, rule, known)
    yield from _bound_problems(doc, base, kind, rule)
    yield from _window_problems(doc, base, kind, rule, metric, intervals)
    if metric is not None:
        yield from _label_problems(doc, base, rule, metric)


def _metric(
    doc: Document, base: str, rule: dict[str, Any], known: dict[str, Metric]
) -> Generator[Problem, None, Metric | None]:
    kind, name = str(rule["kind"]), rule.get("metric")
    if not isinstance(name, str):
        if "metric" not in rule:
            yield doc.problem(base, f"kind {kind} needs `metric:` (a declared metric or one a component exposes)")
        return None
    metric = known.get(name)
    if metric is None:
        guess = difflib.get_close_matches(name, list(known), n=1)
        hint = f"did you mean '{guess[0]}'?" if guess else "declare it in services[].metrics[]"
        yield doc.problem(f"{base}.metric", f"unknown metric '{name}'; {hint}")
        return None
    if metric.type not in TYPES[kind]:
        what = {"ratio": "a ratio", "latency": "a quantile", "forecast": "a forecast"}.get(kind, f"kind {kind}")
        yield doc.problem(
            f"{base}.metric",
            f"{name} is a {metric.type}: {what} needs a {' or '.join(TYPES[kind])} ({_USE[metric.type]})",
        )
        return None
    return metric


def _bound_problems(doc: Document, base: str, kind: str, rule: dict[str, Any]) -> Iterator[Problem]:
    sides = [key for key in ("above", "below") if key in rule]
    if kind in ("threshold", "ratio", "forecast", "change") and len(sides) != 1:
        yield doc.problem(base, f"kind {kind} needs exactly one of `above` and `below`")
    if kind == "latency":
        for key in ("quantile", "above"):
            if key not in rule:
                yield doc.problem(base, f"kind latency needs `{key}`")
        if "below" in rule:
            yield doc.problem(f"{base}.below", "kind latency alerts above a duration: use `above`")
        above = rule.get("above")
        if "above" in rule and not (isinstance(above, str) and duration_ms(above)):
            yield doc.problem(f"{base}.above", "kind latency takes a duration (e.g. 500ms) above which it alerts")
        return
    for side in sides:
        value = _number(rule[side])
        if value is None:
            yield doc.problem(f"{base}.{side}", f"kind {kind} takes a number as `{side}`")
        elif kind in _PERCENT_KINDS and not 0 <= value <= 100:
            yield doc.problem(f"{base}.{side}", f"a percentage from 0 to 100, not {rule[side]}")
        elif kind == "change" and side == "below" and not 0 < value < 100:
            yield doc.problem(f"{base}.{side}", f"a percentage of the earlier value, over 0 and under 100, not {value}")
        elif kind == "change" and side == "above" and value <= 100:
            yield doc.problem(f"{base}.{side}", f"a percentage of the earlier value, over 100, not {value}")
    if kind == "ratio" and not _dict(rule.get("part")):
        yield doc.problem(base, "kind ratio needs `part:` (labels that select the share, e.g. {status: failed})")
    if kind == "forecast" and "horizon" not in rule:
        yield doc.problem(base, "kind forecast needs `horizon:` (how far ahead, e.g. 4h)")


def _window_problems(
    doc: Document, base: str, kind: str, rule: dict[str, Any], metric: Metric | None, intervals: dict[str, int]
) -> Iterator[Problem]:
    scrape = intervals.get(metric.job if metric else "", intervals[""])
    window = rule.get("window", WINDOWS.get(kind))
    window_ms = duration_ms(window) if isinstance(window, str) else None
    if window_ms is not None and kind != "absent" and window_ms < MIN_SAMPLES * scrape:
        where = f"{base}.window" if "window" in rule else base
        yield doc.problem(
            where,
            f"a window of {window} holds fewer than {MIN_SAMPLES} scrapes at {format_duration(scrape)}; "
            f"use {format_duration(MIN_SAMPLES * scrape)} or more",
        )
    for_ms = duration_ms(str(rule.get("for", FOR[kind]))) or 0
    if kind == "change" and window_ms is not None:
        against = duration_ms(str(rule.get("against", "1d"))) or 0
        if window_ms + for_ms >= against:
            yield doc.problem(base, "the window and `for` together must be shorter than `against`")
    if kind == "anomaly":
        period = SEASONS.get(str(rule.get("seasonal", "none")))
        baseline = rule.get("baseline")
        baseline_ms = duration_ms(baseline) if isinstance(baseline, str) else None
        if period and baseline_ms and baseline_ms >= period:
            yield doc.problem(f"{base}.baseline", "a seasonal baseline must be shorter than its season")


def _label_problems(doc: Document, base: str, rule: dict[str, Any], metric: Metric) -> Iterator[Problem]:
    allowed = kind_metrics.label_names(metric)
    if allowed is None:
        return
    used = [(f"{base}.match.{k}", k) for k in _dict(rule.get("match"))]
    used += [(f"{base}.part.{k}", k) for k in _dict(rule.get("part"))]
    by = rule["by"] if isinstance(rule.get("by"), list) else []
    used += [(f"{base}.by[{i}]", k) for i, k in enumerate(by) if isinstance(k, str)]
    for path, label in used:
        if label not in allowed:
            yield doc.problem(path, f"{metric.name} has no label '{label}' (it has {', '.join(sorted(allowed))})")
