"""Semantic checks of `notifications:`: unique receiver and time interval names, and every route and
default naming a receiver or time interval that exists; an email receiver needs `smtp`. Escalations,
copies, inhibitions, tests and time intervals: `paging_semantics`."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

from generator.errors import Problem
from generator.spec.items import duplicates, named, strings
from generator.spec.loader import Document
from generator.spec.paging_semantics import paging_problems


def _routes(routes: Any, base: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, route in named(routes):
        path = f"{base}[{index}]"
        yield path, route
        yield from _routes(route.get("routes"), f"{path}.routes")


def notification_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    receivers = data.get("receivers")
    yield from duplicates(doc, "$.notifications.receivers", receivers, "receiver name")
    yield from duplicates(doc, "$.notifications.time_intervals", data.get("time_intervals"), "time interval")
    names = {r["name"] for _, r in named(receivers) if isinstance(r.get("name"), str)}
    intervals = {t["name"] for _, t in named(data.get("time_intervals")) if isinstance(t.get("name"), str)}
    default = data.get("default_receiver")
    if isinstance(default, str) and default not in names:
        yield doc.problem("$.notifications.default_receiver", _unknown("receiver", default, names))
    for path, route in _routes(data.get("routes"), "$.notifications.routes"):
        receiver = route.get("receiver")
        if isinstance(receiver, str) and receiver not in names:
            yield doc.problem(f"{path}.receiver", _unknown("receiver", receiver, names))
        for key in ("mute_during", "active_during"):
            for i, interval in strings(route.get(key)):
                if interval not in intervals:
                    yield doc.problem(f"{path}.{key}[{i}]", _unknown("time interval", interval, intervals))
    yield from paging_problems(doc, data, _unknown)
    for index, receiver in named(receivers):
        if "email" in receiver and not isinstance(data.get("smtp"), dict):
            yield doc.problem(
                f"$.notifications.receivers[{index}].email",
                "an email receiver needs notifications.smtp: {smarthost: ..., from: ...}",
            )


def _unknown(what: str, name: str, known: set[Any]) -> str:
    options = sorted(k for k in known if isinstance(k, str))
    guess = difflib.get_close_matches(name, options, n=1)
    hint = f"did you mean '{guess[0]}'?" if guess else f"known: {', '.join(options) or 'none'}"
    return f"unknown {what} '{name}'; {hint}"
