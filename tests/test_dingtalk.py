"""DingTalk on every runtime: promstack's own adapter (generator/dingtalk_adapter.py) signs and posts to the robot.

The live tests run a real stack (Prometheus fires Watchdog, Alertmanager routes it to two dingtalk receivers,
the adapter formats, signs and posts) against a fake DingTalk robot run by the test. The robot is faked
because the real one is on the internet; it checks what DingTalk checks, with its own HMAC code rather than
the adapter's: the access token names a known robot, the timestamp is within an hour, and `sign` is
base64(HMAC-SHA256(secret, timestamp + "\\n" + secret)). A wrong signature gets DingTalk's answer,
`{"errcode": 310000, "errmsg": "sign not match"}` with HTTP 200.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from docker_bridge import bridge_gateway
from test_runtime_compose import compose_spec, docker_images_or_skip
from test_runtime_local import Deployment, base_spec, deployment_factory, free_ports, need_binaries, wait_for

from generator import dingtalk_adapter
from generator.render import render
from generator.spec import load_stack

GOOD = ("tok-good-5Qx", "SECgood-7hY2")  # (access token, secret) of the robot the spec configures right
WRONG = ("tok-other-9Lm", "SECother-3Kd")  # a robot whose secret the spec gets wrong
SPEC_WRONG_SECRET = "SECwrong-1Pz"


class FakeRobot:
    """DingTalk's robot API, as far as a sender can tell: token, timestamp and signature checked."""

    def __init__(self, host: str, robots: dict[str, str]) -> None:
        self.robots = robots  # access token -> secret
        self.accepted: list[tuple[str, dict[str, Any]]] = []  # (token, message)
        self.rejected: list[tuple[str, str]] = []  # (token, errmsg)
        self.lock = threading.Lock()
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                token = query.get("access_token", [""])[0]
                code, errmsg = robot.verify(url.path, token, query)
                with robot.lock:
                    if code == 0:
                        robot.accepted.append((token, json.loads(body)))
                    else:
                        robot.rejected.append((token, errmsg))
                answer = json.dumps({"errcode": code, "errmsg": errmsg}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.base = f"http://{host}:{self.server.server_address[1]}/robot/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, token: str) -> str:
        return f"{self.base}?access_token={token}"

    def verify(self, path: str, token: str, query: dict[str, list[str]]) -> tuple[int, str]:
        if path != "/robot/send" or token not in self.robots:
            return 300001, "token is not exist"
        secret = self.robots[token]
        stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
        if not stamp.isdigit() or abs(int(stamp) - time.time() * 1000) > 3600_000:
            return 310000, "invalid timestamp"
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), sign):
            return 310000, "sign not match"
        return 0, "ok"

    def messages(self, token: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for t, m in self.accepted if t == token]

    def refusals(self, token: str) -> list[str]:
        with self.lock:
            return [e for t, e in self.rejected if t == token]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- the adapter on its own ---------------------------------------------------------------------------


def test_signature_is_what_the_robot_computes() -> None:
    robot = FakeRobot("127.0.0.1", {GOOD[0]: GOOD[1]})
    try:
        stamp = int(time.time() * 1000)
        query = urllib.parse.parse_qs(
            urllib.parse.urlsplit(dingtalk_adapter.signed_url(robot.url(GOOD[0]), GOOD[1], stamp)).query
        )
        assert query["access_token"] == [GOOD[0]] and query["timestamp"] == [str(stamp)]
        assert robot.verify("/robot/send", GOOD[0], query) == (0, "ok")
        # one character off in the secret, or an hour and a bit old: refused
        wrong = urllib.parse.urlsplit(dingtalk_adapter.signed_url(robot.url(GOOD[0]), GOOD[1] + "x", stamp)).query
        assert robot.verify("/robot/send", GOOD[0], urllib.parse.parse_qs(wrong)) == (310000, "sign not match")
        old = urllib.parse.urlsplit(dingtalk_adapter.signed_url(robot.url(GOOD[0]), GOOD[1], stamp - 3700_000)).query
        assert robot.verify("/robot/send", GOOD[0], urllib.parse.parse_qs(old))[1] == "invalid timestamp"
    finally:
        robot.close()


def test_a_robot_without_secret_gets_the_url_unchanged() -> None:
    assert dingtalk_adapter.signed_url("http://r/send?access_token=t", "", 1) == "http://r/send?access_token=t"


def _notification(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4",
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": "ding",
        "commonLabels": {"alertname": "TargetDown", "severity": "critical"},
        "externalURL": "http://am.invalid",
        "alerts": list(alerts),
    }


def test_message_names_each_alert_its_links_and_the_resolved_ones() -> None:
    firing = {
        "status": "firing",
        "labels": {"alertname": "TargetDown", "severity": "critical", "job": "api", "instance": "api:8000"},
        "annotations": {
            "summary": "api target api:8000 is down.",
            "runbook_url": "http://grafana.invalid/d/promstack-runbooks?viewPanel=3",
            "dashboard": "http://grafana.invalid/d/promstack-overview",
        },
        "startsAt": "2024-05-01T10:00:00Z",
    }
    resolved = {**firing, "status": "resolved", "labels": {**firing["labels"], "instance": "api:8001"}}
    config = {"stack": "shop", "environment": "production", "alertmanager_url": "http://localhost:9093"}
    sent = dingtalk_adapter.message(_notification(firing, resolved), config)
    assert sent["msgtype"] == "markdown"
    assert sent["markdown"]["title"] == "[FIRING:1] TargetDown (critical) · shop/production"
    text = sent["markdown"]["text"]
    assert "**api target api:8000 is down.**" in text
    assert "[Runbook](http://grafana.invalid/d/promstack-runbooks?viewPanel=3)" in text
    assert "[Dashboard](http://grafana.invalid/d/promstack-overview)" in text
    assert "[Silence](http://localhost:9093/#/silences/new?filter=%7Balertname%3D%22TargetDown%22" in text
    assert "**Resolved**\n- api target api:8000 is down. (instance=api:8001, job=api, severity=critical)" in text


def test_a_huge_notification_is_cut_and_says_so() -> None:
    alerts = [
        {"status": "firing", "labels": {"alertname": "X", "i": str(i)}, "annotations": {"summary": "x" * 200}}
        for i in range(500)
    ]
    text = dingtalk_adapter.message(_notification(*alerts), {"alertmanager_url": "http://am"})["markdown"]["text"]
    assert len(text) < dingtalk_adapter.MAX_TEXT + 200
    assert text.endswith("every alert is in Alertmanager (http://am/#/alerts)")


@pytest.fixture
def adapter_server(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], str]]:
    servers: list[Any] = []

    def start(config: dict[str, Any]) -> str:
        server = dingtalk_adapter.make_server("127.0.0.1:0", dingtalk_adapter.Adapter(config))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_adapter_answers_what_alertmanager_should_do_next(
    tmp_path: Path, adapter_server: Callable[[dict[str, Any]], str], capfd: pytest.CaptureFixture[str]
) -> None:
    """200 when the robot took it; 422 (Alertmanager does not retry) when it refused it for good; 503 (it
    retries later) when the robot cannot be reached after the adapter's bounded retries; never a secret in
    the log."""
    robot = FakeRobot("127.0.0.1", {GOOD[0]: GOOD[1]})
    files = {}
    for name, value in {
        "good.url": robot.url(GOOD[0]),
        "good.secret": GOOD[1],
        "bad.secret": SPEC_WRONG_SECRET,
        "gone.url": "http://127.0.0.1:9/robot/send?access_token=tok-gone",
    }.items():
        files[name] = tmp_path / name
        files[name].write_text(value + "\n")
    receivers = {
        "good": {"url_file": str(files["good.url"]), "secret_file": str(files["good.secret"])},
        "bad": {"url_file": str(files["good.url"]), "secret_file": str(files["bad.secret"])},
        "gone": {"url_file": str(files["gone.url"]), "secret_file": None},
    }
    base = adapter_server({"receivers": receivers, "attempts": 2, "backoff": 0.05, "timeout": 2})
    body = json.dumps(_notification({"status": "firing", "labels": {"alertname": "TargetDown"}, "annotations": {}}))
    try:
        assert _post(f"{base}/dingtalk/good/send", body.encode()) == (200, "sent\n")
        assert len(robot.messages(GOOD[0])) == 1
        status, text = _post(f"{base}/dingtalk/bad/send", body.encode())
        assert (status, text) == (422, "DingTalk refused the message: errcode 310000: sign not match\n")
        assert robot.refusals(GOOD[0]) == ["sign not match"]  # refused for good: sent once, not retried
        status, text = _post(f"{base}/dingtalk/gone/send", body.encode())
        assert status == 503 and "after 2 attempts" in text
        assert _post(f"{base}/dingtalk/nobody/send", body.encode())[0] == 404
        assert _post(f"{base}/dingtalk/good/send", b"not json")[0] == 400
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as answer:
            metrics = answer.read().decode()
        assert 'promstack_dingtalk_notifications_total{receiver="good",outcome="sent"} 1' in metrics
        assert 'promstack_dingtalk_notifications_total{receiver="bad",outcome="refused"} 1' in metrics
        assert 'promstack_dingtalk_notifications_total{receiver="gone",outcome="failed"} 1' in metrics
        with urllib.request.urlopen(f"{base}/-/healthy", timeout=5) as answer:
            assert answer.status == 200
    finally:
        robot.close()
    log = capfd.readouterr().err
    assert "receiver bad: the robot refused the message: errcode 310000: sign not match" in log
    for secret in (GOOD[0], GOOD[1], SPEC_WRONG_SECRET, "tok-gone"):
        assert secret not in log


def test_rendered_adapter_config_names_secret_files_only(write_spec: Callable[..., Path]) -> None:
    os.environ.setdefault("T_DT_URL", "http://robot.invalid/robot/send?access_token=tok-render")
    spec = write_spec(
        components={"dingtalk": {"port": 18060}},
        notifications={
            "receivers": [{"name": "ding", "dingtalk": {"url": {"env": "T_DT_URL"}, "secret": {"env": "T_DT_SECRET"}}}],
            "default_receiver": "ding",
        },
    )
    stack = load_stack(spec)
    tree = render(stack)
    assert tree.files["dingtalk/adapter.py"] == Path(dingtalk_adapter.__file__).read_text()
    config = json.loads(tree.files["dingtalk/config.json"])
    assert config["receivers"] == {
        "ding": {"url_file": "/run/secrets/promstack/ding.url", "secret_file": "/run/secrets/promstack/ding.secret"}
    }
    assert set(tree.secrets) >= {"secrets/dingtalk/ding.url", "secrets/dingtalk/ding.secret"}
    assert tree.secrets["secrets/dingtalk/ding.url"].values["value"].env == "T_DT_URL"
    am = tree.files["alertmanager/alertmanager.yml"]
    assert "http://dingtalk:8060/dingtalk/ding/send" in am  # the container port; the host port is 18060
    assert "18060:8060" in tree.files["compose.yaml"]


# ---- live: a real alert through real Prometheus, Alertmanager and the adapter --------------------------------


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def _alerting(ports: dict[str, int]) -> dict[str, Any]:
    """Watchdog (always firing) goes to both robots: the right one and the one whose secret is wrong."""
    return {
        "notifications": {
            "receivers": [
                {"name": "ding", "dingtalk": {"url": {"env": "DT_GOOD_URL"}, "secret": {"env": "DT_GOOD_SECRET"}}},
                {
                    "name": "ding-wrong",
                    "dingtalk": {"url": {"env": "DT_WRONG_URL"}, "secret": {"env": "DT_WRONG_SECRET"}},
                },
                {"name": "nobody"},
            ],
            "default_receiver": "nobody",
            "routes": [
                {"match": {"alertname": "Watchdog"}, "receiver": "ding", "continue": True},
                {"match": {"alertname": "Watchdog"}, "receiver": "ding-wrong"},
            ],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
    }


@pytest.mark.live
@pytest.mark.parametrize("runtime", ["local", pytest.param("compose", marks=pytest.mark.docker)])
def test_watchdog_reaches_the_robot_signed_and_a_wrong_secret_is_refused(
    runtime: str, write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node", "dingtalk")
    if runtime == "local":
        need_binaries("python3")
        spec, host = base_spec(ports, "dtlocal", **_alerting(ports)), "127.0.0.1"
    else:
        images = docker_images_or_skip()
        spec, host = compose_spec(ports, "dtcompose", images, **_alerting(ports)), bridge_gateway()
        spec["components"]["dingtalk"] = {"image": images["python"]}
    spec["components"].setdefault("dingtalk", {})["port"] = ports["dingtalk"]
    robot = FakeRobot(host, {GOOD[0]: GOOD[1], WRONG[0]: WRONG[1]})
    try:
        env = {
            "DT_GOOD_URL": robot.url(GOOD[0]),
            "DT_GOOD_SECRET": GOOD[1],
            "DT_WRONG_URL": robot.url(WRONG[0]),
            "DT_WRONG_SECRET": SPEC_WRONG_SECRET,
        }
        stack = deployments(write_spec(spec), runtime, ports, **env)
        up = stack.up()
        messages = wait_for("a signed Watchdog message at the robot", lambda: robot.messages(GOOD[0]), 90)
        markdown = messages[0]["markdown"]
        assert messages[0]["msgtype"] == "markdown"
        assert markdown["title"] == f"[FIRING:1] Watchdog (info) · {spec['name']}/production"
        assert "**The alerting pipeline works; this alert always fires.**" in markdown["text"]
        assert wait_for("the wrong secret's refusal", lambda: robot.refusals(WRONG[0]), 60)[0] == "sign not match"
        assert not robot.messages(WRONG[0])
        adapter = f"http://127.0.0.1:{ports['dingtalk']}"
        with urllib.request.urlopen(f"{adapter}/metrics", timeout=5) as answer:
            metrics = answer.read().decode()
        assert 'receiver="ding-wrong",outcome="refused"' in metrics
        # no secret on what promstack printed, the adapter's log, its command line or its program files
        shown = up.stdout + up.stderr + stack.run("status", str(stack.spec)).stdout
        if runtime == "local":
            shown += (stack.root / "logs" / "dingtalk.log").read_text()
            shown += (stack.root / "run" / "programs" / "dingtalk.conf").read_text()
            shown += (stack.root / "run" / "env" / "dingtalk.env").read_text()
        else:
            shown += (stack.root / "tree" / "compose.yaml").read_text()
        for secret in (GOOD[0], GOOD[1], WRONG[0], SPEC_WRONG_SECRET):
            assert secret not in shown
    finally:
        robot.close()
