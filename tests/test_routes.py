"""Route tests (amtool config routes test), the inhibition proof (checks/inhibitions.py) on rendered trees, and
the routing timers of pages with the time-to-notify bound they give (render/rules.py notification_delay)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import conventions, pipeline
from generator.alerting import routing
from generator.checks import CheckContext, inhibitions
from generator.errors import CheckError
from generator.render import alertmanager_routes
from generator.render.rules import notification_delay
from generator.spec import load_stack
from generator.write import Secrets, write_tree

ROOT = Path(__file__).resolve().parent.parent
needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (prometheus-alertmanager) missing")

ROUTED = {
    "receivers": [
        {"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}},
        {"name": "pager", "pagerduty": {"routing_key": {"env": "PD_KEY"}}},
        {"name": "db", "slack": {"url": {"env": "SLACK_URL"}}},
    ],
    "default_receiver": "team",
    "routes": [
        {"match": {"severity": "critical"}, "receiver": "pager", "continue": True},
        {"match": {"team": "db"}, "receiver": "db"},
    ],
}
SLOS = [
    {
        "name": "api",
        "targets": ["api:8000"],
        "http": {"requests": "http_requests_total"},
        "slos": [{"name": "availability", "objective": 99.9}],
    }
]


def _spec(write_spec: Callable[..., Path], tests: list[dict[str, Any]]) -> Path:
    return write_spec(notifications={**ROUTED, "tests": tests})


@needs_amtool
def test_route_tests_that_hold_pass(write_spec: Callable[..., Path]) -> None:
    spec = _spec(
        write_spec,
        [
            {"labels": {"severity": "critical", "team": "db"}, "receivers": ["db", "pager"]},  # a set: order is free
            {"labels": {"severity": "warning", "team": "db"}, "receivers": ["db"]},
            {"labels": {"severity": "critical", "team": "web"}, "receivers": ["pager"]},
            {"labels": {"severity": "info", "summary": 'quotes " and, commas'}, "receivers": ["team"]},
        ],
    )
    assert pipeline.check_spec(spec, only=["routes/test"]).passed == ["routes/test"]


@needs_amtool
def test_a_wrong_route_test_names_its_labels_and_both_receiver_lists(write_spec: Callable[..., Path]) -> None:
    spec = _spec(
        write_spec,
        [
            {"labels": {"severity": "warning", "team": "db"}, "receivers": ["db"]},
            {"labels": {"severity": "critical", "team": "web"}, "receivers": ["team"]},
        ],
    )
    with pytest.raises(CheckError) as failed:
        pipeline.check_spec(spec, only=["routes/test"])
    assert failed.value.failures == [
        "[routes/test] notifications.tests[1] {severity='critical', team='web'}: expected receivers [team] "
        "but the routes deliver it to [pager]."
    ]


@needs_amtool
def test_watchdog_resolves_to_the_null_receiver(tmp_path: Path, write_spec: Callable[..., Path]) -> None:
    spec = _spec(write_spec, [])
    rendered = pipeline.render_spec(spec, "local", tmp_path / "tree")
    write_tree(rendered.tree, tmp_path / "tree", Secrets(tmp_path, placeholders=True), salt="t")
    config = yaml.safe_load(
        (tmp_path / "tree" / conventions.ALERTMANAGER_CONFIG)
        .read_text()
        .replace("promstack-placeholder-not-a-secret", "https://placeholder.invalid/")
    )
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [
            "amtool",
            "config",
            "routes",
            "test",
            f"--config.file={path}",
            "alertname=Watchdog",
            "severity=critical",
            "team=db",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.stdout.strip() == "null", done.stderr


def _context(tmp_path: Path, spec: Path) -> CheckContext:
    rendered = pipeline.render_spec(spec, "local", tmp_path / "tree")
    write_tree(rendered.tree, tmp_path / "tree", Secrets(tmp_path, placeholders=True), salt="t")
    return CheckContext(rendered.stack, rendered.tree, tmp_path / "tree", rendered.target)


def _tamper(ctx: CheckContext, change: Callable[[list[dict[str, Any]]], None]) -> None:
    path = ctx.root / conventions.ALERTMANAGER_CONFIG
    config = yaml.safe_load(path.read_text())
    change(config["inhibit_rules"])
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def test_default_inhibitions_are_proven(tmp_path: Path, write_spec: Callable[..., Path]) -> None:
    ctx = _context(tmp_path, write_spec(services=SLOS))
    assert inhibitions.run(ctx) == []
    rules = yaml.safe_load((ctx.root / conventions.ALERTMANAGER_CONFIG).read_text())["inhibit_rules"]
    assert len(rules) == 2 + len(conventions.SLO_TIERS) - 1


def test_slo_tier_inhibitions_only_when_the_stack_has_slos(tmp_path: Path, write_spec: Callable[..., Path]) -> None:
    ctx = _context(tmp_path, write_spec())
    assert inhibitions.run(ctx) == []
    rules = yaml.safe_load((ctx.root / conventions.ALERTMANAGER_CONFIG).read_text())["inhibit_rules"]
    assert all(conventions.SLO_ALERT not in str(rule) for rule in rules)


def route_timers(route: dict[str, Any], labels: dict[str, str]) -> list[tuple[str, str, str]]:
    """(receiver, group_wait, group_interval) of each route that delivers `labels` (alerting.routing)."""
    return [(d.receiver, d.group_wait, d.group_interval) for d in routing.deliveries({"route": route}, labels)]


def _drop_equal(rules: list[dict[str, Any]]) -> None:
    del rules[0]["equal"]


def _widen_target(rules: list[dict[str, Any]]) -> None:
    rules[0]["target_matchers"] = ['severity=~"critical|warning|info"']


def _drop_host_guard(rules: list[dict[str, Any]]) -> None:
    rules[1]["source_matchers"] = ['alertname="HostDown"']


def _drop_slo_rules(rules: list[dict[str, Any]]) -> None:
    del rules[2:]


def _reverse_tiers(rules: list[dict[str, Any]]) -> None:
    rules[2]["source_matchers"], rules[2]["target_matchers"] = (
        ['alertname="SLOErrorBudgetBurn"', 'slo_tier="ticket-3d"'],
        ['alertname="SLOErrorBudgetBurn"', 'slo_tier=~"page-1h|page-6h"'],
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _drop_equal,
            "a critical alert must not mute the warning on another instance, but inhibit rule #1 "
            '(source [severity="critical"], target [severity=~"warning|info"], equal []) mutes',
        ),
        (
            _widen_target,
            'inhibit rule #1 (source [severity="critical"], target [severity=~"critical|warning|info"], '
            "equal [alertname, instance]) can mute its own source",
        ),
        (_drop_host_guard, "a HostDown without a host label must not mute alerts without one, but inhibit rule #2"),
        (_drop_slo_rules, "SLO tier page-1h mutes the slower tier page-6h of the same SLO, but no inhibit rule mutes"),
        (_reverse_tiers, "SLO tier ticket-3d must not mute the faster tier page-1h, but inhibit rule #3"),
    ],
)
def test_the_inhibition_check_catches_a_broken_rule(
    tmp_path: Path, write_spec: Callable[..., Path], change: Callable[[list[dict[str, Any]]], None], expected: str
) -> None:
    ctx = _context(tmp_path, write_spec(services=SLOS))
    _tamper(ctx, change)
    failures = [p.message for p in inhibitions.run(ctx)]
    assert any(failure.startswith(expected) for failure in failures), failures


def test_alertmanager_semantics_of_the_simulation() -> None:
    rules = inhibitions.load_rules(
        {
            "inhibit_rules": [
                {"source_matchers": ['a="1"'], "target_matchers": [], "equal": ["x"]},
            ]
        }
    )
    # a rule whose target side also matches its source: Alertmanager never lets such sources mute such targets
    assert inhibitions.muting_rule({"a": "1", "x": "h"}, [{"a": "1", "x": "h", "i": "2"}], rules) is None
    assert inhibitions.muting_rule({"a": "2", "x": "h"}, [{"a": "1", "x": "h"}], rules) is rules[0]
    # missing labels compare equal to each other
    assert inhibitions.muting_rule({"a": "2"}, [{"a": "1"}], rules) is rules[0]
    assert inhibitions.self_muting(rules)


def am_config(spec: Path) -> dict[str, Any]:
    tree = pipeline.render_spec(spec, "local", Path("/srv/out")).tree
    text = tree.files.get(conventions.ALERTMANAGER_CONFIG) or tree.secrets[conventions.ALERTMANAGER_CONFIG].template
    data: dict[str, Any] = yaml.safe_load(text.replace("$$", "$"))
    return data


def test_watchdog_goes_to_a_null_receiver_unless_the_spec_routes_it(write_spec: Callable[..., Path]) -> None:
    config = am_config(write_spec())
    assert config["route"]["routes"][0] == {"receiver": "null", "matchers": ['alertname="Watchdog"']}
    assert {"name": "null"} in config["receivers"]
    routed = write_spec(
        notifications={
            "receivers": [
                {"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}},
                {"name": "deadman", "webhook": {"url": {"env": "DEADMAN_URL"}}},
            ],
            "default_receiver": "team",
            "routes": [{"match": {"alertname": "Watchdog"}, "receiver": "deadman"}],
        }
    )
    config = am_config(routed)
    assert [r["receiver"] for r in config["route"]["routes"]] == ["deadman", "team"]  # team: critical fallback
    assert "null" not in {r["name"] for r in config["receivers"]}


def test_pages_get_fast_group_timers_even_under_a_slow_root(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        notifications={
            "receivers": [
                {"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}},
                {"name": "pager", "pagerduty": {"routing_key": {"env": "PD"}}},
            ],
            "default_receiver": "team",
            "group_wait": "1m",
            "group_interval": "5m",
            "routes": [
                {"match": {"severity": "critical", "team": "web"}, "receiver": "pager", "group_interval": "10s"},
                {"match": {"team": "db"}, "receiver": "team", "group_wait": "30s"},
            ],
        }
    )
    route = am_config(spec)["route"]
    assert route["group_wait"] == "1m" and route["group_by"] == ["alertname", "job", "service"]
    _watchdog, pager, db, fallback = route["routes"]
    # the spec's own timer wins; the rest of a page's timers are PAGE_TIMERS
    assert (pager["group_wait"], pager["group_interval"]) == ("2s", "10s") and db["group_wait"] == "30s"
    assert "group_interval" not in db  # not a page: inherits the root's 5m
    assert fallback == {
        "receiver": "team",
        "matchers": ['severity="critical"'],
        **alertmanager_routes.PAGE_TIMERS,
    }
    page = {"alertname": "TargetDown", "severity": "critical"}
    assert route_timers(route, {**page, "team": "web"}) == [("pager", "2s", "10s")]
    assert route_timers(route, page) == [("team", "2s", "2s")]
    assert route_timers(route, {"alertname": "X", "severity": "warning", "team": "db"}) == [("team", "30s", "5m")]
    assert route_timers(route, {"alertname": "X", "severity": "warning"}) == [("team", "1m", "5m")]


def test_no_fallback_route_behind_a_route_that_takes_every_page(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(notifications={**ROUTED, "routes": [{"match": {"severity": "critical"}, "receiver": "pager"}]})
    route = am_config(spec)["route"]
    assert [r["receiver"] for r in route["routes"]] == ["null", "pager"]
    assert (route["routes"][1]["group_wait"], route["routes"][1]["group_interval"]) == ("2s", "2s")


@needs_amtool
@pytest.mark.parametrize(
    "labels",
    [
        {"alertname": "TargetDown", "severity": "critical", "team": "db"},
        {"alertname": "TargetDown", "severity": "critical", "team": "web"},
        {"alertname": "X", "severity": "warning", "team": "db"},
        {"alertname": "X", "severity": "info"},
        {"alertname": "Watchdog", "severity": "info"},
    ],
    ids=["critical+continue", "critical", "db", "default", "watchdog"],
)
def test_the_route_walk_of_the_delay_agrees_with_amtool(
    tmp_path: Path, write_spec: Callable[..., Path], labels: dict[str, str]
) -> None:
    """route_timers (which the time-to-notify bound reads) delivers to the receivers amtool names."""
    config = am_config(_spec(write_spec, []))
    path = tmp_path / "am.yml"
    for receiver in config["receivers"]:  # amtool only routes: placeholder receivers keep it loading
        for key in [k for k in receiver if k != "name"]:
            del receiver[key]
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={path}", *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.strip().split(",")) == sorted(d.receiver for d in routing.deliveries(config, labels))


def test_the_example_pages_a_dead_target_within_30_seconds() -> None:
    """The bound that stack.rules.yml and render/alertmanager_routes.py promise, from the example's own
    timers: a 10 s scrape missed + a 10 s confirming scrape + 5 s timeout + 1 s jitter + 1 s evaluation +
    no `for` + 2 s group_wait or group_interval."""
    stack = load_stack(ROOT / "stack" / "stack.yaml")
    for alert, job in (("TargetDown", None), ("HostDown", "node-exporter")):
        delay = notification_delay(stack, alert, job)
        assert (delay.scrape, delay.confirm, delay.timeout, delay.jitter) == (10, 10, 5, 1)
        assert (delay.evaluation, delay.hold, delay.group_wait, delay.group_interval) == (1, 0, 2, 2)
        assert delay.worst == 29 < 30


def test_the_delay_follows_the_spec(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        scrape_interval="30s",
        evaluation_interval="20s",
        exporters={"node": {"interval": "45s"}},
        alerts={"overrides": {"TargetDown": {"for": "3s"}, "HostDown": {"for": "1500ms"}}},
        notifications={
            **ROUTED,
            "routes": [{"match": {"severity": "critical"}, "receiver": "pager", "group_wait": "20s"}],
        },
    )
    delay = notification_delay(load_stack(spec), "TargetDown")
    # the slowest job (node, 45s; its timeout the global 10s), `for: 3s` is three 1s evaluations
    assert (delay.scrape, delay.confirm, delay.timeout, delay.evaluation, delay.hold) == (45, 45, 10, 1, 3)
    assert (delay.group_wait, delay.group_interval, delay.worst) == (20, 2, 45 + 45 + 10 + 1 + 1 + 3 + 20)
    assert notification_delay(load_stack(spec), "TargetDown", "prometheus").scrape == 30
    # an alert fires at the first evaluation `for` after it became pending: 1.5s is two 1s evaluations
    assert notification_delay(load_stack(spec), "HostDown", "node-exporter").hold == 2
