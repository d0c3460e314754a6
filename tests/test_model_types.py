"""The model's durations and sizes: parsed once, in build, as the text the spec wrote; every other stage
reads their length instead of parsing the text again. Defaults live in build (and conventions) only."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from generator import conventions, model
from generator.render import dump_yaml
from generator.units import Duration, Size

ROOT = Path(__file__).resolve().parent.parent
# where text may still be parsed: the units themselves and the spec stages (validation must report a
# bad value rather than raise, build parses each value once)
PARSERS = ("generator/units.py", "generator/spec/")


def test_durations_and_sizes_are_parsed_only_by_units_and_the_spec() -> None:
    call = re.compile(r"\b(duration_ms|size_bytes|duration_seconds)\(")
    found = [
        f"{rel}:{number}: {line.strip()}"
        for path in sorted((ROOT / "generator").rglob("*.py"))
        if not (rel := str(path.relative_to(ROOT))).startswith(PARSERS)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if call.search(line)
    ]
    assert not found, found


@pytest.mark.parametrize(
    ("text", "ms"), [("0s", 0), ("250ms", 250), ("30s", 30_000), ("1h30m", 5_400_000), ("1y2w", 32_745_600_000)]
)
def test_a_duration_keeps_its_text_and_knows_its_length(text: str, ms: int) -> None:
    duration = Duration(text)
    assert duration == text and str(duration) == text and duration.ms == ms
    assert duration.seconds == Decimal(ms) / 1000
    assert Duration(duration) is duration  # parsed once
    # rendered as written, in YAML as in JSON-ish text
    assert dump_yaml({"for": duration}) == f"for: {text}\n"
    assert yaml.safe_load(dump_yaml({"for": duration})) == {"for": text}


@pytest.mark.parametrize("text", ["", "5", "5x", "1.5h", "5m\n", "-1s", "1m1h", " 5m", "5 m"])
def test_a_duration_refuses_other_text(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        Duration(text)


def test_a_computed_duration_is_spelled_shortest() -> None:
    assert Duration.of_ms(5_400_000) == "1h30m" and Duration.of_ms(5_400_000).ms == 5_400_000
    assert Duration.of_ms(0) == "0s" and Duration.of_ms(1500) == "1s500ms"


def test_a_size_keeps_its_text_and_knows_its_bytes() -> None:
    size = Size("20GB")
    assert size == "20GB" and size.bytes == 20 * 1024**3 and Size(size) is size
    assert dump_yaml({"size": size}) == "size: 20GB\n"
    for bad in ("", "20", "20gb", "1.5GB", "20 GB", "20GiB"):
        with pytest.raises(ValueError, match="not a size"):
            Size(bad)


def test_the_demo_script_defaults_to_the_error_ratio_build_applies() -> None:
    """generator/demo_app.py is standard library only and copied into the demo as it is, so it cannot
    import conventions: its own `--error-ratio` default must say the same."""
    tree = ast.parse((ROOT / "generator" / "demo_app.py").read_text())
    defaults = [
        keyword.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
        if node.args[0].value == "--error-ratio"
        for keyword in node.keywords
        if keyword.arg == "default"
    ]
    assert len(defaults) == 1 and isinstance(defaults[0], ast.Constant)
    assert defaults[0].value == conventions.DEFAULT_DEMO_ERROR_RATIO


def test_the_model_has_no_spec_defaults() -> None:
    """A field may default to "nothing" (None, "", an empty collection), never to a value the spec
    would otherwise mean: those are build's, applied once."""
    found = [
        f"{cls.__name__}.{f.name} = {default!r}"
        for _, cls in inspect.getmembers(model, dataclasses.is_dataclass)
        for f in dataclasses.fields(cls)
        for default in [f.default if f.default is not dataclasses.MISSING else None]
        + ([f.default_factory()] if f.default_factory is not dataclasses.MISSING else [])
        if default not in (None, "", ()) and default != {}
    ]
    assert not found, found
