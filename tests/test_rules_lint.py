"""The rule lint and its PromQL label-flow analysis (checked against promtool), rules/check and
rules/test failures as users see them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import pipeline, rule_policy
from generator.errors import CheckError, SpecError
from generator.promql import ParseError, Selector, parse, walk
from generator.promql_analysis import output_labels, rate_windows, template_labels
from generator.spec import load_stack

ROOT = Path(__file__).resolve().parent.parent

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) missing")

# input series of the label-flow cases: one sample value each
SERIES = {
    'a{job="j",instance="i",host="h",code="500"}': 2,
    'b{job="j",instance="i",host="h"}': 3,
    'h_bucket{job="j",instance="i",le="1"}': 5,
    'h_bucket{job="j",instance="i",le="+Inf"}': 10,
}
# (expression, the labels of its single result as the analysis predicts them, value)
FLOW = [
    ("sum by (job) (a)", 'job="j"', 2),
    ("sum without (instance) (a)", 'job="j",host="h",code="500"', 2),
    ("b > on (job) a", 'job="j"', 3),
    ("b * on (job, instance) group_left (code) a", 'job="j",instance="i",host="h",code="500"', 6),
    ("a - ignoring (code) b", 'job="j",instance="i",host="h"', -1),
    ("histogram_quantile(0.5, h_bucket)", 'job="j",instance="i"', 1),
    ('absent(nope{job="x",instance=~"y"})', 'job="x"', 1),
    ('label_replace(b, "svc", "$1", "job", "(.*)")', 'b{job="j",instance="i",host="h",svc="j"}', 3),
    ('count_values("v", b)', 'v="3"', 1),
    ("topk(1, a)", 'a{job="j",instance="i",host="h",code="500"}', 2),
    ("-b", 'job="j",instance="i",host="h"', -3),
    ("b > 1", 'b{job="j",instance="i",host="h"}', 3),
    ("b > bool 1", 'job="j",instance="i",host="h"', 1),
    ("vector(1) and on () b", "", 1),
]


def _names(labels: str) -> set[str]:
    names = {part.split("=")[0] for part in labels.replace("{", ",").rstrip("}").split(",") if "=" in part}
    return names | ({"__name__"} if "{" in labels else set())


@pytest.mark.parametrize(("expr", "labels", "value"), FLOW)
def test_label_flow_predicts_the_result_labels(expr: str, labels: str, value: float) -> None:
    result = output_labels(parse(expr))
    every = {"job", "instance", "host", "code", "le", "svc", "v", "__name__"}
    assert {label for label in every if result.has(label)} >= _names(labels)
    if not result.open:
        assert set(result.names) == _names(labels) - {"__name__"} | (result.names & {"__name__"})


@needs_promtool
def test_label_flow_agrees_with_promtool(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text("groups: []\n")
    test = {
        "rule_files": ["rules.yml"],
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": f"{v}x5"} for s, v in SERIES.items()],
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "2m",
                        "exp_samples": [
                            {"labels": "{" + labels + "}" if "{" not in labels else labels, "value": value}
                        ],
                    }
                    for expr, labels, value in FLOW
                ],
            }
        ],
    }
    (tmp_path / "t.yml").write_text(yaml.safe_dump(test))
    done = subprocess.run(
        ["promtool", "test", "rules", "t.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("expr", "dropped"),
    [
        ("sum(rate(x[5m])) > 0", {"instance", "job"}),
        ('up == 0 or absent(up{job="api"})', {"instance"}),
        ("max by (job) (x) / on (job) group_left sum by (job) (y)", {"instance"}),
        ("count(x) by (a) > 3", {"b"}),
    ],
)
def test_label_flow_reports_what_an_expression_drops(expr: str, dropped: set[str]) -> None:
    result = output_labels(parse(expr))
    assert not any(result.has(label) for label in dropped)


def test_template_labels_and_rate_windows() -> None:
    text = '{{ $labels.instance }} {{ index $labels "job" }} {{ $value | humanize }} {{ $externalLabels.env }}'
    assert template_labels(text) == {"instance", "job"}
    node = parse("rate(a[5m]) + increase(b[1h]) + max_over_time(c[1m]) + rate(d[10m:1m])")
    assert sorted(rate_windows(node)) == [("increase", "1h"), ("rate", "5m")]


@pytest.mark.parametrize(
    ("expr", "column", "message"),
    [
        ("sum(rate(x[5m]) by (job)", 4, "unclosed left parenthesis: this '(' is never closed"),
        ("rat(x[5m])", 1, "unknown function 'rat'; did you mean 'rate'?"),
        ("x[5m", 2, "this '[' is never closed"),
        ("a and on (x) group_left b", 14, "no grouping allowed for 'and' operation"),
        ('{a=""}', 1, "needs a metric name"),
        ("sum(x) by (a) by (b)", 15, "it goes wrong at 'by'"),
        ('x{a=~"("}', 6, "'(' is not a valid regular expression"),
        ("x offset", 9, "the expression ends too early"),
        ("x ยง", 3, "unexpected character"),
    ],
)
def test_parse_errors_point_at_the_column(expr: str, column: int, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(expr)
    assert caught.value.column == column and message in str(caught.value)


@pytest.mark.parametrize(
    "expr",
    [
        'sum by (job) (rate(http_requests_total{code=~"5..",}[5m] offset 1h)) / ignoring (code) group_left x',
        "x @ start() - x @ 1609746000",
        "rate(x[5m])[1h:1m]",
        "-a ^ 2 % b atan2 c",
        "quantile(0.9, x) without (a)",
        '{__name__=~"job:.*"}',
        'label_join(x, \'dst\', `,`, "a", "b")',
        "1e3 + 0x1f + Inf - NaN",
    ],
)
def test_valid_promql_parses(expr: str) -> None:
    parse(expr)


# ---- the checks, as `promstack check` runs them ---------------------------------------------------


def _custom(write_spec: Callable[..., Path], rule: dict[str, Any], **spec: Any) -> Path:
    base = {"alert": "QueueStuck", "severity": "warning", "summary": "Queue stuck"}
    return write_spec(alerts={"rules": [{**base, **rule}]}, **spec)


def _failures(spec: Path, check: str) -> list[str]:
    with pytest.raises(CheckError) as caught:
        pipeline.check_spec(spec, only=[check])
    return caught.value.failures


def test_a_template_using_a_dropped_label_fails_check_naming_the_rule(write_spec: Callable[..., Path]) -> None:
    spec = _custom(
        write_spec,
        {
            "expr": "sum by (job) (queue_size) > 100",
            "summary": "Queue {{ $labels.instance }} of {{ $labels.job }} is stuck",
        },
    )
    failures = _failures(spec, "rules/lint")
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1) if "QueueStuck" in text)
    assert (
        f"[rules/lint] alert QueueStuck ({spec}:{line}): annotation summary uses $labels.instance, but the "
        "expression does not keep that label (its result has job); it would render empty" in failures
    )


@needs_promtool
def test_a_custom_alert_without_tests_fails_the_lint_saying_how_to_add_one(write_spec: Callable[..., Path]) -> None:
    spec = _custom(write_spec, {"expr": "queue_size > 100"})
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1) if "QueueStuck" in text)
    assert _failures(spec, "rules/lint") == [
        f"[rules/lint] alert QueueStuck ({spec}:{line}): no promtool test covers this alert, and every alert needs "
        "at least one. Add a `tests:` list to the alert in the spec, with a case whose input series make it fire "
        "and one whose series keep it silent, e.g. `tests: [{series: {'<metric>{<labels>}': '<values, e.g. "
        "0+10x30>'}, fires: true}, {series: {...}, fires: false}]`."
    ]
    one = [{"series": {'queue_size{job="q"}': "200x20"}, "fires": True, "eval_time": "5m", "labels": {"job": "q"}}]
    spec = _custom(write_spec, {"expr": "queue_size > 100", "tests": one})
    assert pipeline.check_spec(spec, only=["rules/lint", "rules/test"]).passed == ["rules/lint", "rules/test"]


def test_lint_policy_problems(write_spec: Callable[..., Path]) -> None:
    spec = _custom(
        write_spec,
        {
            "expr": "rate(queue_size[1m]) > 5",
            "for": "10s",
            "description": "{{ $externalLabels.region }}",
        },
        scrape_interval="30s",
    )
    failures = "\n".join(_failures(spec, "rules/lint"))
    assert "for: 10s is shorter than the evaluation interval 15s" in failures
    # a label that shadows an external label (env) is refused earlier, by validation (tests/test_probe_labels.py)
    assert "uses $externalLabels.region, which is not an external label of the stack" in failures
    assert "rate(...[1m]) spans fewer than 4 scrapes of 30s" in failures


@needs_promtool
def test_argument_types_are_checked_at_validation(write_spec: Callable[..., Path]) -> None:
    # promql-parser type-checks like promtool: the spec's own line is named, before any tool runs
    spec = _custom(write_spec, {"expr": "rate(queue_size) > 5"})
    with pytest.raises(SpecError) as caught:
        load_stack(spec)
    assert "$.alerts.rules[0].expr: not valid PromQL: column 1: expected type matrix in call to function 'rate'" in str(
        caught.value
    )


@needs_promtool
def test_rules_test_names_the_failing_test(write_spec: Callable[..., Path]) -> None:
    tests = [
        {
            "series": {'queue_size{job="q",instance="a"}': "200x20"},
            "fires": True,
            "eval_time": "5m",
            "labels": {"job": "q", "instance": "a"},
        },
        {
            "series": {'queue_size{job="q",instance="a"}': "50x20"},
            "fires": True,
            "eval_time": "5m",
            "labels": {"job": "q", "instance": "a"},
        },
    ]
    spec = _custom(write_spec, {"expr": "queue_size > 100", "tests": tests})
    failures = _failures(spec, "rules/test")
    assert len(failures) == 1
    assert failures[0].startswith("[rules/test] prometheus/tests/custom.yml: test 'QueueStuck case 2 (")
    assert "fires' failed" in failures[0] and "got:[]" in failures[0]


@pytest.mark.parametrize("spec", ["stack/stack.yaml", "stack/examples/large.yaml"])
def test_every_rendered_expression_parses_and_keeps_its_selectors(spec: str) -> None:
    """promql-parser reads every rule and panel expression the examples render, and the tree our adapter
    makes of it keeps every metric name the text selects."""
    rendered = pipeline.render_spec(ROOT / spec)
    exprs = []
    for path, text in rendered.tree.files.items():
        if path.startswith("prometheus/rules/"):
            exprs += [r["expr"] for g in yaml.safe_load(text)["groups"] for r in g["rules"]]
        elif path.endswith(".json") and "dashboards" in path:
            exprs += [t["expr"] for p in json.loads(text)["panels"] for t in p.get("targets", []) if "expr" in t]
    assert len(exprs) > 100
    for expr in exprs:
        concrete = re.sub(r"\$\{?(\w+)\}?", lambda m: "5m" if "interval" in m[1] or "range" in m[1] else "a", expr)
        names = {n.name for n in walk(parse(concrete)) if isinstance(n, Selector) and n.name}
        assert names <= set(re.findall(r"[A-Za-z_][A-Za-z0-9_:]*", concrete)), expr
        assert names or "vector(" in concrete or "time()" in concrete, expr


# ---- every spec problem in one run -----------------------------------------------------------------


def test_a_spec_with_a_schema_error_also_says_what_the_lint_finds_in_its_own_alerts(
    write_spec: Callable[..., Path],
) -> None:
    """The lint of the spec's alerts comes with the schema errors, not once they are fixed; an alert whose
    own entry is wrong is left to its own problem."""
    good = {"summary": "Queue {{ $labels.instance }} of {{ $labels.job }} is stuck", "expr": "sum by (job) (q) > 1"}
    broken = {"alert": "Other", "expr": "rate(x[5m]) > 1", "severity": "page", "summary": "{{ $labels.nope }}"}
    spec = _custom(write_spec, good, services=[{"name": "api", "targets": ["api:99999"]}])
    data = yaml.safe_load(spec.read_text())
    data["alerts"]["rules"].append(broken)
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    lines = spec.read_text().splitlines()
    at = {word: next(i for i, text in enumerate(lines, 1) if word in text) for word in ("api:99999", "QueueStuck")}
    with pytest.raises(SpecError) as caught:
        load_stack(spec)
    shown = [str(p) for p in caught.value.problems]
    assert any(s.startswith(f"{spec}:{at['api:99999']}:") and "not a valid host:port" in s for s in shown), shown
    rule = f"{spec}:{at['QueueStuck']}:"
    assert [s[len(rule) :].split(": ", 1)[1] for s in shown if s.startswith(rule)] == [
        "$.alerts.rules[0]: [rules/lint] alert QueueStuck: annotation summary uses $labels.instance, but the "
        "expression does not keep that label (its result has job); it would render empty",
        f"$.alerts.rules[0]: [rules/lint] alert QueueStuck: {rule_policy.untested()}",
    ]
    assert not any("$labels.nope" in s for s in shown)  # Other's severity is wrong: only that is said of it
    assert any("$.alerts.rules[1].severity" in s for s in shown)
