"""Stage `build`, the `dashboards:` section: folder, exclusions and the custom dashboards, defaults applied.

A custom dashboard's uid defaults to one made from its title, its folder to the dashboards' folder;
a panel's size defaults by its type (conventions.CUSTOM_PANEL_SIZES), its unit to the one of its
declared metric (a counter's rate unit) or a plain number. A panel naming a declared `metric` gets
that metric and its service here; its queries are made when it is rendered (generator/dashboard_metrics.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator import conventions
from generator.model import (
    CustomDashboard,
    CustomPanel,
    CustomRow,
    CustomVariable,
    Dashboards,
    DeclaredMetric,
    PanelQuery,
    Service,
)
from generator.units import grafana_unit


def declared(services: tuple[Service, ...]) -> dict[str, tuple[Service, DeclaredMetric]]:
    """metric name -> the service declaring it and the declaration (the first one, if several do)."""
    found: dict[str, tuple[Service, DeclaredMetric]] = {}
    for service in services:
        for metric in service.metrics:
            found.setdefault(metric.name, (service, metric))
    return found


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


def _panel(spec: dict[str, Any], metrics: Mapping[str, tuple[Service, DeclaredMetric]]) -> CustomPanel:
    kind = spec.get("type", "timeseries")
    width, height = conventions.CUSTOM_PANEL_SIZES[kind]
    service, metric = metrics[spec["metric"]] if "metric" in spec else (None, None)
    queries = [PanelQuery(spec["expr"], spec.get("legend", ""))] if "expr" in spec else []
    queries += [PanelQuery(e["expr"], e.get("legend", "")) for e in spec.get("exprs", ())]
    if "unit" in spec:
        unit = grafana_unit(spec["unit"])
    else:
        unit = grafana_unit(metric.unit, rate=metric.type == "counter") if metric else grafana_unit("")
    return CustomPanel(
        title=spec["title"],
        type=kind,
        width=int(spec.get("width", width)),
        height=int(spec.get("height", height)),
        unit=unit,
        queries=tuple(queries),
        metric=metric,
        service=service.name if service else "",
        match=tuple(sorted((str(k), str(v)) for k, v in (spec.get("match") or {}).items())),
        decimals=spec.get("decimals"),
        thresholds=tuple((t["color"], _float(t.get("value"))) for t in spec.get("thresholds", ())),
        min=_float(spec.get("min")),
        max=_float(spec.get("max")),
        description=spec.get("description") or (metric.help if metric else "") or _shows(spec, queries),
        links=tuple((lnk["title"], lnk["url"]) for lnk in spec.get("links", ())),
        text=spec.get("text", ""),
    )


def _shows(spec: dict[str, Any], queries: list[PanelQuery]) -> str:
    """The description of a panel that has none: what it queries."""
    if not queries:
        return str(spec["title"])
    return "Query: " + "; ".join(f"`{q.expr}`" for q in queries)


def _variable(spec: dict[str, Any]) -> CustomVariable:
    return CustomVariable(
        name=spec["name"],
        title=spec.get("title", spec["name"]),
        metric=spec.get("metric"),
        label=spec.get("label"),
        values=tuple(spec.get("values", ())),
    )


def _custom(
    spec: dict[str, Any], folder: str, metrics: Mapping[str, tuple[Service, DeclaredMetric]]
) -> CustomDashboard:
    return CustomDashboard(
        uid=spec.get("uid") or conventions.custom_dashboard_uid(spec["title"]),
        title=spec["title"],
        folder=spec.get("folder", folder),
        description=spec.get("description", f"{spec['title']}: a dashboard of the spec's own (dashboards.custom)."),
        rows=tuple(CustomRow(r["title"], tuple(_panel(p, metrics) for p in r["panels"])) for r in spec["rows"]),
        tags=tuple(spec.get("tags", ())),
        variables=tuple(_variable(v) for v in spec.get("variables", ())),
    )


def dashboards(data: dict[str, Any] | None, services: tuple[Service, ...]) -> Dashboards:
    """The model of the spec's `dashboards:` (`services`: the built ones, the demo's included)."""
    data = data or {}
    folder = data.get("folder", conventions.DEFAULT_DASHBOARDS_FOLDER)
    metrics = declared(services)
    return Dashboards(
        enabled=data.get("enabled", True),
        folder=folder,
        exclude=tuple(data.get("exclude", ())),
        custom=tuple(_custom(d, folder, metrics) for d in data.get("custom", ())),
    )
