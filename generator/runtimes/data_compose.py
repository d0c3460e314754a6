"""Stage `deploy`: the compose runtime's data (named volumes), for backup and restore (see `data`).

Reading goes through the running container's archive API (`docker cp` without the CLI); pausing is
`docker pause`. Restoring creates each volume with the labels compose itself gives the volumes it creates
(project and volume name), so both clients adopt it without a warning, and fills it through a container
that is created on it and never started, the files owned by the user the component runs as.

A volume cannot be renamed, so a restore cannot swap finished volumes in: `restore.json` in the state dir
names the volumes being written while they are; whatever stops the restore, they are removed again, and
if it was killed outright the journal stays and `up` refuses to start on them (`restore` again, or
`down --volumes`, clears it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]

from generator import catalog
from generator.errors import DeployError
from generator.runtimes import compose, compose_project
from generator.runtimes.data import DataStore, Entries, owner, tar_members

_PROJECT_LABEL = "com.docker.compose.project"
_VOLUME_LABEL = "com.docker.compose.volume"


class _Stream(io.RawIOBase):
    """The engine's chunked answer as a file tarfile can read in stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self.rest:
            try:
                self.rest = next(self.chunks)
            except StopIteration:
                return 0
        count = min(len(buffer), len(self.rest))
        buffer[:count] = self.rest[:count]
        self.rest = self.rest[count:]
        return count


class ComposeData(DataStore):
    def __init__(self, *a: Any, images: dict[str, str] | None = None, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.images = images or {}
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = compose.engine()
        return self._client

    def volume(self, component: str) -> str:
        return f"{self.state.project}_{component}-data"

    def _path(self, component: str, sub: str = "") -> str:
        data = catalog.entry(component).data
        assert data is not None
        return f"{data.rstrip('/')}/{sub}" if sub else data

    def _container(self, component: str) -> Any:
        # promstack's own container of that service: a user's application may share the project name
        found = self.client.containers.list(filters=compose_project.ours(self.state.project, component))
        if not found:
            raise DeployError(f"{component} is not running; start the stack with `promstack up` first")
        return found[0]

    def read(self, component: str, sub: str = "", skip: frozenset[str] = frozenset()) -> Entries:
        path = self._path(component, sub)
        try:
            chunks, _ = self._container(component).get_archive(path, chunk_size=1 << 20)
        except docker.errors.APIError as exc:
            raise DeployError(f"cannot read {path} in {component}'s container: {exc.explanation}") from None
        strip = path.rstrip("/").rsplit("/", 1)[-1]
        for member, reader in tar_members(io.BufferedReader(_Stream(chunks), 1 << 20), strip, skip):
            if member.size < 0:
                self.out(f"    left out {component}/{member.name}: not a plain file or folder")
                continue
            yield member, reader

    def mtime(self, component: str, name: str) -> float | None:
        try:
            chunks, info = self._container(component).get_archive(self._path(component, name))
        except docker.errors.NotFound:
            return None
        except docker.errors.APIError as exc:
            raise DeployError(f"cannot read {name} in {component}'s container: {exc.explanation}") from None
        with contextlib.suppress(Exception):
            chunks.close()  # only the header was wanted
        text = str(info.get("mtime", ""))
        # RFC 3339 with nanoseconds: keep microseconds for fromisoformat
        head, _, fraction = text.rstrip("Z").partition(".")
        return datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}+00:00").timestamp()

    @contextlib.contextmanager
    def freeze(self, component: str) -> Iterator[None]:
        container = self._container(component)
        container.pause()
        try:
            yield
        finally:
            container.unpause()

    def remove(self, component: str, sub: str) -> None:
        path = self._path(component, sub)
        result = self._container(component).exec_run(["rm", "-rf", path])
        if result.exit_code != 0:
            self.out(f"  warning: could not remove {path} in {component}'s container; remove it by hand")

    def _existing_volume(self, component: str) -> Any | None:
        try:
            return self.client.volumes.get(self.volume(component))
        except docker.errors.NotFound:
            return None

    def existing(self, components: list[str]) -> list[str]:
        return [c for c in components if self._existing_volume(c) is not None]

    def place(self, staged: Path, components: list[str], replace: bool) -> None:
        journal = self.state.root / "restore.json"
        journal.write_text(json.dumps({"volumes": [self.volume(c) for c in components]}) + "\n")
        made: list[str] = []
        try:
            for component in components:
                old = self._existing_volume(component)
                if old is not None:
                    if not replace:
                        raise DeployError(f"volume {old.name} exists; restore --replace replaces it")
                    if old.attrs.get("Labels", {}).get(_PROJECT_LABEL) != self.state.project:
                        raise DeployError(f"volume {old.name} was not made for project {self.state.project!r}")
                    old.remove()
                labels = {_PROJECT_LABEL: self.state.project, _VOLUME_LABEL: f"{component}-data"}
                volume = self.client.volumes.create(self.volume(component), labels=labels)
                made.append(volume.name)
                self._fill(component, volume.name, staged / component)
        except BaseException:
            for name in made:
                with contextlib.suppress(docker.errors.APIError):
                    self.client.volumes.get(name).remove(force=True)
            raise
        journal.unlink()

    def _fill(self, component: str, volume: str, folder: Path) -> None:
        image = self.images.get(component)
        if not image:
            raise DeployError(f"no image known for {component}; its volume cannot be filled")
        path = self._path(component)
        container = self.client.containers.create(
            image,
            volumes={volume: {"bind": path, "mode": "rw"}},
            network_disabled=True,
            labels={"promstack.restore": "1"},
        )
        try:
            with _tar_of(folder, owner(component)) as tar:
                if not container.put_archive(path, tar):
                    raise DeployError(f"the engine refused the data of {component}")
        except docker.errors.APIError as exc:
            raise DeployError(f"cannot fill volume {volume}: {exc.explanation}") from None
        finally:
            container.remove(force=True)


@contextlib.contextmanager
def _tar_of(folder: Path, ids: tuple[int, int] | None) -> Iterator[IO[bytes]]:
    """An uncompressed tar of `folder` (its root as "."), each entry owned by `ids`, in a temp file beside it."""
    path = folder.with_name(f".{folder.name}.tar")
    with path.open("w+b") as handle:
        with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:

            def own(info: tarfile.TarInfo) -> tarfile.TarInfo:
                if ids is not None:
                    info.uid, info.gid = ids
                info.uname = info.gname = ""
                return info

            tar.add(folder, arcname=".", filter=own)
        handle.seek(0)
        try:
            yield handle
        finally:
            os.unlink(path)
