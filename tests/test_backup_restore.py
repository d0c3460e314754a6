"""`promstack backup` and `restore`, live on both runtimes: samples scraped from a real node exporter and a
silence made through Alertmanager's API v2 are backed up, the stack is taken down with its data
(`down --volumes`), restored, brought up again, and both are back: the same number of samples at the same
instant, the same silence. Also: what a restore refuses (a running stack, data already there), and that
an exposed Prometheus (no admin API) is copied paused instead of by snapshot.
"""

from __future__ import annotations

import json
import os
import stat
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_runtime_compose import compose_spec, docker_images_or_skip, volumes
from test_runtime_local import (
    Deployment,
    add_silence,
    base_spec,
    deployment_factory,
    free_ports,
    need_binaries,
    query,
    silences,
    wait_for,
)


@pytest.fixture(scope="session")
def docker_images() -> dict[str, str]:
    return docker_images_or_skip()


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def _count(stack: Deployment, at: float) -> dict[str, str]:
    """Samples of `up` per job in the 10 minutes before `at`: what must be the same after the restore."""
    found = query(stack.prometheus, "count_over_time(up[10m])", at=at)
    return {r["metric"]["job"]: r["value"][1] for r in found}


def _round_trip(stack: Deployment, archive: Path) -> dict[str, str]:
    """Up, scrape, silence, back up, down --volumes, restore, up; return the backup's summary lines."""
    stack.up()
    wait_for("5 scrapes of the node exporter", lambda: float(_count(stack, time.time()).get("node-exporter", 0)) >= 5)
    at = time.time()
    before = _count(stack, at)
    silence = add_silence(stack.alertmanager)  # made just before: the backup must wait for its snapshot

    made = stack.run("--debug", "backup", str(stack.spec), "-o", str(archive))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert not list(archive.parent.glob(".*partial"))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    assert names[-1] == "MANIFEST.json"
    assert {"data/prometheus", "data/alertmanager/silences", "config/.promstack.json"} <= set(names)
    assert manifest["runtime"] == stack.runtime and manifest["include_secrets"] is False

    down = stack.run("down", str(stack.spec), "--volumes")
    assert down.returncode == 0, down.stderr
    restored = stack.run("--debug", "restore", str(stack.spec), str(archive))
    assert restored.returncode == 0, restored.stderr
    assert f"--runtime {stack.runtime}" in restored.stdout
    assert not (stack.root / "restore").exists()
    stack.up()
    assert _count(stack, at) == before and before["node-exporter"]
    assert silence in silences(stack.alertmanager)
    return {n: m["method"] for n, m in manifest["components"].items()}


pytestmark = pytest.mark.xdist_group("runtime-local")


@pytest.mark.live
def test_backup_restore_local(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment], tmp_path: Path
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "bklocal")), "local", ports)
    methods = _round_trip(stack, tmp_path / "local.tar.gz")
    assert methods == {"prometheus": "snapshot", "alertmanager": "files"}
    # no snapshot is left behind in the data (hard links would keep deleted blocks alive)
    assert not any((stack.root / "data" / "prometheus" / "snapshots").glob("*"))

    # a running stack is refused, and so is data already there without --replace
    refused = stack.run("restore", str(stack.spec), str(tmp_path / "local.tar.gz"))
    assert refused.returncode == 1 and "`promstack down` it first" in refused.stderr
    assert stack.run("down", str(stack.spec)).returncode == 0
    kept = stack.run("restore", str(stack.spec), str(tmp_path / "local.tar.gz"))
    assert kept.returncode == 1 and "has data already (alertmanager, prometheus)" in kept.stderr
    replaced = stack.run("restore", str(stack.spec), str(tmp_path / "local.tar.gz"), "--replace")
    assert replaced.returncode == 0, replaced.stderr

    # a second backup never overwrites the first
    again = stack.run("backup", str(stack.spec), "-o", str(tmp_path / "local.tar.gz"))
    assert again.returncode != 0


@pytest.mark.live
@pytest.mark.docker
def test_backup_restore_compose(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    tmp_path: Path,
    docker_images: dict[str, str],
    compose_client: str,
    deployments: Callable[..., Deployment],
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(compose_spec(ports, "bkcompose", docker_images)), "compose", ports)
    methods = _round_trip(stack, tmp_path / "compose.tar.gz")
    assert methods == {"prometheus": "snapshot", "alertmanager": "files"}
    assert f"{stack.project}_prometheus-data" in volumes(stack.project)


@pytest.mark.live
@pytest.mark.docker
def test_exposed_prometheus_is_copied_paused(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    tmp_path: Path,
    docker_images: dict[str, str],
    deployments: Callable[..., Deployment],
) -> None:
    """An exposed Prometheus gets no admin API (it would be on the network): backup pauses it instead."""
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    spec = compose_spec(ports, "bkexposed", docker_images)
    spec["components"]["prometheus"].update(
        expose=True, auth={"basic": {"username": "ops", "password": {"env": "PROM_PASSWORD"}}}
    )
    stack = deployments(write_spec(spec), "compose", ports, PROM_PASSWORD="s3cret-backup-pw")
    stack.up()
    archive = tmp_path / "exposed.tar.gz"
    made = stack.run("backup", str(stack.spec), "-o", str(archive))
    assert made.returncode == 0, made.stderr
    assert "copying its data paused, since --web.enable-admin-api is off" in made.stderr
    assert "s3cret-backup-pw" not in made.stdout + made.stderr
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
        names = tar.getnames()
    assert manifest["components"]["prometheus"]["method"] == "freeze"
    assert any(n.startswith("data/prometheus/wal/") for n in names)
    # secrets: the web config's password hash and the password file stay out without --include-secrets
    assert not [n for n in names if n.startswith("config/secrets/")]
    assert any(item["path"].startswith("config/secrets/prometheus/") for item in manifest["left_out"])
    # and the paused Prometheus runs on
    assert stack.status()["components"]["prometheus"]["state"] == "running"


def test_restore_refuses_a_state_folder_it_did_not_create(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    from test_runtime_local import promstack

    spec = write_spec(base_spec({"prometheus": 19990, "alertmanager": 19991, "node": 19992}, "foreign"))
    state = tmp_path / "state"
    (state / "foreign").mkdir(parents=True)
    (state / "foreign" / "notes.txt").write_text("mine\n")
    archive = tmp_path / "x.tar.gz"
    archive.write_bytes(b"")
    env = {**os.environ, "PROMSTACK_STATE_DIR": str(state)}
    result = promstack("restore", str(spec), str(archive), env=env)
    assert result.returncode == 1 and "was not created by promstack" in result.stderr
    assert sorted(p.name for p in (state / "foreign").iterdir()) == ["notes.txt"]
