"""Stage `check`: real tools and our own checks on a rendered tree written to disk.

Every module here defining `NAME` and `run(ctx) -> list[str]` is a check (pint style: one file per
check, one name used for its module, its tag in messages and its docs). A check returns failures as
whole sentences and never prints. A tool a check needs but cannot find raises ToolMissing.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from generator.errors import ToolMissing
from generator.model import Stack
from generator.render import Target, Tree


@dataclass
class CheckContext:
    stack: Stack
    tree: Tree  # rendered for `target`
    root: Path  # `tree` written here, secrets as placeholders
    target: Target
    compose_tree: Tree | None = None  # the compose rendering, when `tree` is the local one
    live: str | None = None  # base URL of a running Prometheus, for --live checks
    passed: list[str] = field(default_factory=list)  # one line per check that ran and passed
    warnings: list[str] = field(default_factory=list)  # worth saying, but no failure (whole sentences)
    skipped: dict[str, str] = field(default_factory=dict)  # check -> why it did not run (never "passed")


Check = Callable[[CheckContext], list[str]]

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


def checks() -> list[tuple[str, Check]]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "run") and hasattr(module, "NAME"):
            found.append((module.NAME, module.run))
    return found


def run_checks(ctx: CheckContext, only: Sequence[str] | None = None) -> list[str]:
    """Every failure of every check (or of the named ones), each tagged with its check's name."""
    failures: list[str] = []
    for name, check in checks():
        if only is not None and name not in only:
            continue
        found = check(ctx)
        failures.extend(f"[{name}] {failure}" for failure in found)
        if not found and name not in ctx.skipped:
            ctx.passed.append(name)
    return failures
