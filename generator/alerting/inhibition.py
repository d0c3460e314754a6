"""Alertmanager's inhibition: the inhibit rules of a rendered config, and which one mutes an alert.

An alert is muted while another alert fires that matches a rule's source matchers, the alert matches
the rule's target matchers, and both have the same value of every `equal` label (a missing label
equals an empty one, so two alerts without it are "equal"). An alert that matches both sides of a rule
is never muted by a source that does too (Alertmanager 0.25-0.33, inhibit/inhibit.go).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator.alerting.matchers import Matcher, matchers, matches_all

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Rule:
    number: int  # 1-based position in inhibit_rules, as people count
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def __str__(self) -> str:
        def show(found: Sequence[Matcher]) -> str:
            return ", ".join(f'{m.name}{m.op}"{m.value}"' for m in found)

        return (
            f"inhibit rule #{self.number} (source [{show(self.source)}], target [{show(self.target)}], "
            f"equal [{', '.join(self.equal)}])"
        )


def _legacy(match: Any, op: str) -> list[Matcher]:
    return [Matcher(k, op, str(v)) for k, v in (match or {}).items()]


def load_rules(config: Mapping[str, Any]) -> list[Rule]:
    """The `inhibit_rules` of a rendered config (new-style matchers and the older match maps alike)."""
    rules = []
    for number, raw in enumerate(config.get("inhibit_rules") or [], start=1):
        source = matchers(raw.get("source_matchers") or []) + _legacy(raw.get("source_match"), "=")
        source += _legacy(raw.get("source_match_re"), "=~")
        target = matchers(raw.get("target_matchers") or []) + _legacy(raw.get("target_match"), "=")
        target += _legacy(raw.get("target_match_re"), "=~")
        rules.append(Rule(number, tuple(source), tuple(target), tuple(raw.get("equal") or ())))
    return rules


def muting_rule(target: Labels, firing: Sequence[Labels], rules: Sequence[Rule]) -> Rule | None:
    """The rule that mutes `target` while `firing` fire, None when none does."""
    for rule in rules:
        if not matches_all(rule.target, target):
            continue
        two_sided = matches_all(rule.source, target)
        for source in firing:
            if not matches_all(rule.source, source):
                continue
            if any(source.get(name, "") != target.get(name, "") for name in rule.equal):
                continue
            if two_sided and matches_all(rule.target, source):
                continue
            return rule
    return None


def disjoint(one: Sequence[Matcher], other: Sequence[Matcher]) -> bool:
    """True when some label pins `one` to a few values that `other` all rejects."""
    for matcher in one:
        values = matcher.finite_values()
        if values is None:
            continue
        allowed = [v for v in values if all(m.accepts(v) for m in one if m.name == matcher.name)]
        if not any(all(m.accepts(v) for m in other if m.name == matcher.name) for v in allowed):
            return True
    return False


def can_mute_itself(rule: Rule) -> bool:
    """Whether an alert can match both the source and the target side of `rule`."""
    return not (disjoint(rule.source, rule.target) or disjoint(rule.target, rule.source))
