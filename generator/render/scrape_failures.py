"""The PromQL of the pack alerts that page on failed scrapes (`failed_scrapes:` in a rule pack:
TargetDown, HostDown, BlackboxProbeFailed).

Such an alert fires once CONFIRMING consecutive scrapes of a job failed (generator/alerting/delay.py
says why the window has the length it has): over the last `confirm_window` of the job's samples, every
one failed and there are at least CONFIRMING of them. The window depends on the job's scrape interval
and timeout, so jobs are grouped by their timing and each group gets its own branch of the expression:

    max_over_time(up[26s]) == 0 and count_over_time(up[26s]) >= 2

for a stack whose jobs all scrape every 10s with a 5s timeout. `scrape_failure_tests` proves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.alerting.delay import CONFIRMING, confirm_window
from generator.model import Stack
from generator.render import prometheus
from generator.rules_catalog import FailedScrapes
from generator.units import Duration

_JOB_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")  # job names promstack renders: no regex metacharacter to escape


@dataclass(frozen=True)
class Timing:
    """The jobs of one failed-scrape alert that share a scrape interval and timeout."""

    interval: Duration
    timeout: Duration
    jobs: tuple[str, ...]

    @property
    def window(self) -> Duration:
        return confirm_window(self.interval, self.timeout)


def timings(stack: Stack, failing: FailedScrapes) -> list[Timing]:
    """The scrape jobs `failing` watches, grouped by timing: the stack's own timing first (or, when no
    job has it, the timing most jobs share), then the others by interval."""
    pattern = re.compile(failing.jobs) if failing.jobs else None
    grouped: dict[tuple[Duration, Duration], list[str]] = {}
    for job, timing in prometheus.job_timings(stack).items():
        if pattern is None or pattern.fullmatch(job):
            grouped.setdefault(timing, []).append(job)
    own = (stack.scrape_interval, prometheus.global_timeout(stack))
    if not grouped:
        return [Timing(*own, ())]
    first = own if own in grouped else max(grouped, key=lambda t: len(grouped[t]))
    rest = sorted((t for t in grouped if t != first), key=lambda t: (t[0].ms, t[1].ms))
    return [Timing(*t, tuple(sorted(grouped[t]))) for t in (first, *rest)]


def _job_matcher(op: str, names: str) -> str:
    """job="a" for one plain name, else job=~"a|b" (or the negated forms)."""
    plain = _JOB_NAME.match(names) is not None
    if plain:
        return f'job{"=" if op == "=~" else "!="}"{names}"'
    return f'job{op}"{names}"'


def _selector(metric: str, matchers: list[str]) -> str:
    return f"{metric}{{{', '.join(matchers)}}}" if matchers else metric


def branch(selector: str, window: Duration) -> str:
    """Every sample of `selector` in the last `window` failed, and there are at least CONFIRMING."""
    return f"max_over_time({selector}[{window}]) == 0 and count_over_time({selector}[{window}]) >= {CONFIRMING}"


def expression(stack: Stack, failing: FailedScrapes) -> str:
    found = timings(stack, failing)
    for timing in found:
        bad = [job for job in timing.jobs if not _JOB_NAME.match(job)]
        if bad:
            raise ValueError(f"job names {bad} cannot be listed in a matcher as they are")
    watched = [_job_matcher("=~", failing.jobs)] if failing.jobs else []
    if len(found) == 1:
        return branch(_selector(failing.metric, watched), found[0].window)
    others = [job for timing in found[1:] for job in timing.jobs]
    # the first group: every watched job but the others, so that its branch reads like the rule itself
    selectors = [_selector(failing.metric, [*watched, _job_matcher("!~", "|".join(others))])]
    selectors += [_selector(failing.metric, [_job_matcher("=~", "|".join(t.jobs))]) for t in found[1:]]
    return "\nor\n".join(f"({branch(s, t.window)})" for s, t in zip(selectors, found, strict=True))
