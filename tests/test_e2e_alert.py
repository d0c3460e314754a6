"""End to end on both runtimes: stop an exporter, receive the firing TargetDown notification at a webhook
run by the test, start the exporter again, receive the resolved one.

The exporter is the Pushgateway: a stopped node exporter is reported as HostDown instead (its pack's
alert, which mutes everything else of that host), while TargetDown is the generic, always-on one.

The webhook listens on 127.0.0.1 for the local runtime. Containers cannot reach the host's loopback, so
for compose it listens on the docker0 bridge's gateway address: an address of this machine that only
the host and its containers can reach.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from docker_bridge import bridge_gateway
from test_runtime_compose import compose_spec, containers, docker_images_or_skip
from test_runtime_local import Deployment, base_spec, deployment_factory, free_ports, need_binaries, wait_for


class Webhook:
    """A small Alertmanager webhook receiver: every POSTed notification, in order of arrival."""

    def __init__(self, host: str) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook.lock:
                    hook.received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def alerts(self, alertname: str, status: str, **labels: str) -> list[dict[str, Any]]:
        """Every notified alert of that name and status whose labels include `labels`, oldest first: other
        alerts (Watchdog, another target) may arrive too, so a test picks its own by label."""
        wanted = {"alertname": alertname, **labels}
        with self.lock:
            return [
                a
                for n in self.received
                for a in n["alerts"]
                if a["status"] == status and wanted.items() <= a["labels"].items()
            ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


# every notification at once to the test's webhook, and never repeated while a test runs
NOTIFY_FAST = {
    "receivers": [{"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}}],
    "default_receiver": "team",
    "group_wait": "1s",
    "group_interval": "1s",
    "repeat_interval": "1h",
}
ALERTING = {
    # TargetDown comes from the default `stack` pack as it is (for: 0s); Watchdog would only add noise
    "alerts": {"overrides": {"Watchdog": {"enabled": False}}},
    "notifications": NOTIFY_FAST,
}


@pytest.mark.live
@pytest.mark.parametrize("runtime", ["local", pytest.param("compose", marks=pytest.mark.docker)])
def test_exporter_down_fires_and_resolves(
    runtime: str, write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node", "pushgateway")
    if runtime == "local":
        need_binaries("prometheus-pushgateway")
        spec, host = base_spec(ports, "e2elocal", **ALERTING), "127.0.0.1"
        spec["exporters"]["pushgateway"] = {"port": ports["pushgateway"]}
    else:
        images = docker_images_or_skip()
        spec, host = compose_spec(ports, "e2ecompose", images, **ALERTING), bridge_gateway()
        spec["exporters"]["pushgateway"] = {"port": ports["pushgateway"], "image": images["pushgateway"]}
    hook = Webhook(host)
    try:
        stack = deployments(write_spec(spec), runtime, ports, HOOK_URL=hook.url)
        stack.up()
        stop, start = switch(stack, "pushgateway")

        stop()
        pushgateway = {"job": "pushgateway"}
        firing = wait_for(
            "the firing TargetDown notification", lambda: hook.alerts("TargetDown", "firing", **pushgateway), 90
        )
        labels = firing[0]["labels"]
        assert labels["severity"] == "critical"
        address = f"127.0.0.1:{ports['pushgateway']}" if runtime == "local" else "pushgateway:9091"
        assert labels["instance"] == address
        assert labels["host"] == address.split(":")[0]
        assert labels["stack"] == spec["name"] and labels["env"] == "production"  # external labels
        assert firing[0]["annotations"]["summary"] == f"pushgateway target {address} is down."
        assert not hook.alerts("TargetDown", "resolved", **pushgateway)

        start()
        wait_for(
            "the resolved TargetDown notification of the same target",
            lambda: hook.alerts("TargetDown", "resolved", **pushgateway, instance=labels["instance"]),
            90,
        )
    finally:
        hook.close()


def switch(stack: Deployment, name: str) -> tuple[Callable[[], None], Callable[[], None]]:
    """How to stop and start process or service `name` behind promstack's back, on the stack's runtime."""
    if stack.runtime == "local":
        supervisorctl = str(Path(sys.executable).with_name("supervisorctl"))
        conf = str(stack.root / "run" / "supervisord.conf")

        def ctl(action: str) -> None:
            done = subprocess.run(
                [supervisorctl, "-c", conf, action, name],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            assert done.returncode == 0, done.stdout + done.stderr

        return (lambda: ctl("stop")), (lambda: ctl("start"))
    container = containers(stack.project)[name]
    return (lambda: container.stop(timeout=5)), container.start
