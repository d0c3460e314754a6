"""Alertmanager's routing as promstack renders it and as the checks and the notification delay read it:
matchers evaluated the way Alertmanager does, the route tree with the page timers, the default
inhibitions and the time intervals (the `route`, `inhibit_rules` and `time_intervals` of
alertmanager.yml)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from generator import conventions
from generator.alerting.matchers import ALERTNAME, matchers
from generator.model import Route, Stack
from generator.units import Duration

NULL_RECEIVER = "null"  # delivers nowhere: where the always-firing Watchdog goes unless the spec routes it
# The Alertmanager timers of a page (a critical alert), unless its route sets its own: they are the
# last term of its worst case (rules.notification_delay). A new group waits group_wait for
# companions; an alert that joins a group that exists waits for the group's next update, up to
# group_interval. Joining is common: another target of the job is down already, or the same target
# failed less than 15 min ago (Prometheus re-sends a resolved alert every minute for 15 min, which
# keeps its group alive). With the example's 15s scrapes (10s timeout) and TargetDown evaluated
# every second, a dead target pages within 15 + 10 + 1 + 2 = 28 s either way, under the 30 s we
# promise (bench/README.md has the measurements). The price: a page's group may update every 2 s
# while an outage spreads; the receivers see one group (PagerDuty one incident), updated.
PAGE_TIMERS = {"group_wait": Duration("2s"), "group_interval": Duration("2s")}


def inhibit_rules(stack: Stack) -> list[dict[str, Any]]:
    """The default inhibitions; checks/inhibitions.py proves what they mute and what they must not."""
    rules: list[dict[str, Any]] = [
        {  # one page per problem: the critical alert mutes its own warning/info siblings on that instance
            "source_matchers": [f'{conventions.LABEL_SEVERITY}="critical"'],
            "target_matchers": [f'{conventions.LABEL_SEVERITY}=~"{"|".join(conventions.SEVERITIES[1:])}"'],
            "equal": [ALERTNAME, "instance"],
        },
        {  # a host that is down explains every other alert about it; `host=~".+"` because Alertmanager treats
            # a missing label as equal to another missing one: a host-less HostDown must not mute host-less alerts
            "source_matchers": [f'{ALERTNAME}="{conventions.ALERT_HOST_DOWN}"', f'{conventions.LABEL_HOST}=~".+"'],
            "target_matchers": [f'{ALERTNAME}!="{conventions.ALERT_HOST_DOWN}"'],
            "equal": [conventions.LABEL_HOST],
        },
    ]
    if any(service.slos for service in stack.services):
        tiers = [tier[0] for tier in conventions.SLO_TIERS]  # fastest burn first
        for index, tier in enumerate(tiers[:-1]):
            rules.append(
                {  # the faster burn already pages for this SLO; the slower windows add nothing
                    "source_matchers": [f'{ALERTNAME}="{conventions.SLO_ALERT}"', f'{conventions.LABEL_TIER}="{tier}"'],
                    "target_matchers": [
                        f'{ALERTNAME}="{conventions.SLO_ALERT}"',
                        f'{conventions.LABEL_TIER}=~"{"|".join(tiers[index + 1 :])}"',
                    ],
                    "equal": [conventions.LABEL_SERVICE, conventions.LABEL_SLO],
                }
            )
    return rules


def null_receiver(stack: Stack) -> str:
    """Name of the receiver that delivers nowhere (the spec's own `null` when it is one)."""
    for receiver in stack.notifications.receivers:
        if receiver.name == NULL_RECEIVER:
            return NULL_RECEIVER if not receiver.integrations else f"promstack-{NULL_RECEIVER}"
    return NULL_RECEIVER


def _walk(routes: Sequence[Route]) -> Iterator[Route]:
    for route in routes:
        yield route
        yield from _walk(route.routes)


def routes_watchdog(stack: Stack) -> bool:
    """Whether some route of the spec takes the Watchdog alert (then we leave it alone)."""
    return any(
        m.name == ALERTNAME and m.accepts(conventions.ALERT_WATCHDOG)
        for route in _walk(stack.notifications.routes)
        for m in matchers(route.matchers)
    )


def _pages(route: Route) -> bool:
    severity = [m for m in matchers(route.matchers) if m.name == conventions.LABEL_SEVERITY]
    return bool(severity) and all(m.accepts("critical") for m in severity)


def _takes_every_page(route: Route) -> bool:
    """Whether `route` matches every critical alert (its only matchers accept any severity="critical")."""
    found = matchers(route.matchers)
    return _pages(route) and all(m.name == conventions.LABEL_SEVERITY for m in found)


def _slower(inherited: Mapping[str, int]) -> dict[str, Duration]:
    """The PAGE_TIMERS that are faster than what a route would inherit (in ms)."""
    return {k: v for k, v in PAGE_TIMERS.items() if inherited[k] > v.ms}


def _route(route: Route, inherited: Mapping[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": route.receiver}
    if route.matchers:
        out["matchers"] = list(route.matchers)
    if route.group_by is not None:
        out["group_by"] = list(route.group_by)
    timers: dict[str, Duration | None] = {"group_wait": route.group_wait, "group_interval": route.group_interval}
    if _pages(route):  # a page must not inherit the batching delays meant for warnings
        timers = {**_slower(inherited), **{k: v for k, v in timers.items() if v}}
    for key, value in (*timers.items(), ("repeat_interval", route.repeat_interval)):
        if value:
            out[key] = value
    if route.continue_:
        out["continue"] = True
    if route.mute_during:
        out["mute_time_intervals"] = list(route.mute_during)
    if route.active_during:
        out["active_time_intervals"] = list(route.active_during)
    if route.routes:
        own = {k: v.ms if v else inherited[k] for k, v in timers.items()}
        out["routes"] = [_route(child, own) for child in route.routes]
    return out


def route_tree(stack: Stack) -> dict[str, Any]:
    n = stack.notifications
    top = {"group_wait": n.group_wait.ms, "group_interval": n.group_interval.ms}
    children: list[dict[str, Any]] = []
    if not routes_watchdog(stack):
        # first, so no user route (even with continue) pages anyone for the dead man's switch
        children.append({"receiver": null_receiver(stack), "matchers": [f'{ALERTNAME}="{conventions.ALERT_WATCHDOG}"']})
    children.extend(_route(route, top) for route in n.routes)
    faster = _slower(top)
    if faster and not any(r.continue_ for r in n.routes) and not any(_takes_every_page(r) for r in n.routes):
        # critical alerts that fall through to the default receiver still go out fast. Only without top-level
        # `continue` routes: an alert that matched one of those would otherwise be delivered here as well.
        # Not when a route before it takes every critical alert: it would never match.
        children.append(
            {"receiver": n.default_receiver, "matchers": [f'{conventions.LABEL_SEVERITY}="critical"'], **faster}
        )
    root: dict[str, Any] = {
        "receiver": n.default_receiver,
        "group_by": list(n.group_by),
        "group_wait": n.group_wait,
        "group_interval": n.group_interval,
        "repeat_interval": n.repeat_interval,
    }
    if children:
        root["routes"] = children
    return root


def time_intervals(stack: Stack) -> list[dict[str, Any]]:
    out = []
    for interval in stack.notifications.time_intervals:
        entry: dict[str, Any] = {}
        if interval.weekdays:
            entry["weekdays"] = list(interval.weekdays)
        if interval.times:
            entry["times"] = [{"start_time": start, "end_time": end} for start, end in interval.times]
        if interval.location:
            entry["location"] = interval.location
        out.append({"name": interval.name, "time_intervals": [entry]})
    return out
