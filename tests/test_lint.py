"""The code stays as STYLE.md asks: ruff clean and formatted, mypy --strict clean on the package."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PATHS = ["generator", "tests", "bench", "dashboards"]


def _tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e .[dev])")
    return str(path)


@pytest.mark.parametrize(
    "argv",
    [["ruff", "check", *PATHS], ["ruff", "format", "--check", *PATHS], ["mypy", "generator"]],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_clean(argv: list[str]) -> None:
    done = subprocess.run([_tool(argv[0]), *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


# a user's clone has nothing beside it: a test, script or doc that reaches out of the checkout works only here
OUTSIDE = re.compile(r"\.\./" + r"shared|ROOT\.parent\b|parent\.parent\.parent")
SELF_CONTAINED = ["tests", "bench", "scripts", ".ci", "docs", "Makefile", "README.md", "pyproject.toml"]


def test_nothing_reads_outside_the_repository() -> None:
    paths = [
        p for name in SELF_CONTAINED for p in ([ROOT / name] if (ROOT / name).is_file() else (ROOT / name).rglob("*"))
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in paths
        if path.is_file() and "golden" not in path.parts and path.suffix not in (".json", ".pyc")
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert found == [], "\n".join(found)


# STYLE.md: "split by artifact or command before a file passes ~400 lines". The JSON Schema is data, not code.
MAX_LINES = 400


def test_no_file_of_the_package_passes_400_lines() -> None:
    code = [p for p in sorted((ROOT / "generator").rglob("*")) if p.is_file() and p.suffix in (".py", ".j2")]
    too_long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for path in code
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert code, "no code found under generator/"
    assert too_long == [], "split these by concern (STYLE.md):\n" + "\n".join(too_long)
