"""Alert kinds: rules written as `kind:` and parameters, no PromQL and no tests, compiled with their own
promtool tests. Real promtool throughout: the generated tests must pass as rendered, and must fail once
the rendered threshold or window is edited by hand (they are not tautologies)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from generator.cli import app

HEAD = """version: 1
name: shop
notifications:
  receivers: [{name: team, webhook: {url: {env: HOOK_URL}}}]
  default_receiver: team
services:
  - name: ml
    targets: ["ml:8000"]
    labels: {team: data}
    metrics:
      - {name: prediction_accuracy, type: gauge, help: Share of correct predictions., unit: ratio, labels: [model]}
      - {name: pipeline_runs_total, type: counter, help: Pipeline runs by outcome., labels: [status, project]}
      - {name: checkout_duration_seconds, type: histogram, help: Checkout time., unit: seconds}
      - {name: queue_depth, type: gauge, help: Jobs waiting.}
      - {name: completions_total, type: counter, help: Completed jobs.}
alerts:
  packs: none
  rules:
"""

RULES = {
    "AccuracyLow": "{alert: AccuracyLow, kind: threshold, metric: prediction_accuracy, below: 0.6, by: [model], "
    "for: 30m, severity: warning}",
    "PipelinesFailing": "{alert: PipelinesFailing, kind: ratio, metric: pipeline_runs_total, part: {status: failed}, "
    "above: 10, by: [project], severity: critical}",
    "PipelinesSucceeding": "{alert: PipelinesSucceeding, kind: ratio, metric: pipeline_runs_total, "
    "part: {status: ok}, below: 90, severity: warning}",
    "CheckoutSlow": "{alert: CheckoutSlow, kind: latency, metric: checkout_duration_seconds, quantile: 0.95, "
    "above: 500ms, severity: warning}",
    "CompletionsDropped": "{alert: CompletionsDropped, kind: change, metric: completions_total, below: 50, "
    "floor: 0.1, severity: warning}",
    "CompletionsMissing": "{alert: CompletionsMissing, kind: absent, metric: completions_total, severity: warning}",
    "QueueFilling": "{alert: QueueFilling, kind: forecast, metric: queue_depth, above: 1000, horizon: 4h, "
    "severity: warning}",
    "CompletionsUnusual": "{alert: CompletionsUnusual, kind: anomaly, metric: completions_total, seasonal: day, "
    "severity: info}",
    "QueueUnusual": "{alert: QueueUnusual, kind: anomaly, metric: queue_depth, severity: info}",
}


def spec_text(*names: str) -> str:
    return HEAD + "".join(f"    - {RULES[name]}\n" for name in names or RULES)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kinds")
    (folder / "stack.yaml").write_text(spec_text())
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOOK_URL", "https://hooks.example.com/x")
        result = CliRunner().invoke(app, ["generate", str(folder / "stack.yaml"), "-o", str(folder / "out")])
    assert result.exit_code == 0, result.output
    return folder / "out" / "prometheus"


def test_a_spec_without_any_expr_passes_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` runs promtool (config, rules, every generated test), amtool and the rule lint on it."""
    monkeypatch.setenv("HOOK_URL", "https://hooks.example.com/x")
    spec = tmp_path / "stack.yaml"
    spec.write_text(spec_text())
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 0, result.output
    assert "ok  rules/test" in result.output and "ok  rules/lint" in result.output


@pytest.mark.parametrize("name", list(RULES))
def test_each_kind_compiles_to_a_rule_and_tests_that_pass(rendered: Path, name: str) -> None:
    rules = yaml.safe_load((rendered / "rules" / "custom.yml").read_text())
    alert = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)
    assert alert["expr"] and alert["annotations"]["summary"]
    tests = yaml.safe_load((rendered / "tests" / f"kind-{name}.yml").read_text())
    fires = [t for t in tests["tests"] if t["alert_rule_test"][0]["exp_alerts"]]
    silent = [t for t in tests["tests"] if not t["alert_rule_test"][0]["exp_alerts"]]
    assert fires and silent, "a kind's tests show it firing and staying silent"
    run = promtool("test", "rules", f"kind-{name}.yml", cwd=rendered / "tests")
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_service_metric_keeps_the_service_labels(rendered: Path) -> None:
    """Alerts on a service's metric carry job, service and the service's labels: they route with it."""
    rules = yaml.safe_load((rendered / "rules" / "custom.yml").read_text())
    exprs = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    links = {r["alert"]: r["annotations"]["dashboard"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert links["PipelinesFailing"].endswith("/d/promstack-service")  # where its declared metric is plotted
    assert 'job="ml"' in exprs["PipelinesFailing"]
    assert "by (job, service, team, project)" in exprs["PipelinesFailing"]
    tests = yaml.safe_load((rendered / "tests" / "kind-PipelinesFailing.yml").read_text())
    labels = tests["tests"][0]["alert_rule_test"][0]["exp_alerts"][0]["exp_labels"]
    assert labels == {"job": "ml", "service": "ml", "team": "data", "project": "example", "severity": "critical"}


# a hand edit of each rendered rule (in the fixture the tests read) -> the generated tests catch it
EDITS = [
    ("AccuracyLow", "< 0.6", "< 0.4"),
    ("AccuracyLow", "< 0.6", "< 0.8"),
    ("PipelinesFailing", "> 10)", "> 20)"),
    ("PipelinesFailing", "> 10)", "> 4)"),
    ("PipelinesFailing", "[10m]", "[30m]"),
    ("PipelinesSucceeding", "< 90)", "< 70)"),
    ("CheckoutSlow", "> 0.5", "> 1"),
    ("CheckoutSlow", "> 0.5", "> 0.2"),
    ("CompletionsDropped", "* 0.5", "* 0.3"),
    ("CompletionsDropped", ">= 0.1", ">= 1"),
    ("QueueFilling", "> 1000", "> 1500"),
    ("CompletionsMissing", "unless on (job, instance)", "and on (job, instance)"),
]


@pytest.mark.parametrize(("name", "old", "new"), EDITS, ids=[f"{n}:{o}->{w}" for n, o, w in EDITS])
def test_a_hand_edit_fails_the_generated_tests(rendered: Path, tmp_path: Path, name: str, old: str, new: str) -> None:
    tests = tmp_path / "tests"
    (tests / "fixtures").mkdir(parents=True)
    fixture = f"fixtures/kind-{name}.yml"
    text = (rendered / "tests" / fixture).read_text()
    assert text.count(old) >= 1, text
    (tests / fixture).write_text(text.replace(old, new))
    (tests / f"kind-{name}.yml").write_text((rendered / "tests" / f"kind-{name}.yml").read_text())
    run = promtool("test", "rules", f"kind-{name}.yml", cwd=tests)
    assert run.returncode != 0, f"the tests did not notice {old!r} -> {new!r}"


# --- bad input: exit 2, file:line:col: $.path: message, nothing written ------------------------------
BAD = [
    (
        "unknown-metric",
        "{alert: A, kind: threshold, metric: queue_dept, above: 5, severity: warning}",
        ["$.alerts.rules[0].metric: unknown metric 'queue_dept'; did you mean 'queue_depth'?"],
    ),
    (
        "ratio-of-a-gauge",
        "{alert: A, kind: ratio, metric: queue_depth, part: {x: y}, above: 5, severity: warning}",
        [
            "$.alerts.rules[0].metric: queue_depth is a gauge: a ratio needs a counter "
            "(kind: threshold, change, forecast or anomaly read gauges)"
        ],
    ),
    (
        "quantile-of-a-counter",
        "{alert: A, kind: latency, metric: completions_total, quantile: 0.9, above: 1s, severity: warning}",
        [
            "$.alerts.rules[0].metric: completions_total is a counter: a quantile needs a histogram or "
            "summary (a counter only grows; kind: ratio, change or anomaly read its rate)"
        ],
    ),
    (
        "window-under-four-scrapes",
        "{alert: A, kind: ratio, metric: pipeline_runs_total, part: {status: failed}, above: 5, window: 30s, "
        "severity: warning}",
        ["$.alerts.rules[0].window: a window of 30s holds fewer than 4 scrapes at 15s; use 1m or more"],
    ),
    (
        "percentage-over-100",
        "{alert: A, kind: ratio, metric: pipeline_runs_total, part: {status: failed}, above: 120, severity: warning}",
        ["$.alerts.rules[0].above: a percentage from 0 to 100, not 120"],
    ),
    (
        "kind-and-expr",
        "{alert: A, kind: threshold, metric: queue_depth, above: 5, expr: up == 0, severity: warning}",
        ["$.alerts.rules[0].expr: give either `expr` or `kind` (threshold compiles its own expression)"],
    ),
    (
        "parameter-of-another-kind",
        "{alert: A, kind: threshold, metric: queue_depth, above: 5, quantile: 0.9, severity: warning}",
        [
            "$.alerts.rules[0].quantile: `quantile` is not a parameter of kind threshold "
            "(it takes above, below, aggregate, window)"
        ],
    ),
    (
        "no-bound",
        "{alert: A, kind: forecast, metric: queue_depth, horizon: 4h, severity: warning}",
        ["$.alerts.rules[0]: kind forecast needs exactly one of `above` and `below`"],
    ),
    (
        "undeclared-label",
        "{alert: A, kind: ratio, metric: pipeline_runs_total, part: {outcome: failed}, above: 5, severity: warning}",
        [
            "$.alerts.rules[0].part.outcome: pipeline_runs_total has no label 'outcome' (it has host, "
            "instance, job, project, service, status, team)"
        ],
    ),
    (
        "tests-with-a-kind",
        "{alert: A, kind: absent, metric: queue_depth, severity: warning, tests: []}",
        ["$.alerts.rules[0].tests: kind absent writes its own tests; remove these (or use `expr`)"],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), [pytest.param(r, e, id=i) for i, r, e in BAD])
def test_bad_kind(rule: str, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("stack.yaml").write_text(HEAD + f"    - {rule}\n")
    result = CliRunner().invoke(app, ["generate", "stack.yaml", "-o", "out"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    # the rule is on line 19, the column that of the key or value named
    assert [re.sub(r"^stack\.yaml:19:\d+: ", "", line) for line in lines[:-1]] == expected
    assert re.match(r"^stack\.yaml:19:\d+: ", lines[0]), lines[0]
    assert not Path("out").exists()


def test_the_kind_parameters_are_in_the_schema() -> None:
    """`promstack schema` (editors) knows each kind and its parameters."""
    result = CliRunner().invoke(app, ["schema"])
    rule = yaml.safe_load(result.stdout)["$defs"]["alert_rule"]["properties"]
    assert rule["kind"]["enum"] == ["threshold", "ratio", "latency", "change", "absent", "forecast", "anomaly"]
    assert {"metric", "part", "quantile", "against", "horizon", "seasonal"} <= set(rule)
    assert re.fullmatch(r"[a-z_]+", "".join(rule))


def test_a_problem_points_at_its_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rule = "{alert: A, kind: threshold, metric: queue_dept, above: 5, severity: warning}"
    Path("stack.yaml").write_text(HEAD + f"    - {rule}\n")
    result = CliRunner().invoke(app, ["generate", "stack.yaml", "-o", "out"])
    column = f"    - {rule}".index("queue_dept") + 1
    assert result.stderr.startswith(f"stack.yaml:19:{column}: $.alerts.rules[0].metric: unknown metric")


def test_declared_metrics_join_the_inventory(tmp_path: Path) -> None:
    """Offline checks (panel and rule lint) know a service's declared metrics, a histogram's series too."""
    from generator.metrics_inventory import inventory
    from generator.spec import load_stack

    spec = tmp_path / "stack.yaml"
    spec.write_text(spec_text("AccuracyLow"))
    known = inventory(load_stack(spec))
    assert known["prediction_accuracy"] == "service ml (declared)"
    assert {"checkout_duration_seconds_bucket", "checkout_duration_seconds_count"} <= set(known)
    assert "checkout_duration_seconds" not in known  # a histogram has no series of its bare name


def test_the_service_latency_alert_takes_a_quantile(tmp_path: Path) -> None:
    """`services[].http.quantile` (default 0.99) is the quantile ServiceHighLatency watches; its pack
    tests follow it and pass with promtool."""
    text = HEAD.replace(
        "    labels: {team: data}\n",
        "    labels: {team: data}\n"
        "    http: {requests: ml_requests_total, duration: ml_duration_seconds, quantile: 0.95}\n",
    )
    (tmp_path / "stack.yaml").write_text(text + f"    - {RULES['AccuracyLow']}\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOOK_URL", "https://hooks.example.com/x")
        result = CliRunner().invoke(app, ["generate", str(tmp_path / "stack.yaml"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    prometheus = tmp_path / "out" / "prometheus"
    rules = yaml.safe_load((prometheus / "rules" / "service.yml").read_text())
    latency = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "ServiceHighLatency")
    assert latency["expr"].startswith("histogram_quantile(0.95,")
    assert "95th percentile" in latency["annotations"]["summary"]
    assert latency["annotations"]["description"].startswith("5% of the requests")
    run = promtool("test", "rules", "service.yml", cwd=prometheus / "tests")
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_kind_rule_is_not_called_untested_when_another_part_of_the_spec_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spec with problems gets the rule lint of its own alerts in the same run; an alert kind writes
    its own tests in build, so that lint must not say it has none."""
    monkeypatch.chdir(tmp_path)
    rule = "{alert: QueueDeep, kind: threshold, metric: queue_depth, above: 5, severity: warning}"
    Path("stack.yaml").write_text(HEAD.replace("version: 1\n", "version: 1\nretention: [1]\n") + f"    - {rule}\n")
    result = CliRunner().invoke(app, ["generate", "stack.yaml", "-o", "out"])
    assert result.exit_code == 2
    assert [line.split(": ", 1)[1] for line in result.stderr.splitlines()[:-1]] == [
        "$.retention: expected a mapping (key: value), got a list"
    ]
