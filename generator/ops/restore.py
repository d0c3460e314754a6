"""`promstack restore`: a backup's data put back into a stack that is down, for `up` to start on.

The archive is extracted into `<state>/restore/` and proven sound there (see `archive`: paths, kinds,
sizes, the manifest's hashes) before anything else is touched. Then each component's data goes where
its runtime keeps it (a folder renamed into place, or a volume; runtimes/data.py), and the generated
secrets the archive holds into `generated/`, all or nothing. `restore/` is removed however it ends.

It refuses a stack that is deployed or still runs, a state folder promstack did not create (the lock
claims it, see runtimes/ownership.py), and data already there unless `--replace`. The live config
tree in the archive is not put back: `up` renders the spec again; the archive keeps it for reference.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import catalog
from generator.errors import DeployError, SecretError, UsageError
from generator.model import SecretRef, Stack
from generator.ops import archive
from generator.ops.progress import Progress
from generator.render import Target, args, render
from generator.runtimes.choose import RUNTIMES, backend
from generator.runtimes.data import store
from generator.runtimes.lock import locked
from generator.runtimes.options import Options, project_name
from generator.runtimes.state import State
from generator.spec import load_stack
from generator.write import Secrets


@dataclass
class Restored:
    runtime: str
    project: str
    components: list[str]
    manifest: dict[str, Any]
    ignored: list[str] = field(default_factory=list)  # in the archive, not in the spec
    provide: list[str] = field(default_factory=list)  # secrets `up` will need that are not at hand
    notes: list[str] = field(default_factory=list)


def restore(spec: Path, source: Path, options: Options, replace: bool, progress: Progress) -> Restored:
    if options.runtime not in RUNTIMES:
        raise UsageError(f"--runtime must be one of {', '.join(RUNTIMES)}, not {options.runtime!r}")
    if not source.is_file():  # before the state dir is claimed: a typo creates nothing
        raise UsageError(f"{source} does not exist or is not a file")
    stack = load_stack(spec, options.env)
    project = project_name(stack, options)
    state = State.of(project)
    with locked(state, on_wait=progress.say):
        record = state.load()
        if record is not None:
            raise DeployError(
                f"stack {stack.name!r} (project {project!r}) is deployed on the {record.runtime} runtime; "
                "restore never touches a running stack: `promstack down` it first (its data is kept; "
                "restore --replace replaces it)"
            )
        state.create()
        work = state.restore_dir
        shutil.rmtree(work, ignore_errors=True)  # left by a restore that was killed: it is only ever a copy
        work.mkdir(mode=0o700)
        try:
            progress.say(f"promstack restore: {source} into stack {stack.name!r} (project {project!r})")
            progress.step(f"checking and extracting {source.name}")
            extracted = work / "archive"
            extracted.mkdir(mode=0o700)
            manifest = archive.extract(source, extracted, progress)
            progress.done()
            runtime = manifest["runtime"] if options.runtime == "auto" else options.runtime
            if runtime not in ("compose", "local"):
                raise archive.ArchiveError(f"{source}: {archive.MANIFEST} names no runtime promstack knows")
            _refuse_running(runtime, state, stack, progress)
            done = _place(manifest, extracted, runtime, state, stack, replace, progress)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    done.provide = missing_secrets(stack, spec, state)
    if manifest.get("stack") != stack.name:
        done.notes.append(f"the backup is of stack {manifest.get('stack')!r}; its data now belongs to {stack.name!r}")
    return done


def _refuse_running(runtime: str, state: State, stack: Stack, progress: Progress) -> None:
    secrets = Secrets(Path("."), placeholders=True)
    running = [n for n, p in backend(runtime, state, stack, secrets, progress.say).processes().items() if p.up]
    if running:
        raise DeployError(
            f"{', '.join(sorted(running))} of project {state.project!r} still run on the {runtime} runtime; "
            "`promstack down` the stack first"
        )


def _place(
    manifest: dict[str, Any],
    extracted: Path,
    runtime: str,
    state: State,
    stack: Stack,
    replace: bool,
    progress: Progress,
) -> Restored:
    held = sorted(manifest.get("components") or {})
    data_dir = extracted / "data"
    ours = [n for n in held if n in stack.components and stack.components[n].runs and catalog.entry(n).data]
    done = Restored(runtime, state.project, ours, manifest, ignored=[n for n in held if n not in ours])
    for name in ours:
        if not (data_dir / name).is_dir():
            raise archive.ArchiveError(f"{archive.MANIFEST} lists {name}, but the archive holds no data/{name}/")
    images = {n: stack.components[n].image for n in ours}
    data = store(runtime, state, progress.say, images)
    there = data.existing(ours)
    generated = extracted / "generated"
    kept = sorted(p.name for p in state.generated.iterdir()) if state.generated.is_dir() else []
    if not replace and (there or (generated.is_dir() and kept)):
        what = [*there, *(["the generated secrets"] if generated.is_dir() and kept else [])]
        raise DeployError(
            f"project {state.project!r} has data already ({', '.join(what)}); restore --replace replaces it "
            "with the backup's (nothing is replaced before the whole archive has been checked)"
        )
    progress.step(f"putting the data of {', '.join(ours) or 'no component'} in place ({runtime} runtime)")
    aside = extracted / "generated.old"
    if generated.is_dir():
        _swap_in(generated, state.generated, aside)
    try:
        data.place(data_dir, ours, replace)
    except BaseException:
        if generated.is_dir() or aside.exists():  # the secrets go back with the data
            shutil.rmtree(state.generated, ignore_errors=True)
            if aside.exists():
                os.rename(aside, state.generated)
        raise
    shutil.rmtree(aside, ignore_errors=True)
    progress.done("in place")
    if not generated.is_dir() and any(
        catalog.entry(n).login and args.login_password(stack.components[n]).generated for n in ours
    ):
        done.notes.append(
            "the backup holds no generated password (it was made without --include-secrets): the restored "
            "data expects the one it was created with"
        )
    return done


def _swap_in(new: Path, target: Path, aside: Path) -> None:
    """`new` becomes `target` (0700); what was there waits in `aside` until the data is in place too."""
    new.chmod(0o700)
    if target.exists():
        os.rename(target, aside)
    try:
        os.rename(new, target)
    except BaseException:
        if aside.exists():
            os.rename(aside, target)
        raise


def missing_secrets(stack: Stack, spec: Path, state: State) -> list[str]:
    """The spec's secret references `up` could not resolve now (described, never their values)."""
    secrets = Secrets(spec.absolute().parent, keep=state.generated)
    refs: dict[str, SecretRef] = {}
    tree = render(stack, Target(runtime="local", root=str(state.tree)))
    for secret in tree.secrets.values():
        refs.update({ref.describe(): ref for ref in secret.values.values()})
    for variables in tree.env.values():
        refs.update({ref.describe(): ref for ref in variables.values()})
    missing = []
    for what, ref in sorted(refs.items()):
        if ref.generated:
            kept = secrets.kept(ref)
            if kept is None or not kept.exists():
                missing.append(f"{what} (not in the backup: `up` generates a new one)")
            continue
        try:
            secrets.value(ref)
        except SecretError:
            missing.append(what)
    return missing


def summary_lines(done: Restored, spec: Path) -> list[str]:
    made = done.manifest.get("created", "?")
    lines = [
        f"restored the backup of {made} (taken on the {done.manifest.get('runtime')} runtime) into project "
        f"{done.project!r} on the {done.runtime} runtime: {', '.join(done.components) or 'no data'}"
    ]
    if done.ignored:
        lines.append(f"  not restored (not in the spec): {', '.join(done.ignored)}")
    lines += [f"  note: {note}" for note in done.notes]
    left = done.manifest.get("left_out") or []
    if left:
        lines.append(f"  the backup was made without --include-secrets; {len(left)} secret file(s) are not in it")
    if done.provide:
        lines.append("  provide these before `up` (they are not at hand now):")
        lines += [f"    {what}" for what in done.provide]
    lines.append(f"next: promstack up {spec} --runtime {done.runtime} --project-name {done.project}")
    return lines
