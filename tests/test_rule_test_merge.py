"""A pack's test groups share promtool test groups where they cannot see each other's series
(generator/render/rule_test_merge.py), and stay apart where they can. Real promtool proves both: the
shared groups pass, and the pair kept apart fails once forced together."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.render import render, rule_test_merge
from generator.render.rule_tests import _pack_groups
from generator.render.rules import for_runtime, pack_files
from generator.spec import load_stack

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) missing")

RULES: list[dict[str, Any]] = [
    {"record": "x:sum", "expr": "sum(x)"},
    {"alert": "XHigh", "expr": "x:sum > 10"},
    {"alert": "XLow", "expr": "x < 1"},
    {"alert": "YHigh", "expr": "y > 10"},
    {"alert": "AnyHigh", "expr": '{__name__=~"x|y"} > 100'},
]


def _group(
    name: str, alert: str, series: dict[str, str], fires_at: str | None, labels: dict[str, str]
) -> dict[str, Any]:
    cases = [{"eval_time": "5m", "alertname": alert, "exp_alerts": []}]
    if fires_at:
        cases.append({"eval_time": fires_at, "alertname": alert, "exp_alerts": [{"exp_labels": labels}]})
    return {
        "name": name,
        "interval": "1m",
        "input_series": [{"series": k, "values": v} for k, v in series.items()],
        "alert_rule_test": cases,
    }


# XHigh fires on a high sum of x; XLow on a low x. XLow's x, side by side with XHigh's, raises the sum
# above XHigh's threshold before XHigh's own x does: kept apart, both pass; forced together, XHigh fails
X_HIGH = _group("x high", "XHigh", {'x{job="a"}': "5x5 50x10"}, "10m", {})
X_LOW = _group("x low", "XLow", {'x{job="b"}': "8x6 0x10"}, "10m", {"job": "b"})
Y_HIGH = _group("y high", "YHigh", {'y{job="c"}': "5x5 50x10"}, "12m", {"job": "c"})
ANY = _group("any", "AnyHigh", {'y{job="d"}': "50x6 500x10"}, "10m", {"job": "d"})


def test_what_an_alert_reads_goes_through_the_recording_rules() -> None:
    read = rule_test_merge.alert_reads(RULES)
    assert read == {"XHigh": {"x:sum", "x"}, "XLow": {"x"}, "YHigh": {"y"}, "AnyHigh": None}
    assert rule_test_merge.reads("sum(rate(a[5m])) / on() b") == {"a", "b"}
    assert rule_test_merge.reads('count(ALERTS{alertname="A"})') is None  # every firing alert feeds it
    assert rule_test_merge.reads("rate(a[5m]") is None


def test_groups_share_only_where_neither_feeds_what_the_other_reads() -> None:
    shared = rule_test_merge.shared([X_HIGH, X_LOW, Y_HIGH, ANY], RULES)
    names = sorted(str(g["name"]) for g in shared)
    # x high and x low both feed and read x; y high shares with one of them; the pattern selector stays alone
    assert names == ["any", "x high", "y high; x low"] or names == ["any", "x low", "y high; x high"]
    together = next(g for g in shared if ";" in str(g["name"]))
    assert len(together["input_series"]) == 2 and len(together["alert_rule_test"]) == 4
    assert rule_test_merge.shared([X_HIGH], RULES) == [X_HIGH]
    with_expr_test = {**Y_HIGH, "promql_expr_test": [{"expr": "y", "eval_time": "1m", "exp_samples": []}]}
    assert len(rule_test_merge.shared([X_HIGH, with_expr_test], RULES)) == 2


def _promtool(tmp_path: Path, groups: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": RULES}]}))
    test = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": groups}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test, sort_keys=False))
    return subprocess.run(
        ["promtool", "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True, check=False
    )


@needs_promtool
def test_promtool_passes_the_shared_groups_and_fails_the_pair_kept_apart_when_forced_together(tmp_path: Path) -> None:
    shared = [dict(g) for g in rule_test_merge.shared([X_HIGH, X_LOW, Y_HIGH, ANY], RULES)]
    done = _promtool(tmp_path, shared)
    assert done.returncode == 0, done.stdout + done.stderr
    forced = {
        **X_HIGH,
        "name": "forced",
        "input_series": X_HIGH["input_series"] + X_LOW["input_series"],
        "alert_rule_test": X_HIGH["alert_rule_test"] + X_LOW["alert_rule_test"],
    }
    done = _promtool(tmp_path, [forced])
    assert done.returncode != 0  # XLow's x{job="b"} joins XHigh's sum: XHigh fires at 5m
    said = done.stdout + done.stderr
    assert "name: forced" in said and "alertname: XHigh, time: 5m" in said


def test_the_packs_tests_share_groups_and_keep_every_check(write_spec: Callable[..., Path]) -> None:
    """The node exporter's and Prometheus' packs: a dozen tests each, far fewer promtool groups, the same checks."""
    stack = load_stack(write_spec(exporters={"node": {}}))
    tree = render(stack)
    for name in ("node-exporter", "prometheus"):
        test = next(t for t in tree.rule_tests if t.name == name)
        rendered = for_runtime(stack, "compose")  # as render does: rules that run elsewhere leave
        (_, resolved), *_ = pack_files(rendered, name, tree.dashboards)
        alone = _pack_groups(rendered, name, resolved)
        assert len(alone) >= 10 and len(test.groups) <= len(alone) / 2
        cases = sorted(repr(c) for g in test.groups for c in g["alert_rule_test"])
        assert cases == sorted(repr(c) for g in alone for c in g["alert_rule_test"])
        series = sorted(repr(s) for g in test.groups for s in g["input_series"])
        assert series == sorted(repr(s) for g in alone for s in g["input_series"])
