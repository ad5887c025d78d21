"""The project report as one self-contained HTML file that a team lead can hand on.

Inline CSS and inline SVG only: no script, no font, image or stylesheet from anywhere, so the
file shows the same offline, in any browser, and runs nothing. Every piece of user text
(project, annotator and label names, flag reasons) is escaped: a bundle from elsewhere may
carry any of them.

This module assembles the page from a typed `ProjectReport` (`app.core.report.sections`); the
charts and the palette and scales they share with the Qt dashboard (`app.views.dashboard`) are in
`app.core.report.svg`, and are importable from here too.
"""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

from app.core.fileio import atomic_write_text
from app.core.glossary import TERMS
from app.core.quality.agreement_report import LOW_ALPHA
from app.core.report.scales import (
    accuracy_series,
    cumulative_series,
    day_range,
    fmt_number,
    fmt_percent,
    fmt_tick,
    nice_step,
    short,
)
from app.core.report.sections import Consensus, OpenIssues, ProjectReport, Rejections
from app.core.report.svg import (
    KAPPA_BANDS,
    PALETTE,
    Palette,
    accuracy_chart_svg,
    annotator_colour,
    escape,
    hbars_svg,
    heatmap_svg,
    ink_on,
    kappa_colour,
    kappa_legend_svg,
    line_chart_svg,
    stacked_bars_svg,
    status_bar_svg,
)

# The shared presentation stays importable from here (the dashboard reads it as `look`).
__all__ = [
    "KAPPA_BANDS",
    "LOW_ALPHA",
    "PALETTE",
    "Palette",
    "accuracy_chart_svg",
    "accuracy_series",
    "alert_annotators",
    "alpha_rows",
    "annotator_colour",
    "annotator_colours",
    "consensus_tiles",
    "cumulative_series",
    "day_range",
    "escape",
    "fmt_number",
    "fmt_percent",
    "fmt_tick",
    "hbars_svg",
    "heatmap_svg",
    "ink_on",
    "kappa_colour",
    "kappa_legend_svg",
    "label_colours",
    "label_rows",
    "line_chart_svg",
    "nice_step",
    "render_html",
    "short",
    "stacked_bars_svg",
    "status_bar_svg",
    "task_status_captions",
    "task_status_rows",
    "throughput_rows",
    "value_text",
    "write_html",
]


# --- the page -------------------------------------------------------------------------------

_CSS = Template("""
*{box-sizing:border-box}
body{margin:0;background:${background};color:${ink};
 font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
header{background:${ink};color:#fff;padding:22px 32px}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header p{margin:0;color:${header_note}}
main{max-width:1400px;margin:0 auto;padding:20px 24px 40px;
 display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,640px),1fr));
 gap:18px}
section{background:#fff;border-radius:8px;padding:16px 18px;box-shadow:0 1px 3px rgba(0,0,0,.08);
 overflow-x:auto}
section.wide{grid-column:1/-1}
svg{max-width:100%;height:auto;display:block;margin:4px 0}
h2{font-size:16px;margin:0 0 4px;font-weight:600}
.note{color:${muted};font-size:12.5px;margin:0 0 12px}
.tiles{display:flex;flex-wrap:wrap;gap:12px}
.tile{flex:1 1 140px;background:${background};border-radius:6px;padding:10px 14px}
.tile b{display:block;font-size:22px;font-weight:600}
.tile span{color:${muted};font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid ${rule};vertical-align:top}
th{color:${muted};font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.small{display:flex;flex-wrap:wrap;gap:12px 24px}
.tile.bad{background:${alert_bg}}.tile.bad b{color:${alert}}
.alert{background:${alert_bg};border-left:4px solid ${alert};border-radius:4px;padding:8px 12px;
 margin:0 0 10px;color:${alert_ink}}
.alert b{display:block;margin-bottom:2px}.alert ul{margin:0;padding-left:18px}
.ok{background:${ok_bg};border-left:4px solid ${ok};border-radius:4px;padding:6px 12px;
 margin:0 0 10px;color:${ok_ink}}
h3{font-size:13.5px;margin:14px 0 4px;font-weight:600}
footer{color:${faint};font-size:12px;text-align:center;padding:0 0 24px}
@media print{body{background:#fff}section{box-shadow:none;border:1px solid #ddd;break-inside:avoid}}
""").substitute(vars(PALETTE))
"""The page's style sheet, in the colours of the palette."""


def _section(title: str, note: str, body: str, *, wide: bool = False) -> str:
    cls = ' class="wide"' if wide else ""
    note_html = f'<p class="note">{note}</p>' if note else ""
    return f"<section{cls}><h2>{escape(title)}</h2>{note_html}{body}</section>"


def _tiles(report: ProjectReport) -> str:
    counts = report.project.counts
    overall = report.agreement.overall
    total = counts.datapoints or 1
    tiles = [
        (f"{counts.datapoints:,}", "datapoints"),
        (f"{100 * counts.labeled_datapoints / total:.1f}%", "labeled"),
        (f"{counts.annotations:,}", "finished annotations"),
        (f"{counts.annotators:,}", "annotators"),
        (
            fmt_number(overall.krippendorff_alpha),
            f"Krippendorff's α ({overall.items:,} items)",
        ),
        (f"{report.open_issues.flags_open:,}", "open flags"),
    ]
    bad: set[str] = set()
    rejections = report.open_issues.rejections
    if rejections is not None:
        tiles.append((f"{rejections.open:,}", "open rejections"))
    gold = report.gold
    if gold is not None:
        tiles.append((f"{len(gold.alerts):,}", "gold drift alerts"))
        if gold.alerts:
            bad.add("gold drift alerts")
    return _tile_row(tiles, bad)


def _tile_row(tiles: list[tuple[str, str]], bad: set[str] | None = None) -> str:
    """Figures in tiles; those named in `bad` are drawn as a warning."""
    bad = bad or set()
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile{" bad" if k in bad else ""}">'
            f"<b>{escape(v)}</b><span>{escape(k)}</span></div>"
            for v, k in tiles
        )
        + "</div>"
    )


def annotator_colours(report: ProjectReport) -> dict[str, str]:
    """One colour per annotator, the same in every chart (and in the Qt dashboard)."""
    return {name: annotator_colour(k) for k, name in enumerate(sorted(report.annotator_names()))}


def label_colours(report: ProjectReport) -> dict[str, str]:
    return {x.name: x.colour for x in report.project.labels}


def throughput_rows(report: ProjectReport) -> list[tuple[str, float, str, str]]:
    colours = annotator_colours(report)
    rows = []
    for name, t in report.throughput.items():
        rate = t.items_per_hour
        median = t.median_seconds_per_item
        caption = (
            f"{fmt_number(rate, 1)}/h · median {fmt_number(median, 1)} s · {t.timed_items:,} timed"
            if rate is not None
            else f"no measured time · {t.items:,} items"
        )
        rows.append((name, float(rate or 0), colours[name], caption))
    return rows


def label_rows(report: ProjectReport) -> list[tuple[str, float, str, str]]:
    colours = label_colours(report)
    dist = report.label_distribution
    total = sum(dist.values()) or 1
    return [
        (label, float(n), colours.get(label, PALETTE.neutral), f"{n:,} ({100 * n / total:.1f}%)")
        for label, n in dist.items()
    ]


def alpha_rows(report: ProjectReport) -> list[tuple[str, float, str, str]]:
    rows = []
    for label, figures in report.agreement.per_label.items():
        alpha = figures.krippendorff_alpha
        rows.append(
            (
                label,
                float(alpha or 0),
                kappa_colour(alpha),
                f"α {fmt_number(alpha)} · κ {fmt_number(figures.fleiss_kappa)}"
                f" · {figures.items:,} items",
            )
        )
    return rows


def _progress_html(report: ProjectReport) -> str:
    progress = report.progress
    rows = list(progress.by_annotator.items())
    bars = (
        stacked_bars_svg(rows, dict(PALETTE.annotation_status))
        if rows
        else "<p class='note'>No annotations yet.</p>"
    )
    return _section(
        "Progress",
        "Datapoints by status, then each annotator's annotations by status.",
        status_bar_svg(progress.by_status) + bars,
    )


def _over_time_html(report: ProjectReport) -> str:
    days, series = cumulative_series(report.progress.over_time)
    return _section(
        "Completed over time",
        "Cumulative complete annotations per annotator, by UTC day of their last change.",
        line_chart_svg(days, series, annotator_colours(report)),
    )


def _agreement_html(report: ProjectReport) -> str:
    overall = report.agreement.overall
    heat = report.agreement.heatmap
    figures = (
        f"Krippendorff's α <b>{fmt_number(overall.krippendorff_alpha)}</b>"
        f" on {overall.items:,} items with two or more annotators;"
        f" Fleiss' κ <b>{fmt_number(overall.fleiss_kappa)}</b>"
        f" on {overall.fleiss_items:,} items."
    )
    if len(heat.annotators) < 2:
        body = "<p class='note'>No item has been completed by two annotators yet.</p>"
        return _section("Agreement", figures + _glossary("Krippendorff's α"), body, wide=True)
    names = list(heat.annotators)
    body = heatmap_svg(names, heat.kappa, heat.items, title="All labels")
    body += kappa_legend_svg()
    if heat.per_label:
        small = "".join(
            heatmap_svg(names, matrix, cell=30, title=short(label, 30))
            for label, matrix in heat.per_label.items()
        )
        body += f"<h2 style='margin-top:14px'>Per label</h2><div class='small'>{small}</div>"
    return _section(
        "Agreement between annotators",
        figures
        + " Cells: Cohen's κ of each pair, with the items they share."
        + _glossary("Krippendorff's α", "Fleiss' κ", "Cohen's κ"),
        body,
        wide=True,
    )


def _glossary(*terms: str) -> str:
    """The figures of a section in plain words (app.core.glossary), under its note."""
    return "".join(f"<br><small>{escape(TERMS[term])}</small>" for term in terms)


def _low_items_html(report: ProjectReport) -> str:
    low = report.agreement.low_agreement
    items = low.items[:15]
    labels = ", ".join(escape(x) for x in low.labels) or "none"
    rows = "".join(
        f"<tr><td class='num'>{item.datapoint_id}</td><td class='num'>"
        f"{item.agreement:.2f}</td><td>"
        + "<br>".join(
            f"{escape(who)}: {escape(value_text(value))}"
            for who, value in zip(item.annotators, item.values, strict=False)
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


def alert_annotators(report: ProjectReport) -> dict[str, str]:
    """{annotator: the bucket their drift alert is about}."""
    return {a.annotator: a.bucket for a in (report.gold.alerts if report.gold else ())}


def _gold_box(report: ProjectReport, has_series: bool) -> str:
    """The drift alert, or the all-clear, above the gold chart."""
    gold = report.gold
    assert gold is not None
    if gold.alerts:
        return (
            f'<div class="alert"><b>⚠ Drift alert: {len(gold.alerts):,}'
            f" annotator{'s' if len(gold.alerts) != 1 else ''} below"
            f" {gold.threshold:.0%}</b><ul>"
            + "".join(f"<li>{escape(a.message)}</li>" for a in gold.alerts)
            + "</ul></div>"
        )
    if has_series:
        return (
            f'<div class="ok">No drift: every annotator\'s latest bucket of at least'
            f" {gold.min_items:,} gold answers is at or above {gold.threshold:.0%}.</div>"
        )
    return ""


def _gold_html(report: ProjectReport) -> str:
    gold = report.gold
    assert gold is not None
    buckets, series, items = accuracy_series(gold)
    threshold = gold.threshold
    alerted = alert_annotators(report)
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>{fmt_percent(p.accuracy)}</td>"
        f"<td class='num'>{p.correct:,} / {p.items:,}</td>"
        f"<td class='num'>{fmt_percent(p.over_time[-1].accuracy if p.over_time else None)}"
        f"</td><td>{'⚠ alert' if name in alerted else ''}</td></tr>"
        for name, p in gold.per_annotator.items()
    )
    table = (
        "<table><tr><th>annotator</th><th>accuracy</th><th>right / answers</th>"
        "<th>latest bucket</th><th></th></tr>" + rows + "</table>"
        if rows
        else ""
    )
    chart = accuracy_chart_svg(
        buckets, series, items, annotator_colours(report), threshold, alerts=alerted
    )
    return _section(
        "Gold accuracy over time",
        f"Each annotator's accuracy on the {gold.gold_items:,} gold items, in"
        f" {gold.window_days}-day buckets from the first gold answer. The dashed line is the"
        f" alert threshold ({threshold:.0%}); an alert needs at least {gold.min_items:,}"
        " answers in the latest bucket.",
        _gold_box(report, bool(series)) + chart + table,
    )


def task_status_rows(report: ProjectReport) -> list[tuple[str, dict[str, int]]]:
    return [(name, a.tasks) for name, a in (report.open_issues.assignments or {}).items()]


def task_status_captions(report: ProjectReport) -> dict[str, str]:
    return {name: a.status for name, a in (report.open_issues.assignments or {}).items()}


def _assignments_html(report: ProjectReport) -> str:
    return _section(
        "Assignments",
        "Each annotator's tasks by derived status (an issue is an open rejection or flag),"
        " and the status of their assignment.",
        stacked_bars_svg(
            task_status_rows(report),
            dict(PALETTE.task_status),
            label="tasks by derived status",
            captions=task_status_captions(report),
        ),
    )


def consensus_tiles(consensus: Consensus) -> list[tuple[str, str]]:
    """The consensus figures as (value, name) tiles."""
    c = consensus
    return [
        (f"{c.items:,}", "items with two or more votes"),
        (f"{c.reached:,}", "consensus reached"),
        (f"{c.disagreements:,}", "disagreements"),
        (f"{c.adjudicated:,}", "adjudicated"),
        (f"{c.open:,}", "awaiting adjudication"),
    ]


def _consensus_html(report: ProjectReport) -> str:
    c = report.consensus
    return _section(
        "Consensus",
        f"Items with two or more votes: {c.unanimous:,} unanimous, {c.majority:,} by"
        " majority; disagreements go to adjudication (gold items are settled by their answer).",
        _tile_row(consensus_tiles(c), {"awaiting adjudication"} if c.open else set()),
    )


def _rejections_html(rejections: Rejections | None) -> str:
    if rejections is None:
        return ""
    listed = rejections.items
    rows = "".join(
        f"<tr><td class='num'>{r.datapoint_id}</td><td>{escape(r.reason or '')}"
        + (f" <i>({escape(r.decision)})</i>" if r.decision != "reject" else "")
        + f"</td><td>{escape(r.annotator)}</td><td>{escape(r.reviewer)}</td>"
        f"<td>{escape(str(r.at)[:16].replace('T', ' '))}</td></tr>"
        for r in listed
    )
    shown = f" The newest {len(listed):,} are listed." if rejections.open > len(listed) else ""
    plural = "" if rejections.open == 1 else "s"
    head = (
        f"<h3>Rejections</h3><p class='note'>{rejections.open:,} open rejection{plural}"
        f" (to fix), {rejections.resolved:,} resolved.{shown}</p>"
    )
    table = (
        "<table><tr><th>datapoint</th><th>reason</th><th>annotator</th><th>reviewer</th>"
        "<th>at (UTC)</th></tr>" + rows + "</table>"
        if rows
        else "<p class='note'>No open rejections.</p>"
    )
    return head + table


def _flags_html(issues: OpenIssues) -> str:
    flags = issues.flags
    rows = "".join(
        f"<tr><td class='num'>{f.datapoint_id}</td><td>{escape(f.reason)}</td>"
        f"<td>{escape(f.by)}</td><td>{escape(str(f.at)[:16].replace('T', ' '))}</td></tr>"
        for f in flags
    )
    shown = f" The newest {len(flags):,} are listed." if issues.flags_open > len(flags) else ""
    table = (
        "<table><tr><th>datapoint</th><th>reason</th><th>by</th><th>at (UTC)</th></tr>"
        + rows
        + "</table>"
        if rows
        else "<p class='note'>No open flags.</p>"
    )
    flags_note = f"{issues.flags_open:,} open flags, {issues.flags_resolved:,} resolved."
    if issues.rejections is None:
        return _section("Open issues", flags_note + shown, table)
    return _section(
        "Open issues",
        "Flags and rejections still to deal with.",
        f"<h3>Flags</h3><p class='note'>{flags_note}{shown}</p>"
        + table
        + _rejections_html(issues.rejections),
        wide=True,
    )


def render_html(report: ProjectReport) -> str:
    """The report as an HTML page (a string)."""
    project = report.project
    title = f"{project.name}: project report"
    sections = [
        _section("Summary", "", _tiles(report), wide=True),
        _progress_html(report),
        _over_time_html(report),
        *([_gold_html(report)] if report.gold is not None else []),
        *([_assignments_html(report)] if report.open_issues.assignments is not None else []),
        _consensus_html(report),
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
        _flags_html(report.open_issues),
    ]
    subtitle = (
        f"{project.task_type} · schema v{project.schema_version} ·"
        f" generated {str(report.generated_at).replace('T', ' ')}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(project.name)}</h1><p>{escape(subtitle)}</p></header>"
        f"<main>{''.join(sections)}</main>"
        "<footer>Tagloop project report · self-contained: no scripts, no network resources"
        "</footer></body></html>\n"
    )


def write_html(report: ProjectReport, out: Path) -> Path:
    """Write the report as one self-contained HTML file, atomically (temp file, then rename)."""
    out = Path(out)
    atomic_write_text(out, render_html(report))
    return out
