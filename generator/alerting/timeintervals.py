"""Alertmanager's time intervals: whether a `time_intervals` entry of alertmanager.yml contains a moment.

An interval holds when every field it sets holds (times: a minute of the day, start inclusive, end
exclusive; weekdays: a day or an inclusive range like monday:friday), in its `location` (UTC when it
names none); a named time interval holds when any of its entries does. Alertmanager reads the fields
promstack renders (`times`, `weekdays`, `location`) this way from 0.25 on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_TIME = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")


def minute_of_day(text: str) -> int:
    """`HH:MM` (00:00 to 24:00) as minutes since midnight; ValueError otherwise."""
    found = _TIME.match(text)
    if not found:
        raise ValueError(f"{text!r} is not a time of day as HH:MM (00:00 to 24:00)")
    hours, minutes = (int(g) for g in found.groups() if g is not None)
    return hours * 60 + minutes


def weekday_range(text: str) -> tuple[int, int]:
    """`monday` or `monday:friday` as (first, last) day numbers, Sunday 0; ValueError otherwise."""
    parts = text.lower().split(":")
    if len(parts) > 2 or any(p not in WEEKDAYS for p in parts):
        raise ValueError(f"{text!r} is not a weekday or a range of them (e.g. monday:friday)")
    first, last = WEEKDAYS.index(parts[0]), WEEKDAYS.index(parts[-1])
    if first > last:
        raise ValueError(f"{text!r} ends before it starts (weeks start on sunday)")
    return first, last


def zone(name: str | None) -> ZoneInfo | timezone:
    """The IANA time zone `name` (UTC when None); ValueError when unknown."""
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known time zone (e.g. Europe/Berlin, America/New_York)") from None


def _weekday(moment: datetime) -> int:
    return (moment.weekday() + 1) % 7  # Python counts from Monday, Alertmanager from Sunday


def entry_contains(entry: Mapping[str, Any], at: datetime) -> bool:
    """Whether one rendered entry (`{times, weekdays, location}`) contains the aware datetime `at`."""
    moment = at.astimezone(zone(entry.get("location")))
    minute = moment.hour * 60 + moment.minute
    times = entry.get("times")
    if times and not any(minute_of_day(t["start_time"]) <= minute < minute_of_day(t["end_time"]) for t in times):
        return False
    weekdays = entry.get("weekdays") or ()
    return not weekdays or any(a <= _weekday(moment) <= b for a, b in map(weekday_range, weekdays))


def active(intervals: Sequence[Mapping[str, Any]], names: Sequence[str], at: datetime) -> list[str]:
    """Which of the named intervals (rendered `time_intervals`) contain `at`."""
    by_name = {i["name"]: i.get("time_intervals") or [] for i in intervals}
    return [n for n in names if any(entry_contains(e, at) for e in by_name.get(n, ()))]
