"""Fuzzing the front of the pipeline: whatever the spec file holds, promstack answers with located problems.

Property: load -> validate -> build either succeeds or raises SpecError whose every line reads
`file:line:col: $.path: message`; `promstack generate` (the same stages, then render for the compose or
local runtime, then write) exits 0 and writes the tree when the spec was valid, and otherwise exits 2 with
those same lines and writes nothing. Any other exception, exit code or message is a bug.

Inputs are valid specs (the example stack and small ones) mutated structurally (wrong types, missing and
extra keys, huge and unicode strings, odd but plausible values) and textually (anchors and alias bombs,
duplicate keys, deep nesting, binary junk), and random bytes.
"""

from __future__ import annotations

import copy
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from generator.cli import app
from generator.errors import SpecError
from generator.render import Target, render
from generator.spec import build, load_file, load_text, validated
from generator.spec.formats import is_hostport
from generator.units import duration_ms

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^.+:\d+:\d+: \$.*: .+$")
FUZZ = settings()  # the profile conftest.py loads: how many examples, derandomized or not

EXAMPLE = yaml.safe_load((ROOT / "stack" / "stack.yaml").read_text())
SMALL: list[dict[str, Any]] = [
    {"version": 1, "name": "t"},
    {
        "version": 1,
        "name": "t",
        "exporters": {"node": {}, "redis": {"targets": ["redis:6379"]}},
        "services": [
            {
                "name": "api",
                "targets": ["api:8000"],
                "http": {"requests": "http_requests_total", "duration": "http_request_duration_seconds"},
                "slos": [
                    {"name": "availability", "objective": 99.9},
                    {"name": "fast", "objective": 99, "threshold": "300ms"},
                ],
            }
        ],
    },
    {
        "version": 1,
        "name": "t",
        "components": {"grafana": {"admin_password": {"file": "secret.txt"}}},
        "notifications": {
            "receivers": [
                {"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}},
                {"name": "pager", "pagerduty": {"routing_key": {"file": "secret.txt"}}},
            ],
            "default_receiver": "team",
            "routes": [{"match": {"severity": "critical"}, "receiver": "pager", "routes": [{"receiver": "team"}]}],
            "tests": [{"labels": {"severity": "critical"}, "receivers": ["pager"]}],
        },
        "alerts": {
            "rules": [{"alert": "Down", "expr": "up == 0", "for": "5m", "severity": "critical", "summary": "down"}]
        },
    },
]
BASES = [EXAMPLE, *SMALL]
# keys the schema knows, so "extra key" mutations also hit real keys in the wrong place
KEYS = [
    "name",
    "port",
    "targets",
    "enabled",
    "expose",
    "auth",
    "env",
    "file",
    "interval",
    "objective",
    "receiver",
    "routes",
    "slos",
    "http",
    "probes",
    "dsn",
    "threshold",
    "period",
    "memory",
    "version",
    "labels",
    "match",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1, max_size=30),
    st.just("x" * 100_000),
    st.sampled_from(
        [
            "0s",
            "15s",
            "1h30m",
            "api:8000",
            "api:0",
            "[::1]:80",
            "20GB",
            "99.9",
            "default",
            "none",
            "critical",
            "http_2xx",
            "team",
            "prometheus",
            "node-exporter",
            "~",
            "&a",
            "*a",
            "{env: X}",
        ]
    ),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), inner, max_size=4),
        st.fixed_dictionaries({"env": st.sampled_from(["HOOK_URL", "X", "1X", ""])}),
    ),
    max_leaves=8,
)


def plausible(value: Any) -> st.SearchStrategy[Any]:
    """Another value of the same shape, often one the schema accepts."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(1, 65535)
    if isinstance(value, float):
        return st.floats(0.001, 99.999)
    if isinstance(value, str) and duration_ms(value) is not None:
        return st.sampled_from(["1ms", "1s", "5s", "30s", "5m", "1h30m", "7d", "90d", "1y"])
    if isinstance(value, str) and is_hostport(value):
        return st.sampled_from(["a:1", "[::1]:9", "x.y-z:65535", "10.0.0.1:80"])
    if isinstance(value, str):
        return st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True) | st.just(value * 3)
    if isinstance(value, list) and value:
        return st.permutations(value).map(list) | st.just(value + value[-1:]) | st.just(value[1:])
    return st.just(value)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield from _paths(value, (*prefix, key))


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid spec with one to four structural mutations: damage, or (gentle) odd but plausible changes."""
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    gentle = draw(st.integers(0, 2)) == 0
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(data))))
        if not path:
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        # "plausible" keeps most specs valid, so that build and the renderers see odd but accepted input too
        op = draw(st.sampled_from(["delete", "plausible", "plausible"] if gentle else ["replace", "extra", "nest"]))
        if op == "plausible":
            parent[path[-1]] = draw(plausible(parent[path[-1]]))
        elif op == "replace":
            parent[path[-1]] = draw(junk)
        elif op == "delete":
            del parent[path[-1]]
        elif op == "extra" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS) | st.text(max_size=12))] = draw(junk)
        elif op == "nest":
            parent[path[-1]] = {"x": [parent[path[-1]]]} if draw(st.booleans()) else [parent[path[-1]]]
    return data


@st.composite
def text_mutated(draw: st.DrawFn) -> bytes:
    """A valid spec's text with textual damage YAML-level tools must survive."""
    text = yaml.safe_dump(draw(st.sampled_from(BASES)), sort_keys=False, allow_unicode=True)
    lines = text.splitlines(keepends=True)
    kind = draw(st.sampled_from(["dup", "bomb", "anchors", "deep", "junk", "truncate", "splice"]))
    at = draw(st.integers(0, len(lines)))
    if kind == "dup":  # repeat a line: at top level or nested, a duplicate key
        lines.insert(at, lines[min(at, len(lines) - 1)])
    elif kind == "bomb":
        width = draw(st.integers(2, 10))  # small: the real bombs are the explicit examples below
        bomb = "b0: &b0 [x]\n" + "".join(
            f"b{i + 1}: &b{i + 1} [{', '.join([f'*b{i}'] * width)}]\n" for i in range(draw(st.integers(1, 4)))
        )
        lines.insert(draw(st.sampled_from([0, len(lines)])), bomb)
    elif kind == "anchors":  # reuse an existing value elsewhere through an anchor, or merge a mapping
        lines.insert(0, "x-base: &base {port: 9999, expose: true}\n")
        lines.insert(at + 1, draw(st.sampled_from(["<<: *base\n", "  <<: *base\n", "demo: *base\n", "name: *base\n"])))
    elif kind == "deep":
        depth = draw(st.integers(40, 300))
        lines.insert(at, "deep: " + "[" * depth + "]" * depth + "\n")
    elif kind == "junk":
        lines.insert(at, draw(st.text(max_size=40)) + "\n")
    elif kind == "truncate":
        lines = lines[:at]
    raw = "".join(lines).encode()
    if kind == "splice":  # binary junk in the middle of the file
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(min_size=1, max_size=16)) + raw[cut:]
    return raw


def _refs(data: Any, kind: str) -> Iterator[str]:
    """Every `{env: NAME}` (or `{file: PATH}`) in the data: `generate` resolves them, and a missing secret is
    a failed write (exit 1), not a spec error."""
    if isinstance(data, dict):
        if isinstance(data.get(kind), str):
            yield data[kind]
        for value in data.values():
            yield from _refs(value, kind)
    elif isinstance(data, list):
        for value in data:
            yield from _refs(value, kind)


def _pipeline(spec: Path) -> bool:
    """True when the spec is valid; raises on anything but SpecError. Rendering is left to `generate`."""
    try:
        validated(load_file(spec))  # the base and every environment
    except SpecError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert LINE.match(str(problem)), str(problem)
        return False
    return True


def _check(raw: bytes, runtime: str = "compose") -> None:
    with tempfile.TemporaryDirectory(prefix="promstack-fuzz-") as tmp:
        folder = Path(tmp)
        spec = folder / "stack.yaml"
        spec.write_bytes(raw)
        (folder / "secret.txt").write_text("fuzz-secret\n")
        valid = _pipeline(spec)
        event("valid spec" if valid else "spec error")
        data = yaml.safe_load(raw) if valid else None
        env = {name: "fuzz-value" for name in _refs(data, "env") if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)}
        strange_files = set(_refs(data, "file")) - {"secret.txt"}  # a mutation may point a secret anywhere
        args = ["generate", str(spec), "-o", str(folder / "out"), "--runtime", runtime]
        result = CliRunner(env=env).invoke(app, args)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception  # a traceback: the bug itself, not just "exit 1"
        if valid and strange_files and result.exit_code == 1:
            assert result.stderr.startswith("error: secret file "), result.stderr
        elif valid:
            assert result.exit_code == 0, result.output
            assert (folder / "out" / ".promstack.json").is_file()
        else:
            assert result.exit_code == 2, result.output
            *problems, summary = result.stderr.splitlines()
            assert problems and summary.endswith("nothing was written.")
            assert all(LINE.match(line) for line in problems), result.stderr
            assert sorted(p.name for p in folder.iterdir()) == ["secret.txt", "stack.yaml"]


@FUZZ
@given(mutated(), st.sampled_from(["compose", "local"]))
def test_structural_mutations(data: Any, runtime: str) -> None:
    _check(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode(), runtime)


BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i + 1}: &a{i + 1} [{', '.join([f'*a{i}'] * 10)}]\n" for i in range(8)
)


@FUZZ
@given(text_mutated())
@example(("version: 1\nname: t\n" + BOMB).encode())  # 10**9 values if expanded
@example(b"version: 1\nname: t\ndeep: " + b"[" * 1200 + b"]" * 1200)  # deeper than Python's recursion limit
@example(b"version: 1\nname: &n {<<: *n}\n")  # a mapping that merges itself
@example(b"version: 1\nname: &n [*n]\n")  # a list that contains itself
def test_textual_mutations(raw: bytes) -> None:
    _check(raw)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    _check(raw)


@FUZZ
@given(st.text(max_size=200))
def test_random_text(text: str) -> None:
    # load_text is also the entry of `stack_from_text`: it must not care where the text came from
    try:
        load_text(text, "stack.yaml")
    except SpecError as exc:
        assert all(LINE.match(str(p)) for p in exc.problems)


@pytest.mark.parametrize("base", range(len(BASES)))
def test_bases_are_valid(base: int) -> None:
    """The fuzzers start from valid specs; otherwise they would only test the first problem found."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "stack.yaml"
        spec.write_text(yaml.safe_dump(BASES[base]))
        assert _pipeline(spec)
        render(build(load_file(spec)), Target("local", root="/srv/promstack"))
