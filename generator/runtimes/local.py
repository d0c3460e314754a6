"""Runtime `local`: the rendered configs run as host processes under supervisord (PyPI `supervisor`).

supervisord gets its own config, unix socket (never a TCP port), pid file and logs in the stack's state
dir, and one program file per component in run/programs/. A program is `sh -c 'set -a; . ENVFILE; exec
BINARY FLAGS'`: the env file (0600, in run/env/) carries secret variables, so no value has to survive
supervisor's config quoting, and `exec` leaves the real binary as supervisord's child (signals reach it).
Binaries come from PATH under their upstream or Debian names (catalog `binaries`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport  # type: ignore[import-untyped]

from generator import binaries, catalog
from generator.errors import DeployError
from generator.render import Target, Tree, args
from generator.runtimes import procs
from generator.runtimes.apply import Backend, Plan, Proc

# supervisord's own variables the programs inherit: nothing from the user's shell, so no stray secret
_PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME")
_UP_STATES = frozenset({"RUNNING"})
# in supervisord's environment, so in every program's: finds this stack's processes when supervisord
# cannot be asked (its socket deleted, or it was killed and its programs run on); the value is the state dir
MARK_ENV = "PROMSTACK_SUPERVISED"
_SUPERVISORD = "supervisord"  # its key in run/pids.json (no component has that name)
_GAVE_UP = frozenset({"FATAL", "EXITED", "STOPPED", "BACKOFF"})


def _escape(text: str) -> str:
    """supervisor interpolates %(name)s in every value; a literal % is written %%."""
    return text.replace("%", "%%")


class LocalBackend(Backend):
    name = "local"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.programs: dict[str, str] = {}  # component -> program file text, for converge
        self.envs: dict[str, str] = {}  # component -> env file text
        self._target: Target | None = None

    # -- paths --------------------------------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.state.run / "supervisord.conf"

    @property
    def program_dir(self) -> Path:
        return self.state.run / "programs"

    @property
    def env_dir(self) -> Path:
        return self.state.run / "env"

    def data_dir(self, name: str) -> str | None:
        return str(self.state.data / name) if catalog.entry(name).data else None

    # -- preflight and definitions ------------------------------------------------------------------
    def binary(self, name: str) -> str | None:
        return binaries.find(name)

    def target(self) -> Target:
        # rendered for the binaries that run it: Debian's Alertmanager 0.25 reads fewer secrets from files
        if self._target is None:
            self._target = dataclasses.replace(super().target(), versions=binaries.versions(self.stack))
        return self._target

    def _missing(self) -> dict[str, str]:
        missing = {}
        for name, component in self.stack.components.items():
            if component.runs and not self.binary(name):
                entry = catalog.entry(name)
                missing[name] = (
                    f"{name} is not installed: none of {', '.join(entry.binaries) or '(no binary)'} is on PATH "
                    f"(package: {entry.package})"
                )
        return missing

    def skips(self) -> dict[str, str]:
        # what the stack works without (catalog `local.optional`) is reported plainly when missing
        return {name: why for name, why in self._missing().items() if catalog.entry(name).optional}

    def notes(self) -> list[str]:
        # host processes have no container network in between: every one listens on loopback only
        # (args.listen), so `expose: true` cannot take effect here
        exposed = [name for name, component in self.stack.components.items() if component.expose]
        if not exposed:
            return []
        return [
            "the local runtime binds every component to 127.0.0.1 whatever `expose` says; "
            f"ignored expose: true of {', '.join(exposed)} (use the compose runtime to publish them)"
        ]

    def preflight(self, tree: Tree) -> None:
        missing = [why for name, why in self._missing().items() if not catalog.entry(name).optional]
        if missing:
            raise DeployError(
                "the local runtime runs every component from a binary on PATH:\n  " + "\n  ".join(missing)
            )
        # every component listens on 127.0.0.1:<port>; this stack's own processes may hold theirs (a re-run)
        wanted = {c.port: (name, "127.0.0.1") for name, c in self.stack.components.items() if c.runs}
        mine = {(p.pid, p.start) for p in self._ours()}
        procs.refuse_taken(procs.taken(wanted, lambda p: (p.pid, p.start) in mine))

    def definitions(self, tree: Tree, staging: Path, env: dict[str, dict[str, str]], run: list[str]) -> dict[str, str]:
        target = self.target()
        self.programs, self.envs = {}, {}
        prints = {}
        for name in run:
            # preflight has refused missing binaries for `up`; `diff` shows the upstream name instead
            binary = self.binary(name) or catalog.entry(name).binaries[0]
            data = self.data_dir(name)
            flags = args.command(self.stack, name, target, data_dir=data)
            variables = {**args.environment(self.stack, name, target, data_dir=data), **env.get(name, {})}
            env_text = "".join(f"{key}={shlex.quote(value)}\n" for key, value in sorted(variables.items()))
            env_file = self.env_dir / f"{name}.env"
            script = f"set -a; . {shlex.quote(str(env_file))}; set +a; exec {shlex.join([binary, *flags])}"
            workdir = data or str(self.state.data)
            text = "\n".join(
                [
                    f"[program:{name}]",
                    f"command={_escape(shlex.join(['/bin/sh', '-c', script]))}",
                    f"directory={_escape(workdir)}",
                    "autostart=true",
                    "autorestart=true",
                    # a process that dies within 2s of starting has failed to start; after 3 tries it is FATAL
                    "startsecs=2",
                    "startretries=3",
                    "stopsignal=TERM",
                    "stopwaitsecs=30",
                    "stopasgroup=true",
                    "killasgroup=true",
                    "redirect_stderr=true",
                    f"stdout_logfile={_escape(str(self.state.logs / f'{name}.log'))}",
                    "stdout_logfile_maxbytes=10MB",
                    "stdout_logfile_backups=2",
                    "",
                ]
            )
            self.programs[name] = text
            self.envs[name] = env_text
            prints[name] = hashlib.sha256(f"{text}\0{env_text}".encode()).hexdigest()
        return prints

    # -- supervisord ---------------------------------------------------------------------------------
    def rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.state.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def alive(self) -> bool:
        if not self.state.socket_file.exists():
            return False
        self.state.link_socket()
        try:
            return bool(self.rpc().supervisor.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return False

    def _write_conf(self) -> None:
        sock = str(self.state.socket)
        text = "\n".join(
            [
                "; written by promstack: supervisord of this stack only",
                "[unix_http_server]",
                f"file={_escape(sock)}",
                "chmod=0700",
                "[supervisord]",
                # owner-only files for supervisord and its children: the logs may quote secrets (a config
                # error naming a webhook URL); daemonizing would otherwise set 022 for every program log
                "umask=077",
                f"logfile={_escape(str(self.state.logs / 'supervisord.log'))}",
                "logfile_maxbytes=10MB",
                "logfile_backups=2",
                f"pidfile={_escape(str(self.state.run / 'supervisord.pid'))}",
                f"childlogdir={_escape(str(self.state.logs))}",
                f"directory={_escape(str(self.state.root))}",
                "nodaemon=false",
                "[rpcinterface:supervisor]",
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
                "[supervisorctl]",
                f"serverurl=unix://{_escape(sock)}",
                "[include]",
                f"files={_escape(str(self.program_dir))}/*.conf",
                "",
            ]
        )
        self.conf.write_text(text)

    def _write_programs(self) -> None:
        for folder in (self.program_dir, self.env_dir):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)
        for path in self.program_dir.glob("*.conf"):
            if path.stem not in self.programs:
                path.unlink()
        for path in self.env_dir.glob("*.env"):
            if path.stem not in self.envs:
                path.unlink()
        for name, text in self.programs.items():
            _write_private(self.program_dir / f"{name}.conf", text)
            _write_private(self.env_dir / f"{name}.env", self.envs[name])
        for name in self.programs:
            Path(self.data_dir(name) or self.state.data).mkdir(parents=True, exist_ok=True)

    def _start_supervisord(self) -> None:
        self._stop_strays()  # never a second supervisord, nor second copies fighting for the ports
        self._write_conf()
        with contextlib.suppress(OSError):
            self.state.socket_file.unlink()
        self.state.link_socket()
        env = {key: os.environ[key] for key in _PASS_ENV if key in os.environ}
        env[MARK_ENV] = str(self.state.root)
        _private_logs(self.state.logs)
        result = subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
            env=env,
            umask=0o077,  # supervisord opens its own log before it daemonizes and applies umask=077
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise DeployError(f"supervisord did not start: {(result.stderr or result.stdout).strip()[-500:]}")
        deadline = time.monotonic() + 15
        while not self.alive():
            if time.monotonic() > deadline:
                raise DeployError(
                    f"supervisord did not answer on {self.state.socket} within 15s; "
                    f"see {self.state.logs / 'supervisord.log'}"
                )
            time.sleep(0.1)
        self.out(f"  supervisord        started (socket {self.state.socket})")

    def converge(self, plan: Plan) -> None:
        if self.programs:
            self._write_programs()
        if not self.alive():
            self._start_supervisord()  # starts every program at once (autostart)
            self._record_pids()
            return
        server = self.rpc().supervisor
        added, changed, removed = server.reloadConfig()[0]
        for name in removed:
            _quiet(server.stopProcessGroup, name)
            _quiet(server.removeProcessGroup, name)
        for name in changed:
            _quiet(server.stopProcessGroup, name)
            _quiet(server.removeProcessGroup, name)
            server.addProcessGroup(name)
        for name in added:
            server.addProcessGroup(name)
        restarted = set(added) | set(changed)
        for name in [*plan.create, *plan.recreate]:
            if name in restarted:
                continue
            # same definition (files changed, or it had stopped): a plain restart picks up the files
            _quiet(server.stopProcess, name)
            _quiet(server.startProcess, name, False)
        self._record_pids()

    def processes(self) -> dict[str, Proc]:
        if not self.alive():  # what a lost supervisord left running is not up: `up` starts afresh
            return {
                name: Proc("orphaned", False, process.start, f"{process}, left by a supervisord that cannot be asked")
                for process, name in self._ours().items()
                if name != _SUPERVISORD
            }
        found = {}
        for info in self.rpc().supervisor.getAllProcessInfo():
            state = str(info["statename"])
            found[str(info["name"])] = Proc(
                state.lower(), state in _UP_STATES, float(info["start"]) or None, str(info.get("description", ""))
            )
        return found

    def gave_up(self, name: str) -> str | None:
        if not self.alive():
            return "supervisord is not running"
        try:
            info = self.rpc().supervisor.getProcessInfo(name)
        except xmlrpc.client.Fault:
            return None
        state = str(info["statename"])
        if state in _GAVE_UP:
            return f"process {state.lower()} ({info.get('description', '')}); last log lines:\n" + "\n".join(
                f"    {line}" for line in self.logs(name)
            )
        return None

    def logs(self, component: str, lines: int = 15) -> list[str]:
        path = self.state.logs / f"{component}.log"
        try:
            with path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 16384))
                return handle.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return []

    def signal(self, component: str, signame: str) -> None:
        self.rpc().supervisor.signalProcess(component, signame)

    def stop(self, volumes: bool) -> None:
        if self.alive():
            with contextlib.suppress(OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
                self.rpc().supervisor.stopAllProcesses()
            with contextlib.suppress(OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
                self.rpc().supervisor.shutdown()
            supervisord = [p for p, name in self._ours().items() if name == _SUPERVISORD]
            left = procs.wait(supervisord, 45)
            if left:
                raise DeployError(f"supervisord ({left[0]}) did not stop within 45s")
        self._stop_strays()  # what a supervisord that cannot be asked left running

    # -- the stack's own processes, found without supervisord ------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.state.run / "pids.json"

    def _managed(self) -> dict[str, procs.Process]:
        """supervisord and its programs, as supervisord itself names them ({} when it cannot be asked)."""
        try:
            server = self.rpc().supervisor
            pids = {_SUPERVISORD: int(server.getPID())}
            pids.update({str(i["name"]): int(i["pid"]) for i in server.getAllProcessInfo() if i.get("pid")})
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return {}
        found = {name: procs.find(pid) for name, pid in pids.items()}
        return {name: process for name, process in found.items() if process is not None}

    def _record_pids(self) -> None:
        """Remember supervisord's and every program's pid with its start time: they find those processes,
        and prove a pid is still theirs, when supervisord can no longer be asked."""
        record = {name: [p.pid, p.start] for name, p in self._managed().items()}
        if record:
            with contextlib.suppress(OSError):
                _write_private(self.pid_file, json.dumps(record, sort_keys=True) + "\n")

    def _ours(self) -> dict[procs.Process, str]:
        """Every live process of this stack's supervisord ("supervisord") and its programs (by component):
        as supervisord names them if it answers, by the marker in their environment, by the pids recorded
        at their start (checked against their start time), and supervisord by its pid file (checked
        against its command line)."""
        found = {p: name for name, p in self._managed().items()} if self.alive() else {}
        found |= {
            p: env.get("SUPERVISOR_PROCESS_NAME", _SUPERVISORD)
            for p, env in procs.marked(MARK_ENV, str(self.state.root)).items()
        }
        try:
            recorded = json.loads(self.pid_file.read_text())
            pids = {str(name): (int(pid), int(start)) for name, (pid, start) in recorded.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            pids = {}
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.state.run / "supervisord.pid").read_text().strip())
            process = procs.find(pid)
            if process is not None and str(self.conf) in process.command:
                found.setdefault(process, _SUPERVISORD)
        for name, (pid, start) in pids.items():
            process = procs.find(pid, start)
            if process is not None:
                found.setdefault(process, name)
        return found

    def _stop_strays(self) -> None:
        """Stop what this stack's supervisord runs while it cannot be asked (its socket is gone), or what it
        left running when it was killed: first supervisord (it stops its programs), then any program left."""
        strays = self._ours()
        if not strays:
            return
        supervisord = [p for p, name in strays.items() if name == _SUPERVISORD]
        programs = sorted(((name, p) for p, name in strays.items() if name != _SUPERVISORD), key=lambda e: e[1].pid)
        why = (
            f"supervisord (pid {supervisord[0].pid}) no longer answers on {self.state.socket}"
            if supervisord
            else "supervisord is gone, but programs it started still run"
        )
        listed = ", ".join(f"{name} (pid {p.pid})" for name, p in programs) or "no programs"
        self.out(f"  supervisord        {why}: stopping it and what it started ({listed})")
        left = procs.stop(supervisord, 45) + procs.stop([p for _, p in programs], 30)
        if left:
            raise DeployError(f"could not stop {', '.join(map(str, left))}; stop it by hand, then run again")

    def save_good(self) -> None:
        self._record_pids()  # as verified: every program has settled on its pid
        _copy_dir(self.program_dir, self.state.run / "programs.good")
        _copy_dir(self.env_dir, self.state.run / "env.good")

    def restore_good(self) -> None:
        _copy_dir(self.state.run / "programs.good", self.program_dir)
        _copy_dir(self.state.run / "env.good", self.env_dir)
        self.programs, self.envs = {}, {}  # converge must not write the new definitions again


def _quiet(call: Any, *params: Any) -> None:
    """supervisor answers NOT_RUNNING / BAD_NAME faults for what is already as we want it."""
    with contextlib.suppress(xmlrpc.client.Fault):
        call(*params)


def _private_logs(folder: Path) -> None:
    """logs/ 0700 and every log in it 0600, also those an older promstack left readable to all."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o600)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        # e.g. a full disk: no half-written file stays (the rollback needs the room); named, it is rolled back
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def _copy_dir(source: Path, dest: Path) -> None:
    if not source.is_dir():
        return
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source, dest)
    dest.chmod(0o700)
