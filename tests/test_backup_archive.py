"""The backup archive: written atomically (0600, never over a file, nothing left by an interruption),
and read back only when sound: a table of broken archives with the error each one gets, built with
tarfile (real archives, the way a damaged or malicious one would be). Also the local data swap of a
restore: all or nothing on a real folder."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.errors import DeployError, UsageError
from generator.ops import archive
from generator.runtimes.data import LocalData
from generator.runtimes.state import State


def _write(dest: Path, files: dict[str, bytes]) -> None:
    with archive.writing(dest) as writer:
        writer.add_dir("data")
        for name, data in files.items():
            writer.add_bytes(name, data)
        writer.finish({"stack": "s", "runtime": "local", "components": {}})


def test_round_trip_and_mode(tmp_path: Path) -> None:
    dest = tmp_path / "b.tar.gz"
    _write(dest, {"data/p/a": b"alpha", "data/p/sub/b": b"beta", "config/x.yml": b"x: 1\n"})
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    into = tmp_path / "out"
    into.mkdir()
    manifest = archive.extract(dest, into)
    assert (into / "data/p/sub/b").read_bytes() == b"beta"
    assert manifest["members"]["data/p/a"] == {"size": 5, "sha256": hashlib.sha256(b"alpha").hexdigest()}
    assert manifest["stack"] == "s" and manifest["format"] == archive.FORMAT


def test_an_interrupted_backup_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "b.tar.gz"
    with pytest.raises(KeyboardInterrupt), archive.writing(dest) as writer:
        writer.add_bytes("data/p/a", b"x" * 100_000)
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_stale_partial_file_is_replaced_and_an_existing_archive_kept(tmp_path: Path) -> None:
    dest = tmp_path / "b.tar.gz"
    archive.partial_of(dest).write_bytes(b"left by a backup that was killed")
    _write(dest, {"data/p/a": b"a"})
    assert not archive.partial_of(dest).exists()
    before = dest.read_bytes()
    with pytest.raises(UsageError, match="never overwrites"):
        _write(dest, {"data/p/a": b"b"})
    assert dest.read_bytes() == before
    link = tmp_path / "link.tar.gz"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="never overwrites"):
        _write(link, {})
    assert not (tmp_path / "elsewhere").exists()


def _member(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    return info, data


def _manifest_of(members: list[tuple[tarfile.TarInfo, bytes]], **extra: object) -> tuple[tarfile.TarInfo, bytes]:
    listed = {
        i.name: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
        for i, d in members
        if i.type == tarfile.REGTYPE
    }
    body = {"kind": archive.KIND, "format": archive.FORMAT, "members": listed, **extra}
    return _member(archive.MANIFEST, json.dumps(body).encode())


def _raw(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], manifest: bool = True) -> Path:
    all_members = [*members, _manifest_of(members)] if manifest else members
    with tarfile.open(path, "w:gz") as tar:
        for info, data in all_members:
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return path


GOOD = _member("data/p/a", b"alpha")
BROKEN: dict[str, tuple[Callable[[Path], Path], str]] = {
    "symlink": (lambda p: _raw(p, [GOOD, _member("data/p/l", kind=tarfile.SYMTYPE, link="/etc/passwd")]), "is a link"),
    "hard link": (lambda p: _raw(p, [GOOD, _member("data/p/h", kind=tarfile.LNKTYPE, link="data/p/a")]), "is a link"),
    "device": (lambda p: _raw(p, [_member("data/p/dev", kind=tarfile.CHRTYPE)]), "is a device"),
    "fifo": (lambda p: _raw(p, [_member("data/p/f", kind=tarfile.FIFOTYPE)]), "is a FIFO"),
    "absolute": (lambda p: _raw(p, [_member("/etc/cron.d/x", b"x")]), "has a path a backup never holds"),
    "dot-dot": (lambda p: _raw(p, [_member("data/../../x", b"x")]), "has a path a backup never holds"),
    "elsewhere": (lambda p: _raw(p, [_member("home/x", b"x")]), "has a path a backup never holds"),
    "duplicate": (lambda p: _raw(p, [GOOD, GOOD]), "appears twice"),
    "no manifest": (lambda p: _raw(p, [GOOD], manifest=False), "has no MANIFEST.json"),
    "tampered": (
        lambda p: _raw(p, [_member("data/p/a", b"alphb")], manifest=False) and _tampered(p),
        "does not match its size or SHA-256",
    ),
    "not listed": (lambda p: _unlisted(p), "does not hold"),
    "after manifest": (lambda p: _after(p), "must be the last"),
    "truncated": (lambda p: _truncated(p), "damaged or truncated"),
    "not gzip": (lambda p: (p.write_bytes(b"PK\x03\x04 a zip file"), p)[1], "damaged or truncated"),
}


def _tampered(path: Path) -> Path:
    members = [_member("data/p/a", b"alphb")]
    listed = {"data/p/a": {"size": 5, "sha256": hashlib.sha256(b"alpha").hexdigest()}}
    manifest = _member(archive.MANIFEST, json.dumps({"kind": archive.KIND, "format": 1, "members": listed}).encode())
    return _raw(path, [*members, manifest], manifest=False)


def _unlisted(path: Path) -> Path:
    listed = {"data/p/gone": {"size": 1, "sha256": "0" * 64}}
    manifest = _member(archive.MANIFEST, json.dumps({"kind": archive.KIND, "format": 1, "members": listed}).encode())
    return _raw(path, [manifest], manifest=False)


def _after(path: Path) -> Path:
    return _raw(path, [_manifest_of([]), GOOD], manifest=False)


def _truncated(path: Path) -> Path:
    _write(path, {"data/p/a": os.urandom(200_000)})
    path.write_bytes(path.read_bytes()[:60_000])
    return path


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_archives_are_refused(case: str, tmp_path: Path) -> None:
    make, message = BROKEN[case]
    path = make(tmp_path / "bad.tar.gz")
    into = tmp_path / "out"
    into.mkdir()
    with pytest.raises(archive.ArchiveError, match=message) as caught:
        archive.extract(path, into)
    assert str(path) in str(caught.value) or "member" in str(caught.value)
    assert not (tmp_path / "etc").exists() and not list(into.rglob("l"))


def test_size_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "b.tar.gz"
    _write(path, {"data/p/a": b"x" * 5000})
    monkeypatch.setenv(archive.MAX_BYTES_ENV, "4096")
    into = tmp_path / "out"
    into.mkdir()
    with pytest.raises(archive.ArchiveError, match="more than 4096 bytes"):
        archive.extract(path, into)


def test_a_gzip_bomb_is_stopped_by_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member that claims 1 GiB of zeros (a few KiB compressed) is refused before it is written out."""
    path = tmp_path / "bomb.tar.gz"
    with gzip.open(path, "wb") as raw, tarfile.open(fileobj=raw, mode="w|") as tar:
        info = tarfile.TarInfo("data/p/zeros")
        info.size = 1 << 30
        tar.addfile(info, io.BytesIO(bytes(1 << 30)))
    monkeypatch.setenv(archive.MAX_BYTES_ENV, str(1 << 20))
    into = tmp_path / "out"
    into.mkdir()
    with pytest.raises(archive.ArchiveError, match="more than"):
        archive.extract(path, into)
    assert not list(into.rglob("zeros"))


def test_local_data_is_placed_all_or_nothing(tmp_path: Path) -> None:
    state = State(tmp_path / "state" / "p", "p")
    (state.data / "alertmanager").mkdir(parents=True)
    (state.data / "alertmanager" / "silences").write_text("old")
    staged = tmp_path / "state" / "p" / "restore" / "data"
    (staged / "alertmanager").mkdir(parents=True)
    (staged / "alertmanager" / "silences").write_text("new")
    data = LocalData(state, lambda line: None)
    with pytest.raises(DeployError, match="holds data"):
        data.place(staged, ["alertmanager"], replace=False)
    assert (state.data / "alertmanager" / "silences").read_text() == "old"
    # prometheus has no staged folder: the rename fails halfway, and alertmanager's old data comes back
    with pytest.raises(OSError):
        data.place(staged, ["alertmanager", "prometheus"], replace=True)
    assert (state.data / "alertmanager" / "silences").read_text() == "old"
    assert not (state.data / "prometheus").exists()
    data.place(staged, ["alertmanager"], replace=True)
    assert (state.data / "alertmanager" / "silences").read_text() == "new"
    assert not (staged.parent / "replaced" / "alertmanager").exists()


def test_progress_is_a_line_per_step_and_repainted_only_on_a_terminal() -> None:
    from generator.ops.progress import Progress

    clock = iter(float(t) for t in range(100))
    lines: list[str] = []
    quiet = Progress(lines.append, None, clock=lambda: next(clock))
    quiet.step("prometheus: copying the snapshot", expected=4 << 20)
    for _ in range(4):
        quiet.advance(1 << 20, files=1)
    quiet.done()
    assert lines == ["  prometheus: copying the snapshot: 4.0 MiB in 4 files, 1.0s"]

    painted: list[str] = []
    lines.clear()
    tty = Progress(lines.append, painted.append, clock=lambda: next(clock))
    tty.step("prometheus: copying the snapshot", expected=4 << 20)
    tty.advance(1 << 20, files=1)
    tty.done()
    assert painted[0] == "  prometheus: copying the snapshot ..."
    assert painted[1] == "  prometheus: copying the snapshot: 1.0 MiB of 4.0 MiB (25%), 1 files, 1.0 MiB/s"
    assert painted[-1] == "" and len(lines) == 1
