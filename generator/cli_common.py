"""The `promstack` command's shared parts: the typer app, the options every command takes, and the edge
where pipeline errors become messages and exit codes (0 ok, 1 failed, 2 bad input). The commands are in
cli.py (spec: check, generate, test, schema), cli_deploy.py (up, down, status, diff) and cli_ops.py
(backup, restore, report)."""

from __future__ import annotations

import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from generator import redact
from generator.errors import CheckError, CheckProblem, PromstackError, SpecError

if TYPE_CHECKING:
    from generator.ops.progress import Progress

app = typer.Typer(
    help="Monitoring as code: one YAML spec in, a running, proven Prometheus + Alertmanager + Grafana stack out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
state = {"debug": False}
T = TypeVar("T")

SpecArg = Annotated[Path, typer.Argument(help="The stack spec (YAML).", show_default=False)]
EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        help="The spec's environment to use (a key of its `environments:`); default: the base spec.",
        show_default=False,
    ),
]
RuntimeOpt = Annotated[
    str,
    typer.Option("--runtime", "-r", help="auto (compose where a Docker engine answers, else local), compose or local."),
]
CheckRuntimeOpt = Annotated[
    str,
    typer.Option(
        "--runtime",
        "-r",
        help="local (proves what compose and local run) or kubernetes (the generated resources and what they hold).",
    ),
]
GENERATED_ONLY = (
    "the kubernetes runtime only generates: `promstack generate SPEC --runtime kubernetes -o DIR`, then "
    "`kubectl apply -f DIR/kubernetes` (README: Kubernetes); promstack does not deploy to a cluster"
)


def deployable(runtime: str, command: str) -> None:
    """Refuse `up`, `down` and `diff` on the kubernetes runtime before anything is read: exit 2."""
    if runtime == "kubernetes":
        say(f"error: promstack {command} --runtime kubernetes: {GENERATED_ONLY}")
        raise typer.Exit(2)


def say(message: str) -> None:
    """Progress, warnings and errors, on stderr."""
    echo(message, err=True)


def echo(message: str, err: bool = False) -> None:
    """Everything promstack prints goes through here: no secret value it has resolved is ever shown, whatever
    the message quotes (component logs, tool output, HTTP answers; generator/redact.py)."""
    typer.echo(redact.clean(message), err=err)


def guarded(action: Callable[[], T]) -> T:
    """Run `action`; turn promstack errors into messages and exit codes. Tracebacks only with --debug."""
    try:
        return action()
    except SpecError as exc:
        for problem in exc.problems:
            say(str(problem))
        say(f"{len(exc.problems)} problem(s) in the spec; nothing was written.")
        raise typer.Exit(2) from None
    except CheckError as exc:
        for line in problem_lines(exc.problems, notes=False):
            say(line)
        raise typer.Exit(exc.exit_code) from None
    except PromstackError as exc:
        if state["debug"]:
            say(traceback.format_exc().rstrip())
        say(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
        say("interrupted" if signum == signal.SIGINT else f"interrupted by {signal.Signals(signum).name}")
        raise typer.Exit(128 + signum) from None


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (a `timeout`, a service manager, a closed terminal): unwound like Ctrl-C, so that
    every clean-up runs (staging/ with resolved secrets removed, a half-written output put back)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


def problem_lines(problems: Sequence[CheckProblem], notes: bool = True) -> list[str]:
    """What the checks found, warnings first (they never fail a check), errors last; `notes`: the info too."""
    shown = {"warning": "warning: ", "error": ""} | ({"info": "note: "} if notes else {})
    order = list(shown)
    shown_problems = sorted((p for p in problems if p.severity in shown), key=lambda p: order.index(p.severity))
    return [f"{shown[p.severity]}{p}" for p in shown_problems]


ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project-name",
        "-p",
        help="Compose project and state-dir name (default: $PROMSTACK_PROJECT, else the stack's name).",
        show_default=False,
    ),
]


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    state["debug"] = debug


def progress() -> Progress:
    """Progress on stderr: a line per step, and on a terminal a line repainted in place with the bytes."""
    from generator.ops.progress import Progress

    def paint(line: str) -> None:
        sys.stderr.write("\r\033[K" + redact.clean(line))
        sys.stderr.flush()

    return Progress(say, paint if sys.stderr.isatty() else None)


def write_text(path: Path, text: str) -> None:
    """Replace `path` atomically; never through a symlink, never over a folder."""
    if path.is_symlink() or path.is_dir():
        raise PromstackError(f"{path} is a symlink or a folder; choose a plain file to write to")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PromstackError(f"cannot write {path}: {exc.strerror}") from None
