"""Applied live, on both runtimes: a rule change is a reload (same Prometheus process, data kept, files
replaced inside the mounted folders), and a bad change leaves the running stack on its old config."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_runtime_compose import compose_spec, containers, docker_images_or_skip
from test_runtime_local import (
    Deployment,
    base_spec,
    deployment_factory,
    free_ports,
    metric,
    need_binaries,
    query,
    rule_names,
    wait_for,
)

from generator import runtimes
from generator.errors import DeployError

RUNTIMES = ["local", pytest.param("compose", marks=pytest.mark.docker)]


def rule(name: str, expr: str | None = None) -> dict[str, Any]:
    """A custom alert with the promtool tests every custom alert needs (rules/lint)."""
    series = f'live_apply_probe{{rule="{name}"}}'
    return {
        "alert": name,
        "expr": expr or f"{series} > 0",
        "severity": "info",
        "summary": f"{name} is a test rule.",
        "tests": [
            {"series": {series: "1x20"}, "fires": True, "labels": {"rule": name}},
            {"series": {series: "0x20"}, "fires": False},
        ],
    }


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


@pytest.fixture
def make_stack(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment]
) -> Callable[[str, str], tuple[Deployment, Callable[[list[dict[str, Any]]], None]]]:
    """A deployed stack with one custom rule, and a function that rewrites the spec's custom rules."""

    def make(runtime: str, name: str) -> tuple[Deployment, Callable[[list[dict[str, Any]]], None]]:
        ports = free_ports(port, "prometheus", "alertmanager", "node")
        if runtime == "local":
            need_binaries()
            build: Callable[..., dict[str, Any]] = lambda **more: base_spec(ports, name, **more)  # noqa: E731
        else:
            images = docker_images_or_skip()
            build = lambda **more: compose_spec(ports, name, images, **more)  # noqa: E731

        def rules(custom: list[dict[str, Any]]) -> None:
            write_spec(build(alerts={"rules": custom}))

        stack = deployments(write_spec(build(alerts={"rules": [rule("LiveApplyFirst")]})), runtime, ports)
        stack.up()
        return stack, rules

    return make


@pytest.mark.live
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rule_change_is_a_reload_not_a_restart(runtime: str, make_stack: Callable[..., Any]) -> None:
    stack, rules = make_stack(runtime, "liveapply")
    assert "LiveApplyFirst" in rule_names(stack.prometheus)
    wait_for("a stored sample", lambda: query(stack.prometheus, 'up{job="node-exporter"}'))
    earlier = time.time()
    started = metric(stack.prometheus, "process_start_time_seconds")
    folder = os.stat(stack.root / "tree" / "prometheus").st_ino
    container = containers(stack.project)["prometheus"].id if runtime == "compose" else None

    rules([rule("LiveApplyFirst"), rule("LiveApplySecond")])
    result = stack.up()
    assert "applied: reload prometheus" in result.stdout
    assert "recreate" not in result.stdout
    assert {"LiveApplyFirst", "LiveApplySecond"} <= rule_names(stack.prometheus)  # active when `up` returns
    assert metric(stack.prometheus, "prometheus_config_last_reload_successful") == 1
    assert metric(stack.prometheus, "process_start_time_seconds") == started
    if container is not None:
        assert containers(stack.project)["prometheus"].id == container
    assert os.stat(stack.root / "tree" / "prometheus").st_ino == folder  # updated inside the mounted folder
    assert query(stack.prometheus, 'up{job="node-exporter"}', at=earlier)  # earlier samples kept


@pytest.mark.live
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bad_change_leaves_the_stack_on_its_old_config(
    runtime: str, make_stack: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, rules = make_stack(runtime, "badchange")
    rule_file = stack.root / "tree" / "prometheus" / "rules" / "custom.yml"
    good = rule_file.read_text()
    started = metric(stack.prometheus, "process_start_time_seconds")

    # valid PromQL, but a function Prometheus 3 added: the 2.42 here refuses it. promtool rejects it
    # first: nothing is touched, exit 1, the reason named
    rules([rule("LiveApplyFirst"), rule("Broken", "double_exponential_smoothing(up[5m], 0.5, 0.5)")])
    result = stack.up(expect=1)
    assert "promtool" in result.stderr and "unknown function" in result.stderr
    assert rule_file.read_text() == good
    assert "Broken" not in rule_names(stack.prometheus)

    # with the checks bypassed (only possible from Python), Prometheus itself refuses the reload:
    # the previous files go back in place and are reloaded, and the error says so
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(DeployError) as refused:
        runtimes.up(stack.spec, runtimes.Options(runtime=runtime, checks=False, out=lambda line: None))
    message = str(refused.value)
    assert "prometheus refused the new configuration" in message
    assert "unknown function" in message  # from its log
    assert "back on its previous configuration" in message
    assert rule_file.read_text() == good
    assert metric(stack.prometheus, "prometheus_config_last_reload_successful") == 1
    assert "LiveApplyFirst" in rule_names(stack.prometheus) and "Broken" not in rule_names(stack.prometheus)
    assert metric(stack.prometheus, "process_start_time_seconds") == started

    # and the next good change applies normally
    rules([rule("LiveApplyFirst"), rule("LiveApplyThird")])
    stack.up()
    assert "LiveApplyThird" in rule_names(stack.prometheus)


@pytest.mark.live
def test_up_deploys_the_spec_it_checked_and_runs_only_the_changed_tests(
    make_stack: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up` reads the spec once: an edit made after its checks passed (here from the hook `up` calls right
    then) is not deployed, not even in part; the next `up` checks it, and refuses it. Rule tests that
    passed on the same files are not run again (the check cache in the state dir)."""
    stack, rules = make_stack("local", "readonce")
    assert (stack.root / "check-cache.json").is_file()
    for key, value in stack.env.items():
        monkeypatch.setenv(key, value)
    rules([rule("LiveApplyFirst"), rule("Checked")])
    checked = stack.spec.read_text()
    lines: list[str] = []

    def edit() -> None:  # what a user saving the spec while `up` runs does
        rules([rule("LiveApplyFirst"), rule("Unchecked", "double_exponential_smoothing(up[5m], 0.5, 0.5)")])

    runtimes.up(stack.spec, runtimes.Options(runtime="local", out=lines.append, checked=edit))
    assert stack.spec.read_text() != checked
    names = rule_names(stack.prometheus)
    assert "Checked" in names and "Unchecked" not in names
    assert "Unchecked" not in (stack.root / "tree" / "prometheus" / "rules" / "custom.yml").read_text()
    note = next(line for line in lines if "rule test" in line)
    assert "not run again" in note  # only the custom rules' tests changed

    result = stack.up(expect=1)  # the edited spec, checked now
    assert "unknown function" in result.stderr
    assert "Unchecked" not in rule_names(stack.prometheus)
