"""Every catalog exporter that says how (`live:` in compose/<name>.yaml) runs on the local runtime with
its Debian binary, reaches its backend (a fake one this test serves on loopback when the entry asks
for one) and is scraped by Prometheus: its job is up and its catalog metric has samples."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_runtime_local import base_spec, deployment_factory, free_ports, need_binaries, query, wait_for

from generator import catalog

LIVE = sorted(name for name, entry in catalog.entries().items() if entry.raw.get("live"))
pytestmark = [pytest.mark.live, pytest.mark.xdist_group("runtime-local")]


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    yield from deployment_factory(tmp_path)


@pytest.fixture
def backend() -> Iterator[Callable[[dict[str, str]], str]]:
    """Serve one fixed answer at one path on a loopback port (a stand-in for nginx's stub_status or
    Apache's mod_status, which are plain-text pages); returns host:port."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(page: dict[str, str]) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != page["path"].split("?")[0]:
                    self.send_error(404)
                    return
                body = page["body"].encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_some_exporters_are_live_tested() -> None:
    assert LIVE, "no catalog entry has a live: block"


@pytest.mark.parametrize("name", LIVE)
def test_exporter_runs_locally_and_is_scraped(
    name: str,
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    deployments: Callable[..., Any],
    backend: Any,
) -> None:
    entry = catalog.entry(name)
    binary = next((b for b in entry.binaries if shutil.which(b)), None)
    if binary is None:
        pytest.skip(f"needs one of {', '.join(entry.binaries)} (Debian package {entry.package})")
    need_binaries()
    live = entry.raw["live"]
    where = backend(live["backend"]) if live.get("backend") else ""
    ports = free_ports(port, "prometheus", "alertmanager", "node", name)
    exporter = yaml.safe_load(yaml.safe_dump(live["spec"]).replace("BACKEND", where))
    spec = base_spec(ports, f"live-{name}")
    spec["exporters"][entry.spec.key or name] = {**exporter, "port": ports[name]}
    stack = deployments(write_spec(spec), "local", ports)
    stack.up()
    wait_for(f"job {name} up", lambda: query(stack.prometheus, f'up{{job="{name}"}} == 1'), 60)
    samples = wait_for(
        f"{live['metric']} from {name}", lambda: query(stack.prometheus, f'{live["metric"]}{{job="{name}"}}'), 60
    )
    assert all(float(s["value"][1]) == float(s["value"][1]) for s in samples)  # real numbers, not NaN
    if "value" in live:  # what the fake backend said, read back through the exporter and Prometheus
        assert any(float(s["value"][1]) == float(live["value"]) for s in samples), samples
