"""The per-stack lock (`<state>/lock`, `fcntl.flock`ed) that serializes `up` and `down` of one stack."""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import time
from collections.abc import Callable, Iterator

from generator.errors import DeployError, UsageError
from generator.runtimes.state import State

LOCK_TIMEOUT_ENV = "PROMSTACK_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 120.0
MAX_WAIT = 86400.0  # a day; anything longer is a wait without end to whoever is watching


def seconds(raw: str | float, name: str, why: str) -> float:
    """`raw` as a number of seconds from 0 to a day, for every wait the user sets (`up --timeout`,
    $PROMSTACK_LOCK_TIMEOUT); UsageError naming `name` else: nan or inf would make a wait without end, and
    garbage must not quietly mean a default."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_WAIT:  # false for nan too
        shown = repr(raw) if isinstance(raw, str) else f"{raw:g}"
        raise UsageError(f"{name}={shown} is not a number of seconds from 0 to {MAX_WAIT:g} ({why})")
    return value


def lock_timeout() -> float:
    """Seconds a second up/down waits for the lock: $PROMSTACK_LOCK_TIMEOUT (see `seconds`)."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    return seconds(raw, LOCK_TIMEOUT_ENV, "how long a second up/down waits for the first")


@contextlib.contextmanager
def locked(state: State, timeout: float | None = None, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the stack's lock: a second up/down waits up to `timeout` seconds, then refuses plainly."""
    limit = lock_timeout() if timeout is None else timeout
    state.claim()  # a folder that is not ours gets no lock file either
    try:
        fd = os.open(state.lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise DeployError(f"cannot use the state directory {state.root}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + limit
        said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(state)
                    raise DeployError(
                        f"another promstack up/down is running on stack {state.project!r}{holder}; waited "
                        f"{limit:g}s for it (lock {state.lock_file}) and gave up. Try again when it has finished."
                    ) from None
                if on_wait is not None and not said:
                    said = True
                    on_wait(
                        f"waiting for another promstack up/down on stack {state.project!r} to finish "
                        f"(at most {limit:g}s)"
                    )
                time.sleep(0.1)
        with contextlib.suppress(OSError):  # the holder's pid is only a hint in messages (a full disk)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _holder(state: State) -> str:
    try:
        pid = state.lock_file.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
