"""Both compose clients: which one promstack picks ($PROMSTACK_COMPOSE or v2 first), and the compose check
(`config -q`) under each real client. The runtime under each: tests/test_runtime_compose.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import conventions
from generator.checks import CheckContext, compose_config
from generator.errors import DeployError, UsageError
from generator.render import Target, render
from generator.runtimes import compose
from generator.spec import load_stack

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "stack" / "stack.yaml"


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH folder; `install(name)` puts a stand-in client there."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv(compose_config.CLIENT_ENV, raising=False)
    return bin_dir


def install(bin_dir: Path, name: str) -> str:
    """A `docker` whose `compose` plugin answers, or a `docker-compose`."""
    path = bin_dir / name
    path.write_text("#!/bin/sh\nexit 0\n")  # `docker compose version` and `docker-compose ...` answer
    path.chmod(0o755)
    return str(path)


def test_v2_first_then_v1(fake_path: Path) -> None:
    assert compose_config.client() is None
    assert "neither `docker compose` (v2" in compose_config.missing()
    legacy = install(fake_path, "docker-compose")
    assert compose_config.client() == [legacy]
    docker = install(fake_path, "docker")
    assert compose_config.client() == [docker, "compose"]


def test_promstack_compose_forces_a_client(fake_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker, legacy = install(fake_path, "docker"), install(fake_path, "docker-compose")
    monkeypatch.setenv(compose_config.CLIENT_ENV, "v1")
    assert compose_config.client() == [legacy]
    assert compose.compose_command() == (legacy,)
    monkeypatch.setenv(compose_config.CLIENT_ENV, "v2")
    assert compose_config.client() == [docker, "compose"]
    assert compose.compose_command() == (docker, "compose")


def test_a_forced_client_that_is_missing_is_an_error_not_a_skip(
    fake_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install(fake_path, "docker-compose")
    monkeypatch.setenv(compose_config.CLIENT_ENV, "v2")
    assert compose_config.client() is None  # v1 is there, but v2 was asked for
    with pytest.raises(DeployError, match="PROMSTACK_COMPOSE=v2 asks for `docker compose`"):
        compose.compose_command()
    failures = [p.message for p in compose_config.run(_context(tmp_path))]
    assert failures == [f"{compose_config.missing()}."] and "docker-compose-plugin" in failures[0]
    monkeypatch.setenv(compose_config.CLIENT_ENV, "v3")
    with pytest.raises(UsageError, match="PROMSTACK_COMPOSE must be v2, v1 or auto, not 'v3'"):
        compose_config.client()


def _context(tmp_path: Path, broken: bool = False) -> CheckContext:
    stack = load_stack(EXAMPLE)
    tree = render(stack, Target("compose"))
    if broken:
        tree.files[conventions.COMPOSE_FILE] = tree.files[conventions.COMPOSE_FILE].replace("mem_limit:", "mem_limimt:")
    return CheckContext(stack, tree, tmp_path, Target("local", str(tmp_path)), compose_tree=tree)


def test_the_compose_check_under_each_client(compose_client: str, tmp_path: Path) -> None:
    assert compose_config.run(_context(tmp_path)) == []
    (failure,) = [p.message for p in compose_config.run(_context(tmp_path, broken=True))]
    label = {"v2": "docker compose", "v1": "docker-compose"}[compose_client]
    assert failure.startswith(f"{label} config rejected compose.yaml: ") and "mem_limimt" in failure
