"""promtool input series written from segments: what the generated tests of alert kinds feed in.

A series is sampled every `step`; a segment is a number of samples. Counters are written by their rate
(per second) in each segment, gauges by their value (or a linear ramp). Values are exact decimals, so a
test says precisely what it means (promtool's `a+bxn` gives n+1 samples: a, a+b, ..., a+n*b).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from generator.rules_catalog import plain

__all__ = ["Level", "Rate", "counter", "gauge", "plain"]


@dataclass(frozen=True)
class Rate:
    """A counter growing by `per_second` for `samples` samples."""

    per_second: Decimal
    samples: int


@dataclass(frozen=True)
class Level:
    """A gauge at `value`, then rising by `slope` per second, for `samples` samples; `missing` writes
    no sample at all (the series stops being reported)."""

    value: Decimal
    samples: int
    slope: Decimal = Decimal(0)
    missing: bool = False


def counter(segments: Sequence[Rate], step_seconds: Decimal) -> str:
    """A counter starting at 0; each segment's samples add `per_second * step` to the previous one."""
    parts: list[str] = []
    value = Decimal(0)
    first = True
    for segment in segments:
        increment = segment.per_second * step_seconds
        count = segment.samples
        if first:  # the very first sample is the counter's start, 0
            parts.append(f"0+{plain(increment)}x{count - 1}")
            value = increment * (count - 1)
            first = False
            continue
        start = value + increment
        parts.append(f"{plain(start)}+{plain(increment)}x{count - 1}")
        value = start + increment * (count - 1)
    return " ".join(parts)


def gauge(segments: Sequence[Level], step_seconds: Decimal) -> str:
    parts = []
    for segment in segments:
        if segment.missing:
            parts.append(f"_x{segment.samples}")
        elif segment.slope:
            parts.append(f"{plain(segment.value)}+{plain(segment.slope * step_seconds)}x{segment.samples - 1}")
        else:
            parts.append(f"{plain(segment.value)}x{segment.samples - 1}")
    return " ".join(parts)
