"""The gold view's accuracy panel: each annotator's gold accuracy, overall and in the latest
window, with the drift alerts (app.core.quality.gold.drift_alerts) in red.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGroupBox, QLabel, QSpinBox, QVBoxLayout

from app.core.errors import TagloopError
from app.core.quality import gold as core_gold
from app.views.quality.gold_common import (
    GoldPanel,
    cell,
    make_table,
    percent,
    row_of,
    verdict_colour,
)
from app.views.theme import palette


class AccuracyPanel(GoldPanel):
    """The alert settings (`threshold_spin`, `min_items_spin`, `window_spin`), the accuracy
    table and the alerts line."""

    ACCURACY_COLUMNS = ("Annotator", "Accuracy", "Correct", "Latest window", "Drift")

    accuracy: list[core_gold.GoldAccuracy]
    alerts: list[core_gold.DriftAlert]

    _colour_gold: Callable[[], None]  # the gold items panel's

    def _accuracy_box(self) -> QGroupBox:
        self.threshold_spin = QSpinBox(minimum=1, maximum=100, value=80)
        self.threshold_spin.setSuffix(" %")
        self.min_items_spin = QSpinBox(minimum=1, maximum=10_000, value=5)
        self.window_spin = QSpinBox(minimum=1, maximum=365, value=7)
        self.window_spin.setSuffix(" days")
        for spin in (self.threshold_spin, self.min_items_spin, self.window_spin):
            spin.valueChanged.connect(self.load_accuracy)
        self.threshold_spin.valueChanged.connect(self._colour_gold)
        self.accuracy_table = make_table(self.ACCURACY_COLUMNS, 4)
        self.alert_label = QLabel(wordWrap=True)
        self.alert_label.setStyleSheet(f"color: {palette().danger};")
        accuracy_box = QGroupBox("Gold accuracy per annotator")
        accuracy_row = row_of(
            "Alert below",
            self.threshold_spin,
            "with at least",
            self.min_items_spin,
            "answers per",
            self.window_spin,
            1,
        )
        accuracy_layout = QVBoxLayout(accuracy_box)
        accuracy_layout.addLayout(accuracy_row)
        accuracy_layout.addWidget(self.accuracy_table, 1)
        accuracy_layout.addWidget(self.alert_label)
        return accuracy_box

    def load_accuracy(self) -> None:
        threshold = self.threshold_spin.value() / 100
        window = self.window_spin.value()
        try:
            self.accuracy = core_gold.gold_accuracy(self.project, window_days=window)
            self.alerts = core_gold.drift_alerts(
                self.project, threshold, self.min_items_spin.value(), window
            )
        except TagloopError as exc:
            self.accuracy, self.alerts = [], []
            self.alert_label.setText(str(exc))
            return
        alerted = {a.annotator: a for a in self.alerts}
        table = self.accuracy_table
        table.setRowCount(len(self.accuracy))
        for r, acc in enumerate(self.accuracy):
            alert = alerted.get(acc.annotator)
            latest = acc.buckets[-1] if acc.buckets else None
            window_text = (
                f"{percent(latest.accuracy)} on {latest.total} ({latest.start} to {latest.end})"
                if latest
                else "—"
            )
            drift = (
                f"⚠ {percent(alert.accuracy)} on {alert.items}, below {percent(threshold)}"
                if alert
                else "ok"
            )
            row = (
                cell(acc.annotator, bold=alert is not None),
                cell(percent(acc.accuracy), bold=True),
                cell(f"{acc.correct} of {acc.total}"),
                cell(window_text),
                cell(drift, verdict_colour(alert is None), bold=alert is not None),
            )
            for column, item in enumerate(row):
                if alert is not None:
                    item.setForeground(QColor(palette().danger))
                    item.setBackground(QColor(palette().danger_background))
                table.setItem(r, column, item)
        if not self.accuracy:
            self.alert_label.setStyleSheet(f"color: {palette().muted};")
            self.alert_label.setText("Nobody has answered a gold item yet.")
        elif self.alerts:
            self.alert_label.setStyleSheet(f"color: {palette().danger};")
            self.alert_label.setText("\n".join(f"⚠ {a.message()}" for a in self.alerts))
        else:
            self.alert_label.setStyleSheet(f"color: {palette().success};")
            self.alert_label.setText(f"No drift: nobody's latest window is below {threshold:.0%}.")
