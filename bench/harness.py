"""Helpers of the benchmarks: a stack in a throw-away state dir driven through the runtime API, a webhook
receiver, stopping (or freezing) and starting the Pushgateway behind promstack's back on either runtime."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from generator import runtimes

IMAGES = Path(__file__).resolve().parent.parent / "tests" / "images"
# what each fault does to the Pushgateway: "stop" ends the process (the scrape is refused at once);
# "freeze" suspends it (SIGSTOP / docker pause), so the port accepts and the scrape hangs until its timeout
FAULTS = {"stop": ("stop", "start"), "freeze": ("freeze", "thaw")}


def docker_answers() -> bool:
    from generator.runtimes import compose

    return compose.engine_answers()


def compose_images() -> dict[str, str]:
    """The test images built from Debian binaries (no registry here): component -> reference."""
    loader = importlib.util.spec_from_file_location("build_images", IMAGES / "build_images.py")
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    sys.modules["build_images"] = module
    loader.loader.exec_module(module)
    return dict(module.build_all())


class Webhook:
    """Alertmanager webhook receiver recording when each notification arrived."""

    def __init__(self, host: str) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with hook.lock:
                    hook.received.append((time.monotonic(), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, alertname: str, status: str, after: float, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for at, body in self.received:
                    if at >= after and any(
                        a["labels"].get("alertname") == alertname and a["status"] == status for a in body["alerts"]
                    ):
                        return at
            time.sleep(0.02)
        raise TimeoutError(f"no {status} {alertname} notification within {timeout}s")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Applied:
    total: float
    checks: float  # seconds from the start until the checks had passed
    plan: str


class Bench:
    """One stack: its spec (rewritten before each `up`), state dir and project."""

    def __init__(self, runtime: str, work: Path, data: dict[str, Any], ports: dict[str, int], hook: str) -> None:
        self.runtime = runtime
        self.data = data
        self.work = work
        self.project = f"bench-{uuid.uuid4().hex[:8]}"
        self.prometheus = f"http://127.0.0.1:{ports['prometheus']}"
        self.alertmanager = f"http://127.0.0.1:{ports['alertmanager']}"
        work.mkdir(parents=True, exist_ok=True)
        self.spec = work / "stack.yaml"
        os.environ.update({"PROMSTACK_STATE_DIR": str(work / "state"), "HOOK_URL": hook})
        self.root = work / "state" / self.project

    def options(self, out: Any = None) -> runtimes.Options:
        return runtimes.Options(runtime=self.runtime, project=self.project, out=out or (lambda line: None))

    def up(self) -> Applied:
        self.spec.write_text(yaml.safe_dump(self.data, sort_keys=False))
        began = time.monotonic()
        checked: list[float] = []

        def out(line: str) -> None:
            if line.strip().startswith("checks"):
                checked.append(time.monotonic() - began)

        outcome = runtimes.up(self.spec, self.options(out))
        plan = ", ".join(f"{action} {name}" for name, action, _ in outcome.plan.actions()) or "nothing"
        return Applied(time.monotonic() - began, checked[0] if checked else 0.0, plan)

    def down(self) -> None:
        runtimes.down(self.spec, self.options(), volumes=True)

    def exporter(self, action: str) -> None:
        """Stop, start, freeze or thaw the Pushgateway directly (a fault promstack does not know about)."""
        if self.runtime == "local":
            ctl = str(Path(sys.executable).with_name("supervisorctl"))
            command = {"freeze": ["signal", "STOP"], "thaw": ["signal", "CONT"]}.get(action, [action])
            subprocess.run(
                [ctl, "-c", str(self.root / "run" / "supervisord.conf"), *command, "pushgateway"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            return
        import docker

        client = docker.from_env()
        (container,) = client.containers.list(
            all=True,
            filters={"label": [f"com.docker.compose.project={self.project}", "com.docker.compose.service=pushgateway"]},
        )
        {
            "stop": lambda: container.stop(timeout=5),
            "start": container.start,
            "freeze": container.pause,
            "thaw": container.unpause,
        }[action]()

    def main_pid(self, component: str) -> int:
        """The pid (in this host's namespace) of the component's process; 0 while there is none."""
        if self.runtime == "local":
            ctl = str(Path(sys.executable).with_name("supervisorctl"))
            done = subprocess.run(
                [ctl, "-c", str(self.root / "run" / "supervisord.conf"), "pid", component],
                capture_output=True,
                text=True,
                timeout=30,
            )
            return int(done.stdout) if done.stdout.strip().isdigit() else 0
        import docker

        labels = [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={component}"]
        found = docker.from_env().containers.list(all=True, filters={"label": labels})
        return int(found[0].attrs["State"]["Pid"]) if found else 0

    def crash_to_ready(self, component: str, base: str, timeout: float = 120) -> float:
        """Seconds from SIGKILL to the component's main process until a new process answers /-/ready
        (restarted by supervisord locally, by the restart policy on compose)."""
        pid = self.main_pid(component)
        began = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        while time.monotonic() < began + timeout:
            if self.main_pid(component) not in (0, pid):
                try:
                    with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as answer:
                        if answer.status == 200:
                            return time.monotonic() - began
                except OSError:
                    pass
            time.sleep(0.05)
        raise TimeoutError(f"{component} did not answer again within {timeout}s of SIGKILL")

    def time_to_alert(self, hook: Webhook, fault: str = "stop", phase: float = 2.0) -> float:
        """Seconds from a Pushgateway fault (FAULTS) to the firing TargetDown notification; then recover.

        Only the first fault of a run opens a new Alertmanager group (held for group_wait): Prometheus
        re-sends a resolved alert every minute for 15 minutes, which keeps its group alive, so every
        later fault joins that group and goes out at its next group_interval tick, like a target that
        fails again in real life."""
        time.sleep(random.uniform(0, phase))  # a random phase against the scrape and evaluation ticks
        cause, cure = FAULTS[fault]
        began = time.monotonic()
        self.exporter(cause)
        fired = hook.first("TargetDown", "firing", began)
        self.exporter(cure)
        hook.first("TargetDown", "resolved", fired, timeout=300)
        self.no_alert_group("TargetDown")
        return fired - began

    def no_alert_group(self, alertname: str, timeout: float = 60) -> None:
        """Wait until Alertmanager lists no active alert of `alertname` (the API hides a group whose
        alerts are resolved, though the group itself lives on)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.alertmanager}/api/v2/alerts/groups", timeout=5) as answer:
                groups = json.loads(answer.read())
            if not any(g["labels"].get("alertname") == alertname for g in groups):
                return
            time.sleep(0.1)
        raise TimeoutError(f"Alertmanager kept the {alertname} group for {timeout}s")


class RuleWatch:
    """Polls Prometheus in the background for alert rule `name`; `result()`: seconds from `since`."""

    def __init__(self, prometheus: str, name: str, since: float, timeout: float = 120) -> None:
        self.found: float | None = None
        self.thread = threading.Thread(target=self._poll, args=(prometheus, name, since, timeout), daemon=True)
        self.thread.start()

    def _poll(self, prometheus: str, name: str, since: float, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{prometheus}/api/v1/rules", timeout=5) as answer:
                    groups = json.loads(answer.read())["data"]["groups"]
            except OSError:
                groups = []
            if any(r["name"] == name for g in groups for r in g["rules"]):
                self.found = time.monotonic() - since
                return
            time.sleep(0.02)

    def result(self) -> float:
        self.thread.join()
        if self.found is None:
            raise TimeoutError("the new rule was never loaded")
        return self.found
