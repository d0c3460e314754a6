"""The backup file: a gzip'd tar written atomically, and read back only after proving it is sound.

Layout (every path relative, no links, no devices):

    data/<component>/...   a component's data folder as the component would find it after a restore
    config/...             the live config tree with its manifest (.promstack.json); secret files only
                           with --include-secrets
    generated/...          secrets promstack generated (Grafana's admin password): only with --include-secrets
    MANIFEST.json          the last member: format, stack, runtime, what was left out, and the size and
                           SHA-256 of every other member

Writing: into `.<FILE>.partial` beside FILE (0600, created exclusively and flock'ed), renamed over nothing
once complete: an interrupted backup leaves no FILE, and the next backup to FILE removes a partial
file nobody holds. Reading: members are checked one by one (kind, path, size against the bounds and the
free disk) while they are extracted into a fresh folder, then compared with the manifest; any problem is
an ArchiveError naming the member, and the caller removes the folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import stat
import tarfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol

from generator.errors import PromstackError, UsageError
from generator.ops.progress import Progress

FORMAT = 1
KIND = "promstack-backup"
MANIFEST = "MANIFEST.json"
TOPS = ("data", "config", "generated")
MAX_MEMBERS = 2_000_000
MAX_PATH = 1024
MAX_MANIFEST = 256 << 20
MAX_BYTES_ENV = "PROMSTACK_RESTORE_MAX_BYTES"
DEFAULT_MAX_BYTES = 4 << 40  # 4 TiB: far above a stack's data, far below a gzip bomb's claims
FREE_MARGIN = 256 << 20  # what a restore leaves free on the disk it extracts to
_CHUNK = 1 << 20
COMPRESSION = 1  # gzip level: TSDB chunks are compressed already; speed matters more than a few percent


class ArchiveError(PromstackError):
    """The backup file cannot be used; the message names the file and the member."""

    exit_code = 2


class Readable(Protocol):
    def read(self, count: int = -1, /) -> bytes: ...


class _Hashing:
    """A reader that hashes and counts what tarfile reads through it, and tells the progress display."""

    def __init__(self, source: Readable, progress: Progress | None) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.progress = progress

    def read(self, count: int = -1) -> bytes:
        chunk = self.source.read(count)
        self.digest.update(chunk)
        if self.progress is not None:
            self.progress.advance(len(chunk))
        return chunk


class Writer:
    """Members are added in order; `finish` appends the manifest and renames the file into place."""

    def __init__(self, dest: Path, handle: IO[bytes], progress: Progress | None) -> None:
        self.dest = dest
        self.handle = handle
        self.progress = progress
        self.gzip = gzip.GzipFile(filename="", mode="wb", fileobj=handle, compresslevel=COMPRESSION, mtime=0)
        self.tar = tarfile.open(fileobj=self.gzip, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115 (finish closes it)
        self.members: dict[str, dict[str, Any]] = {}

    def _info(self, name: str, kind: bytes, mode: int, mtime: float, size: int = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode & 0o755 if kind == tarfile.DIRTYPE else mode & 0o644 or 0o600
        info.mtime = int(mtime)
        info.size = size
        info.uname = info.gname = ""
        return info

    def add_dir(self, name: str, mode: int = 0o755, mtime: float = 0) -> None:
        self.tar.addfile(self._info(_checked(name), tarfile.DIRTYPE, mode, mtime))

    def add_file(self, name: str, size: int, source: Readable, mode: int = 0o644, mtime: float = 0) -> None:
        name = _checked(name)
        reader = _Hashing(source, self.progress)
        self.tar.addfile(self._info(name, tarfile.REGTYPE, mode, mtime, size), reader)
        self.members[name] = {"size": size, "sha256": reader.digest.hexdigest()}
        if self.progress is not None:
            self.progress.advance(0, files=1)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.add_file(name, len(data), _BytesReader(data), mode, time.time())

    def finish(self, manifest: dict[str, Any]) -> None:
        body = {**manifest, "format": FORMAT, "kind": KIND, "members": self.members}
        data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
        self.tar.addfile(self._info(MANIFEST, tarfile.REGTYPE, 0o600, time.time(), len(data)), _BytesReader(data))
        self.tar.close()
        self.gzip.close()
        self.handle.flush()
        os.fsync(self.handle.fileno())


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def read(self, count: int = -1) -> bytes:
        end = len(self.data) if count < 0 else self.at + count
        chunk = bytes(self.data[self.at : end])
        self.at += len(chunk)
        return chunk


def partial_of(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.partial")


@contextlib.contextmanager
def writing(dest: Path, progress: Progress | None = None) -> Iterator[Writer]:
    """A Writer whose file becomes `dest` (0600) when the block ends normally; removed on any exception,
    KeyboardInterrupt included. `dest` must not exist: a backup never replaces a file."""
    if dest.is_symlink() or dest.exists():
        raise UsageError(f"{dest} exists; promstack never overwrites a file: choose a new name, or move it away")
    if not dest.parent.is_dir():
        raise UsageError(f"{dest.parent} is not a folder; create it first")
    partial = partial_of(dest)
    handle = _open_partial(partial)
    writer: Writer | None = None
    try:
        writer = Writer(dest, handle, progress)
        yield writer
        handle.close()
        if dest.is_symlink() or dest.exists():  # made while we wrote: still never replaced
            raise UsageError(f"{dest} appeared while the backup was written; it is left alone")
        os.rename(partial, dest)
    except BaseException:
        if writer is not None:
            with contextlib.suppress(Exception):  # its buffers, into the file about to go (not at exit)
                writer.tar.close()
                writer.gzip.close()
        with contextlib.suppress(OSError):
            handle.close()
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def _open_partial(partial: Path) -> IO[bytes]:
    """The partial file, ours alone: a stale one (left by a backup that was killed) is removed first."""
    for _ in range(2):
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            _remove_stale(partial)
            continue
        except OSError as exc:
            raise PromstackError(f"cannot write {partial}: {exc.strerror}") from None
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return os.fdopen(fd, "wb")
    raise PromstackError(f"cannot create {partial}")


def _remove_stale(partial: Path) -> None:
    try:
        fd = os.open(partial, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise PromstackError(f"{partial} is in the way ({exc.strerror}); remove it") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise PromstackError(f"{partial} is not a file promstack left; remove it")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PromstackError(f"another backup is writing {partial}; wait for it to finish") from None
        partial.unlink()
    finally:
        os.close(fd)


# -- reading ---------------------------------------------------------------------------------------------
def _checked(name: str) -> str:
    """A member name as it must be: relative, normalized, no `..`, under one of TOPS (or the manifest)."""
    path = PurePosixPath(name)
    if (
        not name
        or len(name) > MAX_PATH
        or path.is_absolute()
        or name != path.as_posix()
        or any(part in ("..", ".", "") for part in name.split("/"))
        or "\0" in name
        or (name != MANIFEST and path.parts[0] not in TOPS)
    ):
        raise ArchiveError(f"member {name[:200]!r} has a path a backup never holds")
    return name


def max_bytes() -> int:
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    if not raw.isdigit():
        raise UsageError(f"{MAX_BYTES_ENV}={raw!r} is not a number of bytes")
    return int(raw)


def extract(archive: Path, into: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Extract `archive` into the empty folder `into`, checking every member; return the manifest.

    ArchiveError for anything a promstack backup never holds: a link, a device, a FIFO, an absolute path
    or one with `..`, a member outside data/, config/, generated/, a duplicate, a file larger than the
    bounds or the free disk, a damaged or truncated file, a missing or wrong manifest, a hash mismatch."""
    where = f"{archive}: "
    limit = max_bytes()
    seen: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    total = 0
    try:
        raw = _open_archive(archive)
        with raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            for count, member in enumerate(tar):
                if count >= MAX_MEMBERS:
                    raise ArchiveError(f"{where}more than {MAX_MEMBERS} members")
                name = member.name.rstrip("/") if member.isdir() else member.name
                name = _checked(name)
                if manifest is not None:
                    raise ArchiveError(f"{where}member {name!r} follows {MANIFEST}, which must be the last")
                if member.isdir():
                    _mkdir(into, name)
                    continue
                if not member.isreg():
                    raise ArchiveError(
                        f"{where}member {name!r} is {_kind(member)}; a backup holds only files and folders"
                    )
                if name in seen:
                    raise ArchiveError(f"{where}member {name!r} appears twice")
                total += member.size
                if total > limit:
                    raise ArchiveError(f"{where}its files add up to more than {limit} bytes ({MAX_BYTES_ENV})")
                source = tar.extractfile(member)
                assert source is not None
                if name == MANIFEST:
                    if member.size > MAX_MANIFEST:
                        raise ArchiveError(f"{where}{MANIFEST} is larger than {MAX_MANIFEST} bytes")
                    manifest = _manifest(where, source.read())
                    continue
                free = shutil.disk_usage(into).free
                if member.size > free - FREE_MARGIN:
                    raise ArchiveError(
                        f"{where}member {name!r} ({member.size} bytes) does not fit on the disk of {into} "
                        f"({free} bytes free)"
                    )
                seen[name] = {"size": member.size, "sha256": _write(into, name, source, member, progress)}
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ArchiveError(f"{where}damaged or truncated, or not a promstack backup ({exc})") from None
    if manifest is None:
        raise ArchiveError(f"{where}has no {MANIFEST}: it is truncated, or not a promstack backup")
    listed = manifest.get("members")
    if not isinstance(listed, dict):
        raise ArchiveError(f"{where}{MANIFEST} lists no members")
    for name in sorted(set(listed) | set(seen)):
        if name not in seen:
            raise ArchiveError(f"{where}{MANIFEST} lists {name!r}, which the archive does not hold")
        if listed.get(name) != seen[name]:
            raise ArchiveError(f"{where}member {name!r} does not match its size or SHA-256 in {MANIFEST}")
    return manifest


def _open_archive(archive: Path) -> IO[bytes]:
    try:
        fd = os.open(archive, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise UsageError(f"{archive} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {archive}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UsageError(f"{archive} is not a regular file")
    return os.fdopen(fd, "rb")


def _manifest(where: str, data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise ArchiveError(f"{where}{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise ArchiveError(f"{where}{MANIFEST} is not a promstack backup manifest")
    if manifest.get("format") != FORMAT:
        raise ArchiveError(
            f"{where}backup format {manifest.get('format')!r}; this promstack reads format {FORMAT} only"
        )
    return manifest


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym() or member.islnk():
        return "a link"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return "not a plain file"


def _mkdir(into: Path, name: str) -> Path:
    path = into
    for part in name.split("/"):
        path = path / part
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        if path.is_symlink() or not path.is_dir():
            raise ArchiveError(f"member {name!r} collides with a file of the same name")
    return path


def _write(into: Path, name: str, source: IO[bytes], member: tarfile.TarInfo, progress: Progress | None) -> str:
    parent = _mkdir(into, name.rsplit("/", 1)[0]) if "/" in name else into
    mode = member.mode & 0o644 or 0o600
    target = parent / name.rsplit("/", 1)[-1]
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise ArchiveError(f"member {name!r} collides with a folder of the same name") from None
    digest = hashlib.sha256()
    with os.fdopen(fd, "wb") as handle:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            handle.write(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    if progress is not None:
        progress.advance(0, files=1)
    os.utime(target, (member.mtime, member.mtime))
    return digest.hexdigest()
