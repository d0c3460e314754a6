"""Secrets end to end through `promstack generate`: where their values may land, and where never.

Every secret reference of a spec that uses every kind gets a distinctive value; the whole written tree is
then scanned. A value may only sit in a 0600 file below `secrets/` whose folders are all 0700, or in
one of the few whole config files that must inline it (0600 as a whole). It must never reach
prometheus.yml, compose.yaml, .env, the manifest, or anything the CLI prints, errors included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from generator.cli import app
from generator.pipeline import render_spec

SPEC = """\
version: 1
name: vault
components:
  prometheus:
    expose: true
    auth:
      basic: {username: admin, password: {env: PROM_PW}}
      tls: {cert: {file: keys/tls.crt}, key: {file: keys/tls.key}}
  alertmanager:
    expose: true
    auth: {basic: {username: admin, password: {env: AM_PW}}}
  grafana: {admin_password: {file: keys/admin.txt}}
exporters:
  node:
    expose: true
    auth: {basic: {username: scraper, password: {env: NODE_PW}}}
  redis: {targets: ["redis:6379"], password: {env: REDIS_PW}}
  postgres: {dsn: {env: PG_DSN}}
  mysqld: {address: "db:3306", user: exporter, password: {env: MYSQL_PW}}
notifications:
  receivers:
    - {name: slack, slack: {url: {env: SLACK_URL}, channel: "#ops"}}
    - {name: hook, webhook: {url: {env: HOOK_URL}}}
    - {name: pd, pagerduty: {routing_key: {env: PD_KEY}}}
    - {name: og, opsgenie: {api_key: {env: OG_KEY}}}
    - {name: tg, telegram: {bot_token: {env: TG_TOKEN}, chat_id: 42}}
    - {name: dc, discord: {webhook_url: {env: DISCORD_URL}}}
    - {name: wc, wechat: {corp_id: corp, agent_id: "1", api_secret: {env: WECHAT_SECRET}}}
    - {name: dt, dingtalk: {url: {env: DINGTALK_URL}, secret: {env: DINGTALK_SECRET}}}
    - {name: mail, email: {to: ops@example.com}}
  smtp: {smarthost: "smtp.example.com:587", from: a@example.com, username: a, password: {env: SMTP_PW}}
  default_receiver: mail
  routes:
    - {match: {severity: critical}, receiver: pd}
"""
ENV_NAMES = [
    "PROM_PW",
    "AM_PW",
    "NODE_PW",
    "REDIS_PW",
    "PG_DSN",
    "MYSQL_PW",
    "SLACK_URL",
    "HOOK_URL",
    "PD_KEY",
    "OG_KEY",
    "TG_TOKEN",
    "DISCORD_URL",
    "WECHAT_SECRET",
    "DINGTALK_URL",
    "DINGTALK_SECRET",
    "SMTP_PW",
]
FILES = {"keys/admin.txt": "ADMIN", "keys/tls.crt": "CERT", "keys/tls.key": "KEY"}
# whole config files that must inline a secret (0600 as a whole, in their component's folder, which a
# container running as another user must be able to enter): Alertmanager 0.25 has no *_file field for
# webhook, telegram, wechat and discord (the dingtalk adapter reads a file per secret)
INLINED = {"alertmanager/alertmanager.yml"}
NEVER = {"compose.yaml", ".env", ".promstack.json", "prometheus/prometheus.yml"}


def secret(kind: str) -> str:
    return f"S3cr3t-{kind}-{uuid.uuid4().hex}"


@pytest.fixture
def values() -> dict[str, str]:
    """Secret name (env variable or spec-relative file) -> its distinctive value."""
    found = {name: secret(name) for name in ENV_NAMES}
    found["PG_DSN"] = f"postgresql://exporter:{secret('pg')}@db:5432/shop?sslmode=disable"
    found["SLACK_URL"] = f"https://hooks.slack.com/services/T0/B0/{secret('slack')}"
    for rel, kind in FILES.items():
        found[rel] = secret(kind)
    found["keys/tls.crt"] = f"-----BEGIN CERTIFICATE-----\n{found['keys/tls.crt']}\n-----END CERTIFICATE-----"
    return found


@pytest.fixture
def spec(tmp_path: Path, values: dict[str, str]) -> Path:
    folder = tmp_path / "spec"
    (folder / "keys").mkdir(parents=True)
    for rel in FILES:
        (folder / rel).write_text(values[rel] + "\n")
    path = folder / "stack.yaml"
    path.write_text(SPEC)
    return path


def run(args: list[str], values: dict[str, str], **env: str | None) -> tuple[int, str]:
    environ: dict[str, str | None] = {name: values[name] for name in ENV_NAMES}
    environ.update(env)
    result = CliRunner(env=environ).invoke(app, args)
    return result.exit_code, result.output


def leaks(text: str, values: dict[str, str]) -> list[str]:
    return [name for name, value in values.items() if value in text or _core(value) in text]


def _core(value: str) -> str:
    """The distinctive part of a value (also when a renderer takes, say, only the password of a DSN)."""
    return next((part for part in value.replace("@", ":").replace("/", ":").split(":") if "S3cr3t" in part), value)


def scan(out: Path, values: dict[str, str]) -> dict[str, set[str]]:
    """Check every file of the tree; return secret name -> files holding its value."""
    where: dict[str, set[str]] = {}
    for path in sorted(out.rglob("*")):
        rel = str(path.relative_to(out))
        mode = path.stat().st_mode & 0o7777
        if path.is_dir():
            assert mode in (0o755, 0o700), f"{rel}: folder mode {mode:o}"
            continue
        assert mode in (0o644, 0o600), f"{rel}: mode {mode:o}"
        found = leaks(path.read_text(errors="replace"), values)
        if not found:
            continue
        assert rel not in NEVER, f"{rel} holds {found}"
        assert mode == 0o600, f"{rel} holds {found} but has mode {mode:o}"
        if rel not in INLINED:
            assert rel.startswith("secrets/"), f"{rel} holds {found} outside secrets/"
            for folder in path.relative_to(out).parents:
                if str(folder) != ".":
                    assert (out / folder).stat().st_mode & 0o777 == 0o700, f"{folder} holds {rel} but is not 0700"
        for name in found:
            where.setdefault(name, set()).add(rel)
    return where


@pytest.mark.parametrize("runtime", ["compose", "local"])
def test_secret_values_only_in_private_files(spec: Path, values: dict[str, str], runtime: str) -> None:
    out = spec.parent.parent / "out"
    code, output = run(["generate", str(spec), "-o", str(out), "--runtime", runtime], values)
    assert code == 0, output
    assert leaks(output, values) == []
    where = scan(out, values)
    # every secret is delivered: written into a private file, or handed to its component through the
    # environment by the runtime (then it must be declared in the tree, and is never written)
    rendered = render_spec(spec, runtime, out, leave_out=True)  # as generate: without what this host cannot run
    by_env = {ref.env for variables in rendered.tree.env.values() for ref in variables.values()}
    # a component the local runtime leaves out here (Grafana, where it is not installed) needs none of its own
    whole = render_spec(spec, runtime, out).stack.components
    unused = {ref.env or ref.file for c in rendered.left_out for ref in whole[c].secrets.values()}
    missing = [name for name in values if name not in where and name not in by_env and name not in unused]
    assert missing == [], f"secrets neither written nor passed by environment: {missing}"
    # the values went through the writer as they are: no truncation, no quoting in single-value files
    if "grafana" not in rendered.left_out:
        assert (out / "secrets/grafana/admin_password").read_text() == values["keys/admin.txt"]


def test_check_output_has_no_secret(spec: Path, values: dict[str, str]) -> None:
    """`check` renders with placeholders: no value is read, so none can be printed, even by a failing tool."""
    code, output = run(["check", str(spec)], values)
    assert code == 0, output
    assert "checks passed" in output.splitlines()[-1]
    assert leaks(output, values) == []


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_missing_env_names_the_variable_only(spec: Path, values: dict[str, str], debug: list[str]) -> None:
    out = spec.parent / "out"
    code, output = run([*debug, "generate", str(spec), "-o", str(out)], values, PD_KEY=None)
    assert code == 1
    assert "secret environment variable PD_KEY is not set" in output
    assert leaks(output, values) == []
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read: No such file or directory"),
        ("dir", "cannot be read: Is a directory"),
        (b"\xffS3cr3t-binary\xfe", "is not UTF-8 text"),
        (b"\n", "is empty"),
    ],
)
def test_unusable_secret_file(spec: Path, values: dict[str, str], content: bytes | str | None, message: str) -> None:
    admin = spec.parent / "keys" / "admin.txt"
    admin.unlink()
    if content == "dir":
        admin.mkdir()
    elif isinstance(content, bytes):
        admin.write_bytes(content)
    code, output = run(["generate", str(spec), "-o", str(spec.parent / "out")], values)
    assert code == 1
    assert "secret" in output and str(admin) in output and message in output
    assert "S3cr3t" not in output
    assert not (spec.parent / "out").exists()


def test_empty_env_value_is_refused(spec: Path, values: dict[str, str]) -> None:
    code, output = run(["generate", str(spec), "-o", str(spec.parent / "out")], values, SMTP_PW="")
    assert code == 1
    assert "secret environment variable SMTP_PW is empty" in output


def test_basic_auth_password_longer_than_bcrypt_can_hash(spec: Path, values: dict[str, str]) -> None:
    code, output = run(["generate", str(spec), "-o", str(spec.parent / "out")], values, NODE_PW="S3cr3t" * 13)
    assert code == 1
    assert "secret environment variable NODE_PW is longer than 72 bytes" in output
    assert "S3cr3t" not in output


def test_value_cannot_break_out_of_its_yaml_string(spec: Path, values: dict[str, str]) -> None:
    """A quote or line break in an inlined secret stays inside the string it was put in."""
    hostile = 'http://hooks.example.com/x"\n  evil: "yes\\'
    # Alertmanager 0.25 reads a webhook url only inline
    spec.write_text(spec.read_text().replace("  alertmanager:\n", "  alertmanager:\n    version: v0.25.0\n"))
    out = spec.parent / "out"
    code, output = run(["generate", str(spec), "-o", str(out)], values, HOOK_URL=hostile)
    assert code == 0, output
    config = yaml.safe_load((out / "alertmanager/alertmanager.yml").read_text())
    hook = next(r for r in config["receivers"] if r["name"] == "hook")
    assert hook["webhook_configs"][0]["url"] == hostile
    assert "evil" not in hook["webhook_configs"][0]


def test_multiline_value_cannot_add_lines_to_a_file(spec: Path, values: dict[str, str]) -> None:
    code, output = run(["generate", str(spec), "-o", str(spec.parent / "out")], values, MYSQL_PW="pw\nhost=evil")
    assert code == 1
    assert "secret environment variable MYSQL_PW spans several lines" in output
    assert "evil" not in output


def test_file_references_are_relative_to_the_spec_folder(
    spec: Path, values: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # neither the spec's folder nor its parent
    absolute = tmp_path / "absolute-key.txt"
    absolute.write_text(values["keys/tls.key"] + "\n")
    spec.write_text(spec.read_text().replace("{file: keys/tls.key}", f"{{file: {absolute}}}"))
    code, output = run(["generate", "../spec/stack.yaml", "-o", "out"], values)
    assert code == 0, output
    where = scan(elsewhere / "out", values)
    assert "secrets/grafana/admin_password" in where["keys/admin.txt"]
    assert any(rel.startswith("secrets/prometheus/") for rel in where["keys/tls.key"])
    assert sorted(p.name for p in elsewhere.iterdir()) == ["out"]


def _all_refs(data: object) -> Iterator[str]:
    if isinstance(data, dict):
        if set(data) in ({"env"}, {"file"}):
            yield str(next(iter(data.values())))
        for value in data.values():
            yield from _all_refs(value)
    elif isinstance(data, list):
        for value in data:
            yield from _all_refs(value)


def test_spec_covers_every_secret_kind() -> None:
    """Guards the scan: every secret reference the spec makes has a value, and every schema kind is used."""
    refs = set(_all_refs(yaml.safe_load(SPEC)))
    assert refs == set(ENV_NAMES) | set(FILES)
    receivers = {kind for r in yaml.safe_load(SPEC)["notifications"]["receivers"] for kind in r if kind != "name"}
    assert {"slack", "webhook", "pagerduty", "opsgenie", "telegram", "discord", "email"} <= receivers


# every tool that reads a password, a token or a URL from its own file (Prometheus' and the exporters' HTTP
# clients for basic auth, Alertmanager's *_file fields, Grafana's $__file{} and __FILE) trims the whitespace
# around it: Prometheus then sent "pw" to a web.yml that checks " pw " and its own scrape got 401
# (docs/compat.md §8e); promstack's DingTalk adapter strips them too. These references reach such a file on
# compose (Alertmanager 0.33.1 reads every receiver secret from one); the others go into environment
# variables, my.cnf between backticks, or PEM (certificate, key), where the whitespace stays what it is.
TRIMMED = {"PROM_PW", "AM_PW", "NODE_PW", "SLACK_URL", "HOOK_URL", "PD_KEY", "OG_KEY", "TG_TOKEN"}
TRIMMED |= {"DISCORD_URL", "WECHAT_SECRET", "SMTP_PW", "DINGTALK_URL", "DINGTALK_SECRET", "keys/admin.txt"}


@pytest.mark.parametrize("padding", [" {} ", "\n{}\t"], ids=["spaces", "newline-and-tab"])
@pytest.mark.parametrize("name", [*ENV_NAMES, *FILES])
def test_a_secret_its_reader_would_trim_is_refused_unshown(
    name: str, padding: str, spec: Path, values: dict[str, str]
) -> None:
    padded = padding.format(values[name])
    if name in FILES:
        (spec.parent / name).write_text(padded + "\n")  # (the file's own last line break is not the value's)
        env: dict[str, str] = {}
    else:
        env = {name: padded}
    out = spec.parent / "out"
    code, output = run(["generate", str(spec), "-o", str(out), "--runtime", "compose"], values, **env)
    assert leaks(output, values) == []
    if name not in TRIMMED:  # kept as written (a line break is refused where a value must be one line)
        assert code == 0 or ("\n" in padding and "spans several lines" in output), output
        return
    assert code == 1, output
    assert "begins or ends with whitespace, which the tool reading it from its file drops" in output
    assert f"secret {'environment variable' if name in ENV_NAMES else 'file'} {name} " in output
    assert not out.exists()


@pytest.mark.parametrize("name", ["PROM_PW", "AM_PW", "NODE_PW"])
def test_a_password_grafana_would_expand_is_refused_unshown(name: str, spec: Path, values: dict[str, str]) -> None:
    """Grafana reads the Prometheus and Alertmanager basic-auth passwords through $__file{} and expands $VAR
    in what it reads (pkg/services/provisioning/values): `pa$HOME` would reach it as `pa/root`. node-exporter's
    password never reaches Grafana, so a `$` in it is fine."""
    code, output = run(["generate", str(spec), "-o", str(spec.parent / "out")], values, **{name: "S3cr3t$HOME"})
    assert "S3cr3t" not in output
    if name == "NODE_PW":
        assert code == 0, output
        return
    assert code == 1, output
    assert f"secret environment variable {name} contains '$': Grafana reads it through $__file{{}}" in output
