"""Every generated dashboard read back by Grafana's own models (PyPI grafana-foundation-sdk, the
"Grafana next" line): nothing we write is unknown to them, so Grafana keeps every field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from generator import pipeline
from tests import test_dashboards_custom

ROOT = Path(__file__).resolve().parent.parent
SPECS = [ROOT / "stack" / "stack.yaml", *sorted((ROOT / "stack" / "examples").glob("*.yaml"))]
# The Prometheus datasource keeps these annotation fields beside the generic ones (its annotation editor
# reads them there); the SDK's generic AnnotationQuery has no place for them.
PROMETHEUS_ANNOTATION_FIELDS = {"step", "tagKeys", "textFormat", "titleFormat"}


def _lost(ours: Any, theirs: Any, path: str = "$") -> list[str]:
    if isinstance(ours, dict):
        if not isinstance(theirs, dict):
            return [f"{path}: became {theirs!r}"]
        return [
            problem
            for key, value in ours.items()
            for problem in ([f"{path}.{key} lost"] if key not in theirs else _lost(value, theirs[key], f"{path}.{key}"))
        ]
    if isinstance(ours, list):
        if not isinstance(theirs, list) or len(ours) != len(theirs):
            return [f"{path}: {len(ours)} items became {theirs!r}"]
        return [p for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) for p in _lost(a, b, f"{path}[{i}]")]
    return [] if ours == theirs else [f"{path}: {ours!r} became {theirs!r}"]


def _custom_spec(write_spec: Callable[..., Path]) -> Path:
    """Custom dashboards with every panel type, a variable of each kind, links, thresholds and folders."""
    return write_spec(test_dashboards_custom.SPEC, name="custom.yaml")


@pytest.mark.parametrize("spec", [*SPECS, _custom_spec], ids=lambda p: getattr(p, "name", "custom-dashboards"))
def test_dashboards_round_trip_through_grafanas_models(
    spec: Path | Callable[..., Path], write_spec: Callable[..., Path]
) -> None:
    tree = pipeline.render_spec(spec if isinstance(spec, Path) else spec(write_spec)).tree
    boards = {p: json.loads(t) for p, t in tree.files.items() if p.endswith(".json") and "/dashboards/" in f"/{p}"}
    assert boards
    for path, ours in boards.items():
        theirs = json.loads(json.dumps(Dashboard.from_json(ours), cls=JSONEncoder))
        lost = [
            p
            for p in _lost(ours, theirs)
            if not (
                p.startswith("$.annotations.list[")
                and p.rsplit(".", 1)[-1].removesuffix(" lost") in PROMETHEUS_ANNOTATION_FIELDS
            )
        ]
        assert not lost, f"{path}: {lost}"
