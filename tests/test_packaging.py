"""A non-editable install works: the wheel ships the catalog (compose/, rules/, dashboards/, stack/)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# offline: the build backend (hatchling, a pinned dev dependency) comes from this venv instead of an
# isolated build environment downloaded from the index, and nothing is looked up on an index
OFFLINE = ["--no-build-isolation", "--no-deps", "--no-index"]


def test_the_wheel_ships_the_catalog_and_checks_a_spec(tmp_path: Path) -> None:
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("hatchling is not installed in this venv: run scripts/install.sh (it is a dev dependency)")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", *OFFLINE, "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("promstack-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "compose/prometheus.yaml",
        "rules/node-exporter.rules.yml",
        "dashboards/overview.dashboard.py",
        "stack/stack.yaml",
    ):
        assert f"generator/_catalog/{shipped}" in names
    # what the Kubernetes rendering and its check read at run time
    assert {
        "generator/kubernetes/schemas/prometheus-operator-crds.json",
        "generator/templates/kubernetes-readme.md.j2",
    } <= names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # run from elsewhere with only the installed copy importable (dependencies come from this venv)
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import generator, sys; assert generator.__file__.startswith(sys.argv[1]); "
        "from generator.cli import app; app(args=sys.argv[2:], prog_name='promstack')"
    )

    def installed(*args: str) -> subprocess.CompletedProcess[str]:
        """promstack ARGS, run from the installed copy."""
        argv = [sys.executable, "-c", code, str(target), *args]
        return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)

    done = installed("check", str(ROOT / "stack/stack.yaml"))
    assert done.returncode == 0, done.stderr
    found = re.search(r"all (\d+) checks passed, (\d+) skipped", done.stdout)
    assert found and int(found[1]) + int(found[2]) == 10, done.stdout  # dashboards/live needs --live
    kubernetes = installed("check", str(ROOT / "stack/stack.yaml"), "--runtime", "kubernetes")
    assert kubernetes.returncode == 0, kubernetes.stderr
    assert "ok  kubernetes/resources" in kubernetes.stdout
