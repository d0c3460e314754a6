"""The DingTalk adapter promstack runs for `dingtalk` receivers: shipped as package data, rendered to
dingtalk/adapter.py, the same bytes on both runtimes.

Alertmanager has no DingTalk receiver, and Debian does not package the upstream adapter, so promstack
brings its own. Standard library only (it runs in a plain `python` image or the host's python3). It takes
Alertmanager's webhook at `POST /dingtalk/<receiver>/send`, formats the alerts as one markdown message
and posts it to that receiver's robot. A robot with a signing secret gets `timestamp` (ms) and `sign`
query parameters: base64 of HMAC-SHA256(key=secret, message=timestamp + "\\n" + secret), URL-encoded.

The robot URL (it carries the access token) and the secret are read from the files the config names, at
every notification (a rotated secret needs no restart); they are never on the command line, in the
environment or in a log line. Delivery is retried a bounded number of times; a robot that refuses the
message for good (bad signature or token) gets 422 back to Alertmanager, which does not retry it, and one
that cannot be reached gets 503, which Alertmanager retries later. `GET /-/healthy` answers 200 and
`GET /metrics` counts notifications by receiver and outcome.

    python3 adapter.py --listen 127.0.0.1:8060 --config config.json
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1 << 20  # an Alertmanager notification is far smaller; more is refused, never read
MAX_TEXT = 15000  # DingTalk refuses very long markdown; the rest is named, not sent
RATE_LIMITED = 130101  # "send too fast": 20 messages a minute per robot
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LINKS = (("Runbook", "runbook_url"), ("Dashboard", "dashboard"))  # annotations shown as links


class Refused(Exception):
    """The robot answered and refused the message: sending it again would not help."""


class Unreachable(Exception):
    """No answer, or a temporary refusal: Alertmanager may try again later."""


def sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` query value of a robot with signing `secret` at `timestamp_ms` (not URL-encoded yet)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """`url` with `timestamp` and `sign` appended, or `url` itself when the robot has no secret."""
    if not secret:
        return url
    query = urllib.parse.urlencode({"timestamp": str(timestamp_ms), "sign": sign(secret, timestamp_ms)})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _labels(labels: dict[str, str], skip: tuple[str, ...] = ("alertname",)) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip)


def _silence_url(base: str, labels: dict[str, str]) -> str:
    matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{base}/#/silences/new?filter={urllib.parse.quote('{' + matchers + '}', safe='')}"


def message(notification: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The DingTalk markdown message of one Alertmanager notification (webhook payload version 4)."""
    alerts = [a for a in notification.get("alerts") or [] if isinstance(a, dict)]
    firing = [a for a in alerts if a.get("status") == "firing"]
    resolved = [a for a in alerts if a.get("status") == "resolved"]
    common = notification.get("commonLabels") or {}
    status = str(notification.get("status") or ("firing" if firing else "resolved"))
    count = f":{len(firing)}" if status == "firing" else ""
    severity = f" ({common['severity']})" if common.get("severity") else ""
    where = f"{config.get('stack', '')}/{config.get('environment', '')}"
    title = f"[{status.upper()}{count}] {common.get('alertname') or 'alerts'}{severity} · {where}"
    base = str(config.get("alertmanager_url") or notification.get("externalURL") or "").rstrip("/")
    parts = [f"### {title}"]
    for alert in firing:
        labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
        notes = alert.get("annotations") or {}
        lines = [f"**{notes.get('summary') or labels.get('alertname', 'alert')}**"]
        if notes.get("description"):
            lines.append(str(notes["description"]))
        lines.append(f"- Severity: {labels.get('severity', 'none')}, since {alert.get('startsAt', '')}")
        links = [f"[{name}]({notes[key]})" for name, key in LINKS if notes.get(key)]
        if base:
            links.append(f"[Silence]({_silence_url(base, labels)})")
        if links:
            lines.append("- " + " · ".join(links))
        lines.append(f"- Labels: {_labels(labels)}")
        parts.append("\n".join(lines))
    if resolved:
        done = [
            f"- {(a.get('annotations') or {}).get('summary') or (a.get('labels') or {}).get('alertname', 'alert')} "
            f"({_labels(a.get('labels') or {})})"
            for a in resolved
        ]
        parts.append("**Resolved**\n" + "\n".join(done))
    text = "\n\n".join(parts)
    if len(text) > MAX_TEXT:
        more = f"\n\n… cut at {MAX_TEXT} characters: every alert is in Alertmanager"
        text = text[:MAX_TEXT] + more + (f" ({base}/#/alerts)" if base else "")
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def _read(path: str | None) -> str:
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as exc:  # the path is no secret, its content is
        raise Unreachable(f"cannot read {path}: {exc.strerror}") from None


class Adapter:
    """Formats and delivers notifications; counts what happened. Shared by the handler threads."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.timeout = float(config.get("timeout", 5))
        self.attempts = max(1, int(config.get("attempts", 3)))
        self.backoff = float(config.get("backoff", 1))
        self.started = time.time()
        self._lock = threading.Lock()
        self.counts: dict[tuple[str, str], int] = {}

    def count(self, receiver: str, outcome: str) -> None:
        with self._lock:
            self.counts[(receiver, outcome)] = self.counts.get((receiver, outcome), 0) + 1

    def metrics(self) -> str:
        lines = [
            "# HELP promstack_dingtalk_notifications_total Notifications handled, by receiver and outcome.",
            "# TYPE promstack_dingtalk_notifications_total counter",
        ]
        with self._lock:
            counts = dict(self.counts)
        for receiver in sorted(self.config.get("receivers") or {}):
            for outcome in ("sent", "refused", "failed"):
                value = counts.get((receiver, outcome), 0)
                lines.append(
                    f'promstack_dingtalk_notifications_total{{receiver="{receiver}",outcome="{outcome}"}} {value}'
                )
        lines += [
            "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {self.started:.3f}",
        ]
        return "\n".join(lines) + "\n"

    def deliver(self, receiver: str, payload: dict[str, Any]) -> int:
        """Post `payload` to `receiver`'s robot, retrying what may pass later; the robot's errcode (0: sent)."""
        settings = self.config["receivers"][receiver]
        url, secret = _read(settings.get("url_file")), _read(settings.get("secret_file"))
        body = json.dumps(payload, ensure_ascii=False).encode()
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(
                signed_url(url, secret, int(time.time() * 1000)),  # signed afresh: a timestamp ages
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                    reply = json.loads(answer.read(MAX_BODY) or b"{}")
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code < 500 and exc.code != 429:
                    raise Refused(last) from None
                continue
            except (OSError, ValueError) as exc:  # no answer, or not JSON (a proxy's error page)
                last = _reason(exc)
                continue
            code = int(reply.get("errcode", -1)) if isinstance(reply, dict) else -1
            if code == 0:
                return 0
            errmsg = str(reply.get("errmsg", ""))[:200] if isinstance(reply, dict) else ""
            last = f"errcode {code}: {errmsg}"
            if code != RATE_LIMITED:
                raise Refused(last)
        raise Unreachable(f"{last} (after {self.attempts} attempts)")


def _reason(exc: BaseException) -> str:
    """Why a call failed, without the URL (it holds the access token)."""
    reason = getattr(exc, "reason", None)
    return str(reason) if reason is not None else type(exc).__name__


def make_server(listen: str, adapter: Adapter) -> ThreadingHTTPServer:
    host, _, port = listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        server_version = "promstack-dingtalk"

        def _answer(self, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path == "/-/healthy":
                self._answer(200, "ok\n")
            elif path == "/metrics":
                self._answer(200, adapter.metrics(), CONTENT_TYPE)
            else:
                self._answer(404, "not found\n")

        def do_POST(self) -> None:
            parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
            receivers = adapter.config.get("receivers") or {}
            if len(parts) != 3 or parts[0] != "dingtalk" or parts[2] != "send" or parts[1] not in receivers:
                self._answer(404, "no such receiver\n")
                return
            receiver = parts[1]
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 < length <= MAX_BODY:
                self._answer(413 if length > MAX_BODY else 400, "a notification body of 1 byte to 1 MiB is needed\n")
                return
            try:
                notification = json.loads(self.rfile.read(length))
                payload = message(notification, adapter.config)
            except (ValueError, AttributeError, TypeError):
                self._answer(400, "not an Alertmanager webhook notification\n")
                return
            try:
                adapter.deliver(receiver, payload)
            except Refused as exc:
                adapter.count(receiver, "refused")
                self.log_message("receiver %s: the robot refused the message: %s", receiver, exc)
                self._answer(422, f"DingTalk refused the message: {exc}\n")
                return
            except Unreachable as exc:
                adapter.count(receiver, "failed")
                self.log_message("receiver %s: not delivered: %s", receiver, exc)
                self._answer(503, f"DingTalk did not take the message: {exc}\n")
                return
            adapter.count(receiver, "sent")
            self.log_message("receiver %s: sent %d alert(s)", receiver, len(notification.get("alerts") or []))
            self._answer(200, "sent\n")

        def log_message(self, format: str, *args: Any) -> None:
            # request lines carry no secret (the token is in the robot URL, never in ours); keep them short
            sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            # a delivery logs its own line (receiver, outcome); health checks and scrapes are not news
            if str(code).isdigit() and int(code) >= 400:
                super().log_request(code, size)

    return ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="0.0.0.0:8060", help="host:port to serve on (default %(default)s)")
    parser.add_argument("--config", required=True, help="JSON: receivers and the files holding their secrets")
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as handle:
        config = json.load(handle)
    server = make_server(args.listen, Adapter(config))
    # SIGTERM (docker stop, supervisord) should end the process as cleanly as Ctrl-C does
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
