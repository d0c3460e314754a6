"""Stage `deploy`: the per-stack state directory every runtime works in (its lock: runtimes/lock.py).

Layout of `<state>/` (default `~/.local/state/promstack/<project>/`, or `$PROMSTACK_STATE_DIR/<project>`):

    tree/        the live rendered tree; containers bind-mount its folders, so it is only ever updated
                 file by file in place, never replaced as a directory
    last-good/   a copy of `tree/` as of the last `up` that ended healthy: what a failed change rolls back to
    staging/     the next tree, fully written (secrets resolved) before anything running is touched
    data/        local runtime: one data directory per component (compose uses named volumes)
    generated/   secrets promstack made up (Grafana's admin password when the spec names none), 0600 in
                 0700 folders; kept by `down` like the data that depends on them, removed by `--volumes`
    logs/        local runtime: supervisord's and every program's log
    run/         local runtime: supervisord config, pid files (supervisord.pid, pids.json) and its unix
                 socket supervisor.sock, always here: never in /tmp, where systemd-tmpfiles and tmpreaper
                 delete old files and a lost socket would leave supervisord unreachable. A state dir too
                 deep for AF_UNIX (108 bytes) reaches run/ through a short symlink in a private folder:
                 $XDG_RUNTIME_DIR/promstack/, else /run/promstack/ for root, else /tmp/promstack-UID/
                 (0700, checked); it holds only the link, made again before every use (`link_socket`)
    lock         `fcntl.flock`ed by `up` and `down`
    state.json   what was deployed: runtime, project, spec, and a fingerprint per component
    pending.json the journal of an `up` under way: the components whose new files or definitions were
                 put in place but not yet confirmed running, each with what confirms it (`reload`, or
                 `recreate` where how it runs changed). Written before the live tree is touched, removed
                 once verified or rolled back; an `up` that was killed or interrupted (or whose rollback
                 failed) leaves it, and the next `up` reloads or recreates those components even when the
                 live tree and state.json already equal the spec (the processes may still run the old
                 files, or the old flags a rollback put back)
    restore/     `promstack restore` only: the archive extracted and checked, before it is moved into place;
                 removed when the restore ends, however it ends
    restore.json compose only: the volumes a restore is writing; left only by a restore that was killed,
                 and then `up` refuses to start on them (see runtimes/data_compose.py)
    .promstack-state  the marker, written when promstack creates the folder: the proof that it is ours
                 (a folder there without it is refused by every command, see `ownership`)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator import userfile
from generator.errors import DeployError
from generator.runtimes import ownership

STATE_ENV = "PROMSTACK_STATE_DIR"
RECORD_RUNTIMES = ("compose", "local")
_RECORD_MAX = 1 << 20
# AF_UNIX paths are limited to 108 bytes on Linux; deeper state dirs reach their socket by a short link
_SOCKET_MAX = 100
# what State.pending answers when the journal cannot be read: every component counts as unconfirmed
ALL = "*"
# what confirms a component an interrupted `up` left: the stronger one wins when journals meet
ACTIONS = ("reload", "recreate")


def _short_folders() -> list[Path]:
    """Private folders with short paths for the link to a deep run/, best first: the user's runtime dir
    (made for sockets, owner-only), /run for root (both tmpfs: empty after a reboot, like supervisord)."""
    folders = []
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime.startswith("/"):
        folders.append(Path(runtime) / "promstack")
    if os.geteuid() == 0:
        folders.append(Path("/run/promstack"))
    return [*folders, Path(tempfile.gettempdir()) / f"promstack-{os.geteuid()}"]


def base_dir() -> Path:
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit).expanduser().absolute()
    xdg = os.environ.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "promstack"


@dataclass(frozen=True)
class State:
    """Paths of one stack's state directory (nothing is created until `create()`)."""

    root: Path
    project: str

    @staticmethod
    def of(project: str) -> State:
        return State(base_dir() / project, project)

    @property
    def tree(self) -> Path:
        return self.root / "tree"

    @property
    def last_good(self) -> Path:
        return self.root / "last-good"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def generated(self) -> Path:
        return self.root / "generated"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def record_file(self) -> Path:
        return self.root / "state.json"

    @property
    def pending_file(self) -> Path:
        return self.root / "pending.json"

    @property
    def restore_dir(self) -> Path:
        return self.root / "restore"

    @property
    def restore_journal(self) -> Path:
        return self.root / "restore.json"

    @property
    def socket_file(self) -> Path:
        """supervisord's unix socket (never a TCP port): always in run/ (see the layout above)."""
        return self.run / "supervisor.sock"

    @property
    def socket(self) -> Path:
        """The path supervisord binds and promstack connects to: `socket_file`, or where that is too long
        for AF_UNIX, the same file through a short symlink to run/ (`link_socket` makes it)."""
        if len(str(self.socket_file)) <= _SOCKET_MAX:
            return self.socket_file
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        candidates = [folder / digest / self.socket_file.name for folder in _short_folders()]
        return next((c for c in candidates if len(str(c)) <= _SOCKET_MAX), candidates[-1])

    def link_socket(self) -> None:
        """Make `socket` reach `socket_file` (nothing to do unless run/ is too deep): the link is made
        again before every use, so a cleaner that removed it costs nothing; the socket stays in run/."""
        link = self.socket.parent
        if link == self.run:
            return
        folder = link.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(folder)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
                raise DeployError(
                    f"{folder} (where a short path to supervisord's socket goes) must be a folder of this user "
                    "only (mode 0700); remove it, or choose a shorter PROMSTACK_STATE_DIR"
                )
            with contextlib.suppress(OSError):
                if os.readlink(link) == str(self.run):
                    return
            tmp = folder / f".{link.name}.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            os.symlink(self.run, tmp)
            os.replace(tmp, link)
        except OSError as exc:
            raise DeployError(f"cannot make {link}, the short path to {self.run}: {exc.strerror}") from None

    def check(self) -> bool:
        """Whether the state dir exists; DeployError if the folder there is not promstack's. Writes nothing."""
        return ownership.verdict(self.root, self.project, self._hint) != "missing"

    def claim(self) -> None:
        """Before `up` or `down` writes anything, the lock included: create the state dir with its marker, or
        adopt one (see `ownership`); refuse a foreign folder, or a symlink where promstack writes."""
        found = ownership.verdict(self.root, self.project, self._hint)
        if found == "adopt":
            ownership.refuse_symlinks(self.root)  # before the marker: a refused folder is left as it was
        try:
            if found != "ours":
                self.root.mkdir(parents=True, exist_ok=True)
                ownership.write_marker(self.root, self.project)
        except OSError as exc:
            # e.g. a parent of the state dir is a file, or it is read-only: say which folder, not a traceback
            raise DeployError(f"cannot use the state directory {self.root}: {exc.strerror} ({self._hint})") from None
        ownership.refuse_symlinks(self.root)

    @property
    def _hint(self) -> str:
        return f"set {STATE_ENV} to a writable folder of your own, or choose another --project-name"

    @contextlib.contextmanager
    def staging_removed(self) -> Iterator[None]:
        """staging/ holds resolved secrets: none left by an earlier run that died, none after this one
        however it ends (success, failed check or converge, rollback, KeyboardInterrupt)."""
        shutil.rmtree(self.staging, ignore_errors=True)
        try:
            yield
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)

    def create(self) -> None:
        try:
            for path in (self.root, self.tree, self.data, self.logs, self.run):
                path.mkdir(parents=True, exist_ok=True)
            # the tree holds resolved secrets (in 0700 folders) and logs may quote configs: owner only
            self.root.chmod(0o700)
        except OSError as exc:
            raise DeployError(f"cannot create the state directory {self.root}: {exc.strerror}") from None

    def exists(self) -> bool:
        return self.record_file.exists()

    def load(self) -> Record | None:
        """What state.json says is deployed (None: nothing); DeployError, never a crash, if it is damaged."""
        try:
            raw = userfile.read(self.record_file, _RECORD_MAX)
            if len(raw) > _RECORD_MAX:
                raise ValueError(f"it is larger than {_RECORD_MAX} bytes")
            return Record.parse(json.loads(raw))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, userfile.NotRegular) as exc:
            why = exc.kind if isinstance(exc, userfile.NotRegular) else getattr(exc, "strerror", None) or str(exc)
            raise DeployError(
                f"{self.record_file} is damaged ({why}). `promstack down` stops whatever the stack may still run "
                "and removes it; then `promstack up` deploys again."
            ) from None

    def save(self, record: Record) -> None:
        text = json.dumps(record.as_dict(), indent=2, sort_keys=True) + "\n"
        tmp = self.record_file.with_name(f".{self.record_file.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, self.record_file)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise DeployError(f"cannot write {self.record_file}: {exc.strerror}") from None

    def pending(self) -> dict[str, str]:
        """Components an interrupted `up` left unconfirmed, with what confirms each (`ACTIONS`); {ALL:
        "recreate"} if the journal cannot be read: trust nothing that runs."""
        try:
            data = json.loads(self.pending_file.read_text())["components"]
            if isinstance(data, list):  # the journal of an earlier promstack: names only, all reloaded
                return {str(name): "reload" for name in data}
            return {str(name): action if action in ACTIONS else "recreate" for name, action in data.items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {ALL: "recreate"}

    def mark_pending(self, actions: dict[str, str]) -> None:
        """Journal `actions` (component -> reload or recreate), merged with what is pending already, before
        their files or definitions change."""
        merged = dict(self.pending())
        for name, action in actions.items():
            if ACTIONS.index(action) >= ACTIONS.index(merged.get(name, "reload")):
                merged[name] = action
        if not merged:
            return
        tmp = self.pending_file.with_name(f".{self.pending_file.name}.tmp")
        try:
            tmp.write_text(json.dumps({"components": dict(sorted(merged.items()))}) + "\n")
            os.replace(tmp, self.pending_file)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            why = exc.strerror or str(exc)
            raise DeployError(f"cannot write {self.pending_file}: {why}; nothing running was changed") from None

    def clear_pending(self) -> None:
        self.pending_file.unlink(missing_ok=True)

    def forget(self, keep_data: bool) -> None:
        """After `down`: drop the runtime state; keep data/ unless asked (and the lock, which we hold)."""
        for path in (self.tree, self.last_good, self.staging, self.run):
            shutil.rmtree(path, ignore_errors=True)
        self.record_file.unlink(missing_ok=True)
        self.clear_pending()
        if not keep_data:
            shutil.rmtree(self.data, ignore_errors=True)
            shutil.rmtree(self.generated, ignore_errors=True)
            shutil.rmtree(self.logs, ignore_errors=True)  # component logs may quote secrets they were given
            self.restore_journal.unlink(missing_ok=True)  # the volumes it names are gone with the others
        if self.socket != self.socket_file:
            with contextlib.suppress(OSError):
                self.socket.parent.unlink()  # the short link to run/

    def save_last_good(self) -> None:
        """Copy the live tree to last-good/ (not mounted anywhere, so a whole-directory swap is fine)."""
        fresh = self.root / ".last-good.new"
        shutil.rmtree(fresh, ignore_errors=True)
        try:
            shutil.copytree(self.tree, fresh, symlinks=True)
        except OSError as exc:
            shutil.rmtree(fresh, ignore_errors=True)
            why = exc.strerror or str(exc)  # copytree gathers per-file errors into one shutil.Error
            raise DeployError(
                f"the stack runs, but its configuration could not be saved as the last good one ({why}); "
                f"the previous one in {self.last_good} stays what a failed change rolls back to"
            ) from None
        old = self.root / ".last-good.old"
        shutil.rmtree(old, ignore_errors=True)
        if self.last_good.exists():
            os.rename(self.last_good, old)
        os.rename(fresh, self.last_good)
        shutil.rmtree(old, ignore_errors=True)


@dataclass
class Record:
    """state.json: what the last successful `up` deployed."""

    runtime: str
    project: str
    spec: str
    components: dict[str, str] = field(default_factory=dict)  # component -> fingerprint of its definition
    skipped: dict[str, str] = field(default_factory=dict)  # component -> why it does not run here
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def parse(data: Any) -> Record:
        """The record in state.json's data; ValueError saying what is wrong with it."""
        if not isinstance(data, dict):
            raise ValueError(f"it holds {_json_kind(data)}, not an object")
        for key in ("runtime", "project"):
            if key not in data:
                raise ValueError(f'"{key}" is missing')
        for key in ("runtime", "project", "spec"):
            if not isinstance(data.get(key, ""), str):
                raise ValueError(f'"{key}" is {_json_kind(data[key])}, not a string')
        if data["runtime"] not in RECORD_RUNTIMES:
            raise ValueError(f'"runtime" is {data["runtime"]!r}, not one of {", ".join(RECORD_RUNTIMES)}')
        for key in ("components", "skipped", "extra"):
            value = data.get(key, {})
            if not isinstance(value, dict):
                raise ValueError(f'"{key}" is {_json_kind(value)}, not an object')
            if key != "extra" and not all(isinstance(v, str) for v in value.values()):
                raise ValueError(f'"{key}" must map names to strings')
        return Record(
            runtime=data["runtime"],
            project=data["project"],
            spec=data.get("spec", ""),
            components=dict(data.get("components", {})),
            skipped=dict(data.get("skipped", {})),
            extra=dict(data.get("extra", {})),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "runtime": self.runtime,
            "project": self.project,
            "spec": self.spec,
            "components": self.components,
            "skipped": self.skipped,
            "extra": self.extra,
        }


def _json_kind(value: Any) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)
