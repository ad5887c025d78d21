"""The project report as one self-contained HTML file that a team lead can hand on.

Inline CSS and inline SVG only: no script, no font, image or stylesheet from anywhere, so the
file shows the same offline, in any browser, and runs nothing. Every piece of user text
(project, annotator and label names, flag reasons) is escaped: a bundle from elsewhere may
carry any of them.

The colours and scales here are shared with the Qt dashboard (`app.views.dashboard`), so that
the two show the same picture.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from app.core.fileio import atomic_write_text

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


def _legend(items: list[tuple[str, str]], x: float, y: float, width: float) -> tuple[list, float]:
    """Swatches and names in rows; returns the parts and the height used."""
    parts, cx, cy = [], x, y
    for name, colour in items:
        w = 18 + 7 * len(short(name, 18)) + 14
        if cx + w > x + width and cx > x:
            cx, cy = x, cy + 18
        parts.append(
            f'<rect x="{cx:.1f}" y="{cy:.1f}" width="11" height="11" rx="2" fill="{colour}"/>'
        )
        parts.append(_text(cx + 16, cy + 10, short(name, 18), size=11, fill=INK))
        cx += w
    return parts, cy - y + 18


def stacked_bars_svg(
    rows: list[tuple[str, dict[str, int]]], colours: dict[str, str], width: int = 640
) -> str:
    name_w, total_w, row_h = 170, 70, 26
    legend, legend_h = _legend(list(colours.items()), name_w, 4, width - name_w)
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
        parts.append(_text(x + 6, y + 16, f"{total:,}", size=11, fill=MUTED))
        parts.append("</g>")
    return _svg(width, height, parts, "progress by annotator")


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


# --- the page -------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#F4F6F7;color:#263238;
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{background:#263238;color:#fff;padding:22px 32px}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header p{margin:0;color:#B0BEC5}
main{max-width:1400px;margin:0 auto;padding:20px 24px 40px;
 display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,640px),1fr));
 gap:18px}
section{background:#fff;border-radius:8px;padding:16px 18px;box-shadow:0 1px 3px rgba(0,0,0,.08);
 overflow-x:auto}
section.wide{grid-column:1/-1}
svg{max-width:100%;height:auto;display:block;margin:4px 0}
h2{font-size:16px;margin:0 0 4px;font-weight:600}
.note{color:#607D8B;font-size:12.5px;margin:0 0 12px}
.tiles{display:flex;flex-wrap:wrap;gap:12px}
.tile{flex:1 1 140px;background:#F4F6F7;border-radius:6px;padding:10px 14px}
.tile b{display:block;font-size:22px;font-weight:600}
.tile span{color:#607D8B;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #ECEFF1;vertical-align:top}
th{color:#607D8B;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.small{display:flex;flex-wrap:wrap;gap:12px 24px}
footer{color:#90A4AE;font-size:12px;text-align:center;padding:0 0 24px}
@media print{body{background:#fff}section{box-shadow:none;border:1px solid #ddd;break-inside:avoid}}
"""


def _section(title: str, note: str, body: str, *, wide: bool = False) -> str:
    cls = ' class="wide"' if wide else ""
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f"<section{cls}><h2>{_e(title)}</h2>{note_html}{body}</section>"


def _tiles(report: dict[str, Any]) -> str:
    counts = report["project"]["counts"]
    overall = report["agreement"]["overall"]
    total = counts["datapoints"] or 1
    tiles = [
        (f"{counts['datapoints']:,}", "datapoints"),
        (f"{100 * counts['labeled_datapoints'] / total:.1f}%", "labeled"),
        (f"{counts['annotations']:,}", "finished annotations"),
        (f"{counts['annotators']:,}", "annotators"),
        (
            fmt_number(overall.get("krippendorff_alpha")),
            f"Krippendorff's α ({overall['items']:,} items)",
        ),
        (f"{report['open_issues']['flags_open']:,}", "open flags"),
    ]
    return (
        '<div class="tiles">'
        + "".join(f'<div class="tile"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in tiles)
        + "</div>"
    )


def annotator_colours(report: dict[str, Any]) -> dict[str, str]:
    """One colour per annotator, the same in every chart (and in the Qt dashboard)."""
    names = set(report["progress"]["by_annotator"]) | set(report["throughput"])
    names |= set(report["agreement"]["heatmap"]["annotators"])
    names |= {e["annotator"] for e in report["progress"]["over_time"]}
    return {name: annotator_colour(k) for k, name in enumerate(sorted(names))}


def label_colours(report: dict[str, Any]) -> dict[str, str]:
    return {x["name"]: x["colour"] for x in report["project"]["labels"]}


def throughput_rows(report: dict[str, Any]) -> list[tuple[str, float, str, str]]:
    colours = annotator_colours(report)
    rows = []
    for name, t in report["throughput"].items():
        rate = t["items_per_hour"]
        median = t["median_seconds_per_item"]
        caption = (
            f"{fmt_number(rate, 1)}/h · median {fmt_number(median, 1)} s"
            f" · {t['timed_items']:,} timed"
            if rate is not None
            else f"no measured time · {t['items']:,} items"
        )
        rows.append((name, float(rate or 0), colours[name], caption))
    return rows


def label_rows(report: dict[str, Any]) -> list[tuple[str, float, str, str]]:
    colours = label_colours(report)
    dist = report["label_distribution"]
    total = sum(dist.values()) or 1
    return [
        (label, float(n), colours.get(label, "#78909C"), f"{n:,} ({100 * n / total:.1f}%)")
        for label, n in dist.items()
    ]


def alpha_rows(report: dict[str, Any]) -> list[tuple[str, float, str, str]]:
    rows = []
    for label, figures in report["agreement"]["per_label"].items():
        alpha = figures.get("krippendorff_alpha")
        rows.append(
            (
                label,
                float(alpha or 0),
                kappa_colour(alpha),
                f"α {fmt_number(alpha)} · κ {fmt_number(figures.get('fleiss_kappa'))}"
                f" · {figures['items']:,} items",
            )
        )
    return rows


def _progress_html(report: dict[str, Any]) -> str:
    progress = report["progress"]
    rows = list(progress["by_annotator"].items())
    bars = (
        stacked_bars_svg(rows, STATUS_COLOURS)
        if rows
        else "<p class='note'>No annotations yet.</p>"
    )
    return _section(
        "Progress",
        "Datapoints by status, then each annotator's annotations by status.",
        status_bar_svg(progress["by_status"]) + bars,
    )


def _over_time_html(report: dict[str, Any]) -> str:
    days, series = cumulative_series(report["progress"]["over_time"])
    return _section(
        "Completed over time",
        "Cumulative complete annotations per annotator, by UTC day of their last change.",
        line_chart_svg(days, series, annotator_colours(report)),
    )


def _agreement_html(report: dict[str, Any]) -> str:
    agreement = report["agreement"]
    overall = agreement["overall"]
    heat = agreement["heatmap"]
    figures = (
        f"Krippendorff's α <b>{fmt_number(overall.get('krippendorff_alpha'))}</b>"
        f" on {overall['items']:,} items with two or more annotators;"
        f" Fleiss' κ <b>{fmt_number(overall.get('fleiss_kappa'))}</b>"
        f" on {overall.get('fleiss_items', 0):,} items."
    )
    if len(heat["annotators"]) < 2:
        body = "<p class='note'>No item has been completed by two annotators yet.</p>"
        return _section("Agreement", figures, body, wide=True)
    body = heatmap_svg(heat["annotators"], heat["kappa"], heat["items"], title="All labels")
    body += kappa_legend_svg()
    per_label = heat.get("per_label", {})
    if per_label:
        small = "".join(
            heatmap_svg(heat["annotators"], matrix, cell=30, title=short(label, 30))
            for label, matrix in per_label.items()
        )
        body += f"<h2 style='margin-top:14px'>Per label</h2><div class='small'>{small}</div>"
    return _section(
        "Agreement between annotators",
        figures + " Cells: Cohen's κ of each pair, with the items they share.",
        body,
        wide=True,
    )


def _low_items_html(report: dict[str, Any]) -> str:
    low = report["agreement"]["low_agreement"]
    items = low["items"][:15]
    labels = ", ".join(_e(x) for x in low["labels"]) or "none"
    rows = "".join(
        f"<tr><td class='num'>{item['datapoint_id']}</td><td class='num'>"
        f"{item['agreement']:.2f}</td><td>"
        + "<br>".join(
            f"{_e(who)}: {_e(value_text(value))}"
            for who, value in zip(item["annotators"], item["values"], strict=False)
        )
        + "</td></tr>"
        for item in items
    )
    table = (
        "<table><tr><th>datapoint</th><th>agreement</th><th>answers</th></tr>" + rows + "</table>"
        if rows
        else "<p class='note'>No disagreements.</p>"
    )
    return _section(
        "Where annotators disagree",
        f"Labels with α below {LOW_ALPHA}: {labels}. Items whose annotators agree least:",
        table,
    )


def value_text(value: Any) -> str:
    """An annotation value in a few words: a label, labels, or spans with their offsets."""
    if isinstance(value, list):
        return (
            ", ".join(
                (
                    f"{v.get('label')} [{v.get('start')}–{v.get('end')}]"
                    if isinstance(v, dict)
                    else str(v)
                )
                for v in value
            )
            or "(none)"
        )
    return str(value)


def _flags_html(report: dict[str, Any]) -> str:
    issues = report["open_issues"]
    flags = issues["flags"]
    rows = "".join(
        f"<tr><td class='num'>{f['datapoint_id']}</td><td>{_e(f['reason'])}</td>"
        f"<td>{_e(f['by'])}</td><td>{_e(str(f['at'])[:16].replace('T', ' '))}</td></tr>"
        for f in flags
    )
    shown = f" The newest {len(flags):,} are listed." if issues["flags_open"] > len(flags) else ""
    table = (
        "<table><tr><th>datapoint</th><th>reason</th><th>by</th><th>at (UTC)</th></tr>"
        + rows
        + "</table>"
        if rows
        else "<p class='note'>No open flags.</p>"
    )
    return _section(
        "Open issues",
        f"{issues['flags_open']:,} open flags, {issues['flags_resolved']:,} resolved.{shown}",
        table,
    )


def render_html(report: dict[str, Any]) -> str:
    """The report as an HTML page (a string)."""
    project = report["project"]
    title = f"{project['name']}: project report"
    sections = [
        _section("Summary", "", _tiles(report), wide=True),
        _progress_html(report),
        _over_time_html(report),
        _section(
            "Throughput",
            "Items per hour of measured editor time (each item counts at most 10 minutes),"
            " and the median time per item.",
            hbars_svg(throughput_rows(report), empty="No finished annotations yet"),
        ),
        _section(
            "Label distribution",
            "Complete annotations: each label of a multilabel answer, each span.",
            hbars_svg(label_rows(report), empty="No labels yet"),
        ),
        _agreement_html(report),
        _section(
            "Agreement per label",
            f"Krippendorff's α of each label against the rest; the dashed line is {LOW_ALPHA}.",
            hbars_svg(
                alpha_rows(report),
                scale_max=1.0,
                marker=(LOW_ALPHA, f"{LOW_ALPHA}"),
                empty="No items with two annotators yet",
            ),
        ),
        _low_items_html(report),
        _flags_html(report),
    ]
    subtitle = (
        f"{project['task_type']} · schema v{project['schema_version']} ·"
        f" generated {str(report['generated_at']).replace('T', ' ')}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(project['name'])}</h1><p>{_e(subtitle)}</p></header>"
        f"<main>{''.join(sections)}</main>"
        "<footer>Tagloop project report · self-contained: no scripts, no network resources"
        "</footer></body></html>\n"
    )


def write_html(report: dict[str, Any], out: Path) -> Path:
    """Write the report as one self-contained HTML file, atomically (temp file, then rename)."""
    out = Path(out)
    atomic_write_text(out, render_html(report))
    return out
