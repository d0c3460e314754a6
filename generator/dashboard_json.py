"""The classic (v1) Grafana dashboard JSON model: written from grafanalib's output, read by the checks.

Grafana 13 file provisioning reads only the classic model (docs/compat.md §5). grafanalib 0.7.1
emits an older one (schemaVersion 12, nulls, `rows`, `span`, legends without `showLegend`, a
pinned maxDataPoints, legacy target keys), so `finish` rewrites its output: current schemaVersion,
keys whitelisted per object, nulls dropped, ids in order (unless a panel has its own), every panel and
query on the provisioned Prometheus datasource uid. The readers below (`queries`, `substitute`, `is_quiet`) serve the
`dashboards/lint` and `dashboards/live` checks, which work on the rendered JSON, not on our objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from generator import conventions

SCHEMA_VERSION = 42  # Grafana 13.x; older values are migrated on load, 41 and 42 both fit 13.1
PROMETHEUS = {"type": "prometheus", "uid": conventions.DATASOURCE_PROMETHEUS_UID}
UID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# Panels empty by design say so after this mark in their description (see dashboards.py)
QUIET_MARK = "Empty by design:"

_PANEL_KEYS = frozenset(
    [
        "type",
        "id",
        "title",
        "description",
        "datasource",
        "gridPos",
        "links",
        "targets",
        "options",
        "fieldConfig",
        "transformations",
        "interval",
        "timeFrom",
        "timeShift",
        "pluginVersion",
    ]
)
_ROW_KEYS = frozenset({"type", "id", "title", "collapsed", "gridPos", "panels"})
_TARGET_KEYS = frozenset({"expr", "legendFormat", "refId", "instant", "format", "interval"})
_VARIABLE_KEYS = frozenset(
    [
        "type",
        "name",
        "label",
        "hide",
        "query",
        "datasource",
        "current",
        "multi",
        "options",
        "refresh",
        "sort",
        "includeAll",
        "allValue",
        "regex",
        "description",
    ]
)
ALL = {"text": "All", "value": "$__all"}
ANNOTATIONS = [
    {  # Grafana's own annotations; every dashboard saved by Grafana has this entry
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    },
    {  # firing alerts marked on every graph: a spike next to the alert that it caused
        "name": "Firing alerts",
        "datasource": PROMETHEUS,
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "expr": f'ALERTS{{alertstate="firing",alertname!="{conventions.ALERT_WATCHDOG}"}}',
        "step": "1m",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}} {{job}} {{instance}}",
        "tagKeys": "severity,job",
    },
]


def link_uid(url: str) -> str | None:
    """The dashboard uid a Grafana URL (`/d/<uid>...`, absolute or not) points at."""
    match = re.search(r"/d/([^/?#]+)", url)
    return match.group(1) if match else None


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


def _target(target: dict[str, Any], ref: int, panel_type: str) -> dict[str, Any]:
    out = {k: v for k, v in target.items() if k in _TARGET_KEYS and v not in ("", None)}
    out.update(refId=chr(ord("A") + ref), datasource=dict(PROMETHEUS), editorMode="code")
    out["range"] = not out.get("instant", False)
    if panel_type != "table" and out.get("format") == "time_series":
        del out["format"]  # the default
    return out


def _panel(panel: dict[str, Any], ident: int, live: Mapping[str, str]) -> dict[str, Any]:
    if panel["type"] == "row":
        return {k: v for k, v in panel.items() if k in _ROW_KEYS} | {"id": ident, "panels": []}
    # maxDataPoints is dropped with the unlisted keys: grafanalib pins 100, Grafana derives it from the width
    out = {k: v for k, v in panel.items() if k in _PANEL_KEYS}
    # a panel that carries its own id keeps it (runbook links name it); rows and the others are numbered
    out.update(id=panel.get("id") or ident, datasource=dict(PROMETHEUS))
    out["targets"] = [_target(t, i, panel["type"]) for i, t in enumerate(panel["targets"])]
    # links to other dashboards only when those are rendered; links elsewhere (a wiki, a runbook) stay
    links = [lnk for lnk in panel.get("links", []) if link_uid(lnk.get("url", "")) in (*live, None)]
    defaults = out["fieldConfig"]["defaults"]
    custom = defaults.pop("custom", {})
    if panel["type"] == "timeseries":
        out["options"] = {
            "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
        defaults["custom"] = {k: v for k, v in custom.items() if k != "axisSoftMax"}
    elif panel["type"] == "table":  # grafanalib's `displayMode` became `cellOptions` in Grafana 10
        defaults["custom"] = {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": False}
    out["fieldConfig"] = {"defaults": defaults, "overrides": panel["fieldConfig"].get("overrides", [])}
    for key, value in (("links", links), ("transformations", out.get("transformations"))):
        if value:
            out[key] = value
        else:
            out.pop(key, None)
    return out


def _variable(var: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in var.items() if k in _VARIABLE_KEYS and k != "definition"}  # Grafana's models: `query`
    if out.get("includeAll"):
        out["current"] = dict(ALL)
    else:
        out.pop("current", None)
    return out


def finish(
    data: dict[str, Any], description: str, tags: Sequence[str], links: Sequence[str], live: Mapping[str, str]
) -> dict[str, Any]:
    """The v1 model from grafanalib's `data`; `live` maps the uids being rendered to their titles, and
    links (`links` of the dashboard, panel links) to any other uid are dropped."""
    data = _drop_nulls(data)
    uid = data["uid"]
    onward = [
        {"title": live[other], "type": "link", "url": f"/d/{other}", "icon": "dashboard", "keepTime": True}
        for other in links
        if other in live and other != uid
    ]
    return {
        "uid": uid,
        "title": data["title"],
        "description": description,
        "tags": ["promstack", *tags],
        "timezone": "browser",
        "editable": False,  # provisioned with allowUiUpdates: false; change the spec instead
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "refresh": "30s",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "panels": [_panel(p, i, live) for i, p in enumerate(data["panels"], start=1)],
        "links": onward,
        "templating": {"list": [_variable(v) for v in data["templating"]["list"]]},
        "annotations": {"list": [dict(a) for a in ANNOTATIONS]},
    }


# --- reading a rendered dashboard (the lint and live checks) -----------------------------------------
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """`expr` with Grafana variables ($x, ${x}, ${x:fmt}, [[x]]) replaced from `values`; others kept."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return values.get(name, match.group(0))

    return _VARIABLE.sub(replace, expr)


def variable_names(expr: str) -> set[str]:
    """The Grafana variables `expr` refers to ($x, ${x}, ${x:fmt}, [[x]]); `$1` (label_replace) is none."""
    found = {m.group(1) or m.group(2) or m.group(3) for m in _VARIABLE.finditer(expr)}
    return {name for name in found if not name[0].isdigit()}


def queries(data: Mapping[str, Any]) -> Iterable[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query of a dashboard, the panels nested in collapsed rows included."""
    for panel in data.get("panels", ()):
        for inner in (panel, *panel.get("panels", ())):
            for target in inner.get("targets", ()):
                yield inner, target


def is_quiet(panel: Mapping[str, Any]) -> bool:
    """True for a panel marked as empty by design (it shows data only when something is wrong)."""
    return QUIET_MARK in str(panel.get("description", ""))
