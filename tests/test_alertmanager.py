"""Alertmanager rendering: receivers, secrets, templates, dingtalk; proven by amtool and a live Alertmanager 0.25."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import socketserver
import stat
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from generator import binaries, conventions, pipeline
from generator.errors import CheckError, SpecError
from generator.render import Target, render
from generator.spec import load_stack
from generator.write import Secrets, write_tree

ROOT = Path(__file__).resolve().parent.parent
AM_CHECKS = ["alertmanager/config", "routes/test", "routes/inhibit"]
SPECS = [ROOT / "stack" / "stack.yaml", *sorted((ROOT / "stack" / "examples").glob("*.yaml"))]
needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool (prometheus-alertmanager) missing")

SMTP = {
    "smarthost": "smtp.example.com:587",
    "from": "am@example.com",
    "username": "am",
    "password": {"env": "T_SMTP_PASSWORD"},
}
# one receiver per kind; every secret comes from its own variable, set to a distinctive value in the scan test
RECEIVERS: dict[str, dict[str, Any]] = {
    "email": {"to": "ops@example.com"},
    "slack": {"url": {"env": "T_SLACK_URL"}, "channel": "#ops"},
    "webhook": {"url": {"env": "T_WEBHOOK_URL"}, "max_alerts": 10},
    "pagerduty": {"routing_key": {"env": "T_PD_KEY"}},
    "opsgenie": {"api_key": {"env": "T_OG_KEY"}, "api_url": "https://api.eu.opsgenie.com/"},
    "wechat": {
        "corp_id": "corp",
        "agent_id": "1000002",
        "to_party": "2",
        "api_secret": {"env": "T_WECHAT_SECRET"},
        "api_url": "https://wechat-proxy.example.com/cgi-bin/",
    },
    "telegram": {"bot_token": {"env": "T_TELEGRAM_TOKEN"}, "chat_id": -1001234},
    "discord": {"webhook_url": {"env": "T_DISCORD_URL"}},
    "dingtalk": {"url": {"env": "T_DINGTALK_URL"}, "secret": {"env": "T_DINGTALK_SECRET"}},
}
SECRET_VALUES = {
    "T_SMTP_PASSWORD": "smtp-pw-Qx7RZ",
    "T_SLACK_URL": "https://hooks.slack.test/services/T0/B0/slackQx7RZ",
    "T_WEBHOOK_URL": "https://hooks.test/webhookQx7RZ",
    "T_PD_KEY": "pdkeyQx7RZ",
    "T_OG_KEY": "ogkeyQx7RZ",
    "T_WECHAT_SECRET": "wechatQx7RZ",
    "T_TELEGRAM_TOKEN": "123456:telegramQx7RZ",
    "T_DISCORD_URL": "https://discord.test/api/webhooks/1/discordQx7RZ",
    "T_DINGTALK_URL": "https://oapi.dingtalk.test/robot/send?access_token=dingQx7RZ",
    "T_DINGTALK_SECRET": "SECdingQx7RZ",
    "T_MSTEAMS_URL": "https://example.webhook.office.test/msteamsQx7RZ",
}


def notifications(kinds: list[str], **extra: Any) -> dict[str, Any]:
    receivers = [{"name": f"to-{kind}", kind: RECEIVERS[kind]} for kind in kinds]
    return {"receivers": receivers, "default_receiver": receivers[0]["name"], "smtp": SMTP, **extra}


def am_config(spec: Path, runtime: str = "local") -> dict[str, Any]:
    """alertmanager.yml of `spec` as data (secret placeholders where the file is a SecretFile)."""
    tree = pipeline.render_spec(spec, runtime, Path("/srv/out")).tree
    text = tree.files.get(conventions.ALERTMANAGER_CONFIG) or tree.secrets[conventions.ALERTMANAGER_CONFIG].template
    data: dict[str, Any] = yaml.safe_load(text.replace("$$", "$"))
    return data


@needs_amtool
@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_shipped_specs_pass_amtool_and_their_route_tests(spec: Path) -> None:
    assert set(pipeline.check_spec(spec, only=AM_CHECKS).passed) == set(AM_CHECKS)


@needs_amtool
@pytest.mark.parametrize("kind", sorted(RECEIVERS))
def test_every_receiver_kind_passes_amtool(kind: str, write_spec: Callable[..., Path]) -> None:
    spec = write_spec(notifications=notifications([kind]))
    assert pipeline.check_spec(spec, only=["alertmanager/config"]).passed == ["alertmanager/config"]
    receiver = next(r for r in am_config(spec)["receivers"] if r["name"] == f"to-{kind}")
    key = "webhook_configs" if kind == "dingtalk" else f"{kind}_configs"
    assert len(receiver[key]) == 1


@needs_amtool
def test_all_receivers_routes_and_time_intervals_together_pass_amtool(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        notifications=notifications(
            sorted(RECEIVERS),
            time_intervals=[
                {
                    "name": "nights",
                    "weekdays": ["monday:friday"],
                    "times": [{"start": "18:00", "end": "24:00"}],
                    "location": "Europe/Berlin",
                }
            ],
            routes=[
                {
                    "match": {"severity": "critical"},
                    "receiver": "to-pagerduty",
                    "continue": True,
                    "active_during": ["nights"],
                },
                {
                    "match_re": {"team": "db|infra"},
                    "receiver": "to-slack",
                    "mute_during": ["nights"],
                    "routes": [{"match": {"severity": "info"}, "receiver": "to-email"}],
                },
            ],
            tests=[{"labels": {"severity": "critical", "team": "db"}, "receivers": ["to-pagerduty", "to-slack"]}],
        )
    )
    assert set(pipeline.check_spec(spec, only=AM_CHECKS).passed) == set(AM_CHECKS)
    config = am_config(spec)
    assert config["time_intervals"] == [
        {
            "name": "nights",
            "time_intervals": [
                {
                    "weekdays": ["monday:friday"],
                    "times": [{"start_time": "18:00", "end_time": "24:00"}],
                    "location": "Europe/Berlin",
                }
            ],
        }
    ]
    pages, db = config["route"]["routes"][1:3]
    assert pages["active_time_intervals"] == ["nights"] and pages["continue"] is True
    assert db["mute_time_intervals"] == ["nights"] and db["matchers"] == ['team=~"db|infra"']


def _files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("version", ["v0.25.0", "v0.33.1"])
def test_no_secret_value_in_any_readable_file(
    tmp_path: Path, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(name, value)
    spec = write_spec(notifications=notifications(sorted(RECEIVERS)), components={"alertmanager": {"version": version}})
    out = tmp_path / "out"
    tree = pipeline.generate(spec, out).tree
    for text in tree.files.values():
        assert not any(value in text for value in SECRET_VALUES.values())
    holders = set()
    for path in _files(out):
        text = path.read_text()
        if any(value in text for value in SECRET_VALUES.values()):
            holders.add(path.relative_to(out).as_posix())
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert {
        "secrets/dingtalk/to-dingtalk.url",
        "secrets/dingtalk/to-dingtalk.secret",
        "secrets/alertmanager/to-slack.slack",
        "secrets/alertmanager/smtp.password",
    } <= holders
    written = yaml.safe_load((out / conventions.ALERTMANAGER_CONFIG).read_text())
    hook = next(r for r in written["receivers"] if r["name"] == "to-webhook")["webhook_configs"][0]
    if version == "v0.25.0":
        # 0.25 reads webhook, telegram, discord and wechat secrets only inline: alertmanager.yml itself is 0600
        assert conventions.ALERTMANAGER_CONFIG in holders
        assert hook["url"] == SECRET_VALUES["T_WEBHOOK_URL"]
    else:  # 0.33 reads every one from a file: alertmanager.yml holds none and stays readable
        assert conventions.ALERTMANAGER_CONFIG not in holders
        assert hook["url_file"] == "/run/secrets/promstack/to-webhook.webhook"
        assert stat.S_IMODE((out / conventions.ALERTMANAGER_CONFIG).stat().st_mode) == 0o644


def test_file_backed_receivers_keep_alertmanager_yml_a_plain_file(
    tmp_path: Path, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRET_VALUES.items():
        monkeypatch.setenv(name, value)
    spec = write_spec(notifications=notifications(["slack", "email", "pagerduty", "opsgenie"]))
    tree = pipeline.generate(spec, tmp_path / "out", "local").tree
    text = tree.files[conventions.ALERTMANAGER_CONFIG]
    assert f"api_url_file: {tmp_path}/out/secrets/alertmanager/to-slack.slack" in text
    assert "routing_key_file:" in text and "api_key_file:" in text and "smtp_auth_password_file:" in text
    on_disk = tmp_path / "out" / conventions.ALERTMANAGER_CONFIG
    assert stat.S_IMODE(on_disk.stat().st_mode) == 0o644
    assert not any(value in on_disk.read_text() for value in SECRET_VALUES.values())
    assert (tmp_path / "out/secrets/alertmanager/to-pagerduty.pagerduty").read_text() == SECRET_VALUES["T_PD_KEY"]


def test_compose_paths_point_into_the_containers(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(notifications=notifications(["slack", "dingtalk"]))
    config = am_config(spec, "compose")
    assert config["templates"] == ["/etc/alertmanager/templates/*.tmpl"]
    slack, ding = config["receivers"][0]["slack_configs"][0], config["receivers"][1]["webhook_configs"][0]
    assert slack["api_url_file"] == "/run/secrets/promstack/to-slack.slack"
    assert ding["url"] == "http://dingtalk:8060/dingtalk/to-dingtalk/send"


def test_dingtalk_adapter_reads_a_secret_file_per_receiver_and_field(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(notifications=notifications(["dingtalk", "email"]))
    stack = load_stack(spec)
    tree = render(stack, Target("local", "/srv/out"))
    config = json.loads(tree.files["dingtalk/config.json"])  # names files only: an ordinary file
    assert config["receivers"] == {
        "to-dingtalk": {
            "url_file": "/srv/out/secrets/dingtalk/to-dingtalk.url",
            "secret_file": "/srv/out/secrets/dingtalk/to-dingtalk.secret",
        }
    }
    assert tree.secrets["secrets/dingtalk/to-dingtalk.url"].values["value"].env == "T_DINGTALK_URL"
    assert tree.secrets["secrets/dingtalk/to-dingtalk.secret"].values["value"].env == "T_DINGTALK_SECRET"
    url = am_config(spec)["receivers"][0]["webhook_configs"][0]["url"]
    assert url == f"http://127.0.0.1:{stack.components['dingtalk'].port}/dingtalk/to-dingtalk/send"


@needs_amtool
def test_msteams_renders_for_the_pinned_version_and_is_refused_before_0_28(write_spec: Callable[..., Path]) -> None:
    teams = {
        "receivers": [{"name": "teams", "msteams": {"webhook_url": {"env": "T_MSTEAMS_URL"}}}],
        "default_receiver": "teams",
    }
    spec = write_spec(notifications=teams)
    config = am_config(spec)
    assert config["receivers"][0]["msteams_configs"][0]["webhook_url_file"].endswith("/alertmanager/teams.msteams")
    # Debian's amtool 0.25 predates msteams: the check fails and says why instead of passing silently
    with pytest.raises(CheckError) as failed:
        pipeline.check_spec(spec, only=["alertmanager/config"])
    assert "msteams_configs" in str(failed.value) and "Install amtool 0.28 or newer" in str(failed.value)
    old = write_spec(notifications=teams, components={"alertmanager": {"version": "v0.27.0"}}, name="old.yaml")
    # the spec is refused before anything renders, with the receiver's location (exit 2)
    with pytest.raises(SpecError, match=r"old.yaml:\d+:\d+: \$.notifications.receivers\[0\].msteams: msteams needs"):
        pipeline.render_spec(old)


def test_templates_carry_links_and_render_deterministically(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        components={
            "alertmanager": {"url": "https://am.example.com"},
            "grafana": {"url": "https://grafana.example.com"},
        }
    )
    first, second = pipeline.render_spec(spec).tree, pipeline.render_spec(spec).tree
    assert first.files == second.files and first.secrets == second.secrets
    text = first.files["alertmanager/templates/promstack.tmpl"]
    assert "https://am.example.com/#/silences/new?filter=" in text
    assert "https://grafana.example.com/d/{{ . }}" in text
    assert '{{ define "promstack.title" -}}' in text and "[[" not in text


# --- live: a real Alertmanager 0.25 delivers a rendered notification ------------------------------------------


class _Sink(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for Alertmanager's email notifier (no TLS, no auth): keeps each message's DATA."""

    messages: ClassVar[list[bytes]] = []

    def handle(self) -> None:
        self.wfile.write(b"220 sink\r\n")
        data: list[bytes] | None = None
        for line in self.rfile:
            if data is not None:
                if line.rstrip(b"\r\n") == b".":
                    type(self).messages.append(b"".join(data))
                    data = None
                    self.wfile.write(b"250 ok\r\n")
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            reply = {b"DATA": b"354 go on", b"QUIT": b"221 bye"}.get(verb, b"250 sink")
            self.wfile.write(reply + b"\r\n")
            data = [] if verb == b"DATA" else None
            if verb == b"QUIT":
                return


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.2)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _start_alertmanager(binary: str, out: Path, tmp_path: Path, am_port: int, *flags: str) -> subprocess.Popen[bytes]:
    """A real Alertmanager on the rendered tree `out`, on a loopback port; returns once it is ready."""
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={out / conventions.ALERTMANAGER_CONFIG}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
            *flags,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{am_port}"
    _wait(lambda: _ready(f"{base}/-/ready") or process.poll() is not None, 20, "Alertmanager to start")
    if process.poll() is not None:
        raise AssertionError(process.stderr.read().decode() if process.stderr else "Alertmanager exited")
    return process


def _send_alerts(base: str, alerts: list[dict[str, Any]]) -> None:
    """Post `alerts` to the Alertmanager at `base` the way Prometheus does (API v2)."""
    request = urllib.request.Request(
        f"{base}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


@pytest.mark.live
@pytest.mark.skipif(
    shutil.which("prometheus-alertmanager") is None,
    reason="prometheus-alertmanager (Debian package prometheus-alertmanager) missing",
)
def test_live_alert_reaches_webhook_slack_and_email_with_rendered_text(
    tmp_path: Path, write_spec: Callable[..., Path], port: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _Sink.received, _Smtp.messages = [], []
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    smtp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    for server in (sink, smtp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    am_port = port()
    monkeypatch.setenv("T_HOOK", f"http://127.0.0.1:{sink.server_port}/hook")
    monkeypatch.setenv("T_SLACK", f"http://127.0.0.1:{sink.server_port}/slack")
    spec = write_spec(
        components={"alertmanager": {"port": am_port, "url": "https://am.example.com"}},
        notifications={
            "receivers": [
                {"name": "team", "webhook": {"url": {"env": "T_HOOK"}}},
                {"name": "chat", "slack": {"url": {"env": "T_SLACK"}, "channel": "#ops"}},
                {"name": "mail", "email": {"to": "ops@example.com"}},
            ],
            "smtp": {
                "smarthost": f"127.0.0.1:{smtp.server_address[1]}",
                "from": "am@example.com",
                "require_tls": False,
            },
            "default_receiver": "team",
            "group_wait": "1s",
            "routes": [
                {"match": {"severity": "critical"}, "receiver": "chat", "continue": True},
                {"match": {"severity": "critical"}, "receiver": "mail", "continue": True},
                {"match": {"severity": "critical"}, "receiver": "team"},
            ],
        },
    )
    out = tmp_path / "out"
    # the local rendering with Grafana kept, whether or not this host has it: the alerts link its dashboards
    rendered = pipeline.render_spec(spec, "local", out)
    write_tree(rendered.tree, out, Secrets(spec.parent), salt=rendered.stack.name)
    process = _start_alertmanager(
        "prometheus-alertmanager",
        out,
        tmp_path,
        am_port,
        "--web.external-url=https://am.example.com",
        "--web.route-prefix=/",
    )
    try:
        base = f"http://127.0.0.1:{am_port}"
        alert = [
            {
                "labels": {"alertname": "DiskFull", "severity": "critical", "instance": "web1:9100", "host": "web1"},
                "annotations": {
                    "summary": "Disk / on web1 is 97% full & <rising>",
                    "runbook_url": "https://runbooks.example.com/disk-full",
                    "dashboard": "promstack-node",
                },
            }
        ]
        _send_alerts(base, alert)
        _wait(lambda: {p for p, _ in _Sink.received} >= {"/hook", "/slack"} and bool(_Smtp.messages), 30, "notices")
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server in (sink, smtp):
            server.shutdown()
            server.server_close()
    hook = next(body for path, body in _Sink.received if path == "/hook")
    assert hook["receiver"] == "team" and hook["status"] == "firing"
    (disk,) = (a for a in hook["alerts"] if a["labels"]["alertname"] == "DiskFull")
    assert disk["annotations"]["summary"] == "Disk / on web1 is 97% full & <rising>"
    slack = next(body for path, body in _Sink.received if path == "/slack")
    attachment = slack["attachments"][0]
    assert slack["channel"] == "#ops" and attachment["color"] == "danger"
    assert attachment["title"] == "[FIRING:1] DiskFull (critical) · t/production"
    text = attachment["text"]
    assert "Disk / on web1 is 97% full & <rising>" in text and "Runbook: https://runbooks.example.com/disk-full" in text
    assert "Dashboard: http://localhost:3000/d/promstack-node" in text
    assert "Silence: https://am.example.com/#/silences/new?filter=%7Balertname%3D%22DiskFull%22%2C" in text
    assert "Labels: alertname=DiskFull, host=web1, instance=web1:9100, severity=critical" in text
    mail = email.message_from_bytes(_Smtp.messages[0], policy=email.policy.default)
    assert str(mail["Subject"]) == attachment["title"]
    html = mail.get_body(("html",))
    assert html is not None
    body = html.get_content()
    assert "Disk / on web1 is 97% full &amp; &lt;rising&gt;" in body  # html/template escaped the annotation
    assert '<a href="https://runbooks.example.com/disk-full">Runbook</a>' in body
    assert '<a href="https://am.example.com/#/silences/new?filter=%7Balertname%3D%22DiskFull%22%2C' in body


class _WeChat(BaseHTTPRequestHandler):
    """WeChat Work's API as Alertmanager's wechat notifier uses it: a token for the corp's secret, then a message."""

    calls: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []  # (method, path with query, JSON body)

    def _reply(self, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        type(self).calls.append(("GET", self.path, {}))
        self._reply({"errcode": 0, "access_token": "wx-token"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        type(self).calls.append(("POST", self.path, body))
        self._reply({"errcode": 0, "errmsg": "ok"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.live
@pytest.mark.skipif(binaries.find("alertmanager") is None, reason="no Alertmanager binary (prometheus-alertmanager)")
def test_live_wechat_talks_to_its_api_url(
    tmp_path: Path, write_spec: Callable[..., Path], port: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`api_url` (a proxy, or WeChat Work hosted privately) is where Alertmanager asks for its token and posts."""
    _WeChat.calls = []
    api = ThreadingHTTPServer(("127.0.0.1", 0), _WeChat)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    am_port = port()
    monkeypatch.setenv("T_WECHAT_SECRET", SECRET_VALUES["T_WECHAT_SECRET"])
    wechat = {**RECEIVERS["wechat"], "api_url": f"http://127.0.0.1:{api.server_port}/wx/cgi-bin/"}
    spec = write_spec(
        components={"alertmanager": {"port": am_port}},
        notifications={
            "receivers": [{"name": "wx", "wechat": wechat}],
            "default_receiver": "wx",
            "group_wait": "1s",
        },
    )
    out = tmp_path / "out"
    pipeline.generate(spec, out, "local")
    binary = binaries.find("alertmanager")
    assert binary is not None
    process = _start_alertmanager(binary, out, tmp_path, am_port)
    try:
        alert = [{"labels": {"alertname": "QueueStuck", "severity": "critical"}, "annotations": {"summary": "stuck"}}]
        _send_alerts(f"http://127.0.0.1:{am_port}", alert)
        _wait(lambda: any(method == "POST" for method, _, _ in _WeChat.calls), 30, "the WeChat message")
    finally:
        process.terminate()
        process.wait(timeout=10)
        api.shutdown()
        api.server_close()
    (token_call,) = [c for c in _WeChat.calls if c[0] == "GET"]
    assert token_call[1].startswith("/wx/cgi-bin/gettoken?")
    assert f"corpsecret={SECRET_VALUES['T_WECHAT_SECRET']}" in token_call[1]
    post = next(c for c in _WeChat.calls if c[0] == "POST")
    assert post[1] == "/wx/cgi-bin/message/send?access_token=wx-token"
    assert post[2]["agentid"] == "1000002" and post[2]["toparty"] == "2"
    assert "stuck" in post[2]["text"]["content"]


@pytest.mark.live
@pytest.mark.skipif(binaries.find("alertmanager") is None, reason="no Alertmanager binary (prometheus-alertmanager)")
def test_live_status_api_serves_no_secret_alertmanager_reads_from_a_file(
    tmp_path: Path, write_spec: Callable[..., Path], port: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GET /api/v2/status serves the loaded config to anyone who reaches Alertmanager: every receiver kind it
    reads from a file shows only the file's path there, and notifications still go out."""
    _Sink.received = []
    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    values = {name: f"{value}-{name}" for name, value in SECRET_VALUES.items()}
    values["T_SLACK_URL"] = f"http://127.0.0.1:{sink.server_port}/slack/S3cr3t-slack"
    values["T_WEBHOOK_URL"] = f"http://127.0.0.1:{sink.server_port}/hook/S3cr3t-hook"
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    kinds = ["slack", "webhook", "pagerduty", "opsgenie", "wechat", "telegram", "discord", "email"]
    am_port = port()
    spec = write_spec(
        components={"alertmanager": {"port": am_port}},
        notifications=notifications(
            kinds,
            group_wait="1s",
            routes=[
                {"match": {"severity": "critical"}, "receiver": "to-slack", "continue": True},
                {"match": {"severity": "critical"}, "receiver": "to-webhook"},
            ],
        ),
    )
    out = tmp_path / "out"
    rendered = pipeline.generate(spec, out, "local")
    version = rendered.target.version(rendered.stack, "alertmanager")
    assert version is not None
    binary = binaries.find("alertmanager")
    assert binary is not None
    process = _start_alertmanager(binary, out, tmp_path, am_port)
    try:
        base = f"http://127.0.0.1:{am_port}"
        with urllib.request.urlopen(f"{base}/api/v2/status", timeout=5) as response:
            served = json.loads(response.read())["config"]["original"]
        alert = [{"labels": {"alertname": "Leak", "severity": "critical"}}]
        request = urllib.request.Request(
            f"{base}/api/v2/alerts", json.dumps(alert).encode(), {"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        _wait(lambda: {p.split("/")[1] for p, _ in _Sink.received} >= {"slack", "hook"}, 30, "both notifications")
    finally:
        process.terminate()
        process.wait(timeout=10)
        sink.shutdown()
        sink.server_close()
    assert f"api_url_file: {out}/secrets/alertmanager/to-slack.slack" in served
    assert "routing_key_file:" in served and "api_key_file:" in served and "smtp_auth_password_file:" in served
    kind_of = {"T_SLACK_URL": "slack", "T_PD_KEY": "pagerduty", "T_OG_KEY": "opsgenie", "T_SMTP_PASSWORD": "email"}
    kind_of |= {"T_WECHAT_SECRET": "wechat", "T_TELEGRAM_TOKEN": "telegram", "T_DISCORD_URL": "discord"}
    for name, kind in kind_of.items():
        assert values[name] not in served, f"{kind}: its secret is served by /api/v2/status"
    # the one gap, said by `check`: Alertmanager before 0.26 has no webhook url_file and shows the url inline
    assert (values["T_WEBHOOK_URL"] in served) == (version < (0, 26))
