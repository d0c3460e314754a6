"""Check `routes/inhibit`: our own proof of the rendered inhibit rules (amtool does not evaluate them).

Two proofs on the inhibit_rules of the written alertmanager.yml:
1. no rule can mute its own source: for some label, the values its source matchers allow are all rejected by
   its target matchers (or the other way round), so no alert is both a source and a target;
2. synthetic alerts, evaluated with Alertmanager's inhibition semantics (equal labels, a missing label equal to
   an empty one, an alert matching both sides never muted by one that does too), show that the default
   inhibitions mute what they should (warning under critical, everything on a down host, slower SLO tiers)
   and nothing else (other instances and hosts, criticals under warnings, the Watchdog, the sources).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from generator import conventions
from generator.alerting.inhibition import Labels, Rule, can_mute_itself, load_rules, muting_rule
from generator.alerting.matchers import ALERTNAME
from generator.checks import CheckContext, CheckProblem, errors

NAME = "routes/inhibit"


def self_muting(rules: Sequence[Rule]) -> list[str]:
    return [
        f"{rule} can mute its own source: an alert can match both its source and its target matchers. "
        'Make them exclusive on some label (e.g. severity="critical" against severity=~"warning|info").'
        for rule in rules
        if can_mute_itself(rule)
    ]


@dataclass(frozen=True)
class Case:
    why: str
    firing: tuple[Labels, ...]
    target: Labels
    muted: bool


def _alert(name: str, severity: str, **labels: str) -> dict[str, str]:
    return {ALERTNAME: name, conventions.LABEL_SEVERITY: severity, **labels}


def cases(has_slos: bool) -> list[Case]:
    """What the default inhibitions must and must not do, on synthetic alerts."""
    host, web1, web2 = conventions.LABEL_HOST, {"instance": "web1:9100"}, {"instance": "web2:9100"}
    on1, on2 = {**web1, host: "web1"}, {**web2, host: "web2"}
    crit, warn = _alert("DiskFull", "critical", **on1), _alert("DiskFull", "warning", **on1)
    down = _alert(conventions.ALERT_HOST_DOWN, "critical", **on1)
    watchdog = _alert(conventions.ALERT_WATCHDOG, "info")  # as rules/stack.rules.yml fires it
    found = [
        Case("a critical alert mutes the warning of the same alert on the same instance", (crit,), warn, True),
        Case(
            "a critical alert mutes the info of the same alert on the same instance",
            (crit,),
            _alert("DiskFull", "info", **on1),
            True,
        ),
        Case(
            "a critical alert must not mute the warning on another instance",
            (crit,),
            _alert("DiskFull", "warning", **on2),
            False,
        ),
        Case(
            "a critical alert must not mute another alert's warning",
            (crit,),
            _alert("DiskSlow", "warning", **on1),
            False,
        ),
        Case("a warning must never mute a critical alert", (warn,), crit, False),
        Case(
            "a critical alert must not mute another critical alert",
            (crit, warn),
            _alert("DiskFull", "critical", **on1, device="sdb"),
            False,
        ),
        Case(
            f"{conventions.ALERT_HOST_DOWN} mutes every other alert of its host",
            (down,),
            _alert("NodeHighCpuLoad", "warning", **on1),
            True,
        ),
        Case(f"{conventions.ALERT_HOST_DOWN} mutes critical alerts of its host too", (down,), crit, True),
        Case(
            f"{conventions.ALERT_HOST_DOWN} must not mute alerts of another host",
            (down,),
            _alert("NodeHighCpuLoad", "warning", **on2),
            False,
        ),
        Case(
            f"{conventions.ALERT_HOST_DOWN} must not mute alerts without a host",
            (down,),
            _alert("OrdersStalled", "warning"),
            False,
        ),
        Case(
            f"{conventions.ALERT_HOST_DOWN} must not mute itself",
            (down,),
            _alert(conventions.ALERT_HOST_DOWN, "critical", **on1, job="other"),
            False,
        ),
        Case(
            f"a {conventions.ALERT_HOST_DOWN} without a host label must not mute alerts without one",
            (_alert(conventions.ALERT_HOST_DOWN, "critical"),),
            _alert("OrdersStalled", "warning"),
            False,
        ),
    ]
    if has_slos:
        tiers = [t[0] for t in conventions.SLO_TIERS]
        own = {conventions.LABEL_SERVICE: "api", conventions.LABEL_SLO: "availability"}

        def burn(tier: str, **labels: str) -> dict[str, str]:
            return _alert(conventions.SLO_ALERT, "critical", **{**own, conventions.LABEL_TIER: tier, **labels})

        for i, fast in enumerate(tiers):
            for slow in tiers[i + 1 :]:
                found.append(
                    Case(
                        f"SLO tier {fast} mutes the slower tier {slow} of the same SLO", (burn(fast),), burn(slow), True
                    )
                )
                found.append(
                    Case(f"SLO tier {slow} must not mute the faster tier {fast}", (burn(slow),), burn(fast), False)
                )
        found.append(
            Case(
                "an SLO tier must not mute the same tier of another SLO",
                (burn(tiers[0]),),
                burn(tiers[1], slo="latency"),
                False,
            )
        )
        found.append(
            Case(
                "an SLO tier must not mute another service's SLO",
                (burn(tiers[0]),),
                burn(tiers[1], service="web"),
                False,
            )
        )
    everything = tuple(alert for case in found for alert in case.firing)
    found.append(Case(f"nothing may mute the {conventions.ALERT_WATCHDOG}", everything, watchdog, False))
    return found


def _show(labels: Labels) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def prove(rules: Sequence[Rule], has_slos: bool) -> list[str]:
    failures = self_muting(rules)
    for case in cases(has_slos):
        rule = muting_rule(case.target, case.firing, rules)
        if case.muted and rule is None:
            failures.append(
                f"{case.why}, but no inhibit rule mutes {_show(case.target)} while "
                f"{', '.join(_show(a) for a in case.firing)} fires."
            )
        elif not case.muted and rule is not None:
            failures.append(
                f"{case.why}, but {rule} mutes {_show(case.target)} while "
                f"{', '.join(_show(a) for a in case.firing)} fires."
            )
    return failures


def _failures(ctx: CheckContext) -> list[str]:
    path = ctx.root / conventions.ALERTMANAGER_CONFIG
    if not path.exists():
        return [f"{conventions.ALERTMANAGER_CONFIG} was not rendered."]
    config = yaml.safe_load(path.read_text()) or {}
    try:
        rules = load_rules(config)
    except ValueError as exc:
        return [f"{conventions.ALERTMANAGER_CONFIG}: {exc}."]
    return prove(rules, any(service.slos for service in ctx.stack.services))


def run(ctx: CheckContext) -> list[CheckProblem]:
    return errors(NAME, _failures(ctx))
