"""Stage `deploy`: the options every command takes, and the project a stack deploys as (its state
dir, its compose project)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from generator.errors import UsageError
from generator.model import Stack
from generator.runtimes.apply import Progress

PROJECT_ENV = "PROMSTACK_PROJECT"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Options:
    runtime: str = "auto"
    project: str | None = None  # default: $PROMSTACK_PROJECT, else the stack's (Stack.project)
    timeout: float = 180.0  # seconds `up` waits for health and scrape targets
    out: Progress = _stderr
    checks: bool = True  # run every check before touching anything (only tests of the rollback turn it off)
    env: str | None = None  # the spec's environment to deploy (`--env`); None: the base spec


def project_name(stack: Stack, options: Options) -> str:
    name = options.project or os.environ.get(PROJECT_ENV) or stack.project
    if not name.replace("-", "").replace("_", "").isalnum() or name != name.lower():
        raise UsageError(f"project name {name!r} must be lower-case letters, digits, - and _")
    return name
