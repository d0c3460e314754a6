"""Custom dashboards (`dashboards.custom[]`): bad input refused and located, the rendering (layout, units,
variables, queries, folders and their providers), and the dashboard lint on them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from generator import pipeline
from generator.checks import dashboards_lint
from generator.cli import app
from generator.render import Tree
from tests.test_dashboards import context, overlaps, schema_errors

HEAD = "version: 1\nname: t\ndemo: {enabled: true}\ndashboards:\n  custom:\n"


def _board(panels: str, extra: str = "") -> str:
    """A spec with one custom dashboard `B` whose only row holds `panels` (a YAML flow list)."""
    return HEAD + f"    - title: B\n{extra}      rows: [{{title: R, panels: {panels}}}]\n"


P = "$.dashboards.custom[0].rows[0].panels"
BAD: list[tuple[str, str, list[str]]] = [
    (
        "unknown-panel-type",
        _board("[{title: P, type: pie, expr: up}]"),
        [f"7:51: {P}[0].type: 'pie' is not one of: timeseries, stat, gauge, bargauge, table, heatmap, text"],
    ),
    (
        "no-query",
        _board("[{title: P}]"),
        [f"7:34: {P}[0]: a timeseries panel needs a query: expr, exprs or metric (a declared metric)"],
    ),
    (
        "two-queries",
        _board("[{title: P, expr: up, exprs: [{expr: up}]}]"),
        [f"7:62: {P}[0].exprs: a panel takes one of expr, exprs or metric, not expr and exprs"],
    ),
    (
        "text-without-text",
        _board("[{title: P, type: text}]"),
        [f"7:34: {P}[0]: a text panel needs text: ... (Markdown)"],
    ),
    (
        "undeclared-metric",
        _board("[{title: P, metric: demo_queue_dept}]"),
        [
            f"7:53: {P}[0].metric: metric 'demo_queue_dept' is not declared by any service (services[].metrics[]); "
            "did you mean 'demo_queue_depth'?"
        ],
    ),
    (
        "undefined-variable",
        _board("[{title: P, expr: 'up{job=~\"$jb\"}'}]", "      variables: [{name: job, values: [a]}]\n"),
        [f"8:51: {P}[0].expr: the query uses $jb, which this dashboard does not define; did you mean 'job'?"],
    ),
    (
        "width-out-of-range",
        _board("[{title: P, expr: up, width: 25}]"),
        [f"7:62: {P}[0].width: width is in grid columns, 1 to 24"],
    ),
    (
        "uid-of-a-builtin",
        HEAD + "    - {title: Overview, rows: [{title: R, panels: [{title: P, expr: up}]}]}\n",
        [
            "6:15: $.dashboards.custom[0].title: the title makes the uid 'promstack-overview', which is the built-in "
            "overview dashboard's; choose another uid"
        ],
    ),
    (
        "duplicate-uid",
        HEAD
        + "    - {title: A, uid: x, rows: [{title: R, panels: [{title: P, expr: up}]}]}\n"
        + "    - {title: B, uid: x, rows: [{title: R, panels: [{title: P, expr: up}]}]}\n",
        ["7:23: $.dashboards.custom[1].uid: uid 'x' is already used by $.dashboards.custom[0]; add a unique uid"],
    ),
    (
        "match-without-metric",
        _board("[{title: P, expr: up, match: {instance: a}}]"),
        [f"7:62: {P}[0].match: match narrows a declared metric's series; with expr, write the matchers"],
    ),
    (
        "match-on-a-label-the-metric-lacks",
        _board("[{title: P, metric: demo_checkouts_total, match: {outcom: failed}}]"),
        [
            f"7:91: {P}[0].match.outcom: demo_checkouts_total has no label 'outcom' (it has host, instance, job, "
            "outcome, service, team)"
        ],
    ),
    (
        "match-with-an-undefined-variable",
        _board(
            "[{title: P, metric: demo_queue_depth, match: {instance: $inst}}]",
            "      variables: [{name: instance, values: [a]}]\n",
        ),
        [f"8:89: {P}[0].match.instance: $inst is not a variable of this dashboard; did you mean 'instance'?"],
    ),
    (
        "variable-without-values",
        _board("[{title: P, expr: up}]", "      variables: [{name: job, metric: up}]\n"),
        [
            "7:19: $.dashboards.custom[0].variables[0]: a variable takes metric and label (the values of a label on "
            "a metric's series) or values (a fixed list)"
        ],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in BAD])
def test_bad_custom_dashboards_exit_2_located_and_write_nothing(
    text: str, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("stack.yaml").write_text(text)
    result = CliRunner().invoke(app, ["generate", "stack.yaml", "-o", "out"])
    assert result.exit_code == 2, result.output
    summary = f"{len(expected)} problem(s) in the spec; nothing was written."
    assert result.stderr.splitlines() == [f"stack.yaml:{line}" for line in expected] + [summary]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.yaml"]


SPEC: dict[str, Any] = {
    "demo": {"enabled": True},
    "services": [
        {
            "name": "worker",
            "targets": ["w:9000"],
            "metrics": [{"name": "jobs_total", "type": "counter", "unit": "bytes"}],
        }
    ],
    "dashboards": {
        "custom": [
            {
                "title": "Shop business",
                "tags": ["business"],
                "variables": [
                    {"name": "outcome", "title": "Outcome", "metric": "demo_checkouts_total", "label": "outcome"},
                    {"name": "env", "values": ["prod", "staging"]},
                ],
                "rows": [
                    {
                        "title": "Orders",
                        "panels": [
                            {
                                "title": "Orders per minute",
                                "type": "stat",
                                "expr": "sum(rate(demo_orders_created_total[5m])) * 60",
                                "decimals": 1,
                                "thresholds": [{"value": 1, "color": "red"}],
                                "links": [{"title": "Runbook", "url": "https://wiki.example.com/orders"}],
                            },
                            {
                                "title": "Checkouts",
                                "exprs": [
                                    {
                                        "expr": 'sum by (outcome) (rate(demo_checkouts_total{outcome=~"$outcome"}'
                                        "[$__rate_interval]))",
                                        "legend": "{{outcome}}",
                                    }
                                ],
                            },
                            {"title": "Checkout p95", "metric": "demo_checkout_duration_seconds", "unit": "ms"},
                        ],
                    },
                    {
                        "title": "Shipping",
                        "panels": [
                            {"title": "Queue", "type": "gauge", "metric": "demo_queue_depth", "max": 100},
                            {
                                "title": "Failed checkouts",
                                "metric": "demo_checkouts_total",
                                "match": {"outcome": "$outcome", "instance": "demo:8000"},
                                "width": 24,
                            },
                            {"title": "Queue by bar", "type": "bargauge", "metric": "demo_queue_depth", "width": 18},
                            {"title": "Latency", "type": "heatmap", "metric": "demo_checkout_duration_seconds"},
                            {"title": "Checkouts", "type": "table", "expr": "sum by (outcome) (demo_checkouts_total)"},
                            {"title": "Notes", "type": "text", "text": "# Shipping\nOrders leave at 5pm."},
                        ],
                    },
                ],
            },
            {
                "title": "Worker",
                "uid": "worker-board",
                "folder": "Team worker",
                "rows": [{"title": "Jobs", "panels": [{"title": "Jobs", "metric": "jobs_total"}]}],
            },
        ]
    },
}
SHOP = "grafana/dashboards/promstack/promstack-shop-business.json"
WORKER = "grafana/dashboards/Team-worker/worker-board.json"


@pytest.fixture
def tree(write_spec: Callable[..., Path]) -> Tree:
    return pipeline.render_spec(write_spec(SPEC), "compose").tree


def _panels(tree: Tree, path: str) -> dict[str, dict[str, Any]]:
    return {p["title"] + ("/table" if p["type"] == "table" else ""): p for p in json.loads(tree.files[path])["panels"]}


def test_custom_dashboards_are_laid_out_on_the_grid_row_by_row(tree: Tree) -> None:
    board = json.loads(tree.files[SHOP])
    placed = [(p["type"], p["title"], p["gridPos"]) for p in board["panels"]]
    assert [(t, title, (g["x"], g["y"], g["w"], g["h"])) for t, title, g in placed] == [
        ("row", "Orders", (0, 0, 24, 1)),
        ("stat", "Orders per minute", (0, 1, 6, 4)),
        ("timeseries", "Checkouts", (6, 1, 12, 8)),
        ("timeseries", "Checkout p95", (0, 9, 12, 8)),  # 6 + 12 + 12 > 24: wraps below the tallest
        ("row", "Shipping", (0, 17, 24, 1)),
        ("gauge", "Queue", (0, 18, 6, 6)),
        ("timeseries", "Failed checkouts", (0, 24, 24, 8)),
        ("bargauge", "Queue by bar", (0, 32, 18, 6)),
        ("heatmap", "Latency", (0, 38, 12, 8)),
        ("table", "Checkouts", (0, 46, 24, 8)),
        ("text", "Notes", (0, 54, 24, 3)),
    ]
    assert overlaps(board) == [] and schema_errors(board) == []
    assert board["tags"] == ["promstack", "custom", "business"] and board["editable"] is False


def test_custom_panels_queries_units_and_options(tree: Tree) -> None:
    panels = _panels(tree, SHOP)
    stat = panels["Orders per minute"]
    assert [t["expr"] for t in stat["targets"]] == ["sum(rate(demo_orders_created_total[5m])) * 60"]
    defaults = stat["fieldConfig"]["defaults"]
    assert defaults["unit"] == "short" and defaults["decimals"] == 1
    assert defaults["thresholds"]["steps"] == [{"color": "green"}, {"color": "red", "value": 1.0}]
    assert stat["links"] == [
        {"title": "Runbook", "type": "link", "url": "https://wiki.example.com/orders", "targetBlank": True}
    ]
    assert stat["description"] == "Query: `sum(rate(demo_orders_created_total[5m])) * 60`"
    assert panels["Checkouts"]["targets"][0]["legendFormat"] == "{{outcome}}"
    p95 = panels["Checkout p95"]  # a declared histogram: its percentiles, on its service, in the unit asked for
    assert [t["expr"] for t in p95["targets"]] == [
        f'histogram_quantile({q}, sum by (le) (rate(demo_checkout_duration_seconds_bucket{{service="demo"}}'
        "[$__rate_interval])))"
        for q in (0.5, 0.95, 0.99)
    ]
    assert p95["fieldConfig"]["defaults"]["unit"] == "ms"
    assert p95["description"] == "Time a checkout takes, payment included."  # the declared help
    gauge = panels["Queue"]
    assert gauge["targets"][0]["expr"] == 'sum (demo_queue_depth{service="demo"})'
    assert gauge["fieldConfig"]["defaults"]["max"] == 100.0
    # match narrows a declared metric's series: a $variable as a regex (All, several values), a value exactly
    failed = panels["Failed checkouts"]["targets"][0]["expr"]
    assert failed == (
        'sum by (outcome) (rate(demo_checkouts_total{service="demo",instance="demo:8000",outcome=~"$outcome"}'
        "[$__rate_interval]))"
    )
    heat = panels["Latency"]["targets"][0]
    assert heat["format"] == "heatmap" and heat["legendFormat"] == "{{le}}"
    assert heat["expr"] == 'sum by (le) (rate(demo_checkout_duration_seconds_bucket{service="demo"}[$__rate_interval]))'
    table = panels["Checkouts/table"]["targets"][0]
    assert table["format"] == "table" and table["instant"] is True
    assert panels["Notes"]["options"] == {"mode": "markdown", "content": "# Shipping\nOrders leave at 5pm."}
    worker = _panels(tree, WORKER)["Jobs"]  # a counter in bytes: its rate in bytes per second
    assert worker["fieldConfig"]["defaults"]["unit"] == "Bps"
    assert worker["targets"][0]["expr"] == 'sum (rate(jobs_total{service="worker"}[$__rate_interval]))'


def test_custom_variables(tree: Tree) -> None:
    variables = {v["name"]: v for v in json.loads(tree.files[SHOP])["templating"]["list"]}
    outcome, env = variables["outcome"], variables["env"]
    assert outcome["type"] == "query" and outcome["query"] == "label_values(demo_checkouts_total, outcome)"
    assert outcome["label"] == "Outcome" and outcome["datasource"]["uid"] == "promstack-prometheus"
    assert env["type"] == "custom" and env["query"] == "prod,staging" and env["label"] == "env"


def test_each_folder_has_its_own_provider(tree: Tree) -> None:
    providers = yaml.safe_load(tree.files["grafana/provisioning/dashboards/promstack.yaml"])["providers"]
    assert [(p["name"], p["folder"], p["options"]["path"]) for p in providers] == [
        ("promstack", "promstack", "/etc/grafana/dashboards/promstack"),
        ("promstack-Team-worker", "Team worker", "/etc/grafana/dashboards/Team-worker"),
    ]
    assert WORKER in tree.files and SHOP in tree.files


def test_custom_dashboards_pass_the_lint(write_spec: Callable[..., Path]) -> None:
    assert "dashboards/lint" in pipeline.check_spec(write_spec(SPEC), only=["dashboards/lint"]).passed


def test_lint_catches_an_unknown_metric_in_a_custom_panel(write_spec: Callable[..., Path]) -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["dashboards"]["custom"][0]["rows"][0]["panels"][1]["exprs"][0]["expr"] = "rate(demo_orderz_total[5m])"
    failures = [p.message for p in dashboards_lint.run(context(write_spec(spec)))]
    assert failures == [
        'dashboard "Shop business" (grafana/dashboards/promstack/promstack-shop-business.json), panel "Checkouts", '
        "query A: reads metric demo_orderz_total, which nothing in this stack produces (no component, service or "
        "recording rule); the panel can never show data."
    ]
