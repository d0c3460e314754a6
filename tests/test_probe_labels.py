"""Probes belong to services: their `labels` reach their series (so their alerts route, group and
inhibit with the service), and labels promstack sets itself cannot be set by the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from generator.cli import app

HEAD = """version: 1
name: t
notifications:
  receivers: [{name: team, webhook: {url: {env: HOOK_URL}}}]
  default_receiver: team
"""


def generate(tmp_path: Path, text: str) -> tuple[int, str, Path]:
    (tmp_path / "stack.yaml").write_text(text)
    with pytest.MonkeyPatch.context() as env:
        env.chdir(tmp_path)
        env.setenv("HOOK_URL", "https://hooks.example.com/x")
        result = CliRunner().invoke(app, ["generate", "stack.yaml", "-o", "out"])
    return result.exit_code, result.stderr if result.exit_code else result.stdout, tmp_path / "out"


def test_probe_labels_reach_its_series(tmp_path: Path) -> None:
    probes = "exporters:\n  blackbox:\n    probes:\n      - {name: shop, targets: ['https://shop.example.com'], "
    probes += "labels: {team: web, service: shop}}\n"
    code, output, out = generate(tmp_path, HEAD + probes)
    assert code == 0, output
    config = yaml.safe_load((out / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"].endswith("shop"))
    assert job["static_configs"][0]["labels"] == {"team": "web", "service": "shop", "probe": "shop"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "services: [{name: api, targets: ['api:80'], labels: {job: web}}]\n",
            "6:54: $.services[0].labels.job: 'job' is reserved: promstack sets it on every series of every "
            "scrape job; choose another label name",
        ),
        (
            "services: [{name: api, targets: ['api:80'], metrics: [{name: x_total, type: counter, "
            "labels: [instance]}]}]\n",
            "6:95: $.services[0].metrics[0].labels[0]: 'instance' is a label of the service's targets; Prometheus "
            "would rename the metric's own to exported_instance: name it otherwise",
        ),
        (
            "exporters: {blackbox: {probes: [{name: p, targets: ['https://x.example.com'], labels: {probe: q}}]}}\n",
            "6:88: $.exporters.blackbox.probes[0].labels.probe: 'probe' is reserved: promstack sets it on the "
            "series of each blackbox probe; choose another label name",
        ),
        (
            "services: [{name: api, targets: ['api:80'], labels: {slo_tier: gold}}]\n",
            "6:54: $.services[0].labels.slo_tier: 'slo_tier' is reserved: promstack sets it on alerts (the "
            "burn-rate tier of an SLO alert); choose another label name",
        ),
        (
            "services: [{name: api, targets: ['api:80'], labels: {env: dev}}]\n",
            "6:54: $.services[0].labels.env: 'env' is reserved: it is an external label of the stack (set by "
            "`environment`), on every alert; choose another label name",
        ),
        (
            "external_labels: {region: eu, severity: high}\n",
            "6:31: $.external_labels.severity: 'severity' is reserved: promstack sets it on alerts (every "
            "alert's severity); choose another label name",
        ),
        (
            "external_labels: {stack: other}\n",
            "6:19: $.external_labels.stack: 'stack' is reserved: it is an external label of the stack (set by "
            "`name`), on every alert; choose another label name",
        ),
        (
            "alerts: {overrides: {TargetDown: {labels: {job: all}}}}\n",
            "6:44: $.alerts.overrides.TargetDown.labels.job: 'job' is reserved: promstack sets it on every series "
            "of every scrape job; choose another label name",
        ),
        (
            "alerts: {rules: [{alert: A, expr: vector(1), severity: info, summary: s, labels: {escalation: x}}]}\n",
            "6:83: $.alerts.rules[0].labels.escalation: 'escalation' is reserved: promstack sets it on alerts (the "
            "escalation of an escalated alert); choose another label name",
        ),
    ],
    ids=[
        "service-job",
        "metric-instance",
        "probe-probe",
        "service-slo-tier",
        "service-env",
        "external-severity",
        "external-stack",
        "override-job",
        "rule-escalation",
    ],
)
def test_labels_promstack_sets_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    code, output, out = generate(tmp_path, HEAD + text)
    assert code == 2
    assert output.splitlines()[0] == f"stack.yaml:{expected}"
    assert not out.exists()
