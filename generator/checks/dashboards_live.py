"""Check `dashboards/live`: every dashboard panel shows data on a running Prometheus (`check --live URL`).

Each dashboard's variables are resolved in order against the live Prometheus, like Grafana does on
load (label_values(...) through the series API, so chained variables see the value picked before
them); each is set to what Grafana selects on load: "All" where that is the saved choice (its
`allValue`, else every value found), else its first real value. Every panel query then runs as an instant query with
Grafana's built-in variables set from the scrape interval ($__rate_interval = 4 scrape intervals,
as Grafana computes it from the datasource's timeInterval). A panel none of whose queries returns a
sample (NaN counts as no sample) is reported, unless it is marked as empty by design
(dashboard_json.QUIET_MARK): those show data only when something is wrong.
Without --live this check does nothing.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from generator import conventions, dashboard_json
from generator.checks import CheckContext, CheckProblem, errors
from generator.units import Duration

NAME = "dashboards/live"
TIMEOUT = 15.0
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.S)
_REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}])")
NO_VALUE = "promstack-no-value"  # what a variable without values becomes: matches nothing


class Unreachable(Exception):
    """Prometheus did not answer at all (as opposed to rejecting one query)."""


class Prometheus:
    """The few HTTP API calls the check needs, with credentials taken from the URL's userinfo."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.headers: dict[str, str] = {}
        if parts.username is not None:
            token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        netloc = parts.netloc.rsplit("@", 1)[-1]
        self.base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))

    def get(self, path: str, **params: str) -> Any:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 400/422: Prometheus explains in the body
            try:
                body = json.loads(exc.read())
            except ValueError:
                raise Unreachable(f"HTTP {exc.code} from {self.base}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Unreachable(f"cannot query Prometheus at {self.base}: {exc}") from None
        if body.get("status") != "success":
            raise ValueError(str(body.get("error", body)))
        return body["data"]

    def label_values(self, selector: str | None, label: str) -> list[str]:
        if not selector:
            return sorted(str(v) for v in self.get(f"/api/v1/label/{label}/values"))
        start = str(time.time() - 3600)  # what Grafana's default refresh-on-time-range window would see
        series = self.get("/api/v1/series", **{"match[]": selector, "start": start})
        return sorted({str(s[label]) for s in series if label in s})

    def has_data(self, expr: str) -> bool:
        data = self.get("/api/v1/query", query=expr)
        if data["resultType"] == "scalar":
            return not math.isnan(float(data["result"][1]))
        values = [s["value"][1] for s in data["result"] if "value" in s]
        values += [v[1] for s in data["result"] for v in s.get("values", ())]
        return any(not math.isnan(float(v)) for v in values)


def builtins(scrape_interval: Duration) -> dict[str, str]:
    """Grafana's built-in variables for an instant query, from the datasource's scrape interval."""
    ms = scrape_interval.ms
    return {
        "__rate_interval": Duration.of_ms(4 * ms),
        "__interval": Duration.of_ms(ms),
        "__interval_ms": str(ms),
        "__range": "1h",
        "__range_s": "3600",
        "__range_ms": "3600000",
    }


def _resolve(prom: Prometheus, board: dict[str, Any], values: dict[str, str]) -> list[str]:
    """Set every variable of `board` into `values` (in order); problems for variables without values."""
    problems = []
    for var in board.get("templating", {}).get("list", ()):
        name, kind = str(var.get("name")), var.get("type")
        query = var.get("query")
        text = str(query.get("query", "") if isinstance(query, dict) else query or "")
        if kind == "query":
            match = _LABEL_VALUES.match(text)
            if not match:
                problems.append(f"variable ${name}: the check cannot evaluate the query {text!r}.")
                found: list[str] = []
            else:
                selector = dashboard_json.substitute(match.group(1) or "", values)
                found = prom.label_values(selector or None, match.group(2))
        else:
            found = [str(o["value"]) for o in var.get("options", ()) if o.get("value") not in (None, "$__all")]
            found = found or [v.strip() for v in text.split(",") if v.strip()]
        if not found:
            problems.append(f"variable ${name} has no values ({text}), so no panel that uses it can show data.")
            values[name] = NO_VALUE
        elif var.get("includeAll") and _all(var.get("current")):
            # Grafana's own default on load: every value (the allValue, else each value, escaped)
            escaped = [_REGEX_SPECIAL.sub(r"\\\\\1", v) for v in found]
            values[name] = str(var.get("allValue") or "|".join(escaped))
        elif var.get("multi") or var.get("includeAll"):
            values[name] = _REGEX_SPECIAL.sub(r"\\\\\1", found[0])  # Grafana's escaping for =~ matchers
        else:
            values[name] = found[0]
    return problems


def _all(current: Any) -> bool:
    """Whether a variable's saved selection is "All"."""
    value = current.get("value") if isinstance(current, dict) else None
    return value == "$__all" or value == ["$__all"]


def _check(prom: Prometheus, path: str, board: dict[str, Any], scrape_interval: Duration) -> list[str]:
    where = f'dashboard "{board.get("title", "")}" ({path})'
    values = builtins(scrape_interval)
    problems = [f"{where}: {p}" for p in _resolve(prom, board, values)]
    panels: dict[int, tuple[dict[str, Any], list[str]]] = {}
    for panel, target in dashboard_json.queries(board):
        panels.setdefault(id(panel), (panel, []))[1].append(dashboard_json.substitute(str(target["expr"]), values))
    for panel, exprs in panels.values():
        if dashboard_json.is_quiet(panel):
            continue
        failed: list[str] = []
        data = False
        for expr in exprs:
            try:
                data = data or prom.has_data(expr)
            except ValueError as exc:
                failed.append(f"{expr}: {exc}")
        title = panel.get("title", "")
        if failed:
            problems.append(f'{where}, panel "{title}": Prometheus rejected a query: {"; ".join(failed)}')
        elif not data:
            shown = " | ".join(exprs)
            problems.append(f'{where}, panel "{title}" shows no data (variables: {_shown(values)}): {shown}')
    return problems


def _shown(values: dict[str, str]) -> str:
    own = {k: v for k, v in values.items() if not k.startswith("__")}
    return ", ".join(f"${k}={v}" for k, v in own.items()) or "none"


def _failures(ctx: CheckContext) -> list[str]:
    if not ctx.live:
        ctx.skipped[NAME] = "no running Prometheus to ask (check --live URL runs every panel query)"
        return []
    prom = Prometheus(ctx.live)
    prefix = conventions.GRAFANA_DASHBOARDS_DIR + "/"
    problems: list[str] = []
    try:
        for path, text in sorted(ctx.tree.files.items()):
            if path.startswith(prefix) and path.endswith(".json"):
                problems += _check(prom, path, json.loads(text), ctx.stack.scrape_interval)
    except Unreachable as exc:
        return [str(exc)]
    return problems


def run(ctx: CheckContext) -> list[CheckProblem]:
    return errors(NAME, _failures(ctx))
