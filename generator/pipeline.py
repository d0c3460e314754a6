"""The pipeline as the CLI and runtimes use it: spec file -> Stack -> Tree -> disk -> checks."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator import binaries, checks, output
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
    """Render for `runtime`; the local rendering suits the binaries on this host (their versions matter)."""
    stack = load_stack(spec)
    versions = binaries.versions(stack) if runtime == "local" else {}
    target = Target(runtime=runtime, root=str((root or Path("out")).absolute()), versions=versions)
    return Rendered(stack, render(stack, target), target)


def generate(spec: Path, out: Path, runtime: str = "compose", placeholders: bool = False) -> Rendered:
    """Render `spec` and write it to `out` atomically. Secrets are resolved now unless placeholders."""
    out = output.resolve(out)  # first: the paths rendered and renamed name no `..` or symlink
    rendered = render_spec(spec, runtime, out)
    secrets = Secrets(spec.absolute().parent, placeholders=placeholders)
    write_tree(
        rendered.tree, out, secrets, salt=rendered.stack.name, manifest_text=manifest(rendered.tree, spec.name, runtime)
    )
    return rendered


def check(
    spec: Path,
    live: str | None = None,
    only: list[str] | None = None,
    warn: Callable[[str], None] | None = None,
    skipped: Callable[[str, str], None] | None = None,
) -> list[str]:
    """Run every check on `spec`; return the names of the checks that passed, or raise CheckError.

    Tools run on the local rendering (absolute host paths, so promtool can open every file it names), made
    for the binaries on this host as the local runtime would run them; it differs from the compose
    rendering in the addresses and paths that `Target` supplies, and where a version matters (the
    secret fields of Alertmanager). The compose rendering is checked by the compose check itself.
    `warn` gets what the checks found worth saying that is no failure (e.g. a secret Alertmanager serves);
    `skipped` each check that did not run, and why (it is not among the passed ones).
    """
    workdir = Path(tempfile.mkdtemp(prefix="promstack-check-"))
    try:
        root = workdir / "tree"
        rendered = render_spec(spec, "local", root)
        compose = render(rendered.stack, Target("compose"))
        write_tree(rendered.tree, root, Secrets(workdir, placeholders=True), salt=rendered.stack.name)
        ctx = checks.CheckContext(rendered.stack, rendered.tree, root, rendered.target, compose, live)
        failures = checks.run_checks(ctx, only)
        for warning in ctx.warnings:
            if warn is not None:
                warn(warning)
        for name, why in ctx.skipped.items():
            if skipped is not None:
                skipped(name, why)
        if failures:
            raise CheckError(failures)
        return ctx.passed
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
