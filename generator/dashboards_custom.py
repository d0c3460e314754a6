"""The spec's own dashboards (`dashboards.custom[]`) as Boards, through the same house layer as ours.

`dashboards/custom.dashboard.py` hands `boards(stack)` to the dashboard loader, so custom dashboards
are laid out, finished, linted (`dashboards/lint`) and proven live (`dashboards/live`) exactly like
the built-in ones. Time series, stats and tables come from generator/dashboards.py; gauges, bar
gauges, heatmaps and text panels, which no built-in dashboard uses, are made here in the same style.
A panel on a declared metric takes that metric's queries by type (generator/dashboard_metrics.py).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import attr
from grafanalib import core as gl  # type: ignore[import-untyped]

from generator import dashboard_metrics
from generator import dashboards as g
from generator.model import CustomDashboard, CustomPanel, CustomVariable, Stack

_REDUCE: dict[str, Any] = {"calcs": ["lastNotNull"], "fields": "", "values": False}


@attr.s
class _CurrentPanel(gl.Panel):  # type: ignore[misc]
    """A panel of the current model whose options and field config are given whole (grafanalib's own
    gauge, bar gauge, heatmap and text classes write their pre-Grafana-7 shapes)."""

    kind: str = attr.ib(default="text")
    options: dict[str, Any] = attr.ib(factory=dict)
    defaults: dict[str, Any] = attr.ib(factory=dict)

    def to_json_data(self) -> dict[str, Any]:
        field_config = {"defaults": self.defaults, "overrides": []}
        made: dict[str, Any] = self.panel_json(
            {"type": self.kind, "options": self.options, "fieldConfig": field_config}
        )
        return made


_Panel: Any = _CurrentPanel  # grafanalib is untyped: its keyword arguments are unknown to mypy


def _steps(panel: CustomPanel) -> g.Steps:
    """The panel's thresholds, with a green base step unless it names its own."""
    steps = list(panel.thresholds)
    return steps if any(value is None for _, value in steps) else [("green", None), *steps]


def _defaults(panel: CustomPanel) -> dict[str, Any]:
    defaults = g.field_defaults(panel.unit, _steps(panel), panel.min, panel.max, None, "thresholds")
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    return defaults


def _links(panel: CustomPanel) -> list[dict[str, Any]]:
    links = []
    for title, url in panel.links:
        link: dict[str, Any] = {"title": title, "type": "link", "url": url}
        if url.startswith(("http://", "https://")):
            link["targetBlank"] = True
        links.append(link)
    return links


def _targets(panel: CustomPanel) -> list[Any]:
    table, heatmap = panel.type == "table", panel.type == "heatmap"
    if panel.metric is None:
        found = [g.q(q.expr, q.legend, table=table) for q in panel.queries]
    else:
        sel = dashboard_metrics.selector(panel.service, dashboard_metrics.matchers(panel.match))
        if heatmap and panel.metric.type == "histogram":  # the buckets themselves, drawn as they are
            found = [g.q(g.rate(f"{panel.metric.name}_bucket", sel, "le"), "{{le}}")]
        else:
            found = dashboard_metrics.targets(panel.metric, sel, panel.service)
            found = [attr.evolve(t, instant=table, format="table" if table else "time_series") for t in found]
    return [attr.evolve(t, format="heatmap") for t in found] if heatmap else found


_GAUGE: dict[str, Any] = {
    "orientation": "auto",
    "showThresholdLabels": False,
    "showThresholdMarkers": True,
    "sizing": "auto",
}
_GAUGE |= {"minVizWidth": 75, "minVizHeight": 75}
_BAR_GAUGE: dict[str, Any] = {
    "orientation": "horizontal",
    "displayMode": "gradient",
    "valueMode": "color",
    "namePlacement": "auto",
}
_BAR_GAUGE |= {"showUnfilled": True, "sizing": "auto", "minVizWidth": 8, "minVizHeight": 16, "maxVizHeight": 300}


def _gauge(panel: CustomPanel, targets: Sequence[Any], bar: bool) -> Any:
    options = {"reduceOptions": _REDUCE, **(_BAR_GAUGE if bar else _GAUGE)}
    return _Panel(title=panel.title, targets=list(targets), kind="bargauge" if bar else "gauge", options=options)


def _heatmap(panel: CustomPanel, targets: Sequence[Any]) -> Any:
    color = {"mode": "scheme", "scheme": "Oranges", "fill": "dark-orange", "scale": "exponential", "exponent": 0.5}
    options = {
        "calculate": False,
        "cellGap": 1,
        "color": {**color, "steps": 64, "reverse": False},
        "exemplars": {"color": "rgba(255,0,255,0.7)"},
        "filterValues": {"le": 1e-9},
        "legend": {"show": True},
        "rowsFrame": {"layout": "auto"},
        "tooltip": {"mode": "single", "yHistogram": False, "showColorScale": False},
        "yAxis": {"axisPlacement": "left", "reverse": False, "unit": panel.unit},
        "showValue": "auto",
    }
    return _Panel(title=panel.title, targets=list(targets), kind="heatmap", options=options)


def text_cell(
    title: str, content: str, w: int, h: int, description: str = "", ident: int | None = None, unit: str = ""
) -> g.Cell:
    """A Markdown text panel; `ident`: its own panel id (a link may name it with viewPanel), else numbered."""
    options = {"mode": "markdown", "content": content}
    defaults = {"unit": unit} if unit else {}
    return g.Cell(_Panel(title=title, description=description, options=options, defaults=defaults, id=ident), w, h)


def _cell(panel: CustomPanel) -> g.Cell:
    if panel.type == "text":
        return text_cell(panel.title, panel.text, panel.width, panel.height, panel.description)
    targets, links, w, h = _targets(panel), _links(panel), panel.width, panel.height
    if panel.type in ("timeseries", "stat"):
        # a time series draws thresholds as lines only when the spec gives some; a stat is colored by them
        steps = _steps(panel) if panel.thresholds or panel.type == "stat" else None
        helper = g.timeseries if panel.type == "timeseries" else g.stat
        cell = helper(
            panel.title,
            *targets,
            description=panel.description,
            unit=panel.unit,
            steps=steps,
            lo=panel.min,
            hi=panel.max,
            links=links,
            w=w,
            h=h,
        )
    elif panel.type == "table":
        cell = g.table(panel.title, *targets, description=panel.description, hidden=("Time",), w=w, h=h)
    else:
        made = _heatmap(panel, targets) if panel.type == "heatmap" else _gauge(panel, targets, panel.type == "bargauge")
        made = attr.evolve(made, description=panel.description, links=links, defaults=_defaults(panel))
        return g.Cell(made, w=w, h=h)
    return _amended(cell, panel)


def _amended(cell: g.Cell, panel: CustomPanel) -> g.Cell:
    """What the house helpers leave out for their own panels: links and the unit of a table, decimals."""
    extra = copy.deepcopy(cell.panel.extraJson)
    defaults = extra["fieldConfig"]["defaults"]
    if panel.type == "table":
        defaults.update(_defaults(panel))
    elif panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    return g.Cell(attr.evolve(cell.panel, extraJson=extra, links=_links(panel)), cell.w, cell.h)


def _variable(var: CustomVariable) -> Any:
    if var.metric is not None and var.label is not None:
        return g.query_var(var.name, f"label_values({var.metric}, {var.label})", var.title)
    return g.custom_var(var.name, var.values, var.title)


def board(custom: CustomDashboard) -> g.Board:
    return g.Board(
        uid=custom.uid,
        title=custom.title,
        description=custom.description,
        rows=[g.Row(row.title, [_cell(p) for p in row.panels]) for row in custom.rows],
        variables=[_variable(v) for v in custom.variables],
        tags=("custom", *custom.tags),
        folder=custom.folder,
    )


def boards(stack: Stack) -> list[g.Board]:
    return [board(custom) for custom in stack.dashboards.custom]
