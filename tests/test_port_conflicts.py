"""A stack whose ports another program holds fails before it starts anything, naming the port and the
holder, instead of reporting healthy while its health checks reach the other program. Its own running
processes on its own ports (a re-run of `up`) are fine: every other live test does that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_faults import main_pid
from test_runtime_compose import compose_spec, containers, docker_images_or_skip
from test_runtime_local import Deployment, base_spec, deployment_factory, free_ports, listening, need_binaries
from test_supervisor_lost import stack_processes

pytestmark = pytest.mark.live
COMPONENTS = {"prometheus": "prometheus", "alertmanager": "alertmanager", "node": "node-exporter"}
DOCKER = [pytest.mark.docker, pytest.mark.xdist_group("runtime-compose")]
PAIRS = [
    *(pytest.param("local", "local", key, id=f"local-local-{key}") for key in COMPONENTS),
    pytest.param("local", "compose", "prometheus", id="local-compose-prometheus", marks=DOCKER),
    pytest.param("compose", "local", "node", id="compose-local-node", marks=DOCKER),
    pytest.param("compose", "compose", "alertmanager", id="compose-compose-alertmanager", marks=DOCKER),
]


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def spec_for(runtime: str, ports: dict[str, int], name: str) -> dict[str, object]:
    need_binaries()  # the checks run promtool and amtool on either runtime
    return base_spec(ports, name) if runtime == "local" else compose_spec(ports, name, docker_images_or_skip())


@pytest.mark.parametrize(("first", "second", "shared"), PAIRS)
def test_second_project_on_a_taken_port_fails_before_starting_anything(
    first: str,
    second: str,
    shared: str,
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
) -> None:
    ports_a = free_ports(port, *COMPONENTS)
    a = deployments(write_spec(spec_for(first, ports_a, "porta"), name="a.yaml"), first, ports_a)
    a.up()
    ports_b = {**free_ports(port, *COMPONENTS), shared: ports_a[shared]}
    b = deployments(write_spec(spec_for(second, ports_b, "portb"), name="b.yaml"), second, ports_b)

    result = b.up(expect=1)
    component = COMPONENTS[shared]
    taken = f"port {ports_a[shared]} ({component}) is in use by"
    assert taken in result.stderr or f"port {ports_a[shared]} ({component}) is published by" in result.stderr
    if first == "local":  # A's own process, by pid and command
        assert f"{taken} pid {main_pid(a, component)} (" in result.stderr, result.stderr
    elif second == "compose":  # A's container, by name
        assert containers(a.project)[component].name in result.stderr, result.stderr
    else:  # the engine's proxy that publishes A's container port, by pid and command
        assert f"{taken} pid " in result.stderr and "docker-proxy" in result.stderr, result.stderr
    assert "nothing was started" in result.stderr
    # nothing of B: no state record, no supervisord or program, no container, none of its other ports
    assert not (b.root / "state.json").exists()
    assert not stack_processes(b)
    if second == "compose":
        assert not containers(b.project)
    assert not any(listening(p) for key, p in ports_b.items() if key != shared)
    assert a.status()["components"][component]["health"] == "healthy"  # A is untouched
