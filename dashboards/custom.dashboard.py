"""Custom: the spec's own dashboards (`dashboards.custom[]`), one Board each (generator/dashboards_custom.py)."""

from __future__ import annotations

from generator import dashboards as g
from generator import dashboards_custom
from generator.model import Stack


def dashboard(stack: Stack) -> list[g.Board]:
    return dashboards_custom.boards(stack)
