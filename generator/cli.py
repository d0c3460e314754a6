"""The `promstack` command: a thin typer layer mapping pipeline errors to exit codes (0 ok, 1 failed, 2 bad input).

The commands register on one typer app, in the order `--help` lists them: cli_spec (check, generate, test,
schema), cli_deploy (up, down, status, diff), cli_paging (ack, unack), cli_ops (backup, restore, report);
cli_common is the shared edge (options, messages, exit codes). This module is the entry point."""

from __future__ import annotations

import signal
import sys
import traceback
from types import TracebackType

# isort: off
# imported in the order `--help` lists their commands (registration order)
from generator import cli_spec, cli_deploy, cli_paging, cli_ops

# isort: on
from generator import redact
from generator.cli_common import app, say, terminated

__all__ = ["app", "cli_deploy", "cli_ops", "cli_paging", "cli_spec", "run"]


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Python's report of an exception nobody caught (--debug), cleaned of secrets like all our output."""
    sys.stderr.write(redact.clean("".join(traceback.format_exception(kind, exc, tb))))


def run() -> None:
    sys.excepthook = _excepthook
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, terminated)
    try:
        app()
    except SystemExit:
        raise
    except Exception:  # a bug: say so plainly, traceback only with --debug
        if "--debug" in sys.argv:
            raise
        say("internal error (a promstack bug); run again with --debug for the traceback")
        sys.exit(1)
