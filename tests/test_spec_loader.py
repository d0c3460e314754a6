"""The `load` stage: positions, duplicate keys, merges, limits. Pure: no tools needed."""

from __future__ import annotations

import pytest

from generator.errors import SpecError
from generator.spec.formats import is_hostport
from generator.spec.loader import load_text
from generator.units import Size, compose_memory, duration_ms, format_duration


def test_positions_point_at_values_and_keys() -> None:
    doc = load_text("name: shop\nservices:\n  - name: api\n    targets: ['api:80']\n", "s.yaml")
    assert doc.data == {"name": "shop", "services": [{"name": "api", "targets": ["api:80"]}]}
    assert doc.where("$.services[0].targets[0]") == (4, 15)
    assert doc.where("$.services[0].name", key=True) == (3, 5)
    # an unknown deeper path falls back to its closest located parent
    assert doc.where("$.services[0].nope.deeper") == (3, 5)


def test_duplicate_keys_are_reported_with_both_lines() -> None:
    with pytest.raises(SpecError) as info:
        load_text("name: a\nversion: 1\nname: b\n", "s.yaml")
    assert str(info.value) == "s.yaml:3:1: $.name: duplicate key 'name' (first given on line 1)"


def test_merge_keys_expand_and_own_keys_win() -> None:
    doc = load_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n", "s.yaml")
    assert doc.data["other"] == {"x": 1, "y": 3}


def test_alias_bomb_stops_with_a_located_problem() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 10)}]")
    with pytest.raises(SpecError, match=r"expands to more than"):
        load_text("\n".join(lines) + "\n", "s.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "s.yaml:1:1: $: the spec is empty"),
        ("a: [1\n", "s.yaml:2:1: $: invalid YAML: expected ',' or ']', but got '<stream end>'"),
        ("a: b: c\n", "s.yaml:1:5: $: invalid YAML: mapping values are not allowed here"),
        ("? [a]\n: 1\n", "s.yaml:1:3: $: a key must be a plain string"),
    ],
)
def test_broken_yaml(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_text(text, "s.yaml")
    assert str(info.value) == message


def test_dates_stay_text() -> None:
    assert load_text("when: 2026-01-01\n", "s.yaml").data == {"when": "2026-01-01"}


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30s", 30_000), ("1h30m", 5_400_000), ("7d", 604_800_000), ("250ms", 250), ("1x", None), ("", None)],
)
def test_durations(text: str, ms: int | None) -> None:
    assert duration_ms(text) == ms
    if ms:
        assert duration_ms(format_duration(ms)) == ms


def test_sizes_and_targets() -> None:
    assert compose_memory(Size("512MB")) == "512m"
    assert compose_memory(Size("2GB")) == "2g"
    assert is_hostport("api:8000") and is_hostport("[::1]:9090") and is_hostport("10.0.0.1:1")
    assert not is_hostport("api") and not is_hostport("api:0") and not is_hostport("api:65536")
    assert not is_hostport("http://api:80")
