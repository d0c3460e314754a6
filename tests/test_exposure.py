"""Exposure is real or refused.

A component published beyond 127.0.0.1 is one that checks credentials itself; which ones can comes from
the catalog (`auth:` in compose/<name>.yaml), and a component that cannot (cAdvisor) takes neither
`expose` nor `auth`. The local runtime binds everything to 127.0.0.1 and says so in `up`'s output.
"""

from __future__ import annotations

import dataclasses
import socket
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_runtime_local import Deployment, base_spec, deployment_factory, free_ports, need_binaries
from typer.testing import CliRunner

from generator import catalog, conventions
from generator.cli import app

SPEC_KEYS = {name: f"components.{name}" for name in conventions.CORE}
SPEC_KEYS.update({name: f"exporters.{key}" for key, name in conventions.EXPORTERS.items()})
AUTH = {"basic": {"username": "ops", "password": {"env": "PW"}}}
UNENFORCEABLE = sorted(name for name in SPEC_KEYS if not catalog.enforces_auth(name) and catalog.entry(name).image)


def _problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, settings: dict[str, Any]) -> list[str]:
    group, key = SPEC_KEYS[name].split(".")
    needs = {"redis": {"targets": ["r:6379"]}, "postgres": {"dsn": {"env": "D"}}}
    needs["blackbox"] = {"probes": [{"name": "p", "targets": ["x"]}]}
    needs["mysqld"] = {"address": "db:3306", "user": "u", "password": {"env": "P"}}
    monkeypatch.chdir(tmp_path)
    doc = {"version": 1, "name": "t", group: {key: {**needs.get(key, {}), **settings}}}
    Path("stack.yaml").write_text(yaml.safe_dump(doc))
    result = CliRunner().invoke(app, ["generate", "stack.yaml", "-o", "out"])
    assert not Path("out").exists() or result.exit_code == 0
    return [line.split(": ", 1)[1] for line in result.stderr.splitlines()[:-1]]


def test_cadvisor_is_among_the_components_that_cannot_enforce_auth() -> None:
    assert "cadvisor" in UNENFORCEABLE


@pytest.mark.parametrize("setting", ["expose", "auth"])
@pytest.mark.parametrize("name", UNENFORCEABLE)
def test_a_component_that_cannot_enforce_auth_is_never_exposed(
    name: str, setting: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: dict[str, Any] = {"expose": True, "auth": AUTH} if setting == "expose" else {"auth": AUTH}
    problems = _problems(tmp_path, monkeypatch, name, settings)
    path = f"$.{SPEC_KEYS[name]}.{setting}"
    assert (
        f"{path}: {name} cannot enforce authentication, so promstack keeps it on 127.0.0.1 and the stack's own "
        f"network; remove {setting} (to reach it from elsewhere, put a proxy that checks credentials in front of it)"
    ) in problems


def test_the_refusal_follows_the_catalog_not_the_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flip node-exporter's catalog entry to `auth: none`: the same refusal, for it, with no code change."""
    assert _problems(tmp_path, monkeypatch, "node-exporter", {"expose": True, "auth": AUTH}) == []
    entry = catalog.entry("node-exporter")
    monkeypatch.setitem(catalog.entries(), "node-exporter", dataclasses.replace(entry, auth="none"))
    problems = _problems(tmp_path, monkeypatch, "node-exporter", {"expose": True, "auth": AUTH})
    assert sorted(p.split(":")[0] for p in problems) == ["$.exporters.node.auth", "$.exporters.node.expose"]


# -- the local runtime -------------------------------------------------------------------------------
@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def _listeners(port: int) -> list[str]:
    """Local addresses of every socket listening on TCP `port` (from /proc/net/tcp and tcp6)."""
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                # the kernel prints each 32-bit word in host order
                words = b"".join(
                    struct.pack("=I", int.from_bytes(raw[i : i + 4], "big")) for i in range(0, len(raw), 4)
                )
                found.append(socket.inet_ntop(family, words))
    return found


@pytest.mark.live
@pytest.mark.xdist_group("runtime-local")
def test_local_runtime_says_it_ignores_expose_and_binds_loopback(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    spec = base_spec(ports, "rtexpose")
    spec["components"]["prometheus"].update(expose=True, auth={"basic": {"username": "ops", "password": {"env": "PW"}}})
    spec["exporters"]["node"].update(expose=True, auth={"basic": {"username": "scrape", "password": {"env": "PW"}}})
    stack = deployments(write_spec(spec), "local", ports, PW="a-test-password")

    result = stack.up()
    assert (
        "  note: the local runtime binds every component to 127.0.0.1 whatever `expose` says; "
        "ignored expose: true of prometheus, node-exporter (use the compose runtime to publish them)"
    ) in result.stderr.splitlines()  # progress goes to stderr
    for name in ("prometheus", "node"):
        addresses = _listeners(ports[name])
        assert addresses and set(addresses) <= {"127.0.0.1", "::1"}, (name, addresses)
