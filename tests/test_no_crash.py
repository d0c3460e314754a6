"""No crashes, no hangs (issue 11, class 5): each of these gives a clear error and exit 1 or 2, never a
traceback and never a wait without end. Through the real `promstack` in a subprocess, with a timeout
(a hang fails the test instead of hanging it) and an address-space limit (a regression that reads
/dev/zero fails with MemoryError instead of eating the machine).

The full disk during converge is in test_faults.py (it needs a live stack on a small tmpfs).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_runtime_local import Deployment, base_spec, deployment_factory, free_ports, need_binaries, wait_for
from test_write import ENV, SMALL

PROMSTACK = str(Path(sys.executable).with_name("promstack"))
HANG = 30  # seconds: far more than any of these needs


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def promstack(*args: str, state: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI on a throw-away state dir; PATH holds no tool, so nothing can be started."""
    (state.parent / "no-tools").mkdir(exist_ok=True)
    environ = {
        **os.environ,
        **ENV,
        "PROMSTACK_STATE_DIR": str(state),
        "PROMSTACK_PROJECT": "pst-crash",
        "PATH": str(state.parent / "no-tools"),
        **env,
    }
    try:
        return subprocess.run(
            [PROMSTACK, *args], env=environ, capture_output=True, text=True, timeout=HANG, preexec_fn=_limited
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"promstack {' '.join(args)} still ran after {HANG}s: a wait without end")


def clean_failure(result: subprocess.CompletedProcess[str], codes: tuple[int, ...] = (1, 2)) -> str:
    assert result.returncode in codes, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return " ".join(result.stderr.split())


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(SMALL)
    return path


def own_state_dir(spec: Path, state: Path) -> Path:
    """The stack's state dir, made by promstack itself (a `down` of a stack that never ran)."""
    done = promstack("down", str(spec), "--runtime", "local", state=state)
    assert done.returncode == 0, done.stderr
    return state / "pst-crash"


# --- a malformed state.json --------------------------------------------------------------------------------
GOOD = {"runtime": "local", "project": "pst-crash", "spec": "", "components": {}, "skipped": {}, "extra": {}}
RECORDS: dict[str, str | bytes] = {
    "not-json": '{"runtime": "local",',
    "not-utf8": b"\xff\xfe{}",
    "a-list": "[]",
    "a-string": '"local"',
    "missing-keys": "{}",
    "runtime-a-number": json.dumps({**GOOD, "runtime": 1}),
    "project-a-list": json.dumps({**GOOD, "project": []}),
    "unknown-runtime": json.dumps({**GOOD, "runtime": "k8s"}),
    "components-a-list": json.dumps({**GOOD, "components": ["prometheus"]}),
    "fingerprint-a-number": json.dumps({**GOOD, "components": {"prometheus": 7}}),
}
RECORD_COMMANDS = {
    "up": ["up", "--runtime", "local"],
    "status": ["status"],
    "diff": ["diff"],
}


@pytest.mark.parametrize("command", RECORD_COMMANDS)
@pytest.mark.parametrize("record", RECORDS)
def test_a_malformed_state_json_is_a_clear_error(record: str, command: str, spec: Path, tmp_path: Path) -> None:
    root = own_state_dir(spec, tmp_path / "state")
    content = RECORDS[record]
    path = root / "state.json"
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    args = RECORD_COMMANDS[command]
    message = clean_failure(promstack(args[0], str(spec), *args[1:], state=tmp_path / "state"), (1,))
    assert f"error: {path} is damaged (" in message
    assert "`promstack down` stops whatever the stack may still run" in message


@pytest.mark.parametrize("record", RECORDS)
def test_down_takes_a_stack_down_despite_a_malformed_state_json(record: str, spec: Path, tmp_path: Path) -> None:
    root = own_state_dir(spec, tmp_path / "state")
    content = RECORDS[record]
    path = root / "state.json"
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    result = promstack("down", str(spec), state=tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"warning: {path} is damaged (" in result.stderr
    assert not path.exists()


# --- PROMSTACK_LOCK_TIMEOUT --------------------------------------------------------------------------------
@contextlib.contextmanager
def held_lock(root: Path) -> Iterator[None]:
    """The lock as a running `up` holds it: a bad timeout must not turn into waiting for it for ever."""
    with (root / "lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield


BAD_SECONDS = ["nan", "inf", "-inf", "1e999", "-1", "soon", "0x10", "86401"]
# every wait the user sets: the lock wait of up and down, and how long up waits for health
WAITS = ["PROMSTACK_LOCK_TIMEOUT up", "PROMSTACK_LOCK_TIMEOUT down", "up --timeout"]


@pytest.mark.parametrize("wait", WAITS)
@pytest.mark.parametrize("value", BAD_SECONDS)
def test_a_bad_wait_is_refused(value: str, wait: str, spec: Path, tmp_path: Path) -> None:
    """nan (every comparison false) or inf would make a wait without end; garbage must not mean a default.
    The lock is held meanwhile, as a running `up` would: a wait that were accepted would show as a hang."""
    name, command = wait.split(" ", 1)
    if name == "PROMSTACK_LOCK_TIMEOUT":
        with held_lock(own_state_dir(spec, tmp_path / "state")):
            result = promstack(command, str(spec), "--runtime", "local", state=tmp_path / "state", **{name: value})
    else:  # refused before the lock is even asked for: no state dir is made
        result = promstack("up", str(spec), "--runtime", "local", "--timeout", value, state=tmp_path / "state")
        assert not (tmp_path / "state").exists()
    message = clean_failure(result, (2,))
    if name == "PROMSTACK_LOCK_TIMEOUT":
        assert f"error: PROMSTACK_LOCK_TIMEOUT={value!r} is not a number of seconds from 0 to 86400" in message
    elif value == "soon" or value == "0x10":  # not a number at all: the command line parser says so
        assert "Invalid value for '--timeout'" in message
    else:
        assert "error: --timeout=" in message and "is not a number of seconds from 0 to 86400" in message


def test_a_good_lock_timeout_still_waits_that_long(spec: Path, tmp_path: Path) -> None:
    root = own_state_dir(spec, tmp_path / "state")
    with held_lock(root):
        began = time.monotonic()
        result = promstack(
            "down", str(spec), "--runtime", "local", state=tmp_path / "state", PROMSTACK_LOCK_TIMEOUT="1.5"
        )
    assert 1.5 <= time.monotonic() - began < HANG
    assert "waited 1.5s for it" in clean_failure(result, (1,))


# --- files that are not regular files: as a {file: PATH} secret, and as the spec ----------------------------
def fifo(folder: Path) -> Path:
    path = folder / "a-fifo"
    os.mkfifo(path)  # nobody writes to it: opening it to read would block for ever
    return path


def huge(folder: Path) -> Path:
    path = folder / "huge"
    with path.open("wb") as handle:
        handle.truncate(3_000_000)  # sparse: 3 MB that take no room
    return path


def a_folder(folder: Path) -> Path:
    path = folder / "a-folder"
    path.mkdir()
    return path


KINDS: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    # name: (make it, what a secret file says, what the spec says)
    "fifo": (fifo, "is a FIFO (named pipe), not a regular file", "the spec is a FIFO (named pipe), not a regular file"),
    "dev-zero": (lambda _: Path("/dev/zero"), "is a character device, not a regular file", "is a character device"),
    "dev-urandom": (lambda _: Path("/dev/urandom"), "is a character device", "is a character device"),
    "directory": (a_folder, "cannot be read: Is a directory", "cannot read the spec: Is a directory"),
    "huge": (huge, "is larger than 64 KiB", "the spec is larger than 2000000 bytes"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_secret_file_that_is_no_regular_file_is_refused(kind: str, spec: Path, tmp_path: Path) -> None:
    make, expected, _ = KINDS[kind]
    path = make(tmp_path)
    spec.write_text(SMALL.replace("{env: SMTP_PASSWORD}", f"{{file: {json.dumps(str(path))}}}"))
    out = tmp_path / "out"
    message = clean_failure(promstack("generate", str(spec), "-o", str(out), state=tmp_path / "state"), (1,))
    assert f"error: secret file {path} {expected}" in message
    assert not out.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_spec_path_that_is_no_regular_file_is_refused(kind: str, tmp_path: Path) -> None:
    make, _, expected = KINDS[kind]
    path = make(tmp_path)
    for args in (["check", str(path)], ["generate", str(path), "-o", str(tmp_path / "out")], ["status", str(path)]):
        message = clean_failure(promstack(*args, state=tmp_path / "state"), (2,))
        assert message.startswith(f"{path}:1:1: $: ") and expected in message, message
    assert not (tmp_path / "out").exists()


def test_a_regular_secret_file_of_the_limit_is_fine(spec: Path, tmp_path: Path) -> None:
    secret = tmp_path / "smtp.txt"
    secret.write_text("p" * (64 * 1024 - 1) + "\n")
    spec.write_text(SMALL.replace("{env: SMTP_PASSWORD}", "{file: smtp.txt}"))
    result = promstack("generate", str(spec), "-o", str(tmp_path / "out"), state=tmp_path / "state")
    assert result.returncode == 0, result.stderr


# --- staging/ never survives a failed `up` ------------------------------------------------------------------
@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def broken_node_exporter(folder: Path) -> str:
    """A PATH where node-exporter crashes at start: a fake, because a real binary that fails to start on
    purpose cannot be had. Every other tool is the real one."""
    folder.mkdir()
    for name in ("promtool", "amtool", "prometheus", "prometheus-alertmanager"):
        found = subprocess.run(["which", name], capture_output=True, text=True, check=False).stdout.strip()
        assert found, name
        (folder / name).symlink_to(found)
    fake = folder / "prometheus-node-exporter"
    fake.write_text("#!/bin/sh\necho 'node-exporter stand-in: cannot start' >&2\nexit 1\n")
    fake.chmod(0o755)
    return str(folder)


def up_fails(stack: Deployment) -> str:
    """`up` without --debug (which adds tracebacks on purpose), expected to fail cleanly: its stderr."""
    return clean_failure(stack.run("up", str(stack.spec), "--runtime", "local", "--timeout", "120"), (1,))


def failed_check(stack: Deployment, tmp_path: Path, spec: dict[str, Any], write_spec: Callable[..., Path]) -> None:
    """A stale staging/ left by an `up` that was killed, then an `up` whose route test fails."""
    assert stack.run("down", str(stack.spec), "--runtime", "local").returncode == 0
    stale = stack.root / "staging" / "secrets" / "alertmanager"
    stale.mkdir(parents=True)
    (stale / "password").write_text("stale-secret\n")
    hook = {"webhook": {"url": {"env": "HOOK_URL"}}}
    spec["notifications"] = {
        "receivers": [{"name": "team", **hook}, {"name": "pager", **hook}],
        "default_receiver": "team",
        "routes": [{"match": {"severity": "critical"}, "receiver": "pager"}],
        "tests": [{"labels": {"severity": "critical"}, "receivers": ["team"]}],  # wrong: critical pages
    }
    write_spec(spec)
    assert "routes/test" in up_fails(stack)


def failed_first_converge(stack: Deployment, tmp_path: Path, spec: dict[str, Any], _: Callable[..., Path]) -> None:
    stack.extra_env["PATH"] = broken_node_exporter(tmp_path / "bin")
    assert "nothing to roll back to" in up_fails(stack)


def rolled_back(stack: Deployment, tmp_path: Path, spec: dict[str, Any], _: Callable[..., Path]) -> None:
    stack.up()
    stack.extra_env["PATH"] = broken_node_exporter(tmp_path / "bin")  # node-exporter is recreated, and crashes
    assert "back on its previous configuration" in up_fails(stack)


def interrupted(
    stack: Deployment, tmp_path: Path, spec: dict[str, Any], _: Callable[..., Path], signum: int = signal.SIGINT
) -> None:
    """Ctrl-C (or SIGTERM) once `up` has staged the next tree (it is starting the stack, or waiting for health)."""
    run = subprocess.Popen(
        [PROMSTACK, "up", str(stack.spec), "--runtime", "local", "--timeout", "120"],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for("staging/ to be written", lambda: (stack.root / "staging" / ".promstack.json").exists(), 120, 0.01)
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode in (1, 128 + signum), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr


FAILURES = {
    "failed-check": failed_check,
    "failed-converge": failed_first_converge,
    "rollback": rolled_back,
    "interrupt": interrupted,
    # a `timeout`, a service manager or a closed terminal: no Python clean-up at all, until it was handled
    "terminate": lambda *args: interrupted(*args, signum=signal.SIGTERM),
}


@pytest.mark.live
@pytest.mark.parametrize("failure", FAILURES)
def test_staging_never_survives_a_failed_up(
    failure: str,
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    tmp_path: Path,
    deployments: Callable[..., Deployment],
) -> None:
    """staging/ holds the resolved secrets of the next tree: gone however `up` ends."""
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    spec = base_spec(ports, "nocrash")
    stack = deployments(write_spec(spec), "local", ports)
    FAILURES[failure](stack, tmp_path, spec, write_spec)
    stack.extra_env.pop("PATH", None)  # teardown (`down --volumes`) with the real tools
    assert not (stack.root / "staging").exists()
