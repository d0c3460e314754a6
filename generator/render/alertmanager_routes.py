"""Alertmanager's routing as promstack renders it (the `route`, `inhibit_rules` and `time_intervals` of
alertmanager.yml): the route tree with the page timers, the escalations' routes and the copies, the
default inhibitions and the spec's own, and the time intervals. What they mean (matchers, the route
walk, inhibition) is generator/alerting's, which the checks read too."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from generator import conventions
from generator.alerting.matchers import ALERTNAME, Matcher, matchers
from generator.model import Route, Stack
from generator.units import Duration

NULL_RECEIVER = "null"  # delivers nowhere: where the always-firing Watchdog goes unless the spec routes it
# The Alertmanager timers of a page (a critical alert), unless its route sets its own: they are the
# last term of its worst case (rules.notification_delay). A new group waits group_wait for
# companions; an alert that joins a group that exists waits for the group's next update, up to
# group_interval. Joining is common: another target of the job is down already, or the same target
# failed less than 15 min ago (Prometheus re-sends a resolved alert every minute for 15 min, which
# keeps its group alive). With the example's 10s scrapes (5s timeout), two failed scrapes to confirm a
# dead target and TargetDown evaluated every second, it pages within 10 + 10 + 5 + 1 + 1 + 2 = 29 s,
# under the 30 s we promise (generator/alerting/delay.py; bench/README.md has the measurements). The
# price: a page's group may update every 2 s while an outage spreads; the receivers see one group
# (PagerDuty one incident), updated.
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
                    "source_matchers": [
                        f'{ALERTNAME}="{conventions.SLO_ALERT}"',
                        f'{conventions.LABEL_SLO_TIER}="{tier}"',
                    ],
                    "target_matchers": [
                        f'{ALERTNAME}="{conventions.SLO_ALERT}"',
                        f'{conventions.LABEL_SLO_TIER}=~"{"|".join(tiers[index + 1 :])}"',
                    ],
                    "equal": [conventions.LABEL_SERVICE, conventions.LABEL_SLO],
                }
            )
    for rule in stack.notifications.inhibit:  # the spec's own, after the defaults (checks number them)
        rules.append(
            {"source_matchers": list(rule.source), "target_matchers": list(rule.target), "equal": list(rule.equal)}
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


def escalation_routes(stack: Stack) -> list[dict[str, Any]]:
    """One route per escalation: the copy of an alert that escalates (label escalation=<name>, see
    render/escalations.py) goes to the escalation's receivers, and only there (the alert itself went
    its own way already). Fast like a page: the escalation waited long enough."""
    found = []
    for escalation in stack.notifications.escalations:
        *first, last = escalation.receivers
        route: dict[str, Any] = {
            "receiver": last,
            "matchers": [Matcher(conventions.LABEL_ESCALATION, "=", escalation.name).text()],
            **PAGE_TIMERS,
        }
        if escalation.repeat_interval:
            route["repeat_interval"] = escalation.repeat_interval
        if first:  # every receiver in turn: all but the last let the alert go on to the next
            route["routes"] = [*({"receiver": r, "continue": True} for r in first), {"receiver": last}]
        found.append(route)
    return found


def _mirror(route: Mapping[str, Any], receiver: str) -> dict[str, Any]:
    """`route` and its children as they are (matchers, grouping, timers, time intervals, continue), every
    receiver replaced by `receiver`."""
    copied = {k: v for k, v in route.items() if k != "routes"}
    copied["receiver"] = receiver
    if route.get("routes"):
        copied["routes"] = [_mirror(child, receiver) for child in route["routes"]]
    return copied


def copy_routes(stack: Stack, main: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One route per `copy_to` receiver that mirrors the route holding every other one (`main`), so an
    alert walks it exactly as it walks the real one and reaches the copy receiver with the timers of
    each route that delivers it: a page's copy goes out as fast as the page. `continue`, so the alert
    then goes its own way. The Watchdog is never copied."""
    found = []
    for receiver in stack.notifications.copy_to:
        mirrored = _mirror(main, receiver)
        route: dict[str, Any] = {
            "receiver": receiver,
            "matchers": [Matcher(ALERTNAME, "!=", conventions.ALERT_WATCHDOG).text()],
            "continue": True,
        }
        if mirrored.get("routes"):
            route["routes"] = mirrored["routes"]
        found.append(route)
    return found


def copy_positions(stack: Stack) -> range:
    """Where route_tree puts the copy routes among the root's children."""
    first = 0 if routes_watchdog(stack) else 1
    return range(first, first + len(stack.notifications.copy_to))


def route_tree(stack: Stack) -> dict[str, Any]:
    n = stack.notifications
    top = {"group_wait": n.group_wait.ms, "group_interval": n.group_interval.ms}
    children: list[dict[str, Any]] = []
    if not routes_watchdog(stack):
        # first, so no user route (even with continue) pages anyone for the dead man's switch
        children.append({"receiver": null_receiver(stack), "matchers": [f'{ALERTNAME}="{conventions.ALERT_WATCHDOG}"']})
    # escalations before the spec's routes: an escalated copy goes only to its escalation's receivers
    routed = [*escalation_routes(stack), *(_route(route, top) for route in n.routes)]
    faster = _slower(top)
    if faster and not any(r.continue_ for r in n.routes) and not any(_takes_every_page(r) for r in n.routes):
        # critical alerts that fall through to the default receiver still go out fast. Only without top-level
        # `continue` routes: an alert that matched one of those would otherwise be delivered here as well.
        # Not when a route before it takes every critical alert: it would never match.
        routed.append(
            {"receiver": n.default_receiver, "matchers": [f'{conventions.LABEL_SEVERITY}="critical"'], **faster}
        )
    root: dict[str, Any] = {
        "receiver": n.default_receiver,
        "group_by": list(n.group_by),
        "group_wait": n.group_wait,
        "group_interval": n.group_interval,
        "repeat_interval": n.repeat_interval,
    }
    if stack.notifications.copy_to:
        # the routes under one catch-all that delivers to the default receiver itself when none of them
        # matches, as the root does: the copies (which match every alert, and go on) must not keep the
        # root from delivering, and they mirror this route, its own delivery included
        main: dict[str, Any] = {"receiver": n.default_receiver}
        if routed:
            main["routes"] = routed
        children.extend(copy_routes(stack, main))
        children.append(main)
    else:
        children.extend(routed)
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
