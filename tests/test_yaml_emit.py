"""Rendered YAML is emitted by libyaml where it writes the very bytes PyYAML's Python emitter writes,
and by PyYAML's emitter everywhere else (generator/render/_yaml.py): the output never depends on which
one ran. These tests compare our `dump` with PyYAML's pure-Python emitter on random documents."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from generator.render import _yaml, render
from generator.spec import load_stack
from tests.conftest import ROOT


class _Python(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _string(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Python.add_representer(str, _string)


def python_emitter(data: Any) -> str:
    return yaml.dump(data, Dumper=_Python, default_flow_style=False, allow_unicode=True, width=120, sort_keys=False)


# the characters where the two emitters are known to part: astral plane, NEL, separators, BOM, controls,
# spaces around line breaks, and plenty of plain text and YAML syntax to build long lines from
PIECES = st.sampled_from(
    [
        *"ab :#-'\"\n\t{}[]&*!|>%@`,?\\$=~.09",
        *("\u00e9", "\u2028", "\ufeff", "\u00a0", "\x7f", "\x01", "\x85", "\U0001f600", "\u200b", "\r"),
        *("null", "true", "1e3", "- ", "word ", "  ", "x" * 70, "\n  > ", " \n"),
    ]
)
TEXT = st.lists(PIECES, max_size=60).map("".join)


@given(TEXT)
@example("api: 30% of the requests fail.")
@example("sum(rate(x[5m]))\n  / sum(rate(y[5m])) > 0.05\n")
@example("\U0001f600 on fire")
@example("")
def test_any_string_is_written_as_the_python_emitter_writes_it(text: str) -> None:
    data = {
        "value": text,
        "list": [text, 1, None, True, 2.5],
        "nested": [{"a": [text, {"b": {"c": {"d": text}}}]}],
        f"k{text}": text,
        text: [text],
    }
    assert _yaml.dump(data) == python_emitter(data)


def test_without_libyaml_the_python_emitter_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_yaml, "_CDumper", None)
    data = {"a": ["x\ny", "\U0001f600"]}
    assert _yaml.dump(data) == python_emitter(data)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml: every file takes the Python emitter")
def test_the_examples_files_are_all_written_by_libyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is the common one: no string of the example sends a file back to the Python emitter."""
    fallbacks: list[Any] = []
    emit = _yaml._emit

    def counting(dumper: Any, data: Any) -> str:
        if dumper is _yaml._PyDumper:
            fallbacks.append(data)
        return emit(dumper, data)

    monkeypatch.setattr(_yaml, "_emit", counting)
    tree = render(load_stack(ROOT / "stack/stack.yaml"))
    assert tree.files and not fallbacks
