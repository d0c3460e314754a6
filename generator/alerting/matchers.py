"""Alertmanager matchers (`severity="critical"`, `team=~"db|web"`), evaluated the way Alertmanager does."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ALERTNAME = "alertname"

_MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
_LITERAL_ALTERNATION = re.compile(r"[\w.:/ -]+(?:\|[\w.:/ -]+)*")


@dataclass(frozen=True)
class Matcher:
    """One Alertmanager matcher (`severity="critical"`), evaluated the way Alertmanager does."""

    name: str
    op: str  # = != =~ !~
    value: str

    @staticmethod
    def parse(text: str) -> Matcher:
        found = _MATCHER.match(text)
        if not found:
            raise ValueError(f"{text!r} is not an Alertmanager matcher")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value[1:-1])
        return Matcher(name, op, value)

    def accepts(self, value: str) -> bool:
        if self.op in ("=", "!="):
            return (value == self.value) == (self.op == "=")
        # Alertmanager anchors regular expressions at both ends. Go's RE2 and Python agree on the regexes
        # people write in matchers; one Python cannot read is treated as matching nothing.
        try:
            found = re.fullmatch(self.value, value) is not None
        except re.error:
            found = False
        return found == (self.op == "=~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.accepts(labels.get(self.name, ""))  # a missing label matches like an empty one

    def finite_values(self) -> tuple[str, ...] | None:
        """Every value this matcher accepts when they are few (x="a", x=~"a|b"), else None."""
        if self.op == "=":
            return (self.value,)
        if self.op == "=~" and _LITERAL_ALTERNATION.fullmatch(self.value):
            return tuple(self.value.split("|"))
        return None

    def text(self) -> str:
        """As alertmanager.yml writes it: the value quoted, `\\`, `"` and newlines escaped."""
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def matchers(texts: Sequence[str]) -> list[Matcher]:
    return [Matcher.parse(text) for text in texts]


def matches_all(found: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in found)


def spec_matchers(match: Mapping[str, str] | None, match_re: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The matcher texts of a spec's `match` (equality) and `match_re` (anchored regex) maps, sorted."""
    equal = [Matcher(k, "=", v).text() for k, v in sorted((match or {}).items())]
    regex = [Matcher(k, "=~", v).text() for k, v in sorted((match_re or {}).items())]
    return tuple(equal + regex)
