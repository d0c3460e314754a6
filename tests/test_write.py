"""Stage `write` through `promstack generate`: deterministic bytes, and all-or-nothing under faults.

A failed generate (missing secret, unwritable place, full disk, a crash between the two renames) must
exit non-zero with a clear message, leave the previous output tree exactly as it was (bytes and modes)
and leave no temporary folder behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator import output as output_folder
from generator.cli import app

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    "GRAFANA_ADMIN_PASSWORD": "w-admin-pw",
    "PG_DSN": "postgresql://u:w-pg-pw@db:5432/shop",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/w-slack",
    "SMTP_PASSWORD": "w-smtp-pw",
}
# small, so the fault tests stay fast; the example stack is used where coverage matters (determinism)
SMALL = """\
version: 1
name: shop
components:
  grafana: {admin_password: {env: GRAFANA_ADMIN_PASSWORD}}
alerts: {packs: none}
notifications:
  receivers: [{name: team, email: {to: ops@example.com}}]
  smtp: {smarthost: "smtp.example.com:587", from: alerts@example.com, username: alerts, password: {env: SMTP_PASSWORD}}
  default_receiver: team
"""
Snapshot = dict[str, tuple[int, bytes]]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(SMALL)
    return path


def generate(spec: Path, out: Path, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = CliRunner(env={**ENV, **(env or {})}).invoke(app, ["generate", str(spec), "-o", str(out)])
    return result.exit_code, result.output


def snapshot(root: Path) -> Snapshot:
    """Every file and folder below root: mode and bytes."""
    found: Snapshot = {}
    for path in sorted(root.rglob("*")):
        mode = path.stat().st_mode & 0o7777
        found[str(path.relative_to(root))] = (mode, path.read_bytes() if path.is_file() else b"")
    return found


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_generate_twice_gives_identical_bytes(tmp_path: Path) -> None:
    """The example stack, generated twice into the same folder by fresh interpreters with different hash
    seeds: set and dict orders must not leak into the output."""
    spec = tmp_path / "stack.yaml"
    shutil.copyfile(ROOT / "stack" / "stack.yaml", spec)
    out = tmp_path / "out"
    trees = []
    for seed in ("1", "2"):
        run = subprocess.run(
            [sys.executable, "-c", "from generator.cli import app; app()", "generate", str(spec), "-o", str(out)],
            env={**os.environ, **ENV, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        trees.append(snapshot(out))
    assert trees[0] == trees[1]
    assert {"compose.yaml", "prometheus/prometheus.yml", ".promstack.json"} <= set(trees[0])
    assert entries(tmp_path) == ["out", "stack.yaml"]


def test_missing_secret_keeps_previous_tree(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert generate(spec, out)[0] == 0
    before = snapshot(out)
    code, output = generate(spec, out, {"SMTP_PASSWORD": None})
    assert code == 1
    assert "SMTP_PASSWORD" in output and "is not set" in output
    assert "Traceback" not in output
    assert snapshot(out) == before
    assert entries(tmp_path) == ["out", "stack.yaml"]


def test_unreadable_secret_file_keeps_previous_tree(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert generate(spec, out)[0] == 0
    before = snapshot(out)
    spec.write_text(spec.read_text().replace("{env: SMTP_PASSWORD}", "{file: smtp-password.txt}"))
    code, output = generate(spec, out)
    assert code == 1
    assert f"secret file {tmp_path / 'smtp-password.txt'} cannot be read: No such file or directory" in output
    assert snapshot(out) == before
    assert entries(tmp_path) == ["out", "stack.yaml"]


def test_parent_is_a_file(spec: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    code, output = generate(spec, blocker / "out")
    assert code == 1
    assert f"error: cannot write to {blocker}: " in output
    assert blocker.read_text() == "not a folder\n"
    assert entries(tmp_path) == ["blocker", "stack.yaml"]


def test_output_is_a_file(spec: Path, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("keep me\n")
    code, output = generate(spec, target)
    assert code == 1
    assert f"error: {target} exists and is not a directory" in output
    assert target.read_text() == "keep me\n"
    assert entries(tmp_path) == ["out", "stack.yaml"]


def test_regenerate_drops_files_of_removed_components(tmp_path: Path) -> None:
    """The output folder is replaced as a whole: nothing of a removed exporter lingers."""
    spec = tmp_path / "stack.yaml"
    probes = "exporters:\n  blackbox: {probes: [{name: api, targets: ['http://api:8000/health']}]}\n"
    spec.write_text("version: 1\nname: shop\n" + probes)
    out = tmp_path / "out"
    assert generate(spec, out)[0] == 0
    assert any(path.startswith("blackbox-exporter/") for path in snapshot(out))
    spec.write_text("version: 1\nname: shop\n")
    assert generate(spec, out)[0] == 0
    assert not any("blackbox" in path for path in snapshot(out))


def test_crash_between_the_renames_restores_the_previous_tree(
    spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the filesystem cannot exchange two folders in one step, the one moment `out` is missing: the old
    tree is set aside, the new one not yet in place."""
    monkeypatch.setattr(output_folder, "exchange", lambda new, out: False)  # e.g. a kernel before 3.15
    out = tmp_path / "out"
    assert generate(spec, out)[0] == 0
    before = snapshot(out)
    real_rename = os.rename
    calls: list[str] = []

    def failing_rename(src: str | Path, dst: str | Path) -> None:
        calls.append(str(src))
        if Path(src).name.startswith(".out.new-"):
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing_rename)  # write.py renames through os
    code, output = generate(spec, out)
    assert code == 1
    assert "No space left on device; the previous output is unchanged" in output
    assert len(calls) == 3  # out aside, staging in (failed), out back
    assert snapshot(out) == before
    assert entries(tmp_path) == ["out", "stack.yaml"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real full disk: a small tmpfs (tests run as root in our CI)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("needs mount (util-linux) to simulate a full disk")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"needs `mount -t tmpfs` (root) to simulate a full disk: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_full_disk_keeps_previous_tree(spec: Path, tmp_path: Path, tiny_disk: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text("version: 1\nname: shop\n")
    out = tiny_disk / "out"
    assert generate(small, out)[0] == 0
    before = snapshot(out)
    # fill the disk so that the next, bigger tree cannot be staged next to the current one
    fd = os.open(tiny_disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while os.write(fd, b"\0" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    code, output = generate(spec, out)
    assert code == 1
    assert "No space left on device" in output
    assert snapshot(out) == before
    assert entries(tiny_disk) == ["filler", "out"]
