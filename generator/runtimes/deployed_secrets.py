"""Stage `deploy`: the secret values an earlier deployment left in the state dir are known secrets too.

Redaction (generator/redact.py) hides every value promstack resolves in a run. A component's log may
also quote a value it was given by an earlier `up` (a webhook URL since replaced in the environment; a
log kept by `down`): those values are on disk, in the live and last good trees and, on the local
runtime, in the programs' env files. Every command that reads a stack's state remembers them before it
prints anything: each secret file holding one line (a password, a token, a URL: Alertmanager's,
Prometheus', Grafana's `*_file` secrets) and each secret variable of an env file. Nothing is printed or
copied; the values only join the redactor's list.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
from pathlib import Path

from generator import catalog, conventions, redact, userfile
from generator.runtimes.state import State

_MAX = 64 * 1024  # as a {file:} secret


def remember(state: State) -> None:
    """Tell the redactor every secret value the stack's state dir holds (see the module docstring)."""
    for tree in (state.tree, state.last_good):
        _files(tree / conventions.SECRETS_DIR)
    variables = {name for entry in catalog.entries().values() for name in entry.secret_env}
    for folder in (state.run / "env", state.run / "env.good"):
        _env_files(folder, variables)


def _read(path: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, userfile.NotRegular):
        if stat.S_ISREG(os.lstat(path).st_mode):  # never through a symlink
            return userfile.read(path, _MAX)[:_MAX].decode("utf-8")
    return None


def _files(folder: Path) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        text = _read(path)
        if text is not None and text and "\n" not in text.rstrip("\n"):
            redact.remember(text.rstrip("\n"))


def _env_files(folder: Path, secret: set[str]) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.env")):
        for line in (_read(path) or "").splitlines():
            name, _, quoted = line.partition("=")
            if name in secret:
                with contextlib.suppress(ValueError):
                    redact.remember("".join(shlex.split(quoted)))
