"""Stage `build` output, the notifications part (`notifications:`): receivers, routes, time intervals,
escalations, inhibitions and route tests. `generator.model` re-exports every class; defaults live in build."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generator.units import Duration

if TYPE_CHECKING:
    from generator.model import SecretRef


@dataclass(frozen=True)
class Receiver:
    name: str
    # integration kind (email, slack, ...) -> its settings; secret settings are SecretRef values
    integrations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    receiver: str
    continue_: bool
    matchers: tuple[str, ...] = ()  # Alertmanager matcher strings: severity="critical"
    group_by: tuple[str, ...] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_during: tuple[str, ...] = ()
    active_during: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class TimeInterval:
    name: str
    weekdays: tuple[str, ...] = ()
    times: tuple[tuple[str, str], ...] = ()
    location: str | None = None


@dataclass(frozen=True)
class Smtp:
    smarthost: str
    from_: str
    username: str | None
    password: SecretRef | None
    require_tls: bool


@dataclass(frozen=True)
class RouteTest:
    """`notifications.tests[]`: an alert, and who gets it (`receivers`) or whether it is `muted`;
    `at`: at that moment (RFC 3339 text: the time intervals apply); `firing`: while these alerts fire."""

    labels: Mapping[str, str]
    receivers: tuple[str, ...] | None  # None: the test only says whether it is muted
    source: str = ""  # file:line of the spec entry
    at: str = ""
    firing: tuple[Mapping[str, str], ...] = ()
    muted: bool | None = None


@dataclass(frozen=True)
class Escalation:
    """`notifications.escalations[]`: an alert matching `matchers` that still fires `after` this long also
    goes to `receivers`, as a copy carrying the label escalation=<name>."""

    name: str
    after: Duration
    receivers: tuple[str, ...]
    match: Mapping[str, str] = field(default_factory=dict)  # label -> value
    match_re: Mapping[str, str] = field(default_factory=dict)  # label -> anchored regex
    repeat_interval: Duration | None = None


@dataclass(frozen=True)
class InhibitRule:
    """`notifications.inhibit[]`: while an alert matching `source` fires, alerts matching `target` with the
    same `equal` labels are muted. Matchers are Alertmanager matcher texts."""

    source: tuple[str, ...]
    target: tuple[str, ...]
    equal: tuple[str, ...]
    where: str = ""  # file:line of the spec entry


@dataclass(frozen=True)
class Notifications:
    receivers: tuple[Receiver, ...]
    default_receiver: str
    group_by: tuple[str, ...]
    group_wait: Duration
    group_interval: Duration
    repeat_interval: Duration
    routes: tuple[Route, ...] = ()
    time_intervals: tuple[TimeInterval, ...] = ()
    smtp: Smtp | None = None
    tests: tuple[RouteTest, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    copy_to: tuple[str, ...] = ()  # receivers that get a copy of every notification
    inhibit: tuple[InhibitRule, ...] = ()  # the spec's own, beside the default ones
