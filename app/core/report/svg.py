"""The look of the project report: its colours and scales, and its charts as inline SVG.

Split out of report_html.py so that the page assembly there stays readable, and so that the
Qt dashboard can share the colours, bands and number formats without the page: the dashboard
draws the same charts with QPainter in these colours, so that the two show the same picture.
Every piece of user text that goes into an SVG (names, titles) is escaped here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

# --- shared presentation -------------------------------------------------------------------

ANNOTATOR_COLOURS = (
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
STATUS_COLOURS = {  # annotation statuses
    "complete": "#59A14F",
    "skipped": "#EDC948",
    "discarded": "#9E9E9E",
    "draft": "#A0CBE8",
}
DATAPOINT_COLOURS = {  # datapoint statuses
    "labeled": "#59A14F",
    "skipped": "#EDC948",
    "discarded": "#9E9E9E",
    "unlabeled": "#E3E7EA",
}
TASK_STATUS_COLOURS = {  # derived task statuses (app.core.quality.review), in the order drawn
    "completed": "#59A14F",
    "completed with issues": "#E15759",
    "in progress": "#A0CBE8",
    "to-do": "#E3E7EA",
}
ALERT = "#C62828"
ALERT_BACKGROUND = "#FDECEA"
# Kappa/alpha colour stops, on the Landis & Koch bands (slight, fair, moderate, substantial,
# almost perfect): red through yellow to green. Below 0 is the bottom colour.
KAPPA_STOPS = (
    (0.0, (0xD7, 0x30, 0x27)),
    (0.2, (0xFC, 0x8D, 0x59)),
    (0.4, (0xFE, 0xE0, 0x8B)),
    (0.6, (0xD9, 0xEF, 0x8B)),
    (0.8, (0x91, 0xCF, 0x60)),
    (1.0, (0x1A, 0x98, 0x50)),
)
KAPPA_BANDS = (  # (a value inside the band, its range, its name)
    (-1.0, "< 0", "poor"),
    (0.1, "0–0.2", "slight"),
    (0.3, "0.2–0.4", "fair"),
    (0.5, "0.4–0.6", "moderate"),
    (0.7, "0.6–0.8", "substantial"),
    (0.9, "0.8–1", "almost perfect"),
)
UNDEFINED_COLOUR = "#ECEFF1"
LOW_ALPHA = 0.667
INK = "#263238"
MUTED = "#607D8B"
GRID = "#CFD8DC"


def annotator_colour(index: int) -> str:
    return ANNOTATOR_COLOURS[index % len(ANNOTATOR_COLOURS)]


def kappa_colour(value: float | None) -> str:
    """The heat-map colour of a kappa or alpha: red (<= 0) to green (1); grey if undefined."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNDEFINED_COLOUR
    x = min(1.0, max(0.0, float(value)))
    for (x0, c0), (x1, c1) in pairwise(KAPPA_STOPS):
        if x <= x1:
            t = (x - x0) / (x1 - x0)
            return "#" + "".join(
                f"{round(a + (b - a) * t):02X}" for a, b in zip(c0, c1, strict=True)
            )
    return "#1A9850"


def ink_on(background: str) -> str:
    """Black or white text, whichever reads better on the background colour."""
    r, g, b = (int(background[k : k + 2], 16) / 255 for k in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#FFFFFF" if luminance < 0.45 else INK


def nice_step(top: float, ticks: int = 4) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) for an axis from 0 to top."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def fmt_number(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def fmt_tick(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def short(name: str, limit: int = 22) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def day_range(days: Sequence[str]) -> list[str]:
    """Every day from the first to the last, so gaps show as flat lines."""
    if not days:
        return []
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    span = (last - first).days
    if span > 3660:  # ten years: a clock was wrong somewhere; plot the days there are
        return sorted(set(days))
    return [(first + timedelta(days=k)).isoformat() for k in range(span + 1)]


def cumulative_series(over_time: list[dict[str, Any]]) -> tuple[list[str], dict[str, list[int]]]:
    """Days, and each annotator's cumulative completed count on each of them."""
    days = day_range([e["day"] for e in over_time])
    position = {d: k for k, d in enumerate(days)}
    added: dict[str, list[int]] = {}
    for entry in over_time:
        k = position.get(entry["day"])
        if k is not None:
            added.setdefault(entry["annotator"], [0] * len(days))[k] += entry["completed"]
    series = {}
    for name, counts in sorted(added.items()):
        total, running = 0, []
        for n in counts:
            total += n
            running.append(total)
        series[name] = running
    return days, series


def accuracy_series(
    gold: dict[str, Any],
) -> tuple[list[str], dict[str, list[float | None]], dict[str, list[int]]]:
    """Bucket start days (every bucket from the first to the last, a gap where nobody answered
    gold), and each annotator's accuracy (None where they gave no gold answer) and answers in
    each."""
    window = int(gold.get("window_days") or 7)
    starts = {b["bucket"] for p in gold["per_annotator"].values() for b in p["over_time"]}
    buckets: list[str] = []
    if starts:
        first, last = date.fromisoformat(min(starts)), date.fromisoformat(max(starts))
        span = (last - first).days // window
        buckets = (
            [(first + timedelta(days=k * window)).isoformat() for k in range(span + 1)]
            if span <= 520
            else sorted(starts)  # ten years of weeks: a clock was wrong somewhere
        )
    position = {b: k for k, b in enumerate(buckets)}
    accuracy: dict[str, list[float | None]] = {}
    items: dict[str, list[int]] = {}
    for name, per in gold["per_annotator"].items():
        if not per["over_time"]:
            continue
        accuracy[name] = [None] * len(buckets)
        items[name] = [0] * len(buckets)
        for b in per["over_time"]:
            k = position.get(b["bucket"])
            if k is not None:
                accuracy[name][k] = b["accuracy"]
                items[name][k] = b["items"]
    return buckets, accuracy, items


def fmt_percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


# --- SVG ------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _text(x: float, y: float, body: str, *, anchor: str = "start", size: int = 12, **attrs) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{_e(v)}"' for k, v in attrs.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}"{extra}>'
        f"{_e(body)}</text>"
    )


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg width="{width:.0f}" height="{height:.0f}"'
        f' viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_e(label)}">'
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
        parts.append(_text(cx + 16, cy + 10, short(name, limit), size=11, fill=INK))
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
            f"<g><title>{_e(name)}: "
            + _e(", ".join(f"{s} {counts[s]:,}" for s in colours if counts.get(s)))
            + "</title>"
        )
        parts.append(_text(name_w - 8, y + 16, short(name), anchor="end", fill=INK))
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
        parts.append(_text(x + 6, y + 16, after, size=11, fill=MUTED))
        parts.append("</g>")
    return _svg(width, height, parts, label)


def status_bar_svg(by_status: dict[str, int], width: int = 640) -> str:
    """One bar of the datapoints by status, with shares."""
    total = sum(by_status.get(s, 0) for s in DATAPOINT_COLOURS) or 1
    items = [(f"{s} {by_status.get(s, 0):,}", c) for s, c in DATAPOINT_COLOURS.items()]
    legend, legend_h = _legend(items, 0, 4, width)
    y = legend_h + 8
    parts, x = legend, 0.0
    for status, colour in DATAPOINT_COLOURS.items():
        n = by_status.get(status, 0)
        if not n:
            continue
        w = width * n / total
        parts.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="24" fill="{colour}">'
            f"<title>{_e(status)}: {n:,}</title></rect>"
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
        y = top + plot_h - plot_h * tick / y_top
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        parts.append(_text(left - 6, y + 4, fmt_tick(tick), anchor="end", size=11, fill=MUTED))
        tick += step

    def x_of(k: int) -> float:
        return left + (plot_w * k / (len(days) - 1) if len(days) > 1 else plot_w / 2)

    if days:
        every = max(1, math.ceil(len(days) / 7))
        for k in range(0, len(days), every):
            parts.append(
                _text(x_of(k), height - 10, days[k][5:], anchor="middle", size=11, fill=MUTED)
            )
    for name, values in series.items():
        colour = colours[name]
        points = " ".join(
            f"{x_of(k):.1f},{top + plot_h - plot_h * v / y_top:.1f}" for k, v in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.2"'
            f' stroke-linejoin="round"><title>{_e(name)}: {values[-1]:,}</title></polyline>'
        )
        if values:
            parts.append(
                f'<circle cx="{x_of(len(values) - 1):.1f}"'
                f' cy="{top + plot_h - plot_h * values[-1] / y_top:.1f}" r="3.5" fill="{colour}"/>'
            )
    if not series:
        parts.append(
            _text(
                left + plot_w / 2,
                top + plot_h / 2,
                "No completed annotations yet",
                anchor="middle",
                fill=MUTED,
            )
        )
    return _svg(width, height, parts, "completed over time")


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
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        parts.append(_text(left - 6, y + 4, f"{tick:.0%}", anchor="end", size=11, fill=MUTED))
    y = y_of(threshold)
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{ALERT}"'
        f' stroke-width="1.3" stroke-dasharray="5 4"/>'
    )
    # the key, under the axis: the dashed line and the ring
    key_y = height - 8
    parts.append(
        f'<line x1="{left}" x2="{left + 26}" y1="{key_y - 4}" y2="{key_y - 4}" stroke="{ALERT}"'
        f' stroke-width="1.3" stroke-dasharray="5 4"/>'
    )
    parts.append(_text(left + 32, key_y, f"alert below {threshold:.0%}", size=11, fill=ALERT))
    if alerts:
        ring_x = left + 150
        parts.append(
            f'<circle cx="{ring_x}" cy="{key_y - 4}" r="6" fill="none" stroke="{ALERT}"'
            f' stroke-width="2"/>'
        )
        parts.append(_text(ring_x + 11, key_y, "drift alert", size=11, fill=ALERT))
    every = max(1, math.ceil(len(buckets) / 8))
    for k in range(0, len(buckets), every):
        parts.append(
            _text(x_of(k), top + plot_h + 18, buckets[k][5:], anchor="middle", size=11, fill=MUTED)
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
                    f' stroke="{ALERT}" stroke-width="2"/>'
                )
            parts.append(
                f"<g><title>{_e(tip)}</title>{ring}"
                f'<circle cx="{x_of(k):.1f}" cy="{y_of(v):.1f}" r="3.5" fill="{colour}"/></g>'
            )
    if not series:
        parts.append(
            _text(
                left + plot_w / 2,
                top + plot_h / 2,
                "No gold answers yet",
                anchor="middle",
                fill=MUTED,
            )
        )
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
            f' stroke="{MUTED}" stroke-dasharray="4 3"/>'
        )
        parts.append(_text(x, 10, marker[1], anchor="middle", size=10, fill=MUTED))
    for k, (name, value, colour, caption) in enumerate(rows):
        y = top + k * row_h
        parts.append(f"<g><title>{_e(name)}: {_e(caption)}</title>")
        parts.append(_text(name_w - 8, y + 16, short(name), anchor="end", fill=INK))
        parts.append(
            f'<rect x="{name_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" fill="#F1F4F5"/>'
        )
        w = bar_w * max(0.0, min(value, biggest)) / biggest
        parts.append(
            f'<rect x="{name_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}"/>'
        )
        parts.append(_text(name_w + bar_w + 8, y + 16, caption, size=11, fill=INK))
        parts.append("</g>")
    if not rows:
        parts.append(_text(width / 2, 20, empty, anchor="middle", fill=MUTED))
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
        parts.append(_text(0, 14, title, size=13, font_weight="600", fill=INK))
    for j, name in enumerate(names):
        x = label_w + j * cell + cell / 2
        parts.append(
            f'<text transform="translate({x + 4:.1f},{head_h - 6}) rotate(-45)" font-size="11"'
            f' fill="{INK}">{_e(short(name, 16))}<title>{_e(name)}</title></text>'
        )
    for i, row_name in enumerate(names):
        y = head_h + i * cell
        parts.append(
            _text(label_w - 6, y + cell / 2 + 4, short(row_name, 20), anchor="end", fill=INK)
        )
        for j in range(n):
            value = matrix[i][j]
            colour = "#FFFFFF" if i == j else kappa_colour(value)
            x = label_w + j * cell
            behind = items[i][j] if items and i != j else None
            tip = f"{names[i]} × {names[j]}: κ {fmt_number(value)}" + (
                f" on {behind:,} items" if behind else ""
            )
            parts.append(
                f'<g><title>{_e(tip)}</title><rect x="{x}" y="{y}" width="{cell - 2}"'
                f' height="{cell - 2}" rx="3" fill="{colour}"'
                + (f' stroke="{GRID}"' if i == j else "")
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
        parts.append(_text(x + w / 2, 27, span, anchor="middle", size=10, fill=INK))
        parts.append(_text(x + w / 2, 40, name, anchor="middle", size=10, fill=MUTED))
        x += w
    return _svg(width, 46, parts, "kappa colour scale")
