"""Value formats of the spec (durations, sizes, host:port, names) and their conversions."""

from __future__ import annotations

import re
from decimal import Decimal

# every pattern is used with fullmatch: `$` alone also matches before a trailing newline ("5m\n")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS_MS = (365 * 86400_000, 7 * 86400_000, 86400_000, 3600_000, 60_000, 1000, 1)
_SIZE = re.compile(r"^(\d+)(B|KB|MB|GB|TB|PB)$")
_SIZE_FACTORS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,252}))$")

FORMATS: dict[str, tuple[re.Pattern[str] | None, str]] = {
    "duration": (None, "duration (e.g. 30s, 5m, 1h30m, 7d)"),
    "size": (_SIZE, "size (e.g. 512MB, 20GB)"),
    "hostport": (None, "host:port target (e.g. api:8000)"),
    "labelname": (re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$"), "label name (letters, digits, underscores)"),
    "labelvalue": (re.compile(r"^.+$"), "label value"),
    "name": (re.compile(r"^[a-z][a-z0-9_-]{0,39}$"), "name (lower-case letters, digits, - and _, at most 40)"),
    "envname": (re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$"), "environment variable name"),
    "metricname": (re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"), "metric name"),
    "url": (re.compile(r"^https?://[^\s/$.?#].[^\s]*$"), "URL (http:// or https://)"),
    "alertname": (re.compile(r"^[A-Z][A-Za-z0-9]*$"), "alert name (CamelCase, e.g. OrdersStalled)"),
}


def duration_ms(text: str) -> int | None:
    """Milliseconds of a Prometheus duration, or None when it is not one."""
    match = _DURATION.fullmatch(text) if text else None
    if not match or not any(match.groups()):
        return None
    return sum(int(g) * unit for g, unit in zip(match.groups(), _UNITS_MS, strict=True) if g)


def duration_seconds(text: str) -> Decimal:
    ms = duration_ms(text)
    if ms is None:
        raise ValueError(f"not a duration: {text!r}")
    return Decimal(ms) / 1000


def format_duration(ms: int) -> str:
    """Shortest Prometheus form of a duration: 5400000 -> 1h30m."""
    if ms == 0:
        return "0s"
    parts = []
    for unit, name in ((86400_000, "d"), (3600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")):
        if ms >= unit:
            parts.append(f"{ms // unit}{name}")
            ms %= unit
    return "".join(parts)


def size_bytes(text: str) -> int | None:
    match = _SIZE.fullmatch(text)
    return int(match.group(1)) * _SIZE_FACTORS[match.group(2)] if match else None


def compose_memory(text: str) -> str:
    """Spec size (512MB) -> compose/docker memory string (512m)."""
    number = size_bytes(text)
    assert number is not None
    for suffix, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if number % factor == 0:
            return f"{number // factor}{suffix}"
    return str(number)


def is_hostport(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        return False
    return 0 < int(port) < 65536 and bool(_HOST.fullmatch(host))


def conforms(fmt: str, value: str) -> bool:
    if fmt == "duration":
        return duration_ms(value) is not None
    if fmt == "hostport":
        return is_hostport(value)
    pattern = FORMATS[fmt][0]
    return bool(pattern and pattern.fullmatch(value))
