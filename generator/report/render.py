"""The report in a format: JSON (the data as collected), Markdown or HTML (Jinja2, StrictUndefined:
a key the template names and the data lacks is an error, never a blank). Figures are formatted by the
filters below, the same in both text formats; missing figures (no traffic, no histogram) read "n/a"."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from generator.report import charts
from generator.report.collect import words

FORMATS = ("html", "markdown", "json")
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _percent(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}%"


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else words(value)


def _number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _bytes(value: float | None) -> str:
    from generator.ops.progress import size

    return "n/a" if value is None else size(value)


def _stamp(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        percent=_percent, fraction=_fraction, seconds=_seconds, number=_number, bytes=_bytes, stamp=_stamp
    )
    return env


def render(report: dict[str, Any], form: str) -> str:
    if form == "json":
        return json.dumps(report, indent=2, sort_keys=True) + "\n"
    if form == "markdown":
        return _environment(False).get_template("report.md.j2").render(r=report)
    plots = {
        "burn_down": [
            Markup(charts.burn_down(s["burn_down"], f"Error budget left: {s['service']} {s['slo']}"))
            for s in report["slos"]
        ],
        "per_day": Markup(charts.per_day(report["alerts"]["per_day"], "Alert episodes started per day")),
    }
    return _environment(True).get_template("report.html.j2").render(r=report, plots=plots)
