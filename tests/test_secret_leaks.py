"""Secrets stay secret, class by class (issue 11, class 2).

1. Receiver secrets go through Alertmanager's `*_file` fields wherever the version that runs has them;
   where it has not, `check` says so (the live /api/v2/status proof is in test_alertmanager.py).
2. Nothing promstack prints shows a secret value it has resolved, whatever the message quotes.
3. Component logs of the local runtime are owner-only and `down --volumes` removes them.
4. No value from the spec can pull a secret into a place the spec did not put it.
5. A secret pasted in the wrong shape is never echoed back.
"""

from __future__ import annotations

import json
import re
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_runtime_local import Deployment, base_spec, deployment_factory, free_ports, need_binaries
from test_secrets import ENV_NAMES, FILES, SPEC
from typer.testing import CliRunner

from generator import cli, conventions, pipeline, redact
from generator.cli import app
from generator.errors import DeployError
from generator.model import SecretRef
from generator.render import Target, alertmanager, alertmanager_receivers, render
from generator.spec import load_stack
from generator.spec import schema as spec_schema
from generator.write import Secrets

# every receiver kind with a secret: (spec settings without the secret, spec field of the secret)
KINDS: dict[str, tuple[dict[str, Any], str]] = {
    "slack": ({"channel": "#ops"}, "url"),
    "webhook": ({}, "url"),
    "pagerduty": ({}, "routing_key"),
    "opsgenie": ({}, "api_key"),
    "wechat": ({"corp_id": "corp", "agent_id": "1"}, "api_secret"),
    "telegram": ({"chat_id": 42}, "bot_token"),
    "discord": ({}, "webhook_url"),
    "msteams": ({}, "webhook_url"),
}
# the version from which Alertmanager reads each kind's secret from a file (docs/compat.md §1b); the
# other kinds read it from a file in every version promstack renders for
FILE_SINCE = {"webhook": (0, 26), "telegram": (0, 26), "discord": (0, 28), "wechat": (0, 31)}
VERSIONS = ["v0.25.0", "v0.26.0", "v0.27.0", "v0.28.1", "v0.30.0", "v0.31.0", "v0.33.1", "latest"]
CONFIGS = {kind: f"{kind}_configs" for kind in KINDS}


def _version(tag: str) -> tuple[int, int] | None:
    found = re.match(r"v(\d+)\.(\d+)", tag)
    return (int(found[1]), int(found[2])) if found else None


def _receivers_spec(kind: str, tag: str) -> dict[str, Any]:
    settings, field = KINDS[kind]
    image = f"prom/alertmanager:{tag}"
    return {
        "components": {"alertmanager": {"image": image}},
        "notifications": {
            "receivers": [{"name": "to-them", kind: {**settings, field: {"env": "T_SECRET"}}}],
            "default_receiver": "to-them",
            "smtp": {"smarthost": "smtp.example.com:587", "from": "a@example.com", "password": {"env": "T_SMTP"}},
        },
    }


def _renderable(kind: str, tag: str) -> bool:
    """msteams is refused before Alertmanager 0.28 (test_alertmanager proves the refusal)."""
    version = _version(tag)
    return kind != "msteams" or version is None or version >= conventions.MSTEAMS_MIN_ALERTMANAGER


@pytest.mark.parametrize(("kind", "tag"), [(k, t) for k in sorted(KINDS) for t in VERSIONS if _renderable(k, t)])
def test_receiver_secret_is_read_from_a_file_wherever_the_version_can(
    kind: str, tag: str, write_spec: Callable[..., Path]
) -> None:
    version = _version(tag)
    stack = load_stack(write_spec(_receivers_spec(kind, tag)))
    tree = render(stack, Target("compose"))
    from_file = kind not in FILE_SINCE or (version is not None and version >= FILE_SINCE[kind])
    path = conventions.ALERTMANAGER_CONFIG
    text = tree.files.get(path) or tree.secrets[path].template
    config = yaml.safe_load(text.replace("$$", "$"))
    (receiver,) = (r for r in config["receivers"] if r["name"] == "to-them")
    (integration,) = receiver[CONFIGS[kind]]
    field = alertmanager_receivers.LATE_FILE_FIELDS.get(kind)
    secret_files = {p for p in tree.secrets if p.startswith("secrets/alertmanager/")}
    assert "secrets/alertmanager/smtp.password" in secret_files  # smtp_auth_password_file: every version
    if from_file:
        assert path in tree.files, "alertmanager.yml holds no secret: a plain file"
        key = next(k for k in integration if k.endswith("_file"))
        assert integration[key] == f"/run/secrets/promstack/to-them.{kind}"
        assert tree.secrets[f"secrets/alertmanager/to-them.{kind}"].values["value"].env == "T_SECRET"
        assert alertmanager.exposed(stack, Target("compose")) == []
    else:
        assert field is not None
        assert path in tree.secrets and integration[field.inline] == "${secret0}"
        assert not any(k.endswith("_file") for k in integration)
        (item,) = alertmanager.exposed(stack, Target("compose"))
        assert (item.receiver, item.kind, item.version) == ("to-them", kind, version)
    # the local runtime renders for the binary that runs: the same choice for the same version
    local = render(stack, Target("local", "/srv/t", versions={"alertmanager": version} if version else {}))
    assert (path in local.files) == from_file


@pytest.mark.parametrize("tag", VERSIONS)
@pytest.mark.parametrize("kind", sorted(FILE_SINCE))
def test_check_warns_about_every_inline_secret_naming_receiver_field_and_version(
    kind: str, tag: str, write_spec: Callable[..., Path]
) -> None:
    spec = write_spec(_receivers_spec(kind, tag))
    result = CliRunner(env={"T_SECRET": "x", "T_SMTP": "y"}).invoke(app, ["check", str(spec)])
    warnings = [
        line for line in result.output.splitlines() if line.startswith("warning: [alertmanager/config] on compose:")
    ]
    version = _version(tag)
    field = alertmanager_receivers.LATE_FILE_FIELDS[kind]
    if version is not None and version >= FILE_SINCE[kind]:
        assert warnings == []
        return
    (warning,) = warnings
    since = f"{FILE_SINCE[kind][0]}.{FILE_SINCE[kind][1]}"
    assert f"the {kind} {field.inline} of receiver 'to-them'" in warning
    assert f"Alertmanager {since} or newer reads it from a file ({field.file})" in warning
    if version is None:
        assert "the image tag names no Alertmanager version" in warning
        assert "set components.alertmanager.version" in warning
    else:
        assert f"Alertmanager {version[0]}.{version[1]} has no {field.file}" in warning
        seen = "shows it to anyone" if kind == "webhook" else "masks it"  # what 0.25 did live, compat.md
        assert f"GET /api/v2/status {seen}" in warning


# --- 4: no spec value can pull a secret in ------------------------------------------------------------


def _string_fields() -> Iterator[tuple[str, str]]:
    """(receiver kind or `smtp`, field) of every plain string a receiver takes from the spec."""
    schema = spec_schema.schema()  # the whole schema, catalog parts included
    for kind, sub in schema["$defs"]["receiver"]["properties"].items():
        for field, spec in sub.get("properties", {}).items():
            if spec.get("type") == "string":
                yield kind, field
    for field, spec in schema["properties"]["notifications"]["properties"]["smtp"]["properties"].items():
        if spec.get("type") == "string":
            yield "smtp", field


STRING_FIELDS = sorted(_string_fields())
# fields validated as URLs (opsgenie and wechat api_url): the forgeries go into the path of a valid one
URL_FIELDS = {
    (kind, field)
    for kind, sub in spec_schema.schema()["$defs"]["receiver"]["properties"].items()
    for field, spec in sub.get("properties", {}).items()
    if spec.get("format") == "url"
}
# what a placeholder or the old marker looked like, and string.Template's own syntax
FORGERIES = [
    "${secret0}",
    "$secret1",
    "x$${secret2}y",
    "PROMSTACKSECRETsecret0PROMSTACKSECRET",
    "'PROMSTACKSECRETsecret3PROMSTACKSECRET'",
    "${value}",
    "promstack-placeholder-not-a-secret",
]


def test_string_fields_cover_every_receiver() -> None:
    assert {kind for kind, _ in STRING_FIELDS} >= {"email", "slack", "opsgenie", "wechat", "smtp"}


@pytest.mark.parametrize(("kind", "field"), STRING_FIELDS)
def test_no_spec_string_pulls_a_secret_in(
    kind: str, field: str, tmp_path: Path, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    values = {f"T_{k.upper()}": f"S3cr3t-{k}-{uuid.uuid4().hex}" for k in KINDS if k != "msteams"}
    values["T_SMTP"] = f"S3cr3t-smtp-{uuid.uuid4().hex}"
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    forged = " ".join(FORGERIES)
    if (kind, field) in URL_FIELDS:
        forged = "https://forged.example/" + "/".join(FORGERIES) + "/"
    receivers = []
    for other, (settings, secret) in KINDS.items():
        if other == "msteams":
            continue
        receivers.append({"name": f"r-{other}", other: {**settings, secret: {"env": f"T_{other.upper()}"}}})
    receivers.append({"name": "r-email", "email": {"to": "ops@example.com"}})
    smtp = {"smarthost": "smtp.example.com:587", "from": "a@example.com", "password": {"env": "T_SMTP"}}
    target = smtp if kind == "smtp" else next(r[kind] for r in receivers if kind in r)
    if field == "smarthost":
        pytest.skip("a host:port, validated as one")
    target[field] = forged
    spec = write_spec(
        components={"alertmanager": {"version": "v0.25.0"}},  # 0.25: most secrets inline, the hardest case
        notifications={"receivers": receivers, "default_receiver": "r-email", "smtp": smtp},
    )
    out = tmp_path / "out"
    pipeline.generate(spec, out)
    text = (out / conventions.ALERTMANAGER_CONFIG).read_text()
    config = yaml.safe_load(text)
    if kind == "smtp":
        key = {"from": "smtp_from", "username": "smtp_auth_username"}[field]
        assert config["global"][key] == forged
    else:
        (receiver,) = (r for r in config["receivers"] if r["name"] == f"r-{kind}")
        assert receiver[CONFIGS.get(kind, f"{kind}_configs")][0][field] == forged, "the value, exactly as given"
    # every secret is where its own receiver put it, nowhere else
    for other, (_, secret) in KINDS.items():
        if other in FILE_SINCE:
            (receiver,) = (r for r in config["receivers"] if r["name"] == f"r-{other}")
            assert receiver[CONFIGS[other]][0][secret] == values[f"T_{other.upper()}"]
    for name, value in values.items():
        assert text.count(value) == (1 if name in {f"T_{k.upper()}" for k in FILE_SINCE} else 0), name


def test_a_receiver_name_cannot_share_another_receivers_secret_file(write_spec: Callable[..., Path]) -> None:
    """Receiver names hold dashes, so `<name>-<field>` files could meet (`x` + `webhook-url`, `x-webhook` +
    `url`); `.` never occurs in a name."""
    spec = write_spec(
        notifications={
            "receivers": [
                {"name": "x", "discord": {"webhook_url": {"env": "A"}}},
                {"name": "x-webhook", "webhook": {"url": {"env": "B"}}},
                {"name": "x-slack", "slack": {"url": {"env": "C"}}},
                {"name": "x-slack-slack", "slack": {"url": {"env": "D"}}},
            ],
            "default_receiver": "x",
        }
    )
    tree = render(load_stack(spec), Target("compose"))
    files = {p: s.values["value"].env for p, s in tree.secrets.items() if p.startswith("secrets/alertmanager/")}
    assert sorted(files.values()) == ["A", "B", "C", "D"]


# --- 5: a secret in the wrong shape is not echoed -------------------------------------------------------

PASTED = "https://hooks.slack.com/services/T000/B000/S3cr3tPasted"
SHAPES = {
    "mapping with the secret as key": f"{{{PASTED}}}",
    "the value itself": PASTED,
    "quoted": f'"{PASTED}"',
    "in a list": f"[{PASTED}]",
    "the secret as env name": f"{{env: {PASTED}}}",
    "a second key": f"{{env: HOOK, {PASTED}: x}}",
    "a key with the secret as value": f"{{value: {PASTED}}}",
    "a number": "12345678",
}
REFS = sorted(set(re.findall(r"\{(?:env|file): [\w./]+\}", SPEC)))


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("ref", REFS)
def test_a_misshapen_secret_is_named_by_its_place_never_shown(ref: str, shape: str, tmp_path: Path) -> None:
    lines = SPEC.splitlines()
    index = next(i for i, line in enumerate(lines) if ref in line)
    lines[index] = lines[index].replace(ref, SHAPES[shape], 1)
    spec = tmp_path / "stack.yaml"
    spec.write_text("\n".join(lines) + "\n")
    result = CliRunner(env=dict.fromkeys(ENV_NAMES, "x")).invoke(app, ["check", str(spec)])
    assert result.exit_code == 2, result.output
    assert "S3cr3tPasted" not in result.output and "hooks.slack.com" not in result.output
    found = [line for line in result.output.splitlines() if line.startswith(f"{spec}:{index + 1}:")]
    assert found, result.output
    assert any("{env: NAME} or {file: PATH}" in line or "not the secret itself" in line for line in found), found


def test_every_secret_reference_of_the_spec_is_tried() -> None:
    assert len(REFS) == len(ENV_NAMES) + len(FILES)


# --- 2: nothing printed shows a resolved secret ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("S3cr3t-plain", "error: S3cr3t-plain"),
        ('pa"ss\\word-S3cr3t', 'err="pa\\"ss\\\\word-S3cr3t"'),  # logfmt / Go %q
        ("https://u:S3cr3tPassw0rd@db:5432/x", "connecting as u:S3cr3tPassw0rd failed"),
        ("https://hooks.test/services/T0/B0/S3cr3tToken", "POST /services/T0/B0/S3cr3tToken: 404"),
        ("https://hooks.test/robot?access_token=S3cr3tToken1", "token S3cr3tToken1 rejected"),
        ("https://hooks.test/x y/S3cr3t", "GET https%3A%2F%2Fhooks.test%2Fx%20y%2FS3cr3t"),
        ("-----BEGIN KEY-----\nS3cr3tKeyLine0123456789\n-----END KEY-----", "bad line S3cr3tKeyLine0123456789"),
        ("http://[S3cr3t-not-a-url/x", "parse \"http://[S3cr3t-not-a-url/x\": missing ']' in host"),
    ],
)
def test_redactor_removes_every_spelling_a_message_quotes(value: str, quoted: str) -> None:
    redactor = redact.Redactor()
    redactor.remember(value)
    cleaned = redactor.clean(f"before {quoted} after")
    assert "S3cr3t" not in cleaned and cleaned.startswith("before ") and cleaned.endswith(" after")
    assert redact.MARK in cleaned


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_cli_edge_cleans_errors_and_tracebacks(
    debug: list[str], tmp_path: Path, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any message, however it came to quote a value promstack resolved, is cleaned where the CLI prints it
    (the live tests below go through real component logs)."""
    value = f"S3cr3t-{uuid.uuid4().hex}"
    spec = write_spec()

    def failing(
        spec: Path, out: Path, runtime: str = "compose", placeholders: bool = False, env: str | None = None
    ) -> None:
        url = Secrets(spec.parent, environ={"HOOK_URL": f"https://hooks.test/{value}"}).value(SecretRef(env="HOOK_URL"))
        raise DeployError(f"the receiver refused {url}: {json.dumps({'url': url})}")

    monkeypatch.setattr(pipeline, "generate", failing)
    result = CliRunner().invoke(app, [*debug, "generate", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "error: the receiver refused <redacted>" in result.output
    assert ("Traceback" in result.output) == bool(debug)
    assert value not in result.output


# --- 2 and 3 live: a component that logs its secret, on the local runtime --------------------------------


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def _bad_url(token: str) -> str:
    """A webhook URL Alertmanager cannot parse: it refuses its config and logs the URL in full."""
    return f"http://[{token}/hook"


def _assert_private_logs(stack: Deployment) -> None:
    logs = stack.root / "logs"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    files = [p for p in logs.iterdir() if p.is_file()]
    assert {"supervisord.log", "alertmanager.log"} <= {p.name for p in files}
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def _failed_up_hides(stack: Deployment, token: str) -> str:
    """`up` fails on Alertmanager, which logged `token`: the output quotes the log cleaned; logs are private."""
    result = stack.up(expect=1)
    output = result.stdout + result.stderr
    assert token not in output and redact.MARK in output  # quoted, and cleaned where printed
    assert token in (stack.root / "logs" / "alertmanager.log").read_text(), "the log held it: a real test"
    _assert_private_logs(stack)
    return output


@pytest.mark.live
def test_first_up_failure_does_not_quote_the_secret_a_component_logged(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    need_binaries()
    token = f"S3cr3t-{uuid.uuid4().hex}"
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "leak1")), "local", ports, HOOK_URL=_bad_url(token))
    output = _failed_up_hides(stack, token)
    assert "alertmanager" in output and "last log lines" in output, output  # the message still explains
    status = stack.run("status", str(stack.spec))
    assert token not in status.stdout + status.stderr
    stack.close()  # down --volumes
    assert not (stack.root / "logs").exists()


@pytest.mark.live
def test_refused_reload_and_rollback_do_not_quote_the_secret_a_component_logged(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    need_binaries()
    token = f"S3cr3t-{uuid.uuid4().hex}"
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "leak2")), "local", ports, HOOK_URL="http://127.0.0.1:9/ok")
    stack.up()
    stack.extra_env["HOOK_URL"] = _bad_url(token)
    output = _failed_up_hides(stack, token)
    assert "rolling back" in output and "back on its previous configuration" in output, output
    diff = stack.run("diff", str(stack.spec))
    assert token not in diff.stdout + diff.stderr


def test_an_uncaught_exception_with_debug_is_reported_cleaned(capsys: pytest.CaptureFixture[str]) -> None:
    value = f"S3cr3t-{uuid.uuid4().hex}"
    redact.remember(value)
    try:
        raise RuntimeError(f"a bug while holding {value}")
    except RuntimeError as exc:
        cli._excepthook(RuntimeError, exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "RuntimeError: a bug while holding <redacted>" in err and value not in err


def test_a_tiny_secret_does_not_garble_every_message() -> None:
    """A one- or three-letter "secret" (tests use them) is not hunted in every line: replacing each "r"
    would make every later message unreadable; a longer one still is."""
    redactor = redact.Redactor()
    for value in ("r", "ab", "xyz", "long-enough"):
        redactor.remember(value)
    assert (
        redactor.clean("error: the receiver refused xyz, long-enough") == "error: the receiver refused xyz, <redacted>"
    )


# --- 2: what an earlier deployment was given is known too ----------------------------------------------------


def test_secrets_an_earlier_deployment_left_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A component's log may quote what an earlier `up` gave it (a webhook URL replaced since, a log that
    `down` kept): every command that reads the state dir learns the values it holds before printing. The
    state dir here is written by promstack's own writer (live tree, last good tree, a local env file)."""
    from generator.runtimes import deployed_secrets
    from generator.runtimes.state import State

    old = {name: f"S3cr3t-old-{name}-{uuid.uuid4().hex}" for name in ("SLACK", "PROM", "PD", "REDIS")}
    monkeypatch.setattr(redact, "REDACTOR", redact.Redactor())  # nothing resolved in this run
    spec = tmp_path / "stack.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "name": "old",
                "components": {"prometheus": {"auth": {"basic": {"username": "admin", "password": {"env": "PROM"}}}}},
                "exporters": {"redis": {"targets": ["redis:6379"], "password": {"env": "REDIS"}}},
                "notifications": {
                    "receivers": [
                        {"name": "s", "slack": {"url": {"env": "SLACK"}}},
                        {"name": "p", "pagerduty": {"routing_key": {"env": "PD"}}},
                    ],
                    "default_receiver": "s",
                },
            }
        )
    )
    state = State(tmp_path / "state" / "old", "old")
    for name, value in old.items():
        monkeypatch.setenv(name, value)
    pipeline.generate(spec, state.tree, "local")
    pipeline.generate(spec, state.last_good, "local")
    (state.run / "env").mkdir(parents=True)
    (state.run / "env" / "redis-exporter.env").write_text(f"REDIS_ADDR=redis:6379\nREDIS_PASSWORD='{old['REDIS']}'\n")
    monkeypatch.setattr(redact, "REDACTOR", redact.Redactor())  # generate remembered them: forget again

    deployed_secrets.remember(state)
    log = " ".join(f'level=error msg="refused" value={value}' for value in old.values())
    cleaned = redact.clean(f"alertmanager basic_auth_users admin: {log}")
    assert not any(value in cleaned for value in old.values()), cleaned
    assert cleaned.startswith("alertmanager basic_auth_users admin: level=error")  # ordinary words stay


@pytest.mark.parametrize("forged", FORGERIES)
@pytest.mark.parametrize("where", ["basic-auth username", "route matcher", "route group_by"])
def test_no_spec_string_outside_the_receivers_pulls_a_secret_in(
    where: str, forged: str, tmp_path: Path, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other templates made from the spec: web.yml (a basic-auth user next to a bcrypt placeholder) and
    alertmanager.yml's routes (inline secrets on 0.25). Every template checks that it names only its own
    placeholders (SecretFile), so a forged one would stop the render instead of filling in a secret."""
    monkeypatch.setenv("HOOK_URL", hook := f"http://hooks.test/S3cr3t-{uuid.uuid4().hex}")
    monkeypatch.setenv("NODE_PW", password := f"S3cr3t-{uuid.uuid4().hex}")
    user = forged if where == "basic-auth username" else "scraper"
    route: dict[str, Any] = {"receiver": "team", "match": {"team": "ops"}}
    if where == "route matcher":
        route["match"] = {"team": forged}
    if where == "route group_by":
        route["group_by"] = ["alertname", forged.replace("$", "").replace("{", "").replace("}", "").replace("'", "")]
    spec = write_spec(
        components={"alertmanager": {"version": "v0.25.0"}},
        exporters={"node": {"expose": True, "auth": {"basic": {"username": user, "password": {"env": "NODE_PW"}}}}},
        notifications={
            "receivers": [{"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}}],
            "default_receiver": "team",
            "routes": [route],
        },
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["generate", str(spec), "-o", str(out)])
    if result.exit_code == 2:  # refused as a value of its kind (a label name): nothing written
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    web = yaml.safe_load((out / "secrets/node-exporter/web-config.yml").read_text())
    assert list(web["basic_auth_users"]) == [user]
    config = (out / conventions.ALERTMANAGER_CONFIG).read_text()
    assert config.count(hook) == 1 and password not in config
    if where == "route matcher":
        matchers = [m for r in yaml.safe_load(config)["route"]["routes"] for m in r.get("matchers", [])]
        assert f"team={json.dumps(forged)}" in matchers, matchers  # the value, exactly as given
