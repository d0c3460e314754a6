"""supervisord for the local runtime: its config, how to reach it, and how to find what it started when it
cannot be asked (its socket deleted, or it was killed and its programs run on); private file helpers."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import xmlrpc.client
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport  # type: ignore[import-untyped]

from generator.runtimes import procs
from generator.runtimes.state import State

# supervisord's own variables the programs inherit: nothing from the user's shell, so no stray secret
PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME")
# in supervisord's environment, so in every program's: finds this stack's processes when supervisord
# cannot be asked; the value is the state dir
MARK_ENV = "PROMSTACK_SUPERVISED"
SUPERVISORD = "supervisord"  # its key in run/pids.json (no component has that name)


def escape(text: str) -> str:
    """supervisor interpolates %(name)s in every value; a literal % is written %%."""
    return text.replace("%", "%%")


def rpc(state: State) -> Any:
    transport = SupervisorTransport(None, None, f"unix://{state.socket}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def conf_text(state: State, program_dir: Path) -> str:
    sock = str(state.socket)
    return "\n".join(
        [
            "; written by promstack: supervisord of this stack only",
            "[unix_http_server]",
            f"file={escape(sock)}",
            "chmod=0700",
            "[supervisord]",
            # owner-only files for supervisord and its children: the logs may quote secrets (a config
            # error naming a webhook URL); daemonizing would otherwise set 022 for every program log
            "umask=077",
            f"logfile={escape(str(state.logs / 'supervisord.log'))}",
            "logfile_maxbytes=10MB",
            "logfile_backups=2",
            f"pidfile={escape(str(state.run / 'supervisord.pid'))}",
            f"childlogdir={escape(str(state.logs))}",
            f"directory={escape(str(state.root))}",
            "nodaemon=false",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "[supervisorctl]",
            f"serverurl=unix://{escape(sock)}",
            "[include]",
            f"files={escape(str(program_dir))}/*.conf",
            "",
        ]
    )


def pid_file(state: State) -> Path:
    return state.run / "pids.json"


def managed(state: State) -> dict[str, procs.Process]:
    """supervisord and its programs, as supervisord itself names them ({} when it cannot be asked)."""
    try:
        server = rpc(state).supervisor
        pids = {SUPERVISORD: int(server.getPID())}
        pids.update({str(i["name"]): int(i["pid"]) for i in server.getAllProcessInfo() if i.get("pid")})
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
        return {}
    found = {name: procs.find(pid) for name, pid in pids.items()}
    return {name: process for name, process in found.items() if process is not None}


def record_pids(state: State) -> None:
    """Remember supervisord's and every program's pid with its start time: they find those processes,
    and prove a pid is still theirs, when supervisord can no longer be asked."""
    record = {name: [p.pid, p.start] for name, p in managed(state).items()}
    if record:
        with contextlib.suppress(OSError):
            write_private(pid_file(state), json.dumps(record, sort_keys=True) + "\n")


def ours(state: State, conf: Path, alive: bool) -> dict[procs.Process, str]:
    """Every live process of this stack's supervisord ("supervisord") and its programs (by component):
    as supervisord names them if it answers (`alive`), by the marker in their environment, by the pids
    recorded at their start (checked against their start time), and supervisord by its pid file (checked
    against its command line, which names `conf`)."""
    found = {p: name for name, p in managed(state).items()} if alive else {}
    found |= {
        p: env.get("SUPERVISOR_PROCESS_NAME", SUPERVISORD) for p, env in procs.marked(MARK_ENV, str(state.root)).items()
    }
    try:
        recorded = json.loads(pid_file(state).read_text())
        pids = {str(name): (int(pid), int(start)) for name, (pid, start) in recorded.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        pids = {}
    with contextlib.suppress(OSError, ValueError):
        pid = int((state.run / "supervisord.pid").read_text().strip())
        process = procs.find(pid)
        if process is not None and str(conf) in process.command:
            found.setdefault(process, SUPERVISORD)
    for name, (pid, start) in pids.items():
        process = procs.find(pid, start)
        if process is not None:
            found.setdefault(process, name)
    return found


def quiet(call: Any, *params: Any) -> None:
    """supervisor answers NOT_RUNNING / BAD_NAME faults for what is already as we want it."""
    with contextlib.suppress(xmlrpc.client.Fault):
        call(*params)


def private_logs(folder: Path) -> None:
    """logs/ 0700 and every log in it 0600, also those an older promstack left readable to all."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for path in folder.iterdir():
        if path.is_file() and not path.is_symlink():
            path.chmod(0o600)


def write_private(path: Path, text: str) -> None:
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


def copy_dir(source: Path, dest: Path) -> None:
    if not source.is_dir():
        return
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source, dest)
    dest.chmod(0o700)
