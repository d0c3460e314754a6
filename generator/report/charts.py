"""The HTML report's plots as inline SVG, built as XML elements and serialized (no script, no CDN: a
report reads the same offline, in a mail client, or printed).

`burn_down`: budget left over time, 100% at the top, the zero line marked, overspending below it.
`per_day`: a bar per day of alert episodes started.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 10, 24
INK, GRID, LINE, BAD = "#333", "#ddd", "#1f77b4", "#d62728"


def _svg(title: str) -> ET.Element:
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "width": str(WIDTH),
            "height": str(HEIGHT),
            "role": "img",
            "font-family": "sans-serif",
            "font-size": "11",
        },
    )
    ET.SubElement(svg, "title").text = title
    return svg


def _text(parent: ET.Element, x: float, y: float, text: str, anchor: str = "start") -> None:
    ET.SubElement(parent, "text", {"x": f"{x:.1f}", "y": f"{y:.1f}", "fill": INK, "text-anchor": anchor}).text = text


def _line(parent: ET.Element, x1: float, y1: float, x2: float, y2: float, color: str, dash: bool = False) -> None:
    attrs = {"x1": f"{x1:.1f}", "y1": f"{y1:.1f}", "x2": f"{x2:.1f}", "y2": f"{y2:.1f}", "stroke": color}
    if dash:
        attrs["stroke-dasharray"] = "4 3"
    ET.SubElement(parent, "line", attrs)


def _stamp(at: float, span: float) -> str:
    return time.strftime("%m-%d %H:%M" if span < 3 * 86400 else "%Y-%m-%d", time.gmtime(at))


def burn_down(points: list[list[float]], title: str) -> str:
    """Budget left (a fraction; below 0 when overspent) against time."""
    svg = _svg(title)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if not points:
        _text(svg, WIDTH / 2, HEIGHT / 2, "no traffic in this span", "middle")
        return ET.tostring(svg, encoding="unicode")
    low = min(0.0, *(v for _, v in points))
    high = max(1.0, *(v for _, v in points))
    first, last = points[0][0], points[-1][0]
    span = max(last - first, 1.0)

    def x(at: float) -> float:
        return LEFT + (at - first) / span * inner_w

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * inner_h

    labelled: list[float] = []
    for level in (0.0, 1.0, low, 0.5, high):  # most telling first; one too close to another is left out
        if any(abs(y(level) - y(other)) < 12 for other in labelled):
            continue
        labelled.append(level)
        _line(svg, LEFT, y(level), WIDTH - RIGHT, y(level), BAD if level == 0 else GRID, dash=level == 0)
        _text(svg, LEFT - 4, y(level) + 4, f"{level * 100:.0f}%", "end")
    coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    ET.SubElement(svg, "polyline", {"points": coords, "fill": "none", "stroke": LINE, "stroke-width": "2"})
    _text(svg, LEFT, HEIGHT - 6, _stamp(first, span))
    _text(svg, WIDTH - RIGHT, HEIGHT - 6, _stamp(last, span), "end")
    return ET.tostring(svg, encoding="unicode")


def per_day(days: list[dict[str, object]], title: str) -> str:
    """A bar per day: how many alert episodes started that day."""
    svg = _svg(title)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if not days:
        _text(svg, WIDTH / 2, HEIGHT / 2, "no alert fired in this span", "middle")
        return ET.tostring(svg, encoding="unicode")
    top = max(int(str(d["fired"])) for d in days)
    width = min(inner_w / len(days), 48.0)  # one day alone is a bar, not a wall
    _line(svg, LEFT, TOP + inner_h, WIDTH - RIGHT, TOP + inner_h, INK)
    _text(svg, LEFT - 4, TOP + 8, str(top), "end")
    _text(svg, LEFT - 4, TOP + inner_h, "0", "end")
    for index, day in enumerate(days):
        count = int(str(day["fired"]))
        height = count / top * inner_h
        bar = {
            "x": f"{LEFT + index * width + 1:.1f}",
            "y": f"{TOP + inner_h - height:.1f}",
            "width": f"{max(width - 2, 1):.1f}",
            "height": f"{height:.1f}",
            "fill": LINE,
        }
        rect = ET.SubElement(svg, "rect", bar)
        ET.SubElement(rect, "title").text = f"{day['day']}: {count}"
    _text(svg, LEFT, HEIGHT - 6, str(days[0]["day"]))
    if len(days) > 1:
        _text(svg, WIDTH - RIGHT, HEIGHT - 6, str(days[-1]["day"]), "end")
    return ET.tostring(svg, encoding="unicode")
