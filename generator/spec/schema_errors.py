"""Schema errors in words: the spec's JSON Schema, checked with the extensions every tool downstream
relies on (one-line strings, finite numbers), and each error turned into one sentence at its spec path."""

from __future__ import annotations

import collections
import difflib
import math
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker

from generator.errors import Problem
from generator.spec import schema as spec_schema
from generator.spec.formats import FORMATS, conforms
from generator.spec.loader import Document, child_path

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
    if isinstance(instance, dict) and "object" in wanted:
        # a key is a value too (a label name, a matcher's name, an alert name): it lands in the same files
        for key in instance:
            if isinstance(key, str) and _broken(key):
                yield jsonschema.ValidationError(
                    "key not one line", validator="x-single-line-key", path=collections.deque([key]), instance=key
                )


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


def schema_problems(doc: Document) -> Iterator[Problem]:
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
    if kind == "x-single-line-key":
        what = "a line break" if "\n" in value else "a carriage return"
        yield doc.problem(path, f"the key {_show(value)} must be a single line, but it contains {what}", key=True)
        return
    if kind == "additionalProperties":
        allowed = sorted(sub.get("properties", {}))
        # a key with a line break is reported as such (x-single-line-key), not as unknown as well
        for key in sorted(k for k in value if k not in sub.get("properties", {}) and not _broken(str(k))):
            yield doc.problem(child_path(path, key), _unknown_key(path, key, allowed), key=True)
        return
    if kind == "required":
        hints = sub.get("x-hints", {})
        for key in [k for k in sub.get("required", []) if k not in value]:
            yield doc.problem(path, f"missing required key '{key}'" + (f": {hints[key]}" if key in hints else ""))
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
    if kind == "uniqueItems" and isinstance(value, list):
        twice = next((v for i, v in enumerate(value) if v in value[:i]), None)
        return f"lists {_show(twice)} twice"
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
    if kind == "not" and sub.get("x-message"):
        return str(sub["x-message"])
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
