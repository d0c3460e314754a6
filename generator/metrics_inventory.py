"""Which metric names can exist in a stack, and which metric names a PromQL expression reads.

Used by the `dashboards/lint` check (a panel that queries a metric nothing produces can never show
data) and usable by any other check that wants the same answer. Producers: the components of the
spec (the `metrics:` list of each `compose/<name>.yaml`), the services (their declared HTTP metric
names), the recording rules of the rendered rule files, and Prometheus itself (`up`, `ALERTS`, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import yaml

from generator import catalog, promql
from generator.model import Stack

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
        data = yaml.safe_load(text) or {}
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
# For an expression our parser rejects, a small lexer: promtool proves the syntax; this only has to find the
# names that select series. Everything that can hold an identifier which is *not* a metric is removed
# first (strings, label matchers, ranges, grouping label lists, numbers, durations), then an
# identifier not followed by "(" and not a keyword is a metric name.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"((?:[^"\\]|\\.)*)"')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_DURATION = re.compile(r"\b(?:\d+(?:ms|s|m|h|d|w|y))+\b")
_NUMBER = re.compile(r"\b0x[0-9a-fA-F]+\b|(?<![\w:])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|(?<![\w:])\.\d+(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "bool",
        "inf",
        "nan",
        "Inf",
        "NaN",
        "atan2",
        "start",
        "end",
    }
)


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


def _lexed_names(expr: str) -> set[str]:
    names = {m.group(1) for m in _NAME_MATCHER.finditer(expr)}
    text = _STRING.sub('""', expr)
    text = _BRACKETS.sub(" ", text)
    previous = None
    while previous != text:  # grouping lists may follow braces that were removed; repeat to a fixpoint
        previous = text
        text = _BRACES.sub(" ", text)
        text = _GROUPING.sub(" ", text)
    text = _DURATION.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    for match in _IDENT.finditer(text):
        word = match.group(0)
        if word in _KEYWORDS or text[match.end() :].lstrip().startswith("("):
            continue
        names.add(word)
    return names
