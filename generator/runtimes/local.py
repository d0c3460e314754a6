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
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

from generator import binaries, catalog
from generator.errors import DeployError
from generator.render import Target, Tree, args
from generator.runtimes import procs, supervisor
from generator.runtimes.apply import Backend, Plan, Proc

_UP_STATES = frozenset({"RUNNING"})
_GAVE_UP = frozenset({"FATAL", "EXITED", "STOPPED", "BACKOFF"})


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

    def skips(self) -> dict[str, str]:
        # what the stack works without (catalog `local.optional`) is reported plainly when missing
        return binaries.left_out(self.stack)

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
        missing = [why for name, why in binaries.missing(self.stack).items() if not catalog.entry(name).optional]
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
                    f"command={supervisor.escape(shlex.join(['/bin/sh', '-c', script]))}",
                    f"directory={supervisor.escape(workdir)}",
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
                    f"stdout_logfile={supervisor.escape(str(self.state.logs / f'{name}.log'))}",
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
        return supervisor.rpc(self.state)

    def alive(self) -> bool:
        if not self.state.socket_file.exists():
            return False
        self.state.link_socket()
        try:
            return bool(self.rpc().supervisor.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
            return False

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
            supervisor.write_private(self.program_dir / f"{name}.conf", text)
            supervisor.write_private(self.env_dir / f"{name}.env", self.envs[name])
        for name in self.programs:
            Path(self.data_dir(name) or self.state.data).mkdir(parents=True, exist_ok=True)

    def _start_supervisord(self) -> None:
        self._stop_strays()  # never a second supervisord, nor second copies fighting for the ports
        self.conf.write_text(supervisor.conf_text(self.state, self.program_dir))
        with contextlib.suppress(OSError):
            self.state.socket_file.unlink()
        self.state.link_socket()
        env = {key: os.environ[key] for key in supervisor.PASS_ENV if key in os.environ}
        env[supervisor.MARK_ENV] = str(self.state.root)
        supervisor.private_logs(self.state.logs)
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
            supervisor.record_pids(self.state)
            return
        server = self.rpc().supervisor
        added, changed, removed = server.reloadConfig()[0]
        for name in removed:
            supervisor.quiet(server.stopProcessGroup, name)
            supervisor.quiet(server.removeProcessGroup, name)
        for name in changed:
            supervisor.quiet(server.stopProcessGroup, name)
            supervisor.quiet(server.removeProcessGroup, name)
            server.addProcessGroup(name)
        for name in added:
            server.addProcessGroup(name)
        restarted = set(added) | set(changed)
        for name in [*plan.create, *plan.recreate]:
            if name in restarted:
                continue
            # same definition (files changed, or it had stopped): a plain restart picks up the files
            supervisor.quiet(server.stopProcess, name)
            supervisor.quiet(server.startProcess, name, False)
        supervisor.record_pids(self.state)

    def processes(self) -> dict[str, Proc]:
        if not self.alive():  # what a lost supervisord left running is not up: `up` starts afresh
            return {
                name: Proc("orphaned", False, process.start, f"{process}, left by a supervisord that cannot be asked")
                for process, name in self._ours().items()
                if name != supervisor.SUPERVISORD
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
            supervisord = [p for p, name in self._ours().items() if name == supervisor.SUPERVISORD]
            left = procs.wait(supervisord, 45)
            if left:
                raise DeployError(f"supervisord ({left[0]}) did not stop within 45s")
        self._stop_strays()  # what a supervisord that cannot be asked left running

    # -- the stack's own processes, found without supervisord ------------------------------------------
    def _ours(self) -> dict[procs.Process, str]:
        return supervisor.ours(self.state, self.conf, self.alive())

    def _stop_strays(self) -> None:
        """Stop what this stack's supervisord runs while it cannot be asked (its socket is gone), or what it
        left running when it was killed: first supervisord (it stops its programs), then any program left."""
        strays = self._ours()
        if not strays:
            return
        supervisord = [p for p, name in strays.items() if name == supervisor.SUPERVISORD]
        programs = sorted(
            ((name, p) for p, name in strays.items() if name != supervisor.SUPERVISORD), key=lambda e: e[1].pid
        )
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
        supervisor.record_pids(self.state)  # as verified: every program has settled on its pid
        supervisor.copy_dir(self.program_dir, self.state.run / "programs.good")
        supervisor.copy_dir(self.env_dir, self.state.run / "env.good")

    def restore_good(self) -> None:
        supervisor.copy_dir(self.state.run / "programs.good", self.program_dir)
        supervisor.copy_dir(self.state.run / "env.good", self.env_dir)
        self.programs, self.envs = {}, {}  # converge must not write the new definitions again
