"""Stage `load`, environments: one base spec and per-environment overrides (`environments.<name>`),
merged into the document of one environment.

The merged document keeps the location of every value: a value the override gives points at the
override's line, the rest at the base's. `origin` maps a merged path that came from an override back to
its path in the file (`$.environments.staging.services[0].targets`), so that a problem found in the
merged document is reported where the user wrote the value.

Merging: mappings merge key by key; a key set to null in the override removes it; a list whose items
are all mappings named by the same key (`name`, or `alert` for alert rules) merges item by item, by that
name (a new name is appended, `{name: x, remove: true}` removes x); any other list, and every other
value, is replaced. The environment's
name becomes the `environment` (the `env` label) unless its override sets one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from generator.errors import Problem, UsageError
from generator.spec.loader import Document, child_path

SECTION = "environments"
ITEM_KEYS = ("name", "alert", "record")  # what names an item of a list that merges item by item
REMOVE = "remove"  # `{name: x, remove: true}` in an override's list removes the base's item x


def names(doc: Document) -> list[str]:
    """The environments the spec defines."""
    section = doc.data.get(SECTION) if isinstance(doc.data, dict) else None
    return sorted(k for k, v in section.items() if isinstance(v, dict)) if isinstance(section, dict) else []


def base_name(doc: Document) -> str:
    """The base spec's own environment (`environment`, production by default)."""
    value = doc.data.get("environment") if isinstance(doc.data, dict) else None
    return value if isinstance(value, str) else "production"


@dataclass
class Merged:
    """The document of one environment, and where its overriding values were written."""

    doc: Document
    env: str | None  # None: the base spec itself
    origin: dict[str, str] = field(default_factory=dict)  # merged path -> path in the file, for overrides

    def located(self, problem: Problem) -> Problem:
        """`problem` (found in the merged document) with the path the user wrote, when it is an override's."""
        probe, rest = problem.path, ""
        while probe:
            if probe in self.origin:
                return Problem(problem.file, problem.line, problem.col, self.origin[probe] + rest, problem.message)
            cut = max(probe.rfind("."), probe.rfind("["))
            if cut <= 0:
                break
            probe, rest = probe[:cut], probe[cut:] + rest
        return problem


def select(doc: Document, env: str | None) -> Merged:
    """The document of environment `env` (None or the base's own environment: the base spec)."""
    known = names(doc)
    if env is None or (env == base_name(doc) and env not in known):
        return Merged(_without_section(doc), None)
    if env not in known:
        listed = ", ".join([base_name(doc), *known])
        raise UsageError(f"{doc.file} defines no environment {env!r} (its environments: {listed})")
    return merge(doc, env)


def merge(doc: Document, env: str) -> Merged:
    """The base of `doc` merged with its override for `env`."""
    merged = Merged(Document(doc.file, None), env)
    over_path = child_path(child_path("$", SECTION), env)
    data = _Merger(doc, merged).value(doc.data, doc.data[SECTION][env], "$", over_path, "$")
    data.pop(SECTION, None)
    if "environment" not in doc.data[SECTION][env]:
        data["environment"] = env
    merged.doc.data = data
    return merged


def _without_section(doc: Document) -> Document:
    if not isinstance(doc.data, dict) or SECTION not in doc.data:
        return doc
    data = {k: v for k, v in doc.data.items() if k != SECTION}
    return Document(doc.file, data, doc.positions, doc.key_positions)


def _item_key(*lists: list[Any]) -> str | None:
    """The key naming every item of these lists, if there is one they all share."""
    items = [item for values in lists for item in values]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    return next((k for k in ITEM_KEYS if all(isinstance(item.get(k), str) for item in items)), None)


class _Merger:
    def __init__(self, source: Document, merged: Merged) -> None:
        self.source = source
        self.merged = merged

    def copy_positions(self, source: str, target: str, value: Any) -> None:
        """The positions of `value`, at `source`, and of its subtree become those of `target` and its subtree."""
        doc, out = self.source, self.merged.doc
        if source in doc.positions:
            out.positions[target] = doc.positions[source]
        if source in doc.key_positions:
            out.key_positions[target] = doc.key_positions[source]
        for key, child in _children(value):
            self.copy_positions(child_path(source, key), child_path(target, key), child)

    def _take(self, value: Any, source: str, target: str, override: bool) -> Any:
        self.copy_positions(source, target, value)
        if override:
            self.merged.origin[target] = source
        return value

    def value(self, base: Any, over: Any, base_path: str, over_path: str, path: str) -> Any:
        if isinstance(base, dict) and isinstance(over, dict):
            return self._mapping(base, over, base_path, over_path, path)
        if isinstance(base, list) and isinstance(over, list):
            key = _item_key(base, over)
            if key is not None:
                return self._named(base, over, key, base_path, over_path, path)
        return self._take(over, over_path, path, override=True)

    def _mapping(self, base: dict[str, Any], over: dict[str, Any], base_path: str, over_path: str, path: str) -> Any:
        result: dict[str, Any] = {}
        self.copy_positions(over_path, path, {})  # the mapping itself: where the override opens it
        for key in [*base, *(k for k in over if k not in base)]:
            sub = child_path(path, key)
            if key not in over:
                result[key] = self._take(base[key], child_path(base_path, key), sub, override=False)
            elif over[key] is not None:
                if key in base:
                    result[key] = self.value(
                        base[key], over[key], child_path(base_path, key), child_path(over_path, key), sub
                    )
                else:
                    result[key] = self._take(over[key], child_path(over_path, key), sub, override=True)
        return result

    def _named(
        self, base: list[Any], over: list[Any], key: str, base_path: str, over_path: str, path: str
    ) -> list[Any]:
        overrides = {item[key]: (index, item) for index, item in enumerate(over)}
        result: list[Any] = []
        for index, item in enumerate(base):
            sub = child_path(path, len(result))
            if item[key] in overrides:
                at, change = overrides.pop(item[key])
                if change.get(REMOVE) is True and len(change) == 2:
                    continue
                result.append(self.value(item, change, child_path(base_path, index), child_path(over_path, at), sub))
            else:
                result.append(self._take(item, child_path(base_path, index), sub, override=False))
        for at, item in sorted(overrides.values(), key=lambda pair: pair[0]):
            result.append(self._take(item, child_path(over_path, at), child_path(path, len(result)), override=True))
        return result


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, list):
        yield from enumerate(value)
