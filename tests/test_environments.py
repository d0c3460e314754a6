"""Environments (`environments.<name>` overrides of one base spec, `--env NAME` on every command): how
overrides merge, where problems of an environment are reported, the project an environment deploys as,
and `diff --env A --against B`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from generator.cli import app
from generator.errors import SpecError, UsageError
from generator.render import render
from generator.spec import load_stack, stack_from_text

ROOT = Path(__file__).resolve().parent.parent
BASE = """\
version: 1
name: shop
scrape_interval: 15s
exporters:
  node: {}
  redis: {targets: ["redis:6379"]}
services:
  - name: api
    targets: ["api:8000"]
    labels: {team: backend, tier: gold}
  - name: worker
    targets: ["worker:9000"]
notifications:
  receivers:
    - {name: team, webhook: {url: {env: HOOK}}}
    - {name: oncall, webhook: {url: {env: HOOK}}}
  default_receiver: team
  routes:
    - {match: {severity: critical}, receiver: oncall}
"""
STAGING = """\
environments:
  staging:
    scrape_interval: 30s
    retention: {time: 7d}
    exporters: {node: null}
    services:
      - {name: api, targets: ["api.staging:8000"]}
      - {name: batch, targets: ["batch:9100"]}
    notifications:
      routes: []
"""


def test_an_environment_merges_its_overrides_into_the_base() -> None:
    base, staging = (stack_from_text(BASE + STAGING, env=env) for env in (None, "staging"))
    assert (base.environment, staging.environment) == ("production", "staging")  # the env label follows
    assert staging.external_labels["env"] == "staging"
    assert (str(base.scrape_interval), str(staging.scrape_interval)) == ("15s", "30s")
    assert str(staging.retention_time) == "7d"
    assert "node-exporter" in base.components and "node-exporter" not in staging.components  # null removes
    assert staging.components["redis-exporter"].targets == ("redis:6379",)  # untouched keys stay
    # services merge by name: api keeps its labels and takes the new targets; batch is added, worker stays
    services = {s.name: s for s in staging.services}
    assert list(services) == ["api", "worker", "batch"]
    assert services["api"].targets == ("api.staging:8000",) and services["api"].labels == base.services[0].labels
    assert services["worker"].targets == base.services[1].targets
    assert [r.receiver for r in base.notifications.routes] == ["oncall"] and staging.notifications.routes == ()


def test_an_environment_deploys_as_its_own_project() -> None:
    text = BASE + STAGING
    assert stack_from_text(text).project == "shop"
    assert stack_from_text(text, env="production").project == "shop"  # the base's own environment
    assert stack_from_text(text, env="staging").project == "shop-staging"  # never the production stack's


def test_an_environment_that_sets_its_environment_label_keeps_it() -> None:
    text = BASE + "environments:\n  stage:\n    environment: staging-eu\n"
    assert stack_from_text(text, env="stage").environment == "staging-eu"


def test_an_unknown_environment_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"defines no environment 'qa' \(its environments: production, staging\)"):
        stack_from_text(BASE + STAGING, env="qa")
    with pytest.raises(UsageError, match=r"its environments: production\)"):
        stack_from_text(BASE, env="staging")


BAD_ENVIRONMENT = """\
environments:
  staging:
    name: other
    services:
      - {name: api, targets: ["api.staging:99999"]}
    notifications:
      default_receiver: nobody
  slow:
    scrape_interval: 5m
"""


def test_every_environment_is_validated_and_its_problems_are_where_they_were_written() -> None:
    """A problem an override makes is reported at the override's line and path; a problem the base's
    lines only have in one environment says which."""
    with pytest.raises(SpecError) as caught:
        stack_from_text(BASE + BAD_ENVIRONMENT)  # the base is fine: its environments are validated too
    shown = [str(p) for p in caught.value.problems]
    assert shown == [
        "stack.yaml:22:11: $.environments.staging.name: an environment keeps the stack's name (its project is "
        "<name>-<environment>, or --project-name); remove it here",
        "stack.yaml:24:31: $.environments.staging.services[0].targets[0]: 'api.staging:99999' is not a valid "
        "host:port target: port 99999 is not between 1 and 65535",
        "stack.yaml:26:25: $.environments.staging.notifications.default_receiver: unknown receiver 'nobody'; "
        "known: oncall, team",
        "stack.yaml:28:22: $.environments.slow.scrape_interval: a scrape interval of 5m leaves fewer than 4 "
        "samples in the 5m rate windows of the alertmanager rule pack; use 1m15s or less",
        "stack.yaml:28:22: $.environments.slow.scrape_interval: a scrape interval of 5m leaves fewer than 4 "
        "samples in the 5m rate windows of the node-exporter rule pack; use 1m15s or less",
        "stack.yaml:28:22: $.environments.slow.scrape_interval: a scrape interval of 5m leaves fewer than 4 "
        "samples in the 5m rate windows of the prometheus rule pack; use 1m15s or less",
        "stack.yaml:28:22: $.environments.slow.scrape_interval: a scrape interval of 5m leaves fewer than 4 "
        "samples in the 5m rate windows of the redis-exporter rule pack; use 1m15s or less",
    ]


def test_a_base_line_that_breaks_only_in_one_environment_says_which() -> None:
    # the base routes to oncall; the environment removes that receiver: the base's route is wrong there only
    text = BASE + "environments:\n  dev:\n    notifications:\n      receivers: [{name: oncall, remove: true}]\n"
    with pytest.raises(SpecError) as caught:
        stack_from_text(text)
    assert [str(p) for p in caught.value.problems] == [
        "stack.yaml:19:47: $.notifications.routes[0].receiver: unknown receiver 'oncall'; known: team "
        "(in environment dev)"
    ]


def test_the_environment_label_reaches_every_artifact() -> None:
    files = render(stack_from_text(BASE + STAGING, env="staging")).files
    config = yaml.safe_load(files["prometheus/prometheus.yml"])
    assert config["global"]["external_labels"]["env"] == "staging"
    targets = {j["job_name"]: j["static_configs"][0]["targets"] for j in config["scrape_configs"]}
    assert targets["api"] == ["api.staging:8000"] and targets["batch"] == ["batch:9100"]


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for line in (ROOT / "stack" / "example.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key.strip(), value.strip())
    shutil.copy(ROOT / "stack" / "stack.yaml", tmp_path / "stack.yaml")
    return tmp_path / "stack.yaml"


def test_the_example_has_a_staging_environment_that_differs_where_it_says(example: Path) -> None:
    result = CliRunner().invoke(app, ["diff", str(example), "--env", "staging", "--against", "production"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "--- production/prometheus/prometheus.yml" in lines and "+++ staging/prometheus/prometheus.yml" in lines
    assert "-    env: production" in lines and "+    env: staging" in lines
    assert "-    - api:8000" in lines and "+    - api.staging:8000" in lines
    assert "+    - --storage.tsdb.retention.time=7d" in lines
    # staging pages nobody (the oncall route sits under the copies' catch-all: any indentation)
    assert any(line.startswith("-") and line.lstrip("- ") == "receiver: oncall" for line in lines)
    same = CliRunner().invoke(app, ["diff", str(example), "--env", "staging", "--against", "staging"])
    assert same.exit_code == 0 and same.stdout.strip() == "no differences between staging and staging"


def test_every_command_takes_env(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["generate", str(example), "--env", "staging", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "env: staging" in (out / "prometheus" / "prometheus.yml").read_text()
    for command in (
        "check",
        "test",
        "generate",
        "up",
        "down",
        "status",
        "diff",
        "ack",
        "unack",
        "backup",
        "restore",
        "report",
    ):
        help_text = CliRunner().invoke(app, [command, "--help"]).stdout
        assert "--env" in help_text, command
    wrong = CliRunner().invoke(app, ["generate", str(example), "--env", "qa", "-o", str(out)])
    assert wrong.exit_code == 2 and "defines no environment 'qa'" in wrong.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) missing")
def test_check_of_the_example_staging_environment_passes(example: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(example), "--env", "staging"])
    assert result.exit_code == 0, result.output
    assert "all" in result.stdout.splitlines()[-1] and "checks passed" in result.stdout


def test_load_stack_reads_the_environment_of_a_file(example: Path) -> None:
    assert load_stack(example, "staging").project == "shop-staging"
