"""The scales, number formats and chart series of the project report, shared by its SVG
charts (`app.core.report.svg`) and the dashboard's QPainter charts (`app.views.widgets.charts`),
so that both round, label and lay out the figures the same way."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

from app.core.report.sections import DayCount, Gold


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


def cumulative_series(over_time: Sequence[DayCount]) -> tuple[list[str], dict[str, list[int]]]:
    """Days, and each annotator's cumulative completed count on each of them."""
    days = day_range([e.day for e in over_time])
    position = {d: k for k, d in enumerate(days)}
    added: dict[str, list[int]] = {}
    for entry in over_time:
        k = position.get(entry.day)
        if k is not None:
            added.setdefault(entry.annotator, [0] * len(days))[k] += entry.completed
    series = {}
    for name, counts in sorted(added.items()):
        total, running = 0, []
        for n in counts:
            total += n
            running.append(total)
        series[name] = running
    return days, series


def accuracy_series(
    gold: Gold,
) -> tuple[list[str], dict[str, list[float | None]], dict[str, list[int]]]:
    """Bucket start days (every bucket from the first to the last, a gap where nobody answered
    gold), and each annotator's accuracy (None where they gave no gold answer) and answers in
    each."""
    window = int(gold.window_days or 7)
    starts = {b.bucket for p in gold.per_annotator.values() for b in p.over_time}
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
    for name, per in gold.per_annotator.items():
        if not per.over_time:
            continue
        accuracy[name] = [None] * len(buckets)
        items[name] = [0] * len(buckets)
        for b in per.over_time:
            k = position.get(b.bucket)
            if k is not None:
                accuracy[name][k] = b.accuracy
                items[name][k] = b.items
    return buckets, accuracy, items


def fmt_percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"
