"""How long a failing scrape target takes to page someone, and the window that confirms it failed.

A target is down for the alerts on `up` (and on `probe_success`) once CONFIRMING consecutive scrapes
failed; one failed scrape (a blip: a restart, a dropped connection) never pages. The rules read the
last `confirm_window` of samples: every sample in it failed, and there are at least CONFIRMING of
them. Any window gives the first guarantee, since the samples a window holds are consecutive scrapes.
Its length is the shortest that keeps a sustained outage firing without gaps: while a scrape hangs
until its timeout, the newest sample Prometheus has is up to one interval plus the timeout old, so the
CONFIRMING newest span CONFIRMING intervals plus the timeout; JITTER covers a scrape that starts or
lands a little late. Once the last good sample has left the window, the alert holds.

So from the moment a target fails, the worst case is: the failure just missed a scrape (one interval),
CONFIRMING - 1 more intervals for the confirming scrapes, the timeout, JITTER, one evaluation of the
rule, its `for`, and Alertmanager's group timer. A refused connection fails its scrape at once, but the
window is the same, so it pages no sooner in the worst case.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from generator.units import Duration

CONFIRMING = 2  # consecutive failed scrapes before a target counts as down
JITTER = Duration("1s")


def confirm_window(interval: Duration, timeout: Duration) -> Duration:
    """The range the failed-scrape rules read, for a job scraped every `interval` with `timeout`."""
    return Duration.of_ms(CONFIRMING * interval.ms + timeout.ms + JITTER.ms)


@dataclass(frozen=True)
class Delay:
    """Worst-case seconds, timer by timer, from a scrape target failing to Alertmanager handing the
    notification of an alert on failed scrapes (TargetDown, HostDown) to its receiver."""

    scrape: Decimal  # the failure just missed a scrape: a whole scrape interval until the next one
    confirm: Decimal  # the confirming scrapes, one interval each (CONFIRMING - 1 of them)
    timeout: Decimal  # the window waits for a scrape that hangs until its timeout
    jitter: Decimal  # JITTER: a scrape that starts or lands a little late
    evaluation: Decimal  # the window is full just after an evaluation of the alert's group: a whole interval
    hold: Decimal  # `for`, rounded up to whole evaluations (0 for TargetDown)
    group_wait: Decimal  # a new Alertmanager group waits this long before its first notification
    # an alert that joins a group that exists waits for its next update; the group of a target that
    # failed in the last 15 min exists (render/alertmanager_routes.py PAGE_TIMERS says why)
    group_interval: Decimal

    @property
    def worst(self) -> Decimal:
        """Prometheus sends a firing alert right after the evaluation that fired it and a single
        Alertmanager notifies as soon as its group timer expires: neither adds a timer of its own,
        only milliseconds, plus whatever the receiver's own HTTP call takes."""
        grouping = max(self.group_wait, self.group_interval)
        return self.scrape + self.confirm + self.timeout + self.jitter + self.evaluation + self.hold + grouping

    def terms(self) -> str:
        """The sum in words, as README and bench print it."""
        return (
            f"scrape {self.scrape}s + confirming scrape {self.confirm}s + timeout {self.timeout}s + jitter "
            f"{self.jitter}s + evaluation {self.evaluation}s + for {self.hold}s + Alertmanager "
            f"{max(self.group_wait, self.group_interval)}s = {self.worst}s"
        )
