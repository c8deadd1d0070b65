"""Sequence diagrams of a voice call as inline SVG, built with ElementTree (every text is escaped).

A diagram is a list of lifelines (the suite's REST client, the target, the caller leg's app, the
callee leg's app) and a list of :class:`Arrow` s from top to bottom.  Used by the HTML report and by
the simulator's live view (``/_sim/ui``); neither needs a script or a network to show it.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree as ET

__all__ = ["LANES", "Arrow", "Style", "clean", "sequence_svg"]

Style = Literal["rest", "response", "webhook", "reply", "missing", "note"]

#: The lifelines, left to right.
LANES = ("suite", "target", "caller app", "callee app")

_LANE_GAP = 210
_LEFT = 150  # room for the time column
_TOP = 46
_LINE = 14
_WRAP = 46
_MAX_LINES = 3
_TOOLTIP_LIMIT = 4000
_COLOURS = {
    "rest": "#1f5fa8",
    "response": "#1f5fa8",
    "webhook": "#2e7d32",
    "reply": "#6d6d6d",
    "missing": "#c62828",
    "note": "#6d6d6d",
}


@dataclass
class Arrow:
    """One message: ``source`` and ``dest`` are lane names; ``detail`` becomes the tooltip."""

    source: str
    dest: str
    label: str
    style: Style
    detail: str = ""
    time: str = ""
    flag: str = ""  # drawn in red beside the label: "out of order", "unexpected", ...
    ids: tuple[str, ...] = ()  # the records it stands for (several for a collapsed run)


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean(text: str) -> str:
    """``text`` without the control characters HTML and XML cannot hold (shown as U+FFFD)."""
    return _CONTROL.sub("\ufffd", text)


def _lines(text: str) -> list[str]:
    lines: list[str] = []
    for part in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(part, _WRAP, break_long_words=True) or [""])
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], lines[_MAX_LINES - 1][: _WRAP - 1] + "…"]
    return lines


def sequence_svg(
    arrows: Sequence[Arrow],
    *,
    lanes: Sequence[str] = LANES,
    titles: Sequence[str] | None = None,
    key: str = "d",
) -> ET.Element:
    """The ``<svg>`` element of a diagram; ``titles`` name the lanes on the page (default: their
    names); ``key`` keeps marker ids unique within one page."""
    names = dict(zip(lanes, titles or lanes, strict=True))
    x_of = {lane: _LEFT + index * _LANE_GAP for index, lane in enumerate(lanes)}
    rows: list[tuple[Arrow, list[str], int]] = []
    y = _TOP + 24
    for arrow in arrows:
        lines = _lines(arrow.label + (f"  [{arrow.flag}]" if arrow.flag else ""))
        y += _LINE * len(lines) + 6
        rows.append((arrow, lines, y))
        y += 10
    height = y + 20
    width = _LEFT + _LANE_GAP * (len(lanes) - 1) + 110
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "class": "sequence",
            "width": str(width),
            "height": str(height),
            "viewBox": f"0 0 {width} {height}",
            "role": "img",
        },
    )
    ET.SubElement(svg, "title").text = "sequence of the exchanges of this test"
    defs = ET.SubElement(svg, "defs")
    for style, colour in _COLOURS.items():
        marker = ET.SubElement(
            defs,
            "marker",
            {
                "id": f"{key}-{style}",
                "viewBox": "0 0 10 10",
                "refX": "9",
                "refY": "5",
                "markerWidth": "7",
                "markerHeight": "7",
                "orient": "auto-start-reverse",
            },
        )
        ET.SubElement(marker, "path", {"d": "M 0 0 L 10 5 L 0 10 z", "fill": colour})
    for lane, x in x_of.items():
        ET.SubElement(
            svg,
            "line",
            {"x1": str(x), "y1": str(_TOP), "x2": str(x), "y2": str(height - 8), "class": "lifeline"},
        )
        ET.SubElement(
            svg,
            "rect",
            {"x": str(x - 75), "y": "8", "width": "150", "height": "26", "rx": "4", "class": "lane"},
        )
        label = ET.SubElement(svg, "text", {"x": str(x), "y": "26", "class": "lane-name"})
        label.text = clean(names[lane])
    for arrow, lines, y in rows:
        _draw(svg, arrow, lines, y, x_of, key)
    return svg


def _draw(svg: ET.Element, arrow: Arrow, lines: list[str], y: int, x_of: dict[str, int], key: str) -> None:
    x1 = x_of.get(arrow.source, x_of[next(iter(x_of))])
    x2 = x_of.get(arrow.dest, x1)
    classes = f"msg {arrow.style}" + (" flagged" if arrow.flag else "")
    group = ET.SubElement(svg, "g", {"class": classes})
    if arrow.ids:
        group.set("data-ids", " ".join(arrow.ids))
    tooltip = arrow.detail or arrow.label
    if len(tooltip) > _TOOLTIP_LIMIT:
        tooltip = tooltip[:_TOOLTIP_LIMIT] + " …"
    ET.SubElement(group, "title").text = clean(tooltip)
    if arrow.time:
        stamp = ET.SubElement(group, "text", {"x": "6", "y": str(y), "class": "time"})
        stamp.text = clean(arrow.time)
    style = arrow.style
    line = {
        "x1": str(x1),
        "y1": str(y),
        "x2": str(x2 - 2 if x2 > x1 else x2 + 2),
        "y2": str(y),
        "stroke": _COLOURS[style] if not arrow.flag else _COLOURS["missing"],
        "marker-end": f"url(#{key}-{style if not arrow.flag else 'missing'})",
        "class": "arrow",
    }
    if style in ("response", "reply", "missing"):
        line["stroke-dasharray"] = "6 4" if style == "missing" else "3 3"
    ET.SubElement(group, "line", line)
    middle = (x1 + x2) / 2
    text = ET.SubElement(group, "text", {"x": f"{middle:g}", "y": str(y - 4 - _LINE * (len(lines) - 1))})
    for index, part in enumerate(lines):
        span = ET.SubElement(text, "tspan", {"x": f"{middle:g}", "dy": "0" if index == 0 else str(_LINE)})
        span.text = clean(part)
