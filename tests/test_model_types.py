"""The model carries no spec defaults: each one lives in build (its value in conventions), applied once."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

from generator import conventions, model

ROOT = Path(__file__).resolve().parent.parent


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
