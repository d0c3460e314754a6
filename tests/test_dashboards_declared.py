"""Declared metrics (`services[].metrics[]`) get panels by type on the service dashboard, with units."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator import conventions, pipeline

SERVICE_BOARD = "grafana/dashboards/promstack/promstack-service.json"
METRICS = [
    {"name": "jobs_done_total", "type": "counter", "help": "Jobs done.", "labels": ["queue", "result"]},
    {"name": "bytes_sent_total", "type": "counter", "unit": "bytes"},
    {"name": "backlog", "type": "gauge", "help": "Jobs waiting.", "unit": "ratio"},
    {"name": "job_seconds", "type": "histogram", "unit": "seconds", "labels": ["queue"]},
    {"name": "rpc_ms", "type": "summary", "unit": "milliseconds"},
    {"name": "heat", "type": "gauge", "unit": "celsius"},
]


def _panels(spec: Path) -> list[dict[str, Any]]:
    tree = pipeline.render_spec(spec).tree
    return list(json.loads(tree.files[SERVICE_BOARD])["panels"])


def _worker(write_spec: Callable[..., Path], **extra: Any) -> Path:
    return write_spec({"services": [{"name": "worker", "targets": ["w:9000"], "metrics": METRICS, **extra}]})


def test_every_declared_metric_gets_panels_by_type_with_its_unit(write_spec: Callable[..., Path]) -> None:
    panels = _panels(_worker(write_spec))
    shown = {p["title"]: p for p in panels}
    assert [p["title"] for p in panels if p["type"] == "row"] == ["Business metrics: worker"]  # no http: no RED row
    summary = {
        title: (p["type"], p["fieldConfig"]["defaults"]["unit"], [t["expr"] for t in p["targets"]])
        for title, p in shown.items()
        if p["type"] != "row"
    }
    sel = 'service="worker",service=~"$service"'
    assert summary == {
        "jobs_done_total rate": (
            "timeseries",
            "short",
            [f"sum by (queue, result) (rate(jobs_done_total{{{sel}}}[$__rate_interval]))"],
        ),
        "bytes_sent_total rate": ("timeseries", "Bps", [f"sum (rate(bytes_sent_total{{{sel}}}[$__rate_interval]))"]),
        "backlog now": ("stat", "percentunit", [f"sum (backlog{{{sel}}})"]),
        "backlog trend": ("timeseries", "percentunit", [f"sum (backlog{{{sel}}})"]),
        "job_seconds p50/p95/p99": (
            "timeseries",
            "s",
            [
                f"histogram_quantile({q}, sum by (le, queue) (rate(job_seconds_bucket{{{sel}}}[$__rate_interval])))"
                for q in (0.5, 0.95, 0.99)
            ],
        ),
        "job_seconds rate": (
            "timeseries",
            "short",
            [f"sum by (queue) (rate(job_seconds_count{{{sel}}}[$__rate_interval]))"],
        ),
        "rpc_ms quantiles": ("timeseries", "ms", [f"max by (quantile) (rpc_ms{{{sel}}})"]),
        "heat now": ("stat", "celsius", [f"sum (heat{{{sel}}})"]),
        "heat trend": ("timeseries", "celsius", [f"sum (heat{{{sel}}})"]),
    }
    assert shown["jobs_done_total rate"]["targets"][0]["legendFormat"] == "{{queue}} {{result}}"
    assert shown["jobs_done_total rate"]["description"] == "Jobs done. (per second, by queue, result)"
    assert shown["backlog now"]["description"] == "Jobs waiting. (current value)"
    assert shown["bytes_sent_total rate"]["description"].startswith("bytes_sent_total")  # no help: its name


def test_a_service_without_declared_metrics_has_no_business_row(write_spec: Callable[..., Path]) -> None:
    spec = write_spec({"services": [{"name": "api", "targets": ["a:1"], "http": {"requests": "http_requests_total"}}]})
    assert [p["title"] for p in _panels(spec) if p["type"] == "row"] == ["RED"]


def test_the_demo_business_metrics_show_on_the_service_dashboard(write_spec: Callable[..., Path]) -> None:
    panels = _panels(write_spec({"demo": {"enabled": True}}))
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == ["RED", "Business metrics: demo"]
    queried = " ".join(t["expr"] for p in panels for t in p.get("targets", ()))
    for metric in conventions.DEMO_METRICS:
        assert str(metric["name"]) in queried
