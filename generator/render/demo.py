"""Renderer: demo/app.py, the demo service's script (package data), when the spec enables the demo.

The script is the same bytes for both runtimes: the runtime passes `--listen` and `--error-ratio`.
"""

from __future__ import annotations

from importlib import resources

from generator.model import Stack
from generator.render import Target, Tree

APP = "demo/app.py"


def source() -> str:
    """The demo service's source, shipped inside the package as generator/demo_app.py."""
    return resources.files("generator").joinpath("demo_app.py").read_text(encoding="utf-8")


def render(stack: Stack, target: Target) -> Tree:
    if not stack.has("demo"):
        return Tree()
    return Tree(files={APP: source()})
