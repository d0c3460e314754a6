"""Runtime `compose`: the stack in containers, with images built from Debian binaries, under each compose
client (`docker compose` v2 and `docker-compose` v1, forced through $PROMSTACK_COMPOSE).

No registry is reachable here and no Grafana image exists, so every spec points its images at
`promstack-test/<component>:debian` (tests/images/build_images.py) and disables Grafana.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]
import pytest
from test_runtime_local import (
    Deployment,
    add_silence,
    base_spec,
    deployment_factory,
    free_ports,
    listening,
    metric,
    query,
    scrape_counts,
    silences,
    wait_for,
)

IMAGES = Path(__file__).resolve().parent / "images"

pytestmark = [pytest.mark.live, pytest.mark.docker, pytest.mark.xdist_group("runtime-compose")]


@functools.cache
def build_test_images() -> dict[str, str] | str:
    """Start dockerd if needed and build the test images: component -> image reference, or why not."""
    started = subprocess.run(
        [str(IMAGES / "start_dockerd.sh")], capture_output=True, text=True, timeout=180, check=False
    )
    if started.returncode != 0:
        return f"dockerd cannot start: {(started.stderr or started.stdout).strip()[-300:]}"
    v2 = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
    if shutil.which("docker-compose") is None and not v2:
        return "needs docker-compose (v1) or the docker compose plugin (v2)"
    loader = importlib.util.spec_from_file_location("build_images", IMAGES / "build_images.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules["build_images"] = module  # its dataclasses look their module up there
    loader.loader.exec_module(module)
    return dict(module.build_all())


def docker_images_or_skip() -> dict[str, str]:
    images = build_test_images()
    if isinstance(images, str):
        pytest.skip(images)
    return images


@pytest.fixture(scope="session")
def docker_images() -> dict[str, str]:
    return docker_images_or_skip()


@pytest.fixture
def deployments(tmp_path: Path, compose_client: str) -> Iterator[Callable[..., Deployment]]:
    """Deployments run by `compose_client` (set in the environment until they are all taken down)."""
    yield from deployment_factory(tmp_path)


def container_name(project: str, service: str, client: str) -> str:
    """The first container of a service, as each client names it: how a test sees which client ran."""
    return f"{project}-{service}-1" if client == "v2" else f"{project}_{service}_1"


def compose_spec(ports: dict[str, int], name: str, images: dict[str, str], **more: Any) -> dict[str, Any]:
    """base_spec with the local test images (and no Grafana: there is no Grafana image here)."""
    spec = base_spec(ports, name, **more)
    spec["components"]["prometheus"]["image"] = images["prometheus"]
    spec["components"]["alertmanager"]["image"] = images["alertmanager"]
    spec["exporters"]["node"]["image"] = images["node-exporter"]
    return spec


def containers(project: str) -> dict[str, Any]:
    client = docker.from_env()
    found = client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    return {c.labels["com.docker.compose.service"]: c for c in found}


def volumes(project: str) -> list[str]:
    client = docker.from_env()
    return sorted(v.name for v in client.volumes.list(filters={"label": f"com.docker.compose.project={project}"}))


def networks(project: str) -> list[str]:
    client = docker.from_env()
    return sorted(n.name for n in client.networks.list(filters={"label": f"com.docker.compose.project={project}"}))


def test_up_status_down_on_compose(
    docker_images: dict[str, str],
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
    compose_client: str,
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(compose_spec(ports, "rtcompose", docker_images)), "compose", ports)

    result = stack.up()
    assert "applied: create prometheus; create alertmanager; create node-exporter" in result.stdout
    up_count, total, waiting = scrape_counts(result.stdout)
    assert total == 3 and up_count + waiting == 3, result.stdout
    running = containers(stack.project)
    assert sorted(running) == ["alertmanager", "node-exporter", "prometheus"]
    assert running["prometheus"].name == container_name(stack.project, "prometheus", compose_client)
    assert all(c.status == "running" for c in running.values())
    assert f"{stack.project}_prometheus-data" in volumes(stack.project)
    assert networks(stack.project)
    report = stack.status()
    assert report["runtime"] == "compose"
    assert report["components"]["prometheus"]["version"].startswith("2.42")
    assert report["components"]["alertmanager"]["health"] == "healthy"

    # the secret alertmanager.yml (inline webhook URL) stays 0600 but belongs to the container user
    live = stack.root / "tree" / "alertmanager" / "alertmanager.yml"
    assert stat.S_IMODE(live.stat().st_mode) == 0o600
    if os.geteuid() == 0:
        assert (live.stat().st_uid, live.stat().st_gid) == (65534, 65534)

    # the same spec again: nothing recreated
    ids = {name: c.id for name, c in running.items()}
    assert "applied: nothing (no changes)" in stack.up().stdout
    assert {name: c.id for name, c in containers(stack.project).items()} == ids

    # down keeps the named volumes: samples and silences from before survive into the next up
    silence = add_silence(stack.alertmanager)
    wait_for("a sample of up", lambda: query(stack.prometheus, 'up{job="node-exporter"}'))
    before = time.time()
    down = stack.run("down", str(stack.spec))
    assert down.returncode == 0, down.stderr
    assert containers(stack.project) == {}
    assert networks(stack.project) == []
    assert f"{stack.project}_prometheus-data" in volumes(stack.project)
    stack.up()
    assert query(stack.prometheus, 'up{job="node-exporter"}', at=before)
    assert silence in silences(stack.alertmanager)
    stack.close()
    assert containers(stack.project) == {} and volumes(stack.project) == [] and networks(stack.project) == []
    assert not listening(ports["prometheus"])


def test_component_change_recreates_only_its_container(
    docker_images: dict[str, str],
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    path = write_spec(compose_spec(ports, "rtcrecreate", docker_images))
    stack = deployments(path, "compose", ports)
    stack.up()
    before = {name: c.id for name, c in containers(stack.project).items()}
    started = metric(stack.prometheus, "process_start_time_seconds")

    spec = compose_spec(ports, "rtcrecreate", docker_images)
    spec["exporters"]["node"]["memory"] = "100MB"  # how the container runs: only it is recreated
    write_spec(spec)
    result = stack.up()
    assert "applied: recreate node-exporter" in result.stdout
    after = {name: c.id for name, c in containers(stack.project).items()}
    assert after["node-exporter"] != before["node-exporter"]
    assert after["prometheus"] == before["prometheus"] and after["alertmanager"] == before["alertmanager"]
    assert metric(stack.prometheus, "process_start_time_seconds") == started


def test_missing_image_is_reported_at_once(
    docker_images: dict[str, str],
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Deployment],
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    spec = compose_spec(ports, "rtnoimage", docker_images)
    spec["exporters"]["node"]["image"] = "promstack-test/not-built-anywhere:debian"
    stack = deployments(write_spec(spec), "compose", ports)
    result = stack.up(expect=1, timeout=300)  # a hang (waiting on a pull that cannot work) is a failure
    assert "image promstack-test/not-built-anywhere:debian is not present locally and could not be pulled" in (
        result.stderr
    )
    assert containers(stack.project) == {}  # nothing was started
