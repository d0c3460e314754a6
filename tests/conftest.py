"""Shared fixtures: spec builders, the --update-golden flag, free ports, both compose clients, the Hypothesis
profiles."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest
import yaml
from hypothesis import HealthCheck, settings
from port_registry import free_port

from generator.checks import compose_config

ROOT = Path(__file__).resolve().parent.parent

# A suite a shell starts in the background (`make test &`) inherits SIGINT ignored, and so would every
# promstack it starts: the tests that interrupt promstack as Ctrl-C does would see it carry on. Take the
# signal back here (each xdist worker loads this file), so the processes the tests start get its default.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# Hypothesis profiles. `ci` (CI is set, and `make test`): the same examples every run (derandomize, no
# example database), so a red build is the code's doing, not the draw's. `explore` (`make explore`):
# random and ten times longer, to find new failures. `dev` (plain pytest): random, the `ci` count.
# HYPOTHESIS_PROFILE picks one by name.
_HYPOTHESIS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, database=None, max_examples=200, **_HYPOTHESIS)
settings.register_profile("dev", max_examples=200, **_HYPOTHESIS)
settings.register_profile("explore", max_examples=2000, **_HYPOTHESIS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

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


@pytest.fixture
def port() -> Callable[[], int]:
    """A loopback port no other test, xdist worker or concurrent run is given (see port_registry)."""
    return free_port


def skip_or_fail(why: str) -> NoReturn:
    """Skip, naming what is missing; where CI is set, fail instead: CI must run every test."""
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI is set: this must not be skipped; scripts/install.sh installs it)")
    pytest.skip(why)


COMPOSE_CLIENTS = {"v2": ("docker compose", "2."), "v1": ("docker-compose", "1.")}  # command, version


@pytest.fixture(params=list(COMPOSE_CLIENTS))
def compose_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each compose client in turn ("v2", "v1"), forced through $PROMSTACK_COMPOSE for promstack, whether it
    runs in this process or as a command the test starts. A missing client: skipped, or failed under CI."""
    choice = str(request.param)
    monkeypatch.setenv(compose_config.CLIENT_ENV, choice)
    command = compose_config.client()
    if command is None:
        skip_or_fail(compose_config.missing())
    name, major = COMPOSE_CLIENTS[choice]
    version = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=60)
    found = version.stdout.strip().removeprefix("v")
    if not found.startswith(major):
        skip_or_fail(f"`{name}` here is Compose {found or version.stderr.strip()!r}, not {choice}")
    return choice


DOCKER_GROUP = "runtime-compose"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep every Docker test in the one xdist group "runtime-compose" (`pytest -n 2 --dist loadgroup`):
    a fault test restarts the engine, and nothing else may use it meanwhile.

    1. a `docker` test without a group (e.g. the compose parameter of a test that also runs locally)
       joins the group;
    2. the group reaches the scheduler: xdist 3.8 passes it as an `@group` suffix of the node id, set
       through `item._nodeid`, which pytest 9.2 no longer reads (node ids are structured), so every
       test is scheduled on its own (pytest-dev/pytest-xdist#1386). trylast: after xdist's own hook;
       where its suffix took effect, nothing is done here.
    """
    for item in items:
        if item.get_closest_marker("docker") is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(DOCKER_GROUP))
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers under --dist loadgroup
        return
    for item in items:
        names = {
            str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")
        }
        if not names:
            continue
        suffix = "@" + "_".join(sorted(names))
        if item.nodeid.endswith(suffix):
            continue
        grouped = item.nodeid + suffix
        node_id = getattr(item, "_id", None)
        if node_id is not None:
            item._id = type(node_id).parse(grouped)  # type: ignore[attr-defined]
        else:
            item._nodeid = grouped
