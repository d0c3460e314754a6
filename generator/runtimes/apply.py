"""Stage `deploy`: the live-apply engine shared by both runtimes.

`up` renders the next tree into `staging/` (secrets resolved), compares it with the live `tree/` file by
file, and decides per component: nothing, reload (its config files changed and it can reload them), or
recreate (how it runs changed: image, flags, ports, env; or files changed that it cannot reload).
Files are then replaced one by one inside the existing live folders (write a temp file next to the
target, rename it over): compose bind-mounts those folders, so a folder must never be swapped.
After reloads and restarts it verifies (reload gauges, health, scrape targets); on any failure it puts
the last good tree back, the same way, and brings the touched components back to it.
"""

from __future__ import annotations

import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from generator import conventions
from generator.errors import DeployError
from generator.model import Stack
from generator.pause import checkpoint
from generator.render import Target, Tree
from generator.runtimes import health, monitored
from generator.runtimes import verify as verifying
from generator.runtimes.files import FileChange, compare, folders, install
from generator.runtimes.state import ALL, State
from generator.write import Secrets, manifest, materialize

Progress = Callable[[str], None]

RELOADABLE = health.RELOADABLE


@dataclass
class Plan:
    files: list[FileChange] = field(default_factory=list)
    create: list[str] = field(default_factory=list)  # not running yet
    recreate: list[str] = field(default_factory=list)  # running, restart it on the new definition
    reload: list[str] = field(default_factory=list)  # running, re-read changed files in place
    remove: list[str] = field(default_factory=list)  # running, no longer in the spec
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.files or self.create or self.recreate or self.reload or self.remove)

    def actions(self) -> list[tuple[str, str, str]]:
        """(component, action, why) for everything the plan touches."""
        rows: list[tuple[str, str, str]] = []
        for action, names in (
            ("create", self.create),
            ("recreate", self.recreate),
            ("reload", self.reload),
            ("remove", self.remove),
        ):
            rows.extend((name, action, self.reasons.get(name, "")) for name in names)
        return rows


@dataclass
class Proc:
    """A component's process or container as its runtime sees it."""

    state: str  # running, exited, starting, fatal, ...
    up: bool
    started: float | None = None  # epoch seconds
    detail: str = ""


class Backend(ABC):
    """What a runtime must do; the engine decides when."""

    name: ClassVar[str]

    def __init__(self, state: State, stack: Stack, secrets: Secrets, out: Progress) -> None:
        self.state = state
        self.stack = stack
        self.secrets = secrets
        self.out = out

    def target(self) -> Target:
        return Target(runtime=self.name, root=str(self.state.tree))

    def skips(self) -> dict[str, str]:
        """Optional components this runtime cannot run here, and why (they are left out of the stack)."""
        return {}

    def notes(self) -> list[str]:
        """What this runtime does differently from what the spec asks, said plainly by `up`."""
        return []

    def refuse_foreign(self) -> None:  # noqa: B027 - optional hook: the local runtime's state dir is its claim
        """DeployError if where this runtime deploys the project holds what promstack did not create (a compose
        project of another application): checked first, before the checks run and long before anything starts."""

    @abstractmethod
    def preflight(self, tree: Tree) -> None:
        """Fail (DeployError) if something the stack needs is missing (may pull images)."""

    @abstractmethod
    def definitions(self, tree: Tree, staging: Path, env: dict[str, dict[str, str]], run: list[str]) -> dict[str, str]:
        """A fingerprint of how each component in `run` would run (image/binary, flags, ports, env)."""

    def owner(self, rel: str) -> tuple[int, int] | None:
        """uid/gid a file of the tree must belong to (secret files read by a container user)."""
        return None

    @abstractmethod
    def converge(self, plan: Plan) -> None:
        """Create, recreate and remove components as planned (files are already in place)."""

    @abstractmethod
    def processes(self) -> dict[str, Proc]: ...

    @abstractmethod
    def gave_up(self, name: str) -> str | None:
        """Why component `name` has stopped trying (exited, fatal), with its last log lines; None if it has not."""

    @abstractmethod
    def logs(self, component: str, lines: int = 15) -> list[str]: ...

    @abstractmethod
    def signal(self, component: str, signame: str) -> None: ...

    @abstractmethod
    def stop(self, volumes: bool) -> None: ...

    def save_good(self) -> None:  # noqa: B027 - optional hook: compose keeps everything in the tree
        """Remember the runtime's own definitions of the current, verified deployment."""

    def restore_good(self) -> None:  # noqa: B027 - optional hook, see save_good
        """Put back the runtime's own definitions saved by `save_good`."""


def resolve_env(tree: Tree, secrets: Secrets) -> dict[str, dict[str, str]]:
    return {
        component: {var: secrets.value(ref) for var, ref in sorted(variables.items())}
        for component, variables in sorted(tree.env.items())
    }


def stage(tree: Tree, state: State, secrets: Secrets, stack: Stack, runtime: str) -> Path:
    """Write the whole next tree into staging/ before anything running is touched (a missing secret stops here)."""
    staging = state.staging
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        materialize(tree, staging, secrets, salt=stack.name)
        (staging / conventions.MANIFEST).write_text(manifest(tree, stack.source.rsplit("/", 1)[-1], runtime))
    except OSError as exc:
        # a full or read-only state dir: no half-written tree stays behind, the live one is untouched
        shutil.rmtree(staging, ignore_errors=True)
        raise DeployError(
            f"cannot write the next configuration into {staging}: {exc.strerror}; "
            "nothing running was changed (free some space or choose another PROMSTACK_STATE_DIR)"
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # e.g. a missing secret: it holds resolved ones
        raise
    return staging


def kinds(stack: Stack) -> dict[str, str]:
    """The component each process or service is a copy of (`make_plan`'s `kinds`)."""
    return {name: component.name for name, (component, _) in stack.running().items()}


def decide(
    backend: Backend, tree: Tree, staged: Path, env: dict[str, dict[str, str]], deployed: dict[str, str]
) -> tuple[dict[str, str], Plan]:
    """How every process or service of the tree `staged` would run (fingerprints), and the plan from the
    live tree and `deployed` (the fingerprints as deployed) to it: what `up` applies and `diff` shows."""
    stack, state = backend.stack, backend.state
    fingerprints = backend.definitions(tree, staged, env, list(stack.running()))
    changes = compare(staged, state.tree, folders(stack, tree.files.get(conventions.COMPOSE_FILE)))
    plan = make_plan(changes, fingerprints, deployed, backend.processes(), state.pending(), kinds(stack))
    return fingerprints, plan


def make_plan(
    changes: list[FileChange],
    new: dict[str, str],
    old: dict[str, str],
    procs: dict[str, Proc],
    pending: dict[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
) -> Plan:
    """Decide per process or service (a component's copy). `new`/`old`: fingerprints of how each runs,
    now and as deployed; `pending`: what an interrupted `up` left unconfirmed, with what confirms each
    (State.pending): reloaded or recreated even when their files and fingerprints did not change since
    (they are on disk and in state.json, but maybe not what the process runs: a rollback that was cut
    short may have put its old flags back); `kinds`: the component each copy is of (a copy reads its
    component's files), where that is not its own name."""
    plan = Plan(files=changes)
    pending = pending or {}
    unconfirmed = dict.fromkeys(new, pending[ALL]) if ALL in pending else pending
    touched: dict[str, list[str]] = {}
    for change in changes:
        if change.component:
            touched.setdefault(change.component, []).append(change.path)
    for name, fingerprint in new.items():
        kind = (kinds or {}).get(name, name)
        proc = procs.get(name)
        if proc is None or not proc.up:
            plan.create.append(name)
            plan.reasons[name] = "not running" if proc is None else f"not running ({proc.state})"
        elif old.get(name) != fingerprint:
            plan.recreate.append(name)
            plan.reasons[name] = "how it runs changed (image, flags, ports or environment)"
        elif unconfirmed.get(name) == "recreate":
            plan.recreate.append(name)
            plan.reasons[name] = "an earlier `up` was interrupted before its restart was confirmed"
        elif kind in touched or name in unconfirmed:
            files = ", ".join(touched.get(kind, [])[:3]) + (" ..." if len(touched.get(kind, [])) > 3 else "")
            why = f"files changed: {files}" if files else "an earlier `up` was interrupted before it was confirmed"
            if kind in RELOADABLE:
                plan.reload.append(name)
                plan.reasons[name] = why
            else:
                plan.recreate.append(name)
                plan.reasons[name] = why.replace("files changed", "files changed that it cannot reload")
    for name in procs:
        if name not in new:
            plan.remove.append(name)
            plan.reasons[name] = "no longer in the spec"
    return plan


Verified = verifying.Verified


def verify(backend: Backend, run: list[str], skipped: dict[str, str], timeout: float) -> Verified:
    """Healthy, scraped, alerting (runtimes/verify.py); then a target whose exporter cannot reach what it
    watches is down too, with the reason (a warning: the team's Redis being down is no failure of the
    deployment)."""
    endpoints = {name: health.Endpoint.named(backend.stack, name, backend.secrets) for name in run}
    stack = backend.stack
    out, gave_up = backend.out, backend.gave_up
    verified = verifying.verify(stack, endpoints, backend.state.tree, skipped, timeout, out, gave_up, backend.target())
    if "prometheus" in endpoints:
        down = monitored.backends_down(endpoints["prometheus"], stack)
        judged = monitored.judged(verified.targets, down)
        verified.warnings += [
            f"target {t.job} {t.instance} is down: {t.error}"
            for t, before in zip(judged, verified.targets, strict=True)
            if t.health != before.health
        ]
        verified.targets = judged
    return verified


def _problem(exc: BaseException, backend: Backend, seen: dict[str, set[str]] | None = None) -> str:
    if isinstance(exc, health.Unhealthy):
        problem = f"{exc.component} is not healthy: {exc.reason}"
        if "last log lines" not in exc.reason and exc.component in backend.stack.running():
            lines = backend.logs(exc.component, 8)
            problem += "".join(["\n  its last log lines:", *(f"\n    {line}" for line in lines)]) if lines else ""
        return problem
    if isinstance(exc, health.Refused):
        # the HTTP answer is often a summary ("one or more errors occurred"); the log has the details.
        # On the local runtime supervisord copies the process's output into the log file a moment later
        old = (seen or {}).get(exc.component, set())
        return str(exc) + "".join(f"\n    {line}" for line in _error_lines(backend, exc.component, old))
    if isinstance(exc, OSError):  # e.g. a full disk while the runtime writes its own files
        where = f" {exc.filename}" if exc.filename else ""
        return f"cannot write{where}: {exc.strerror or exc}"
    return str(exc)


def _error_lines(backend: Backend, component: str, seen: set[str], wait: float = 3.0) -> list[str]:
    """The last error lines of `component`'s log that are not in `seen` (logged before the reload),
    waiting up to `wait` seconds for them to be written."""
    deadline = time.monotonic() + wait
    while True:
        lines = [line for line in backend.logs(component, 40) if "error" in line.lower() and line not in seen][-4:]
        if lines or time.monotonic() >= deadline:
            return lines
        time.sleep(0.1)


def execute(
    backend: Backend,
    plan: Plan,
    run: list[str],
    skipped: dict[str, str],
    timeout: float,
    saved: Callable[[], None],
    restore_record: Callable[[], None],
    before: set[str] | None,
) -> Verified:
    """Apply `plan` (files staged already), verify, and roll back to the last good tree on any failure.

    `before`: the components of the last good deployment, None on the first one (nothing to go back to).
    """
    state = backend.state
    # journal first: if this run dies before `verify`, the next `up` reloads or restarts these again
    state.mark_pending({**dict.fromkeys(plan.reload, "reload"), **dict.fromkeys(plan.recreate, "recreate")})
    seen: dict[str, set[str]] = {}  # component -> its log lines before its reload
    try:
        install(state.staging, state.tree, plan.files, backend.owner)
        checkpoint("installed", backend.out)
        backend.converge(plan)
        saved()
        checkpoint("converged", backend.out)
        for name in plan.reload:
            backend.out(f"  {name:<18} reloading its configuration")
            seen[name] = set(backend.logs(name, 40))
            health.reload(health.Endpoint.named(backend.stack, name, backend.secrets), backend.signal)
        checkpoint("reloaded", backend.out)
        verified = verify(backend, run, skipped, timeout)
        state.clear_pending()
    except (DeployError, health.Unhealthy, OSError) as exc:
        problem = _problem(exc, backend, seen)
        if before is None or not state.last_good.is_dir():
            raise DeployError(
                f"{problem}\nThis was the first deployment, so there is nothing to roll back to; "
                "it is left running for inspection (`promstack down` removes it)."
            ) from None
        backend.out(f"failed: {problem}")
        backend.out("rolling back to the last good configuration")
        shutil.rmtree(state.staging, ignore_errors=True)  # not needed to go back; a full disk needs its room
        try:
            rollback(backend, plan, before)
            restore_record()
            state.clear_pending()  # every touched component is back on the files of the live tree
        except (DeployError, health.Unhealthy, OSError) as again:
            raise DeployError(f"{problem}\nThe rollback failed too: {_problem(again, backend)}") from None
        raise DeployError(f"{problem}\nThe stack is back on its previous configuration; nothing was changed.") from None
    backend.save_good()
    state.save_last_good()
    return verified


def rollback(backend: Backend, plan: Plan, before: set[str], timeout: float = 90.0) -> None:
    """Put the last good files back in place, restore the touched components, reload what was reloaded."""
    state = backend.state
    compose_file = state.last_good / conventions.COMPOSE_FILE
    owners = folders(backend.stack, compose_file.read_text() if compose_file.exists() else None)
    back = compare(state.last_good, state.tree, owners)
    install(state.last_good, state.tree, back, backend.owner)
    backend.restore_good()
    # what `plan` started goes again, unless it ran before (it had stopped); what it removed comes back
    undo = Plan(
        files=back,
        recreate=[*plan.recreate, *(n for n in plan.create if n in before)],
        remove=[n for n in plan.create if n not in before],
        create=list(plan.remove),
    )
    backend.converge(undo)
    deadline = time.monotonic() + timeout
    touched = [*undo.recreate, *undo.create]
    while touched:
        procs = backend.processes()
        if all(name in procs and procs[name].up for name in touched):
            break
        if time.monotonic() > deadline:
            raise DeployError(f"{', '.join(touched)} did not come back within {timeout:g}s")
        time.sleep(0.25)
    checkpoint("rolled-back", backend.out)
    for name in plan.reload:
        health.reload(health.Endpoint.named(backend.stack, name, backend.secrets), backend.signal)
        backend.out(f"  {name:<18} back on its previous configuration")
