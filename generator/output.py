"""Stage `write`: the output folder of `generate -o DIR`, and what in it is not promstack's.

promstack replaces only what it wrote there, as its manifest (`.promstack.json`) lists it. Everything
else is the user's: a spec, a `.git`, notes, a file dropped into one of our folders. `write_tree` moves
those entries into the new tree before the atomic swap, so they survive it with their bytes, modes and
inodes, and moves them back if anything fails. A user's entry where the new tree writes (at one of its
paths, where it needs a folder, or under one of its files), or a symlink where it writes, is refused by
name: nothing is ever written through it. `DIR` is resolved first (`..`, `.`, symlinks): once `DIR` is
renamed away, `DIR/..` would name something else.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath

from generator import conventions, userfile
from generator.errors import PromstackError

_MANIFEST_MAX = 64 << 20


def resolve(out: Path) -> Path:
    """`out` as the folder it names, before anything is renamed."""
    if out.is_symlink() and not out.exists():
        raise PromstackError(f"{out} is a symlink to {os.readlink(out)}, which does not exist; choose another output")
    try:
        real = Path(os.path.realpath(out))
    except FileNotFoundError:  # `..` and `.` cannot be resolved
        raise PromstackError(
            "the current folder no longer exists (removed, or replaced by a `generate` into it): `cd` to it again"
        ) from None
    if real.parent == real:
        raise PromstackError(f"{out} is the root folder; choose an output folder below it")
    return real


def foreign(out: Path, written: set[str]) -> list[str]:
    """The entries of `out` that its manifest does not list (topmost ones: a user's folder is one entry);
    PromstackError naming those in the way of `written`, the paths the new tree writes."""
    if not os.path.lexists(out):
        return []
    if not out.is_dir():
        raise PromstackError(f"{out} exists and is not a directory; choose another output folder")
    ours = _listed(out)
    found: list[str] = []
    _walk(out, "", ours, _folders(ours), found)
    folders = _folders(written)
    clashes = [
        rel
        for rel in found
        if rel in written or rel in folders or any(str(up) in written for up in PurePosixPath(rel).parents)
    ]
    if clashes:
        named = [f"{rel} (a symlink)" if (out / rel).is_symlink() else rel for rel in clashes]
        whose = "" if ours else f" (it has no {conventions.MANIFEST}: promstack did not write this folder)"
        raise PromstackError(
            f"{out}{whose} holds what promstack did not write, where it writes now: {names(named)}. "
            "promstack never replaces or writes through the user's files: move them away, or choose another "
            "output folder."
        )
    return found


def take_mode(out: Path, new: Path) -> None:
    """The new folder gets the mode (and, for root, the owner) of the folder it replaces; 0755 if new."""
    try:
        info = os.stat(out)
    except FileNotFoundError:
        new.chmod(0o755)
        return
    new.chmod(stat.S_IMODE(info.st_mode))
    if os.geteuid() == 0:
        os.chown(new, info.st_uid, info.st_gid)


def move_in(out: Path, new: Path, rel: str) -> None:
    """Move the user's entry `rel` from `out` into the new tree, making the folders it sits in (their modes)."""
    parts = PurePosixPath(rel).parts
    for depth in range(1, len(parts)):
        folder = new.joinpath(*parts[:depth])
        if not folder.exists():
            folder.mkdir()
            folder.chmod(stat.S_IMODE(os.stat(out.joinpath(*parts[:depth])).st_mode))
    os.rename(out / rel, new / rel)


def move_back(out: Path, new: Path, moved: list[str]) -> list[str]:
    """After a failure, the user's entries back from the new tree into `out`; those that could not be."""
    stranded = []
    for rel in reversed(moved):
        try:
            os.rename(new / rel, out / rel)
        except OSError:
            stranded.append(rel)
    return stranded


def _listed(out: Path) -> set[str]:
    """What the manifest in `out` says promstack wrote there; nothing without a readable manifest."""
    try:
        data = json.loads(userfile.read(out / conventions.MANIFEST, _MANIFEST_MAX))
    except (OSError, ValueError, userfile.NotRegular):
        return set()
    if not isinstance(data, dict):
        return set()
    files, secrets = data.get("files"), data.get("secrets")
    listed = [*(files if isinstance(files, dict) else []), *(secrets if isinstance(secrets, list) else [])]
    return {rel for rel in listed if isinstance(rel, str)} | {conventions.MANIFEST}


def _folders(paths: set[str]) -> set[str]:
    return {str(up) for rel in paths for up in PurePosixPath(rel).parents if str(up) != "."}


def _walk(folder: Path, prefix: str, ours: set[str], our_folders: set[str], found: list[str]) -> None:
    """Collect the entries below `folder` that are not ours: not a listed regular file, not a real folder
    holding listed files (a symlink is never ours, whatever its name)."""
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        rel = prefix + entry.name
        if rel in our_folders and entry.is_dir(follow_symlinks=False):
            _walk(Path(entry.path), rel + "/", ours, our_folders, found)
        elif not (rel in ours and entry.is_file(follow_symlinks=False)):
            found.append(rel)


def names(entries: list[str], most: int = 8) -> str:
    """`a, b, c`, or `a, b, ... and 3 more` past `most`."""
    shown = ", ".join(entries[:most])
    return shown if len(entries) <= most else f"{shown} and {len(entries) - most} more"
