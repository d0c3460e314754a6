"""The `promstack` command line through typer's CliRunner: help, exit codes, --debug, and the output contract.

Exit codes: 0 ok, 1 a check or the writing failed, 2 the spec or the command line is wrong.
`check` and `test` run the real promtool and amtool on small specs (the example stack takes ~10 s).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator import cli, pipeline
from generator.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ENV = {
    "GRAFANA_ADMIN_PASSWORD": "cli-admin",
    "PG_DSN": "postgresql://u:cli-pg@db/shop",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/cli",
    "SMTP_PASSWORD": "cli-smtp",
}
ROUTED = """\
version: 1
name: t
alerts: {packs: none}
notifications:
  receivers: [{name: team, webhook: {url: {env: HOOK_URL}}}, {name: pager, webhook: {url: {env: HOOK_URL}}}]
  default_receiver: team
  routes: [{match: {severity: critical}, receiver: pager}]
  tests: [{labels: {severity: critical}, receivers: [RECEIVER]}]
"""
COMMANDS = ["check", "generate", "test", "up", "down", "status", "diff", "backup", "restore", "report"]


def invoke(*args: str, env: Mapping[str, str | None] | None = None) -> tuple[int, str, str]:
    environ: dict[str, str | None] = {"HOOK_URL": "http://127.0.0.1:9/hook"}
    environ.update(env or {})
    result = CliRunner(env=environ).invoke(app, list(args), prog_name="promstack")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def routed(tmp_path: Path) -> Path:
    """A small spec whose route test passes; `.replace("pager", "team")` on its test makes it fail."""
    spec = tmp_path / "stack.yaml"
    spec.write_text(ROUTED.replace("RECEIVER", "pager"))
    return spec


def test_help_lists_every_command() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    assert "Monitoring as code" in out and "--debug" in out
    for command in COMMANDS:
        assert command in out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0
    assert f"Usage: promstack {command}" in " ".join(out.split())
    assert "spec" in out.lower()


def test_no_arguments_shows_help_and_is_a_usage_error() -> None:
    code, out, err = invoke()
    assert code == 2
    assert "Commands" in out + err


@pytest.mark.parametrize(
    "args",
    [["frobnicate"], ["generate"], ["generate", "stack.yaml", "--bogus"], ["check", "a.yaml", "b.yaml"]],
    ids=["unknown-command", "missing-spec", "unknown-option", "extra-argument"],
)
def test_command_line_mistakes_exit_2(args: list[str]) -> None:
    assert invoke(*args)[0] == 2


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_spec_file_is_refused(tmp_path: Path) -> None:
    code, _, err = invoke("generate", "/dev/zero", "-o", str(tmp_path / "out"))
    assert code == 2
    assert err.startswith("/dev/zero:1:1: $: the spec is a character device, not a regular file")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "SPEC", "--since", "a month"], "--since 'a month' is not a duration"),
        (["report", "SPEC", "--format", "pdf"], "--format must be one of html, markdown, json"),
        (["restore", "SPEC", "missing.tar.gz"], "missing.tar.gz does not exist or is not a file"),
        (["restore", "SPEC", "x.tar.gz", "--runtime", "k8s"], "--runtime must be one of auto, compose, local"),
    ],
    ids=["report-since", "report-format", "restore-missing", "restore-runtime"],
)
def test_operations_command_line_mistakes_exit_2(
    args: list[str], message: str, routed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(
        *[str(routed) if a == "SPEC" else a for a in args], env={"PROMSTACK_STATE_DIR": str(tmp_path)}
    )
    assert code == 2 and message in err, err
    assert not (tmp_path / "t").exists()  # nothing claimed for a command that was wrong


def test_operations_on_a_stack_that_is_not_deployed_exit_1(routed: Path, tmp_path: Path) -> None:
    env = {"PROMSTACK_STATE_DIR": str(tmp_path / "state")}
    for args in (["backup", str(routed), "-o", str(tmp_path / "b.tar.gz")], ["report", str(routed)]):
        code, out, err = invoke(*args, env=env)
        assert code == 1 and "is not deployed here" in err and out == ""
    assert not (tmp_path / "b.tar.gz").exists() and not (tmp_path / "state").exists()


def test_a_bad_archive_exits_2_and_places_nothing(routed: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b not really gzip")
    env = {"PROMSTACK_STATE_DIR": str(tmp_path / "state")}
    code, _, err = invoke("restore", str(routed), str(bad), env=env)
    assert code == 2 and "damaged or truncated, or not a promstack backup" in err
    root = tmp_path / "state" / "t"
    assert not (root / "restore").exists() and not any((root / "data").iterdir())


def test_generate_rejects_unknown_runtime(routed: Path, tmp_path: Path) -> None:
    code, _, err = invoke("generate", str(routed), "-o", str(tmp_path / "out"), "--runtime", "k8s")
    assert code == 2
    assert "--runtime must be compose, local or kubernetes" in err
    assert not (tmp_path / "out").exists()


def test_generate_writes_the_output_contract(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = invoke("generate", str(ROOT / "stack" / "stack.yaml"), "-o", str(out), env=EXAMPLE_ENV)
    assert code == 0, stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert stdout == f"wrote {len(files) - 1} files to {out}\n"  # the manifest is not counted
    for required in ("compose.yaml", "prometheus/prometheus.yml", "alertmanager/alertmanager.yml", ".promstack.json"):
        assert required in files
    # DESIGN.md "Output contract": folders of many files
    patterns = [
        "prometheus/rules/*.yml",
        "prometheus/tests/*.yml",
        "alertmanager/templates/*.tmpl",
        "grafana/provisioning/datasources/*.yaml",
        "grafana/provisioning/dashboards/*.yaml",
        "grafana/dashboards/**/*.json",
        "blackbox-exporter/*.yml",  # the example probes endpoints
    ]
    for pattern in patterns:
        assert list(out.glob(pattern)), f"nothing matches {pattern}"
    for name in ("prometheus", "alertmanager", "node-exporter", "blackbox-exporter", "grafana"):
        assert f"  {name}:" in (out / "compose.yaml").read_text()


def test_generate_runtime_picks_addresses(routed: Path, tmp_path: Path) -> None:
    """compose: peers by service name; local: host processes on 127.0.0.1."""
    for runtime, address in (("compose", "alertmanager:9093"), ("local", "127.0.0.1:9093")):
        out = tmp_path / runtime
        code, _, stderr = invoke("generate", str(routed), "-o", str(out), "--runtime", runtime)
        assert code == 0, stderr
        assert address in (out / "prometheus/prometheus.yml").read_text()


def test_check_passes_and_names_each_check(routed: Path) -> None:
    code, out, err = invoke("check", str(routed))
    assert code == 0, err
    lines = out.splitlines()
    passed = [line[4:] for line in lines if line.startswith("ok  ")]
    assert {"prometheus/config", "alertmanager/config", "routes/test", "rules/check"} <= set(passed)
    # a check that did not run says so, and why; it is not counted as passed
    assert "dashboards/live" not in passed
    assert any(line.startswith("skip  dashboards/live: no running Prometheus to ask") for line in lines)
    assert lines[-1].startswith(f"{routed}: all {len(passed)} checks passed, ")
    assert "dashboards/live" in lines[-1]


def test_check_failure_exits_1(routed: Path) -> None:
    routed.write_text(ROUTED.replace("RECEIVER", "team"))
    code, out, err = invoke("check", str(routed))
    assert code == 1
    assert "routes/test" in err and "team" in err
    assert "all" not in out


def test_test_runs_rule_and_route_tests(routed: Path) -> None:
    code, out, err = invoke("test", str(routed))
    assert code == 0, err
    # and says how many ran: a run that proves nothing must not look like one that proves a lot
    ok, ran = out.splitlines()[:3], out.splitlines()[3]
    assert ok == ["ok  routes/inhibit", "ok  routes/test", "ok  rules/test"]
    # packs: none leaves the Watchdog's pack, and TargetDown's generated tests (scrapes.yml)
    assert ran == (
        "ran 1 route test; 1 walked by amtool and promstack's route model alike; ran 4 rule tests in 2 files"
    )
    routed.write_text(ROUTED.replace("RECEIVER", "team"))
    code, out, err = invoke("test", str(routed))
    assert code == 1
    assert "routes/test" in err


def test_spec_errors_exit_2_for_every_command(tmp_path: Path) -> None:
    spec = tmp_path / "stack.yaml"
    spec.write_text("version: 1\nname: t\nscrape_interval: often\n")
    for args in (["check", str(spec)], ["test", str(spec)], ["generate", str(spec), "-o", str(tmp_path / "o")]):
        code, out, err = invoke(*args)
        assert code == 2, args
        assert err.startswith(f"{spec}:3:18: $.scrape_interval: 'often' is not a valid duration")
        assert out == ""


def test_debug_shows_the_traceback_of_an_error(routed: Path, tmp_path: Path) -> None:
    args = ["generate", str(routed), "-o", str(tmp_path / "out")]
    code, _, err = invoke(*args, env={"HOOK_URL": None})
    assert code == 1
    assert err == "error: secret environment variable HOOK_URL is not set; export it before running promstack\n"
    code, _, err = invoke("--debug", *args, env={"HOOK_URL": None})
    assert code == 1
    assert "Traceback (most recent call last)" in err and "SecretError" in err
    assert err.endswith("error: secret environment variable HOOK_URL is not set; export it before running promstack\n")


def test_a_bug_is_reported_plainly_and_in_full_with_debug(
    routed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`promstack` (cli.run) turns an unexpected exception into one line and exit 1; --debug re-raises it."""

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a promstack bug")

    monkeypatch.setattr(pipeline, "generate", broken)
    monkeypatch.setattr(sys, "argv", ["promstack", "generate", str(routed)])
    with pytest.raises(SystemExit) as exit_info:
        cli.run()
    assert exit_info.value.code == 1
    assert "internal error (a promstack bug); run again with --debug" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["promstack", "--debug", "generate", str(routed)])
    with pytest.raises(RuntimeError, match="a promstack bug"):
        cli.run()


def test_up_refuses_volumes_a_killed_restore_was_writing(routed: Path, tmp_path: Path) -> None:
    """A compose restore killed outright leaves restore.json naming its volumes: `up` must not start on them."""
    from generator.runtimes.state import State

    state = State(tmp_path / "state" / "t", "t")
    state.claim()
    state.restore_journal.write_text('{"volumes": ["t_prometheus-data"]}\n')
    code, _, err = invoke("up", str(routed), "--runtime", "local", env={"PROMSTACK_STATE_DIR": str(tmp_path / "state")})
    assert code == 1 and "a `promstack restore` was stopped while it wrote the data volumes" in err
    assert not state.record_file.exists() and not state.tree.exists()
