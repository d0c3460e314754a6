"""Semantic checks of long-term storage (`storage:`): remote_write targets Prometheus accepts and that keep
their secrets out of prometheus.yml, relabelling rules that do what their action needs, and queue
settings that are consistent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from generator import catalog
from generator.errors import Problem
from generator.spec.items import duplicates, mapping, named
from generator.spec.loader import Document
from generator.units import duration_ms

# headers Prometheus sets itself and refuses in `headers` (promtool check config, 2.42 and 3.x)
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "Host",
        "Content-Encoding",
        "Content-Length",
        "Content-Type",
        "User-Agent",
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "WWW-Authenticate",
        "X-Prometheus-Remote-Write-Version",
    )
)
# per relabel action: the fields it needs, and those it cannot take
_NEEDS = {
    "replace": ("target_label",),
    "lowercase": ("source_labels", "target_label"),
    "uppercase": ("source_labels", "target_label"),
    "hashmod": ("source_labels", "target_label", "modulus"),
    "keep": ("source_labels",),
    "drop": ("source_labels",),
    "labelmap": ("regex",),
    "labeldrop": ("regex",),
    "labelkeep": ("regex",),
}
_ONLY_REGEX = ("source_labels", "separator", "target_label", "replacement", "modulus")
_BOUNDS = (("min_shards", "max_shards"), ("min_backoff", "max_backoff"))


def storage_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    storage = mapping(data, "storage")
    targets = storage.get("remote_write")
    base = "$.storage.remote_write"
    yield from duplicates(doc, base, targets, "remote_write name")
    stores = {name for name in catalog.stores() if name in storage}  # stores the stack runs write there too
    for index, target in named(targets):
        path = f"{base}[{index}]"
        if target.get("name") in stores:
            yield doc.problem(
                f"{path}.name",
                f"'{target['name']}' is the remote_write name of the VictoriaMetrics the stack runs "
                "(storage.victoriametrics); choose another",
            )
        auth = target.get("auth")
        if isinstance(auth, dict) and len({"basic", "bearer"} & set(auth)) != 1:
            yield doc.problem(
                f"{path}.auth", "auth is either basic: {username, password} or bearer: {env: ...}, one of them"
            )
        yield from _url(doc, f"{path}.url", target.get("url"))
        yield from _headers(doc, f"{path}.headers", target.get("headers"))
        for i, rule in named(target.get("write_relabel")):
            yield from _relabel(doc, f"{path}.write_relabel[{i}]", rule)
        yield from _queue(doc, f"{path}.queue", target.get("queue"))


def _url(doc: Document, path: str, url: Any) -> Iterator[Problem]:
    if isinstance(url, str) and "@" in urlsplit(url).netloc:
        yield doc.problem(
            path,
            "credentials do not belong in the URL, which prometheus.yml holds as it is: "
            "give them as auth: {basic: {username, password: {env: ...}}} or auth: {bearer: {env: ...}}",
        )


def _headers(doc: Document, path: str, headers: Any) -> Iterator[Problem]:
    for name in headers if isinstance(headers, dict) else {}:
        if str(name).lower() == "authorization":
            yield doc.problem(
                f"{path}.{name}",
                "credentials go in auth ({basic: ...} or {bearer: {env: ...}}), read from a file: a header "
                "value would sit in prometheus.yml",
                key=True,
            )
        elif str(name).lower() in RESERVED_HEADERS:
            yield doc.problem(f"{path}.{name}", f"Prometheus sets {name} itself and refuses to send another", key=True)


def _relabel(doc: Document, path: str, rule: dict[str, Any]) -> Iterator[Problem]:
    action = rule.get("action", "replace")
    if not isinstance(action, str) or action not in _NEEDS:
        return  # the schema names the actions
    missing = [need for need in _NEEDS[action] if need not in rule]
    if missing:
        yield doc.problem(path, f"a {action} rule needs {' and '.join(missing)}")
    if action in ("labeldrop", "labelkeep"):
        for key in _ONLY_REGEX:
            if key in rule:
                yield doc.problem(f"{path}.{key}", f"a {action} rule takes only regex (it matches label names)")
    elif isinstance(rule.get("modulus"), int) and action != "hashmod":  # a bad value is the schema's
        yield doc.problem(f"{path}.modulus", f"modulus belongs to hashmod rules, not {action}")
    regex = rule.get("regex")
    if isinstance(regex, str):
        try:
            re.compile(regex)
        except re.error as exc:
            yield doc.problem(f"{path}.regex", f"{regex!r} is not a regular expression: {exc}")


def _queue(doc: Document, path: str, queue: Any) -> Iterator[Problem]:
    if not isinstance(queue, dict):
        return
    for low, high in _BOUNDS:
        a, b = _size(queue.get(low)), _size(queue.get(high))
        if a is not None and b is not None and a > b:
            yield doc.problem(f"{path}.{low}", f"{low} {queue[low]} is more than {high} {queue[high]}")


def _size(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return duration_ms(value) if isinstance(value, str) else None
