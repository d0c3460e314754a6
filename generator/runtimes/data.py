"""Stage `deploy`: a stack's data where its runtime keeps it, for `backup` and `restore` (generator/ops/).

Local: one folder per component under `<state>/data/`. Compose: one named volume per component,
`<project>_<component>-data` (the renderer's `<component>-data`, prefixed by compose), read and written
through the Docker engine's archive API, so nothing is needed inside the images and the files get the
owner the container runs as (catalog `user`). `freeze` pauses a component while its files are copied
(SIGSTOP/SIGCONT of its process; `docker pause`). Nothing here decides what to copy: generator/ops does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import stat
import tarfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from generator import catalog
from generator.errors import DeployError
from generator.runtimes.apply import Progress
from generator.runtimes.state import State


@dataclass(frozen=True)
class Member:
    """One entry of a component's data folder, its path relative to that folder."""

    name: str
    is_dir: bool
    size: int
    mode: int
    mtime: float


Entries = Iterator[tuple[Member, IO[bytes] | None]]


def owner(component: str) -> tuple[int, int] | None:
    """uid, gid the component's container runs as (catalog `user`, numeric), None when not numeric."""
    user = catalog.entry(component).user or ""
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return None
    return int(uid), int(gid or uid)


class DataStore(ABC):
    def __init__(self, state: State, out: Progress) -> None:
        self.state = state
        self.out = out

    @abstractmethod
    def read(self, component: str, sub: str = "", skip: frozenset[str] = frozenset()) -> Entries:
        """The files and folders below `sub` of the component's data (top-level names in `skip` left out),
        each with a reader for a file; the skipped links, devices and sockets are said through `out`."""

    @abstractmethod
    def mtime(self, component: str, name: str) -> float | None:
        """When the component last wrote its data file `name` (None: it has not)."""

    @abstractmethod
    def freeze(self, component: str) -> contextlib.AbstractContextManager[None]:
        """The component paused for the duration of the block (running again whatever ends it)."""

    @abstractmethod
    def remove(self, component: str, sub: str) -> None:
        """Remove `sub` (a snapshot promstack asked for) from the component's data."""

    @abstractmethod
    def existing(self, components: list[str]) -> list[str]:
        """Those of `components` whose data is there (a folder or volume not empty)."""

    @abstractmethod
    def place(self, staged: Path, components: list[str], replace: bool) -> None:
        """Put `staged/<component>/` as each component's data; replace what is there only if `replace`.
        All or nothing: whatever stops it, what it had placed is taken out again."""


class LocalData(DataStore):
    def folder(self, component: str) -> Path:
        return self.state.data / component

    def read(self, component: str, sub: str = "", skip: frozenset[str] = frozenset()) -> Entries:
        root = self.folder(component) / sub if sub else self.folder(component)
        for where, dirs, files in os.walk(root):
            rel_dir = Path(where).relative_to(root).as_posix()
            if rel_dir == ".":
                dirs[:] = [d for d in dirs if d not in skip]
                files = [f for f in files if f not in skip]
            dirs.sort()
            for name in [*sorted(dirs), *sorted(files)]:
                path = Path(where, name)
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                info = os.lstat(path)
                if stat.S_ISDIR(info.st_mode):
                    yield Member(rel, True, 0, info.st_mode, info.st_mtime), None
                elif stat.S_ISREG(info.st_mode):
                    with path.open("rb") as handle:
                        yield Member(rel, False, info.st_size, info.st_mode, info.st_mtime), handle
                else:
                    self.out(f"    left out {component}/{rel}: not a plain file or folder")

    def mtime(self, component: str, name: str) -> float | None:
        try:
            return os.stat(self.folder(component) / name).st_mtime
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def freeze(self, component: str) -> Iterator[None]:
        from generator.runtimes import supervisor

        process = supervisor.managed(self.state).get(component)
        if process is None:
            raise DeployError(f"{component} is not running; start the stack with `promstack up` first")
        os.kill(process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(process.pid, signal.SIGCONT)

    def remove(self, component: str, sub: str) -> None:
        shutil.rmtree(self.folder(component) / sub, ignore_errors=True)

    def existing(self, components: list[str]) -> list[str]:
        return [c for c in components if self.folder(c).is_dir() and any(self.folder(c).iterdir())]

    def place(self, staged: Path, components: list[str], replace: bool) -> None:
        self.state.data.mkdir(parents=True, exist_ok=True)
        aside = staged.parent / "replaced"
        aside.mkdir(exist_ok=True)
        moved: list[str] = []
        placed: list[str] = []
        try:
            for component in components:
                target = self.folder(component)
                if target.exists():
                    if not replace and any(target.iterdir()):
                        raise DeployError(f"{target} holds data; restore --replace replaces it")
                    os.rename(target, aside / component)
                    moved.append(component)
                os.rename(staged / component, target)
                placed.append(component)
        except BaseException:
            for component in reversed(placed):  # the restored copy goes back, what was there comes back
                os.rename(self.folder(component), staged / component)
            for component in reversed(moved):
                os.rename(aside / component, self.folder(component))
            raise
        shutil.rmtree(aside, ignore_errors=True)


def store(runtime: str, state: State, out: Progress, images: dict[str, str]) -> DataStore:
    """The data of the stack in `state` on `runtime`; `images`: each component's image (compose restores)."""
    if runtime == "compose":
        from generator.runtimes.data_compose import ComposeData

        return ComposeData(state, out, images=images)
    return LocalData(state, out)


def tar_members(stream: IO[bytes], strip: str, skip: frozenset[str]) -> Entries:
    """The members of a tar stream (the engine's archive of a folder, its name first), as Members relative
    to that folder; links and devices are not followed but named."""
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            name = member.name.rstrip("/")
            if name == strip:
                continue
            rel = name[len(strip) + 1 :] if name.startswith(strip + "/") else name
            if rel.split("/", 1)[0] in skip:
                continue
            if member.isdir():
                yield Member(rel, True, 0, member.mode, member.mtime), None
            elif member.isreg():
                yield Member(rel, False, member.size, member.mode, member.mtime), tar.extractfile(member)
            else:
                yield Member(rel, False, -1, member.mode, member.mtime), None
