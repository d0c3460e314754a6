"""Panels for the metrics a service declares (`services[].metrics[]`), by type, in the house style.

The service dashboard gives every declared metric its panels (`cells`); a custom dashboard panel that
names a declared metric (`metric:`) takes the same queries (`targets`). The queries select the
metric on the service's `service` label, plus whatever the caller adds (the `$service` variable).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from generator import conventions, dashboard_json
from generator import dashboards as g
from generator.model import DeclaredMetric, Service
from generator.units import grafana_unit

QUANTILES = (0.5, 0.95, 0.99)


def unit(metric: DeclaredMetric) -> str:
    """The Grafana unit of the metric's values ("short", a plain number, when it declares none)."""
    return grafana_unit(metric.unit)


def rate_unit(metric: DeclaredMetric) -> str:
    """The unit of its rate (bytes per second, not bytes)."""
    return grafana_unit(metric.unit, rate=True)


def selector(service: str, extra: str = "") -> str:
    """The matchers of a service's series (`extra` ones too)."""
    return ",".join(filter(None, [f'{conventions.LABEL_SERVICE}="{service}"', extra]))


def matchers(match: Sequence[tuple[str, str]]) -> str:
    """Label matchers for (label, value) pairs: a value holding a dashboard $variable matches its values
    as a regex (=~), so that "All" and multi-value selections work; any other value is matched exactly."""
    return ",".join(
        f"{label}{'=~' if dashboard_json.variable_names(value) else '='}{json.dumps(value, ensure_ascii=False)}"
        for label, value in match
    )


def _legend(labels: Sequence[str], fallback: str) -> str:
    return " ".join(f"{{{{{label}}}}}" for label in labels) or fallback


def _by(metric: DeclaredMetric) -> str:
    return ", ".join(metric.labels)


def targets(metric: DeclaredMetric, sel: str, legend: str) -> list[Any]:
    """The queries that show `metric` (its trend, for a time series): a counter's rate and a gauge's
    value split by its declared labels, a histogram's p50/p95/p99, a summary's own quantiles."""
    by, split = _by(metric), _legend(metric.labels, legend)
    if metric.type == "counter":
        return [g.q(g.rate(metric.name, sel, by), split)]
    if metric.type == "gauge":
        grouping = f" by ({by})" if by else ""
        return [g.q(f"sum{grouping} ({metric.name}{{{sel}}})", split)]
    if metric.type == "histogram":
        return [
            g.q(g.quantile(q, metric.name, sel, by), f"{_legend(metric.labels, '')} p{round(q * 100)}".strip())
            for q in QUANTILES
        ]
    # a summary: quantiles are computed by the service and cannot be aggregated, only shown
    return [g.q(f"max by (quantile{', ' + by if by else ''}) ({metric.name}{{{sel}}})", f"{split} {{{{quantile}}}}")]


def _description(metric: DeclaredMetric, what: str) -> str:
    return f"{metric.help or metric.name} ({what})"


def _series(metric: DeclaredMetric, title: str, what: str, found: Sequence[Any], unit_id: str, w: int = 12) -> g.Cell:
    return g.timeseries(f"{metric.name} {title}", *found, unit=unit_id, w=w, description=_description(metric, what))


def cells(service: Service, extra: str = "") -> list[g.Cell]:
    """The panels of every metric `service` declares, in the order it declares them."""
    sel = selector(service.name, extra)
    found: list[g.Cell] = []
    for metric in service.metrics:
        shown, by = targets(metric, sel, service.name), _by(metric)
        if metric.type == "counter":
            found.append(_series(metric, "rate", f"per second{', by ' + by if by else ''}", shown, rate_unit(metric)))
        elif metric.type == "gauge":
            now = _description(metric, "current value")
            found.append(g.stat(f"{metric.name} now", *shown, unit=unit(metric), description=now, h=8))
            found.append(_series(metric, "trend", "over time", shown, unit(metric), w=18))
        elif metric.type == "histogram":
            what = "50th, 95th and 99th percentiles from the histogram"
            found.append(_series(metric, "p50/p95/p99", what, shown, unit(metric)))
            count = g.q(g.rate(f"{metric.name}_count", sel, by), _legend(metric.labels, service.name))
            found.append(_series(metric, "rate", "observations per second", [count], "short"))
        else:
            found.append(_series(metric, "quantiles", "the quantiles the service computes", shown, unit(metric), 24))
    return found
