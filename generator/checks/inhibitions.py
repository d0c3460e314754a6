"""Check `routes/inhibit`: our own proof of the rendered inhibit rules (amtool does not evaluate them).

Proofs on the inhibit_rules of the written alertmanager.yml, with Alertmanager's inhibition semantics
(generator/alerting/inhibition.py):
1. no default rule can mute its own source: for some label, the values its source matchers allow are all
   rejected by its target matchers (or the other way round), so no alert is both a source and a target;
   a rule of the spec's (`notifications.inhibit`) that can is a warning;
2. synthetic alerts show that the default inhibitions mute what they should (warning under critical,
   everything on a down host, slower SLO tiers) and nothing else (other instances and hosts, criticals
   under warnings, the Watchdog, the sources); each of the spec's rules mutes an alert matching its target
   with the same `equal` labels and not one whose `equal` labels differ, and none mutes the Watchdog;
3. the spec's tests with `firing` and `muted` (`notifications.tests`) hold.
A spec rule on a label no alert of the stack is known to carry, or with an empty `equal`, is a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from generator import conventions, rules_catalog, yamlload
from generator.alert_labels import known_labels
from generator.alerting.inhibition import Labels, Rule, can_mute_itself, load_rules, muting_rule
from generator.alerting.matchers import ALERTNAME, Matcher, matchers, matches_all
from generator.checks import CheckContext, CheckProblem, errors
from generator.model import InhibitRule
from generator.render._alerting import as_sent

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
            return _alert(conventions.SLO_ALERT, "critical", **{**own, conventions.LABEL_SLO_TIER: tier, **labels})

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


def _verdict(case: Case, rules: Sequence[Rule]) -> str | None:
    rule = muting_rule(case.target, case.firing, rules)
    firing = ", ".join(_show(a) for a in case.firing)
    if case.muted and rule is None:
        return f"{case.why}, but no inhibit rule mutes {_show(case.target)} while {firing} fires."
    if not case.muted and rule is not None:
        return f"{case.why}, but {rule} mutes {_show(case.target)} while {firing} fires."
    return None


def prove(rules: Sequence[Rule], has_slos: bool) -> list[str]:
    """The default inhibitions (`rules`) against their cases."""
    failures = self_muting(rules)
    failures.extend(f for f in (_verdict(case, rules) for case in cases(has_slos)) if f)
    return failures


def _example(found: Sequence[Matcher]) -> dict[str, str] | None:
    """Labels every matcher of `found` accepts, or None when a regex has no value we can name."""
    labels: dict[str, str] = {}
    for matcher in found:
        if matcher.matches(labels):
            continue
        values = matcher.finite_values() if matcher.op in ("=", "=~") else None
        value = next((v for v in values or () if all(m.accepts(v) for m in found if m.name == matcher.name)), None)
        if value is None and matcher.op in ("!=", "!~"):
            value = next((v for v in ("x", "other", "promstack-example") if matcher.accepts(v)), None)
        if value is None:
            return None
        labels[matcher.name] = value
    return labels


def custom_cases(rule: Rule) -> list[Case]:
    """What one of the spec's inhibitions (`rule`, as the spec says it) must do: an alert matching its
    source mutes one matching its target with the same `equal` labels, and not one whose `equal` labels
    differ. The cases run against the rendered rules, so they prove what was rendered."""
    source, target = _example(rule.source), _example(rule.target)
    if source is None or target is None:
        return []
    shared = {name: source.get(name) or target.get(name) or "same" for name in rule.equal}
    source, target = {**source, **shared}, {**target, **shared}
    if not matches_all(rule.source, source) or not matches_all(rule.target, target):
        return []  # an `equal` label the matchers pin differently: nothing to show
    found = [Case(f"{rule} mutes what it targets", (source,), target, True)]
    for name in rule.equal:
        other = {**target, name: target[name] + "-other"}
        if matches_all(rule.target, other):
            found.append(Case(f"{rule} must not mute a target whose {name} differs", (source,), other, False))
            break
    return found


def _spec_tests(ctx: CheckContext, rules: Sequence[Rule]) -> list[str]:
    failures = []
    for index, test in enumerate(ctx.stack.notifications.tests):
        if test.muted is None:
            continue
        case = Case(
            f"notifications.tests[{index}] expects {'' if test.muted else 'no '}inhibition",
            test.firing,
            test.labels,
            test.muted,
        )
        failure = _verdict(case, rules)
        if failure:
            failures.append(failure)
    return failures


def _rendered_alerts(ctx: CheckContext) -> list[tuple[str, dict[str, str]]]:
    """(name, static labels as sent) of every alerting rule rendered."""
    return [
        (r.name, {k: as_sent(v) for k, v in r.labels.items()}) for f in ctx.tree.rules for r in f.rules() if r.alert
    ]


def _may_match(found: Sequence[Matcher], name: str, labels: dict[str, str]) -> bool:
    """Whether an alert `name` with static `labels` may match `found`: a label it does not set statically
    comes from its series, unknown here."""
    for matcher in found:
        if matcher.name == ALERTNAME and not matcher.accepts(name):
            return False
        if matcher.name in labels and not matcher.accepts(labels[matcher.name]):
            return False
    return True


def _unknown_labels(ctx: CheckContext, spec: Sequence[InhibitRule]) -> list[CheckProblem]:
    known = known_labels(ctx.stack, ctx.tree.rules, rules_catalog.pack_names(ctx.stack))
    found = []
    for index, rule in enumerate(spec):
        named = [Matcher.parse(m).name for m in (*rule.source, *rule.target)] + list(rule.equal)
        for label in dict.fromkeys(n for n in named if n not in known):
            found.append(
                CheckProblem(
                    NAME,
                    "warning",
                    f"notifications.inhibit[{index}] ({rule.where}): no alert of this stack is known to carry the "
                    f"label {label!r}, so the inhibition may never apply; check its spelling.",
                    rule.where,
                )
            )
        if not rule.equal:
            found.append(
                CheckProblem(
                    NAME,
                    "warning",
                    f"notifications.inhibit[{index}] ({rule.where}) has an empty `equal`: while any alert matching "
                    "its source fires, it mutes every alert matching its target, anywhere in the stack.",
                    rule.where,
                )
            )
    return found


def run(ctx: CheckContext) -> list[CheckProblem]:
    path = ctx.root / conventions.ALERTMANAGER_CONFIG
    if not path.exists():
        return errors(NAME, [f"{conventions.ALERTMANAGER_CONFIG} was not rendered."])
    try:
        rules = load_rules(yamlload.safe_load(path.read_text()) or {})
    except ValueError as exc:
        return errors(NAME, [f"{conventions.ALERTMANAGER_CONFIG}: {exc}."])
    spec = ctx.stack.notifications.inhibit
    defaults, mine = rules[: len(rules) - len(spec)], rules[len(rules) - len(spec) :]
    failures = prove(defaults, any(service.slos for service in ctx.stack.services))
    said = [
        Rule(len(defaults) + i + 1, tuple(matchers(r.source)), tuple(matchers(r.target)), r.equal)
        for i, r in enumerate(spec)
    ]
    failures += [f for f in (_verdict(c, rules) for r in said for c in custom_cases(r)) if f]
    everything = tuple(a for r in said for c in custom_cases(r) for a in c.firing)
    watchdog = Case(
        f"nothing may mute the {conventions.ALERT_WATCHDOG}",
        everything,
        _alert(conventions.ALERT_WATCHDOG, "info"),
        False,
    )
    failures += [f for f in [_verdict(watchdog, rules)] if f and everything]
    failures += _spec_tests(ctx, rules)
    problems = errors(NAME, failures)
    alerts = _rendered_alerts(ctx)
    for index, (rule, written) in enumerate(zip(mine, spec, strict=True)):
        both = [n for n, labels in alerts if _may_match(rule.source, n, labels) and _may_match(rule.target, n, labels)]
        if both and can_mute_itself(rule):
            problems.append(
                CheckProblem(
                    NAME,
                    "warning",
                    f"notifications.inhibit[{index}] ({written.where}): {', '.join(dict.fromkeys(both))} can match "
                    "both its source and its target, so one such alert can mute another (Alertmanager never lets "
                    "one mute itself); pin a label on either side that tells them apart.",
                    written.where,
                )
            )
    return problems + _unknown_labels(ctx, spec)
