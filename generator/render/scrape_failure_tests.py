"""Promtool tests of the pack alerts on failed scrapes (render/scrape_failures.py), generated per
rendered rule and per scrape timing, so that they hold under any override of `for`, severity or labels:

- one failed scrape never fires: single failures at every phase against the evaluations, a target
  that fails every other scrape, and (for an alert on some jobs only) another job failing all along;
  no sample of ALERTS is ever written for them, not even a pending one;
- a sustained failure is silent until its second failed scrape, and fires once the window holds only
  failed scrapes and `for` has passed;
- two failed scrapes then a good one fire (when the timing leaves a moment where the window holds
  exactly those two and no `for` asks for more).

The input series are sampled at the job's scrape interval and the rule is evaluated at its group's
pace (TargetDown: every second). Expected times come from simulating the evaluations, under both
range semantics (Prometheus 2.x includes a sample exactly at the window's start, 3.x does not);
a check is placed only where both agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from itertools import accumulate
from typing import Any

from generator import rules_catalog
from generator.alerting.delay import CONFIRMING
from generator.model import Stack
from generator.promql_analysis import template_labels
from generator.render._alerting import FIXTURES, Rule, TestFile, expand_labels, test_group
from generator.render.rules import resolve_pack
from generator.render.scrape_failures import Timing, timings
from generator.rules_catalog import FailedScrapes
from generator.units import Duration

UNWATCHED = "unwatched"


def _firing(values: Sequence[int], timing: Timing, every: int, for_ms: int, end: int, closed: bool) -> list[bool]:
    """Whether the alert fires at each evaluation 0, every, 2 every, ... up to `end` (ms): promtool's pace,
    with every sample visible at its own time."""
    step, window = timing.interval.ms, timing.window.ms
    bad = [0, *accumulate(int(v == 0) for v in values)]  # failed samples before each index
    out: list[bool] = []
    since: int | None = None
    for k in range(end // every + 1):
        at = k * every
        high = min(len(values) - 1, at // step)
        low = max(0, -(-(at - window) // step) if closed else (at - window) // step + 1)
        count = high - low + 1
        holds = count >= CONFIRMING and bad[high + 1] - bad[low] == count
        since = (since if since is not None else at) if holds else None
        out.append(since is not None and at - since >= for_ms)
    return out


def _both(values: Sequence[int], timing: Timing, every: int, for_ms: int, end: int) -> list[bool | None]:
    """True/False where both range semantics agree the alert fires/does not, None where they differ."""
    closed = _firing(values, timing, every, for_ms, end, True)
    opened = _firing(values, timing, every, for_ms, end, False)
    return [a if a == b else None for a, b in zip(closed, opened, strict=True)]


def _runs(values: Sequence[int]) -> str:
    """promtool's expanding notation: 1x3 is four 1s."""
    parts, index = [], 0
    while index < len(values):
        end = index
        while end + 1 < len(values) and values[end + 1] == values[index]:
            end += 1
        parts.append(f"{values[index]}x{end - index}" if end > index else str(values[index]))
        index = end + 1
    return " ".join(parts)


class _Cases:
    """The test groups of one alert for the jobs of one timing."""

    def __init__(self, stack: Stack, rule: Rule, failing: FailedScrapes, timing: Timing, every: Duration) -> None:
        self.stack, self.rule, self.failing, self.timing = stack, rule, failing, timing
        self.every = every.ms
        self.step = timing.interval.ms
        self.for_ms = Duration(rule.data.get("for", "0s")).ms
        self.lead = math.ceil(timing.window.ms / self.step) + 2  # good samples before anything fails
        self.job = timing.jobs[0]
        wanted = {label for text in rule.data["annotations"].values() for label in template_labels(text)}
        self.extra = sorted(wanted - {"job", "instance", "host"})

    def labels(self, name: str, job: str | None = None) -> dict[str, str]:
        found = {"job": job or self.job, "instance": f"{name}:9100", "host": name}
        found.update({label: f"{label}-1" for label in self.extra})
        return found

    def series(self, labels: Mapping[str, str], values: Sequence[int]) -> dict[str, str]:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        return {"series": f"{self.failing.metric}{{{inner}}}", "values": _runs(values)}

    def at(self, ms: int) -> Duration:
        return Duration.of_ms(ms) if ms else Duration("0s")

    def expected(self, labels: Mapping[str, str]) -> dict[str, Any]:
        notes = {k: expand_labels(v, labels) for k, v in self.rule.data["annotations"].items()}
        return {"exp_labels": {**labels, **self.rule.labels}, "exp_annotations": notes}

    def group(self, name: str, series: list[dict[str, str]], cases: list[dict[str, Any]]) -> dict[str, Any]:
        where = f"{self.job} every {self.timing.interval}, timeout {self.timing.timeout}"
        group = test_group(self.stack, f"{self.rule.name} [{where}]: {name}", series, cases)
        group["interval"] = self.timing.interval
        return group

    def check(self, evaluation: int, alerts: list[dict[str, Any]]) -> dict[str, Any]:
        """An alert_rule_test case at the `evaluation`-th evaluation."""
        return {"eval_time": self.at(evaluation * self.every), "alertname": self.rule.name, "exp_alerts": alerts}

    def _grid(self, ms: int) -> int:
        return -(-ms // self.every) * self.every

    def blips(self) -> dict[str, Any]:
        phases = max(2, min(6, self.every // math.gcd(self.step, self.every)))
        length = self.lead + phases + self.lead + 2
        singles = [[0 if i == self.lead + p else 1 for i in range(length)] for p in range(phases)]
        flapping = [(i - self.lead) % 2 if i >= self.lead else 1 for i in range(length)]
        series = [self.series(self.labels(f"blip-{p + 1}"), v) for p, v in enumerate(singles)]
        series.append(self.series(self.labels("flapping"), flapping))
        if self.failing.jobs and not re.fullmatch(self.failing.jobs, UNWATCHED):
            series.append(self.series(self.labels("other", UNWATCHED), [0] * length))
        end = self._grid((length - 2) * self.step)
        check = {"eval_time": self.at(end), "alertname": self.rule.name, "exp_alerts": []}
        group = self.group("one failed scrape never fires, nor does every other one", series, [check])
        # no evaluation ever saw the condition: not a single sample of ALERTS, pending or firing
        alerts = f'ALERTS{{alertname="{self.rule.name}"}}'
        span = Duration.of_ms(end + self.every)
        group["promql_expr_test"] = [
            {"expr": f"count_over_time({alerts}[{span}])", "eval_time": self.at(end), "exp_samples": []}
        ]
        return group

    def sustained(self) -> dict[str, Any]:
        labels = self.labels("down-1")
        horizon = self.lead * self.step + self.timing.window.ms + self.for_ms + 4 * max(self.every, self.step)
        values = [1] * self.lead + [0] * (horizon // self.step + 2)
        states = _both(values, self.timing, self.every, self.for_ms, horizon)
        fire = next(k for k, s in enumerate(states) if s and all(states[k:]))
        second = (self.lead + 1) * self.step  # the second failed scrape
        before = [k for k in range(fire) if states[k] is False and k * self.every < second]
        silent = before[-1] if before else max(k for k in range(fire) if states[k] is False)
        cases = [self.check(silent, []), self.check(fire, [self.expected(labels)])]
        name = "a sustained failure is silent before its second failed scrape and fires after it"
        return self.group(name, [self.series(labels, values)], cases)

    def twice(self) -> dict[str, Any] | None:
        labels = self.labels("twice-1")
        values = [1] * self.lead + [0] * CONFIRMING + [1] * (self.lead + 2)
        end = (len(values) - 1) * self.step
        states = _both(values, self.timing, self.every, self.for_ms, end)
        fire = next((k for k, s in enumerate(states) if s), None)
        if fire is None:
            return None
        case = {
            "eval_time": self.at(fire * self.every),
            "alertname": self.rule.name,
            "exp_alerts": [self.expected(labels)],
        }
        return self.group(f"{CONFIRMING} failed scrapes then a good one fire", [self.series(labels, values)], [case])


def _groups(stack: Stack, rule: Rule, failing: FailedScrapes, every: Duration) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for timing in timings(stack, failing):
        if not timing.jobs:
            continue
        cases = _Cases(stack, rule, failing, timing, every)
        groups.extend(g for g in (cases.blips(), cases.sustained(), cases.twice()) if g is not None)
    return groups


def test_files(stack: Stack, served: Mapping[str, str]) -> list[TestFile]:
    """The tests of every rendered alert on failed scrapes, in one file per evaluation pace (promtool
    evaluates a whole file at one), each against a fixture holding only those alerts."""
    index = rules_catalog.alert_index()
    paced: dict[Duration, list[tuple[Rule, FailedScrapes]]] = {}
    for pack in rules_catalog.pack_names(stack):
        rule_file, _ = resolve_pack(stack, pack, served)
        for group in rule_file.groups:
            for rule in group.rules:
                source = index.get(rule.name) if rule.alert else None
                if source is not None and source.failed_scrapes is not None:
                    paced.setdefault(group.interval or stack.evaluation_interval, []).append(
                        (rule, source.failed_scrapes)
                    )
    found = []
    for number, (every, alerts) in enumerate(sorted(paced.items(), key=lambda p: p[0].ms)):
        name = "scrapes" if number == 0 else f"scrapes-every-{every}"
        fixture = f"{FIXTURES}/{name}.yml"
        data = {"groups": [{"name": name, "rules": [dict(rule.data) for rule, _ in alerts]}]}
        groups = [g for rule, failing in alerts for g in _groups(stack, rule, failing, every)]
        found.append(TestFile(name, (fixture,), tuple(groups), {fixture: data}, every))
    return found
