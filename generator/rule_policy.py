"""Our policy for one alerting or recording rule, on the rule as data (`alert`/`record`, `expr`, `labels`,
`annotations`), whatever made it.

The `rules/lint` check applies it to every rule promstack renders; `validate` applies it to the spec's own
rules (`alerts.rules`) when the spec has other problems, so that their findings come in the same run. Each
function yields whole sentences about the rule without naming it: the caller says which rule and where.
What needs the built stack (external labels, scrape interval) is checked only where the caller has it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from generator import conventions
from generator.promql import Node
from generator.promql_analysis import Labels, output_labels, rate_windows, template_external_labels, template_labels
from generator.units import Duration

CHECK = "rules/lint"  # the check that applies the policy to every rendered rule: its NAME and tag
CAMEL = re.compile(r"^[A-Z][A-Za-z0-9]*$")
RECORD = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_]+$")
SAMPLES = 4  # a rate needs two samples; four leave room for one missed scrape and jitter


def naming(data: Mapping[str, Any]) -> Iterator[str]:
    """Alert names are CamelCase and carry a known severity; recording rules are level:metric:operations."""
    if "alert" not in data:
        if not RECORD.match(str(data.get("record"))):
            yield "recording rules are named level:metric:operations (e.g. job:http_requests:rate5m)"
        return
    if not CAMEL.match(str(data["alert"])):
        yield "alert names are CamelCase (e.g. OrdersStalled)"
    severity = data.get("labels", {}).get(conventions.LABEL_SEVERITY)
    if severity not in conventions.SEVERITIES:
        yield f"severity {severity!r} is not one of {', '.join(conventions.SEVERITIES)}"


def _show(labels: Labels) -> str:
    if labels.scalar:
        return "a scalar, no labels"
    if labels.open:
        dropped = sorted(labels.names - {"__name__"})
        return "the input series' labels" + (f" except {', '.join(dropped)}" if dropped else "")
    return ", ".join(sorted(labels.names)) or "no labels"


def templates(data: Mapping[str, Any], node: Node, external_labels: Mapping[str, str] | None) -> Iterator[str]:
    """The annotation and label templates of an alert read only labels its expression keeps (and, when
    `external_labels` is known, only external labels the stack has)."""
    if "alert" not in data:
        return
    result = output_labels(node)
    texts = {f"annotation {k}": v for k, v in data.get("annotations", {}).items()}
    texts.update({f"label {k}": v for k, v in data.get("labels", {}).items()})
    for where, text in texts.items():
        for label in sorted(template_labels(text)):
            if not result.has(label):
                yield (
                    f"{where} uses $labels.{label}, but the expression does not keep that "
                    f"label (its result has {_show(result)}); it would render empty"
                )
        if external_labels is None:
            continue
        for label in sorted(template_external_labels(text) - set(external_labels)):
            yield f"{where} uses $externalLabels.{label}, which is not an external label of the stack"


def windows(node: Node, scrape_interval: Duration) -> Iterator[str]:
    """Every rate window spans at least SAMPLES scrapes of the series the rule reads."""
    for function, window in rate_windows(node):
        if Duration(window).ms < SAMPLES * scrape_interval.ms:
            yield (
                f"{function}(...[{window}]) spans fewer than {SAMPLES} scrapes of "
                f"{scrape_interval}; use a window of at least {SAMPLES} scrape intervals"
            )


def untested() -> str:
    return (
        "no promtool test covers this alert, and every alert needs at least one. Add a "
        "`tests:` list to the alert in the spec, with a case whose input series make it fire and one whose "
        "series keep it silent, e.g. `tests: [{series: {'<metric>{<labels>}': '<values, e.g. 0+10x30>'}, "
        "fires: true}, {series: {...}, fires: false}]`."
    )
