"""Progress of a long copy (backup, restore) on standard error.

One line per step, printed when the step ends: what it did, how much it moved and how long it took. On a
terminal the step is shown while it runs too, on a line repainted in place with the bytes done, the
share of the expected total and the rate, at most five times a second, which the step's line replaces.
Where standard error is not a terminal (a log, CI) nothing else is printed: a log holds a line per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Say = Callable[[str], None]
Paint = Callable[[str], None]  # writes a line to the terminal without a newline, after a carriage return


def size(count: float) -> str:
    """Bytes in words: 512 B, 1.5 KiB, 3.2 GiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


class Progress:
    """`step` starts a step (one line), `advance` adds bytes to it, `done` ends it with what it moved."""

    def __init__(self, say: Say, paint: Paint | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say
        self.paint = paint  # None: not a terminal
        self.clock = clock
        self.label = ""
        self.expected = 0
        self.moved = 0
        self.files = 0
        self.began = 0.0
        self._painted = 0.0
        self.total_bytes = 0

    def step(self, label: str, expected: int = 0) -> None:
        self.label, self.expected, self.moved, self.files = label, expected, 0, 0
        self.began = self._painted = self.clock()
        if self.paint is not None:
            self.paint(f"  {label} ...")

    def advance(self, count: int, files: int = 0) -> None:
        self.moved += count
        self.files += files
        self.total_bytes += count
        if self.paint is None:
            return
        now = self.clock()
        if now - self._painted < 0.2:
            return
        self._painted = now
        share = f" of {size(self.expected)} ({min(100, 100 * self.moved // self.expected)}%)" if self.expected else ""
        rate = self.moved / max(now - self.began, 1e-6)
        self.paint(f"  {self.label}: {size(self.moved)}{share}, {self.files} files, {size(rate)}/s")

    def done(self, what: str = "") -> None:
        seconds = self.clock() - self.began
        if self.paint is not None:
            self.paint("")  # the step's line replaces the repainted one
        moved = f"{size(self.moved)} in {self.files} files" if self.files or self.moved else "nothing to copy"
        self.say(f"  {self.label}: {what or moved}, {seconds:.1f}s")
