"""The demo service: real process, real HTTP, its exposition checked by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from generator import pipeline
from generator.render import demo

APP = Path(demo.__file__).resolve().parent.parent / "demo_app.py"


class Demo:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, path: str, method: str = "GET") -> int:
        request = urllib.request.Request(self.base + path, method=method, data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def metrics(self) -> str:
        with urllib.request.urlopen(self.base + "/metrics", timeout=10) as response:
            return str(response.read().decode())

    def sample(self, series: str) -> float:
        match = re.search(rf"^{re.escape(series)} (\S+)$", self.metrics(), re.M)
        return float(match.group(1)) if match else 0.0


def _start(port: int, *args: str) -> tuple[subprocess.Popen[bytes], Demo]:
    process = subprocess.Popen([sys.executable, str(APP), "--listen", f"127.0.0.1:{port}", *args])
    app = Demo(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if app.call("/healthz") == 200:
                return process, app
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the demo app did not answer /healthz within 15 s")


@pytest.fixture
def quiet_demo(port: Callable[[], int]) -> Iterator[Demo]:
    """The demo with its self-traffic off, so the test's requests are the only ones counted."""
    process, app = _start(port(), "--self-traffic", "0", "--error-ratio", "0.25")
    yield app
    process.terminate()
    process.wait(timeout=10)


def test_exposition_is_valid_and_counts_requests(quiet_demo: Demo) -> None:
    for _ in range(8):
        quiet_demo.call("/api/orders")
    quiet_demo.call("/api/orders", "POST")
    quiet_demo.call("/no/such/route")
    text = quiet_demo.metrics()
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package: prometheus)")
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    ok = quiet_demo.sample('demo_http_requests_total{method="GET",route="/api/orders",code="200"}')
    failed = quiet_demo.sample('demo_http_requests_total{method="GET",route="/api/orders",code="500"}')
    assert (ok, failed) == (6, 2), "ratio 0.25 fails exactly every fourth API request"
    assert quiet_demo.sample('demo_http_requests_total{method="GET",route="other",code="404"}') == 1
    # histogram: cumulative buckets, +Inf = count = requests of that route
    inf = quiet_demo.sample('demo_http_request_duration_seconds_bucket{method="GET",route="/api/orders",le="+Inf"}')
    count = quiet_demo.sample('demo_http_request_duration_seconds_count{method="GET",route="/api/orders"}')
    assert inf == count == 8
    buckets = re.findall(r'method="GET",route="/api/orders",le="([^"]+)"\} (\d+)', text)
    assert [b for b, _ in buckets] == [
        "0.005",
        "0.01",
        "0.025",
        "0.05",
        "0.1",
        "0.25",
        "0.5",
        "1",
        "2.5",
        "5",
        "10",
        "+Inf",
    ]
    assert [int(v) for _, v in buckets] == sorted(int(v) for _, v in buckets)


def test_error_ratio_toggle(quiet_demo: Demo) -> None:
    assert quiet_demo.call("/admin/error-ratio?value=1", "POST") == 200
    assert [quiet_demo.call("/api/orders") for _ in range(5)] == [500] * 5
    assert quiet_demo.sample("demo_error_ratio") == 1
    assert quiet_demo.call("/admin/error-ratio?value=0", "POST") == 200
    assert [quiet_demo.call("/api/orders") for _ in range(5)] == [200] * 5
    assert quiet_demo.call("/admin/error-ratio?value=2", "POST") == 400
    assert quiet_demo.call("/admin/error-ratio?value=abc", "POST") == 400
    assert quiet_demo.sample("demo_error_ratio") == 0


def test_orders_are_counted(quiet_demo: Demo) -> None:
    quiet_demo.call("/admin/error-ratio?value=0", "POST")
    for _ in range(3):
        assert quiet_demo.call("/api/orders", "POST") == 201
    assert quiet_demo.sample("demo_orders_created_total") == 3


def test_self_traffic_moves_the_metrics_without_external_load(port: Callable[[], int]) -> None:
    process, app = _start(port(), "--self-traffic", "50", "--error-ratio", "0.5")
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            text = app.metrics()
            if 'code="500"' in text and 'route="/api/orders",code="200"' in text:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no self-traffic seen in 15 s:\n{text}")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_rejects_an_error_ratio_out_of_range() -> None:
    result = subprocess.run([sys.executable, str(APP), "--error-ratio", "1.5"], capture_output=True, check=False)
    assert result.returncode == 2 and b"--error-ratio must be from 0 to 1" in result.stderr


def test_the_demo_renderer_ships_the_app(write_spec: Callable[..., Path]) -> None:
    files = pipeline.render_spec(write_spec({"demo": {"enabled": True}}), "compose").tree.files
    assert files["demo/app.py"] == APP.read_text()
    compile(files["demo/app.py"], "app.py", "exec")
    assert "demo/app.py" not in pipeline.render_spec(write_spec(), "compose").tree.files
