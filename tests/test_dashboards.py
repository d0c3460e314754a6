"""Dashboards and Grafana provisioning: schema-valid, lint-clean, following the spec; the lint catches breakage."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from typer.testing import CliRunner

from generator import conventions, dashboard_json, pipeline
from generator.checks import CheckContext, dashboards_lint
from generator.cli import app
from generator.metrics_inventory import metric_names
from generator.render import Tree

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "schemas" / "grafana"  # vendored: see its README.md
SPECS = [ROOT / "stack" / "stack.yaml", *sorted((ROOT / "stack" / "examples").glob("*.yaml"))]
# panel type -> (schema file, has a fieldConfig.custom schema)
PANEL_SCHEMAS = {"timeseries": ("timeseries", True), "stat": ("stat", False)}
DASHBOARDS = conventions.GRAFANA_DASHBOARDS_DIR


def _registry() -> Registry[bool | Mapping[str, Any]]:
    """The sibling schema files by name, so relative `$ref`s between them resolve."""
    resources: list[tuple[str, Resource[bool | Mapping[str, Any]]]] = [
        (path.name, Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7))
        for path in SCHEMAS.glob("*.json")
    ]
    return Registry().with_resources(resources)


REGISTRY = _registry()


def _validator(name: str, pointer: str = "") -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator({"$ref": f"{name}.jsonschema.json#{pointer}"}, registry=REGISTRY)


def schema_errors(board: dict[str, Any]) -> list[str]:
    """The relaxed dashboard schema, plus each panel's options and each query against their own schemas."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator("dashboard.relaxed").iter_errors(board)]
    for panel in board["panels"]:
        where = f"panel {panel.get('title')!r}"
        if panel["type"] in PANEL_SCHEMAS:
            name, custom = PANEL_SCHEMAS[panel["type"]]
            errors += [
                f"{where} options: {e.message}"
                for e in _validator(name, "/definitions/Options").iter_errors(panel["options"])
            ]
            if custom:
                config = panel["fieldConfig"]["defaults"].get("custom", {})
                errors += [
                    f"{where} custom: {e.message}"
                    for e in _validator(name, "/definitions/FieldConfig").iter_errors(config)
                ]
        for target in panel.get("targets", ()):
            errors += [f"{where} query: {e.message}" for e in _validator("prometheus").iter_errors(target)]
    return errors


def overlaps(board: dict[str, Any]) -> list[str]:
    """Panels sharing a grid cell (Grafana would push them around), or wider than the 24 columns."""
    taken: dict[tuple[int, int], str] = {}
    found = []
    for panel in board["panels"]:
        pos = panel["gridPos"]
        if pos["x"] + pos["w"] > 24:
            found.append(f"{panel['title']} is wider than the grid")
        for cell in (
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        ):
            if cell in taken:
                found.append(f"{panel['title']} overlaps {taken[cell]}")
            taken[cell] = panel["title"]
    return found


def boards(tree: Tree) -> dict[str, dict[str, Any]]:
    return {p: json.loads(t) for p, t in tree.files.items() if p.startswith(DASHBOARDS) and p.endswith(".json")}


def context(spec: Path) -> CheckContext:
    rendered = pipeline.render_spec(spec, "local", spec.parent / "tree")
    return CheckContext(rendered.stack, rendered.tree, spec.parent / "tree", rendered.target)


def exprs(tree: Tree) -> list[str]:
    return [str(t["expr"]) for b in boards(tree).values() for _, t in dashboard_json.queries(b)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_every_dashboard_is_valid_against_the_grafana_schemas(spec: Path) -> None:
    assert SCHEMAS.is_dir(), f"the Grafana schemas are missing: {SCHEMAS}"
    tree = pipeline.render_spec(spec, "local", Path("/tmp/promstack-test")).tree
    found = boards(tree)
    assert found, "the spec renders dashboards"
    for path, board in found.items():
        assert schema_errors(board) == [], path
        assert board["schemaVersion"] in (41, 42)
        assert "rows" not in board and "null" not in json.dumps(board), path
        assert overlaps(board) == [], path
        for panel in (p for p in board["panels"] if p["type"] != "row"):
            assert panel["description"] and panel["fieldConfig"]["defaults"]["unit"], (path, panel["title"])


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_every_dashboard_passes_the_lint(spec: Path) -> None:
    assert "dashboards/lint" in pipeline.check_spec(spec, only=["dashboards/lint"]).passed


def test_dashboards_follow_the_spec_datasources_and_grid(write_spec: Callable[..., Path]) -> None:
    tree = context(write_spec({"exporters": {"node": {}}})).tree
    found = boards(tree)
    assert {b["uid"] for b in found.values()} == {
        "promstack-overview",
        "promstack-alerts",
        "promstack-self",
        "promstack-node",
        "promstack-runbooks",
    }
    for board in found.values():
        for panel in board["panels"]:
            assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": conventions.DATASOURCE_PROMETHEUS_UID}
            assert all(t["datasource"] == panel["datasource"] for t in panel["targets"])
            if panel["type"] == "timeseries":
                assert panel["options"]["legend"]["showLegend"] is True
    node = next(b for b in found.values() if b["uid"] == "promstack-node")
    variables = node["templating"]["list"]
    assert [v["name"] for v in variables] == ["job", "instance"]
    assert "$job" in variables[1]["query"], "instance is chained to job"
    assert all("$__rate_interval" in e for e in exprs(tree) if "rate(" in e)


def test_removing_an_exporter_removes_its_dashboard_and_every_panel_on_it(write_spec: Callable[..., Path]) -> None:
    both = {"exporters": {"node": {}, "redis": {"targets": ["redis:6379"]}}}
    with_redis = context(write_spec(both)).tree
    assert any(b["uid"] == "promstack-redis" for b in boards(with_redis).values())
    overview = next(b for b in boards(with_redis).values() if b["uid"] == "promstack-overview")
    assert any(p["title"] == "Redis" for p in overview["panels"])

    without = context(write_spec({"exporters": {"node": {}}})).tree
    assert not any(b["uid"] == "promstack-redis" for b in boards(without).values())
    assert not any("redis" in e for e in exprs(without)), "no panel anywhere queries redis any more"
    overview = next(b for b in boards(without).values() if b["uid"] == "promstack-overview")
    assert not any(p["title"] == "Redis" for p in overview["panels"])
    assert not any("promstack-redis" in json.dumps(b) for b in boards(without).values()), "no link to it either"


def test_excluded_and_disabled_dashboards(write_spec: Callable[..., Path]) -> None:
    tree = context(write_spec({"exporters": {"node": {}}, "dashboards": {"exclude": ["node-exporter"]}})).tree
    assert "promstack-node" not in {b["uid"] for b in boards(tree).values()}
    tree = context(write_spec({"dashboards": {"enabled": False}})).tree
    assert boards(tree) == {}
    assert not any(p.startswith(conventions.GRAFANA_PROVIDERS_DIR) for p in tree.files)
    assert any(p.startswith(conventions.GRAFANA_DATASOURCES_DIR) for p in tree.files), "datasources stay"


def alert_links(tree: Tree) -> dict[str, str | None]:
    """alert name -> its `dashboard` annotation, from the rendered rule files."""
    links: dict[str, str | None] = {}
    for path, text in tree.files.items():
        if path.startswith(conventions.PROMETHEUS_RULES_DIR + "/"):
            for group in yaml.safe_load(text)["groups"]:
                links.update({r["alert"]: r["annotations"].get("dashboard") for r in group["rules"] if "alert" in r})
    return links


@pytest.mark.parametrize(
    ("dashboards", "node_link"),
    [
        ({"exclude": ["node-exporter"]}, "promstack-overview"),  # the overview shows the hosts instead
        ({"exclude": ["node-exporter", "overview"]}, None),
        ({"enabled": False}, None),
    ],
    ids=["node-excluded", "node-and-overview-excluded", "disabled"],
)
def test_alerts_link_only_to_rendered_dashboards_and_check_passes(
    write_spec: Callable[..., Path], dashboards: dict[str, Any], node_link: str | None
) -> None:
    spec = write_spec({"exporters": {"node": {}}, "dashboards": dashboards})
    tree = context(spec).tree
    rendered = {b["uid"] for b in boards(tree).values()}
    links = alert_links(tree)
    uids = {name: dashboard_json.link_uid(link) if link else None for name, link in links.items()}
    assert uids["NodeHighCpuLoad"] == uids["HostDown"] == node_link
    assert {uid for uid in uids.values() if uid} <= rendered
    if dashboards.get("enabled", True):
        assert uids["PrometheusConfigReloadFailed"] == "promstack-self", "alerts whose dashboard is rendered keep it"
    else:
        assert set(uids.values()) == {None}
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 0, result.output
    assert "ok  dashboards/lint" in result.output and "ok  rules/lint" in result.output


def _steps(board: dict[str, Any], title: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _panel(board, title)["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return steps


def test_exporter_panels_draw_the_pack_thresholds_after_overrides(write_spec: Callable[..., Path]) -> None:
    redis = {"exporters": {"redis": {"targets": ["redis:6379"]}}}
    default = next(b for b in boards(context(write_spec(redis)).tree).values() if b["uid"] == "promstack-redis")
    assert _steps(default, "Client slots used") == [{"color": "green"}, {"color": "red", "value": 0.9}]
    assert _steps(default, "Memory used of maxmemory") == [{"color": "green"}, {"color": "red", "value": 0.9}]

    overrides = {"RedisTooManyConnections": {"threshold": 75}, "RedisOutOfMemory": {"enabled": False}}
    tree = context(write_spec({**redis, "alerts": {"overrides": overrides}})).tree
    board = next(b for b in boards(tree).values() if b["uid"] == "promstack-redis")
    assert _steps(board, "Client slots used") == [{"color": "green"}, {"color": "red", "value": 0.75}]
    assert _steps(board, "Memory used of maxmemory") == [{"color": "green"}], "no line for a disabled alert"
    rule = next(
        r
        for g in yaml.safe_load(tree.files[f"{conventions.PROMETHEUS_RULES_DIR}/redis-exporter.yml"])["groups"]
        for r in g["rules"]
        if r["alert"] == "RedisTooManyConnections"
    )
    assert rule["expr"].endswith("* 100 > 75"), "the panel and the alert moved together"


def test_provisioning_files(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        {
            "components": {
                "grafana": {"admin_password": {"env": "GF_PW"}},
                "prometheus": {"auth": {"basic": {"username": "admin", "password": {"env": "PROM_PW"}}}},
            },
            "dashboards": {"folder": "Shop monitoring"},
        }
    )
    rendered = pipeline.render_spec(spec, "compose")
    files, secrets = rendered.tree.files, rendered.tree.secrets
    sources = yaml.safe_load(files["grafana/provisioning/datasources/promstack.yaml"])["datasources"]
    prometheus, alertmanager = sources
    assert prometheus["uid"] == conventions.DATASOURCE_PROMETHEUS_UID and prometheus["url"] == "http://prometheus:9090"
    assert prometheus["basicAuth"] is True and prometheus["basicAuthUser"] == "admin"
    assert prometheus["secureJsonData"] == {"basicAuthPassword": "$__file{/run/secrets/promstack/prometheus_password}"}
    assert "secrets/grafana/prometheus_password" in secrets
    assert alertmanager["uid"] == conventions.DATASOURCE_ALERTMANAGER_UID
    assert alertmanager["type"] == "alertmanager" and alertmanager["jsonData"]["implementation"] == "prometheus"
    assert "secrets/grafana/admin_password" in secrets
    provider = yaml.safe_load(files["grafana/provisioning/dashboards/promstack.yaml"])["providers"][0]
    assert (
        provider["folder"] == "Shop monitoring"
        and provider["options"]["path"] == "/etc/grafana/dashboards/Shop-monitoring"
    )
    assert provider["allowUiUpdates"] is False and provider["updateIntervalSeconds"] == 10
    assert "grafana/dashboards/Shop-monitoring/promstack-overview.json" in files
    assert "PROM_PW" not in json.dumps(files) and "GF_PW" not in json.dumps(files)


def test_rendering_is_deterministic() -> None:
    first = pipeline.render_spec(SPECS[0], "compose").tree.files
    second = pipeline.render_spec(SPECS[0], "compose").tree.files
    assert {p: t for p, t in first.items() if p.startswith("grafana/")} == {
        p: t for p, t in second.items() if p.startswith("grafana/")
    }


def test_quiet_panels_say_why_in_their_description() -> None:
    tree = pipeline.render_spec(SPECS[0], "compose").tree
    quiet = [p for b in boards(tree).values() for p in b["panels"] if dashboard_json.is_quiet(p)]
    assert quiet and all(p["description"].split(dashboard_json.QUIET_MARK)[1].strip() for p in quiet)
    alerts = next(b for b in boards(tree).values() if b["uid"] == "promstack-alerts")
    assert dashboard_json.is_quiet(next(p for p in alerts["panels"] if p["title"] == "Firing"))


# --- the lint catches what breaks dashboards ---------------------------------------------------------
def _broken(write_spec: Callable[..., Path], change: Callable[[dict[str, Any]], None]) -> list[str]:
    ctx = context(write_spec({"exporters": {"node": {}}}))
    path = f"{DASHBOARDS}/promstack/promstack-node.json"
    board = json.loads(ctx.tree.files[path])
    change(board)
    ctx.tree.files[path] = json.dumps(board)
    return [p.message for p in dashboards_lint.run(ctx)]


def _panel(board: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in board["panels"] if p.get("title") == title)


def test_lint_passes_the_unchanged_dashboards(write_spec: Callable[..., Path]) -> None:
    assert _broken(write_spec, lambda board: None) == []


def test_lint_catches_a_bad_uid(write_spec: Callable[..., Path]) -> None:
    problems = _broken(write_spec, lambda board: board.update(uid="promstack node/with a space"))
    assert any("uid 'promstack node/with a space' is not 1 to 40" in p for p in problems), problems


def test_lint_catches_a_duplicate_uid_and_title(write_spec: Callable[..., Path]) -> None:
    problems = _broken(write_spec, lambda board: board.update(uid="promstack-overview", title="Overview"))
    assert any("uid 'promstack-overview' is already used" in p for p in problems), problems
    assert any("title 'Overview' is already used" in p for p in problems), problems


def test_lint_catches_an_unknown_metric(write_spec: Callable[..., Path]) -> None:
    def change(board: dict[str, Any]) -> None:
        _panel(board, "Uptime")["targets"][0]["expr"] = "time() - node_boot_time_typo_seconds"

    problems = _broken(write_spec, change)
    assert len(problems) == 1, problems
    assert 'panel "Uptime"' in problems[0] and "node_boot_time_typo_seconds" in problems[0]
    assert "never show data" in problems[0]


def test_lint_catches_bad_promql_and_names_the_panel(write_spec: Callable[..., Path]) -> None:
    def change(board: dict[str, Any]) -> None:
        _panel(board, "CPUs")["targets"][0]["expr"] = "sum(rate(node_cpu_seconds_total[$__rate_interval]) by"

    problems = _broken(write_spec, change)
    assert any('panel "CPUs", query A: the query does not parse' in p and "parse error" in p for p in problems)


def test_lint_catches_a_foreign_datasource_and_a_dead_link(write_spec: Callable[..., Path]) -> None:
    def change(board: dict[str, Any]) -> None:
        _panel(board, "Memory")["datasource"] = {"type": "prometheus", "uid": "somewhere-else"}
        board["links"].append({"title": "Gone", "type": "link", "url": "/d/promstack-gone"})

    problems = _broken(write_spec, change)
    assert any("datasource 'somewhere-else', which is not provisioned" in p for p in problems), problems
    assert any("'promstack-gone', which is not rendered" in p for p in problems), problems


def test_lint_checks_alert_dashboard_links(write_spec: Callable[..., Path]) -> None:
    ctx = context(write_spec({"exporters": {"node": {}}}))
    rules = {
        "groups": [
            {
                "name": "x",
                "rules": [
                    {"alert": "Broken", "expr": "up == 0", "annotations": {"dashboard": "http://localhost:3000/d/nope"}}
                ],
            }
        ]
    }
    ctx.tree.files[f"{conventions.PROMETHEUS_RULES_DIR}/extra.yml"] = yaml.safe_dump(rules)
    problems = [p.message for p in dashboards_lint.run(ctx)]
    assert problems == [problems[0]] and "alert Broken links to dashboard 'nope'" in problems[0], problems


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (job) (rate(a_total{code=~"5.."}[5m])) / on (job) group_left b:rec', {"a_total", "b:rec"}),
        ("histogram_quantile(0.9, sum by (le) (rate(d_bucket[1m]))) > 1e3", {"d_bucket"}),
        ('{__name__="by_name"} offset 5m or vector(0)', {"by_name"}),
        ("count(up == 0) or time() - node_boot_time_seconds", {"up", "node_boot_time_seconds"}),
        # our parser rejects these; the names are still read from the tokens
        ('sum by (job) (rate(a_total{code=~"5.."}[5m])) / on (job) group_left b:rec)', {"a_total", "b:rec"}),
        ('{__name__="by_name"} offset 5m or vector(1) +', {"by_name"}),
        ("max without (a, b) (m1) ! m2 ; $var", {"m1", "m2", "var"}),
    ],
)
def test_metric_names_of_a_query(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
