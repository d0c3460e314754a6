"""Stage `deploy`: is the folder at a stack's state path promstack's own, and is nothing in it a symlink?

promstack deletes, changes or writes only in a state folder it created. It proves that with a marker
file, written when it creates the folder. A folder at the state path without the marker is adopted
(the marker written) only if it is empty, or if an earlier promstack, from before the marker, left it:
its state.json names this project, or (after a `down`, which removes state.json) it holds nothing but
promstack's layout, lock included. Every other folder there is refused by every command, before even
the lock file is created in it.

Nothing is ever written through a symlink: one where promstack writes (an entry of the state folder, or
anything inside the folders it writes into) is refused, by name, before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

from generator import userfile
from generator.errors import DeployError
from generator.output import names

MARKER = ".promstack-state"
# every entry of a state dir (see `state`'s layout): what an earlier promstack may have left
LAYOUT = frozenset(
    {"tree", "last-good", "staging", "data", "generated", "logs", "run", "lock", "state.json", "pending.json"}
    | {"restore", "restore.json"}
    | {".last-good.new", ".last-good.old", ".state.json.tmp", ".pending.json.tmp", MARKER}
)
# the folders promstack writes into, searched whole for symlinks; data/ only one level deep (each
# component's own folder: what the component keeps inside is its business)
_WRITTEN = ("tree", "last-good", "generated", "logs", "run")
_RECORD_MAX = 1 << 20


def verdict(root: Path, project: str, hint: str) -> str:
    """ "missing", "ours" (the marker is there) or "adopt" (empty, or left by an earlier promstack);
    DeployError for anything else. `hint` says how to choose another state folder."""
    try:
        info = os.lstat(root)
    except (FileNotFoundError, NotADirectoryError):
        return "missing"  # (under a file: creating it says so)
    except OSError as exc:
        raise DeployError(f"cannot use the state directory {root}: {exc.strerror} ({hint})") from None
    if stat.S_ISLNK(info.st_mode):
        raise DeployError(
            f"the state directory {root} is a symlink; promstack never writes through one ({hint}, "
            "e.g. the folder it points to)"
        )
    if not stat.S_ISDIR(info.st_mode):
        raise DeployError(f"the state directory {root} exists and is not a folder ({hint})")
    with contextlib.suppress(OSError):
        if stat.S_ISREG(os.lstat(root / MARKER).st_mode):
            return "ours"
    try:
        entries = sorted(os.listdir(root))
    except OSError as exc:
        raise DeployError(f"cannot use the state directory {root}: {exc.strerror} ({hint})") from None
    if not entries or _earlier(root, project, entries):
        return "adopt"
    raise DeployError(
        f"the state directory {root} was not created by promstack (it has no {MARKER}) and holds "
        f"{names(entries)}; promstack never writes into, changes or deletes a folder it did not create. "
        f"Move that folder away, or {hint}."
    )


def _earlier(root: Path, project: str, entries: list[str]) -> bool:
    """Left by a promstack from before the marker: its state.json names `project`, or (after `down`) it
    holds only promstack's layout, with the lock file every earlier `up` and `down` created."""
    if "state.json" in entries:
        try:
            data = json.loads(userfile.read(root / "state.json", _RECORD_MAX))
        except (OSError, ValueError, userfile.NotRegular):
            return False
        return isinstance(data, dict) and data.get("project") == project
    try:
        lock = os.lstat(root / "lock")
    except OSError:
        return False
    return stat.S_ISREG(lock.st_mode) and set(entries) <= LAYOUT


def write_marker(root: Path, project: str) -> None:
    """Claim `root` (it exists): the marker, and owner-only access (it will hold resolved secrets)."""
    root.chmod(0o700)
    try:
        fd = os.open(root / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return  # another promstack claimed it at the same moment
    with os.fdopen(fd, "w") as handle:
        handle.write(f"promstack state directory of project {project}; remove it only with the folder\n")


def refuse_symlinks(root: Path, deep: bool = True) -> None:
    """DeployError if a symlink sits where promstack writes: an entry of `root`, or (deep) anything in
    the folders it writes into."""
    for name in sorted(LAYOUT):
        _no_link(root / name)
    if not deep:
        return
    for folder in (*_WRITTEN, "data"):
        for where, dirs, files in os.walk(root / folder):
            for name in (*dirs, *files):
                _no_link(Path(where, name))
            if folder == "data":
                dirs.clear()


def _no_link(path: Path) -> None:
    if path.is_symlink():
        raise DeployError(
            f"{path} is a symlink; promstack never writes through one. Remove it (what it points to is left "
            "alone) and run again."
        )
