"""Which metric names can exist in a stack, and which metric names a PromQL expression reads.

Used by the `dashboards/lint` check (a panel that queries a metric nothing produces can never show
data) and usable by any other check that wants the same answer. Producers: the components of the
spec (the `metrics:` list of each `compose/<name>.yaml`), the services (their HTTP metric names and
their declared `metrics`), the recording rules of the rendered rule files, and Prometheus itself (`up`, `ALERTS`, ...).
"""

from __future__ import annotations

from collections.abc import Iterable

from generator import catalog, promql, yamlload
from generator.model import Stack
from generator.promql_vocabulary import AGGREGATORS, GROUPING, KEYWORDS

# Series Prometheus writes itself: per scrape target, and for alerting rules.
BUILTINS: dict[str, str] = {
    "up": "Prometheus (every scrape target)",
    "scrape_duration_seconds": "Prometheus (every scrape target)",
    "scrape_samples_scraped": "Prometheus (every scrape target)",
    "scrape_samples_post_metric_relabeling": "Prometheus (every scrape target)",
    "scrape_series_added": "Prometheus (every scrape target)",
    "ALERTS": "Prometheus (alerting rules)",
    "ALERTS_FOR_STATE": "Prometheus (alerting rules)",
}

HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def component_metrics(name: str) -> tuple[str, ...]:
    """The metric names the catalog says component `name` exposes."""
    return tuple(str(m) for m in catalog.entry(name).raw.get("metrics", ()))


def recorded(rule_texts: Iterable[str]) -> set[str]:
    """Names recorded by the recording rules in these rule files (Prometheus rule file YAML)."""
    names: set[str] = set()
    for text in rule_texts:
        data = yamlload.safe_load(text) or {}
        for group in data.get("groups") or ():
            for rule in group.get("rules") or ():
                if "record" in rule:
                    names.add(str(rule["record"]))
    return names


def inventory(stack: Stack, rule_texts: Iterable[str] = ()) -> dict[str, str]:
    """Every metric name that can have series in this stack -> who produces it."""
    found: dict[str, str] = dict(BUILTINS)
    for name in stack.components:
        for metric in component_metrics(name):
            found.setdefault(metric, f"component {name}")
    for service in stack.services:
        for declared in service.metrics:
            suffixes = {"histogram": HISTOGRAM_SUFFIXES, "summary": ("", "_count", "_sum")}.get(declared.type, ("",))
            for suffix in suffixes:
                found.setdefault(declared.name + suffix, f"service {service.name} (declared)")
        if service.http is None:
            continue
        found.setdefault(service.http.requests, f"service {service.name}")
        if service.http.duration:
            for suffix in HISTOGRAM_SUFFIXES:
                found.setdefault(service.http.duration + suffix, f"service {service.name}")
    for metric in recorded(rule_texts):
        found.setdefault(metric, "a recording rule")
    return found


# --- metric names in PromQL -------------------------------------------------------------------------
_CLOSING = {"{": "}", "[": "]", "(": ")"}


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects series of (Grafana variables must be substituted first)."""
    try:
        tree = promql.parse(expr)
    except promql.ParseError:
        return _lexed_names(expr)  # promtool reports the syntax; still check what can be read
    names: set[str] = set()
    for node in promql.walk(tree):
        if isinstance(node, promql.Selector):
            if node.name:
                names.add(node.name)
            names.update(value for label, op, value in node.matchers if label == "__name__" and op == "=")
    return names


def _called(token: promql.Token, after: promql.Token) -> bool:
    """A function call or an aggregation (`sum by (job) (...)`), not a metric name."""
    return after.text == "(" or (token.text in AGGREGATORS and after.text in ("by", "without"))


def _lexed_names(expr: str) -> set[str]:
    """The names in an expression our parser rejects, from its tokens (promtool proves the syntax; this
    only has to find what selects series): an identifier outside label matchers, ranges and grouping
    lists, neither a keyword nor a function or aggregation, is a metric name; so is a `__name__="..."`
    matcher."""
    tokens = promql.tokenize(expr, lenient=True)
    names: set[str] = set()
    closing: list[str] = []  # the brackets we are inside of that hold no metric names
    for i, token in enumerate(tokens[:-1]):
        before, after = tokens[i - 1] if i else None, tokens[i + 1]
        opens = token.kind == "op" and token.text in _CLOSING
        if closing:
            if opens:
                closing.append(_CLOSING[token.text])
            elif token.kind == "op" and token.text == closing[-1]:
                closing.pop()
            elif token.text == "__name__" and after.text == "=" and tokens[i + 2].kind == "string":
                names.add(promql.unquote(tokens[i + 2].text))
        elif opens and (token.text != "(" or (before is not None and before.text in GROUPING)):
            closing.append(_CLOSING[token.text])  # label matchers, a range, or a grouping list
        elif token.kind == "ident" and not _called(token, after) and token.text.lower() not in KEYWORDS:
            names.add(token.text)
    return names
