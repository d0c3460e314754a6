"""Grafana dashboards as code: the house style over grafanalib, and loading the catalog's dashboards.

`dashboards/<view>.dashboard.py` (loaded from the catalog folder) each define `dashboard(stack) ->
Board | None`: a declarative description built with the helpers below (None: the view does not
apply, e.g. its exporter is not in the spec). `build(stack, served)` lays every Board out on the grid,
lets grafanalib build it and has `dashboard_json.finish` turn that into the classic model Grafana 13
provisions. `rendered(stack)` says which dashboards exist, for links between them and from alerts: it
runs every definition, so `render` asks it once per rendering and hands the answer on (`Target.dashboards`).
Threshold lines come from the rule packs after the spec's overrides (`alert_steps`).

A panel that only has data when something is wrong (firing alerts, failed pushes) says so with
`quiet=<reason>`: the reason goes into its description after QUIET_MARK, where users read it and the
`dashboards/live` check finds it and does not report the panel as empty.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import attr
from grafanalib import core as gl  # type: ignore[import-untyped]
from grafanalib._gen import DashboardEncoder  # type: ignore[import-untyped]

from generator import catalog, conventions, dashboard_json, rules_catalog
from generator.dashboard_queries import quantile as quantile
from generator.dashboard_queries import rate as rate
from generator.dashboard_queries import ratio as ratio
from generator.model import Stack

SUFFIX = ".dashboard.py"
PROMETHEUS = dashboard_json.PROMETHEUS
QUIET_MARK = dashboard_json.QUIET_MARK
# (color, from value); the first step has None (= -Infinity)
Steps = Sequence[tuple[str, float | Decimal | None]]

# the filesystems and disks the node pack's alerts watch (pseudo and container filesystems are full or
# read-only by design); the panels show the same ones so that their thresholds mean the same thing
NODE_FSTYPES = 'fstype!~"tmpfs|ramfs|squashfs|nsfs|overlay|fuse.lxcfs|devtmpfs"'
NODE_DEVICES = 'device!~"loop.*|ram.*|fd.*|sr.*"'
BOOLEAN_OK = {
    "type": "value",
    "options": {"0": {"text": "failed", "color": "red", "index": 0}, "1": {"text": "ok", "color": "green", "index": 1}},
}
UP_DOWN = {
    "type": "value",
    "options": {"0": {"text": "down", "color": "red", "index": 0}, "1": {"text": "up", "color": "green", "index": 1}},
}
UP_STEPS: Steps = (("red", None), ("green", 1))  # red below 1: down, failed, missing


@dataclass(frozen=True)
class Cell:
    """A panel and its size on the 24-column grid."""

    panel: Any  # a grafanalib panel
    w: int
    h: int


@dataclass(frozen=True)
class Row:
    title: str
    cells: Sequence[Cell]
    collapsed: bool = False


@dataclass(frozen=True)
class Board:
    uid: str
    title: str
    description: str
    rows: Sequence[Row]
    variables: Sequence[Any] = ()  # grafanalib Templates
    links: Sequence[str] = ()  # uids of related dashboards (links to ones not rendered are dropped)
    tags: Sequence[str] = ()
    folder: str = ""  # the Grafana folder title ("": the spec's dashboards folder)


@dataclass(frozen=True)
class Dashboard:
    """One rendered dashboard: its view (file stem), uid, title, Grafana folder title and JSON model."""

    view: str
    uid: str
    title: str
    folder: str
    data: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        return json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- the house style --------------------------------------------------------------------------------
def q(expr: str, legend: str = "", instant: bool = False, table: bool = False) -> Any:
    """A Prometheus query; refIds and the datasource are filled in when the dashboard is finished."""
    return gl.Target(
        expr=expr, legendFormat=legend, instant=instant or table, format="table" if table else "time_series"
    )


def thresholds(steps: Steps | None) -> dict[str, Any]:
    """Grafana threshold steps, in ascending order as Grafana needs them (the base step first)."""
    ordered = sorted(steps or (("green", None),), key=lambda s: -math.inf if s[1] is None else float(s[1]))
    return {
        "mode": "absolute",
        "steps": [{"color": c} if v is None else {"color": c, "value": float(v)} for c, v in ordered],
    }


def _described(description: str, quiet: str | None) -> str:
    return f"{description}\n\n{QUIET_MARK} {quiet}" if quiet else description


def field_defaults(
    unit: str, steps: Steps | None, lo: float | None, hi: float | None, quiet: str | None, color: str
) -> dict[str, Any]:
    """A panel's fieldConfig defaults: unit, thresholds, color mode, range and what it says without data."""
    defaults: dict[str, Any] = {"unit": unit, "thresholds": thresholds(steps), "color": {"mode": color}}
    if lo is not None:
        defaults["min"] = float(lo)
    if hi is not None:
        defaults["max"] = float(hi)
    # grafanalib's Stat says "none"; Grafana's own words unless emptiness is the good news
    defaults["noValue"] = "None: all is well" if quiet else "No data"
    return defaults


def link(title: str, uid: str, params: str = "") -> dict[str, Any]:
    """A panel link to another dashboard, keeping the time range; dropped when that dashboard is not
    rendered. Panel links have no keepTime at schemaVersion 42: the range travels in the URL."""
    query = "&".join(part for part in (params, "${__url_time_range}") if part)
    return {"title": title, "type": "link", "url": f"/d/{uid}?{query}"}


def timeseries(
    title: str,
    *targets: Any,
    description: str,
    unit: str = "short",
    steps: Steps | None = None,
    lo: float | None = None,
    hi: float | None = None,
    quiet: str | None = None,
    stacked: bool = False,
    links: Sequence[dict[str, Any]] = (),
    w: int = 12,
    h: int = 8,
) -> Cell:
    """A time series; `steps` draw the alert thresholds as dashed lines."""
    custom = {
        "thresholdsStyle": {"mode": "dashed" if steps else "off"},
        "fillOpacity": 10,
        "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
        "axisSoftMin": 0,
    }
    panel = gl.TimeSeries(
        title=title,
        targets=list(targets),
        description=_described(description, quiet),
        links=list(links),
        extraJson={
            "fieldConfig": {
                "defaults": {**field_defaults(unit, steps, lo, hi, quiet, "palette-classic"), "custom": custom}
            }
        },
    )
    return Cell(panel, w, h)


def stat(
    title: str,
    *targets: Any,
    description: str,
    unit: str = "short",
    steps: Steps | None = None,
    lo: float | None = None,
    hi: float | None = None,
    quiet: str | None = None,
    graph: bool = True,
    mappings: Sequence[dict[str, Any]] = (),
    links: Sequence[dict[str, Any]] = (),
    decimals: int | None = None,
    w: int = 6,
    h: int = 4,
) -> Cell:
    """A single number (per series), colored by `steps`."""
    options = {
        "graphMode": "area" if graph else "none",
        "colorMode": "value",
        "justifyMode": "auto",
        "textMode": "auto",
        "wideLayout": True,
        "showPercentChange": False,
        "percentChangeColorMode": "standard",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    defaults = field_defaults(unit, steps, lo, hi, quiet, "thresholds")
    defaults["mappings"] = list(mappings)
    if decimals is not None:
        defaults["decimals"] = decimals
    panel = gl.Stat(
        title=title,
        targets=list(targets),
        description=_described(description, quiet),
        links=list(links),
        extraJson={"options": options, "fieldConfig": {"defaults": defaults}},
    )
    return Cell(panel, w, h)


def up(title: str, target: Any, description: str, w: int = 6) -> Cell:
    """A 1-or-0 stat (a target up, an exporter reaching its server, a probe succeeding): "up" in
    green or "down" in red, per series."""
    return stat(title, target, description=description, graph=False, mappings=[UP_DOWN], steps=UP_STEPS, w=w)


def table(
    title: str,
    *targets: Any,
    description: str,
    quiet: str | None = None,
    hidden: Sequence[str] = (),
    unit: str = "short",
    links: Sequence[dict[str, Any]] = (),
    w: int = 24,
    h: int = 8,
) -> Cell:
    """Instant query results as a table; `hidden` columns are removed (Time, Value, ...); `links` are data
    links on every cell (`${__data.fields.<column>}` is the row's value of a column)."""
    organize = {"id": "organize", "options": {"excludeByName": dict.fromkeys(hidden, True)}}
    defaults = {**field_defaults(unit, None, None, None, quiet, "thresholds"), "links": list(links)}
    panel = gl.Table(
        title=title,
        targets=list(targets),
        description=_described(description, quiet),
        transformations=[{"id": "merge", "options": {}}, organize],
        extraJson={
            "options": {"showHeader": True, "cellHeight": "sm"},
            "fieldConfig": {"defaults": defaults},
        },
    )
    return Cell(panel, w, h)


def query_var(name: str, query: str, label: str, include_all: bool = True) -> Any:
    """A variable from `label_values(...)`, refreshed on time-range change so it follows new targets."""
    return gl.Template(
        name=name,
        query=query,
        label=label,
        dataSource=PROMETHEUS,
        includeAll=include_all,
        multi=include_all,
        allValue=".*" if include_all else None,
        refresh=2,
        sort=1,
    )


def custom_var(name: str, values: Sequence[str], label: str) -> Any:
    """A variable over values known when rendering (e.g. the services of the spec); defaults to All."""
    options = [{"text": "All", "value": "$__all", "selected": True}]
    options += [{"text": v, "value": v, "selected": False} for v in values]
    return gl.Template(
        name=name,
        query=",".join(values),
        label=label,
        type="custom",
        includeAll=True,
        multi=True,
        options=options,
        default="All",
        refresh=0,
        sort=0,
    )


def alert_steps(
    stack: Stack, alert: str, to_panel: Callable[[Decimal], Decimal] = lambda t: t, below: bool = False
) -> Steps:
    """Green, then red from the alert's threshold converted to the panel's unit (red, then green for an
    alert on a value falling `below` it); only green when the alert is disabled (no line for a
    threshold nobody is alerted on)."""
    threshold = rules_catalog.alert_threshold(stack, alert)
    if threshold is None:
        return (("green", None),)
    base, alerting = ("red", "green") if below else ("green", "red")
    return ((base, None), (alerting, to_panel(threshold)))


def percent_alert(stack: Stack, alert: str) -> Steps:
    """alert_steps for a 0-1 panel of an alert whose threshold is in percent."""
    return alert_steps(stack, alert, lambda t: t / 100)


# --- layout ------------------------------------------------------------------
def _layout(rows: Sequence[Row]) -> list[Any]:
    """Place rows full-width, their panels left to right, wrapping at 24 columns."""
    panels: list[Any] = []
    y = 0
    for row in rows:
        panels.append(gl.RowPanel(title=row.title, collapsed=row.collapsed, gridPos=gl.GridPos(h=1, w=24, x=0, y=y)))
        y += 1
        x, line = 0, 0
        for cell in row.cells:
            if x + cell.w > 24:
                y, x, line = y + line, 0, 0
            panels.append(attr.evolve(cell.panel, gridPos=gl.GridPos(h=cell.h, w=cell.w, x=x, y=y)))
            x, line = x + cell.w, max(line, cell.h)
        y += line
    return panels


def finish(board: Board, live: Mapping[str, str], stores: Sequence[str] = ()) -> dict[str, Any]:
    """The JSON model of `board`; `live` maps the uids being rendered to their titles (links elsewhere drop);
    `stores`: the long-term datasources the stack has, which a `$datasource` variable offers."""
    dash = gl.Dashboard(
        title=board.title,
        uid=board.uid,
        panels=_layout(board.rows),
        templating=gl.Templating(list=list(board.variables)),
    )
    data = json.loads(json.dumps(dash.to_json_data(), cls=DashboardEncoder))
    return dashboard_json.switchable(
        dashboard_json.finish(data, board.description, board.tags, board.links, live), stores
    )


# --- loading and building ---------------------------------------------------------------------------
# a definition makes one dashboard, none (its view does not apply) or several (custom.dashboard.py)
Definition = Callable[[Stack], Board | Sequence[Board] | None]


@cache
def definitions() -> dict[str, Definition]:
    """view name (file stem) -> its `dashboard` function, from the catalog's dashboards folder."""
    found: dict[str, Definition] = {}
    for path in sorted(catalog.folder("dashboards").glob(f"*{SUFFIX}")):
        view = path.name.removesuffix(SUFFIX)
        spec = importlib.util.spec_from_file_location(f"promstack_dashboards.{view.replace('-', '_')}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load dashboard definition {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found[view] = module.dashboard
    return found


def _excluded(stack: Stack, view: str, uid: str) -> bool:
    keys = {view} | {k for k, u in conventions.DASHBOARD_UIDS.items() if u == uid}
    return bool(keys & set(stack.dashboards.exclude))


def _boards(stack: Stack) -> list[tuple[str, Board]]:
    """(view, Board) of every dashboard `stack` renders: none without Grafana or with dashboards
    disabled, and neither views that do not apply (their exporter is not in the spec) nor excluded ones."""
    if not stack.dashboards.enabled or not stack.has("grafana"):
        return []
    boards: list[tuple[str, Board]] = []
    for view, define in definitions().items():
        made = define(stack)
        for board in [made] if isinstance(made, Board) else made or ():
            if not _excluded(stack, view, board.uid):
                boards.append((view, board))
    return boards


def rendered(stack: Stack) -> dict[str, str]:
    """uid -> title of every dashboard `stack` renders: what dashboard links and the `dashboard`
    annotations of alerts may point at."""
    return {b.uid: b.title for _, b in _boards(stack)}


def build(stack: Stack, served: Mapping[str, str]) -> list[Dashboard]:
    """Every dashboard of `stack`, sorted by uid; `served` is `rendered(stack)`, which links point at."""
    stores = [store.datasource for name, store in catalog.stores().items() if stack.has(name)]
    built = [
        Dashboard(view, b.uid, b.title, b.folder or stack.dashboards.folder, finish(b, served, stores))
        for view, b in _boards(stack)
    ]
    return sorted(built, key=lambda d: d.uid)
