"""`promstack report` on a live local stack with the demo service, every figure checked against the
Prometheus HTTP API by code of its own: counter increases and raw samples fetched here, ratios, the
quantile interpolation and the alert episodes computed here (not through generator/slo_math.py or
generator/report/), at the instant and over the span the report states.

The demo's errors are switched on and off three times (`POST /admin/error-ratio`): a custom alert on its
error-ratio gauge (at 30%) fires three times and resolves (flapping), ServiceHighErrorRatio (its `for` shortened)
fires and stays firing. `--since 30d` is longer than the minutes of data the stack holds: each format says so.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_runtime_local import (
    Deployment,
    base_spec,
    deployment_factory,
    free_ports,
    get_json,
    need_binaries,
    wait_for,
)

PSEUDO = "tmpfs|ramfs|squashfs|nsfs|overlay|fuse.lxcfs|devtmpfs"  # the node rule pack's: never fill for real

pytestmark = pytest.mark.xdist_group("runtime-local")


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def _set_errors(demo: str, value: float) -> None:
    request = urllib.request.Request(f"{demo}/admin/error-ratio?value={value}", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass


def _query(prometheus: str, expr: str, at: float) -> list[dict[str, Any]]:
    data = get_json(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr, 'time': f'{at:.3f}'})}")
    assert data and data["status"] == "success", (expr, data)
    return list(data["data"]["result"])


def _firing_a_while(prometheus: str, alertname: str, timeout: float) -> None:
    """Wait until `alertname` was firing at 3 evaluations of the last 10s: the report reads alerts at its
    step (the evaluation interval), and one that began firing less than a step before the report's end
    falls between two of its points."""
    firing = f'count_over_time(ALERTS{{alertname="{alertname}",alertstate="firing"}}[10s]) >= 3'
    wait_for(f"{alertname} firing 3 times", lambda: _query(prometheus, firing, time.time()), timeout)


def _report_json(stack: Deployment, folder: Path, since: str) -> tuple[dict[str, Any], float, str]:
    """`promstack report --since SINCE` of `stack` as JSON: the report, its end and its span as a window."""
    out = folder / "report.json"
    made = stack.run("--debug", "report", str(stack.spec), "--since", since, "-o", str(out))
    assert made.returncode == 0, made.stderr
    report: dict[str, Any] = json.loads(out.read_text())
    return report, report["span"]["end"], f"{int(report['span']['seconds'])}s"


def _one(prometheus: str, expr: str, at: float) -> float:
    found = _query(prometheus, expr, at)
    assert len(found) == 1, (expr, found)
    return float(found[0]["value"][1])


def _firing_episodes(prometheus: str, alert: str, window: str, at: float, interval: float) -> list[list[float]]:
    """Raw firing samples of one alert, cut into runs wherever two samples are more than 1.5 intervals apart."""
    runs: list[list[float]] = []
    for series in _query(prometheus, f'ALERTS{{alertstate="firing",alertname="{alert}"}}[{window}]', at):
        for stamp, _ in series["values"]:
            if runs and float(stamp) - runs[-1][1] <= 1.5 * interval:
                runs[-1][1] = float(stamp)
            else:
                runs.append([float(stamp), float(stamp)])
    return runs


def _quantile(q: float, buckets: dict[float, float]) -> float:
    """histogram_quantile's linear interpolation, from cumulative bucket counts."""
    bounds = sorted(buckets)
    rank = q * buckets[float("inf")]
    below, count_below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return below
            return below + (bound - below) * (rank - count_below) / (buckets[bound] - count_below)
        below, count_below = bound, buckets[bound]
    raise AssertionError("unreachable")


@pytest.mark.live
def test_report_figures_match_direct_queries(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment], tmp_path: Path
) -> None:
    need_binaries("python3")
    ports = free_ports(port, "prometheus", "alertmanager", "node", "demo")
    spec = base_spec(
        ports,
        "report",
        demo={"enabled": True, "port": ports["demo"]},
        alerts={
            "packs": "default",
            "overrides": {"ServiceHighErrorRatio": {"for": "1s"}},
            "rules": [
                {
                    "alert": "DemoErrorsOn",
                    "expr": "demo_error_ratio > 0.1 < 0.4",
                    "for": "1s",
                    "severity": "warning",
                    "summary": "The demo's errors are switched on",
                    "tests": [
                        {"series": {"demo_error_ratio": "0.3x10"}, "fires": True},
                        {"series": {"demo_error_ratio": "0x10"}, "fires": False},
                    ],
                }
            ],
        },
    )
    stack = deployments(write_spec(spec), "local", ports)
    stack.up()
    demo = f"http://127.0.0.1:{ports['demo']}"
    wait_for(
        "demo traffic",
        lambda: _query(stack.prometheus, 'sum(increase(demo_http_requests_total{job="demo"}[30s])) > 20', time.time()),
        60,
    )
    for _ in range(3):
        _set_errors(demo, 0.3)
        wait_for(
            "DemoErrorsOn firing",
            lambda: _query(stack.prometheus, 'ALERTS{alertname="DemoErrorsOn",alertstate="firing"}', time.time()),
            30,
        )
        time.sleep(3)
        _set_errors(demo, 0.0)
        wait_for(
            "DemoErrorsOn resolved",
            lambda: not _query(stack.prometheus, 'ALERTS{alertname="DemoErrorsOn"}', time.time()),
            30,
        )
        time.sleep(2)
    _set_errors(demo, 0.5)
    _firing_a_while(stack.prometheus, "ServiceHighErrorRatio", 120)

    report, at, window = _report_json(stack, tmp_path, "30d")
    seconds = report["span"]["seconds"]
    prom = stack.prometheus

    # the span: 30d asked, minutes held, said plainly
    lowest = _one(prom, "min(prometheus_tsdb_lowest_timestamp_seconds)", at)
    assert seconds == pytest.approx(at - lowest, abs=1) and seconds < 3600
    assert "Asked for the last 30d, but Prometheus holds data for the last" in report["span"]["note"]

    # SLOs: error ratios from counter increases, budgets from the objectives (99 and 95, the demo's)
    slos = {s["slo"]: s for s in report["slos"]}
    errors = _one(prom, f'sum(increase(demo_http_requests_total{{job="demo",code=~"5.."}}[{window}]))', at)
    total = _one(prom, f'sum(increase(demo_http_requests_total{{job="demo"}}[{window}]))', at)
    ratio = errors / total
    assert slos["availability"]["objective"] == 99
    assert slos["availability"]["achieved"] == pytest.approx(100 * (1 - ratio), rel=1e-9)
    assert slos["availability"]["budget_left"] == pytest.approx(1 - ratio / 0.01, rel=1e-9)
    assert slos["availability"]["burn_rate"] == pytest.approx(ratio / 0.01, rel=1e-9)
    assert slos["availability"]["budget_left"] < 0  # half the requests failed for a while
    good = _one(
        prom,
        f'sum(increase(demo_http_request_duration_seconds_bucket{{job="demo",le=~"0.5|0.5\\\\.0"}}[{window}]))',
        at,
    )
    timed = _one(prom, f'sum(increase(demo_http_request_duration_seconds_count{{job="demo"}}[{window}]))', at)
    assert slos["latency"]["achieved"] == pytest.approx(100 * good / timed, rel=1e-9)
    assert slos["latency"]["budget_left"] == pytest.approx(1 - (1 - good / timed) / 0.05, rel=1e-9)
    # the burn-down: the budget left from the span's start to each point; its last point is the headline
    curve = slos["availability"]["burn_down"]
    assert len(curve) >= 5 and curve[-1] == [at, pytest.approx(slos["availability"]["budget_left"], rel=1e-9)]
    middle_at, middle = curve[len(curve) // 2]
    w = f"{int(middle_at - report['span']['start'])}s"
    bad = _one(prom, f'sum(increase(demo_http_requests_total{{job="demo",code=~"5.."}}[{w}])) or vector(0)', middle_at)
    every = _one(prom, f'sum(increase(demo_http_requests_total{{job="demo"}}[{w}]))', middle_at)
    assert middle == pytest.approx(1 - bad / every / 0.01, rel=1e-9)

    # services: availability from raw `up` samples, the quantiles interpolated here from bucket increases
    service = {s["service"]: s for s in report["services"]}["demo"]
    ups = [float(v) for _, v in _query(prom, f'up{{job="demo"}}[{window}]', at)[0]["values"]]
    assert service["availability"] == pytest.approx(100 * sum(ups) / len(ups), rel=1e-9)
    assert service["requests"] == pytest.approx(total, rel=1e-9)
    assert service["error_ratio"] == pytest.approx(ratio, rel=1e-9)
    buckets = {
        float(r["metric"]["le"]): float(r["value"][1])
        for r in _query(
            prom, f'sum by (le) (increase(demo_http_request_duration_seconds_bucket{{job="demo"}}[{window}]))', at
        )
    }
    assert service["p95_seconds"] == pytest.approx(_quantile(0.95, buckets), rel=1e-9)
    assert service["p99_seconds"] == pytest.approx(_quantile(0.99, buckets), rel=1e-9)

    # alerts: episodes cut from raw samples here; times within a step of each end
    interval = 1.0
    history = {a["alertname"]: a for a in report["alerts"]["alerts"]}
    flaps = _firing_episodes(prom, "DemoErrorsOn", window, at, interval)
    assert len(flaps) == 3 and history["DemoErrorsOn"]["fired"] == 3
    assert history["DemoErrorsOn"]["resolved"] == 3 and history["DemoErrorsOn"]["still_firing"] == 0
    expected_firing = sum(last - first + interval for first, last in flaps)
    assert history["DemoErrorsOn"]["firing_seconds"] == pytest.approx(expected_firing, abs=3 * 2 * interval)
    active = _query(prom, f'ALERTS_FOR_STATE{{alertname="DemoErrorsOn"}}[{window}]', at)
    started = sorted({float(v) for series in active for _, v in series["values"]})
    assert len(started) == 3  # one activeAt per episode: when its condition became true
    resolve = [last + interval - began for (_, last), began in zip(flaps, started, strict=True)]
    assert history["DemoErrorsOn"]["mean_time_to_resolve_seconds"] == pytest.approx(sum(resolve) / 3, abs=2 * interval)
    assert "DemoErrorsOn" in report["alerts"]["flapping"]
    assert history["ServiceHighErrorRatio"]["still_firing"] == 1
    assert history["ServiceHighErrorRatio"]["fired"] == len(
        _firing_episodes(prom, "ServiceHighErrorRatio", window, at, interval)
    )
    assert report["alerts"]["noisiest"][0] == "DemoErrorsOn" and len(report["alerts"]["noisiest"]) <= 10
    day = time.strftime("%Y-%m-%d", time.gmtime(flaps[0][0]))
    assert sum(d["fired"] for d in report["alerts"]["per_day"] if d["day"] == day) >= 3

    # capacity: the same filesystems predicted to fill within 30 days as a direct predict_linear query
    assert report["capacity"]["node_metrics"] is True
    expected = {
        (r["metric"]["instance"], r["metric"]["mountpoint"])
        for r in _query(
            prom,
            f"predict_linear(node_filesystem_avail_bytes{{fstype!~{PSEUDO!r}}}[{window}], 2592000) < 0".replace(
                "'", '"'
            ),
            at,
        )
    }
    assert {(d["instance"], d["mountpoint"]) for d in report["capacity"]["disks"]} == expected

    # the text formats: every section, the same figures, the plots inline
    markdown = stack.run("report", str(stack.spec), "--since", "30d", "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    for heading in ("## SLOs", "## Services", "## Alerts", "## Capacity"):
        assert heading in markdown.stdout
    assert (
        "holds data for the last" in markdown.stdout and "| DemoErrorsOn (flapping) | warning | 3 |" in markdown.stdout
    )
    html_file = tmp_path / "report.html"
    made = stack.run("report", str(stack.spec), "--since", "30d", "-o", str(html_file))
    assert made.returncode == 0, made.stderr
    html = html_file.read_text()
    assert html.count("<svg") == 3 and "holds data for the last" in html  # 2 burn-downs, alerts per day
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing to fetch: offline
