"""Shared fixtures: spec builders, the --update-golden flag, free ports."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = {
    "version": 1,
    "name": "t",
    "notifications": {
        "receivers": [{"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}}],
        "default_receiver": "team",
    },
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/*/expected from the code")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a spec (a dict merged over a minimal valid one, or raw text) and return its path."""

    def _write(spec: dict | str | None = None, name: str = "stack.yaml", **overrides: object) -> Path:
        path = tmp_path / name
        if isinstance(spec, str):
            path.write_text(spec)
            return path
        data = {**MINIMAL, **(spec or {}), **overrides}
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return _write


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> Callable[[], int]:
    return free_port
