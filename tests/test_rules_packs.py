"""Rule packs: the catalog's shape, its promtool tests on every example spec, overrides, and that the
tests would catch a broken rule. Needs promtool (Debian package prometheus)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from generator import catalog, conventions, pipeline, rules_catalog
from generator.cli import app
from generator.render import Target, render
from generator.spec import load_stack
from generator.units import duration_ms

ROOT = Path(__file__).resolve().parent.parent
SPECS = [ROOT / "stack" / "stack.yaml", *sorted((ROOT / "stack" / "examples").glob("*.yaml"))]
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) missing")
# every exporter and long-term store, as its catalog example shows: {"exporters": ..., "storage": ...}
EVERY_OPTIONAL: dict[str, Any] = catalog.every_optional()


# the local runtime renders every pack alert (compose leaves out the ones a container cannot measure)
EVERYTHING = Target(runtime="local", root="/srv/promstack")


def _files(spec: Path, prefix: str) -> dict[str, Any]:
    tree = render(load_stack(spec), EVERYTHING)
    return {p: yaml.safe_load(text) for p, text in tree.files.items() if p.startswith(prefix)}


def _write_prometheus(spec: Path, out: Path) -> Path:
    for path, text in render(load_stack(spec), EVERYTHING).files.items():
        if path.startswith("prometheus/"):
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_text(text)
    return out / "prometheus"


def _promtool_test(tests: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", "test", "rules", name], cwd=tests, capture_output=True, text=True, check=False)


# ---- the catalog --------------------------------------------------------------------------------


def test_every_bundled_component_has_a_pack_and_the_special_packs_exist() -> None:
    packs = rules_catalog.packs()
    optional = {name for names in conventions.OPTIONAL.values() for name in names.values()}
    assert optional | {"prometheus", "alertmanager", "stack", "service"} == set(packs)
    assert set(rules_catalog.component_packs()) == set(packs) - {"stack", "service"}


def test_public_alert_names_exist_where_routes_and_inhibitions_expect_them() -> None:
    index = rules_catalog.alert_index()
    assert index[conventions.ALERT_TARGET_DOWN].pack == "stack"
    assert index[conventions.ALERT_WATCHDOG].pack == "stack"
    assert index[conventions.ALERT_HOST_DOWN].pack == "node-exporter"
    assert index[conventions.ALERT_HOST_DOWN].severity == index[conventions.ALERT_TARGET_DOWN].severity == "critical"
    # a dead target or host pages fast: no `for`, a group evaluated every second (the bound they give
    # the example is in test_routes.py)
    for name in (conventions.ALERT_TARGET_DOWN, conventions.ALERT_HOST_DOWN):
        rule = index[name]
        group = next(g for g in rules_catalog.packs()[rule.pack].groups if rule in g.rules)
        assert rule.for_ is None and group.interval == "1s"


@pytest.mark.parametrize("name", sorted(rules_catalog.alert_index()))
def test_every_pack_alert_follows_the_policy(name: str) -> None:
    rule = rules_catalog.alert_index()[name]
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", name)
    assert rule.severity in conventions.SEVERITIES
    assert rule.annotations.get("summary") and rule.annotations.get("description")
    if rule.threshold is not None:
        assert "${threshold}" in rule.expr or "${threshold " in rule.expr, "a threshold the expression ignores"
        assert rule.bounds and rule.allows(rule.threshold), "the default threshold must be allowed"
    else:
        assert "threshold" not in rule.expr
    # every alert has a test group about it, or generated tests (alerts on failed scrapes)
    tested = any(t["alert"] == name for t in rules_catalog.packs()[rule.pack].tests)
    assert tested or rule.failed_scrapes is not None


def test_alert_names_are_unique_across_packs() -> None:
    names = [r.name for p in rules_catalog.packs().values() for r in p.rules() if r.alert]
    assert len(names) == len(set(names))


# ---- promtool on the example specs ---------------------------------------------------------------


@needs_promtool
@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_promstack_test_passes_on_every_example(spec: Path) -> None:
    result = CliRunner().invoke(app, ["test", str(spec)])
    assert result.exit_code == 0, result.output
    assert "ok  rules/test" in result.output
    assert pipeline.check_spec(spec, only=["rules/check", "rules/lint"]).passed == ["rules/check", "rules/lint"]


def test_every_example_renders_tests_for_its_packs() -> None:
    files = _files(ROOT / "stack" / "stack.yaml", "prometheus/")
    rules = {p.removeprefix("prometheus/rules/") for p in files if p.startswith("prometheus/rules/")}
    tests = {p.removeprefix("prometheus/tests/") for p in files if p.startswith("prometheus/tests/")}
    assert {"stack.yml", "node-exporter.yml", "blackbox-exporter.yml", "service/api.yml", "slo/api.yml"} <= rules
    # the example's custom rule has no tests of its own, nor do the escalations under that name (below);
    # services share test files (by 20)
    assert {r for r in rules if "/" not in r} - {"custom.yml", "escalations.yml"} <= tests
    # an escalation's tests and the failed-scrape alerts' are files of their own
    assert {"escalation-lead.yml", "scrapes.yml"} <= tests
    # the services' tests read the services' rules only: their cost does not grow with the other rules
    services = ["../../rules/service/api.yml", "../../rules/service/demo.yml"]
    assert files["prometheus/tests/service/api.yml"]["rule_files"] == services
    assert files["prometheus/tests/slo/api.yml"]["rule_files"] == [s.replace("service/", "slo/") for s in services]
    # promtool tests do not apply external labels: the groups carry them, so templates see them
    group = files["prometheus/tests/stack.yml"]["tests"][0]
    assert group["external_labels"] == {"stack": "shop", "env": "production"}


# ---- overrides ---------------------------------------------------------------------------------


def _node_spec(write_spec: Callable[..., Path], overrides: dict[str, Any]) -> Path:
    return write_spec(exporters={"node": {}}, alerts={"overrides": overrides})


def _rule(files: dict[str, Any], path: str, alert: str) -> dict[str, Any] | None:
    rules = [r for g in files[path]["groups"] for r in g["rules"] if r.get("alert") == alert]
    return rules[0] if rules else None


@needs_promtool
def test_overrides_take_effect_and_their_tests_still_pass(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    spec = _node_spec(
        write_spec,
        {
            "NodeHighCpuLoad": {"threshold": 75.5, "for": "45m", "severity": "critical", "labels": {"team": "infra"}},
            "NodeFilesystemAlmostFull": {"enabled": False},
            "NodeClockSkew": {"threshold": 0.2},
        },
    )
    files = _files(spec, "prometheus/")
    cpu = _rule(files, "prometheus/rules/node-exporter.yml", "NodeHighCpuLoad")
    assert cpu is not None
    assert cpu["expr"].endswith("> 75.5") and cpu["for"] == "45m"
    assert cpu["labels"] == {"severity": "critical", "team": "infra"}
    assert "more than 75.5% busy" in cpu["annotations"]["description"]
    assert _rule(files, "prometheus/rules/node-exporter.yml", "NodeFilesystemAlmostFull") is None
    assert "> 0.2 and" in str(_rule(files, "prometheus/rules/node-exporter.yml", "NodeClockSkew"))
    tests = files["prometheus/tests/node-exporter.yml"]["tests"]
    assert not any("NodeFilesystemAlmostFull" in t["name"] for t in tests)
    # the CPU test may share its promtool group with others (rule_test_merge): its checks are its own
    firing = next(
        case
        for t in tests
        for case in t["alert_rule_test"]
        if case["alertname"] == "NodeHighCpuLoad" and case["exp_alerts"]
    )
    assert firing["eval_time"] == "72m"  # after the overridden `for`
    assert firing["exp_alerts"][0]["exp_labels"]["severity"] == "critical"
    result = _promtool_test(_write_prometheus(spec, tmp_path) / "tests", "node-exporter.yml")
    assert result.returncode == 0, result.stderr


def _other_threshold(rule: rules_catalog.PackRule) -> float:
    """An allowed threshold other than the pack's: twice it, half of it, or 7."""
    assert rule.threshold is not None
    for candidate in (rule.threshold * 2, rule.threshold / 2, Decimal(7)):
        if candidate != rule.threshold and rule.allows(candidate):
            return float(candidate)
    raise AssertionError(f"no other threshold for {rule.name}")


def _every_alert_overridden(for_: str) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, rule in rules_catalog.alert_index().items():
        overrides[name] = {
            "for": for_,
            "severity": "warning" if rule.severity == "critical" else "critical",
            "labels": {"team": "infra"},
        }
        if rule.threshold is not None:
            overrides[name]["threshold"] = _other_threshold(rule)
    return overrides


@needs_promtool
@pytest.mark.parametrize(
    ("for_", "every"),
    # 2s is below most evaluation intervals (not TargetDown's and HostDown's 1s): it behaves, and is
    # rendered, as one interval.
    # 3h10m outlasts every look-back window of the packs (the TSDB alerts look back 3h); evaluating
    # every 150s, promtool's evaluations fall between the once-a-minute samples.
    [("2s", "15s"), ("3h10m", "150s")],
)
def test_every_pack_alert_keeps_true_tests_under_any_for(
    write_spec: Callable[..., Path], for_: str, every: str
) -> None:
    """One spec overrides `for`, threshold, severity and labels of every pack alert at once: the
    rendered promtool tests still pass, and they test the overridden rules."""
    spec = write_spec(
        evaluation_interval=every,
        **EVERY_OPTIONAL,
        services=[{"name": "api", "targets": ["api:80"], "http": {"requests": "req_total", "duration": "req_seconds"}}],
        alerts={"overrides": _every_alert_overridden(for_)},
    )
    assert pipeline.check_spec(spec, only=["rules/check", "rules/lint", "rules/test"]).passed == [
        "rules/check",
        "rules/lint",
        "rules/test",
    ]
    files = _files(spec, "prometheus/")
    rules = {
        r["alert"]: (r, g.get("interval", every))
        for path, data in files.items()
        if path.startswith("prometheus/rules/")
        for g in data["groups"]
        for r in g["rules"]
        if "alert" in r and r["alert"] in rules_catalog.alert_index()
    }
    assert set(rules) == set(rules_catalog.alert_index())  # none went missing
    tests = [t for path, data in files.items() if path.startswith("prometheus/tests/") for t in data.get("tests", ())]
    for name, (rule, interval) in rules.items():
        effective = max(for_, interval, key=lambda d: duration_ms(d) or 0)
        assert rule["for"] == effective, name
        assert rule["labels"]["team"] == "infra"
        firing = [
            (case["eval_time"], alert)
            for t in tests
            for case in t["alert_rule_test"]
            if case["alertname"] == name
            for alert in case["exp_alerts"]
        ]
        assert firing, f"no test of {name} fires"
        severity = rule["labels"]["severity"]
        assert all(a["exp_labels"]["severity"] == severity and a["exp_labels"]["team"] == "infra" for _, a in firing)
        # the firing checks moved past the `for`
        assert all((duration_ms(at) or 0) >= (duration_ms(effective) or 0) for at, _ in firing), name


def test_overriding_an_unknown_alert_exits_2_with_a_located_message(write_spec: Callable[..., Path]) -> None:
    spec = _node_spec(write_spec, {"NodeHighCpuLod": {"threshold": 80}, "NodeHighMemoryUsage": {"threshold": 120}})
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 2
    lines = spec.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "NodeHighCpuLod" in text)
    assert (
        f"stack.yaml:{line}:" in result.output
        and "$.alerts.overrides.NodeHighCpuLod: unknown alert "
        "'NodeHighCpuLod' in alerts.overrides; did you mean 'NodeHighCpuLoad'?"
        in result.output
    )
    assert "the threshold of NodeHighMemoryUsage must be above 0 and below 100" in result.output


@pytest.mark.parametrize(
    ("alerts", "message"),
    [
        ({"overrides": {"RedisDown": {"enabled": False}}}, "belongs to the rule pack 'redis-exporter'"),
        ({"overrides": {"HostDown": {"threshold": 2}}}, "HostDown has no threshold to override"),
        ({"overrides": {"SLOErrorBudgetBurn": {"for": "5m"}}}, "an override can only set enabled and labels"),
        ({"packs": ["node-exportr"]}, "unknown rule pack 'node-exportr'; did you mean 'node-exporter'?"),
        (
            {"rules": [{"alert": "HostDown", "expr": "up == 0", "severity": "info", "summary": "s"}]},
            "'HostDown' is an alert of the node-exporter rule pack",
        ),
        (
            {"rules": [{"alert": "Broken", "expr": "sum(rate(x[5m]) by (job)", "severity": "info", "summary": "s"}]},
            "$.alerts.rules[0].expr: not valid PromQL: column 4: unclosed left parenthesis: this '(' is never closed",
        ),
    ],
)
def test_spec_problems_in_alerts(write_spec: Callable[..., Path], alerts: dict[str, Any], message: str) -> None:
    spec = write_spec(exporters={"node": {}}, alerts=alerts)
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 2
    assert message in result.output


def test_a_scrape_interval_too_long_for_the_pack_windows_is_a_spec_problem(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(exporters={"node": {"interval": "2m"}})
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 2
    assert (
        "$.exporters.node.interval: a scrape interval of 2m leaves fewer than 4 samples in the 5m rate windows "
        "of the node-exporter rule pack; use 1m15s or less"
    ) in result.output


# ---- the tests are not vacuous -------------------------------------------------------------------


@needs_promtool
def test_every_pack_test_fails_when_its_alert_never_fires(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    """Replace every alert's expression by one that never fires: each alert's firing tests must fail."""
    spec = write_spec(
        **EVERY_OPTIONAL,
        services=[{"name": "api", "targets": ["api:80"], "http": {"requests": "req_total", "duration": "req_seconds"}}],
    )
    prometheus = _write_prometheus(spec, tmp_path)
    for path in (prometheus / "rules").glob("**/*.yml"):
        data = yaml.safe_load(path.read_text())
        for group in data["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["expr"] = "vector(1) > 2"
        path.write_text(yaml.safe_dump(data))
    for pack in rules_catalog.packs():
        test = f"{pack}/api.yml" if pack == rules_catalog.SERVICE_PACK else f"{pack}.yml"
        result = _promtool_test(prometheus / "tests", test)
        assert result.returncode == 1, pack
        failed = set(re.findall(r"alertname: (\w+),", result.stderr))
        # the alerts on failed scrapes have generated tests of their own: tests/test_paging.py mutates those
        wanted = {r.name for r in rules_catalog.packs()[pack].rules() if r.alert and r.failed_scrapes is None}
        assert failed == wanted, pack
