"""The demo service promstack runs when `demo: {enabled: true}`: shipped as package data, rendered to demo/app.py.

Standard library only (it runs in a plain `python` image or the host's python3). It serves a tiny shop
API, instruments every API request the way a real service would (a request counter by method, route
and code, a latency histogram) plus the shop's business metrics (orders created, checkouts by
outcome, a checkout latency histogram, the depth of the shipping queue), and calls itself in a
background loop, so every dashboard has moving data on a fresh stack without external load.
`--error-ratio` and the runtime toggle `POST /admin/error-ratio?value=0.5` make a share of API
requests fail, so an alert can be made to fire on purpose.

    python3 app.py --listen 127.0.0.1:8000 --error-ratio 0.02
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Bounded route label values: an unknown path is "other", so a scanner cannot blow up cardinality.
ROUTES = ("/", "/api/orders", "/api/slow")
DECLINE_RATIO = 0.03  # share of checkouts whose payment is declined (402, no order)
SHIP_EVERY = 0.5  # seconds between two orders leaving the shipping queue
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters and a histogram in Prometheus text exposition format, safe across handler threads."""

    def __init__(self, error_ratio: float) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.sums: dict[tuple[str, str], float] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.orders = 0
        self.checkouts = {"ok": 0, "failed": 0}
        self.checkout_buckets = [0] * len(BUCKETS)
        self.checkout_sum = 0.0
        self.queue = 0
        self._declines = 0.0
        self.error_ratio = error_ratio
        # Errors are spread evenly (an accumulator, not a coin toss), so ratio 0.1 fails exactly every
        # tenth API request: alerts fire predictably and tests can assert the ratio exactly.
        self._debt = 0.0

    def set_error_ratio(self, value: float) -> None:
        with self._lock:
            self.error_ratio = value
            self._debt = 0.0

    def should_fail(self) -> bool:
        with self._lock:
            self._debt += self.error_ratio
            if self._debt >= 1.0 - 1e-9:
                self._debt -= 1.0
                return True
            return False

    def observe(self, method: str, route: str, code: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, str(code))
            self.requests[key] = self.requests.get(key, 0) + 1
            series = (method, route)
            counts = self.buckets.setdefault(series, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self.sums[series] = self.sums.get(series, 0.0) + seconds
            self.counts[series] = self.counts.get(series, 0) + 1

    def order_created(self) -> int:
        with self._lock:
            self.orders += 1
            self.queue += 1
            return self.orders

    def checkout(self, seconds: float) -> bool:
        """Record a checkout that took `seconds`; False when its payment is declined (evenly spread)."""
        with self._lock:
            self._declines += DECLINE_RATIO
            declined = self._declines >= 1.0 - 1e-9
            if declined:
                self._declines -= 1.0
            self.checkouts["failed" if declined else "ok"] += 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.checkout_buckets[i] += 1
            self.checkout_sum += seconds
            return not declined

    def ship(self) -> None:
        with self._lock:
            self.queue = max(0, self.queue - 1)

    def exposition(self) -> str:
        with self._lock:
            lines = [
                "# HELP demo_http_requests_total HTTP API requests served, by method, route and status code.",
                "# TYPE demo_http_requests_total counter",
            ]
            for (method, route, code), value in sorted(self.requests.items()):
                lines.append(f'demo_http_requests_total{{method="{method}",route="{route}",code="{code}"}} {value}')
            lines += [
                "# HELP demo_http_request_duration_seconds Time to serve an HTTP API request.",
                "# TYPE demo_http_request_duration_seconds histogram",
            ]
            for (method, route), counts in sorted(self.buckets.items()):
                labels = f'method="{method}",route="{route}"'
                for bound, count in zip(BUCKETS, counts, strict=True):
                    lines.append(f'demo_http_request_duration_seconds_bucket{{{labels},le="{bound:g}"}} {count}')
                total = self.counts[(method, route)]
                lines.append(f'demo_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total}')
                lines.append(f"demo_http_request_duration_seconds_sum{{{labels}}} {self.sums[(method, route)]!r}")
                lines.append(f"demo_http_request_duration_seconds_count{{{labels}}} {total}")
            lines += [
                "# HELP demo_orders_created_total Orders created through POST /api/orders.",
                "# TYPE demo_orders_created_total counter",
                f"demo_orders_created_total {self.orders}",
                "# HELP demo_checkouts_total Checkouts by outcome (ok, or failed: payment declined).",
                "# TYPE demo_checkouts_total counter",
                *(f'demo_checkouts_total{{outcome="{k}"}} {v}' for k, v in sorted(self.checkouts.items())),
                "# HELP demo_checkout_duration_seconds Time a checkout takes, payment included.",
                "# TYPE demo_checkout_duration_seconds histogram",
                *(
                    f'demo_checkout_duration_seconds_bucket{{le="{bound:g}"}} {count}'
                    for bound, count in zip(BUCKETS, self.checkout_buckets, strict=True)
                ),
                f'demo_checkout_duration_seconds_bucket{{le="+Inf"}} {sum(self.checkouts.values())}',
                f"demo_checkout_duration_seconds_sum {self.checkout_sum!r}",
                f"demo_checkout_duration_seconds_count {sum(self.checkouts.values())}",
                "# HELP demo_queue_depth Orders waiting to be shipped.",
                "# TYPE demo_queue_depth gauge",
                f"demo_queue_depth {self.queue}",
                "# HELP demo_error_ratio Share of API requests currently made to fail on purpose.",
                "# TYPE demo_error_ratio gauge",
                f"demo_error_ratio {self.error_ratio!r}",
            ]
        return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    metrics: Metrics  # set on the class built by make_server
    server_version = "promstack-demo/1"

    def log_message(self, format: str, *args: object) -> None:
        pass  # the self-traffic loop would flood stderr; the metrics are the log

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        if url.path == "/metrics" and method == "GET":
            self._send(200, self.metrics.exposition(), CONTENT_TYPE)
        elif url.path == "/healthz" and method == "GET":
            self._send(200, "ok\n", "text/plain")
        elif url.path == "/admin/error-ratio":
            self._error_ratio(method, parse_qs(url.query))
        else:
            self._api(method, url.path)

    def _error_ratio(self, method: str, query: dict[str, list[str]]) -> None:
        if method == "POST":
            try:
                value = float(query.get("value", [""])[0])
            except ValueError:
                value = -1.0
            if not 0.0 <= value <= 1.0:
                self._send(400, '{"error": "value must be a number from 0 to 1"}\n', "application/json")
                return
            self.metrics.set_error_ratio(value)
        self._send(200, json.dumps({"error_ratio": self.metrics.error_ratio}) + "\n", "application/json")

    def _api(self, method: str, path: str) -> None:
        """The instrumented part: every request here is counted and timed."""
        start = time.perf_counter()
        route = path if path in ROUTES else "other"
        body: dict[str, object]
        if route == "other":
            code, body = 404, {"error": "not found"}
        elif self.metrics.should_fail():
            code, body = 500, {"error": "injected failure (see /admin/error-ratio)"}
        else:
            code, body = self._serve(method, route)
        self._send(code, json.dumps(body) + "\n", "application/json")
        self.metrics.observe(method, route, code, time.perf_counter() - start)

    def _serve(self, method: str, route: str) -> tuple[int, dict[str, object]]:
        if route == "/":
            return 200, {"service": "promstack demo", "routes": list(ROUTES)}
        if route == "/api/orders" and method == "POST":  # a checkout: a payment call, then the order
            took = random.uniform(0.02, 0.2)
            time.sleep(took)
            if not self.metrics.checkout(took):
                return 402, {"error": "payment declined"}
            return 201, {"order": self.metrics.order_created()}
        if route == "/api/orders":
            time.sleep(random.uniform(0.002, 0.03))
            return 200, {"orders": self.metrics.orders}
        time.sleep(random.uniform(0.2, 1.2))  # /api/slow: the latency SLO's bad events live here
        return 200, {"slow": True}

    def _send(self, code: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def make_server(listen: str, error_ratio: float) -> ThreadingHTTPServer:
    host, _, port = listen.rpartition(":")
    handler = type("DemoHandler", (Handler,), {"metrics": Metrics(error_ratio)})
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), handler)
    server.daemon_threads = True
    return server


def self_traffic(base: str, per_second: float, stop: threading.Event) -> None:
    """Call our own API forever: mostly reads, some orders, a few slow requests."""
    calls = [("GET", "/api/orders")] * 6 + [("POST", "/api/orders")] * 2 + [("GET", "/"), ("GET", "/api/slow")]
    while not stop.wait(random.expovariate(per_second)):
        method, path = random.choice(calls)
        request = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
        except (urllib.error.URLError, OSError):
            pass  # injected 500s raise HTTPError (a URLError): expected, and already counted


def shipping(metrics: Metrics, stop: threading.Event) -> None:
    """Ship queued orders at a steady pace (faster than the self-traffic creates them)."""
    while not stop.wait(SHIP_EVERY):
        metrics.ship()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="0.0.0.0:8000", help="host:port to serve on (default %(default)s)")
    parser.add_argument("--error-ratio", type=float, default=0.02, help="share of API requests that fail, 0..1")
    parser.add_argument(
        "--self-traffic",
        type=float,
        default=5.0,
        help="requests per second the service sends itself; 0 turns the loop off",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.error_ratio <= 1.0:
        parser.error("--error-ratio must be from 0 to 1")
    server = make_server(args.listen, args.error_ratio)
    stop = threading.Event()
    metrics: Metrics = server.RequestHandlerClass.metrics  # type: ignore[attr-defined]
    threading.Thread(target=shipping, args=(metrics, stop), daemon=True).start()
    # SIGTERM (docker stop, supervisord) should end the process as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    if args.self_traffic > 0:
        host, port = server.server_address[0], server.server_address[1]
        local = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
        base = f"http://{local}:{port}"
        threading.Thread(target=self_traffic, args=(base, args.self_traffic, stop), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()


if __name__ == "__main__":
    main()
