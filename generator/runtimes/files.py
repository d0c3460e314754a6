"""Stage `deploy`: the live tree on disk, file by file: what differs, who reads it, replacing it in place.

Containers bind-mount the live tree's folders, so a folder is never swapped: each changed file is
written next to its target and renamed over it. Files made from secrets stay owner-only (0600), and a
diff names them without showing them.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from generator import conventions, yamlload
from generator.errors import DeployError
from generator.model import Stack


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the tree
    kind: str  # added | changed | removed
    component: str | None  # the component that reads it, if any
    secret: bool = False  # holds resolved secrets: never shown, owner-only


def _files(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        return {}
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel != conventions.MANIFEST and not path.name.startswith(".promstack-tmp-"):
            found[rel] = path
    return found


def folders(stack: Stack, compose_text: str | None) -> dict[str, str]:
    """Top-level tree folder -> the component reading it (by name, spec key, or compose bind mount)."""
    owners = {name: name for name in stack.components}
    for keys in conventions.OPTIONAL.values():
        owners.update({key: name for key, name in keys.items() if name in stack.components})
    services = (yamlload.safe_load(compose_text) or {}).get("services", {}) if compose_text else {}
    for service, spec in services.items():
        for volume in (spec or {}).get("volumes", []) or []:
            source = volume.get("source", "") if isinstance(volume, dict) else str(volume).split(":", 1)[0]
            if source.startswith("./"):
                owners.setdefault(source[2:].split("/", 1)[0], service)
    return owners


def compare(new: Path, live: Path, owners: dict[str, str]) -> list[FileChange]:
    """Every file that differs between two trees, with the component that reads it."""
    ours, theirs = _files(new), _files(live)
    changes = []
    for rel in sorted(set(ours) | set(theirs)):
        if rel not in theirs:
            kind = "added"
        elif rel not in ours:
            kind = "removed"
        elif ours[rel].read_bytes() != theirs[rel].read_bytes():
            kind = "changed"
        else:
            continue
        parts = rel.split("/")
        head = parts[1] if parts[0] == conventions.SECRETS_DIR and len(parts) > 2 else parts[0]
        secret = parts[0] == conventions.SECRETS_DIR or any(
            _private(tree[rel]) for tree in (ours, theirs) if rel in tree
        )
        changes.append(FileChange(rel, kind, owners.get(head), secret))
    return changes


def _private(path: Path) -> bool:
    """The writer gives every file made from secrets (also e.g. an alertmanager.yml with an inlined URL) 0600."""
    return path.stat().st_mode & 0o077 == 0


def install(
    source: Path,
    live: Path,
    changes: Iterable[FileChange],
    owner: Callable[[str], tuple[int, int] | None] = lambda rel: None,
) -> None:
    """Apply `changes` from `source` into `live` in place: per file, temp file + rename in the same folder."""
    live.mkdir(parents=True, exist_ok=True)
    for change in changes:
        target = live / change.path
        if change.kind == "removed":
            target.unlink(missing_ok=True)
            continue
        ids = owner(change.path) if change.secret else None
        _ensure_dirs(live, change.path, ids)
        try:
            _replace(source / change.path, target, ids)
        except OSError as exc:
            # a DeployError: the engine puts the last good tree back (file by file, as here)
            raise DeployError(f"cannot update {target}: {exc.strerror}") from None
    manifest_file = source / conventions.MANIFEST
    if manifest_file.exists():
        shutil.copyfile(manifest_file, live / conventions.MANIFEST)


def _replace(origin: Path, target: Path, ids: tuple[int, int] | None) -> None:
    """Replace `target` by a copy of `origin` atomically: a temp file next to it, renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=".promstack-tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(origin.read_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, origin.stat().st_mode & 0o777)  # 0600 for secrets, as the writer made them
        if ids is not None:
            os.chown(tmp, *ids)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _ensure_dirs(live: Path, rel: str, owner: tuple[int, int] | None) -> None:
    folder = (live / rel).parent
    missing = []
    while folder != live and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    private = Path(rel).parts[0] == conventions.SECRETS_DIR
    for path in reversed(missing):
        path.mkdir()
        path.chmod(0o700 if private else 0o755)
    if private and owner is not None:
        # secrets/<component>/ is what a container mounts: its user must be able to open it
        mounted = live.joinpath(*Path(rel).parts[:2])
        if mounted.is_dir():
            os.chown(mounted, *owner)


def unified(new: Path, live: Path, changes: Iterable[FileChange]) -> list[str]:
    """A unified diff of the non-secret files; secret files are only named, never shown."""
    lines: list[str] = []
    for change in changes:
        if change.secret:
            lines.append(f"secret {change.path}: {change.kind} (content not shown)")
            continue
        before = (live / change.path).read_text().splitlines(keepends=True) if change.kind != "added" else []
        after = (new / change.path).read_text().splitlines(keepends=True) if change.kind != "removed" else []
        old_name = f"live/{change.path}" if change.kind != "added" else "/dev/null"
        new_name = f"new/{change.path}" if change.kind != "removed" else "/dev/null"
        for line in difflib.unified_diff(before, after, old_name, new_name):
            lines.append(line.rstrip("\n"))
    return lines
