"""The pipeline as the CLI and runtimes use it: spec file -> Stack -> Tree -> disk -> checks."""

from __future__ import annotations

import difflib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from generator import binaries, checks, output
from generator.errors import CheckError, CheckProblem
from generator.kubernetes import names as kubernetes_names
from generator.kubernetes.unpack import unpack
from generator.model import Stack
from generator.render import Target, Tree, render
from generator.spec import load_stack
from generator.write import Secrets, manifest, write_tree


@dataclass
class Rendered:
    stack: Stack
    tree: Tree
    target: Target
    left_out: dict[str, str] = field(default_factory=dict)  # component -> why the runtime runs without it
    notes: list[str] = field(default_factory=list)  # for the user: what an earlier, killed generate left


def render_spec(
    spec: Path, runtime: str = "compose", root: Path | None = None, leave_out: bool = False, env: str | None = None
) -> Rendered:
    """Render for `runtime`; the local rendering suits the binaries on this host (their versions matter).
    `leave_out`: also leave out what the local runtime cannot run here, as `up` does (`binaries.left_out`).
    `env`: the spec's environment (`--env`), else its base."""
    stack = load_stack(spec, env, runtime)
    left_out = binaries.left_out(stack) if runtime == "local" and leave_out else {}
    stack = stack.without(left_out)
    versions = binaries.versions(stack) if runtime == "local" else {}
    target = Target(runtime=runtime, root=str((root or Path("out")).absolute()), versions=versions)
    return Rendered(stack, render(stack, target), target, left_out)


def left_out_line(why: str) -> str:
    """How `up`, `generate --runtime local` and `check` say that the local runtime runs a stack without a
    component (`why`: binaries.left_out's reason, which names it)."""
    return f"left out on the local runtime, with its alerts and dashboard: {why}"


def generate(
    spec: Path, out: Path, runtime: str = "compose", placeholders: bool = False, env: str | None = None
) -> Rendered:
    """Render `spec` (its environment `env`) and write it to `out` atomically. Secrets are resolved now
    unless placeholders."""
    out = output.resolve(out)  # first: the paths rendered and renamed name no `..` or symlink
    rendered = render_spec(spec, runtime, out, leave_out=True, env=env)  # what `up` would run here
    secrets = Secrets(spec.absolute().parent, placeholders=placeholders)
    rendered.notes = write_tree(
        rendered.tree, out, secrets, salt=rendered.stack.name, manifest_text=manifest(rendered.tree, spec.name, runtime)
    )
    return rendered


def check(
    stack: Stack,
    tree: Tree,
    target: Target,
    *,
    compose: Tree | None = None,
    live: str | None = None,
    only: Sequence[str] | None = None,
) -> checks.Report:
    """Run every check (or `only` those) on `tree`, rendered for `target`, and report what they found; raise
    CheckError, carrying every problem, if any check found an error.

    `tree` is written to `target.root` with secrets as placeholders: a local target, made by `scratch`,
    with absolute host paths so that promtool can open every file it names. Options: `compose`, the
    compose rendering if the caller has one (else the compose check renders it, only if it runs);
    `live`, the URL of a running Prometheus for the --live checks; `only`, the names of the checks to run.
    The report's problems include the warnings and notes (e.g. how many tests ran).
    """
    root = Path(target.root)
    write_tree(tree, root, Secrets(root.parent, placeholders=True), salt=stack.name)
    ctx = checks.CheckContext(stack, tree, root, target, compose, live)
    report = checks.run_checks(ctx, only)
    if report.errors:
        raise CheckError(report.problems)
    return report


@contextmanager
def scratch(stack: Stack) -> Iterator[Target]:
    """A local target in a temporary folder, for `check`: the rendering made for the binaries on this host
    as the local runtime would run them. It differs from the compose rendering in the addresses and paths
    that `Target` supplies, and where a version matters (the secret fields of Alertmanager); the compose
    rendering is checked by the compose check itself."""
    workdir = Path(tempfile.mkdtemp(prefix="promstack-check-"))
    try:
        yield Target("local", str(workdir / "tree"), binaries.versions(stack))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check_stack(
    stack: Stack, *, compose: Tree | None = None, live: str | None = None, only: Sequence[str] | None = None
) -> checks.Report:
    """`check` on the local rendering of `stack`, rendered once, here (options as for `check`)."""
    with scratch(stack) as target:
        return check(stack, render(stack, target), target, compose=compose, live=live, only=only)


def check_kubernetes(stack: Stack, only: Sequence[str] | None = None) -> checks.Report:
    """`check` on the Kubernetes rendering of `stack`, unpacked: its resources against their schemas, and the
    configs they hold through the same tools and lints as a compose or local tree."""
    workdir = Path(tempfile.mkdtemp(prefix="promstack-check-"))
    try:
        target = Target(kubernetes_names.RUNTIME, str(workdir / "tree"))
        return check(stack, unpack(stack, render(stack, target)), target, only=only)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check_spec(
    spec: Path,
    live: str | None = None,
    only: Sequence[str] | None = None,
    env: str | None = None,
    runtime: str = "local",
) -> checks.Report:
    """`promstack check` and `promstack test`: validate `spec` (every environment) for `runtime`, then
    `check_stack` (compose and local: one check proves both) or `check_kubernetes` on its environment `env`
    (else its base). The compose/local check proves every component of the spec (promtool needs no
    component's binary) and notes what the local runtime would leave out here."""
    if runtime == kubernetes_names.RUNTIME:
        return check_kubernetes(load_stack(spec, env, runtime), only=only)
    stack = load_stack(spec, env)
    report = check_stack(stack, live=live, only=only)
    if only is None:  # the whole check, not `promstack test`
        report.problems.extend(
            CheckProblem("local", "info", left_out_line(why)) for why in binaries.left_out(stack).values()
        )
    return report


def compare(spec: Path, env: str | None, against: str | None) -> list[str]:
    """How the rendered trees of two environments of `spec` differ, file by file: a unified diff per file
    both have (`against` the old side, `env` the new), a line per file only one has; [] when they are the
    same. Rendered for compose (no host lookups); secrets stay references, never values."""
    new_name, old_name = env or "base", against or "base"
    ours, theirs = (render_spec(spec, "compose", env=e).tree.files for e in (env, against))
    lines: list[str] = []
    for path in sorted(ours.keys() | theirs.keys()):
        old, new = theirs.get(path), ours.get(path)
        if old == new:
            continue
        if old is None or new is None:
            lines.append(f"only in {new_name if old is None else old_name}: {path}")
            continue
        lines += difflib.unified_diff(
            old.splitlines(), new.splitlines(), f"{old_name}/{path}", f"{new_name}/{path}", lineterm=""
        )
    return lines
