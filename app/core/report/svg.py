"""The look of the project report: its colours and scales, and its charts as inline SVG.

Split out of html.py so that the page assembly there stays readable, and so that the Qt
dashboard can share the colours (`PALETTE`, the one palette of the report), bands and number
formats without the page: the dashboard draws the same charts with QPainter in these colours,
so that the two show the same picture. Every piece of user text that goes into an SVG (names,
titles) is escaped here, with `escape`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from app.core.report.scales import fmt_number, fmt_tick, nice_step, short

# --- the palette ----------------------------------------------------------------------------


def _colours(by_name: dict[str, str]) -> Any:
    """A palette field holding a read-only mapping of colours by name (each palette its own)."""
    return field(default_factory=lambda: MappingProxyType(dict(by_name)))


@dataclass(frozen=True)
class Palette:
    """The report's colours, in one place: the HTML page, its SVG charts, and the Qt dashboard
    and its QPainter charts (`app.views.widgets.charts`) all read them from here, so that they
    show the same picture."""

    annotators: tuple[str, ...] = (
        "#4E79A7",
        "#F28E2B",
        "#59A14F",
        "#E15759",
        "#76B7B2",
        "#B07AA1",
        "#EDC948",
        "#FF9DA7",
        "#9C755F",
        "#BAB0AC",
    )
    annotation_status: Mapping[str, str] = _colours(
        {
            "complete": "#59A14F",
            "skipped": "#EDC948",
            "discarded": "#9E9E9E",
            "draft": "#A0CBE8",
        }
    )
    datapoint_status: Mapping[str, str] = _colours(
        {
            "labeled": "#59A14F",
            "skipped": "#EDC948",
            "discarded": "#9E9E9E",
            "unlabeled": "#E3E7EA",
        }
    )
    # derived task statuses (app.core.quality.review), in the order drawn
    task_status: Mapping[str, str] = _colours(
        {
            "completed": "#59A14F",
            "completed with issues": "#E15759",
            "in progress": "#A0CBE8",
            "to-do": "#E3E7EA",
        }
    )
    # Kappa/alpha colour stops, on the Landis & Koch bands (slight, fair, moderate,
    # substantial, almost perfect): red through yellow to green. Below 0 is the bottom colour.
    kappa_stops: tuple[tuple[float, tuple[int, int, int]], ...] = (
        (0.0, (0xD7, 0x30, 0x27)),
        (0.2, (0xFC, 0x8D, 0x59)),
        (0.4, (0xFE, 0xE0, 0x8B)),
        (0.6, (0xD9, 0xEF, 0x8B)),
        (0.8, (0x91, 0xCF, 0x60)),
        (1.0, (0x1A, 0x98, 0x50)),
    )
    undefined: str = "#ECEFF1"  # a kappa that is not defined
    rule: str = "#ECEFF1"  # between table rows
    neutral: str = "#78909C"  # a label whose colour is missing or unsafe
    ink: str = "#263238"
    ink_light: str = "#FFFFFF"  # text on a dark colour
    muted: str = "#607D8B"
    faint: str = "#90A4AE"  # the page's footer
    header_note: str = "#B0BEC5"
    grid: str = "#CFD8DC"
    track: str = "#F1F4F5"  # behind a horizontal bar
    background: str = "#F4F6F7"  # the page, the board, a tile
    border: str = "#E0E5E8"  # a dashboard card or tile
    alert: str = "#C62828"
    alert_ink: str = "#B71C1C"  # text in an alert box
    alert_bg: str = "#FDECEA"
    alert_border: str = "#F5C2BE"
    ok: str = "#59A14F"
    ok_ink: str = "#2E7D32"
    ok_bg: str = "#E8F5E9"


PALETTE = Palette()
"""The one palette of the report and the dashboard."""

KAPPA_BANDS = (  # (a value inside the band, its range, its name)
    (-1.0, "< 0", "poor"),
    (0.1, "0–0.2", "slight"),
    (0.3, "0.2–0.4", "fair"),
    (0.5, "0.4–0.6", "moderate"),
    (0.7, "0.6–0.8", "substantial"),
    (0.9, "0.8–1", "almost perfect"),
)


def annotator_colour(index: int) -> str:
    """The colour of the index-th annotator (in name order); the colours repeat after ten."""
    return PALETTE.annotators[index % len(PALETTE.annotators)]


def kappa_colour(value: float | None) -> str:
    """The heat-map colour of a kappa or alpha: red (<= 0) to green (1); grey if undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return PALETTE.undefined
    x = min(1.0, max(0.0, float(value)))
    for (x0, c0), (x1, c1) in pairwise(PALETTE.kappa_stops):
        if x <= x1:
            t = (x - x0) / (x1 - x0)
            return "#" + "".join(
                f"{round(a + (b - a) * t):02X}" for a, b in zip(c0, c1, strict=True)
            )
    return "#" + "".join(f"{c:02X}" for c in PALETTE.kappa_stops[-1][1])


def ink_on(background: str) -> str:
    """Black or white text, whichever reads better on the background colour."""
    r, g, b = (int(background[k : k + 2], 16) / 255 for k in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return PALETTE.ink_light if luminance < 0.45 else PALETTE.ink


# --- SVG ------------------------------------------------------------------------------------


def escape(value: Any) -> str:
    """Any value as text safe inside HTML or SVG, attributes included: user text (names,
    reasons, labels) may come from a bundle made anywhere."""
    return html.escape(str(value), quote=True)


def _text(x: float, y: float, body: str, *, anchor: str = "start", size: int = 12, **attrs) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>'
        f"{escape(body)}</text>"
    )


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg width="{width:.0f}" height="{height:.0f}"'
        f' viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "</svg>"
    )


def _legend(
    items: list[tuple[str, str]], x: float, y: float, width: float, limit: int = 18
) -> tuple[list, float]:
    """Swatches and names (cut at `limit` characters) in rows; returns the parts and the
    height used."""
    parts, cx, cy = [], x, y
    for name, colour in items:
        w = 18 + 7 * len(short(name, limit)) + 14
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 18
        parts.append(
            f'<rect x="{cx:.1f}" y="{cy:.1f}" width="11" height="11" rx="2" fill="{colour}"/>'
        )
        parts.append(_text(cx + 16, cy + 10, short(name, limit), size=11, fill=PALETTE.ink))
        cx += w
    return parts, cy - y + 18


def stacked_bars_svg(
    rows: list[tuple[str, dict[str, int]]],
    colours: dict[str, str],
    width: int = 640,
    *,
    label: str = "progress by annotator",
    captions: dict[str, str] | None = None,
) -> str:
    """One bar per row split by status; after it the total, or the row's caption if given."""
    name_w, total_w, row_h = 170, (180 if captions else 70), 26
    legend, legend_h = _legend(list(colours.items()), name_w, 4, width - name_w, limit=24)
    top = legend_h + 10
    height = top + row_h * len(rows) + 6
    bar_w = width - name_w - total_w
    biggest = max((sum(c.get(s, 0) for s in colours) for _n, c in rows), default=0) or 1
    parts = legend
    for k, (name, counts) in enumerate(rows):
        y = top + k * row_h
        parts.append(
            f"<g><title>{escape(name)}: "
            + escape(", ".join(f"{s} {counts[s]:,}" for s in colours if counts.get(s)))
            + "</title>"
        )
        parts.append(_text(name_w - 8, y + 16, short(name), anchor="end", fill=PALETTE.ink))
        x = float(name_w)
        for status, colour in colours.items():
            n = counts.get(status, 0)
            if not n:
                continue
            w = bar_w * n / biggest
            parts.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}"'
                f' fill="{colour}"/>'
            )
            if w > 8 * len(f"{n:,}") + 6:
                parts.append(
                    _text(
                        x + w / 2, y + 16, f"{n:,}", anchor="middle", size=11, fill=ink_on(colour)
                    )
                )
            x += w
        total = sum(counts.get(s, 0) for s in colours)
        after = f"{total:,}"
        if captions and captions.get(name):
            after += f" · {captions[name]}"
        parts.append(_text(x + 6, y + 16, after, size=11, fill=PALETTE.muted))
        parts.append("</g>")
    return _svg(width, height, parts, label)


def status_bar_svg(by_status: dict[str, int], width: int = 640) -> str:
    """One bar of the datapoints by status, with shares."""
    total = sum(by_status.get(s, 0) for s in PALETTE.datapoint_status) or 1
    items = [(f"{s} {by_status.get(s, 0):,}", c) for s, c in PALETTE.datapoint_status.items()]
    legend, legend_h = _legend(items, 0, 4, width)
    y = legend_h + 8
    parts, x = legend, 0.0
    for status, colour in PALETTE.datapoint_status.items():
        n = by_status.get(status, 0)
        if not n:
            continue
        w = width * n / total
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="24" fill="{colour}">'
            f"<title>{escape(status)}: {n:,}</title></rect>"
        )
        if w > 44:
            parts.append(
                _text(
                    x + w / 2,
                    y + 16,
                    f"{100 * n / total:.0f}%",
                    anchor="middle",
                    size=11,
                    fill=ink_on(colour),
                )
            )
        x += w
    return _svg(width, y + 28, parts, "datapoints by status")


def _grid_line(left: float, plot_w: float, y: float, label: str) -> list[str]:
    """A horizontal grid line across a plot at height `y`, with its tick label left of the
    axis: what the line and accuracy charts draw for each tick."""
    return [
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}"'
        f' stroke="{PALETTE.grid}"/>',
        _text(left - 6, y + 4, label, anchor="end", size=11, fill=PALETTE.muted),
    ]


def _placeholder(left: float, top: float, plot_w: float, plot_h: float, message: str) -> str:
    """The message a chart shows, centred in its plot, when it has nothing to draw."""
    return _text(left + plot_w / 2, top + plot_h / 2, message, anchor="middle", fill=PALETTE.muted)


def line_chart_svg(
    days: list[str], series: dict[str, list[int]], colours: dict[str, str], width: int = 640
) -> str:
    height = 250
    legend, legend_h = _legend([(n, colours[n]) for n in series], 50, 4, width - 60)
    left, right, top, bottom = 50, 16, legend_h + 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(v) for v in series.values() if v), default=0)
    step = nice_step(peak or 1)
    y_top = step * max(1, math.ceil((peak or 1) / step))
    parts = legend
    tick = 0.0
    while tick <= y_top + 1e-9:
        parts.extend(_grid_line(left, plot_w, top + plot_h - plot_h * tick / y_top, fmt_tick(tick)))
        tick += step

    def x_of(k: int) -> float:
        return left + (plot_w * k / (len(days) - 1) if len(days) > 1 else plot_w / 2)

    if days:
        every = max(1, math.ceil(len(days) / 7))
        for k in range(0, len(days), every):
            parts.append(
                _text(
                    x_of(k), height - 10, days[k][5:], anchor="middle", size=11, fill=PALETTE.muted
                )
            )
    for name, values in series.items():
        colour = colours[name]
        points = " ".join(
            f"{x_of(k):.1f},{top + plot_h - plot_h * v / y_top:.1f}" for k, v in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.2"'
            f' stroke-linejoin="round"><title>{escape(name)}: {values[-1]:,}</title></polyline>'
        )
        if values:
            parts.append(
                f'<circle cx="{x_of(len(values) - 1):.1f}"'
                f' cy="{top + plot_h - plot_h * values[-1] / y_top:.1f}" r="3.5" fill="{colour}"/>'
            )
    if not series:
        parts.append(_placeholder(left, top, plot_w, plot_h, "No completed annotations yet"))
    return _svg(width, height, parts, "completed over time")


def _alert_key(left: float, key_y: float, threshold: float, rings: bool) -> list[str]:
    """The key under the accuracy chart's axis: the dashed threshold line and, when there are
    alerts, the ring that marks one."""
    parts = [
        f'<line x1="{left}" x2="{left + 26}" y1="{key_y - 4}" y2="{key_y - 4}"'
        f' stroke="{PALETTE.alert}" stroke-width="1.3" stroke-dasharray="5 4"/>',
        _text(left + 32, key_y, f"alert below {threshold:.0%}", size=11, fill=PALETTE.alert),
    ]
    if rings:
        ring_x = left + 150
        parts.append(
            f'<circle cx="{ring_x}" cy="{key_y - 4}" r="6" fill="none" stroke="{PALETTE.alert}"'
            f' stroke-width="2"/>'
        )
        parts.append(_text(ring_x + 11, key_y, "drift alert", size=11, fill=PALETTE.alert))
    return parts


def accuracy_chart_svg(
    buckets: list[str],
    series: dict[str, list[float | None]],
    items: dict[str, list[int]],
    colours: dict[str, str],
    threshold: float,
    *,
    alerts: dict[str, str] | None = None,
    width: int = 640,
) -> str:
    """Accuracy (0 to 100%) per bucket and annotator, a line through the buckets with answers,
    the alert threshold as a dashed line, and a red ring on each alert's bucket
    (`alerts`: annotator -> bucket)."""
    height = 272
    legend, legend_h = _legend([(n, colours[n]) for n in series], 50, 4, width - 60)
    left, right, top, bottom = 50, 16, legend_h + 14, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    alerts = alerts or {}

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * max(0.0, min(1.0, value))

    def x_of(k: int) -> float:
        if len(buckets) < 2:
            return left + plot_w / 2
        pad = min(24.0, plot_w / (2 * len(buckets)))
        return left + pad + (plot_w - 2 * pad) * k / (len(buckets) - 1)

    parts = legend
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.extend(_grid_line(left, plot_w, y_of(tick), f"{tick:.0%}"))
    y = y_of(threshold)
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{PALETTE.alert}"'
        f' stroke-width="1.3" stroke-dasharray="5 4"/>'
    )
    parts.extend(_alert_key(left, height - 8, threshold, bool(alerts)))
    every = max(1, math.ceil(len(buckets) / 8))
    for k in range(0, len(buckets), every):
        parts.append(
            _text(
                x_of(k),
                top + plot_h + 18,
                buckets[k][5:],
                anchor="middle",
                size=11,
                fill=PALETTE.muted,
            )
        )
    for name, values in series.items():
        colour = colours[name]
        counts = items.get(name, [])
        points = [(k, v) for k, v in enumerate(values) if v is not None]
        if len(points) > 1:
            line = " ".join(f"{x_of(k):.1f},{y_of(v):.1f}" for k, v in points)
            parts.append(
                f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2.2"'
                f' stroke-linejoin="round"/>'
            )
        for k, v in points:
            n = counts[k] if k < len(counts) else 0
            tip = f"{name}, from {buckets[k]}: {v:.0%} of {n:,} gold answers"
            ring = ""
            if alerts.get(name) == buckets[k]:
                ring = (
                    f'<circle cx="{x_of(k):.1f}" cy="{y_of(v):.1f}" r="7.5" fill="none"'
                    f' stroke="{PALETTE.alert}" stroke-width="2"/>'
                )
            parts.append(
                f"<g><title>{escape(tip)}</title>{ring}"
                f'<circle cx="{x_of(k):.1f}" cy="{y_of(v):.1f}" r="3.5" fill="{colour}"/></g>'
            )
    if not series:
        parts.append(_placeholder(left, top, plot_w, plot_h, "No gold answers yet"))
    return _svg(width, height, parts, "gold accuracy over time")


def hbars_svg(
    rows: list[tuple[str, float, str, str]],
    *,
    width: int = 640,
    scale_max: float | None = None,
    marker: tuple[float, str] | None = None,
    empty: str = "Nothing to show yet",
) -> str:
    """Horizontal bars: (name, value, colour, caption); values below 0 draw as no bar."""
    name_w, caption_w, row_h = 170, 260, 24
    top = 18 if marker else 4
    bar_w = width - name_w - caption_w
    biggest = scale_max or max((v for _n, v, _c, _t in rows), default=0) or 1
    parts = []
    if marker:
        x = name_w + bar_w * marker[0] / biggest
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="12" y2="{top + row_h * len(rows)}"'
            f' stroke="{PALETTE.muted}" stroke-dasharray="4 3"/>'
        )
        parts.append(_text(x, 10, marker[1], anchor="middle", size=10, fill=PALETTE.muted))
    for k, (name, value, colour, caption) in enumerate(rows):
        y = top + k * row_h
        parts.append(f"<g><title>{escape(name)}: {escape(caption)}</title>")
        parts.append(_text(name_w - 8, y + 16, short(name), anchor="end", fill=PALETTE.ink))
        parts.append(
            f'<rect x="{name_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}"'
            f' fill="{PALETTE.track}"/>'
        )
        w = bar_w * max(0.0, min(value, biggest)) / biggest
        parts.append(
            f'<rect x="{name_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}"/>'
        )
        parts.append(_text(name_w + bar_w + 8, y + 16, caption, size=11, fill=PALETTE.ink))
        parts.append("</g>")
    if not rows:
        parts.append(_text(width / 2, 20, empty, anchor="middle", fill=PALETTE.muted))
    return _svg(width, max(30, top + row_h * len(rows) + 4), parts, "bars")


def heatmap_svg(
    names: list[str],
    matrix: list[list[Any]],
    items: list[list[Any]] | None = None,
    *,
    cell: int | None = None,
    title: str = "",
) -> str:
    n = len(names)
    cell = cell or max(34, min(64, 560 // max(1, n)))
    label_w = 150
    head_h = 96
    width = label_w + cell * n + head_h * 0.75  # room for the last column's slanted name
    height = head_h + cell * n + 6
    parts = []
    if title:
        parts.append(_text(0, 14, title, size=13, font_weight="600", fill=PALETTE.ink))
    for j, name in enumerate(names):
        x = label_w + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x + 4:.1f},{head_h - 6}) rotate(-45)" font-size="11"'
            f' fill="{PALETTE.ink}">{escape(short(name, 16))}<title>{escape(name)}</title></text>'
        )
    for i, row_name in enumerate(names):
        y = head_h + i * cell
        parts.append(
            _text(
                label_w - 6, y + cell / 2 + 4, short(row_name, 20), anchor="end", fill=PALETTE.ink
            )
        )
        for j in range(n):
            value = matrix[i][j]
            colour = PALETTE.ink_light if i == j else kappa_colour(value)
            x = label_w + j * cell
            behind = items[i][j] if items and i != j else None
            tip = f"{names[i]} × {names[j]}: κ {fmt_number(value)}" + (
                f" on {behind:,} items" if behind else ""
            )
            parts.append(
                f'<g><title>{escape(tip)}</title><rect x="{x}" y="{y}" width="{cell - 2}"'
                f' height="{cell - 2}" rx="3" fill="{colour}"'
                + (f' stroke="{PALETTE.grid}"' if i == j else "")
                + "/>"
            )
            if i != j:
                ink = ink_on(colour)
                middle = y + cell / 2 + (0 if behind is not None and cell >= 44 else 4)
                parts.append(
                    _text(
                        x + cell / 2 - 1,
                        middle,
                        fmt_number(value),
                        anchor="middle",
                        size=12 if cell >= 44 else 10,
                        fill=ink,
                        font_weight="600",
                    )
                )
                if behind is not None and cell >= 44:
                    parts.append(
                        _text(
                            x + cell / 2 - 1,
                            middle + 14,
                            f"n={behind:,}",
                            anchor="middle",
                            size=9,
                            fill=ink,
                        )
                    )
            parts.append("</g>")
    return _svg(width, height, parts, title or "agreement heat map")


def kappa_legend_svg(width: int = 560) -> str:
    parts, x = [], 0.0
    w = width / len(KAPPA_BANDS)
    for value, span, name in KAPPA_BANDS:
        colour = kappa_colour(value)
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{w - 2:.1f}" height="14" rx="2" fill="{colour}"/>'
        )
        parts.append(_text(x + w / 2, 27, span, anchor="middle", size=10, fill=PALETTE.ink))
        parts.append(_text(x + w / 2, 40, name, anchor="middle", size=10, fill=PALETTE.muted))
        x += w
    return _svg(width, 46, parts, "kappa colour scale")
