"""Semantic checks of durations: those where 0 would silently mean "the default" or "never" must be
longer, and a scrape must time out before the next one starts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from generator import conventions
from generator.errors import Problem
from generator.spec.loader import Document, child_path
from generator.units import duration_ms

# durations where 0 is accepted by the tools but silently means "the default" or "never"
_POSITIVE_DURATIONS = frozenset({"scrape_interval", "scrape_timeout", "evaluation_interval", "interval", "period"})
_POSITIVE_DURATIONS |= {"threshold", "group_interval", "repeat_interval"}
_FREE_TEXT = frozenset({"labels", "external_labels", "match", "match_re", "series"})  # any key, any value


def duration_problems(doc: Document, data: Any, path: str = "$") -> Iterator[Problem]:
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        sub = child_path(path, key)
        if isinstance(value, str) and key in _POSITIVE_DURATIONS and duration_ms(value) == 0:
            yield doc.problem(sub, f"{key} must be longer than {value}")
        elif isinstance(value, (dict, list)) and key not in _FREE_TEXT:
            yield from duration_problems(doc, value, sub)
    if path == "$" and isinstance(data, dict):
        timeout, interval = data.get("scrape_timeout"), data.get("scrape_interval", conventions.DEFAULT_SCRAPE_INTERVAL)
        if isinstance(timeout, str) and isinstance(interval, str):
            timeout_ms, interval_ms = duration_ms(timeout), duration_ms(interval)
            if timeout_ms and interval_ms and timeout_ms > interval_ms:
                yield doc.problem(
                    "$.scrape_timeout",
                    f"scrape_timeout {timeout} is longer than scrape_interval {interval}; Prometheus refuses that",
                )
