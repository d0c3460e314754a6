"""Dashboards whose size does not grow with the services: the Services, SLOs and Overview dashboards pick
services with variables and share queries between services that name their metrics alike; the overview
shows aggregates and top lists, each service one click away."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator import pipeline

BOARDS = "grafana/dashboards/promstack/"
HTTP = {"requests": "http_requests_total", "duration": "http_request_duration_seconds"}


def _clones(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": f"api{i:04d}", "targets": [f"api{i:04d}:8000"], "http": HTTP, **extra} for i in range(count)]


def _sizes(spec: Path) -> dict[str, int]:
    files = pipeline.render_spec(spec).tree.files
    return {p.removeprefix(BOARDS): len(t) for p, t in files.items() if p.startswith(BOARDS)}


def _board(spec: Path, name: str) -> dict[str, Any]:
    return dict(json.loads(pipeline.render_spec(spec).tree.files[f"{BOARDS}promstack-{name}.json"]))


def _probed(count: int) -> dict[str, Any]:
    """`count` services, each with an SLO measured by a probe of its own."""
    services = _clones(count)
    for service in services:
        service["slos"] = [{"name": "health", "objective": 99.5, "probe": service["name"]}]
    probes = [{"name": s["name"], "module": "http_2xx", "targets": [f"http://{s['name']}/"]} for s in services]
    return {"services": services, "exporters": {"blackbox": {"probes": probes}}}


@pytest.mark.parametrize("measured", ["requests", "probe"])
def test_a_thousand_services_make_dashboards_as_large_as_three(measured: str, write_spec: Callable[..., Path]) -> None:
    slo = {"slos": [{"name": "availability", "objective": 99.9}]}

    def spec(count: int) -> dict[str, Any]:
        return {"services": _clones(count, **slo)} if measured == "requests" else _probed(count)

    few = _sizes(write_spec(**spec(3), name="few.yaml"))
    many = _sizes(write_spec(**spec(1000), name="many.yaml"))
    assert set(few) == set(many) >= {"promstack-overview.json", "promstack-service.json", "promstack-slo.json"}
    for name, size in many.items():
        assert size <= few[name] + 100, name  # a row title may say "and 997 more"
        assert size < 200_000, name


def test_services_that_name_their_metrics_differently_are_told_apart(write_spec: Callable[..., Path]) -> None:
    """Two groups read http_requests_total with different `errors` matchers: each keeps its own services."""
    other = {"name": "legacy", "targets": ["legacy:80"], "http": {**HTTP, "errors": 'code=~"5..|429"'}}
    board = _board(write_spec(services=[*_clones(3), other]), "service")
    errors = next(p for p in board["panels"] if p["title"] == "Error ratio")
    exprs = [t["expr"] for t in errors["targets"]]
    assert len(exprs) == 2
    assert 'service=~"$service",service!~"legacy"' in exprs[0] and 'code=~"5.."' in exprs[0]
    assert 'service="legacy",service=~"$service"' in exprs[1] and 'code=~"5..|429"' in exprs[1]
    assert board["templating"]["list"][0]["query"] == 'label_values(up{service!=""}, service)'
    assert board["templating"]["list"][0]["options"] == []  # asked of Prometheus, not listed in the JSON


def test_services_declaring_the_same_metrics_share_a_business_row(write_spec: Callable[..., Path]) -> None:
    metrics = [{"name": "jobs_done_total", "type": "counter", "labels": ["queue"]}]
    services = [
        {"name": "a", "targets": ["a:1"], "metrics": metrics},
        {"name": "b", "targets": ["b:1"], "metrics": metrics},
        {"name": "c", "targets": ["c:1"], "metrics": [{"name": "backlog", "type": "gauge"}]},
    ]
    board = _board(write_spec(services=services), "service")
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ["Business metrics: a, b", "Business metrics: c"]
    shared = next(p for p in board["panels"] if p["title"] == "jobs_done_total rate")
    assert shared["targets"][0]["expr"] == (
        'sum by (service, queue) (rate(jobs_done_total{service=~"a|b",service=~"$service"}[$__rate_interval]))'
    )
    assert shared["targets"][0]["legendFormat"] == "{{service}} {{queue}}"


def test_the_overview_lists_top_services_a_click_away_from_their_panels(write_spec: Callable[..., Path]) -> None:
    board = _board(write_spec(services=_clones(50, slos=[{"name": "availability", "objective": 99.9}])), "overview")
    tables = {p["title"]: p for p in board["panels"] if p["type"] == "table"}
    assert set(tables) == {
        "Most failing services",
        "Busiest services",
        "Slowest services (p95)",
        "Least error budget left",
    }
    for title, table in tables.items():
        assert table["targets"][0]["expr"].startswith(("topk(10, ", "bottomk(10, ")), title
        (link,) = table["fieldConfig"]["defaults"]["links"]
        uid = "promstack-slo" if title == "Least error budget left" else "promstack-service"
        assert link["url"] == f"/d/{uid}?var-service=${{__data.fields.service}}&${{__url_time_range}}"
    assert "api0007" not in json.dumps(board)  # no service is named: the list comes from Prometheus
