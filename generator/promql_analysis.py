"""Analysis of parsed PromQL for the rule lint: rate windows, and which labels a result keeps.

A template like `{{ $labels.instance }}` renders empty when the expression aggregated `instance`
away. We cannot know a series' labels offline, so raw selectors keep "every label": the label flow
only reports labels an expression certainly removes (aggregations, on/ignoring, histogram_quantile,
absent, vector, or). Checked against promtool 2.42 in tests/test_rules_lint.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from generator.promql import (
    Aggregate,
    Binary,
    Call,
    Node,
    Number,
    Selector,
    String,
    Subquery,
    Unary,
    walk,
)
from generator.promql_vocabulary import COMPARISONS, KEEP_NAME, NO_ARG_VECTOR, RATE_FUNCTIONS, SCALAR_FUNCTIONS


def rate_windows(node: Node) -> Iterator[tuple[str, str]]:
    """(function, window) for every range selector given to a rate-like function."""
    for sub in walk(node):
        if isinstance(sub, Call) and sub.func in RATE_FUNCTIONS:
            for arg in sub.args:
                if isinstance(arg, Selector) and arg.range:
                    yield sub.func, arg.range


@dataclass(frozen=True)
class Labels:
    """Which labels a result may carry. `open`: every label of the input series except `names`;
    closed: only `names`."""

    open: bool = True
    names: frozenset[str] = field(default_factory=frozenset)
    scalar: bool = False

    def has(self, label: str) -> bool:
        if self.scalar:
            return False
        return label not in self.names if self.open else label in self.names

    def without(self, *labels: str) -> Labels:
        if self.open:
            return Labels(True, self.names | set(labels))
        return Labels(False, self.names - set(labels))

    def plus(self, *labels: str) -> Labels:
        if self.open:
            return Labels(True, self.names - set(labels))
        return Labels(False, self.names | set(labels))

    def only(self, labels: tuple[str, ...]) -> Labels:
        return Labels(False, frozenset(label for label in labels if self.has(label)))

    def both(self, other: Labels) -> Labels:
        """Labels guaranteed on either branch of `or`."""
        if self.scalar or other.scalar:
            return other if self.scalar else self
        if self.open and other.open:
            return Labels(True, self.names | other.names)
        if self.open or other.open:
            opened, closed = (self, other) if self.open else (other, self)
            return Labels(False, closed.names - opened.names)
        return Labels(False, self.names & other.names)


SCALAR = Labels(False, frozenset(), scalar=True)
NONE = Labels(False, frozenset())
NAME = "__name__"


def output_labels(node: Node) -> Labels:
    """The labels the result of `node` may carry."""
    if isinstance(node, (Number, String)):
        return SCALAR
    if isinstance(node, Selector):
        return Labels()
    if isinstance(node, Subquery):
        return output_labels(node.expr)
    if isinstance(node, Unary):
        return output_labels(node.expr).without(NAME)
    if isinstance(node, Aggregate):
        return _aggregate_labels(node)
    if isinstance(node, Call):
        return _call_labels(node)
    if isinstance(node, Binary):
        return _binary_labels(node)
    return Labels()


def _aggregate_labels(node: Aggregate) -> Labels:
    inner = output_labels(node.expr)
    if node.op in ("topk", "bottomk", "limitk", "limit_ratio"):
        return inner  # these pick series, they keep every label
    extra: tuple[str, ...] = ()
    if node.op == "count_values" and isinstance(node.param, String):
        extra = (node.param.value,)
    if node.without:
        return inner.without(NAME, *node.grouping).plus(*extra)
    return Labels(False, frozenset(g for g in node.grouping if inner.has(g)) | set(extra))


def _call_labels(node: Call) -> Labels:
    if node.func in SCALAR_FUNCTIONS:
        return SCALAR
    if node.func == "vector" or (node.func in NO_ARG_VECTOR and not node.args):
        return NONE
    if node.func in ("absent", "absent_over_time"):
        arg = node.args[0] if node.args else None
        if isinstance(arg, Selector):
            return Labels(False, frozenset(label for label, op, _ in arg.matchers if op == "=" and label != NAME))
        return NONE
    if node.func == "info":
        return Labels()  # adds labels from info metrics we cannot know
    vectors = [labels for labels in map(output_labels, node.args) if not labels.scalar]
    base = vectors[0] if vectors else NONE
    if node.func in ("label_replace", "label_join") and len(node.args) > 1 and isinstance(node.args[1], String):
        return base.plus(node.args[1].value)  # and they keep the metric name
    if node.func == "histogram_quantile":
        return base.without(NAME, "le")
    return base if node.func in KEEP_NAME else base.without(NAME)


def _binary_labels(node: Binary) -> Labels:
    lhs, rhs = output_labels(node.lhs), output_labels(node.rhs)
    if lhs.scalar and rhs.scalar:
        return SCALAR
    drop_name = node.op not in COMPARISONS or node.bool
    if lhs.scalar or rhs.scalar:
        vector = rhs if lhs.scalar else lhs
        return vector.without(NAME) if drop_name else vector
    if node.op in ("and", "unless"):
        return lhs
    if node.op == "or":
        return lhs.both(rhs)
    if node.group == "group_right":
        result = rhs
    elif node.group == "group_left":
        result = lhs
    elif node.on is not None:
        result = lhs.only(node.on)  # one-to-one matching on(...) keeps only those labels
    else:
        result = lhs.without(*(node.ignoring or ()))
    result = result.plus(*node.include) if node.group else result
    return result.without(NAME) if drop_name else result


_TEMPLATE_LABEL = re.compile(
    r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)|index\s+\$labels\s+\"([^\"]+)\"|\.Labels\.([A-Za-z_]\w*)"
)
_TEMPLATE_EXTERNAL = re.compile(r"\$externalLabels\.([A-Za-z_][A-Za-z0-9_]*)|index\s+\$externalLabels\s+\"([^\"]+)\"")


# a template action, `{{ ... }}`, its string literals read whole (`{{ "{{" }}` prints "{{")
_ACTION = re.compile(r'\{\{(?:"(?:\\.|[^"\\])*"|`[^`]*`|[^"`}]|\}(?!\}))*\}\}')


def _actions(text: str) -> str:
    """The template actions of `text`: what Prometheus evaluates; the rest is printed as written."""
    return "\n".join(m.group(0) for m in _ACTION.finditer(text))


def template_labels(text: str) -> set[str]:
    """Label names a Prometheus alert template reads from `$labels`."""
    return {next(g for g in m.groups() if g) for m in _TEMPLATE_LABEL.finditer(_actions(text))}


def template_external_labels(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in _TEMPLATE_EXTERNAL.finditer(_actions(text))}
