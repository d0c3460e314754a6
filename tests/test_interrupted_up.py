"""An `up` interrupted between writing the live tree and confirming the reload (SIGKILL, Ctrl-C) is
finished by the next `up`: it reloads what the interrupted one left unconfirmed instead of reporting "no
changes" while Prometheus and Alertmanager still run their old configuration.

The interruption points are exact: `PROMSTACK_TEST_PAUSE_AT=<step>` (a hook for tests only, see
`generator/pause.py`) makes `up` announce the step on stderr and wait there until it is killed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_live_apply import rule
from test_runtime_compose import compose_spec, docker_images_or_skip
from test_runtime_local import (
    PROMSTACK,
    Deployment,
    base_spec,
    deployment_factory,
    free_ports,
    get_json,
    need_binaries,
    rule_names,
)

from generator.pause import PAUSE_ENV

pytestmark = pytest.mark.live
# after the files are installed; after the processes are converged (the record is saved); after the reloads
POINTS = ["installed", "converged", "reloaded"]
# the journal is the engine's, so on compose the two points that differ there (a reload-only change does
# nothing at converge on compose): before and after the reloads
CASES = [
    *(
        pytest.param("local", point, id=f"local-{point}", marks=pytest.mark.xdist_group("runtime-local"))
        for point in POINTS
    ),
    *(
        pytest.param(
            "compose",
            point,
            id=f"compose-{point}",
            marks=[pytest.mark.docker, pytest.mark.xdist_group("runtime-compose")],
        )
        for point in ("installed", "reloaded")
    ),
]


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def spec_with(runtime: str, ports: dict[str, int], marker: str) -> dict[str, Any]:
    """The same stack with one custom alert and one route named after `marker`: a Prometheus and an
    Alertmanager change, both applied by a reload."""
    build = base_spec if runtime == "local" else lambda *a, **k: compose_spec(*a, docker_images_or_skip(), **k)
    return build(
        ports,
        "interrupted",
        alerts={"rules": [rule(marker)]},
        notifications={
            "receivers": [{"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}}],
            "default_receiver": "team",
            "routes": [{"match": {"team": marker.lower()}, "receiver": "team"}],
        },
    )


def alertmanager_config(stack: Deployment) -> str:
    return str(((get_json(f"{stack.alertmanager}/api/v2/status") or {}).get("config") or {}).get("original", ""))


def interrupted_up(stack: Deployment, point: str, signum: signal.Signals, log: Path) -> str:
    """Run `up` until it reaches `point`, send it `signum`, return what it printed."""
    command = [PROMSTACK, "up", str(stack.spec), "--runtime", stack.runtime, "--timeout", "120"]
    with log.open("w") as err:
        proc = subprocess.Popen(command, env={**stack.env, PAUSE_ENV: point}, stdout=err, stderr=err)
        try:
            deadline = time.monotonic() + 240
            while f"paused at {point}" not in log.read_text():
                assert proc.poll() is None, f"up ended before {point}:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"up did not reach {point}:\n{log.read_text()}"
                time.sleep(0.1)
            proc.send_signal(signum)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return log.read_text()


@pytest.mark.parametrize(("runtime", "point"), CASES)
def test_next_up_applies_what_an_interrupted_up_left_unconfirmed(
    runtime: str,
    point: str,
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
    tmp_path: Path,
) -> None:
    if runtime == "local":
        need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(spec_with(runtime, ports, "Before")), runtime, ports)
    stack.up()
    for signum in (signal.SIGKILL, signal.SIGINT):
        marker = f"After{signum.name.title()}"  # AfterSigkill, AfterSigint
        write_spec(spec_with(runtime, ports, marker))
        printed = interrupted_up(stack, point, signum, tmp_path / f"{point}-{signum.name}.log")
        assert "reload" in printed  # the interrupted run had planned the reloads
        live_rules = (stack.root / "tree" / "prometheus" / "rules" / "custom.yml").read_text()
        assert marker in live_rules  # the live tree is the new one already
        if point != "reloaded":  # the interruption was real: Prometheus still runs the old rules
            assert marker not in rule_names(stack.prometheus)

        result = stack.up()
        said = result.stdout + result.stderr
        assert "no changes" not in said, said
        assert "reload prometheus" in result.stdout and "reload alertmanager" in result.stdout, said
        assert marker in rule_names(stack.prometheus)
        assert marker.lower() in alertmanager_config(stack)
        # and once confirmed, the next `up` has nothing left to do
        assert "applied: nothing (no changes)" in stack.up().stdout


def retention(stack: Deployment) -> str:
    flags = get_json(f"{stack.prometheus}/api/v1/status/flags") or {}
    return str(flags.get("data", {}).get("storage.tsdb.retention.time", ""))


@pytest.mark.xdist_group("runtime-local")
def test_a_rollback_cut_short_still_gets_its_restart_applied(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
    tmp_path: Path,
) -> None:
    """A change that recreates Prometheus (a new flag) fails on Alertmanager and is rolled back: Prometheus
    is back on its old flags, but state.json already records the new ones. Killed or interrupted right
    there, the journal is all that says Prometheus does not run what the record says: the next `up` must
    recreate it, not merely reload it, and never report "no changes" while it runs the old flags."""
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    spec = write_spec(spec_with("local", ports, "Before"))
    stack = deployments(spec, "local", ports)
    stack.up()
    assert retention(stack) != "3d"
    for signum in (signal.SIGKILL, signal.SIGINT):
        days = {signal.SIGKILL: "3d", signal.SIGINT: "4d"}[signum]
        write_spec({**spec_with("local", ports, "Before"), "retention": {"time": days}})
        stack.extra_env["HOOK_URL"] = "http://[refused/hook"  # Alertmanager refuses to load it: a rollback
        printed = interrupted_up(stack, "rolled-back", signum, tmp_path / f"rollback-{signum.name}.log")
        assert "recreate" in printed and "rolling back" in printed, printed
        assert retention(stack) != days  # the rollback had put Prometheus back on its old flags

        stack.extra_env["HOOK_URL"] = "http://127.0.0.1:9/unused"
        result = stack.up()
        said = result.stdout + result.stderr
        assert "recreate prometheus" in result.stdout, said
        assert retention(stack) == days
        if signum == signal.SIGKILL:  # (once is proof enough: every `up` here takes ten seconds of checks)
            assert "applied: nothing (no changes)" in stack.up().stdout
