"""Stage `deploy`: `up`. It validates, renders, runs every check and resolves every secret before
anything running is touched, then applies only the difference (see `apply`) and waits until healthy."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from generator import conventions, pipeline
from generator.errors import DeployError
from generator.model import Stack
from generator.render import render
from generator.runtimes import access, apply, deployed_secrets, files
from generator.runtimes.apply import Plan, Progress, Verified
from generator.runtimes.choose import backend, choose, compose_or_local, runnable
from generator.runtimes.lock import locked, seconds
from generator.runtimes.options import Options, project_name
from generator.runtimes.report import check_lines
from generator.runtimes.state import Record, State
from generator.spec import load_stack
from generator.write import Secrets


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
    timeout = seconds(options.timeout, "--timeout", "how long up waits for health and scrape targets")
    stack = load_stack(spec, options.env)
    project = project_name(stack, options)
    state = State.of(project)
    with locked(state, on_wait=out), state.staging_removed():
        deployed_secrets.remember(state)  # a log may quote what an earlier deployment was given
        record = state.load()
        if state.restore_journal.exists():
            raise DeployError(
                f"a `promstack restore` was stopped while it wrote the data volumes ({state.restore_journal}); "
                "run the restore again, or `promstack down --volumes` to start without that data"
            )
        runtime = choose(options.runtime, record)
        if runtime == "compose" and options.runtime == "auto" and record is None:
            runtime = compose_or_local(stack, out)
        # a secret promstack generates (Grafana's admin password) is made once and kept in the state dir
        secrets = Secrets(spec.absolute().parent, keep=state.generated, persist=True)
        runner = backend(runtime, state, stack, secrets, out)
        runner.refuse_foreign()
        out(f"promstack up: stack {stack.name!r} as project {project!r} on the {runtime} runtime")
        stack, skipped = runnable(runner, stack)
        for why in skipped.values():
            out(f"  {pipeline.left_out_line(why)}")
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
            timeout,
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
        access.urls(stack, skipped),
        access.dashboards(stack, state.tree, skipped),
        access.grafana_login(stack, secrets),
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
