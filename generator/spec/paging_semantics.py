"""Semantic checks of the paging parts of `notifications:`: escalations, copies, the spec's own
inhibitions, route tests (with a time, or alerts firing beside them) and time intervals, whose values
promstack's route model reads (generator/alerting), so they are checked here rather than left to amtool."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from generator import conventions
from generator.alerting import timeintervals
from generator.errors import Problem
from generator.spec.items import duplicates, named, strings
from generator.spec.loader import Document
from generator.units import duration_ms

NULL = "null"  # tests may name the receiver that delivers nowhere (where the Watchdog goes)


def _regexes(doc: Document, path: str, matchers: Any) -> Iterator[Problem]:
    if not isinstance(matchers, dict):
        return
    for label, value in matchers.items():
        if isinstance(value, str):
            try:
                re.compile(value)
            except re.error as exc:
                yield doc.problem(f"{path}.{label}", f"{value!r} is not a valid regular expression: {exc}")


def _receivers(
    doc: Document, path: str, items: Any, names: set[str], unknown: Any, also: frozenset[str] = frozenset()
) -> Iterator[Problem]:
    for i, receiver in strings(items):
        if receiver not in names | also:
            yield doc.problem(f"{path}[{i}]", unknown("receiver", receiver, names))


def _escalations(doc: Document, data: dict[str, Any], names: set[str], unknown: Any) -> Iterator[Problem]:
    base = "$.notifications.escalations"
    yield from duplicates(doc, base, data.get("escalations"), "escalation name")
    for index, escalation in named(data.get("escalations")):
        path = f"{base}[{index}]"
        yield from _receivers(doc, f"{path}.receivers", escalation.get("receivers"), names, unknown)
        after = escalation.get("after")
        if isinstance(after, str) and duration_ms(after) == 0:
            yield doc.problem(
                f"{path}.after", "an escalation waits some time before it escalates: give a duration above 0s"
            )
        yield from _regexes(doc, f"{path}.match_re", escalation.get("match_re"))
        for key in ("match", "match_re"):
            if isinstance(escalation.get(key), dict) and conventions.LABEL_ESCALATION in escalation[key]:
                yield doc.problem(
                    f"{path}.{key}.{conventions.LABEL_ESCALATION}",
                    "an escalation matches the alerts themselves, never another escalation's copies",
                    key=True,
                )


def _inhibitions(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    for index, rule in named(data.get("inhibit")):
        path = f"$.notifications.inhibit[{index}]"
        for side, example in (("source", "{alertname: DatabaseDown}"), ("target", "{service: api}")):
            given = [rule.get(side), rule.get(f"{side}_re")]
            if not any(isinstance(m, dict) and m for m in given):
                what = "the alerts that mute others" if side == "source" else "the alerts it mutes"
                yield doc.problem(
                    path, f"an inhibition needs `{side}` (or `{side}_re`): {what}, e.g. {side}: {example}"
                )
            yield from _regexes(doc, f"{path}.{side}_re", rule.get(f"{side}_re"))


def _tests(doc: Document, data: dict[str, Any], names: set[str], unknown: Any) -> Iterator[Problem]:
    for index, test in named(data.get("tests")):
        path = f"$.notifications.tests[{index}]"
        receivers = test.get("receivers")
        yield from _receivers(doc, f"{path}.receivers", receivers, names, unknown, frozenset({NULL}))
        if "muted" in test and "firing" not in test:
            yield doc.problem(f"{path}.muted", "`muted` needs `firing`: the alerts that would mute this one")
        if receivers is None and "muted" not in test:
            yield doc.problem(
                path, "a test says who gets the alert (`receivers`) or, with `firing`, whether it is `muted`"
            )
        if receivers == [] and "at" not in test and "firing" not in test:
            yield doc.problem(
                f"{path}.receivers",
                "every alert reaches some receiver; an empty list needs `at` (a time when its routes are muted) or "
                "`firing` (alerts that mute it)",
            )


def _time_intervals(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    for index, interval in named(data.get("time_intervals")):
        path = f"$.notifications.time_intervals[{index}]"
        for i, day in strings(interval.get("weekdays")):
            try:
                timeintervals.weekday_range(day)
            except ValueError as exc:
                yield doc.problem(f"{path}.weekdays[{i}]", str(exc))
        for i, span in named(interval.get("times")):
            minutes = []
            for key in ("start", "end"):
                if isinstance(span.get(key), str):
                    try:
                        minutes.append(timeintervals.minute_of_day(span[key]))
                    except ValueError as exc:
                        yield doc.problem(f"{path}.times[{i}].{key}", str(exc))
            if len(minutes) == 2 and minutes[0] >= minutes[1]:
                yield doc.problem(
                    f"{path}.times[{i}]", "a time range must end after it starts (split one that spans midnight in two)"
                )
        location = interval.get("location")
        if isinstance(location, str):
            try:
                timeintervals.zone(location)
            except ValueError as exc:
                yield doc.problem(f"{path}.location", str(exc))


def paging_problems(doc: Document, data: dict[str, Any], unknown: Any) -> Iterator[Problem]:
    """`unknown(what, name, known)`: the message for a name that is not defined (with a did-you-mean)."""
    names = {r["name"] for _, r in named(data.get("receivers")) if isinstance(r.get("name"), str)}
    yield from _receivers(doc, "$.notifications.copy_to", data.get("copy_to"), names, unknown)
    yield from _escalations(doc, data, names, unknown)
    yield from _inhibitions(doc, data)
    yield from _tests(doc, data, names, unknown)
    yield from _time_intervals(doc, data)
