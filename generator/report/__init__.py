"""`promstack report`: SLOs, services, alert history and capacity of a running stack over a span of time.

`prom` asks the stack's Prometheus (found the way `status` finds it), `collect` turns the answers into
one plain dict (the JSON format, documented in docs/report.md), `alerts` and `capacity` compute their
sections, `charts` draws the HTML report's plots as inline SVG, and `render` writes JSON, Markdown or
HTML (Jinja2 templates in generator/templates/, StrictUndefined). Every SLO expression comes from
generator/slo_math.py, the one place the SLO rules and dashboards read too.
"""

from __future__ import annotations

import time
from pathlib import Path

from generator.errors import UsageError
from generator.report.collect import collect
from generator.report.prom import connect
from generator.report.render import FORMATS, render
from generator.runtimes.options import Options
from generator.units import Duration

SUFFIXES = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown", ".json": "json"}


def report(spec: Path, since: str, form: str | None, out: Path | None, options: Options) -> str:
    """The report of the stack of `spec` over the last `since`, as text in `form` (else from `out`'s suffix,
    else HTML)."""
    try:
        span = Duration(since)
    except ValueError:
        raise UsageError(f"--since {since!r} is not a duration (like 30d, 12h, 90m)") from None
    if span.ms <= 0:
        raise UsageError("--since must be longer than 0s")
    chosen = form or (SUFFIXES.get(out.suffix.lower()) if out else None) or "html"
    if chosen not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {chosen!r}")
    stack, prom = connect(spec, options)
    return render(collect(stack, prom, span, time.time()), chosen)
