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

import difflib
import os
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import yaml

from generator import conventions
from generator.errors import DeployError
from generator.model import Stack
from generator.render import Target, Tree
from generator.runtimes import health
from generator.runtimes.state import State
from generator.write import Secrets, manifest, materialize

Progress = Callable[[str], None]

RELOADABLE = health.RELOADABLE


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the tree
    kind: str  # added | changed | removed
    component: str | None  # the component that reads it, if any
    secret: bool = False  # holds resolved secrets: never shown, owner-only


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
    staging.mkdir(parents=True)
    materialize(tree, staging, secrets, salt=stack.name)
    (staging / conventions.MANIFEST).write_text(manifest(tree, stack.source.rsplit("/", 1)[-1], runtime))
    return staging


def _files(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        return {}
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel != conventions.MANIFEST and not path.name.startswith(".promstack-tmp-"):
            found[rel] = path
    return found


def folders(stack: Stack, compose_text: str | None) -> dict[str, str]:
    """Top-level tree folder -> the component reading it (by name, spec key, or compose bind mount)."""
    owners = {name: name for name in stack.components}
    owners.update({key: name for key, name in conventions.EXPORTERS.items() if name in stack.components})
    services = (yaml.safe_load(compose_text) or {}).get("services", {}) if compose_text else {}
    for service, spec in services.items():
        for volume in (spec or {}).get("volumes", []) or []:
            source = volume.get("source", "") if isinstance(volume, dict) else str(volume).split(":", 1)[0]
            if source.startswith("./"):
                owners.setdefault(source[2:].split("/", 1)[0], service)
    return owners


def compare(new: Path, live: Path, owners: dict[str, str]) -> list[FileChange]:
    """Every file that differs between two trees, with the component that reads it."""
    ours, theirs = _files(new), _files(live)
    changes = []
    for rel in sorted(set(ours) | set(theirs)):
        if rel not in theirs:
            kind = "added"
        elif rel not in ours:
            kind = "removed"
        elif ours[rel].read_bytes() != theirs[rel].read_bytes():
            kind = "changed"
        else:
            continue
        parts = rel.split("/")
        head = parts[1] if parts[0] == conventions.SECRETS_DIR and len(parts) > 2 else parts[0]
        secret = parts[0] == conventions.SECRETS_DIR or any(
            _private(tree[rel]) for tree in (ours, theirs) if rel in tree
        )
        changes.append(FileChange(rel, kind, owners.get(head), secret))
    return changes


def _private(path: Path) -> bool:
    """The writer gives every file made from secrets (also e.g. an alertmanager.yml with an inlined URL) 0600."""
    return path.stat().st_mode & 0o077 == 0


def install(
    source: Path,
    live: Path,
    changes: Iterable[FileChange],
    owner: Callable[[str], tuple[int, int] | None] = lambda rel: None,
) -> None:
    """Apply `changes` from `source` into `live` in place: per file, temp file + rename in the same folder."""
    live.mkdir(parents=True, exist_ok=True)
    for change in changes:
        target = live / change.path
        if change.kind == "removed":
            target.unlink(missing_ok=True)
            continue
        ids = owner(change.path) if change.secret else None
        _ensure_dirs(live, change.path, ids)
        origin = source / change.path
        fd, tmp = tempfile.mkstemp(prefix=".promstack-tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(origin.read_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, origin.stat().st_mode & 0o777)  # 0600 for secrets, as the writer made them
            if ids is not None:
                os.chown(tmp, *ids)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    manifest_file = source / conventions.MANIFEST
    if manifest_file.exists():
        shutil.copyfile(manifest_file, live / conventions.MANIFEST)


def _ensure_dirs(live: Path, rel: str, owner: tuple[int, int] | None) -> None:
    folder = (live / rel).parent
    missing = []
    while folder != live and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    private = Path(rel).parts[0] == conventions.SECRETS_DIR
    for path in reversed(missing):
        path.mkdir()
        path.chmod(0o700 if private else 0o755)
    if private and owner is not None:
        # secrets/<component>/ is what a container mounts: its user must be able to open it
        mounted = live.joinpath(*Path(rel).parts[:2])
        if mounted.is_dir():
            os.chown(mounted, *owner)


def unified(new: Path, live: Path, changes: Iterable[FileChange]) -> list[str]:
    """A unified diff of the non-secret files; secret files are only named, never shown."""
    lines: list[str] = []
    for change in changes:
        if change.secret:
            lines.append(f"secret {change.path}: {change.kind} (content not shown)")
            continue
        before = (live / change.path).read_text().splitlines(keepends=True) if change.kind != "added" else []
        after = (new / change.path).read_text().splitlines(keepends=True) if change.kind != "removed" else []
        old_name = f"live/{change.path}" if change.kind != "added" else "/dev/null"
        new_name = f"new/{change.path}" if change.kind != "removed" else "/dev/null"
        for line in difflib.unified_diff(before, after, old_name, new_name):
            lines.append(line.rstrip("\n"))
    return lines


def make_plan(changes: list[FileChange], new: dict[str, str], old: dict[str, str], procs: dict[str, Proc]) -> Plan:
    """Decide per component. `new`/`old`: fingerprints of how each component runs, now and as deployed."""
    plan = Plan(files=changes)
    touched: dict[str, list[str]] = {}
    for change in changes:
        if change.component:
            touched.setdefault(change.component, []).append(change.path)
    for name, fingerprint in new.items():
        proc = procs.get(name)
        if proc is None or not proc.up:
            plan.create.append(name)
            plan.reasons[name] = "not running" if proc is None else f"not running ({proc.state})"
        elif old.get(name) != fingerprint:
            plan.recreate.append(name)
            plan.reasons[name] = "how it runs changed (image, flags, ports or environment)"
        elif name in touched:
            files = ", ".join(touched[name][:3]) + (" ..." if len(touched[name]) > 3 else "")
            if name in RELOADABLE:
                plan.reload.append(name)
                plan.reasons[name] = f"files changed: {files}"
            else:
                plan.recreate.append(name)
                plan.reasons[name] = f"files changed that it cannot reload: {files}"
    for name in procs:
        if name not in new:
            plan.remove.append(name)
            plan.reasons[name] = "no longer in the spec"
    return plan


Verified = health.Verified


def verify(backend: Backend, run: list[str], skipped: dict[str, str], timeout: float) -> Verified:
    endpoints = {name: health.Endpoint.of(backend.stack.components[name], backend.secrets) for name in run}
    return health.verify(backend.stack, endpoints, backend.state.tree, skipped, timeout, backend.out, backend.gave_up)


def _problem(exc: BaseException, backend: Backend) -> str:
    if isinstance(exc, health.Unhealthy):
        problem = f"{exc.component} is not healthy: {exc.reason}"
        if "last log lines" not in exc.reason and exc.component in backend.stack.components:
            lines = backend.logs(exc.component, 8)
            problem += "".join(["\n  its last log lines:", *(f"\n    {line}" for line in lines)]) if lines else ""
        return problem
    if isinstance(exc, health.Refused):
        # the HTTP answer is often a summary ("one or more errors occurred"); the log has the details
        lines = [line for line in backend.logs(exc.component, 40) if "error" in line.lower()][-4:]
        return str(exc) + "".join(f"\n    {line}" for line in lines)
    return str(exc)


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
    try:
        install(state.staging, state.tree, plan.files, backend.owner)
        backend.converge(plan)
        saved()
        for name in plan.reload:
            backend.out(f"  {name:<18} reloading its configuration")
            health.reload(health.Endpoint.of(backend.stack.components[name], backend.secrets), backend.signal)
        verified = verify(backend, run, skipped, timeout)
    except (DeployError, health.Unhealthy) as exc:
        problem = _problem(exc, backend)
        if before is None or not state.last_good.is_dir():
            raise DeployError(
                f"{problem}\nThis was the first deployment, so there is nothing to roll back to; "
                "it is left running for inspection (`promstack down` removes it)."
            ) from None
        backend.out(f"failed: {problem}")
        backend.out("rolling back to the last good configuration")
        try:
            rollback(backend, plan, before)
            restore_record()
        except (DeployError, health.Unhealthy) as again:
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
    for name in plan.reload:
        health.reload(health.Endpoint.of(backend.stack.components[name], backend.secrets), backend.signal)
        backend.out(f"  {name:<18} back on its previous configuration")
