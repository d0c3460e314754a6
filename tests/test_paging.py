"""Paging on rendered trees, with the real promtool and amtool (live tests: test_ack_live.py, bench/):

- the alerts on failed scrapes: their PromQL per scrape timing, and generated tests that catch a rule
  paging on one failed scrape (the old `up == 0`) or never firing;
- escalations: rules that keep the alert's name and labels, tests that catch an early or looping one;
- copies that keep each alert's own timers, proven by amtool and the route model;
- route tests at a given time (time intervals), the null receiver, the spec's own inhibitions and their
  tests and warnings;
- labels: a service's own `tier` reaches SLO pages, its label values arrive literally;
- `promstack ack` refusing what it cannot do, before it talks to any Alertmanager.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from generator import conventions, pipeline
from generator.alerting import routing, timeintervals
from generator.checks import CheckContext, inhibitions, routes_test
from generator.cli import app
from generator.errors import CheckError
from generator.render import Target, render
from generator.spec import load_stack
from generator.write import Secrets, write_tree

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) missing")
needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (prometheus-alertmanager) missing")

RECEIVERS = [
    {"name": name, "webhook": {"url": {"env": "HOOK_URL"}}} for name in ("team", "oncall", "lead", "audit", "gold")
]


def _notifications(**more: Any) -> dict[str, Any]:
    return {"receivers": RECEIVERS, "default_receiver": "team", **more}


def _context(tmp_path: Path, spec: Path) -> CheckContext:
    rendered = pipeline.render_spec(spec, "local", tmp_path / "tree")
    write_tree(rendered.tree, tmp_path / "tree", Secrets(tmp_path, placeholders=True), salt="t")
    return CheckContext(rendered.stack, rendered.tree, tmp_path / "tree", rendered.target)


def _rules(spec: Path, name: str) -> list[dict[str, Any]]:
    text = render(load_stack(spec), Target("local", "/srv")).files[f"prometheus/rules/{name}.yml"]
    return [r for g in yaml.safe_load(text)["groups"] for r in g["rules"]]


def _promtool(tests: Path, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", "test", "rules", name], cwd=tests, capture_output=True, text=True, check=False)


def _tamper_fixture(ctx: CheckContext, name: str, change: Callable[[dict[str, Any]], None]) -> Path:
    """Change every rule of fixture `name` of the written tree; returns the tests folder."""
    tests = ctx.root / conventions.PROMETHEUS_TESTS_DIR
    path = tests / "fixtures" / f"{name}.yml"
    data = yaml.safe_load(path.read_text())
    for group in data["groups"]:
        for rule in group["rules"]:
            change(rule)
    path.write_text(yaml.safe_dump(data))
    return tests


def _failed_tests(result: subprocess.CompletedProcess[str]) -> set[str]:
    return set(re.findall(r"^\s*name: (.*),\s*$", result.stderr, re.MULTILINE))


# ---- failed scrapes ---------------------------------------------------------------------------


def test_each_scrape_timing_gets_its_own_window(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(exporters={"node": {"interval": "45s"}})
    target_down = next(r for r in _rules(spec, "stack") if r["alert"] == "TargetDown")
    # 15s scrapes with a 10s timeout: 2 x 15 + 10 + 1 = 41s; the node exporter's 45s: 2 x 45 + 10 + 1 = 1m41s
    assert target_down["expr"] == (
        '(max_over_time(up{job!="node-exporter"}[41s]) == 0 and count_over_time(up{job!="node-exporter"}[41s]) >= 2)'
        "\nor\n"
        '(max_over_time(up{job="node-exporter"}[1m41s]) == 0 and count_over_time(up{job="node-exporter"}[1m41s]) >= 2)'
    )
    host_down = next(r for r in _rules(spec, "node-exporter") if r["alert"] == "HostDown")
    assert host_down["expr"] == (
        'max_over_time(up{job="node-exporter"}[1m41s]) == 0 and count_over_time(up{job="node-exporter"}[1m41s]) >= 2'
    )


ONE_SCRAPE = {  # what these alerts were before: one failed scrape paged
    "TargetDown": "up == 0",
    "HostDown": 'up{job="node-exporter"} == 0',
    "BlackboxProbeFailed": "probe_success == 0",
}


@needs_promtool
def test_the_generated_tests_catch_a_rule_that_pages_on_one_failed_scrape(
    tmp_path: Path, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(
        exporters={
            "node": {"interval": "45s"},
            "blackbox": {"probes": [{"name": "web", "targets": ["https://example.com/"], "interval": "30s"}]},
        }
    )
    ctx = _context(tmp_path, spec)
    tests = ctx.root / conventions.PROMETHEUS_TESTS_DIR
    files = sorted(p.name for p in tests.glob("scrapes*.yml"))
    assert files == ["scrapes-every-15s.yml", "scrapes.yml"]  # TargetDown and HostDown every second; the probe's
    for name in files:
        assert _promtool(tests, name).returncode == 0

    def blip(rule: dict[str, Any]) -> None:
        rule["expr"] = ONE_SCRAPE[rule["alert"]]

    for name in files:
        _tamper_fixture(ctx, name.removesuffix(".yml"), blip)
        failed = _failed_tests(_promtool(tests, name))
        assert failed and all("one failed scrape never fires" in t or "silent before" in t for t in failed), failed
        alerts = {t.split(" [", 1)[0] for t in failed}
        assert alerts == ({"TargetDown", "HostDown"} if name == "scrapes.yml" else {"BlackboxProbeFailed"})

    def never(rule: dict[str, Any]) -> None:
        rule["expr"] = "vector(1) > 2"

    _tamper_fixture(ctx, "scrapes", never)
    failed = _failed_tests(_promtool(tests, "scrapes.yml"))
    assert any("fires after it" in t for t in failed) and any("then a good one fire" in t for t in failed), failed


# ---- escalations ------------------------------------------------------------------------------

ESCALATING = _notifications(
    routes=[{"match": {"severity": "critical"}, "receiver": "oncall"}],
    escalations=[{"name": "lead", "match": {"severity": "critical"}, "after": "20m", "receivers": ["lead", "gold"]}],
)


def test_an_escalation_keeps_the_alert_and_adds_its_label(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(exporters={"node": {}}, notifications=ESCALATING)
    rules = _rules(spec, "escalations")
    pages = {r["alert"] for f in ("stack", "node-exporter", "prometheus", "alertmanager") for r in _rules(spec, f)}
    assert {r["alert"] for r in rules} < pages and "TargetDown" in {r["alert"] for r in rules}
    for rule in rules:
        assert rule["for"] == "20m" and rule["labels"] == {"severity": "critical", "escalation": "lead"}
        assert rule["expr"] == (
            f'max without (alertstate) (ALERTS{{alertname="{rule["alert"]}", alertstate="firing", escalation="", '
            'severity="critical"})'
        )
    # warnings do not escalate: no rule for them
    assert "NodeHighCpuLoad" not in {r["alert"] for r in rules}


@needs_promtool
def test_the_escalation_tests_catch_an_early_or_a_looping_escalation(
    tmp_path: Path, write_spec: Callable[..., Path]
) -> None:
    ctx = _context(tmp_path, write_spec(notifications=ESCALATING))
    tests = ctx.root / conventions.PROMETHEUS_TESTS_DIR
    assert _promtool(tests, "escalation-lead.yml").returncode == 0

    def early(rule: dict[str, Any]) -> None:
        rule["for"] = "5m"

    _tamper_fixture(ctx, "escalation-lead", early)
    failed = _promtool(tests, "escalation-lead.yml")
    assert "escalates after 20m, not before" in failed.stderr, failed.stderr

    def looping(rule: dict[str, Any]) -> None:
        rule["for"] = "20m"
        rule["expr"] = rule["expr"].replace('escalation="", ', "")  # a copy would escalate again

    _tamper_fixture(ctx, "escalation-lead", looping)
    assert _promtool(tests, "escalation-lead.yml").returncode != 0


@needs_amtool
def test_an_escalated_copy_goes_to_the_escalation_receivers_only(write_spec: Callable[..., Path]) -> None:
    tests = [
        {"labels": {"alertname": "TargetDown", "severity": "critical"}, "receivers": ["oncall"]},
        {
            "labels": {"alertname": "TargetDown", "severity": "critical", "escalation": "lead"},
            "receivers": ["lead", "gold"],
        },
    ]
    spec = write_spec(notifications={**ESCALATING, "tests": tests})
    report = pipeline.check_spec(spec, only=["routes/test"])
    assert report.passed == ["routes/test"]
    note = next(p.message for p in report.problems if p.severity == "info")
    assert note == (
        "ran 2 route tests and 1 generated for escalations and copies; 3 walked by amtool and promstack's route "
        "model alike"
    )


# ---- copies -----------------------------------------------------------------------------------

COPYING = _notifications(
    group_wait="30s",
    group_interval="5m",
    routes=[
        {"match": {"severity": "critical"}, "receiver": "oncall", "continue": True},
        {"match": {"team": "db"}, "receiver": "gold", "group_wait": "1m"},
    ],
    copy_to=["audit"],
)


def _config(spec: Path) -> dict[str, Any]:
    tree = render(load_stack(spec), Target("local", "/srv"))
    text = tree.files.get(conventions.ALERTMANAGER_CONFIG) or tree.secrets[conventions.ALERTMANAGER_CONFIG].template
    data: dict[str, Any] = yaml.safe_load(text.replace("$$", "$"))
    return data


def test_a_copy_keeps_each_alerts_own_timers(write_spec: Callable[..., Path]) -> None:
    config = _config(write_spec(notifications=COPYING))

    def timers(labels: dict[str, str]) -> list[tuple[str, str, str]]:
        found = routing.deliveries(config, labels)
        return sorted((d.receiver, str(d.group_wait), str(d.group_interval)) for d in found)

    # a page and its copy go out after 2s; the copy of a batched warning waits like the warning
    page = {"alertname": "TargetDown", "severity": "critical"}
    assert timers(page) == [("audit", "2s", "2s"), ("oncall", "2s", "2s")]
    # continue: the page also reaches the db route, and its copy follows each route's own timers
    assert timers({**page, "team": "db"}) == [
        ("audit", "1m", "5m"),
        ("audit", "2s", "2s"),
        ("gold", "1m", "5m"),
        ("oncall", "2s", "2s"),
    ]
    assert timers({"alertname": "X", "severity": "warning"}) == [("audit", "30s", "5m"), ("team", "30s", "5m")]
    # the dead man's switch is never copied
    assert timers({"alertname": "Watchdog", "severity": "info"}) == [("null", "30s", "5m")]


@needs_amtool
def test_routes_test_proves_the_copies_and_catches_one_that_lost_its_timers(
    tmp_path: Path, write_spec: Callable[..., Path]
) -> None:
    tests = [
        {"labels": {"alertname": "TargetDown", "severity": "critical", "team": "db"}, "receivers": ["oncall", "gold"]}
    ]
    ctx = _context(tmp_path, write_spec(notifications={**COPYING, "tests": tests}))
    assert [p for p in routes_test.run(ctx) if p.severity == "error"] == []
    path = ctx.root / conventions.ALERTMANAGER_CONFIG
    config = yaml.safe_load(path.read_text())
    copy = config["route"]["routes"][1]
    assert copy["receiver"] == "audit" and copy["continue"] is True
    copy["routes"][0]["group_wait"] = "1m"  # a page's copy that waits like a warning
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    errors = [p.message for p in routes_test.run(ctx) if p.severity == "error"]
    assert errors and all("the copies to audit do not have the grouping and timers" in e for e in errors), errors


# ---- route tests at a time --------------------------------------------------------------------

OFFICE = _notifications(
    routes=[
        {"match": {"severity": "critical"}, "receiver": "oncall", "mute_during": ["maintenance"]},
        {"match": {"severity": "warning"}, "receiver": "team", "active_during": ["office-hours"]},
    ],
    time_intervals=[
        {
            "name": "office-hours",
            "weekdays": ["monday:friday"],
            "times": [{"start": "08:00", "end": "18:00"}],
            "location": "Europe/Berlin",
        },
        {"name": "maintenance", "weekdays": ["sunday"], "times": [{"start": "02:00", "end": "04:00"}]},
    ],
)
WARNING = {"alertname": "NodeHighCpuLoad", "severity": "warning"}
PAGE = {"alertname": "TargetDown", "severity": "critical"}


@needs_amtool
def test_route_tests_at_a_time_follow_the_time_intervals(write_spec: Callable[..., Path]) -> None:
    tests = [
        {"labels": WARNING, "at": "2024-06-04T10:00:00+02:00", "receivers": ["team"]},  # a Tuesday morning
        {"labels": WARNING, "at": "2024-06-04T17:59:00+02:00", "receivers": ["team"]},
        {"labels": WARNING, "at": "2024-06-04T16:00:00Z", "receivers": []},  # 18:00 in Berlin: the end is excluded
        {"labels": WARNING, "at": "2024-06-01T10:00:00+02:00", "receivers": []},  # a Saturday
        {"labels": PAGE, "at": "2024-06-02T03:00:00Z", "receivers": []},  # Sunday night maintenance (UTC)
        {"labels": PAGE, "at": "2024-06-02T03:00:00+02:00", "receivers": ["oncall"]},  # 01:00 UTC: before it
        {"labels": WARNING, "receivers": ["team"]},  # no time: amtool too, which ignores the intervals
        {"labels": {"alertname": "Watchdog", "severity": "info"}, "receivers": ["null"]},
    ]
    spec = write_spec(notifications={**OFFICE, "tests": tests})
    report = pipeline.check_spec(spec, only=["routes/test"])
    assert report.passed == ["routes/test"]
    note = next(p.message for p in report.problems if p.severity == "info")
    assert note.endswith(
        "2 walked by amtool and promstack's route model alike, 6 at a given time by promstack's route model "
        "only (amtool ignores time intervals)"
    )
    wrong = [{"labels": WARNING, "at": "2024-06-01T10:00:00+02:00", "receivers": ["team"]}]
    with pytest.raises(CheckError) as failed:
        pipeline.check_spec(write_spec(notifications={**OFFICE, "tests": wrong}), only=["routes/test"])
    assert failed.value.failures == [
        "[routes/test] notifications.tests[0] {alertname='NodeHighCpuLoad', severity='warning'} at "
        "2024-06-01T10:00:00+02:00: expected receivers [team] but the routes deliver it to [] (muted then by "
        "outside office-hours)."
    ]


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("2024-06-03T08:00:00+02:00", True),  # Monday 08:00: the start is included
        ("2024-06-03T05:59:00Z", False),  # 07:59 in Berlin
        ("2024-06-07T17:59:59+02:00", True),  # Friday
        ("2024-06-08T12:00:00+02:00", False),  # Saturday
        ("2024-01-08T07:30:00Z", True),  # winter: Berlin is UTC+1, 08:30 there
        ("2024-06-03T06:30:00Z", True),  # summer: UTC+2, 08:30 there
        ("2024-06-03T06:30:00-10:00", False),  # 18:30 in Berlin
    ],
)
def test_time_interval_semantics(at: str, inside: bool) -> None:
    entry = {
        "weekdays": ["monday:friday"],
        "times": [{"start_time": "08:00", "end_time": "18:00"}],
        "location": "Europe/Berlin",
    }
    assert timeintervals.entry_contains(entry, datetime.fromisoformat(at)) is inside


def test_time_interval_values() -> None:
    assert timeintervals.weekday_range("Monday:FRIDAY") == (1, 5)
    with pytest.raises(ValueError, match="ends before it starts"):
        timeintervals.weekday_range("saturday:sunday")
    assert timeintervals.minute_of_day("24:00") == 1440
    with pytest.raises(ValueError):
        timeintervals.minute_of_day("7:00")


# ---- the spec's inhibitions -------------------------------------------------------------------

INHIBITING = _notifications(
    inhibit=[
        {"source": {"alertname": "DatabaseDown"}, "target": {"service": "api", "severity": "warning"}, "equal": ["env"]}
    ],
    tests=[
        {
            "labels": {"alertname": "ApiSlow", "service": "api", "severity": "warning", "env": "prod"},
            "firing": [{"alertname": "DatabaseDown", "severity": "critical", "env": "prod"}],
            "muted": True,
        },
        {
            "labels": {"alertname": "ApiSlow", "service": "api", "severity": "warning", "env": "prod"},
            "firing": [{"alertname": "DatabaseDown", "severity": "critical", "env": "staging"}],
            "muted": False,
            "receivers": ["team"],
        },
        {
            "labels": {"alertname": "ApiSlow", "service": "api", "severity": "warning", "env": "prod"},
            "firing": [{"alertname": "DatabaseDown", "severity": "critical", "env": "prod"}],
            "receivers": [],
        },
    ],
)


@needs_amtool
def test_the_specs_inhibitions_and_their_tests_are_proven(tmp_path: Path, write_spec: Callable[..., Path]) -> None:
    ctx = _context(tmp_path, write_spec(notifications=INHIBITING))
    assert inhibitions.run(ctx) == []
    assert [p for p in routes_test.run(ctx) if p.severity == "error"] == []
    path = ctx.root / conventions.ALERTMANAGER_CONFIG
    config = yaml.safe_load(path.read_text())
    config["inhibit_rules"][-1]["equal"] = []  # now it mutes the API's warnings in every environment
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    failures = [p.message for p in inhibitions.run(ctx) if p.severity == "error"]
    assert any("must not mute a target whose env differs" in f for f in failures), failures
    assert any(f.startswith("notifications.tests[1] expects no inhibition, but inhibit rule #") for f in failures)


def test_inhibitions_that_may_not_do_what_was_meant_are_warned_about(
    tmp_path: Path, write_spec: Callable[..., Path]
) -> None:
    rules = [
        {"source": {"alertname": "TargetDown"}, "target": {"servce": "api"}, "equal": []},
        {"source": {"severity": "critical"}, "target": {"job": "prometheus"}, "equal": ["instance"]},
    ]
    ctx = _context(tmp_path, write_spec(notifications=_notifications(inhibit=rules)))
    warnings = [p.message for p in inhibitions.run(ctx) if p.severity == "warning"]
    assert any("no alert of this stack is known to carry the label 'servce'" in w for w in warnings), warnings
    assert any("notifications.inhibit[0]" in w and "has an empty `equal`" in w for w in warnings)
    # a critical alert about Prometheus is both a source and a target of the second one
    assert any(
        w.startswith("notifications.inhibit[1]") and "can match both its source and its target" in w for w in warnings
    )
    assert [p for p in inhibitions.run(ctx) if p.severity == "error"] == []


# ---- labels -----------------------------------------------------------------------------------


@needs_amtool
@needs_promtool
def test_a_services_own_labels_reach_its_alerts_as_written(write_spec: Callable[..., Path]) -> None:
    literal = "{{ $labels.instance }} and $labels.job"
    spec = write_spec(
        services=[
            {
                "name": "api",
                "targets": ["api:8000"],
                "labels": {"tier": "gold", "owner": literal},
                "http": {"requests": "http_requests_total", "duration": "http_request_duration_seconds"},
                "slos": [{"name": "availability", "objective": 99.9}],
            }
        ],
        notifications=_notifications(
            routes=[{"match": {"tier": "gold"}, "receiver": "gold"}],
            tests=[
                {
                    "labels": {"alertname": "SLOErrorBudgetBurn", "tier": "gold", "severity": "critical"},
                    "receivers": ["gold"],
                }
            ],
        ),
    )
    slo = _rules(spec, "slo/api")
    burn = [r for r in slo if r.get("alert") == conventions.SLO_ALERT]
    assert burn and all(
        r["labels"]["tier"] == "gold" and r["labels"]["slo_tier"].startswith(("page", "ticket")) for r in burn
    )
    # Prometheus templates alert labels: the value is escaped so that it arrives as written; the rendered
    # tests expect it literally, so promtool proves it
    assert all(r["labels"]["owner"] == '{{ "{{" }} $labels.instance }} and $labels.job' for r in burn)
    report = pipeline.check_spec(spec, only=["rules/lint", "rules/test", "routes/test"])
    assert report.passed == ["routes/test", "rules/lint", "rules/test"]


# ---- ack, before any Alertmanager -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["PageMe"], 2, "give the ALERTNAME and a --comment (or --list)"),
        (["TargetDwn", "--comment", "x"], 2, "the stack has no alert 'TargetDwn'; did you mean 'TargetDown'?"),
        (["TargetDown", "--label", "instance", "--comment", "x"], 2, "--label 'instance': give name=value"),
        (["TargetDown", "--label", "job=~(", "--comment", "x"], 2, "not a valid regular expression"),
        (["TargetDown", "--for", "soon", "--comment", "x"], 2, "--for 'soon': give a duration such as 30m, 4h or 1d"),
        (["TargetDown", "--comment", " "], 2, "--comment: say why"),
        (["TargetDown", "--comment", "x"], 1, "the stack 't' is not deployed"),
        (["--list", "TargetDown"], 2, "--list takes no ALERTNAME, --label or --comment"),
    ],
)
def test_ack_refuses_what_it_cannot_do(
    args: list[str],
    code: int,
    message: str,
    write_spec: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROMSTACK_STATE_DIR", str(tmp_path / "state"))
    result = CliRunner().invoke(app, ["ack", str(write_spec()), *args])
    assert result.exit_code == code, result.output
    assert message in result.stderr
