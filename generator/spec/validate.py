"""Stage `validate`: JSON Schema plus semantic checks; collects every problem before failing."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from generator import catalog, conventions
from generator.errors import Problem, SpecError
from generator.spec import schema as spec_schema
from generator.spec.catalog_semantics import catalog_problems
from generator.spec.dashboard_semantics import dashboard_problems
from generator.spec.formats import FORMATS, conforms
from generator.spec.kinds_semantics import kind_problems
from generator.spec.label_semantics import label_problems
from generator.spec.loader import Document, child_path, printable
from generator.spec.rules_semantics import lint_problems, rule_problems
from generator.units import duration_ms

SECRET_HINT = "a secret must be a reference like {env: NAME} or {file: PATH}, never the value itself"
_RELATIONS = {"minimum": "at least", "exclusiveMinimum": "above", "maximum": "at most", "exclusiveMaximum": "below"}
_TYPE_WORDS = dict(string="a string", integer="a whole number", number="a number", boolean="true or false")
_TYPE_WORDS.update(object="a mapping (key: value)", array="a list", null="nothing")
# python type of a loaded value -> words, for "expected X, got Y" (bool first: it is an int too)
_KINDS: tuple[tuple[type, str], ...] = ((bool, "true/false"), (str, "a string"), (int, "a whole number"))
_KINDS += ((float, "a number"), (dict, "a mapping"), (list, "a list"), (type(None), "nothing"))


@cache
def schema() -> dict[str, Any]:
    return spec_schema.schema()


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name in FORMATS:
        # a value with a line break is reported once, as such, by _type below
        checker.checks(name)(
            lambda value, _name=name: not isinstance(value, str) or _broken(value) or conforms(_name, value)
        )
    return checker


def _broken(value: str) -> bool:
    return "\n" in value or "\r" in value


def _type(validator: Any, types: Any, instance: Any, schema: dict[str, Any]) -> Iterator[jsonschema.ValidationError]:
    """JSON Schema `type`, plus what every tool downstream assumes of its values: a string is one line
    (it lands in a YAML value, a flag, a header, a my.cnf line) unless its schema says `x-multiline`, and
    a number is finite (YAML's .nan and .inf parse as floats, and no rule, query or test can use them)."""
    wanted = types if isinstance(types, list) else [types]
    if isinstance(instance, float) and not math.isfinite(instance) and {"number", "integer"} & set(wanted):
        yield jsonschema.ValidationError("not finite", validator="x-finite")
        return
    yield from _BASE_TYPE(validator, types, instance, schema)
    if isinstance(instance, str) and "string" in wanted and _broken(instance) and not schema.get("x-multiline"):
        yield jsonschema.ValidationError("not one line", validator="x-single-line")


def _finite(base: Any) -> Any:
    """A bound keyword that leaves non-finite numbers to _type (one problem per value, not two)."""

    def check(validator: Any, bound: Any, instance: Any, schema: dict[str, Any]) -> Any:
        if isinstance(instance, float) and not math.isfinite(instance):
            return iter(())
        return base(validator, bound, instance, schema)

    return check


_BASE_TYPE = Draft202012Validator.VALIDATORS["type"]
_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    {
        "type": _type,
        **{k: _finite(Draft202012Validator.VALIDATORS[k]) for k in _RELATIONS},
    },
)


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path = child_path(path, part)
    return path


def _kind(value: Any) -> str:
    return next((words for pytype, words in _KINDS if isinstance(value, pytype)), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def _schema_problems(doc: Document) -> Iterator[Problem]:
    validator = _Validator(schema(), format_checker=_format_checker())
    for error in validator.iter_errors(doc.data):
        yield from _explain(doc, error)


def _explain(doc: Document, error: jsonschema.ValidationError) -> Iterator[Problem]:
    path = _json_path(error.absolute_path)
    sub: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    value: Any = error.instance
    kind = error.validator
    # a line break or .nan inside one branch of a oneOf (alerts.packs) is what is wrong, not the branch
    broken = [e for e in error.context or () if e.validator in ("x-single-line", "x-finite")]
    if kind == "oneOf" and broken:
        for inner in broken:
            yield from _explain(doc, inner)
        return
    if kind == "additionalProperties" and sub.get("x-secret"):
        # `url: {https://hooks.../SECRET}` is YAML for a mapping with the secret as its key: never name the key
        yield doc.problem(path, f"{SECRET_HINT}; this one has other keys (not shown: one may be the secret)")
        return
    if kind == "additionalProperties":
        allowed = sorted(sub.get("properties", {}))
        for key in sorted(k for k in value if k not in sub.get("properties", {})):
            yield doc.problem(child_path(path, key), _unknown_key(path, key, allowed), key=True)
        return
    if kind == "required":
        for key in [k for k in sub.get("required", []) if k not in value]:
            yield doc.problem(path, f"missing required key '{key}'")
        return
    if "propertyNames" in error.schema_path:
        # a key that is not a valid name: point at the key itself
        yield doc.problem(
            child_path(path, str(value)), f"{_show(value)} is not a valid {_format_words(sub)} as a key", key=True
        )
        return
    in_secret = bool(sub.get("x-secret")) or "secret" in str(error.schema_path) or path.endswith((".env", ".file"))
    yield doc.problem(path, _message(error, path, sub, value, in_secret))


def _unknown_key(path: str, key: str, allowed: list[str]) -> str:
    guess = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{guess[0]}'?" if guess else f"expected one of: {', '.join(allowed)}"
    if path == "$.exporters":
        return f"unknown exporter '{key}'; " + (hint if guess else f"promstack knows: {', '.join(allowed)}")
    return f"unknown key '{key}'; {hint}"


def _format_words(sub: dict[str, Any]) -> str:
    fmt = sub.get("format") or (sub.get("propertyNames") or {}).get("format")
    return FORMATS[fmt][1] if fmt in FORMATS else "value"


def _message(error: jsonschema.ValidationError, path: str, sub: dict[str, Any], value: Any, in_secret: bool) -> str:
    """One sentence for one schema error; never echoes anything found inside a secret reference."""
    kind = error.validator
    if kind == "x-finite":
        return f"expected a finite number, got {_yaml_float(value)}"
    if kind == "x-single-line":
        what = "a line break" if "\n" in value else "a carriage return"
        return f"must be a single line, but it contains {what}"
    if kind == "type":
        if sub.get("x-secret") and not isinstance(value, dict):
            return SECRET_HINT
        wanted = sub.get("type", [])
        words = " or ".join(_TYPE_WORDS[str(t)] for t in (wanted if isinstance(wanted, list) else [wanted]))
        if sub.get("format") in FORMATS:
            words = _a(FORMATS[sub["format"]][1])
        return f"expected {words}, got {_kind(value)}"
    if kind == "format":
        if in_secret and sub["format"] == "envname":
            # people paste the secret itself where its variable's name belongs: do not print it back
            return "env takes the name of an environment variable (letters, digits, _), not the secret itself"
        if sub["format"] == "hostport":
            return f"{_show(value)} is not a valid host:port target: {_hostport_reason(value)}"
        return f"{_show(value)} is not a valid {FORMATS[sub['format']][1]}"
    if kind == "enum":
        return f"{_show(value)} is not one of: {', '.join(str(v) for v in sub['enum'])}"
    if kind == "const":
        if path == "$.version":
            return f"unsupported spec version {_show(value)}; this promstack reads version {sub['const']}"
        return f"must be {sub['const']!r}"
    if kind in ("minProperties", "maxProperties") and in_secret:
        return "a secret reference takes exactly one of 'env' or 'file'"
    if kind == "minItems":
        return "must not be empty" if sub["minItems"] == 1 else f"needs at least {sub['minItems']} entries"
    if kind == "minLength":
        return "must not be empty" if sub["minLength"] == 1 else f"needs at least {sub['minLength']} characters"
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return _bound_message(kind, sub, value, path)
    if kind == "pattern":
        if sub.get("x-message"):
            return str(sub["x-message"])
        if sub["pattern"] == "^/":
            return f"{_show(value)} must start with '/'"
        return f"{_show(value)} must match {sub['pattern']}"
    if kind == "oneOf" and path == "$.alerts.packs":
        return "must be 'default', 'none' or a list of rule pack names"
    return "invalid secret reference" if in_secret else error.message


def _yaml_float(value: float) -> str:
    """How YAML spells a non-finite number (what the user wrote), not Python's nan/inf."""
    return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"


def _bound_message(kind: str, sub: dict[str, Any], value: Any, path: str) -> str:
    if path.endswith(".port") and sub.get("minimum") == 1:
        return f"{value} is not a valid port (1-65535)"
    if path.endswith(".objective"):
        words = "an SLO objective is a percentage above 0 and below 100"
        if kind == "exclusiveMaximum":
            return f"{words}: {value} leaves no error budget to alert on (try 99.9)"
        return f"{words}, not {value} (try 99.9)"
    return str(sub.get("x-message") or f"{value} must be {_RELATIONS[kind]} {sub[kind]}")


def _a(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def _hostport_reason(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep:
        return f"add the port, e.g. {_show(value + ':8000')}"
    if not host:
        return "the host is missing"
    if not port.isdigit():
        return f"the port {_show(port)} is not a number"
    if not 0 < int(port) < 65536:
        return f"port {int(port)} is not between 1 and 65535"
    return f"{_show(host)} is not a host name or [IPv6] address"


def _named(items: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    # semantic checks also run on documents the schema rejected, so every value may have any type
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
            yield doc.problem(
                f"{base}[{index}].{'alert' if 'alert' in item else 'name'}",
                f"duplicate {what} '{name}' (also {base}[{seen[name]}])",
            )
        else:
            seen[name] = index


def _strings(items: Any) -> Iterator[tuple[int, str]]:
    """The string entries of a list (anything else was reported by the schema already)."""
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, str):
                yield index, item


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _routes(routes: Any, base: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, route in _named(routes):
        path = f"{base}[{index}]"
        yield path, route
        yield from _routes(route.get("routes"), f"{path}.routes")


def _semantic_problems(doc: Document) -> Iterator[Problem]:
    data = doc.data if isinstance(doc.data, dict) else {}
    services = data.get("services")
    yield from _duplicates(doc, "$.services", services, "service name")
    exporters = _mapping(data, "exporters")
    jobs = {conventions.EXPORTERS.get(k, k) for k in exporters} | set(conventions.CORE) | {"demo"}
    for index, service in _named(services):
        name = service.get("name")
        if isinstance(name, str) and name in jobs:
            yield doc.problem(
                f"$.services[{index}].name",
                f"service name '{name}' is taken by a component of the stack; choose another",
            )
        yield from _duplicates(doc, f"$.services[{index}].slos", service.get("slos"), "SLO name")
        yield from _slo_problems(doc, f"$.services[{index}]", service)
    # the demo is an instrumented service of its own: its SLOs obey the same rules
    demo = {"http": {"requests": "demo", "duration": "demo"}, "slos": _mapping(data, "demo").get("slos")}
    yield from _duplicates(doc, "$.demo.slos", demo["slos"], "SLO name")
    yield from _slo_problems(doc, "$.demo", demo)
    blackbox = exporters.get("blackbox")
    if isinstance(blackbox, dict):
        yield from _duplicates(doc, "$.exporters.blackbox.probes", blackbox.get("probes"), "probe name")
    yield from _exposure_problems(doc, data)
    yield from _port_problems(doc, data)
    yield from _duration_problems(doc, data)
    alerts = _mapping(data, "alerts")
    yield from _duplicates(doc, "$.alerts.rules", alerts.get("rules"), "alert name")
    notifications = data.get("notifications")
    if isinstance(notifications, dict):
        yield from _notification_problems(doc, notifications)


def _slo_problems(doc: Document, base: str, service: dict[str, Any]) -> Iterator[Problem]:
    http = service["http"] if isinstance(service.get("http"), dict) else None
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
            period = slo["period"] if isinstance(slo.get("period"), str) else conventions.DEFAULT_SLO_PERIOD
            fastest = Decimal("14.4") * Decimal(duration_ms(period) or 1) / Decimal(2592000000)
            if fastest * budget >= 1:
                yield doc.problem(
                    f"{path}.objective",
                    f"an objective of {objective} leaves so much error budget that the {fastest:.4g}x burn-rate "
                    f"alert can never fire; use an objective above {100 * (1 - 1 / fastest):.4g}",
                )


def _components(data: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    components = _mapping(data, "components")
    for key, value in components.items():
        if isinstance(value, dict):
            yield key, f"$.components.{key}", value
    exporters = _mapping(data, "exporters")
    for key, value in exporters.items():
        if isinstance(value, dict):
            yield conventions.EXPORTERS.get(key, key), f"$.exporters.{key}", value


def _exposure_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    """Exposure is real or refused: published beyond 127.0.0.1 only behind authentication the component
    enforces itself (its catalog entry's `auth`); a component that cannot enforce any takes neither."""
    for name, path, value in _components(data):
        if name not in catalog.entries():
            continue
        if not catalog.enforces_auth(name):
            for key in ("expose", "auth"):
                if key in value and value[key] not in (False, None):
                    yield doc.problem(
                        f"{path}.{key}",
                        f"{name} cannot enforce authentication, so promstack keeps it on 127.0.0.1 and the "
                        f"stack's own network; remove {key} (to reach it from elsewhere, put a proxy that "
                        "checks credentials in front of it)",
                    )
            continue
        if value.get("expose") is True and catalog.entry(name).auth != "login":
            auth = value.get("auth")
            if not (isinstance(auth, dict) and auth.get("basic")):
                yield doc.problem(
                    f"{path}.expose",
                    f"exposing {name} beyond 127.0.0.1 needs authentication: add "
                    "auth: {basic: {username: ..., password: {env: ...}}} (and tls: {cert: ..., key: ...})",
                )


def _listeners(data: dict[str, Any]) -> Iterator[tuple[str, str, int, bool]]:
    """(component, spec path, host port, explicitly set) of everything that will listen on a port."""
    running = [
        (name, path, value)
        for name, path, value in _components(data)
        if name in catalog.entries() and catalog.entry(name).image is not None
    ]
    for name in conventions.CORE:
        if name not in {n for n, _, _ in running}:
            running.append((name, f"$.components.{name}", {}))
    demo = _mapping(data, "demo")
    if demo.get("enabled") is True:
        running.append(("demo", "$.demo", demo))
    receivers = _mapping(data, "notifications").get("receivers")
    if any("dingtalk" in r for _, r in _named(receivers)):
        running.append(("dingtalk", "$.notifications.receivers", {}))
    for name, path, value in running:
        if catalog.entry(name).spec.can_disable and value.get("enabled") is False:
            continue
        port = value.get("port")
        if isinstance(port, int) and not isinstance(port, bool):
            yield name, f"{path}.port", port, True
        else:
            yield name, path, catalog.entry(name).port, False


def _port_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    # defaults first, so a clash is reported at the port someone wrote, not at a default nobody wrote
    listeners = sorted(_listeners(data), key=lambda item: item[3])
    seen: dict[int, tuple[str, bool]] = {}
    for name, path, port, explicit in listeners:
        if port in seen and explicit:
            other, other_explicit = seen[port]
            whose = other if other_explicit else f"{other} (its default port)"
            yield doc.problem(path, f"port {port} is already used by {whose}; choose another")
        seen.setdefault(port, (name, explicit))


# durations where 0 is accepted by the tools but silently means "the default" or "never"
_POSITIVE_DURATIONS = frozenset({"scrape_interval", "scrape_timeout", "evaluation_interval", "interval", "period"})
_POSITIVE_DURATIONS |= {"threshold", "group_interval", "repeat_interval"}
_FREE_TEXT = frozenset({"labels", "external_labels", "match", "match_re", "series"})  # any key, any value


def _duration_problems(doc: Document, data: Any, path: str = "$") -> Iterator[Problem]:
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        sub = child_path(path, key)
        if isinstance(value, str) and key in _POSITIVE_DURATIONS and duration_ms(value) == 0:
            yield doc.problem(sub, f"{key} must be longer than {value}")
        elif isinstance(value, (dict, list)) and key not in _FREE_TEXT:
            yield from _duration_problems(doc, value, sub)
    if path == "$" and isinstance(data, dict):
        timeout, interval = data.get("scrape_timeout"), data.get("scrape_interval", conventions.DEFAULT_SCRAPE_INTERVAL)
        if isinstance(timeout, str) and isinstance(interval, str):
            timeout_ms, interval_ms = duration_ms(timeout), duration_ms(interval)
            if timeout_ms and interval_ms and timeout_ms > interval_ms:
                yield doc.problem(
                    "$.scrape_timeout",
                    f"scrape_timeout {timeout} is longer than scrape_interval {interval}; Prometheus refuses that",
                )


def _notification_problems(doc: Document, data: dict[str, Any]) -> Iterator[Problem]:
    receivers = data.get("receivers")
    yield from _duplicates(doc, "$.notifications.receivers", receivers, "receiver name")
    yield from _duplicates(doc, "$.notifications.time_intervals", data.get("time_intervals"), "time interval")
    names = {r["name"] for _, r in _named(receivers) if isinstance(r.get("name"), str)}
    intervals = {t["name"] for _, t in _named(data.get("time_intervals")) if isinstance(t.get("name"), str)}
    default = data.get("default_receiver")
    if isinstance(default, str) and default not in names:
        yield doc.problem("$.notifications.default_receiver", _unknown("receiver", default, names))
    for path, route in _routes(data.get("routes"), "$.notifications.routes"):
        receiver = route.get("receiver")
        if isinstance(receiver, str) and receiver not in names:
            yield doc.problem(f"{path}.receiver", _unknown("receiver", receiver, names))
        for key in ("mute_during", "active_during"):
            for i, interval in _strings(route.get(key)):
                if interval not in intervals:
                    yield doc.problem(f"{path}.{key}[{i}]", _unknown("time interval", interval, intervals))
    for index, test in _named(data.get("tests")):
        for i, receiver in _strings(test.get("receivers")):
            if receiver not in names:
                yield doc.problem(
                    f"$.notifications.tests[{index}].receivers[{i}]", _unknown("receiver", receiver, names)
                )
    for index, receiver in _named(receivers):
        if "email" in receiver and not isinstance(data.get("smtp"), dict):
            yield doc.problem(
                f"$.notifications.receivers[{index}].email",
                "an email receiver needs notifications.smtp: {smarthost: ..., from: ...}",
            )


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
    problems.extend(kind_problems(doc))
    problems.extend(label_problems(doc))
    problems.extend(catalog_problems(doc))
    problems.extend(dashboard_problems(doc))
    if problems:
        # the spec will not build, so `check` cannot lint its alerts: say here what it would have said
        problems.extend(lint_problems(doc, problems))
        raise SpecError([printable(p) for p in problems])
