"""Stage `write`: the output folder of `generate -o DIR`, and what in it is not promstack's.

promstack replaces only what it wrote there, as its manifest (`.promstack.json`) lists it. Everything
else is the user's: a spec, a `.git`, notes, a file dropped into one of our folders. `write_tree` moves
those entries into the new tree before the atomic swap, so they survive it with their bytes, modes and
inodes, and moves them back if anything fails. A user's entry where the new tree writes (at one of its
paths, where it needs a folder, or under one of its files), or a symlink where it writes, is refused by
name: nothing is ever written through it. `DIR` is resolved first (`..`, `.`, symlinks): once `DIR` is
renamed away, `DIR/..` would name something else. A `DIR` that is a mount point, or a user's entry on
another filesystem (a mount inside it), cannot be renamed: refused by name before anything moves.

A run that is killed (SIGKILL, a power cut) while the user's entries sit in the new tree must not lose
them: a journal next to `DIR` (`.<name>.promstack-generate`, see `Journal`) names the new tree and the
entries moved into it before the first one moves, and the next `generate` into `DIR` puts them back and
removes what the killed run left. The new tree is swapped in with one `renameat2(RENAME_EXCHANGE)`, so
`DIR` never goes missing (two renames where the kernel or filesystem cannot exchange).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
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
    if os.path.ismount(out):
        raise PromstackError(
            f"{out} is a mount point; generate replaces its output folder by renaming it, which a mount point "
            "cannot be: choose a folder inside it"
        )
    ours = _listed(out)
    found: list[str] = []
    _walk(out, "", ours, _folders(ours), found)
    device = os.lstat(out).st_dev
    mounted = [rel for rel in found if os.lstat(out / rel).st_dev != device or os.path.ismount(out / rel)]
    if mounted:
        raise PromstackError(
            f"{out} holds what promstack did not write on another filesystem: {names(mounted)}. generate "
            "moves the user's entries into the new output folder, which a mount point cannot follow: unmount "
            "it, or choose another output folder"
        )
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
        if not os.path.lexists(new / rel) and os.path.lexists(out / rel):
            continue  # never moved (a killed run journals them first), or already back
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


# --- a killed run, and the swap ------------------------------------------------------------------------------
class Journal:
    """What a `generate` into `out` is doing, in `.<name>.promstack-generate` next to it: the new tree (its
    temporary folder), where the previous one was set aside (without an exchange), the user's entries moved
    into the new tree, and who is writing (pid and start time). Written before the first entry moves."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.parent / f".{out.name}.promstack-generate"

    def write(self, staging: Path, moved: list[str], old: Path | None = None) -> None:
        record = {"pid": os.getpid(), "start": _start(os.getpid()), "staging": str(staging), "moved": moved}
        record["old"] = str(old) if old else None
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(record, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # (a full disk: nothing moved yet, nothing left behind)
            raise

    def done(self) -> None:
        self.path.unlink(missing_ok=True)

    def recover(self) -> str:
        """Finish what a killed run left: the previous tree back where it was, the user's entries back in
        it, the temporary folders gone. Returns what was done ("" if nothing was left)."""
        try:
            record = json.loads(userfile.read(self.path, _MANIFEST_MAX))
        except (FileNotFoundError, NotADirectoryError):
            return ""
        except (OSError, ValueError, userfile.NotRegular):
            raise PromstackError(
                f"{self.path} (the journal of an earlier generate into {self.out}) cannot be read; look at it, "
                "remove it, and run again"
            ) from None
        pid, start = record.get("pid"), record.get("start")
        if isinstance(pid, int) and pid != os.getpid() and start is not None and _start(pid) == start:
            raise PromstackError(f"another promstack generate (pid {pid}) is writing {self.out}; wait for it")
        staging = Path(str(record.get("staging", "")))
        old = Path(record["old"]) if record.get("old") else None
        moved = [str(rel) for rel in record.get("moved") or []]
        if not _ours(staging, self.out, ".new-") or (old is not None and not _ours(old, self.out, ".old-")):
            raise PromstackError(f"{self.path} names folders that are not generate's own; look at it and remove it")
        if old is not None and (old / "tree").is_dir() and not os.path.lexists(self.out):
            os.rename(old / "tree", self.out)  # killed between its two renames: the previous tree goes back
        stranded = move_back(self.out, staging, moved) if staging.is_dir() and self.out.is_dir() else []
        if stranded:
            raise PromstackError(
                f"an earlier generate into {self.out} was killed; {names(stranded)} could not be moved back from "
                f"{staging}: move them by hand, then remove {self.path}"
            )
        for folder in (staging, old):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        self.done()
        return f"an earlier generate into {self.out} was killed; its leftovers are cleaned up" + (
            f" and {names(moved)} put back" if moved else ""
        )


def _ours(folder: Path, out: Path, kind: str) -> bool:
    """A temporary folder generate makes next to `out` (never anything else, whatever the journal says)."""
    return folder.parent == out.parent and folder.name.startswith(f".{out.name}{kind}")


def _start(pid: int) -> int | None:
    """When `pid` started (clock ticks after boot), to tell it from a later process with the same pid."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(new: Path, out: Path) -> bool:
    """Swap the folders `new` and `out` in one step (renameat2 RENAME_EXCHANGE, Linux 3.15+); False where
    the system cannot, and the caller falls back to two renames."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(out), _RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(out))
