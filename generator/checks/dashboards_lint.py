"""Check `dashboards/lint`: the rendered dashboards can work, proven offline.

- uids are valid (`[A-Za-z0-9_-]`, at most 40 characters) and unique; titles are unique per folder;
- every panel and query names a datasource uid that the provisioning file declares (or a datasource
  variable whose default is one);
- every query parses: Grafana variables are substituted, then all queries go to one
  `promtool check rules` call as recording rules, and its errors are mapped back to dashboard and panel;
- every metric a query reads is produced by something in the stack (metrics_inventory): a panel that
  can never have data is an error;
- dashboard and panel links, and the `dashboard` annotation of every rendered alert, resolve to a
  rendered dashboard uid; a `runbook_url` into the stack's Grafana opens a panel titled after its alert.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from generator import conventions, dashboard_json, metrics_inventory, yamlload
from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool

NAME = "dashboards/lint"
# what Grafana puts in place of its built-in variables, for parsing (any valid value will do)
BUILTIN_VALUES = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
    "__interval_ms": "60000",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
_LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.*)\)\s*$", re.S)
_PROMTOOL_ERROR = re.compile(r'group "g(\d+)", rule (\d+), "[^"]*": (.*)$')


@dataclass(frozen=True)
class Query:
    where: str  # 'dashboard "Node" (grafana/dashboards/...), panel "CPU"'
    expr: str  # variables substituted


def _dashboards(ctx: CheckContext) -> dict[str, dict[str, Any]]:
    prefix = conventions.GRAFANA_DASHBOARDS_DIR + "/"
    return {
        path: json.loads(text)
        for path, text in ctx.tree.files.items()
        if path.startswith(prefix) and path.endswith(".json")
    }


def _rule_files(ctx: CheckContext) -> dict[str, str]:
    prefix = conventions.PROMETHEUS_RULES_DIR + "/"
    return {p: t for p, t in ctx.tree.files.items() if p.startswith(prefix) and p.endswith((".yml", ".yaml"))}


def _datasource_uids(ctx: CheckContext) -> set[str]:
    uids: set[str] = set()
    for path, text in ctx.tree.files.items():
        if path.startswith(conventions.GRAFANA_DATASOURCES_DIR + "/"):
            uids.update(str(d.get("uid")) for d in (yamlload.safe_load(text) or {}).get("datasources") or ())
    return uids


def _identity(boards: dict[str, dict[str, Any]]) -> Iterator[str]:
    seen_uid: dict[str, str] = {}
    seen_title: dict[tuple[str, str], str] = {}
    for path, board in boards.items():
        uid, title = str(board.get("uid", "")), str(board.get("title", ""))
        if not dashboard_json.UID_PATTERN.match(uid):
            yield f"{path}: uid {uid!r} is not 1 to 40 letters, digits, '-' or '_'; Grafana refuses it."
        if uid in seen_uid:
            yield f"{path}: uid {uid!r} is already used by {seen_uid[uid]}; Grafana keeps only one of them."
        seen_uid.setdefault(uid, path)
        folder = path.rsplit("/", 1)[0]
        if not title:
            yield f"{path}: the dashboard has no title."
        elif (folder, title) in seen_title:
            yield f"{path}: title {title!r} is already used by {seen_title[folder, title]} in the same folder."
        seen_title.setdefault((folder, title), path)


def _where(path: str, board: dict[str, Any], panel: dict[str, Any] | None = None) -> str:
    place = f'dashboard "{board.get("title", "")}" ({path})'
    return f'{place}, panel "{panel.get("title", "")}"' if panel is not None else place


def _chosen(board: dict[str, Any], known: set[str]) -> dict[str, str]:
    """`${name}` -> the datasource uid a datasource variable of `board` chooses by default, where known."""
    found = {}
    for var in board.get("templating", {}).get("list", ()):
        current = str((var.get("current") or {}).get("value", ""))
        if var.get("type") == "datasource" and current in known:
            found[f"${{{var.get('name', '')}}}"] = current
    return found


def _datasources(boards: dict[str, dict[str, Any]], known: set[str]) -> Iterator[str]:
    for path, board in boards.items():
        switch = _chosen(board, known)  # a panel on `$datasource` reads the variable's default datasource
        for panel in board.get("panels", ()):
            for inner in (panel, *panel.get("panels", ())):
                if inner.get("type") == "row":
                    continue
                refs = [("the panel", inner.get("datasource"))]
                refs += [(f"query {t.get('refId', '?')}", t.get("datasource")) for t in inner.get("targets", ())]
                for what, ref in refs:
                    uid = ref.get("uid") if isinstance(ref, dict) else None
                    if switch.get(str(uid), uid) not in known:
                        yield (
                            f"{_where(path, board, inner)}: {what} uses datasource {uid!r}, which is not "
                            f"provisioned (known: {', '.join(sorted(known)) or 'none'})."
                        )


def _values(board: dict[str, Any]) -> dict[str, str]:
    values = dict(BUILTIN_VALUES)
    for var in board.get("templating", {}).get("list", ()):
        options = [o.get("value") for o in var.get("options", ()) if o.get("value") not in (None, "$__all")]
        values[var.get("name", "")] = str(options[0]) if options else "placeholder"
    return values


def _queries(boards: dict[str, dict[str, Any]]) -> list[Query]:
    found: list[Query] = []
    for path, board in boards.items():
        values = _values(board)
        for panel, target in dashboard_json.queries(board):
            expr = str(target.get("expr", ""))
            found.append(
                Query(
                    f"{_where(path, board, panel)}, query {target.get('refId', '?')}",
                    dashboard_json.substitute(expr, values),
                )
            )
        for var in board.get("templating", {}).get("list", ()):
            query = var.get("query")
            text = query.get("query", "") if isinstance(query, dict) else str(query or "")
            match = (_LABEL_VALUES.match(text) or _QUERY_RESULT.match(text)) if var.get("type") == "query" else None
            if match:
                found.append(
                    Query(
                        f"{_where(path, board)}, variable {var.get('name')}",
                        dashboard_json.substitute(match.group(1), values),
                    )
                )
        for annotation in board.get("annotations", {}).get("list", ()):
            if annotation.get("expr"):
                found.append(
                    Query(
                        f"{_where(path, board)}, annotation {annotation.get('name')!r}",
                        dashboard_json.substitute(str(annotation["expr"]), values),
                    )
                )
    return found


def _syntax(queries: list[Query]) -> list[str]:
    """One promtool run over every query; each parse error is mapped back to its panel."""
    if not queries:
        return []
    rules = [{"record": f"promstack_dashboard_query_{i}", "expr": q.expr} for i, q in enumerate(queries)]
    # one group per query keeps the mapping trivial: group gN, rule 1 is queries[N]
    groups = [{"name": f"g{i}", "rules": [rule]} for i, rule in enumerate(rules)]
    with tempfile.TemporaryDirectory(prefix="promstack-dashboards-") as tmp:
        path = Path(tmp) / "queries.yml"
        path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        result = run_tool([tool("promtool"), "check", "rules", str(path)], Path(tmp))
    if result.returncode == 0:
        return []
    problems = []
    for line in (result.stdout + result.stderr).splitlines():
        match = _PROMTOOL_ERROR.search(line)
        if match:
            query = queries[int(match.group(1))]
            problems.append(f"{query.where}: the query does not parse ({match.group(3)}): {query.expr}")
    return problems or [f"promtool check rules failed on the dashboard queries: {result.stderr.strip()}"]


def _metrics(queries: list[Query], known: dict[str, str]) -> Iterator[str]:
    for query in queries:
        for metric in sorted(metrics_inventory.metric_names(query.expr) - set(known)):
            yield (
                f"{query.where}: reads metric {metric}, which nothing in this stack produces (no component, "
                f"service or recording rule); the panel can never show data."
            )


def _links(boards: dict[str, dict[str, Any]], uids: set[str]) -> Iterator[str]:
    for path, board in boards.items():
        links = [(_where(path, board), lnk) for lnk in board.get("links", ())]
        for panel in board.get("panels", ()):
            links += [(_where(path, board, panel), lnk) for lnk in panel.get("links", ())]
        for where, lnk in links:
            uid = dashboard_json.link_uid(str(lnk.get("url", "")))
            if lnk.get("type") == "link" and uid is not None and uid not in uids:
                yield f"{where}: link {lnk.get('title', '')!r} points at dashboard {uid!r}, which is not rendered."


def _alert_links(rule_files: dict[str, str], boards: dict[str, dict[str, Any]]) -> Iterator[str]:
    uids = {str(b.get("uid")): b for b in boards.values()}
    for path, text in rule_files.items():
        for group in (yamlload.safe_load(text) or {}).get("groups") or ():
            for rule in group.get("rules") or ():
                notes = rule.get("annotations") or {}
                if "alert" not in rule:
                    continue
                target = notes.get("dashboard")
                uid = (dashboard_json.link_uid(str(target)) or str(target)) if target else None
                if uid is not None and uid not in uids:
                    yield (
                        f"{path}: alert {rule['alert']} links to dashboard {uid!r} ({target}), which is not "
                        f"rendered (rendered: {', '.join(sorted(uids)) or 'none'})."
                    )
                yield from _runbook_link(path, rule["alert"], str(notes.get("runbook_url") or ""), uids)


def _runbook_link(path: str, alert: str, url: str, boards: dict[str, dict[str, Any]]) -> Iterator[str]:
    """A runbook_url into one of the stack's dashboards opens a rendered dashboard's panel (viewPanel)."""
    uid = dashboard_json.link_uid(url)
    if uid is None or not uid.startswith(conventions.DASHBOARD_UID_PREFIX):
        return  # a page elsewhere (your wiki): not ours to prove
    board = boards.get(uid)
    if board is None:
        yield f"{path}: alert {alert}'s runbook_url {url} points at dashboard {uid!r}, which is not rendered."
        return
    wanted = re.search(r"[?&]viewPanel=(\d+)", url)
    titles = {p.get("id"): p.get("title") for p in board.get("panels", ())}
    if wanted is not None and titles.get(int(wanted[1])) != alert:
        yield f"{path}: alert {alert}'s runbook_url {url} names no panel of {uid!r} titled {alert}."


def _failures(ctx: CheckContext) -> list[str]:
    boards = _dashboards(ctx)
    rule_files = _rule_files(ctx)
    uids = {str(b.get("uid")) for b in boards.values()}
    problems = [*_identity(boards), *_datasources(boards, _datasource_uids(ctx))]
    queries = _queries(boards)
    problems += _syntax(queries)
    problems += _metrics(queries, metrics_inventory.inventory(ctx.stack, rule_files.values()))
    problems += [*_links(boards, uids), *_alert_links(rule_files, boards)]
    return problems


def run(ctx: CheckContext) -> list[CheckProblem]:
    return errors(NAME, _failures(ctx))
