"""Safe by default: the compose rendering of the shipped specs, service by service, as a reviewer would audit it.

Published ports on loopback unless exposed (and then protected), pinned images, no privileges, a non-root
user and a read-only root filesystem where the image allows, a memory limit, host paths only for the two
host collectors and all read-only, no Docker socket, secrets read-only. The exceptions are listed here
with their reasons, so a new one is a deliberate change of this file.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.model import Component, Stack
from generator.pipeline import render_spec
from generator.render.compose import SECRETS_MOUNT

ROOT = Path(__file__).resolve().parent.parent
SPECS = [ROOT / "stack" / "stack.yaml", ROOT / "stack" / "examples" / "large.yaml"]

# services that run as the image's root user, and why
ROOT_USER = {
    # reads every container's cgroup and the engine's state below /var/lib/docker, owned by root 0700
    "cadvisor": "reads cgroups and /var/lib/docker (root-only) for every container's metrics",
    # the upstream image has no data folder another user may write, and a new named volume takes the owner
    # of its mount point: root; it keeps no capability at all (cap_drop: ALL, asserted below)
    "victoriametrics": "writes its data volume, whose mount point the upstream image leaves to root",
}
# services without a read-only root filesystem, and why
WRITABLE_ROOT = {
    "cadvisor": "not verified on a read-only root; it runs as root with read-only host views anyway",
    # a read-only root needs log mode console, a writable /tmp and a shadowed plugins-bundled folder;
    # Grafana does not support it officially (grafana-community/helm-charts#729) and there is no image here
    # to prove such a setup, so its root stays writable (its own data sits in the grafana-data volume)
    "grafana": "logs under /var/log/grafana and unpacks plugins; read-only roots are not supported upstream",
}
# the only services that see host paths (all read-only), and why
HOST_PATHS = {
    "node-exporter": "the host's /proc, /sys and root filesystem: host metrics",
    "cadvisor": "the host's root, /sys, /var/run, /var/lib/docker and /dev/disk: container metrics",
}
# the host's time zone database, read-only, for a service that needs it only where the spec names a zone:
# Alertmanager, for time intervals with a `location` (its image may have none)
TIME_ZONES = {"alertmanager": "/usr/share/zoneinfo"}
# where a service may see the Docker engine's socket (read-only, for cAdvisor's container discovery)
SOCKET_VIEWS = {"cadvisor": "/var/run"}
# services whose own settings protect them when published beyond loopback
OWN_LOGIN = {"grafana": "its login: the admin password from the spec, or a generated one"}


@functools.cache
def _rendered(spec: Path) -> tuple[Stack, dict[str, dict[str, Any]]]:
    rendered = render_spec(spec)
    return rendered.stack, dict(yaml.safe_load(rendered.tree.files["compose.yaml"])["services"])


def _services(spec: Path) -> dict[str, dict[str, Any]]:
    return _rendered(spec)[1]


def _component(spec: Path, name: str) -> Component:
    """The component a service runs (a copy of it, for `prometheus-2` and the like)."""
    return _rendered(spec)[0].instance(name)[0]


def _all() -> list[tuple[Path, str, dict[str, Any]]]:
    return [(spec, name, svc) for spec in SPECS for name, svc in _services(spec).items()]


CASES = _all()
SERVICES = pytest.mark.parametrize(("spec", "name", "svc"), CASES, ids=[f"{s.name}-{n}" for s, n, _ in CASES])


def _binds(svc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, mode) of every bind mount; named volumes are left out."""
    found = []
    for volume in svc.get("volumes", []):
        source, target, *rest = str(volume).split(":")
        if source.startswith(("/", "./", "~")):
            found.append((source, target, rest[0] if rest else "rw"))
    return found


def test_both_specs_render_the_services_the_exceptions_name() -> None:
    """The exception lists are about services that exist: a renamed service would otherwise hide."""
    names = {name for _, name, _ in CASES}
    assert {*ROOT_USER, *WRITABLE_ROOT, *HOST_PATHS, *OWN_LOGIN} <= names
    assert len(CASES) >= 15


@SERVICES
def test_published_ports_bind_loopback_unless_exposed_and_then_protected(
    spec: Path, name: str, svc: dict[str, Any]
) -> None:
    component = _component(spec, name)
    for port in svc["ports"]:
        parts = str(port).split(":")
        if component.expose:
            assert len(parts) == 2, f"{name}: an exposed port binds every interface: {port}"
            protected = component.auth is not None and component.auth.basic is not None
            assert protected or name in OWN_LOGIN, f"{spec.name}: {name} is exposed without auth"
        else:
            assert parts[0] == "127.0.0.1" and len(parts) == 3, f"{name}: {port} is not bound to loopback"


@SERVICES
def test_images_are_pinned(spec: Path, name: str, svc: dict[str, Any]) -> None:
    image = str(svc["image"])
    repository, _, tag = image.rpartition(":")
    assert "/" not in tag and repository, f"{name}: {image} has no tag"  # a registry port is not a tag
    assert tag and tag != "latest", f"{name}: {image} is not pinned"


@SERVICES
def test_no_privileges(spec: Path, name: str, svc: dict[str, Any]) -> None:
    assert "privileged" not in svc
    assert svc["security_opt"] == ["no-new-privileges:true"]
    for key in ("cap_add", "network_mode", "ipc", "userns_mode"):
        assert key not in svc, f"{name} sets {key}"
    # a device only read-only, and only the kernel log (cAdvisor's view of OOM kills)
    assert all(d == "/dev/kmsg:/dev/kmsg:r" for d in svc.get("devices", ())), f"{name} sets devices"
    assert svc.get("pid") in (None, "host") and (svc.get("pid") is None or name == "node-exporter")


@SERVICES
def test_non_root_user_unless_listed(spec: Path, name: str, svc: dict[str, Any]) -> None:
    if name in ROOT_USER:
        assert "user" not in svc
        # root without capabilities where it can do without them (cAdvisor reads what root alone may)
        assert name == "cadvisor" or svc.get("cap_drop") == ["ALL"], f"{name} runs as root with capabilities"
        return
    user = str(svc.get("user", ""))
    assert user, f"{name} runs as the image's default user"
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"{name} runs as {user}"


@SERVICES
def test_read_only_root_unless_listed(spec: Path, name: str, svc: dict[str, Any]) -> None:
    if name in WRITABLE_ROOT:
        assert "read_only" not in svc
        return
    assert svc.get("read_only") is True, f"{name} has a writable root filesystem"
    assert svc.get("tmpfs") == ["/tmp"]


@SERVICES
def test_memory_limit(spec: Path, name: str, svc: dict[str, Any]) -> None:
    component = _component(spec, name)
    assert svc["mem_limit"] == component.memory


def test_memory_limit_comes_from_the_spec(write_spec: Any) -> None:
    spec = write_spec(
        {"components": {"prometheus": {"memory": "3GB"}, "grafana": {"enabled": False}}, "exporters": {"node": {}}}
    )
    services = _services(spec)
    assert services["prometheus"]["mem_limit"] == "3g"
    assert services["node-exporter"]["mem_limit"] == "128m"  # the catalog's default


@SERVICES
def test_host_paths_only_for_host_collectors_and_read_only(spec: Path, name: str, svc: dict[str, Any]) -> None:
    binds = _binds(svc)
    assert all(mode == "ro" for _, _, mode in binds), f"{name} has a writable bind mount: {binds}"
    component = svc.get("labels", {}).get("promstack.component", name)  # a copy (alertmanager-2) is its component's
    host = [source for source, _, _ in binds if not source.startswith("./") and source != TIME_ZONES.get(component)]
    if name not in HOST_PATHS:
        assert host == [], f"{name} sees host paths {host}"
    else:
        assert host


@SERVICES
def test_no_docker_socket(spec: Path, name: str, svc: dict[str, Any]) -> None:
    for source, _, mode in _binds(svc):
        assert "docker.sock" not in source, f"{name} mounts the Docker socket"
        if source.rstrip("/") in ("/var/run", "/run"):
            assert SOCKET_VIEWS.get(name) == source.rstrip("/") and mode == "ro", f"{name} sees {source}"


@SERVICES
def test_secrets_and_configs_are_read_only(spec: Path, name: str, svc: dict[str, Any]) -> None:
    for source, target, mode in _binds(svc):
        if source.startswith("./"):
            assert mode == "ro", f"{name} may write to its rendered files {source}"
        if target == SECRETS_MOUNT:  # a copy of a component (prometheus-2) sees its component's
            own = _component(spec, name).name
            assert source == f"./secrets/{own}", f"{name} sees another component's secrets: {source}"


def test_grafana_always_gets_a_password_file() -> None:
    """Never admin/admin: with or without a password in the spec, Grafana reads one from a file."""
    for spec in SPECS:
        grafana = _services(spec)["grafana"]
        assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == f"{SECRETS_MOUNT}/admin_password"
        assert f"./secrets/grafana:{SECRETS_MOUNT}:ro" in grafana["volumes"]
        assert "GF_SECURITY_ADMIN_PASSWORD" not in grafana["environment"]
