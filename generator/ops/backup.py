"""`promstack backup`: a consistent copy of a running stack in one archive (format: `archive`).

Each component with data is copied the way its catalog entry says (`backup`):
- `snapshot`: asked over HTTP for a snapshot of its own (Prometheus: the TSDB snapshot of the admin API,
  hard links of its blocks plus the head written as a block), copied, then removed;
- `files`: files the component rewrites whole now and then (Alertmanager's silences and notification
  log): the backup waits until each was written after it began, so what was there before is in it;
- `freeze` (and a snapshot the component refuses, e.g. an exposed Prometheus without the admin API):
  the whole data folder, copied while the component is paused, so the copy is what a crash would have
  left, which the component recovers from on its next start.
Beside the data: the live config tree with its manifest, and, only with --include-secrets, the files
holding resolved secrets and the secrets promstack generated. The stack's lock is held throughout, so no
`up` or `down` changes the stack while it is copied.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from generator import catalog, conventions
from generator.errors import DeployError, SecretError
from generator.model import Component, Stack
from generator.ops import archive
from generator.ops.progress import Progress
from generator.pause import checkpoint
from generator.render import args
from generator.runtimes import health
from generator.runtimes.choose import backend
from generator.runtimes.data import DataStore, store
from generator.runtimes.lock import locked
from generator.runtimes.options import Options, project_name
from generator.runtimes.state import State
from generator.spec import load_stack
from generator.units import Duration
from generator.write import Secrets

FRESH_MARGIN = 10.0  # seconds beyond a component's own interval that a backup waits for a fresh file


@dataclass
class Summary:
    dest: Path
    runtime: str
    components: dict[str, dict[str, Any]]
    left_out: list[dict[str, str]] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0


def backup(spec: Path, dest: Path, options: Options, include_secrets: bool, progress: Progress) -> Summary:
    began = time.monotonic()
    stack = load_stack(spec, options.env)
    project = project_name(stack, options)
    state = State.of(project)
    if not state.check() or state.load() is None:
        raise DeployError(f"stack {stack.name!r} (project {project!r}) is not deployed here; nothing to back up")
    with locked(state, on_wait=progress.say):
        record = state.load()
        if record is None:
            raise DeployError(f"stack {stack.name!r} (project {project!r}) was taken down meanwhile")
        secrets = Secrets(spec.absolute().parent, keep=state.generated)
        runner = backend(record.runtime, state, stack, secrets, progress.say)
        running = runner.processes()
        with_data = [n for n in record.components if n in stack.components and catalog.entry(n).data]
        stopped = [n for n in with_data if not (running.get(n) and running[n].up)]
        if stopped:
            raise DeployError(
                f"{', '.join(stopped)} not running; `promstack up` first (a backup copies data from the running stack)"
            )
        images = {n: stack.components[n].image for n in with_data}
        data = store(record.runtime, state, progress.say, images)
        progress.say(f"promstack backup: stack {stack.name!r} (project {project!r}) on the {record.runtime} runtime")
        summary = Summary(dest, record.runtime, {})
        with archive.writing(dest, progress) as writer:
            for name in with_data:
                copier = _Copier(writer, data, name, progress)
                data_dir = str(state.data / name) if record.runtime == "local" else None
                flags = args.command(stack, name, runner.target(), data_dir=data_dir)
                summary.components[name] = _copy_component(copier, stack, name, secrets, flags)
            summary.left_out += _copy_config(writer, state, include_secrets, progress)
            summary.left_out += _copy_generated(writer, state, include_secrets, progress)
            checkpoint("backup-written", progress.say)  # tests: interrupted with the partial file all written
            writer.finish(
                {
                    "stack": stack.name,
                    "project": project,
                    "runtime": record.runtime,
                    "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "include_secrets": include_secrets,
                    "components": summary.components,
                    "left_out": summary.left_out,
                }
            )
    summary.bytes = dest.stat().st_size
    summary.seconds = time.monotonic() - began
    return summary


class _Copier:
    """Copies one component's entries into the archive under data/<component>/."""

    def __init__(self, writer: archive.Writer, data: DataStore, name: str, progress: Progress) -> None:
        self.writer, self.data, self.name, self.progress = writer, data, name, progress
        self.files = 0
        self.bytes = 0

    def copy(self, sub: str = "", skip: frozenset[str] = frozenset(), only: frozenset[str] | None = None) -> None:
        prefix = f"data/{self.name}"
        self.writer.add_dir(prefix, 0o755, time.time())
        for member, reader in self.data.read(self.name, sub, skip):
            if only is not None and member.name.split("/", 1)[0] not in only:
                continue
            if member.is_dir:
                self.writer.add_dir(f"{prefix}/{member.name}", member.mode, member.mtime)
            elif reader is not None:
                self.writer.add_file(f"{prefix}/{member.name}", member.size, reader, member.mode, member.mtime)
                self.files += 1
                self.bytes += member.size


def _copy_component(copier: _Copier, stack: Stack, name: str, secrets: Secrets, flags: list[str]) -> dict[str, Any]:
    """Copy one component's data as its catalog entry says; `flags`: its command line as the spec renders it."""
    how = catalog.entry(name).backup
    skip = frozenset(how.get("exclude", ()))
    snapshot = how.get("snapshot")
    if snapshot:
        method = _snapshot(copier, stack.components[name], snapshot, flags, secrets, skip)
    elif how.get("files"):
        method = _fresh_files(copier, how, flags)
    else:
        method = _frozen(copier, skip, "")
    return {"method": method, "files": copier.files, "bytes": copier.bytes, "as_of": _now()}


def _snapshot(
    copier: _Copier, component: Component, how: dict[str, Any], flags: list[str], secrets: Secrets, skip: frozenset[str]
) -> str:
    name = copier.name
    if how.get("needs") and how["needs"] not in flags:
        return _frozen(copier, skip, f"{how['needs']} is off (an exposed {name} never gets it)")
    try:
        endpoint = health.Endpoint.of(component, secrets)
    except SecretError as exc:
        raise DeployError(f"{name}'s credentials are needed to ask it for a snapshot: {exc}") from None
    copier.progress.step(f"{name}: snapshot")
    answer = health.request(endpoint, how["path"], method="POST", timeout=600)
    if not answer.ok:
        why = (answer.error or f"HTTP {answer.status}") + (f": {answer.body.strip()[:200]}" if answer.body else "")
        return _frozen(copier, skip, f"it refused a snapshot ({why}); `promstack up` turns the admin API on")
    snapshot_name = _field(json.loads(answer.body), how["name"])
    sub = f"{how['dir']}/{snapshot_name}"
    copier.progress.done(f"made {snapshot_name}")
    copier.progress.step(f"{name}: copying the snapshot")
    try:
        copier.copy(sub)
    finally:
        copier.data.remove(name, sub)  # hard links: left behind they would keep deleted blocks on disk
    copier.progress.done()
    return "snapshot"


def _field(data: Any, path: str) -> str:
    for key in path.split("."):
        data = data.get(key) if isinstance(data, dict) else None
    if not isinstance(data, str) or not data or "/" in data or data.startswith("."):
        raise DeployError(f"the snapshot answer has no usable {path}")
    return data


def _frozen(copier: _Copier, skip: frozenset[str], why: str) -> str:
    if why:
        copier.progress.say(f"  {copier.name}: copying its data paused, since {why}")
    copier.progress.step(f"{copier.name}: copying its data folder, paused")
    with copier.data.freeze(copier.name):
        copier.copy(skip=skip)
    copier.progress.done()
    return "freeze"


def _fresh_files(copier: _Copier, how: dict[str, Any], flags: list[str]) -> str:
    files = [str(f) for f in how["files"]]
    fresh = how.get("fresh") or {}
    interval = _flag_duration(flags, str(fresh.get("flag", "")), str(fresh.get("default", "15m")))
    began = time.time()
    copier.progress.step(f"{copier.name}: waiting for a fresh {', '.join(files)} (written every {interval:g}s)")
    deadline = time.monotonic() + interval + FRESH_MARGIN
    while True:
        times = [copier.data.mtime(copier.name, f) for f in files]
        if all(t is not None and t >= began for t in times):
            break
        if time.monotonic() > deadline:
            copier.progress.say(
                f"    warning: {copier.name} wrote no new {', '.join(files)} within {interval + FRESH_MARGIN:g}s; "
                "copying the last ones it wrote"
            )
            break
        time.sleep(0.5)
    copier.progress.done("written")
    copier.progress.step(f"{copier.name}: copying {', '.join(files)}")
    copier.copy(only=frozenset(files))
    copier.progress.done()
    return "files"


def _flag_duration(flags: list[str], flag: str, default: str) -> float:
    for arg in flags:
        if flag and arg.startswith(f"{flag}="):
            return float(Duration(arg.split("=", 1)[1]).seconds)
    return float(Duration(default).seconds)


def _copy_config(
    writer: archive.Writer, state: State, include_secrets: bool, progress: Progress
) -> list[dict[str, str]]:
    progress.step("config: copying the live config tree and its manifest")
    tree = state.tree
    try:
        secret_paths = set(json.loads((tree / conventions.MANIFEST).read_text()).get("secrets", []))
    except (OSError, ValueError):
        raise DeployError(
            f"{tree / conventions.MANIFEST} is missing or damaged; `promstack up` writes it again"
        ) from None
    left: list[dict[str, str]] = []
    writer.add_dir("config", 0o755, time.time())
    for where, dirs, files in os.walk(tree):
        dirs.sort()
        rel_dir = Path(where).relative_to(tree).as_posix()
        for name in [*sorted(dirs), *sorted(files)]:
            path = Path(where, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            secret = rel in secret_paths or rel.split("/", 1)[0] == conventions.SECRETS_DIR
            if path.is_symlink() or name.startswith(".promstack-tmp-"):
                continue
            if secret and not include_secrets:
                if not path.is_dir():
                    left.append({"path": f"config/{rel}", "what": "a file holding resolved secrets"})
            elif path.is_dir():
                writer.add_dir(f"config/{rel}", path.stat().st_mode, path.stat().st_mtime)
            else:
                info = path.stat()
                with path.open("rb") as handle:
                    writer.add_file(f"config/{rel}", info.st_size, handle, info.st_mode, info.st_mtime)
    progress.done()
    return left


def _copy_generated(
    writer: archive.Writer, state: State, include_secrets: bool, progress: Progress
) -> list[dict[str, str]]:
    found = sorted(p for p in state.generated.rglob("*") if p.is_file() and not p.is_symlink())
    if not found:
        return []
    rels = [p.relative_to(state.generated).as_posix() for p in found]
    if not include_secrets:
        return [{"path": f"generated/{rel}", "what": "a secret promstack generated"} for rel in rels]
    progress.step("generated: copying the secrets promstack generated")
    writer.add_dir("generated", 0o700, time.time())
    for path, rel in zip(found, rels, strict=True):
        for parent in reversed(Path(rel).parents[:-1]):
            writer.add_dir(f"generated/{parent.as_posix()}", 0o700, time.time())
        with path.open("rb") as handle:
            writer.add_file(f"generated/{rel}", path.stat().st_size, handle, 0o600, path.stat().st_mtime)
    progress.done()
    return []


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def summary_lines(summary: Summary) -> list[str]:
    from generator.ops.progress import size

    lines = [
        f"wrote {summary.dest} ({size(summary.bytes)}, mode 0600) in {summary.seconds:.1f}s from the "
        f"{summary.runtime} runtime"
    ]
    for name, what in summary.components.items():
        lines.append(f"  {name:<14} {what['method']:<9} {what['files']} files, {size(what['bytes'])}")
    if summary.left_out:
        lines.append(
            f"left out {len(summary.left_out)} secret file(s) (--include-secrets stores them); a restore names "
            "what must be provided again:"
        )
        lines += [f"  {item['path']}: {item['what']}" for item in summary.left_out]
    return lines
