"""Live proof of the custom dashboards: the example's own "Shop business" dashboard (stack/stack.yaml) on a
real Prometheus scraping the demo service, run from the local rendering. Every one of its panels shows
data, and `check --live` names a custom panel whose metric has no series."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import pipeline
from generator.render import args
from generator.write import Secrets, write_tree
from tests.test_dashboards_live import Processes, _binary, _get, _live_failures, _wait
from tests.test_dashboards_live import processes as processes  # the fixture

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ("prometheus", "demo")
SHOP = "promstack-shop-business"
# a service that declares a metric but is never up: a panel on that metric can have no series
GHOST = {"name": "ghost", "targets": ["127.0.0.1:9"], "metrics": [{"name": "ghost_jobs_total", "type": "counter"}]}
GHOST_BOARD = {
    "title": "Ghost",
    "rows": [{"title": "Jobs", "panels": [{"title": "Ghost jobs", "metric": "ghost_jobs_total"}]}],
}


def _example_custom() -> list[dict[str, Any]]:
    data = yaml.safe_load((ROOT / "stack" / "stack.yaml").read_text())
    return copy.deepcopy(data["dashboards"]["custom"])


@pytest.fixture
def stack(
    tmp_path: Path, port: Callable[[], int], write_spec: Callable[..., Path], processes: Processes
) -> Iterator[tuple[Path, str]]:
    """A running Prometheus and demo with the example's custom dashboards and the ghost's; (spec, URL)."""
    binaries = {name: _binary(name) for name in COMPONENTS}
    ports = {name: port() for name in (*COMPONENTS, "alertmanager", "grafana")}
    spec = write_spec(
        {
            "name": "livecustom",
            "scrape_interval": "1s",
            "evaluation_interval": "1s",
            "components": {n: {"port": ports[n]} for n in ("prometheus", "alertmanager", "grafana")},
            "demo": {"enabled": True, "port": ports["demo"]},
            "services": [GHOST],
            "dashboards": {"custom": [*_example_custom(), GHOST_BOARD]},
        }
    )
    root = tmp_path / "tree"
    rendered = pipeline.render_spec(spec, "local", root)
    write_tree(rendered.tree, root, Secrets(tmp_path, environ={"HOOK_URL": "http://127.0.0.1:9/hook"}), salt="t")
    for name in COMPONENTS:
        data = tmp_path / "data" / name
        data.mkdir(parents=True)
        processes.start(name, [binaries[name], *args.command(rendered.stack, name, rendered.target, str(data))])
    prometheus = f"http://127.0.0.1:{ports['prometheus']}"

    def demo_up() -> bool:
        targets = _get(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]  # type: ignore[index]
        return any(t["labels"]["job"] == "demo" and t["health"] == "up" for t in targets)

    _wait("the demo is scraped", demo_up, 60, processes)
    yield spec, prometheus


def _custom_failures(spec: Path, url: str, uid: str) -> list[str]:
    return [f for f in _live_failures(spec, url) if f"/{uid}.json)" in f]


def test_every_panel_of_the_example_business_dashboard_shows_data(
    stack: tuple[Path, str], processes: Processes
) -> None:
    spec, prometheus = stack
    # the rate windows ($__rate_interval = 4 s) need a few scrapes and checkouts: retry while warming up
    failures: list[str] = ["not run yet"]
    deadline = time.monotonic() + 90
    while failures and time.monotonic() < deadline:
        failures = _custom_failures(spec, prometheus, SHOP)
        if failures:
            time.sleep(2)
    assert failures == [], "\n".join(failures) + "\n" + processes.tails()
    board = json.loads((spec.parent / "tree" / "grafana/dashboards/promstack" / f"{SHOP}.json").read_text())
    assert len([p for p in board["panels"] if p["type"] != "row"]) == 5  # every panel of the example was asked


def test_check_live_names_a_custom_panel_on_a_metric_without_series(stack: tuple[Path, str]) -> None:
    spec, prometheus = stack
    failures = _custom_failures(spec, prometheus, "promstack-ghost")
    assert len(failures) == 1, failures
    assert 'dashboard "Ghost"' in failures[0] and 'panel "Ghost jobs" shows no data' in failures[0]
    assert "ghost_jobs_total" in failures[0]
