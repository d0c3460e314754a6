"""SLO rules: recording rules per window, multi-window multi-burn-rate alerts with exact constants,
the traffic guard, latency buckets in both `le` spellings, and their promtool tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from generator import conventions
from generator.cli import app
from generator.render import render
from generator.spec import load_stack

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) missing")
HTTP = {"requests": "http_requests_total", "duration": "http_request_duration_seconds"}


def _spec(write_spec: Callable[..., Path], slos: list[dict[str, Any]], **http: str) -> Path:
    service = {
        "name": "api",
        "targets": ["api:8000"],
        "labels": {"team": "backend"},
        "http": {**HTTP, **http},
        "slos": slos,
    }
    return write_spec(services=[service])


def _slo_files(spec: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    files = render(load_stack(spec)).files
    return yaml.safe_load(files["prometheus/rules/slo/api.yml"]), yaml.safe_load(files["prometheus/tests/slo/api.yml"])


def _alerts(rules: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def _limit(alert: dict[str, Any]) -> str:
    match = re.search(r"ratio_rate\w+\{[^}]*\} > ([0-9.]+)\n", alert["expr"])
    assert match, alert["expr"]
    return match.group(1)


def test_recording_rules_cover_every_tier_window(write_spec: Callable[..., Path]) -> None:
    rules, _ = _slo_files(_spec(write_spec, [{"name": "availability", "objective": 99.9}]))
    records = {r["record"]: r for g in rules["groups"] for r in g["rules"] if "record" in r}
    windows = {w for tier in conventions.SLO_TIERS for w in tier[2:4]}
    assert set(records) == {f"service_slo:sli_error:ratio_rate{w}" for w in windows}
    five = records["service_slo:sli_error:ratio_rate5m"]
    assert five["labels"] == {"service": "api", "slo": "availability"}
    assert five["expr"] == (
        '(sum(rate(http_requests_total{job="api",code=~"5.."}[5m])) or vector(0)) '
        '/ sum(rate(http_requests_total{job="api"}[5m]))'
    )


def test_tiers_render_exact_thresholds_labels_and_a_traffic_guard(write_spec: Callable[..., Path]) -> None:
    rules, _ = _slo_files(_spec(write_spec, [{"name": "availability", "objective": 99.9}]))
    alerts = _alerts(rules)
    assert [a["labels"]["slo_tier"] for a in alerts] == [t[0] for t in conventions.SLO_TIERS]
    assert [_limit(a) for a in alerts] == ["0.0144", "0.006", "0.003", "0.001"]
    for alert, (tier, _, long, short, severity) in zip(alerts, conventions.SLO_TIERS, strict=True):
        assert alert["alert"] == conventions.SLO_ALERT
        assert alert["labels"] == {
            "team": "backend",
            "service": "api",
            "slo": "availability",
            "slo_tier": tier,
            "severity": severity,
        }
        assert f"ratio_rate{long}{{" in alert["expr"] and f"ratio_rate{short}{{" in alert["expr"]
        assert f'and on()\nsum(increase(http_requests_total{{job="api"}}[{short}])) >= 10' in alert["expr"]


def test_other_periods_scale_the_factors_without_float_artifacts(write_spec: Callable[..., Path]) -> None:
    spec = _spec(
        write_spec, [{"name": "a", "objective": 99.95, "period": "28d"}, {"name": "b", "objective": 99, "period": "7d"}]
    )
    rules, _ = _slo_files(spec)
    limits = [_limit(a) for a in _alerts(rules)]
    # 28d: 14.4*28/30 = 13.44 ... 1*28/30 = 0.9333.. (12 significant digits); budget 0.05%
    assert limits[:4] == ["0.00672", "0.0028", "0.0014", "0.000466666666667"]
    # 7d: 14.4*7/30 = 3.36, 6*7/30 = 1.4, 3*7/30 = 0.7, 1*7/30 = 0.2333..; budget 1%
    assert limits[4:] == ["0.0336", "0.014", "0.007", "0.00233333333333"]
    text = render(load_stack(spec)).files["prometheus/rules/slo/api.yml"]
    assert not re.search(r"\d(0{6,}[1-9]|9{6,})", text), "a float artifact"
    assert "burns 13.44x too fast (page-1h)" in text


def test_latency_slo_reads_the_bucket_at_its_threshold(write_spec: Callable[..., Path]) -> None:
    spec = _spec(
        write_spec,
        [{"name": "fast", "objective": 99, "threshold": "250ms"}, {"name": "slow", "objective": 95, "threshold": "1s"}],
    )
    rules, tests = _slo_files(spec)
    records = [r for g in rules["groups"] for r in g["rules"] if r.get("record", "").endswith("rate5m")]
    assert records[0]["expr"] == (
        '1 - sum(rate(http_request_duration_seconds_bucket{job="api",le="0.25"}[5m])) '
        '/ sum(rate(http_request_duration_seconds_count{job="api"}[5m]))'
    )
    # an integer bound is le="1" from Go clients and Prometheus 2, le="1.0" in Prometheus 3: both match
    assert 'le=~"1|1\\\\.0"' in records[1]["expr"]
    spellings = {
        s["series"].split('le="')[1].split('"')[0]
        for t in tests["tests"]
        for s in t["input_series"]
        if "slow" in t["name"] and "_bucket" in s["series"]
    }
    assert spellings == {"1", "1.0"}


def _promtool_slo(files: dict[str, str], tmp_path: Path) -> Callable[[], subprocess.CompletedProcess[str]]:
    """Writes the SLO rules and tests under tmp_path; the returned call runs promtool on them as they are then."""
    for path in ("prometheus/rules/slo/api.yml", "prometheus/tests/slo/api.yml"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(files[path])
    tests = tmp_path / "prometheus" / "tests" / "slo"
    return lambda: subprocess.run(
        ["promtool", "test", "rules", "api.yml"], cwd=tests, capture_output=True, text=True, check=False
    )


@needs_promtool
def test_slo_tests_pass_and_catch_a_wrong_threshold(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    spec = _spec(
        write_spec,
        [
            {"name": "availability", "objective": 99.9},
            {"name": "latency", "objective": 99, "threshold": "1s", "period": "28d"},
        ],
        errors='code=~"5..|429"',
    )
    files = render(load_stack(spec)).files
    promtool = _promtool_slo(files, tmp_path)
    ok = promtool()
    assert ok.returncode == 0, ok.stderr
    names = [t["name"] for t in yaml.safe_load(files["prometheus/tests/slo/api.yml"])["tests"]]
    assert any("fires 0 tier alert(s)" in n for n in names) and any("fires 4 tier alert(s)" in n for n in names)
    assert any("at 1 requests/min" in n for n in names), "the near-zero traffic case"
    # a page tier that fires too late is caught
    rules = tmp_path / "prometheus" / "rules" / "slo" / "api.yml"
    rules.write_text(rules.read_text().replace("> 0.0144\n", "> 0.02\n"))
    broken = promtool()
    assert broken.returncode == 1
    assert "name: SLO api/availability (availability): error ratio 0.0152 at 100 requests/min" in broken.stderr


def test_near_zero_traffic_does_not_page(write_spec: Callable[..., Path]) -> None:
    _, tests = _slo_files(_spec(write_spec, [{"name": "availability", "objective": 99.9}]))
    quiet = next(t for t in tests["tests"] if "at 1 requests/min" in t["name"])
    tiers = {a["exp_labels"]["slo_tier"] for a in quiet["alert_rule_test"][0]["exp_alerts"]}
    assert "page-1h" not in tiers and "ticket-3d" in tiers  # 5 requests in 5m: too few to page


def test_disabling_the_slo_alert_keeps_the_recording_rules(write_spec: Callable[..., Path]) -> None:
    service = {"name": "api", "targets": ["api:8000"], "http": HTTP, "slos": [{"name": "a", "objective": 99.9}]}
    spec = write_spec(services=[service], alerts={"overrides": {"SLOErrorBudgetBurn": {"enabled": False}}})
    files = render(load_stack(spec)).files
    assert not _alerts(yaml.safe_load(files["prometheus/rules/slo/api.yml"]))
    assert "prometheus/tests/slo/api.yml" not in files


def test_an_slo_objective_of_100_is_refused(write_spec: Callable[..., Path]) -> None:
    result = CliRunner().invoke(app, ["check", str(_spec(write_spec, [{"name": "a", "objective": 100}]))])
    assert result.exit_code == 2
    assert "$.services[0].slos[0].objective: an SLO objective" in result.output


def test_a_custom_recording_rule_cannot_take_the_name_of_an_slo_record(write_spec: Callable[..., Path]) -> None:
    """The names refused are the ones the SLO renderer records: every window of every tier."""
    rules, _ = _slo_files(_spec(write_spec, [{"name": "availability", "objective": 99.9}]))
    recorded = sorted({r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r})
    recording = [{"record": name, "expr": "vector(1)"} for name in [*recorded, "job:own_record:sum"]]
    result = CliRunner().invoke(app, ["check", str(write_spec(alerts={"recording": recording}))])
    assert result.exit_code == 2
    refused = re.findall(
        r"\$\.alerts\.recording\[(\d+)\]\.record: '([^']+)' is recorded by promstack's SLO", result.output
    )
    assert refused == [(str(i), name) for i, name in enumerate(recorded)]


# ---- an availability SLO measured by a probe ------------------------------------------------------

PROBES = {"blackbox": {"probes": [{"name": "api-health", "targets": ["http://api:8000/health"], "interval": "15s"}]}}


def _probe_spec(write_spec: Callable[..., Path], **slo: Any) -> Path:
    service = {"name": "api", "targets": ["api:8000"], "slos": [{"name": "health", "objective": 99.5, **slo}]}
    return write_spec(exporters=PROBES, services=[service])


def test_a_probe_slo_counts_the_probes_results(write_spec: Callable[..., Path]) -> None:
    """No http metrics needed: the error ratio is the share of failed results of the probe's job, and
    the traffic guard counts its results."""
    rules, _ = _slo_files(_probe_spec(write_spec, probe="api-health"))
    five = next(r for g in rules["groups"] for r in g["rules"] if r.get("record", "").endswith("rate5m"))
    selector = 'probe_success{job="blackbox-api-health"}'
    assert five["expr"] == (f"1 - sum(sum_over_time({selector}[5m])) / sum(count_over_time({selector}[5m]))")
    assert five["labels"] == {"service": "api", "slo": "health"}
    page = next(a for a in _alerts(rules) if a["labels"]["slo_tier"] == "page-1h")
    assert f"sum(count_over_time({selector}[5m])) >= 10" in page["expr"]
    assert (
        "of the results of the api-health probe of {{ $labels.service }} were failures"
        in (page["annotations"]["description"])
    )


@needs_promtool
def test_probe_slo_tests_pass_and_catch_a_wrong_threshold_or_guard(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    files = render(load_stack(_probe_spec(write_spec, probe="api-health"))).files
    promtool = _promtool_slo(files, tmp_path)
    ok = promtool()
    assert ok.returncode == 0, ok.stderr
    names = [t["name"] for t in yaml.safe_load(files["prometheus/tests/slo/api.yml"])["tests"]]
    assert any("fires 0 tier alert(s)" in n for n in names) and any("fires 4 tier alert(s)" in n for n in names)
    rules = tmp_path / "prometheus" / "rules" / "slo" / "api.yml"
    original = rules.read_text()
    # 99.5%: the 1h tier fires above 14.4 x 0.005 = 0.072; one that fires too late is caught
    rules.write_text(original.replace("> 0.072\n", "> 0.08\n"))
    late = promtool()
    assert late.returncode == 1 and "(probe): error ratio 0.076 at 4 probe results/min" in late.stderr
    # without the guard, a probe that runs once a minute would page on the fast tier
    rules.write_text(original.replace(">= 10\n", ">= 1\n"))
    unguarded = promtool()
    assert unguarded.returncode == 1 and "at 1 probe results/min" in unguarded.stderr


def test_probe_and_request_slos_of_one_service_are_tested_apart(write_spec: Callable[..., Path]) -> None:
    service = {
        "name": "api",
        "targets": ["api:8000"],
        "http": HTTP,
        "slos": [
            {"name": "availability", "objective": 99.9},
            {"name": "health", "objective": 99.9, "probe": "api-health"},
        ],
    }
    _, tests = _slo_files(write_spec(exporters=PROBES, services=[service]))
    kinds = {t["name"].split("(")[1].split(")")[0] for t in tests["tests"]}
    assert kinds == {"availability", "probe"}
    probe_case = next(t for t in tests["tests"] if "(probe)" in t["name"])
    assert [s["series"].split("{")[0] for s in probe_case["input_series"]] == ["probe_success"]
