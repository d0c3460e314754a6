"""Stages `load`, `validate` and `build`: a spec file in, a `Stack` out (or a SpecError with every problem)."""

from __future__ import annotations

from pathlib import Path

from generator.model import Stack
from generator.spec.build import build
from generator.spec.loader import Document, load_file, load_text
from generator.spec.validate import validate

__all__ = ["Document", "build", "load_file", "load_stack", "load_text", "stack_from_text", "validate"]


def load_stack(path: Path, runtime: str = "compose") -> Stack:
    """The spec at `path` as a Stack for `runtime` (compose and local accept the same specs; kubernetes
    also services that only name their Kubernetes Service, and components that run only there)."""
    doc = load_file(path)
    validate(doc, runtime)
    return build(doc)


def stack_from_text(text: str, file: str = "stack.yaml", runtime: str = "compose") -> Stack:
    doc = load_text(text, file)
    validate(doc, runtime)
    return build(doc)
