"""Stage `deploy`: what a deployed stack is (`status`: components, scrape targets, firing alerts) and
what `up` would change in it (`diff`). Neither changes anything, nor generates a secret."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import catalog
from generator.errors import DeployError, SecretError
from generator.model import Stack
from generator.render import Tree, render
from generator.runtimes import apply, deployed_secrets, files, health, monitored, verify
from generator.runtimes.apply import Plan
from generator.runtimes.choose import backend, choose, runnable
from generator.runtimes.options import Options, project_name
from generator.runtimes.state import State
from generator.spec import load_stack
from generator.write import Secrets, materialize


def status(spec: Path, options: Options) -> dict[str, Any]:
    """Each component (state, health, version, uptime), scrape targets, firing alerts."""
    stack = load_stack(spec, options.env)
    project = project_name(stack, options)
    state = State.of(project)
    state.check()  # a folder at the state path that is not ours is refused, not read
    deployed_secrets.remember(state)
    record = state.load()
    report: dict[str, Any] = {
        "stack": stack.name,
        "project": project,
        "deployed": record is not None,
        "runtime": record.runtime if record else None,
        "components": {},
        "targets": [],
        "alerts": [],
        "state_dir": str(state.root),
        "health": "not deployed",
        "problems": [],
    }
    if record is None:
        return report
    secrets = Secrets(spec.absolute().parent, keep=state.generated)
    runner = backend(record.runtime, state, stack, secrets, options.out)
    procs = runner.processes()
    now = time.time()
    endpoints: dict[str, health.Endpoint] = {}
    for name, (component, instance) in stack.running().items():
        entry: dict[str, Any] = {"url": instance.url}
        if component.replicas > 1:  # one entry per copy, each saying whose copy it is
            entry.update(component=component.name, replica=instance.index)
        if component.name in record.skipped:
            entry.update(state="skipped", health="-", reason=record.skipped[component.name])
            report["components"][name] = entry
            continue
        try:
            endpoint = health.Endpoint.of(component, secrets, instance.index)
        except SecretError:  # its credentials are not in this shell: ask without them
            endpoint = health.Endpoint.of(component, Secrets(Path("."), placeholders=True), instance.index)
        endpoints[name] = endpoint
        proc = procs.get(name)
        entry["state"] = proc.state if proc else "not running"
        answer = health.healthy(endpoint) if proc and proc.up else None
        entry["health"] = (
            "healthy" if answer and answer.ok else (f"unhealthy ({answer.error or answer.status})" if answer else "-")
        )
        entry["version"] = health.version(endpoint) if answer and answer.ok else ""
        entry["uptime_seconds"] = round(now - proc.started) if proc and proc.up and proc.started else None
        if answer and answer.ok and catalog.entry(component.name).reload.get("gauge"):
            failed = monitored.failed_reload(endpoint)
            entry["config_reload"] = "failed" if failed else "ok"
            if failed:
                entry["reason"] = failed
        report["components"][name] = entry
    # targets and alerts as the first Prometheus copy that answers sees them (its copies scrape the same)
    answering = [n for n, e in report["components"].items() if e.get("health") == "healthy"]
    copies = [e for n, e in endpoints.items() if e.entry == "prometheus" and n in answering]
    prometheus = copies[0] if copies else endpoints.get("prometheus")
    if prometheus is not None:
        found = verify.targets(prometheus) or []
        report["targets"] = [t.as_dict() for t in monitored.judged(found, monitored.backends_down(prometheus, stack))]
        report["alerts"] = [
            {
                "alertname": a.get("labels", {}).get("alertname", ""),
                "labels": a.get("labels", {}),
                "active_at": a.get("activeAt", ""),
            }
            for a in verify.firing(prometheus)
        ]
    report["problems"] = _problems(report)
    report["health"] = "degraded" if report["problems"] else "healthy"
    return report


def _problems(report: dict[str, Any]) -> list[str]:
    """Every reason the stack does not monitor all it should, one sentence each (a component that does not
    run or answer, a config it refused, a target down, what an exporter watches not answering it)."""
    found = []
    for name, entry in report["components"].items():
        if entry["state"] == "skipped":
            continue
        if entry["health"] != "healthy":
            health = f" and {entry['health']}" if entry["health"] != "-" else ""
            found.append(f"{name} is {entry['state']}{health}")
        elif entry.get("config_reload") == "failed":
            found.append(f"{name}: {entry['reason']}")
    for target in report["targets"]:
        if target["health"] != "up":
            why = target["error"] or ("not scraped yet" if target["health"] == "unknown" else target["health"])
            found.append(f"target {target['job']} {target['instance']} is {target['health']}: {why}")
    return found


def deployed_endpoint(spec: Path, options: Options, name: str) -> tuple[Stack, health.Endpoint]:
    """How to reach component `name` of the deployed stack of `spec`, found as `status` finds it (the
    stack's project and state dir; its credentials where the spec protects it, never printed)."""
    stack = load_stack(spec, options.env)
    state = State.of(project_name(stack, options))
    state.check()
    deployed_secrets.remember(state)  # what it prints is cleaned of earlier deployments' secrets too
    record = state.load()
    component = stack.components.get(name)
    if record is None or component is None:
        raise DeployError(
            f"the stack {stack.name!r} is not deployed (project {state.root.name}); run `promstack up` first"
        )
    secrets = Secrets(spec.absolute().parent, keep=state.generated)
    return stack, health.Endpoint.of(component, secrets)


@dataclass
class Difference:
    runtime: str
    deployed: bool
    plan: Plan
    lines: list[str]


def diff(spec: Path, options: Options) -> Difference:
    """What `up` would change: per component, and file by file (secret files named, never shown)."""
    stack = load_stack(spec, options.env)
    project = project_name(stack, options)
    state = State.of(project)
    state.check()
    deployed_secrets.remember(state)
    record = state.load()
    runtime = choose(options.runtime, record)
    secrets = Secrets(spec.absolute().parent, keep=state.generated)  # read only: diff generates nothing
    runner = backend(runtime, state, stack, secrets, options.out)
    stack, _ = runnable(runner, stack)
    tree: Tree = render(stack, runner.target())
    scratch = Path(tempfile.mkdtemp(prefix="promstack-diff-"))
    try:
        materialize(tree, scratch, secrets, salt=stack.name)
        env = apply.resolve_env(tree, secrets)
        _, plan = apply.decide(runner, tree, scratch, env, record.components if record else {})
        changes = plan.files
        return Difference(runtime, record is not None, plan, files.unified(scratch, state.tree, changes))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
