"""Stage `build` for `notifications:`: receivers (secrets as references), routes, time intervals,
escalations, copies, the spec's own inhibitions and its route tests, with promstack's defaults."""

from __future__ import annotations

from typing import Any

from generator import conventions
from generator.alerting.matchers import spec_matchers
from generator.model import (
    Escalation,
    InhibitRule,
    Notifications,
    Receiver,
    Route,
    RouteTest,
    SecretRef,
    Smtp,
    TimeInterval,
)
from generator.spec.loader import Document
from generator.units import Duration

SECRET_KEYS = {"url", "routing_key", "api_key", "api_secret", "bot_token", "webhook_url", "secret"}
# no notifications: one receiver that delivers nowhere
NOWHERE: dict[str, Any] = {"receivers": [{"name": "null"}], "default_receiver": "null"}


def secret(value: dict[str, str] | None) -> SecretRef | None:
    return SecretRef(env=value.get("env"), file=value.get("file")) if value else None


def _duration(value: str | None) -> Duration | None:
    return Duration(value) if value is not None else None


def _route(spec: dict[str, Any]) -> Route:
    return Route(
        receiver=spec["receiver"],
        continue_=bool(spec.get("continue", False)),
        matchers=spec_matchers(spec.get("match"), spec.get("match_re")),
        group_by=tuple(spec["group_by"]) if "group_by" in spec else None,
        group_wait=_duration(spec.get("group_wait")),
        group_interval=_duration(spec.get("group_interval")),
        repeat_interval=_duration(spec.get("repeat_interval")),
        mute_during=tuple(spec.get("mute_during", ())),
        active_during=tuple(spec.get("active_during", ())),
        routes=tuple(_route(r) for r in spec.get("routes", ())),
    )


def _receiver(spec: dict[str, Any]) -> Receiver:
    integrations = {
        kind: {k: (secret(v) if k in SECRET_KEYS and isinstance(v, dict) else v) for k, v in settings.items()}
        for kind, settings in spec.items()
        if kind != "name"
    }
    return Receiver(name=spec["name"], integrations=integrations)


def _where(doc: Document | None, path: str) -> str:
    if doc is None:
        return ""
    return f"{doc.file}:{doc.where(path)[0]}"


def _test(doc: Document | None, index: int, spec: dict[str, Any]) -> RouteTest:
    receivers = spec.get("receivers")
    return RouteTest(
        labels=dict(spec["labels"]),
        receivers=tuple(receivers) if receivers is not None else None,
        source=_where(doc, f"$.notifications.tests[{index}]"),
        at=spec.get("at", ""),
        firing=tuple(dict(f) for f in spec.get("firing", ())),
        muted=spec.get("muted"),
    )


def _inhibit(doc: Document | None, index: int, spec: dict[str, Any]) -> InhibitRule:
    return InhibitRule(
        source=spec_matchers(spec.get("source"), spec.get("source_re")),
        target=spec_matchers(spec.get("target"), spec.get("target_re")),
        equal=tuple(spec["equal"]),
        where=_where(doc, f"$.notifications.inhibit[{index}]"),
    )


def _escalation(spec: dict[str, Any]) -> Escalation:
    return Escalation(
        name=spec["name"],
        after=Duration(spec["after"]),
        receivers=tuple(spec["receivers"]),
        match=dict(spec.get("match", {})),
        match_re=dict(spec.get("match_re", {})),
        repeat_interval=_duration(spec.get("repeat_interval")),
    )


def notifications(data: dict[str, Any] | None, doc: Document | None = None) -> Notifications:
    data = data or NOWHERE
    smtp = data.get("smtp")
    return Notifications(
        receivers=tuple(_receiver(r) for r in data["receivers"]),
        default_receiver=data["default_receiver"],
        routes=tuple(_route(r) for r in data.get("routes", ())),
        group_by=tuple(data.get("group_by", conventions.DEFAULT_GROUP_BY)),
        group_wait=Duration(data.get("group_wait", conventions.DEFAULT_GROUP_WAIT)),
        group_interval=Duration(data.get("group_interval", conventions.DEFAULT_GROUP_INTERVAL)),
        repeat_interval=Duration(data.get("repeat_interval", conventions.DEFAULT_REPEAT_INTERVAL)),
        time_intervals=tuple(
            TimeInterval(
                t["name"],
                tuple(t.get("weekdays", ())),
                tuple((x["start"], x["end"]) for x in t.get("times", ())),
                t.get("location"),
            )
            for t in data.get("time_intervals", ())
        ),
        smtp=Smtp(
            smtp["smarthost"],
            smtp["from"],
            smtp.get("username"),
            secret(smtp.get("password")),
            smtp.get("require_tls", True),
        )
        if smtp
        else None,
        tests=tuple(_test(doc, i, t) for i, t in enumerate(data.get("tests", ()))),
        escalations=tuple(_escalation(e) for e in data.get("escalations", ())),
        copy_to=tuple(data.get("copy_to", ())),
        inhibit=tuple(_inhibit(doc, i, r) for i, r in enumerate(data.get("inhibit", ()))),
    )
