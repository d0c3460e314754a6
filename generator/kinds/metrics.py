"""The metrics an alert kind (or a panel) may name, with their types: read from the validated spec data, so
validation and build agree. Declared metrics (`services[].metrics[]`, and the demo's own) come with their
type, labels and service; a component's catalog metrics get their type from their names (`_total`:
counter; a `<name>_bucket` listed beside it: `<name>` is a histogram; else gauge)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator import catalog, conventions
from generator.kinds import Metric

HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
# labels every scraped series carries (Prometheus adds job and instance; promstack adds host)
TARGET_LABELS = ("job", "instance", "host")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def services(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The spec's services as data, with the demo's when it is enabled (any shape: validation reads it too)."""
    found = [s for s in _list(data.get("services")) if isinstance(s, dict)]
    demo = data.get("demo")
    if isinstance(demo, dict) and demo.get("enabled"):
        found.append(
            {"name": "demo", "labels": {"team": "demo"}, "metrics": [dict(m) for m in conventions.DEMO_METRICS]}
        )
    return found


def declared(data: Mapping[str, Any]) -> dict[str, tuple[Metric, str]]:
    """metric name -> (its Metric, the spec path of its declaration) for every declared metric."""
    found: dict[str, tuple[Metric, str]] = {}
    spec_services = [s for s in _list(data.get("services")) if isinstance(s, dict)]
    for i, service in enumerate(services(data)):
        name = str(service.get("name", ""))
        labels = {str(k): str(v) for k, v in _dict(service.get("labels")).items()}
        where = f"$.services[{i}]" if i < len(spec_services) else "$.demo"
        for j, metric in enumerate(_list(service.get("metrics"))):
            if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
                continue
            found.setdefault(
                metric["name"],
                (
                    Metric(
                        name=metric["name"],
                        type=str(metric.get("type", "gauge")),
                        job=name,
                        labels=tuple(str(label) for label in _list(metric.get("labels"))),
                        target_labels={"service": name, **labels},
                    ),
                    f"{where}.metrics[{j}]",
                ),
            )
    return found


def catalog_metrics() -> dict[str, Metric]:
    """Every metric a catalog component exposes, typed by its name, read from that component's job."""
    found: dict[str, Metric] = {}
    for name, entry in catalog.entries().items():
        names = [str(m) for m in entry.raw.get("metrics", ())]
        histograms = {m.removesuffix("_bucket") for m in names if m.endswith("_bucket")}
        for metric in names:
            stems = (metric.removesuffix(suffix) for suffix in HISTOGRAM_SUFFIXES)
            base = next((stem for stem in stems if stem != metric and stem in histograms), None)
            if base is not None:
                found.setdefault(base, Metric(base, "histogram", name))
                continue
            found.setdefault(metric, Metric(metric, "counter" if metric.endswith("_total") else "gauge", name))
    return found


def known(data: Mapping[str, Any]) -> dict[str, Metric]:
    """Every metric a kind may read: declared first (their types are the user's word), then the catalog's."""
    return {**catalog_metrics(), **{name: metric for name, (metric, _) in declared(data).items()}}


def label_names(metric: Metric) -> set[str] | None:
    """The labels a selector or grouping of `metric` may use, or None when it declares none (anything)."""
    if not metric.labels:
        return None
    extra = {"le"} if metric.type == "histogram" else {"quantile"} if metric.type == "summary" else set()
    return {*metric.labels, *TARGET_LABELS, *metric.target_labels, *extra}
