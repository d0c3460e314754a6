"""One exception tree for the whole pipeline; the CLI maps it to exit codes (spec 2, check/deploy 1)."""

from __future__ import annotations

from dataclasses import dataclass


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


class CheckError(PromstackError):
    """A real tool or one of our own checks rejected the rendered tree."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        super().__init__("\n".join(failures))


class SecretError(PromstackError):
    """A secret reference could not be resolved (the message names the reference, never a value)."""


class DeployError(PromstackError):
    """A runtime could not bring the stack up, or refused a change."""


class ToolMissing(CheckError):
    """A binary a check or runtime needs is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        self.tool = tool
        self.package = package
        super().__init__([f"{tool} is not installed (Debian package: {package}); install it and run again."])
