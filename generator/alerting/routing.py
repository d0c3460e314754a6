"""Alertmanager's route walk over a rendered route tree (the `route` of alertmanager.yml, as data).

An alert enters at the root; the first child whose matchers all hold takes it, and with `continue` the
next matching siblings too, depth first; a route whose children all miss delivers it itself. A route
inherits receiver, grouping and timers it does not set from its parent, but never its time intervals
(Alertmanager's dispatch/route.go). At a given moment a route's notifications are muted while one of
its `mute_time_intervals` holds, or while none of its `active_time_intervals` does; a muted route still
takes the alert (and stops the walk without `continue`), it just sends nothing.

amtool (`amtool config routes test`) walks the same tree but ignores time intervals: the routes/test
check cross-checks this walk against it for every test without a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from generator.alerting import timeintervals
from generator.alerting.matchers import matchers, matches_all
from generator.units import Duration

# what a route passes to its children unless they set their own
_INHERITED = ("receiver", "group_by", "group_wait", "group_interval", "repeat_interval")


@dataclass(frozen=True)
class Delivery:
    """One route that delivers an alert: where to, with which timers, and whether it is muted then."""

    receiver: str
    group_by: tuple[str, ...]
    group_wait: Duration
    group_interval: Duration
    repeat_interval: Duration
    path: tuple[int, ...]  # child indexes from the root: () is the root itself
    muted_by: tuple[str, ...] = ()  # the time intervals that mute it at the moment asked about

    @property
    def muted(self) -> bool:
        return bool(self.muted_by)


def _options(route: Mapping[str, Any], inherited: Mapping[str, Any]) -> dict[str, Any]:
    return {key: route.get(key, inherited.get(key)) for key in _INHERITED}


def _muted_by(route: Mapping[str, Any], intervals: Sequence[Mapping[str, Any]], at: datetime | None) -> list[str]:
    if at is None:
        return []
    found = timeintervals.active(intervals, route.get("mute_time_intervals") or (), at)
    active = route.get("active_time_intervals") or ()
    if active and not timeintervals.active(intervals, active, at):
        found.extend(f"outside {name}" for name in active)
    return found


def deliveries(config: Mapping[str, Any], labels: Mapping[str, str], at: datetime | None = None) -> list[Delivery]:
    """Every route of the rendered Alertmanager `config` that delivers an alert with `labels`, in the
    order Alertmanager walks them; with `at` (an aware datetime), each says whether it is muted then."""
    intervals = config.get("time_intervals") or ()

    def walk(route: Mapping[str, Any], inherited: Mapping[str, Any], path: tuple[int, ...]) -> list[Delivery]:
        options = _options(route, inherited)
        found: list[Delivery] = []
        for index, child in enumerate(route.get("routes") or ()):
            if matches_all(matchers(child.get("matchers") or ()), labels):
                found.extend(walk(child, options, (*path, index)))
                if not child.get("continue"):
                    break
        if found:
            return found
        return [
            Delivery(
                str(options["receiver"]),
                tuple(options["group_by"] or ()),
                Duration(str(options["group_wait"])),
                Duration(str(options["group_interval"])),
                Duration(str(options["repeat_interval"])),
                path,
                tuple(_muted_by(route, intervals, at)),
            )
        ]

    root = config["route"]
    return walk(root, _options(root, _ROOT_DEFAULTS), ())


# Alertmanager's own defaults for a root route that sets no timers (dispatch.DefaultRouteOpts)
_ROOT_DEFAULTS = {"group_by": (), "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h"}


def routes(route: Mapping[str, Any], path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Mapping[str, Any]]]:
    """Every route of a rendered tree with its path, depth first."""
    yield path, route
    for index, child in enumerate(route.get("routes") or ()):
        yield from routes(child, (*path, index))
