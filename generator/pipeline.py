"""The pipeline as the CLI and runtimes use it: spec file -> Stack -> Tree -> disk -> checks."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from generator import checks
from generator.errors import CheckError
from generator.model import Stack
from generator.render import Target, Tree, render
from generator.spec import load_stack
from generator.write import Secrets, manifest, write_tree


@dataclass
class Rendered:
    stack: Stack
    tree: Tree
    target: Target


def render_spec(spec: Path, runtime: str = "compose", root: Path | None = None) -> Rendered:
    stack = load_stack(spec)
    target = Target(runtime=runtime, root=str((root or Path("out")).absolute()))
    return Rendered(stack, render(stack, target), target)


def generate(spec: Path, out: Path, runtime: str = "compose", placeholders: bool = False) -> Rendered:
    """Render `spec` and write it to `out` atomically. Secrets are resolved now unless placeholders."""
    rendered = render_spec(spec, runtime, out)
    secrets = Secrets(spec.absolute().parent, placeholders=placeholders)
    write_tree(
        rendered.tree, out, secrets, salt=rendered.stack.name, manifest_text=manifest(rendered.tree, spec.name, runtime)
    )
    return rendered


def check(spec: Path, live: str | None = None, only: list[str] | None = None) -> list[str]:
    """Run every check on `spec`; return the names of the checks that passed, or raise CheckError.

    Tools run on the local rendering (absolute host paths, so promtool can open every file it names);
    it differs from the compose rendering only in the addresses and paths that `Target` supplies.
    The compose rendering is checked by the compose check itself.
    """
    workdir = Path(tempfile.mkdtemp(prefix="promstack-check-"))
    try:
        root = workdir / "tree"
        rendered = render_spec(spec, "local", root)
        compose = render(rendered.stack, Target("compose"))
        write_tree(rendered.tree, root, Secrets(workdir, placeholders=True), salt=rendered.stack.name)
        ctx = checks.CheckContext(rendered.stack, rendered.tree, root, rendered.target, compose, live)
        failures = checks.run_checks(ctx, only)
        if failures:
            raise CheckError(failures)
        return ctx.passed
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
