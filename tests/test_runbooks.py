"""Runbooks that exist: every built-in alert has one (in its pack's `runbooks:`), served as a panel of the
generated Runbooks dashboard that its `runbook_url` opens, or under `alerts.runbook_base_url`; no default
points at a site nobody serves, and the dashboards lint proves each link."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import skip_or_fail
from test_fuzz import SMALL

from generator import catalog, conventions, pipeline, rules_catalog, runbooks
from generator.errors import CheckError
from generator.render import Target, Tree, render
from generator.spec import load_stack

LOCAL = Target("local", "/srv/out")
RUNBOOKS_JSON = f"{conventions.GRAFANA_DASHBOARDS_DIR}/promstack/{runbooks.UID}.json"
# every component, every pack, a service with http metrics and SLOs: every built-in alert is rendered
EVERYTHING: dict[str, Any] = {
    "exporters": catalog.examples(),
    "services": SMALL[1]["services"],  # http metrics and SLOs
    "alerts": {
        "rules": [
            {
                "alert": "OrdersStalled",
                "expr": "sum(rate(orders_total[10m])) == 0",
                "for": "15m",
                "severity": "warning",
                "summary": "No orders for 15 minutes.",
                "tests": [{"series": {'orders_total{job="api"}': "0x40"}, "eval_time": "30m", "fires": True}],
            },
            {
                "alert": "QueueStuck",
                "expr": "max(queue_depth) > 100",
                "severity": "warning",
                "summary": "The queue is stuck.",
                "runbook": "https://wiki.example.com/queue",
                "tests": [{"series": {"queue_depth": "200x10"}, "eval_time": "5m", "fires": True}],
            },
        ]
    },
}


def alerts(tree: Tree) -> dict[str, dict[str, str]]:
    """alert name -> its annotations, from every rendered rule file."""
    found: dict[str, dict[str, str]] = {}
    for path, text in tree.files.items():
        if path.startswith(conventions.PROMETHEUS_RULES_DIR + "/"):
            for group in yaml.safe_load(text)["groups"]:
                found.update({r["alert"]: r["annotations"] for r in group["rules"] if "alert" in r})
    return found


def builtin_alerts() -> set[str]:
    return set(rules_catalog.alert_index()) | {conventions.SLO_ALERT}


def test_every_builtin_alert_has_a_runbook_in_its_pack() -> None:
    for name, pack in rules_catalog.packs().items():
        own = {r.name for r in pack.rules() if r.alert}
        extra = {conventions.SLO_ALERT} if name == rules_catalog.SERVICE_PACK else set()
        assert set(pack.runbooks) == own | extra, f"{pack.source}: runbooks: must cover exactly its alerts"
        for alert, book in pack.runbooks.items():
            assert set(book) == {"meaning", "checks", "causes"}, (alert, set(book))
            assert str(book["meaning"]).strip(), alert
            assert book["checks"] and book["causes"], alert
            assert all(isinstance(item, str) and item.strip() for item in [*book["checks"], *book["causes"]]), alert


def test_panel_ids_are_unique_and_a_function_of_the_name_alone() -> None:
    names = sorted(builtin_alerts())
    ids = runbooks.panel_ids(names)
    assert len(set(ids.values())) == len(names), "two built-in alerts would share a panel"
    assert all(ident >= 100 for ident in ids.values())  # rows are numbered below
    assert runbooks.panel_ids(["HostDown"])["HostDown"] == ids["HostDown"], "the same id in any stack"
    assert runbooks.panel_ids(["a", "b"]) != {} and len(set(runbooks.panel_ids(["a", "b"]).values())) == 2


def test_every_builtin_alert_links_to_its_panel_on_the_runbooks_dashboard(write_spec: Callable[..., Path]) -> None:
    stack = load_stack(write_spec(EVERYTHING))
    tree = render(stack, LOCAL)  # NodeNetworkErrors is rendered on the local runtime only
    rendered = alerts(tree)
    board = json.loads(tree.files[RUNBOOKS_JSON])
    panels = {p["id"]: p for p in board["panels"] if p["type"] == "text"}
    grafana = stack.components["grafana"].url.rstrip("/")
    index = rules_catalog.alert_index()
    assert builtin_alerts() <= set(rendered), builtin_alerts() - set(rendered)
    for alert in builtin_alerts():
        url = rendered[alert]["runbook_url"]
        prefix = f"{grafana}/d/{runbooks.UID}?viewPanel="
        assert url.startswith(prefix), (alert, url)
        panel = panels[int(url.removeprefix(prefix))]
        assert panel["title"] == alert
        pack = rules_catalog.packs()[index[alert].pack if alert in index else rules_catalog.SERVICE_PACK]
        content = panel["options"]["content"]
        assert str(pack.runbooks[alert]["meaning"]).strip() in content
        assert f"promstack ack SPEC {alert}" in content and f"amtool silence add alertname={alert}" in content
    # the spec's own alerts: its runbook where it names one, else a panel saying how to write one
    assert rendered["QueueStuck"]["runbook_url"] == "https://wiki.example.com/queue"
    stalled = panels[int(rendered["OrdersStalled"]["runbook_url"].rsplit("=", 1)[1])]
    assert "No orders for 15 minutes." in stalled["options"]["content"]
    assert "No runbook is written for this alert yet" in stalled["options"]["content"]
    # nothing links to a site nobody serves
    assert not any("promstack.dev" in text for text in tree.files.values())


def test_the_lints_accept_the_links_and_refuse_a_broken_one(write_spec: Callable[..., Path]) -> None:
    if shutil.which("promtool") is None:
        skip_or_fail("needs promtool (Debian package prometheus) for dashboards/lint")
    stack = load_stack(write_spec(EVERYTHING))
    report = pipeline.check_stack(stack, only=["dashboards/lint", "rules/lint"])
    assert report.passed == ["rules/lint", "dashboards/lint"] or set(report.passed) == {"rules/lint", "dashboards/lint"}
    # a runbook_url naming a panel that is not there is refused by the lint (tamper with the rendering)
    with pipeline.scratch(stack) as target:
        tree = render(stack, target)
        path = f"{conventions.PROMETHEUS_RULES_DIR}/node-exporter.yml"
        ident = runbooks.panel_ids(["HostDown"])["HostDown"]
        tree.files[path] = tree.files[path].replace(f"viewPanel={ident}", "viewPanel=99")
        with pytest.raises(CheckError) as refused:
            pipeline.check(stack, tree, target, only=["dashboards/lint"])
    assert any("runbook_url" in p.message and "HostDown" in p.message for p in refused.value.problems)


def test_a_runbook_base_url_replaces_the_dashboard_links(write_spec: Callable[..., Path]) -> None:
    spec = {**EVERYTHING, "alerts": {**EVERYTHING["alerts"], "runbook_base_url": "https://wiki.example.com/rb/"}}
    rendered = alerts(render(load_stack(write_spec(spec)), LOCAL))
    for alert in builtin_alerts() | {"OrdersStalled"}:
        assert rendered[alert]["runbook_url"] == f"https://wiki.example.com/rb/{alert}"
    assert rendered["QueueStuck"]["runbook_url"] == "https://wiki.example.com/queue"  # the rule's own wins


def test_without_grafana_nor_base_url_no_alert_links_anywhere(write_spec: Callable[..., Path]) -> None:
    stack = load_stack(write_spec({"exporters": {"node": {}}, "components": {"grafana": {"enabled": False}}}))
    rendered = alerts(render(stack))
    assert rendered and not any("runbook_url" in notes for notes in rendered.values())
