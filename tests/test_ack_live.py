"""Escalation and acknowledgement end to end, on both runtimes: two critical alerts fire; one is
acknowledged (`promstack ack`), Alertmanager is restarted, and then only the other escalates to the
escalation's receiver; `ack --list` still shows the acknowledgement after the restart; `unack` lets
the acknowledged one escalate too, which proves the silence was what held it.

The alerts are a spec rule on a metric pushed to the Pushgateway (`page_me{case=...}`), so the test
decides when they fire. Notifications arrive at a webhook run by the test (test_e2e_alert.Webhook), on
the Docker bridge's gateway for compose.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_bridge import bridge_gateway
from test_e2e_alert import Webhook
from test_runtime_compose import compose_spec, containers, docker_images_or_skip
from test_runtime_local import Deployment, base_spec, deployment_factory, free_ports, need_binaries, wait_for

AFTER = "15s"  # long enough to acknowledge first, short enough for a test


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


PAGING: dict[str, Any] = {
    "alerts": {
        "overrides": {"Watchdog": {"enabled": False}},
        "rules": [
            {
                "alert": "PageMe",
                "expr": "page_me > 0",
                "severity": "critical",
                "summary": "Page for case {{ $labels.case }}.",
                "tests": [
                    {"series": {'page_me{case="x"}': "1x10"}, "fires": True, "labels": {"case": "x"}},
                    {"series": {'page_me{case="x"}': "0x10"}, "fires": False},
                ],
            }
        ],
    },
    "notifications": {
        "receivers": [
            {"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}},
            {"name": "lead", "webhook": {"url": {"env": "HOOK_URL"}}},
        ],
        "default_receiver": "team",
        "group_wait": "1s",
        "group_interval": "1s",
        "repeat_interval": "1h",
        "escalations": [{"name": "lead", "match": {"severity": "critical"}, "after": AFTER, "receivers": ["lead"]}],
    },
}


def _received(hook: Webhook, receiver: str, case: str, since: float = 0) -> list[dict[str, Any]]:
    """Firing PageMe alerts of `case` that reached `receiver`, in notifications that arrived after `since`."""
    with hook.lock:
        notifications = [n for n in hook.received if n.get("receiver") == receiver and n.get("_at", 0) >= since]
    return [
        a
        for n in notifications
        for a in n["alerts"]
        if a["status"] == "firing" and a["labels"].get("alertname") == "PageMe" and a["labels"].get("case") == case
    ]


def _stamp(hook: Webhook) -> None:
    """Record when each notification arrived (the e2e Webhook keeps bodies only)."""
    original = hook.received

    class Stamped(list[dict[str, Any]]):
        def append(self, item: dict[str, Any]) -> None:
            super().append({**item, "_at": time.monotonic()})

    hook.received = Stamped(original)


def _push(port: int) -> None:
    body = b'page_me{case="acked"} 1\npage_me{case="unacked"} 1\n'
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics/job/pager", data=body, method="PUT")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 202)


def _restart_alertmanager(stack: Deployment) -> None:
    """Restart Alertmanager behind promstack's back, as a crash-free restart (it saves its silences)."""
    if stack.runtime == "local":
        ctl = str(Path(sys.executable).with_name("supervisorctl"))
        conf = str(stack.root / "run" / "supervisord.conf")
        done = subprocess.run([ctl, "-c", conf, "restart", "alertmanager"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        containers(stack.project)["alertmanager"].restart(timeout=10)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{stack.alertmanager}/-/ready", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    wait_for("Alertmanager to answer again after its restart", ready, 90)


@pytest.mark.live
@pytest.mark.parametrize("runtime", ["local", pytest.param("compose", marks=pytest.mark.docker)])
def test_an_acknowledged_alert_does_not_escalate_and_an_unacknowledged_one_does(
    runtime: str, write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node", "pushgateway")
    if runtime == "local":
        need_binaries("prometheus-pushgateway")
        spec, host = base_spec(ports, "acklocal", **PAGING), "127.0.0.1"
        spec["exporters"]["pushgateway"] = {"port": ports["pushgateway"]}
    else:
        images = docker_images_or_skip()
        spec, host = compose_spec(ports, "ackcompose", images, **PAGING), bridge_gateway()
        spec["exporters"]["pushgateway"] = {"port": ports["pushgateway"], "image": images["pushgateway"]}
    hook = Webhook(host)
    _stamp(hook)
    try:
        stack = deployments(write_spec(spec), runtime, ports, HOOK_URL=hook.url)
        stack.up()
        _push(ports["pushgateway"])
        for case in ("acked", "unacked"):
            wait_for(f"PageMe {case} at the team", lambda case=case: _received(hook, "team", case), 90)

        acked = stack.run(
            "ack", str(stack.spec), "PageMe", "--label", "case=acked", "--comment", "on it", "--for", "1h"
        )
        assert acked.returncode == 0, acked.stdout + acked.stderr
        assert 'acknowledged {alertname="PageMe", case="acked"}' in acked.stdout
        assert "it holds 1 firing alert now" in acked.stdout
        silence = acked.stdout.split("(silence ", 1)[1].split(")", 1)[0]
        since = time.monotonic()

        _restart_alertmanager(stack)
        listed = stack.run("ack", str(stack.spec), "--list")
        assert listed.returncode == 0 and silence in listed.stdout, listed.stdout + listed.stderr
        assert "on it" in listed.stdout  # the comment, kept across the restart

        escalated = wait_for(
            "the unacknowledged PageMe's escalation at the lead", lambda: _received(hook, "lead", "unacked"), 120
        )
        assert escalated[0]["labels"]["escalation"] == "lead"
        assert escalated[0]["labels"]["severity"] == "critical"
        time.sleep(5)  # the acknowledged one escalated in the same evaluation: give it time to arrive, if it did
        assert not _received(hook, "lead", "acked"), "an acknowledged alert escalated"
        assert not _received(hook, "team", "acked", since), "an acknowledged alert notified again"

        gone = stack.run("unack", str(stack.spec), silence)
        assert gone.returncode == 0 and silence in gone.stdout, gone.stdout + gone.stderr
        # the silence was what held it: once taken back, its escalation goes out
        wait_for("the escalation of the alert no longer acknowledged", lambda: _received(hook, "lead", "acked"), 120)
    finally:
        hook.close()
