"""Stages `load`, `validate` and `build`: a spec file in, a `Stack` out (or a SpecError with every problem)."""

from __future__ import annotations

from pathlib import Path

from generator.model import Stack
from generator.spec.build import build
from generator.spec.loader import Document, load_file, load_text
from generator.spec.validate import validate

__all__ = ["Document", "build", "load_file", "load_stack", "load_text", "stack_from_text", "validate"]


def load_stack(path: Path) -> Stack:
    doc = load_file(path)
    validate(doc)
    return build(doc)


def stack_from_text(text: str, file: str = "stack.yaml") -> Stack:
    doc = load_text(text, file)
    validate(doc)
    return build(doc)
