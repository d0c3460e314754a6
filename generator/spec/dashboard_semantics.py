"""Semantic checks of `dashboards.custom[]` that the schema cannot say, each located at its spec path.

uids (given or made from the title) unique and apart from the built-in dashboards'; a panel with one
source of data (expr, exprs or metric; a text panel its text); a `metric` that a service declares;
variables that take the values of a label on a metric or a fixed list, named once, and every `$name`
a query uses defined by its dashboard (Grafana's own `$__...` aside).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from generator import conventions, dashboard_json
from generator.errors import Problem
from generator.kinds import Metric
from generator.kinds import metrics as kind_metrics
from generator.spec.loader import Document

SOURCES = ("expr", "exprs", "metric")


def _items(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    # these checks also run on documents the schema rejected: every value may have any type
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield index, item


def _hint(name: str, known: set[str], what: str) -> str:
    guess = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean '{guess[0]}'?" if guess else f"{what}: {', '.join(sorted(known)) or 'none'}"


def _uids(doc: Document, dashboards: list[tuple[int, dict[str, Any]]]) -> Iterator[Problem]:
    builtin = {uid: view for view, uid in conventions.DASHBOARD_UIDS.items()}
    seen: dict[str, int] = {}
    for index, board in dashboards:
        base = f"$.dashboards.custom[{index}]"
        title, uid = board.get("title"), board.get("uid")
        if isinstance(uid, str):
            where, source = f"{base}.uid", f"uid '{uid}'"
        elif isinstance(title, str):
            uid = conventions.custom_dashboard_uid(title)
            where, source = f"{base}.title", f"the title makes the uid '{uid}', which"
            if not uid:
                yield doc.problem(where, "the title has no letter or digit to make a uid from; add uid: ...")
                continue
        else:
            continue
        if uid in builtin:
            yield doc.problem(where, f"{source} is the built-in {builtin[uid]} dashboard's; choose another uid")
        elif uid in seen:
            yield doc.problem(where, f"{source} is already used by $.dashboards.custom[{seen[uid]}]; add a unique uid")
        seen.setdefault(uid, index)


def _folders(doc: Document, section: dict[str, Any], dashboards: list[tuple[int, dict[str, Any]]]) -> Iterator[Problem]:
    """Each Grafana folder gets its own sub-folder of files: two titles must not make the same one."""
    default = section.get("folder")
    default = default if isinstance(default, str) else conventions.DEFAULT_DASHBOARDS_FOLDER
    seen = {conventions.dashboard_folder_dir(default): default}
    for index, board in dashboards:
        folder = board.get("folder")
        if not isinstance(folder, str):
            continue
        other = seen.setdefault(conventions.dashboard_folder_dir(folder), folder)
        if other != folder:
            yield doc.problem(
                f"$.dashboards.custom[{index}].folder",
                f"folder '{folder}' would share its files' folder with folder '{other}'; name it differently",
            )


def _variables(board: dict[str, Any]) -> set[str]:
    return {str(v["name"]) for _, v in _items(board.get("variables")) if isinstance(v.get("name"), str)}


def _variable_problems(doc: Document, base: str, board: dict[str, Any]) -> Iterator[Problem]:
    seen: set[str] = set()
    for index, var in _items(board.get("variables")):
        path = f"{base}.variables[{index}]"
        name = var.get("name")
        if isinstance(name, str):
            if name in seen:
                yield doc.problem(f"{path}.name", f"duplicate variable name '{name}'")
            seen.add(name)
        by_label, fixed = "metric" in var or "label" in var, "values" in var
        if by_label == fixed or (by_label and not ("metric" in var and "label" in var)):
            yield doc.problem(
                path,
                "a variable takes metric and label (the values of a label on a metric's series) "
                "or values (a fixed list)",
            )


def _exprs(panel: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    if isinstance(panel.get("expr"), str):
        yield f"{path}.expr", panel["expr"]
    for index, item in _items(panel.get("exprs")):
        if isinstance(item.get("expr"), str):
            yield f"{path}.exprs[{index}].expr", item["expr"]


def _match_problems(
    doc: Document, path: str, panel: dict[str, Any], variables: set[str], metric: Metric | None
) -> Iterator[Problem]:
    """`match` narrows a declared metric's series: only with `metric`, on labels its series carry, with
    variables the dashboard defines."""
    match = panel.get("match")
    if not isinstance(match, dict):
        return
    if "metric" not in panel:
        yield doc.problem(f"{path}.match", "match narrows a declared metric's series; with expr, write the matchers")
        return
    allowed = kind_metrics.label_names(metric) if metric is not None else None
    for label, value in match.items():
        if allowed is not None and label not in allowed:
            assert metric is not None
            yield doc.problem(
                f"{path}.match.{label}", f"{metric.name} has no label '{label}' (it has {', '.join(sorted(allowed))})"
            )
        for name in sorted(dashboard_json.variable_names(str(value)) - variables):
            if not name.startswith("__"):
                hint = _hint(name, variables, "its variables")
                yield doc.problem(f"{path}.match.{label}", f"${name} is not a variable of this dashboard; {hint}")


def _panel_problems(
    doc: Document, path: str, panel: dict[str, Any], variables: set[str], metrics: dict[str, Metric]
) -> Iterator[Problem]:
    given = [key for key in SOURCES if key in panel]
    kind = panel.get("type", "timeseries")
    if kind == "text":
        if given:
            yield doc.problem(f"{path}.{given[0]}", f"a text panel shows its text and runs no query; remove {given[0]}")
        if "text" not in panel:
            yield doc.problem(path, "a text panel needs text: ... (Markdown)")
    elif not given:
        yield doc.problem(path, f"a {kind} panel needs a query: expr, exprs or metric (a declared metric)")
    elif len(given) > 1:
        yield doc.problem(
            f"{path}.{given[1]}", f"a panel takes one of expr, exprs or metric, not {' and '.join(given)}"
        )
    metric = panel.get("metric")
    if isinstance(metric, str) and metric not in metrics:
        hint = _hint(metric, set(metrics), "declared")
        yield doc.problem(
            f"{path}.metric", f"metric '{metric}' is not declared by any service (services[].metrics[]); {hint}"
        )
    yield from _match_problems(doc, path, panel, variables, metrics.get(metric) if isinstance(metric, str) else None)
    for where, expr in _exprs(panel, path):
        for name in sorted(dashboard_json.variable_names(expr) - variables):
            if not name.startswith("__"):
                hint = _hint(name, variables, "its variables")
                yield doc.problem(where, f"the query uses ${name}, which this dashboard does not define; {hint}")


def dashboard_problems(doc: Document) -> Iterator[Problem]:
    data = doc.data if isinstance(doc.data, dict) else {}
    section = data["dashboards"] if isinstance(data.get("dashboards"), dict) else {}
    custom = list(_items(section.get("custom")))
    if not custom:
        return
    yield from _uids(doc, custom)
    yield from _folders(doc, section, custom)
    metrics = {name: metric for name, (metric, _) in kind_metrics.declared(data).items()}
    for index, board in custom:
        base = f"$.dashboards.custom[{index}]"
        yield from _variable_problems(doc, base, board)
        variables = _variables(board)
        for r, row in _items(board.get("rows")):
            for p, panel in _items(row.get("panels")):
                yield from _panel_problems(doc, f"{base}.rows[{r}].panels[{p}]", panel, variables, metrics)
