"""Stage `deploy`: `up`, `down`, `status` and `diff` on a runtime (compose or local host processes).

`auto` picks compose where a Docker engine answers and a compose client is installed, else local; a
stack already deployed stays on the runtime it runs on. `up` validates, renders, runs every check and
resolves every secret before anything running is touched, then applies only the difference (see
`apply`). Only this package imports `docker` or starts processes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator import conventions, pipeline
from generator.errors import DeployError, SecretError, UsageError
from generator.model import Stack
from generator.render import Tree, args, render
from generator.runtimes import apply, files, health
from generator.runtimes.apply import Backend, Plan, Progress, Verified
from generator.runtimes.lock import locked
from generator.runtimes.report import check_lines, diff_lines, status_lines, summary
from generator.runtimes.state import Record, State
from generator.spec import load_stack
from generator.write import Secrets, materialize

# what the CLI uses; the report lines live in `report`
__all__ = [
    "RUNTIMES",
    "Difference",
    "Options",
    "Outcome",
    "diff",
    "diff_lines",
    "down",
    "status",
    "status_lines",
    "summary",
    "up",
]
RUNTIMES = ("auto", "compose", "local")
PROJECT_ENV = "PROMSTACK_PROJECT"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Options:
    runtime: str = "auto"
    project: str | None = None  # default: $PROMSTACK_PROJECT, else the stack's name
    timeout: float = 180.0  # seconds `up` waits for health and scrape targets
    out: Progress = _stderr
    checks: bool = True  # run every check before touching anything (only tests of the rollback turn it off)


def project_name(stack: Stack, options: Options) -> str:
    name = options.project or os.environ.get(PROJECT_ENV) or stack.name
    if not name.replace("-", "").replace("_", "").isalnum() or name != name.lower():
        raise UsageError(f"project name {name!r} must be lower-case letters, digits, - and _")
    return name


def choose(runtime: str, record: Record | None) -> str:
    if runtime not in RUNTIMES:
        raise UsageError(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if record is not None:
        if runtime not in ("auto", record.runtime):
            raise UsageError(
                f"stack {record.project!r} runs on the {record.runtime} runtime; "
                f"`promstack down` it before switching to {runtime}"
            )
        return record.runtime
    if runtime != "auto":
        return runtime
    from generator.runtimes import compose  # imports the docker SDK: only when needed

    try:
        compose.compose_command()
    except DeployError:
        return "local"
    return "compose" if compose.engine_answers() else "local"


def _compose_or_local(stack: Stack, out: Progress) -> str:
    """`auto` on a new stack: compose only if its images can be had (an air-gapped engine cannot pull)."""
    from generator.runtimes import compose

    missing = compose.unavailable_images(stack, out)
    if not missing:
        return "compose"
    out(
        f"  the Docker engine answers, but {len(missing)} image(s) cannot be had (e.g. {missing[0]}); "
        "running the stack as host processes instead (--runtime compose to insist)"
    )
    return "local"


def backend(runtime: str, state: State, stack: Stack, secrets: Secrets, out: Progress) -> Backend:
    if runtime == "compose":
        from generator.runtimes.compose import ComposeBackend

        return ComposeBackend(state, stack, secrets, out)
    from generator.runtimes.local import LocalBackend

    return LocalBackend(state, stack, secrets, out)


@dataclass
class Outcome:
    stack: Stack
    project: str
    runtime: str
    state: State
    plan: Plan
    verified: Verified
    skipped: dict[str, str]
    seconds: float
    urls: list[tuple[str, str]] = field(default_factory=list)  # (what, URL)
    dashboards: list[tuple[str, str]] = field(default_factory=list)  # (title, URL)
    grafana_login: str | None = None  # who logs in and where the password is; never the password


def up(spec: Path, options: Options) -> Outcome:
    """Render, check, deploy or apply the difference live, wait until healthy; raise on any failure."""
    began = time.monotonic()
    out = options.out
    stack = load_stack(spec)
    project = project_name(stack, options)
    state = State.of(project)
    with locked(state, on_wait=out), state.staging_removed():
        record = state.load()
        runtime = choose(options.runtime, record)
        if runtime == "compose" and options.runtime == "auto" and record is None:
            runtime = _compose_or_local(stack, out)
        # a secret promstack generates (Grafana's admin password) is made once and kept in the state dir
        secrets = Secrets(spec.absolute().parent, keep=state.generated, persist=True)
        runner = backend(runtime, state, stack, secrets, out)
        out(f"promstack up: stack {stack.name!r} as project {project!r} on the {runtime} runtime")
        stack, skipped = _runnable(runner, stack)
        for why in skipped.values():
            out(f"  skipped: {why}")
        for note in runner.notes():
            out(f"  note: {note}")
        tree = render(stack, runner.target())
        if options.checks:
            # the same checks as `promstack check`, on the stack this runtime runs (less what it skips);
            # a compose tree is the one deployed, so the compose check reads it instead of rendering again
            compose = tree if runtime == "compose" else None
            report = pipeline.check_stack(stack, compose=compose)
            for line in check_lines(report):
                out(f"  {line}")
        runner.preflight(tree)
        env = apply.resolve_env(tree, secrets)
        state.create()
        staging = apply.stage(tree, state, secrets, stack, runtime)
        run = [name for name, c in stack.components.items() if c.runs]
        fingerprints = runner.definitions(tree, staging, env, run)
        changes = files.compare(staging, state.tree, files.folders(stack, tree.files.get(conventions.COMPOSE_FILE)))
        plan = apply.make_plan(
            changes, fingerprints, record.components if record else {}, runner.processes(), state.pending()
        )
        _tell_plan(plan, out)
        new = Record(runtime, project, str(spec.absolute()), fingerprints, skipped)
        verified = apply.execute(
            runner,
            plan,
            run,
            skipped,
            options.timeout,
            saved=lambda: state.save(new),
            restore_record=lambda: state.save(record) if record else None,
            before=set(record.components) if record else None,
        )
        shutil.rmtree(state.staging, ignore_errors=True)  # it holds resolved secrets: keep no spare copy
    return Outcome(
        stack,
        project,
        runtime,
        state,
        plan,
        verified,
        skipped,
        time.monotonic() - began,
        _urls(stack, skipped),
        _dashboards(stack, state.tree, skipped),
        _grafana_login(stack, secrets),
    )


def _tell_plan(plan: Plan, out: Progress) -> None:
    if plan.empty:
        out("  no changes: the running stack already matches the spec")
        return
    files = len(plan.files)
    out(
        f"  {files} file(s) change; "
        + (", ".join(f"{n}: {a}" for n, a, _ in plan.actions()) or "no component needs a reload or restart")
    )


def _urls(stack: Stack, skipped: dict[str, str]) -> list[tuple[str, str]]:
    titles = {"grafana": "Grafana", "prometheus": "Prometheus", "alertmanager": "Alertmanager"}
    return [(titles[n], stack.components[n].url) for n in titles if n in stack.components and n not in skipped]


def _grafana_login(stack: Stack, secrets: Secrets) -> str | None:
    """Where Grafana's admin password is: the generated file (path only) or the spec's reference."""
    grafana = stack.component("grafana")  # a skipped Grafana is not in the stack any more
    if grafana is None:
        return None
    ref = args.login_password(grafana)
    kept = secrets.kept(ref)
    where = f"in {kept} (generated once, owner-only)" if kept else f"from {ref.describe()}"
    return f"user {str(grafana.options['admin_user'])!r}, password {where}"


def _dashboards(stack: Stack, tree: Path, skipped: dict[str, str]) -> list[tuple[str, str]]:
    grafana = stack.component("grafana")
    if grafana is None or "grafana" in skipped:
        return []
    found = []
    for path in sorted((tree / conventions.GRAFANA_DASHBOARDS_DIR).rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("uid"):
            found.append((str(data.get("title", data["uid"])), f"{grafana.url.rstrip('/')}/d/{data['uid']}"))
    return found


def down(spec: Path, options: Options, volumes: bool = False) -> str:
    """Stop and remove the stack; its data stays unless `volumes`."""
    stack = load_stack(spec)
    project = project_name(stack, options)
    state = State.of(project)
    secrets = Secrets(spec.absolute().parent)
    with locked(state, on_wait=options.out):
        try:
            record = state.load()
        except DeployError as exc:  # a damaged state.json must not keep a stack from coming down
            options.out(f"warning: {exc}")
            record = None
        if record is not None:
            runtimes = [choose(options.runtime, record)]
        elif options.runtime != "auto":
            runtimes = [choose(options.runtime, None)]
        else:  # nothing recorded: clean up whatever may be left on either runtime
            runtimes = ["local"] + (["compose"] if choose("auto", None) == "compose" else [])
        for runtime in runtimes:
            backend(runtime, state, stack, secrets, options.out).stop(volumes)
        state.forget(keep_data=not volumes)
    kept = "data removed" if volumes else "data kept (down --volumes removes it)"
    return f"stack {stack.name!r} (project {project!r}) is down; {kept}"


def status(spec: Path, options: Options) -> dict[str, Any]:
    """Each component (state, health, version, uptime), scrape targets, firing alerts."""
    stack = load_stack(spec)
    project = project_name(stack, options)
    state = State.of(project)
    state.check()  # a folder at the state path that is not ours is refused, not read
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
    }
    if record is None:
        return report
    secrets = Secrets(spec.absolute().parent, keep=state.generated)
    runner = backend(record.runtime, state, stack, secrets, options.out)
    procs = runner.processes()
    now = time.time()
    endpoints: dict[str, health.Endpoint] = {}
    for name, component in stack.components.items():
        if not component.runs:
            continue
        entry: dict[str, Any] = {"url": component.url}
        if name in record.skipped:
            entry.update(state="skipped", health="-", reason=record.skipped[name])
            report["components"][name] = entry
            continue
        try:
            endpoint = health.Endpoint.of(component, secrets)
        except SecretError:  # its credentials are not in this shell: ask without them
            endpoint = health.Endpoint.of(component, Secrets(Path("."), placeholders=True))
        endpoints[name] = endpoint
        proc = procs.get(name)
        entry["state"] = proc.state if proc else "not running"
        answer = health.healthy(endpoint) if proc and proc.up else None
        entry["health"] = (
            "healthy" if answer and answer.ok else (f"unhealthy ({answer.error or answer.status})" if answer else "-")
        )
        entry["version"] = health.version(endpoint) if answer and answer.ok else ""
        entry["uptime_seconds"] = round(now - proc.started) if proc and proc.up and proc.started else None
        report["components"][name] = entry
    prometheus = endpoints.get("prometheus")
    if prometheus is not None:
        report["targets"] = [t.as_dict() for t in health.targets(prometheus) or []]
        report["alerts"] = [
            {
                "alertname": a.get("labels", {}).get("alertname", ""),
                "labels": a.get("labels", {}),
                "active_at": a.get("activeAt", ""),
            }
            for a in health.firing(prometheus)
        ]
    return report


@dataclass
class Difference:
    runtime: str
    deployed: bool
    plan: Plan
    lines: list[str]


def diff(spec: Path, options: Options) -> Difference:
    """What `up` would change: per component, and file by file (secret files named, never shown)."""
    stack = load_stack(spec)
    project = project_name(stack, options)
    state = State.of(project)
    state.check()
    record = state.load()
    runtime = choose(options.runtime, record)
    secrets = Secrets(spec.absolute().parent, keep=state.generated)  # read only: diff generates nothing
    runner = backend(runtime, state, stack, secrets, options.out)
    stack, _ = _runnable(runner, stack)
    tree: Tree = render(stack, runner.target())
    scratch = Path(tempfile.mkdtemp(prefix="promstack-diff-"))
    try:
        materialize(tree, scratch, secrets, salt=stack.name)
        run = [name for name, c in stack.components.items() if c.runs]
        fingerprints = runner.definitions(tree, scratch, apply.resolve_env(tree, secrets), run)
        changes = files.compare(scratch, state.tree, files.folders(stack, tree.files.get(conventions.COMPOSE_FILE)))
        plan = apply.make_plan(
            changes, fingerprints, record.components if record else {}, runner.processes(), state.pending()
        )
        return Difference(runtime, record is not None, plan, files.unified(scratch, state.tree, changes))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _runnable(runner: Backend, stack: Stack) -> tuple[Stack, dict[str, str]]:
    """The stack without the optional components this runtime cannot run here (e.g. Grafana without a
    binary): nothing is deployed for them, not even a scrape job that would only page about them."""
    skipped = runner.skips()
    if skipped:
        stack = replace(stack, components={n: c for n, c in stack.components.items() if n not in skipped})
        runner.stack = stack
    return stack, skipped
