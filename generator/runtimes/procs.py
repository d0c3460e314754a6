"""Stage `deploy`: this host's processes and listening TCP sockets, read from /proc (Linux).

Two uses: finding what a local stack started when its supervisord can no longer be asked (its socket is
gone, or it was killed and left its programs running), and naming who holds a port a stack wants before
anything is started. A pid is signalled only after checking that it is still the process we mean (its
start time, or the marker in its environment), and through a pidfd, so a pid reused in between is never hit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.errors import DeployError

_PROC = Path("/proc")
_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp{,6}


@dataclass(frozen=True)
class Process:
    pid: int
    start: int  # clock ticks after boot (/proc/PID/stat field 22): with the pid, one process for ever
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command[:120]})"


def _stat(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from the 3rd (state) on; the name may hold spaces


def find(pid: int, start: int | None = None) -> Process | None:
    """The live process `pid` (not a zombie); None if gone, or if `start` is given and it is another one."""
    fields = _stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    began = int(fields[19])
    if start is not None and began != start:
        return None  # the pid was reused
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return Process(pid, began, " ".join(raw.decode(errors="replace").split("\0")).strip())


def environ(pid: int) -> dict[str, str] | None:
    """The environment `pid` was started with; None where it is not ours to read."""
    try:
        raw = (_PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    pairs = (item.partition("=") for item in raw.decode(errors="replace").split("\0") if "=" in item)
    return {key: value for key, _, value in pairs}


def _pids() -> list[int]:
    return sorted(int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit())


def marked(name: str, value: str) -> dict[Process, dict[str, str]]:
    """Every live process whose environment has `name=value`, with that environment."""
    found = {}
    for pid in _pids():
        env = environ(pid)
        if env is not None and env.get(name) == value:
            process = find(pid)
            if process is not None:
                found[process] = env
    return found


def _signal(process: Process, signum: signal.Signals) -> bool:
    """Send `signum` to `process` if it is still that process; False if it is gone."""
    try:
        fd = os.pidfd_open(process.pid)
    except OSError:
        return False
    try:
        if find(process.pid, process.start) is None:  # checked after the pidfd pins the process
            return False
        signal.pidfd_send_signal(fd, signum)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def stop(processes: Iterable[Process], timeout: float = 30.0) -> list[Process]:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL what is left; returns what would not die."""
    left = wait([p for p in processes if _signal(p, signal.SIGTERM)], timeout)
    return wait([p for p in left if _signal(p, signal.SIGKILL)], 10.0)


def wait(processes: list[Process], timeout: float) -> list[Process]:
    """Wait up to `timeout` seconds for `processes` to end; returns those still running."""
    deadline = time.monotonic() + timeout
    while processes and time.monotonic() < deadline:
        time.sleep(0.1)
        processes = [p for p in processes if find(p.pid, p.start) is not None]
    return processes


@dataclass(frozen=True)
class Listener:
    port: int
    address: str  # as bound: 0.0.0.0, ::, 127.0.0.1, ...
    holder: Process | None  # None: not visible to us (another user's process, another network namespace)

    def describe(self) -> str:
        return str(self.holder) if self.holder else "another program (not visible to this user)"


def _address(hex_ip: str) -> str:
    raw = bytes.fromhex(hex_ip)
    # the kernel prints each 32-bit word in host (little-endian) order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return ".".join(str(b) for b in words)
    groups = [f"{int.from_bytes(words[i : i + 2], 'big'):x}" for i in range(0, 16, 2)]
    text = ":".join(groups)
    if text == "0:0:0:0:0:0:0:0":
        return "::"
    if text.startswith("0:0:0:0:0:ffff:"):
        return "::ffff:" + ".".join(str(b) for b in words[12:])
    return text


def listeners(ports: Iterable[int]) -> list[Listener]:
    """The TCP sockets listening on `ports` in this network namespace, each with its holder if visible."""
    wanted = set(ports)
    sockets: dict[str, tuple[int, str]] = {}  # inode -> (port, address)
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            hex_ip, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) in wanted:
                sockets[fields[9]] = (int(hex_port, 16), _address(hex_ip))
    holders = _holders(set(sockets))
    return [Listener(port, address, holders.get(inode)) for inode, (port, address) in sorted(sockets.items())]


def _holders(inodes: set[str]) -> dict[str, Process]:
    """socket inode -> the process holding it (the lowest pid, where several share it after a fork)."""
    found: dict[str, Process] = {}
    if not inodes:
        return found
    for pid in _pids():
        with contextlib.suppress(OSError):
            for fd in (_PROC / str(pid) / "fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    inode = link[8:-1] if link.startswith("socket:[") else ""
                    if inode in inodes and inode not in found:
                        process = find(pid)
                        if process is not None:
                            found[inode] = process
    return found


def overlaps(theirs: str, ours: str) -> bool:
    """Whether a socket bound to `theirs` keeps us from binding `ours` (IPv4) on the same port."""
    if theirs == "::":
        return True  # the dual-stack wildcard takes the port on every IPv4 address too
    theirs = theirs.removeprefix("::ffff:")
    if ":" in theirs:
        return False  # another IPv6 address
    return "0.0.0.0" in (theirs, ours) or theirs == ours


def taken(wanted: dict[int, tuple[str, str]], ours: Callable[[Process], bool]) -> list[str]:
    """Ports of `wanted` (port -> (component, address it binds)) that something else holds, one line each
    naming the port, the component and the holder; sockets held by a process `ours` accepts are fine."""
    problems = []
    for listener in listeners(wanted):
        component, address = wanted[listener.port]
        if not overlaps(listener.address, address) or (listener.holder is not None and ours(listener.holder)):
            continue
        line = f"port {listener.port} ({component}) is in use by {listener.describe()} on {listener.address}"
        if line not in problems:
            problems.append(line)
    return problems


def refuse_taken(problems: list[str]) -> None:
    """DeployError naming every taken port (from `taken`), before anything of the stack is started."""
    if problems:
        raise DeployError(
            "ports this stack needs are taken; nothing was started:\n  "
            + "\n  ".join(problems)
            + "\nChoose other ports in the spec (`port:` of each component), or stop what holds them."
        )
