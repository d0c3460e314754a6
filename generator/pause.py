"""Tests only: stop at a named step and wait there until killed, so that a test can interrupt promstack at
an exact point. `PROMSTACK_TEST_PAUSE_AT=<step>` names the step: `generate` has moved-in (the user's entries
are in the new tree, not yet swapped in) and swapped (the new tree is in place, the old one not yet
removed); `up` has installed, converged, reloaded and rolled-back (see runtimes/apply.py); `backup` has
backup-written. Never set it otherwise: nothing else reads it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

PAUSE_ENV = "PROMSTACK_TEST_PAUSE_AT"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def checkpoint(step: str, out: Callable[[str], None] = _stderr) -> None:
    """Does nothing unless PAUSE_ENV names `step`: then says so (through `out`) and waits for ever."""
    if os.environ.get(PAUSE_ENV) != step:
        return
    out(f"  paused at {step} ({PAUSE_ENV} is set: a test is about to interrupt this run)")
    while True:
        time.sleep(3600)
