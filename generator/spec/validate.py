"""Stage `validate`: JSON Schema plus semantic checks; collects every problem before failing."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from generator import conventions
from generator.errors import Problem, SpecError
from generator.spec.formats import FORMATS, conforms, duration_ms
from generator.spec.loader import Document, child_path
from generator.spec.rules_semantics import rule_problems

SCHEMA_PATH = Path(__file__).with_name("stack.schema.json")
SECRET_HINT = "a secret must be a reference like {env: NAME} or {file: PATH}, never the value itself"
_TYPE_WORDS = {
    "string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
    "object": "a mapping (key: value)", "array": "a list", "null": "nothing",
}


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name in FORMATS:
        checker.checks(name)(lambda value, _name=name: not isinstance(value, str) or conforms(_name, value))
    return checker


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path = child_path(path, part)
    return path


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    for name, pytype in (("a string", str), ("a whole number", int), ("a number", float),
                         ("a mapping", dict), ("a list", list)):
        if isinstance(value, pytype):
            return name
    return "nothing" if value is None else type(value).__name__


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def _schema_problems(doc: Document) -> Iterator[Problem]:
    validator = Draft202012Validator(schema(), format_checker=_format_checker())
    for error in validator.iter_errors(doc.data):
        yield from _explain(doc, error)


def _explain(doc: Document, error: jsonschema.ValidationError) -> Iterator[Problem]:
    path = _json_path(error.absolute_path)
    sub: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    kind = error.validator
    in_secret = sub.get("x-secret") or "secret" in str(error.schema_path)
    if kind == "additionalProperties":
        allowed = sorted(sub.get("properties", {}))
        for key in sorted(k for k in value if k not in sub.get("properties", {})):
            guess = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{guess[0]}'?" if guess else f"expected one of: {', '.join(allowed)}"
            yield doc.problem(child_path(path, key), f"unknown key '{key}'; {hint}", key=True)
        return
    if kind == "required":
        missing = [k for k in sub.get("required", []) if k not in value]
        for key in missing:
            yield doc.problem(path, f"missing required key '{key}'")
        return
    if kind == "type":
        if sub.get("x-secret") and not isinstance(value, dict):
            message = SECRET_HINT
        else:
            wanted = sub.get("type")
            words = " or ".join(_TYPE_WORDS[t] for t in (wanted if isinstance(wanted, list) else [wanted]))
            message = f"expected {words}, got {_kind(value)}"
    elif kind == "format":
        message = f"{_show(value)} is not a valid {FORMATS[sub['format']][1]}"
    elif kind == "enum":
        message = f"{_show(value)} is not one of: {', '.join(str(v) for v in sub['enum'])}"
    elif kind == "const":
        message = f"must be {sub['const']!r}"
    elif kind in ("minProperties", "maxProperties") and in_secret:
        message = "a secret reference takes exactly one of 'env' or 'file'"
    elif kind == "minItems":
        message = "must not be empty" if sub["minItems"] == 1 else f"needs at least {sub['minItems']} entries"
    elif kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        bound = sub[kind]
        relation = {"minimum": "at least", "exclusiveMinimum": "above", "maximum": "at most",
                    "exclusiveMaximum": "below"}[kind]
        message = sub.get("x-message") or f"{value} must be {relation} {bound}"
    elif kind == "pattern":
        message = f"{_show(value)} must match {sub['pattern']}"
        if sub["pattern"] == "^/":
            message = f"{_show(value)} must start with '/'"
    elif kind == "oneOf" and path == "$.alerts.packs":
        message = "must be 'default', 'none' or a list of rule pack names"
    else:
        # never echo a value from inside a secret reference
        message = "invalid secret reference" if in_secret else error.message
    yield doc.problem(path, message)


def _named(items: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item


def _duplicates(doc: Document, base: str, items: Any, what: str) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for index, item in _named(items):
        name = item.get("name") if "alert" not in item else item.get("alert")
        if not isinstance(name, str):
            continue
        if name in seen:
            yield doc.problem(f"{base}[{index}].{'alert' if 'alert' in item else 'name'}",
                              f"duplicate {what} '{name}' (also {base}[{seen[name]}])")
        else:
            seen[name] = index


def _routes(routes: Any, base: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, route in _named(routes):
        path = f"{base}[{index}]"
        yield path, route
        yield from _routes(route.get("routes"), f"{path}.routes")


def _semantic_problems(doc: Document) -> Iterator[Problem]:
    data = doc.data if isinstance(doc.data, dict) else {}
    services = data.get("services")
    yield from _duplicates(doc, "$.services", services, "service name")
    exporters = data.get("exporters") if isinstance(data.get("exporters"), dict) else {}
    jobs = {conventions.EXPORTERS.get(k, k) for k in exporters} | set(conventions.CORE) | {"demo"}
    for index, service in _named(services):
        name = service.get("name")
        if name in jobs:
            yield doc.problem(f"$.services[{index}].name",
                              f"service name '{name}' is taken by a component of the stack; choose another")
        yield from _duplicates(doc, f"$.services[{index}].slos", service.get("slos"), "SLO name")
        yield from _slo_problems(doc, f"$.services[{index}]", service)
    blackbox = exporters.get("blackbox")
    if isinstance(blackbox, dict):
        yield from _duplicates(doc, "$.exporters.blackbox.probes", blackbox.get("probes"), "probe name")
    yield from _exposure_problems(doc, data)
    yield from _port_problems(doc, data)
    alerts = data.get("alerts") if isinstance(data.get("alerts"), dict) else {}
    yield from _duplicates(doc, "$.alerts.rules", alerts.get("rules"), "alert name")
    notifications = data.get("notifications")
    if isinstance(notifications, dict):
        yield from _notification_problems(doc, notifications)


def _slo_problems(doc: Document, base: str, service: dict[str, Any]) -> Iterator[Problem]:
    http = service.get("http") if isinstance(service.get("http"), dict) else None
    for index, slo in _named(service.get("slos")):
        path = f"{base}.slos[{index}]"
        if http is None:
            yield doc.problem(path, "an SLO needs the service's http metrics: add http: {requests: ..., duration: ...}")
            continue
        threshold = slo.get("threshold")
        if threshold is not None and not http.get("duration"):
            yield doc.problem(f"{path}.threshold", "a latency SLO needs http.duration (a histogram metric name)")
        objective = slo.get("objective")
        if isinstance(objective, (int, float)) and not isinstance(objective, bool) and 0 < objective < 100:
            budget = 1 - Decimal(str(objective)) / 100
            fastest = Decimal("14.4") * Decimal(duration_ms(slo.get("period") or "30d") or 1) / Decimal(2592000000)
            if fastest * budget >= 1:
                yield doc.problem(
                    f"{path}.objective",
                    f"an objective of {objective} leaves so much error budget that the {fastest:.4g}x burn-rate "
                    f"alert can never fire; use an objective above {100 * (1 - 1 / fastest):.4g}",
                )


def _components(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    components = data.get("components") if isinstance(data.get("components"), dict) else {}
    for key, value in components.items():
        if isinstance(value, dict):
            yield key, f"$.components.{key}", value
    exporters = data.get("exporters") if isinstance(data.get("exporters"), dict) else {}
    for key, value in exporters.items():
        if isinstance(value, dict):
            yield conventions.EXPORTERS.get(key, key), f"$.exporters.{key}", value


def _exposure_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    for name, path, value in _components(data):
        if value.get("expose") is True and name not in conventions.SELF_AUTHENTICATED:
            auth = value.get("auth")
            if not (isinstance(auth, dict) and auth.get("basic")):
                yield doc.problem(
                    f"{path}.expose",
                    f"exposing {name} beyond 127.0.0.1 needs authentication: add "
                    "auth: {basic: {username: ..., password: {env: ...}}} (and tls: {cert: ..., key: ...})",
                )


def _port_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    seen: dict[int, str] = {}
    for name, path, value in _components(data):
        port = value.get("port")
        if isinstance(port, int) and not isinstance(port, bool):
            if port in seen:
                yield doc.problem(f"{path}.port", f"port {port} is already used by {seen[port]}")
            seen.setdefault(port, name)


def _notification_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    receivers = data.get("receivers")
    yield from _duplicates(doc, "$.notifications.receivers", receivers, "receiver name")
    yield from _duplicates(doc, "$.notifications.time_intervals", data.get("time_intervals"), "time interval")
    names = {r.get("name") for _, r in _named(receivers)}
    intervals = {t.get("name") for _, t in _named(data.get("time_intervals"))}
    default = data.get("default_receiver")
    if isinstance(default, str) and default not in names:
        yield doc.problem("$.notifications.default_receiver", _unknown("receiver", default, names))
    for path, route in _routes(data.get("routes"), "$.notifications.routes"):
        receiver = route.get("receiver")
        if isinstance(receiver, str) and receiver not in names:
            yield doc.problem(f"{path}.receiver", _unknown("receiver", receiver, names))
        for key in ("mute_during", "active_during"):
            for i, interval in enumerate(route.get(key) or []):
                if isinstance(interval, str) and interval not in intervals:
                    yield doc.problem(f"{path}.{key}[{i}]", _unknown("time interval", interval, intervals))
    for index, test in _named(data.get("tests")):
        for i, receiver in enumerate(test.get("receivers") or []):
            if isinstance(receiver, str) and receiver not in names:
                yield doc.problem(f"$.notifications.tests[{index}].receivers[{i}]",
                                  _unknown("receiver", receiver, names))
    for index, receiver in _named(receivers):
        if "email" in receiver and not isinstance(data.get("smtp"), dict):
            yield doc.problem(f"$.notifications.receivers[{index}].email",
                              "an email receiver needs notifications.smtp: {smarthost: ..., from: ...}")


def _unknown(what: str, name: str, known: set[Any]) -> str:
    options = sorted(k for k in known if isinstance(k, str))
    guess = difflib.get_close_matches(name, options, n=1)
    hint = f"did you mean '{guess[0]}'?" if guess else f"known: {', '.join(options) or 'none'}"
    return f"unknown {what} '{name}'; {hint}"


def validate(doc: Document) -> None:
    """Raise SpecError with every schema and semantic problem of the document."""
    problems = list(_schema_problems(doc))
    problems.extend(_semantic_problems(doc))
    problems.extend(rule_problems(doc))
    if problems:
        raise SpecError(problems)
