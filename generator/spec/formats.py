"""Value formats of the spec (durations, sizes, host:port, names), as validation checks them.

What a duration or a size means is generator.units; this module only says which text conforms.
"""

from __future__ import annotations

import re
from datetime import datetime

from generator.units import duration_ms, size_bytes

# every pattern is used with fullmatch: `$` alone also matches before a trailing newline ("5m\n")
_HOST = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,252}))$")

FORMATS: dict[str, tuple[re.Pattern[str] | None, str]] = {
    "duration": (None, "duration (e.g. 30s, 5m, 1h30m, 7d)"),
    "size": (None, "size (e.g. 512MB, 20GB)"),
    "hostport": (None, "host:port target (e.g. api:8000)"),
    "labelname": (re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$"), "label name (letters, digits, underscores)"),
    "labelvalue": (re.compile(r"^.+$"), "label value"),
    "name": (re.compile(r"^[a-z][a-z0-9_-]{0,39}$"), "name (lower-case letters, digits, - and _, at most 40)"),
    "envname": (re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$"), "environment variable name"),
    "metricname": (re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"), "metric name"),
    "url": (re.compile(r"^https?://[^\s/$.?#].[^\s]*$"), "URL (http:// or https://)"),
    "alertname": (re.compile(r"^[A-Z][A-Za-z0-9]*$"), "alert name (CamelCase, e.g. OrdersStalled)"),
    "headername": (re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"), "HTTP header name (e.g. X-Scope-OrgID)"),
    "datetime": (None, "date and time with a zone, RFC 3339 (e.g. 2024-06-01T03:00:00+02:00)"),
    "dnslabel": (
        re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$"),
        "Kubernetes name (lower-case letters, digits and -, at most 63, starting and ending with a letter or digit)",
    ),
    "portname": (
        re.compile(r"^(?=.*[a-z])[a-z0-9](?:[-a-z0-9]{0,13}[a-z0-9])?$"),
        "Kubernetes port name (lower-case letters, digits and -, at most 15, with a letter)",
    ),
}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


def moment(text: str) -> datetime | None:
    """The aware datetime of an RFC 3339 timestamp with a zone, or None."""
    if not _DATETIME.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def is_hostport(text: str) -> bool:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        return False
    return 0 < int(port) < 65536 and bool(_HOST.fullmatch(host))


def conforms(fmt: str, value: str) -> bool:
    if fmt == "duration":
        return duration_ms(value) is not None
    if fmt == "size":
        return size_bytes(value) is not None
    if fmt == "hostport":
        return is_hostport(value)
    if fmt == "datetime":
        return moment(value) is not None
    pattern = FORMATS[fmt][0]
    return bool(pattern and pattern.fullmatch(value))
