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
import urllib.parse
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

    def first(
        self, alertname: str, status: str, after: float, timeout: float = 120, receiver: str | None = None
    ) -> float:
        """When the first notification of `alertname` in `status` arrived after `after` (at `receiver`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for at, body in self.received:
                    if receiver is not None and body.get("receiver") != receiver:
                        continue
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

    def time_to_alert(
        self, hook: Webhook, fault: str = "stop", phase: float = 2.0, page: str | None = None, copy: str | None = None
    ) -> tuple[float, float | None]:
        """Seconds from a Pushgateway fault (FAULTS) to the firing TargetDown notification (at receiver
        `page`, any when None) and to its copy (at receiver `copy`, a `copy_to` one); then recover.

        Only the first fault of a run opens a new Alertmanager group (held for group_wait): Prometheus
        re-sends a resolved alert every minute for 15 minutes, which keeps its group alive, so every
        later fault joins that group and goes out at its next group_interval tick, like a target that
        fails again in real life."""
        # `up` returns before Prometheus' first scrape of a target whose page answered promstack: the fault
        # is made to a target Prometheus has seen up, as in real life
        Blips(self).good_scrape()
        time.sleep(random.uniform(0, phase))  # a random phase against the scrape and evaluation ticks
        cause, cure = FAULTS[fault]
        began = time.monotonic()
        self.exporter(cause)
        fired = hook.first("TargetDown", "firing", began, receiver=page)
        copied = hook.first("TargetDown", "firing", began, receiver=copy) if copy else None
        self.exporter(cure)
        hook.first("TargetDown", "resolved", fired, timeout=300)
        self.no_alert_group("TargetDown")
        return fired - began, (copied - began if copied is not None else None)

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


@dataclass(frozen=True)
class Scrape:
    at: str  # lastScrape as Prometheus reports it
    up: bool


class Blips:
    """Single-scrape blips of the Pushgateway: its port refuses exactly one scrape, then answers again.

    Stopped right after a scrape succeeded, started again as soon as the next scrape has failed, so that
    the one after it succeeds: a blip counts only when Prometheus' own record shows one failed scrape
    between two good ones (`up` over the whole run is checked again at the end)."""

    JOB = "pushgateway"

    def __init__(self, bench: Bench) -> None:
        self.bench = bench

    def scrape(self) -> Scrape | None:
        with urllib.request.urlopen(f"{self.bench.prometheus}/api/v1/targets?state=active", timeout=5) as answer:
            targets = json.loads(answer.read())["data"]["activeTargets"]
        found = [t for t in targets if t["labels"].get("job") == self.JOB]
        return Scrape(found[0]["lastScrape"], found[0]["health"] == "up") if found else None

    def next_scrape(self, after: Scrape | None, timeout: float = 120) -> Scrape:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.scrape()
            if found is not None and (after is None or found.at != after.at):
                return found
            time.sleep(0.02)
        raise TimeoutError(f"no new scrape of {self.JOB} within {timeout}s")

    def good_scrape(self) -> Scrape:
        """The next scrape of the job that succeeds."""
        good = self.next_scrape(self.scrape())
        while not good.up:
            good = self.next_scrape(good)
        return good

    def one(self) -> bool:
        """One blip; False when it was not a single failed scrape (then it does not count)."""
        good = self.good_scrape()
        self.bench.exporter("stop")
        failed = self.next_scrape(good)
        self.bench.exporter("start")
        after = self.next_scrape(failed)
        return not failed.up and after.up

    def run(self, hook: Webhook, count: int, grace: float) -> tuple[int, int, int, int, float]:
        """`count` valid blips, then `grace` seconds for a notification on its way; (blips tried, failed
        scrapes in Prometheus' record, TargetDown notifications, evaluations that fired, seconds)."""
        began = time.monotonic()
        tried = valid = 0
        while valid < count and tried < 2 * count:
            tried += 1
            valid += self.one()
            time.sleep(random.uniform(0, 3))  # a random phase against the evaluations
        if valid < count:
            raise RuntimeError(f"only {valid} of {tried} blips were single failed scrapes")
        time.sleep(grace)  # a notification on its way would arrive within the worst case
        span = time.monotonic() - began
        with hook.lock:
            notified = sum(
                1
                for at, body in hook.received
                if at >= began
                for a in body["alerts"]
                if a["labels"].get("alertname") == "TargetDown" and a["labels"].get("job") == self.JOB
            )
        window = f"[{int(span) + 1}s]"
        fired = self.query(f'count_over_time(ALERTS{{alertname="TargetDown", job="{self.JOB}"}}{window})')
        up = f'up{{job="{self.JOB}"}}'
        failed = self.query(f"count_over_time({up}{window}) - sum_over_time({up}{window})")
        return tried, int(failed), notified, int(fired), span

    def query(self, expr: str) -> float:
        url = f"{self.bench.prometheus}/api/v1/query?query={urllib.parse.quote(expr)}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            result = json.loads(answer.read())["data"]["result"]
        return sum(float(r["value"][1]) for r in result)


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
