"""Stage `check`: real tools and our own checks on a rendered tree written to disk.

Every module here defining `NAME` and `run(ctx) -> list[CheckProblem]` is a check (pint style: one file
per check, one name used for its module, its tag in messages and its docs). A check returns its problems
as values, each with a severity (only errors fail it), and never prints; a check that cannot run here
says so in `ctx.skipped`, with why. A tool a check needs but cannot find raises ToolMissing. Checks read
the rendered Tree and the provenance it carries (which pack or spec line made each rule); they never
render again, except the compose rendering, made on first use (`CheckContext.compose`). A check that proves
only some runtimes' trees says which in `RUNTIMES` (default: every runtime); on a tree rendered for another
it does not run. A Kubernetes tree reaches the checks unpacked (kubernetes.unpack): the configs its
resources hold, laid out as a compose or local tree, beside the resources.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import CheckProblem, ToolMissing
from generator.model import Stack
from generator.render import Target, Tree, render

__all__ = ["CheckContext", "CheckProblem", "Report", "checks", "errors", "run_checks", "tool", "warnings"]


@dataclass
class CheckContext:
    stack: Stack
    tree: Tree  # rendered for `target`
    root: Path  # `tree` written here, secrets as placeholders
    target: Target
    compose_tree: Tree | None = None  # the compose rendering, if the caller has it (else made by `compose`)
    live: str | None = None  # base URL of a running Prometheus, for --live checks
    skipped: dict[str, str] = field(default_factory=dict)  # check -> why it did not run (never "passed")

    def compose(self) -> Tree:
        """The compose rendering: `tree` itself when it is one, the caller's, or rendered once, here."""
        if self.target.runtime == "compose":
            return self.tree
        if self.compose_tree is None:
            self.compose_tree = render(self.stack, Target("compose"))
        return self.compose_tree


@dataclass
class Report:
    """What `run_checks` found: the checks that passed, the ones skipped (and why), every problem."""

    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    problems: list[CheckProblem] = field(default_factory=list)

    @property
    def errors(self) -> list[CheckProblem]:
        return [p for p in self.problems if p.severity == "error"]


Check = Callable[[CheckContext], list[CheckProblem]]


def errors(check: str, messages: Iterable[str], location: str = "") -> list[CheckProblem]:
    return [CheckProblem(check, "error", message, location) for message in messages]


def warnings(check: str, messages: Iterable[str], location: str = "") -> list[CheckProblem]:
    return [CheckProblem(check, "warning", message, location) for message in messages]


# Debian package of each tool we call
PACKAGES = {
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "prometheus": "prometheus",
    "alertmanager": "prometheus-alertmanager",
}


def tool(name: str, package: str | None = None) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(name, package or PACKAGES.get(name, name))
    return path


def run_tool(args: Sequence[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


RUNTIMES = ("compose", "local", "kubernetes")


def checks(runtime: str | None = None) -> list[tuple[str, Check]]:
    """Every check, or those that prove a tree rendered for `runtime`."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not (hasattr(module, "run") and hasattr(module, "NAME")):
            continue
        if runtime is None or runtime in getattr(module, "RUNTIMES", RUNTIMES):
            found.append((module.NAME, module.run))
    return found


def run_checks(ctx: CheckContext, only: Sequence[str] | None = None) -> Report:
    """Every check (or the named ones) that proves `ctx`'s runtime, on `ctx`; a check passed if it ran and
    found no error."""
    report = Report(skipped=ctx.skipped)
    for name, check in checks(ctx.target.runtime):
        if only is not None and name not in only:
            continue
        found = check(ctx)
        report.problems.extend(found)
        if name not in ctx.skipped and not any(p.severity == "error" for p in found):
            report.passed.append(name)
    return report
