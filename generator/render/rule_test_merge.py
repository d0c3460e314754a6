"""A pack's test groups run side by side, in as few promtool test groups as cannot see each other.

promtool evaluates every rule of a test file at every evaluation step of each test group, from 0 to the
group's last `eval_time`: a pack of a dozen alerts, each tested in a group of its own lasting 20 to 90
minutes, costs a dozen times the rules times the minutes. Most of those groups feed metrics no other
group's alert reads (a CPU test and a memory test), so they can share one group: each alert's checks
see the same series, the same evaluations and the same firing alerts as alone, and promtool evaluates
the rules once per step for all of them, up to the longest.

Two groups share a group only when neither feeds a metric the other's alerts read (through the
recording rules of the file, transitively), they tested different alerts, and they are alike in
everything but their series and checks (interval, external labels and URL). An alert whose expression
cannot be parsed, or reads series by a pattern of names or `ALERTS`, never shares. A group with
`promql_expr_test` stays alone. A failure names the shared group, whose name joins its members' names,
and promtool's expected-versus-got names the alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from generator import promql
from generator.units import Duration

_ALONE = ("promql_expr_test",)
_PER_CASE = ("name", "input_series", "alert_rule_test")
_META = frozenset({"ALERTS", "ALERTS_FOR_STATE"})


def reads(expr: str) -> set[str] | None:
    """The metric names `expr` selects, or None when that cannot be said (a parse error, or a selector
    by a pattern of names)."""
    try:
        tree = promql.parse(expr)
    except promql.ParseError:
        return None
    names: set[str] = set()
    for node in promql.walk(tree):
        if not isinstance(node, promql.Selector):
            continue
        exact = [value for label, op, value in node.matchers if label == "__name__" and op == "="]
        if not node.name and not exact:
            return None
        names.update([node.name] if node.name else exact)
    return None if names & _META else names


def alert_reads(rules: Iterable[Mapping[str, Any]]) -> dict[str, set[str] | None]:
    """alert name -> the metrics its rules read, through the recording rules among `rules` (rule data as
    rendered: `alert` or `record`, and `expr`); None where that cannot be said."""
    recorded: dict[str, set[str] | None] = {}
    alerts: dict[str, set[str] | None] = {}
    for rule in rules:
        into = recorded if "record" in rule else alerts if "alert" in rule else None
        if into is None:
            continue
        name = str(rule.get("record") or rule["alert"])
        found, before = reads(str(rule.get("expr", ""))), into.get(name, set())
        into[name] = None if found is None or before is None else before | found

    def closure(names: set[str] | None, seen: frozenset[str] = frozenset()) -> set[str] | None:
        if names is None:
            return None
        out = set(names)
        for name in names & recorded.keys() - seen:
            more = closure(recorded[name], seen | {name})
            if more is None:
                return None
            out |= more
        return out

    return {name: closure(names) for name, names in alerts.items()}


def _feeds(group: Mapping[str, Any]) -> set[str] | None:
    names: set[str] = set()
    for series in group.get("input_series", ()):
        found = reads(str(series["series"]))
        if found is None:
            return None
        names |= found
    return names


class _Shared:
    def __init__(self, group: Mapping[str, Any], feeds: set[str], reads: set[str], alerts: set[str]) -> None:
        self.members = [group]
        self.feeds, self.reads, self.alerts = feeds, reads, alerts
        self.rest = _rest(group)

    def takes(self, group: Mapping[str, Any], feeds: set[str], reads: set[str], alerts: set[str]) -> bool:
        return (
            _rest(group) == self.rest and not feeds & self.reads and not reads & self.feeds and not alerts & self.alerts
        )

    def add(self, group: Mapping[str, Any], feeds: set[str], reads: set[str], alerts: set[str]) -> None:
        self.members.append(group)
        self.feeds |= feeds
        self.reads |= reads
        self.alerts |= alerts

    def group(self) -> Mapping[str, Any]:
        if len(self.members) == 1:
            return self.members[0]
        first = dict(self.members[0])
        first["name"] = "; ".join(str(m["name"]) for m in self.members)
        first["input_series"] = [series for m in self.members for series in m["input_series"]]
        first["alert_rule_test"] = [case for m in self.members for case in m["alert_rule_test"]]
        return first


def _rest(group: Mapping[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in group.items() if k not in _PER_CASE))


def _last(group: Mapping[str, Any]) -> int:
    return max((Duration(str(c["eval_time"])).ms for c in group.get("alert_rule_test", ())), default=0)


def shared(groups: Sequence[Mapping[str, Any]], rules: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """`groups` (a pack's tests of one rule file holding `rules`) in as few groups as keep them apart; the
    longest first, each into the first shared group that can take it."""
    read_by = alert_reads(rules)
    out: list[_Shared | Mapping[str, Any]] = []
    for group in sorted(groups, key=_last, reverse=True):
        alerts = {str(case["alertname"]) for case in group.get("alert_rule_test", ())}
        feeds = _feeds(group)
        reading = [read_by.get(alert) for alert in alerts]
        if any(k in group for k in _ALONE) or feeds is None or not alerts or any(r is None for r in reading):
            out.append(group)
            continue
        reads_all = set().union(*(r for r in reading if r is not None))
        home = next((s for s in out if isinstance(s, _Shared) and s.takes(group, feeds, reads_all, alerts)), None)
        if home is None:
            out.append(_Shared(group, feeds, reads_all, alerts))
        else:
            home.add(group, feeds, reads_all, alerts)
    return [item.group() if isinstance(item, _Shared) else item for item in out]
