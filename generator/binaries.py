"""Component binaries on this host's PATH: what the local runtime runs, which version each one is, and
which components it cannot run here.

Configs are rendered for the version that will run them (Alertmanager reads more secrets from files in
each release), so the local runtime and `check`, which proves the local rendering with the tools on this
host, ask the binary of every component whose catalog entry says how (`local: {version: [--version]}`).

A component whose binary is missing fails `up` on the local runtime, naming its package, unless its
catalog entry says the stack works without it (`local: {optional: true}`: Grafana, cAdvisor, which
Debian does not package): `left_out` names those, and `Stack.without` drops them with their alerts and
dashboards. `up` and `generate --runtime local` render the stack without them; `check` proves the whole
spec and says what the local runtime would leave out here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache

from generator import catalog
from generator.model import Stack

_VERSION = re.compile(r"\bversion\s+v?(\d+)\.(\d+)")


def find(name: str) -> str | None:
    """Path of component `name`'s binary (its upstream or Debian name, in catalog order), None if absent."""
    for candidate in catalog.entry(name).binaries:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def missing(stack: Stack) -> dict[str, str]:
    """Each component of `stack` that runs but has no binary on PATH -> why, naming its package."""
    found = {}
    for name, component in stack.components.items():
        if component.runs and not find(name):
            entry = catalog.entry(name)
            found[name] = (
                f"{name} is not installed: none of {', '.join(entry.binaries) or '(no binary)'} is on PATH "
                f"(package: {entry.package})"
            )
    return found


def left_out(stack: Stack) -> dict[str, str]:
    """The components the local runtime runs the stack without here (catalog `local.optional`, no binary)."""
    return {name: why for name, why in missing(stack).items() if catalog.entry(name).optional}


def versions(stack: Stack) -> dict[str, tuple[int, int]]:
    """(major, minor) of the binary of each component of `stack` whose configs depend on its version."""
    found: dict[str, tuple[int, int]] = {}
    for name in stack.components:
        args = catalog.entry(name).version_args
        binary = find(name) if args else None
        if binary is None:
            continue
        try:
            changed = os.stat(binary).st_mtime_ns
        except OSError:
            continue
        version = _ask(binary, args, changed)
        if version is not None:
            found[name] = version
    return found


@cache
def _ask(binary: str, args: tuple[str, ...], changed: int) -> tuple[int, int] | None:
    try:
        done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = _VERSION.search(done.stdout + done.stderr)
    return (int(found[1]), int(found[2])) if found else None
