"""Durations and sizes: parsed once (in build, or where a constant is defined), read by every stage.

`Duration` and `Size` are the text exactly as written ("1h30m", "20GB"), so a rendered config says
what the spec said, carrying the length parsed from it (`.ms`, `.seconds`, `.bytes`). They are `str`
subclasses: they serialize as their text in YAML (render.dump_yaml has a representer), JSON and
Jinja, and compare equal to the same text read back from a rendered file. Equality is therefore
by spelling ("60s" != "1m"); compare lengths with `.ms`. Bad text raises ValueError on construction,
so a wrong value fails where it is made instead of turning into 0 where it is used.

`duration_ms` and `size_bytes` (None for text that is not one) are for validation, which must report
bad text rather than raise; every other stage reads `.ms` / `.bytes`.

`grafana_unit` turns the spec's `unit:` words (declared metrics, custom panels) into Grafana unit ids.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import ClassVar, Self

# every pattern is used with fullmatch: `$` alone also matches before a trailing newline ("5m\n")
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS_MS = (365 * 86400_000, 7 * 86400_000, 86400_000, 3600_000, 60_000, 1000, 1)
SIZE = re.compile(r"^(\d+)(B|KB|MB|GB|TB|PB)$")
_SIZE_FACTORS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}


def duration_ms(text: str) -> int | None:
    """Milliseconds of a Prometheus duration, or None when it is not one."""
    match = _DURATION.fullmatch(text) if text else None
    if not match or not any(match.groups()):
        return None
    return sum(int(g) * unit for g, unit in zip(match.groups(), _UNITS_MS, strict=True) if g)


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
    """Bytes of a spec size (512MB), or None when it is not one."""
    match = SIZE.fullmatch(text)
    return int(match.group(1)) * _SIZE_FACTORS[match.group(2)] if match else None


class _Measured(str):
    """Text with the number it spells, parsed once, on construction."""

    _value: int
    _kind: ClassVar[str]

    @staticmethod
    def _parse(text: str) -> int | None:
        raise NotImplementedError

    def __new__(cls, text: str) -> Self:
        if isinstance(text, cls):
            return text  # already parsed
        value = cls._parse(text) if isinstance(text, str) else None
        if value is None:
            raise ValueError(f"not a {cls._kind}: {text!r}")
        self = super().__new__(cls, text)
        self._value = value
        return self


class Duration(_Measured):
    """A Prometheus duration as written ("1h30m"), with its length in `.ms`."""

    _kind = "duration"

    @staticmethod
    def _parse(text: str) -> int | None:
        return duration_ms(text)

    @classmethod
    def of_ms(cls, ms: int) -> Duration:
        """A computed duration, in its shortest form: of_ms(5400000) == "1h30m"."""
        return cls(format_duration(ms))

    @property
    def ms(self) -> int:
        return self._value

    @property
    def seconds(self) -> Decimal:
        return Decimal(self._value) / 1000


class Size(_Measured):
    """A spec size as written ("20GB"), with its length in `.bytes`."""

    _kind = "size"

    @staticmethod
    def _parse(text: str) -> int | None:
        return size_bytes(text)

    @property
    def bytes(self) -> int:
        return self._value


def compose_memory(size: Size) -> str:
    """Spec size (512MB) -> compose/docker memory string (512m)."""
    for suffix, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size.bytes % factor == 0:
            return f"{size.bytes // factor}{suffix}"
    return str(size.bytes)


def kubernetes_quantity(memory: str) -> str:
    """A compose/docker memory string (512m, 1g, as `compose_memory` and the catalog spell it) as a
    Kubernetes quantity (512Mi, 1Gi): both count in powers of 1024."""
    number, suffix = memory.rstrip("kmgKMG"), memory[len(memory.rstrip("kmgKMG")) :].lower()
    return f"{number}{ {'k': 'Ki', 'm': 'Mi', 'g': 'Gi', '': ''}[suffix] }"


def volume_size(size: Size, headroom: Decimal) -> str:
    """A volume for data that Prometheus keeps under `size` (its retention size), with `headroom` more for
    what the retention size does not count while it works (the write-ahead log, compaction): whole Gi."""
    gib = Decimal(size.bytes) * (1 + headroom) / 1024**3
    return f"{max(1, int(gib.to_integral_value(rounding='ROUND_CEILING')))}Gi"


# the words of `unit:` in the spec -> Grafana unit ids; a counter's rate has its own unit
GRAFANA_UNITS = {"seconds": "s", "milliseconds": "ms", "bytes": "bytes", "percent": "percent", "ratio": "percentunit"}
_GRAFANA_RATE_UNITS = {"bytes": "Bps"}


def grafana_unit(word: str, rate: bool = False) -> str:
    """The Grafana unit id for a `unit:` of the spec: its word's (seconds -> s, ratio -> percentunit,
    ...), any other text as a unit id itself, "short" (a plain number) for none; `rate`: of its rate."""
    unit = GRAFANA_UNITS.get(word, word) or "short"
    return _GRAFANA_RATE_UNITS.get(unit, unit) if rate else unit
