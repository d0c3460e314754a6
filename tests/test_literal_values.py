"""Values mean what the user wrote: every string and number of the spec reaches each tool unchanged, or is
refused with its location.

- every single-line string field of the schema refuses a line break or carriage return, and every
  number field refuses YAML's .nan, .inf and -.inf (walked from the schema, so a new field is covered);
- `$` survives Grafana's provisioning reader (checked with a model of its expansion rules: no Grafana
  binary here), Prometheus' external-label expansion (the real Debian Prometheus 2.42) and the
  mysqld_exporter my.cnf parser, with `#`, `;`, spaces, quotes, backslashes and `=` (the real Debian
  mysqld_exporter 0.14 against tests/fake_mysql.py, a fake MySQL server that checks the password).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fake_mysql import Attempt, FakeMySQL
from test_render_compose import build
from typer.testing import CliRunner

from generator import catalog, conventions
from generator.cli import app
from generator.render import Target, render
from generator.render.args import command
from generator.spec.loader import child_path
from generator.spec.schema_errors import schema
from generator.write import Secrets, write_tree

# everything Grafana, Prometheus or a shell would expand, and a literal $$
HOSTILE = "cost $5 $HOME ${HOME} $$ $__file{/etc/passwd} $__env{HOME} ${PROMSTACK_T}"


# -- the schema, walked ------------------------------------------------------------------------------
Path_ = tuple[str | int, ...]


def _fields(node: dict[str, Any], path: Path_ = (), seen: frozenset[str] = frozenset()) -> Iterator[tuple[Path_, Any]]:
    """(path, schema) of every value the schema describes; a recursive $ref is followed once."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return
        seen |= {ref}
        node = {**schema()["$defs"][ref.rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    yield path, node
    for branch in node.get("oneOf", []):
        yield from _fields(branch, path, seen)
    for key, sub in node.get("properties", {}).items():
        yield from _fields(sub, (*path, key), seen)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        key = "Kx" if node.get("propertyNames", {}).get("format") == "alertname" else "k"
        yield from _fields(extra, (*path, key), seen)
    if isinstance(node.get("items"), dict):
        yield from _fields(node["items"], (*path, 0), seen)


def _types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type", [])
    return set(kind if isinstance(kind, list) else [kind])


def _of_type(kinds: set[str]) -> dict[str, Path_]:
    return {_json_path(p): p for p, node in _fields(schema()) if _types(node) & kinds and not node.get("x-multiline")}


def _json_path(path: Path_) -> str:
    text = "$"
    for part in path:
        text = child_path(text, part)
    return text


def _place(path: Path_, value: Any) -> dict[str, Any]:
    """A document holding `value` at `path` (the rest may be incomplete: only this value's problem counts)."""
    doc: dict[str, Any] = {"version": 1, "name": "t"}
    here: Any = doc
    for part, following in zip(path, (*path[1:], None), strict=True):
        child: Any = value if following is None else ([] if isinstance(following, int) else {})
        if isinstance(part, int):
            here.append(child)
        elif following is None or part not in here or not isinstance(here[part], (dict, list)):
            here[part] = child
        here = here[part] if isinstance(part, str) else here[-1]
    return doc


SINGLE_LINE = _of_type({"string"})
NUMBERS = _of_type({"number", "integer"})
# every mapping whose keys the user chooses (labels, matchers, overrides, ...): a key is a value too
MAPS = {_json_path(p): p for p, node in _fields(schema()) if isinstance(node.get("additionalProperties"), dict)}


def test_the_walk_finds_the_fields_the_issue_names() -> None:
    for path in (
        "$.images.registry",
        "$.components.prometheus.image",
        "$.services[0].metrics_path",
        "$.services[0].targets[0]",
        "$.exporters.mysqld.address",
        "$.components.grafana.url",
        "$.external_labels.k",
        "$.services[0].labels.k",
        "$.notifications.smtp.from",
        "$.notifications.receivers[0].email.to",
        "$.alerts.rules[0].summary",
    ):
        assert path in SINGLE_LINE
    assert len(SINGLE_LINE) > 80
    assert "$.alerts.rules[0].expr" not in SINGLE_LINE  # PromQL and descriptions may span lines
    assert {"$.services[0].slos[0].objective", "$.demo.error_ratio", "$.components.prometheus.port"} <= set(NUMBERS)


def _generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: dict[str, Any], verb: str = "generate") -> Any:
    monkeypatch.chdir(tmp_path)
    Path("stack.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    result = CliRunner().invoke(app, [verb, "stack.yaml", *(["-o", "out"] if verb == "generate" else [])])
    assert result.exit_code == 2, result.output
    assert not Path("out").exists()
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("brk", ["\n", "\r"], ids=["LF", "CR"])
@pytest.mark.parametrize("path", sorted(SINGLE_LINE))
def test_single_line_fields_refuse_line_breaks(
    path: str, brk: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _generate(tmp_path, monkeypatch, _place(SINGLE_LINE[path], f"a{brk}b"))
    what = "a line break" if brk == "\n" else "a carriage return"
    line = re.compile(rf"stack\.yaml:\d+:\d+: {re.escape(path)}: must be a single line, but it contains {what}")
    assert any(line.fullmatch(text) for text in result.stderr.splitlines()), result.stderr


def test_the_walk_finds_every_map_of_user_keys() -> None:
    assert {"$.external_labels", "$.services[0].labels", "$.alerts.overrides"} <= set(MAPS)
    assert {"$.notifications.routes[0].match", "$.notifications.routes[0].match_re"} <= set(MAPS)
    assert "$.notifications.tests[0].labels" in MAPS


@pytest.mark.parametrize("verb", ["generate", "check"])
@pytest.mark.parametrize("brk", ["\n", "\r"], ids=["LF", "CR"])
@pytest.mark.parametrize("path", sorted(MAPS))
def test_keys_refuse_line_breaks(
    path: str, brk: str, verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key lands where a value does (a label name in prometheus.yml, a matcher in alertmanager.yml): a line
    break in one was let through to the tools (exit 1, or a crash rendering a route's matchers)."""
    key = f"a{brk}b"
    result = _generate(tmp_path, monkeypatch, _place(MAPS[path], {key: "x"}), verb)
    what = "a line break" if brk == "\n" else "a carriage return"
    where = re.escape(f"{path}[{key!r}]")
    line = re.compile(
        rf"stack\.yaml:\d+:\d+: {where}: the key {re.escape(repr(key))} must be a single line, but it contains {what}"
    )
    assert any(line.fullmatch(text) for text in result.stderr.splitlines()), result.stderr


def test_multiline_fields_keep_line_breaks(write_spec: Callable[..., Path]) -> None:
    rule = {"alert": "Two", "expr": "up\n== 0\n", "severity": "info", "summary": "s", "description": "a\nb\n"}
    rule["tests"] = [{"series": {"up": "0x10"}, "fires": True}]
    result = CliRunner().invoke(app, ["generate", str(write_spec({"alerts": {"rules": [rule]}})), "-o", "out"])
    assert "single line" not in result.output


@pytest.mark.parametrize("verb", ["generate", "check"])
@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf], ids=[".nan", ".inf", "-.inf"])
@pytest.mark.parametrize("path", sorted(NUMBERS))
def test_numbers_must_be_finite(
    path: str, number: float, verb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _generate(tmp_path, monkeypatch, _place(NUMBERS[path], number), verb)
    spelled = ".nan" if math.isnan(number) else ".inf" if number > 0 else "-.inf"
    line = re.compile(rf"stack\.yaml:\d+:\d+: {re.escape(path)}: expected a finite number, got {re.escape(spelled)}")
    lines = [text for text in result.stderr.splitlines() if text.split(": ")[1:2] == [path]]
    assert len(lines) == 1 and line.fullmatch(lines[0]), result.stderr  # one problem per value


# -- Grafana provisioning ----------------------------------------------------------------------------
# A model of how Grafana reads a provisioning value, ported from pkg/services/provisioning/values
# (interpolateValue: split at $$, each part through setting.ExpandVar, then os.ExpandEnv, joined with
# $) and pkg/setting/expanders.go (regex, env expander before the file expander, file contents
# trimmed). No Grafana binary runs here, so the model stands in for it.
_EXPANDER = re.compile(r"\$(|__\w+){([^}]+)}")


def grafana_value(text: str, env: dict[str, str], read: Callable[[str], str]) -> str:
    parts = []
    for part in text.split("$$"):
        for name, expand in (("env", lambda v: env.get(v, "")), ("file", lambda p: read(p).strip())):
            for match in _EXPANDER.finditer(part):
                if match[1] == f"__{name}" or (match[1] == "" and name == "env"):
                    part = part.replace(match[0], expand(match[2]), 1)
        parts.append(go_expand(part, lambda v: env.get(v, "")))
    return "$".join(parts)


def go_expand(s: str, mapping: Callable[[str], str]) -> str:
    """Go's os.Expand."""
    out, i, j = [], 0, 0
    while j < len(s):
        if s[j] == "$" and j + 1 < len(s):
            out.append(s[i:j])
            name, width = _shell_name(s[j + 1 :])
            if name:
                out.append(mapping(name))
            elif width == 0:
                out.append("$")
            j += width
            i = j + 1
        j += 1
    return "".join(out) + s[i:]


def _shell_name(s: str) -> tuple[str, int]:
    special = "*#$@!?-0123456789"
    if s[0] == "{":
        if len(s) > 2 and s[1] in special and s[2] == "}":
            return s[1], 3
        end = s.find("}")
        return ("", 1) if end < 0 else ("", 2) if end == 1 else (s[1:end], end + 1)
    if s[0] in special:
        return s[0], 1
    width = next((k for k, c in enumerate(s) if not (c == "_" or (c.isascii() and c.isalnum()))), len(s))
    return s[:width], width


ENV = {"HOME": "/root", "PROMSTACK_T": "expanded"}


def _read(path: str) -> str:
    return f" contents of {path}\n"


def test_the_grafana_model_follows_the_documented_rules() -> None:
    assert grafana_value("$$HOME", ENV, _read) == "$HOME"
    assert grafana_value("a $HOME ${HOME} $__env{HOME}", ENV, _read) == "a /root /root /root"
    assert grafana_value("$__file{/etc/passwd}", ENV, _read) == "contents of /etc/passwd"
    assert grafana_value("5$ and $$$$", ENV, _read) == "5$ and $$"


def _tls(user: str) -> dict[str, Any]:
    return {
        "basic": {"username": user, "password": {"env": "PW"}},
        "tls": {"cert": {"file": "c"}, "key": {"file": "k"}},
    }


# (spec, target root, rendered file, path in it, value Grafana must load)
GRAFANA_FIELDS: dict[str, tuple[dict[str, Any], str, str, tuple[str | int, ...], str]] = {
    "dashboard-folder": ({"dashboards": {"folder": HOSTILE}}, "/srv", "providers", ("providers", 0, "folder"), HOSTILE),
    "dashboards-path": (
        {},
        "/srv/$HOME",
        "providers",
        ("providers", 0, "options", "path"),
        "/srv/$HOME/grafana/dashboards/promstack",
    ),
    "prometheus-user": (
        {"components": {"prometheus": {"auth": {"basic": {"username": HOSTILE, "password": {"env": "PW"}}}}}},
        "/srv",
        "datasources",
        ("datasources", 0, "basicAuthUser"),
        HOSTILE,
    ),
    "alertmanager-user": (
        {"components": {"alertmanager": {"auth": _tls(HOSTILE)}}},
        "/srv",
        "datasources",
        ("datasources", 1, "basicAuthUser"),
        HOSTILE,
    ),
    "tls-server-name": (
        {"components": {"prometheus": {"url": "https://p$HOME.x$$y.example.com", "auth": _tls("u")}}},
        "/srv",
        "datasources",
        ("datasources", 0, "jsonData", "serverName"),
        "p$home.x$$y.example.com",  # the host of the URL, as urlsplit lowers it
    ),
}
_FILES = {"providers": conventions.GRAFANA_PROVIDERS_DIR, "datasources": conventions.GRAFANA_DATASOURCES_DIR}


@pytest.mark.parametrize("field", sorted(GRAFANA_FIELDS))
def test_grafana_loads_provisioning_values_as_written(field: str) -> None:
    spec, root, kind, where, expected = GRAFANA_FIELDS[field]
    stack = build(**spec)
    data = yaml.safe_load(render(stack, Target("local", root)).files[f"{_FILES[kind]}/promstack.yaml"])
    value = data
    for part in where:
        value = value[part]
    assert grafana_value(value, ENV, _read) == expected
    # promstack's own references still reach the secret files they name
    for source in data.get("datasources", []):
        for reference in source.get("secureJsonData", {}).values():
            path = reference.removeprefix("$__file{").removesuffix("}")
            assert grafana_value(reference, ENV, _read) == _read(path).strip()


# -- Prometheus external labels ----------------------------------------------------------------------
@pytest.mark.parametrize("loads", ["as-rendered", "expanding-like-3x"])
@pytest.mark.parametrize("field", ["external_labels", "environment"])
def test_prometheus_loads_external_labels_as_written(
    field: str, loads: str, tmp_path: Path, port: Callable[[], int]
) -> None:
    """Debian's 2.42 runs the rendered config and command line. "expanding-like-3x" turns on the
    expand-external-labels feature whatever the command line says: 2.42 then expands with the same
    os.Expand mapping ($$ -> $) that 3.x always applies (config.Load; docs/compat.md §8a)."""
    if shutil.which("prometheus") is None:
        pytest.skip("needs prometheus (Debian package prometheus)")
    spec = {"external_labels": {"team": HOSTILE}} if field == "external_labels" else {"environment": HOSTILE}
    stack = build(components={"prometheus": {"port": port()}, "grafana": {"enabled": False}}, **spec)
    target = Target("local", str(tmp_path / "tree"))
    config = tmp_path / "tree" / conventions.PROMETHEUS_CONFIG
    config.parent.mkdir(parents=True)
    config.write_text(render(stack, target).files[conventions.PROMETHEUS_CONFIG])
    flags = command(stack, "prometheus", target, data_dir=str(tmp_path / "data"))
    if loads == "expanding-like-3x":
        flags.append("--enable-feature=expand-external-labels")
    env = {"PATH": os.environ["PATH"], **ENV}
    process = subprocess.Popen(["prometheus", *flags], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{stack.components['prometheus'].port}/api/v1/status/config"
        loaded = yaml.safe_load(_get(url, lambda text: '"status":"success"' in text))["data"]["yaml"]
    finally:
        process.terminate()
        process.wait(10)
    assert yaml.safe_load(loaded)["global"]["external_labels"] == dict(stack.external_labels)
    assert HOSTILE in stack.external_labels.values()


def _get(url: str, ready: Callable[[str], bool], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                text = answer.read().decode()
            if ready(text):
                return text
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no answer from {url}"
        time.sleep(0.2)


# -- mysqld_exporter credentials ---------------------------------------------------------------------
AWKWARD = {
    "hash": "pa#ss",
    "semicolon": "pa;ss",
    "spaces": "  pa ss  ",
    "single-quotes": "'pass'",
    "double-quotes": '"pass"',
    "backslashes": "pa\\ss\\",
    "equals": "pa=ss",
    "all-at-once": " '\"a#b;c=d\\e` ",
    "at": "pa@ss",
    "slash": "pa/ss/",
    "parens": "pa(ss)",
    "backtick": "pa`ss",
    "leading-backtick": "`pass`",
    "unicode": "pässwörd€",
    "percent": "pa%41ss",
    "tab": "pa\tss",
}


# the exporter joins user:password at the first colon: a user with one is refused at validation, a password keeps it
PASSWORD_ONLY = {"colon": "pa:ss:", "at-colon": "u@h:p"}
CREDENTIALS = [(field, name) for field in ("user", "password") for name in sorted(AWKWARD)]
CREDENTIALS += [("password", name) for name in sorted(PASSWORD_ONLY)]


@pytest.mark.parametrize(("field", "awkward"), CREDENTIALS)
def test_mysqld_exporter_logs_in_with_the_credentials_as_written(
    field: str, awkward: str, tmp_path: Path, port: Callable[[], int]
) -> None:
    binary = next((p for b in catalog.entry("mysqld-exporter").binaries if (p := shutil.which(b))), None)
    if binary is None:
        pytest.skip("needs mysqld_exporter (Debian package prometheus-mysqld-exporter)")
    value = {**AWKWARD, **PASSWORD_ONLY}[awkward]
    user, password = ("exporter", value) if field == "password" else (value, "s3cret")
    with FakeMySQL(user, password) as db:
        mysqld = {"address": f"127.0.0.1:{db.port}", "user": user, "password": {"env": "MYSQL_PW"}, "port": port()}
        stack = build(exporters={"mysqld": mysqld}, components={"grafana": {"enabled": False}})
        root = tmp_path / "tree"
        target = Target("local", str(root))
        write_tree(
            render(stack, target),
            root,
            Secrets(tmp_path, environ={"MYSQL_PW": password, "HOOK_URL": "http://127.0.0.1:9/"}),
            salt="t",
        )
        flags = command(stack, "mysqld-exporter", target)
        process = subprocess.Popen(
            [binary, *flags], env={"PATH": os.environ["PATH"]}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            url = f"http://127.0.0.1:{stack.components['mysqld-exporter'].port}/metrics"
            metrics = _get(url, lambda text: "\nmysql_up " in text)
        finally:
            process.terminate()
            process.wait(10)
        assert "\nmysql_up 1\n" in metrics, db.logins()
        assert db.logins()[0] == Attempt(user, True)


@pytest.mark.parametrize("password", ["pa$HOME", "pa?ss", "$?"])
def test_a_mysqld_password_the_exporter_would_change_is_refused_unshown(
    password: str, tmp_path: Path, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """0.15+ expands $VAR in my.cnf (no escape) and every version cuts the DSN at '?': such a password would
    not be the one written, so generate refuses it at write time, naming the character, never the value."""
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/hook")
    (tmp_path / "mysql-password").write_text(password)
    spec = write_spec(
        exporters={"mysqld": {"address": "db:3306", "user": "exporter", "password": {"file": "mysql-password"}}}
    )
    result = CliRunner().invoke(app, ["generate", str(spec), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "mysqld_exporter 0.15 and newer expand $VAR" in result.output and password not in result.output
    assert not (tmp_path / "out").exists()
