"""Stage `build` output, dashboards part (`dashboards:`, `dashboards.custom[]`). Re-exported by
`generator.model`, which the rest of the code imports them from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # generator.model imports this module
    from generator.model import DeclaredMetric


@dataclass(frozen=True)
class PanelQuery:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class CustomPanel:
    """A panel of a custom dashboard (`dashboards.custom[].rows[].panels[]`); sizes in grid units."""

    title: str
    type: str  # timeseries | stat | gauge | bargauge | table | heatmap | text
    width: int
    height: int
    unit: str  # a Grafana unit id
    queries: tuple[PanelQuery, ...] = ()
    metric: DeclaredMetric | None = None  # a declared metric: its queries by type, on its service
    service: str = ""  # the service declaring `metric`
    match: tuple[tuple[str, str], ...] = ()  # (label, value): narrows `metric`'s series; a $variable matches =~
    decimals: int | None = None
    thresholds: tuple[tuple[str, float | None], ...] = ()  # (color, from value); the base step has None
    min: float | None = None
    max: float | None = None
    description: str = ""
    links: tuple[tuple[str, str], ...] = ()  # (title, url)
    text: str = ""  # Markdown, for a text panel


@dataclass(frozen=True)
class CustomVariable:
    """$name: the values of `label` on `metric`'s series, or the fixed `values`."""

    name: str
    title: str
    metric: str | None = None
    label: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomRow:
    title: str
    panels: tuple[CustomPanel, ...]


@dataclass(frozen=True)
class CustomDashboard:
    uid: str
    title: str
    folder: str  # the Grafana folder title
    description: str
    rows: tuple[CustomRow, ...]
    tags: tuple[str, ...] = ()
    variables: tuple[CustomVariable, ...] = ()


@dataclass(frozen=True)
class Dashboards:
    enabled: bool
    folder: str
    exclude: tuple[str, ...] = ()
    custom: tuple[CustomDashboard, ...] = ()
