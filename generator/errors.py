"""One exception tree for the whole pipeline; the CLI maps it to exit codes (spec 2, check/deploy 1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


class PromstackError(Exception):
    """Base of every error promstack raises on purpose."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class Problem:
    """One located problem in a spec: `file:line:col: $.path: message`."""

    file: str
    line: int
    col: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.path}: {self.message}"


class SpecError(PromstackError):
    """The spec is wrong; carries every problem found, sorted by position."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(PromstackError):
    """The command line is wrong."""

    exit_code = 2


Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class CheckProblem:
    """What a check found (pint style: a value, never printed by the check). Only errors fail a check.

    `message` is a whole sentence that already names the field and points at `file:line` where it helps;
    `location` says the same as data (a spec `file:line`, or a path in the rendered tree), "" if none.
    """

    check: str  # the check's NAME, e.g. rules/lint ("" for a problem no check owns: a missing tool)
    severity: Severity
    message: str
    location: str = ""

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}" if self.check else self.message


class CheckError(PromstackError):
    """A real tool or one of our own checks rejected the rendered tree; carries every problem found,
    warnings too (they are printed, but only the errors made it fail)."""

    def __init__(self, problems: Sequence[CheckProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.failures))

    @property
    def failures(self) -> list[str]:
        """The errors, as the CLI prints them."""
        return [str(p) for p in self.problems if p.severity == "error"]


class SecretError(PromstackError):
    """A secret reference could not be resolved (the message names the reference, never a value)."""


class DeployError(PromstackError):
    """A runtime could not bring the stack up, or refused a change."""


class ToolMissing(CheckError):
    """A binary a check or runtime needs is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        self.tool = tool
        self.package = package
        message = f"{tool} is not installed (Debian package: {package}); install it and run again."
        super().__init__([CheckProblem("", "error", message)])
