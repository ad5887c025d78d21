"""The dashboard's agreement panels: the pairwise kappa heat map (overall or per label), and
each label's alpha with the items whose annotators agree least."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel

from app.core.quality.agreement_report import LOW_ALPHA
from app.core.report.html import alpha_rows, value_text
from app.core.report.scales import fmt_number
from app.core.report.sections import Heatmap, LowAgreement, ProjectReport
from app.views.dashboard.widgets import Card, column, fill_table, make_table
from app.views.glossary import explain_on
from app.views.widgets.charts import HBars, HeatMap


class HeatmapCard(Card):
    """Cohen's kappa of each pair of annotators, over all labels or the one chosen."""

    def __init__(self) -> None:
        choice = QComboBox()
        choice.setAccessibleName("Labels the agreement is over")
        super().__init__(
            "Agreement between annotators",
            "Cohen's κ of each pair, with the items they share.",
            choice,
        )
        self.label_choice = choice
        explain_on(self.note, "Cohen's κ", "Krippendorff's α", "Fleiss' κ")
        self.heatmap = HeatMap()
        self.heat: Heatmap | None = None
        self.label_choice.currentIndexChanged.connect(self.show_heatmap)
        self.set_body(self.heatmap)

    def show_report(self, report: ProjectReport) -> None:
        self.heat = report.agreement.heatmap
        self.label_choice.blockSignals(True)
        self.label_choice.clear()
        self.label_choice.addItem("All labels", None)
        for label in self.heat.per_label:
            self.label_choice.addItem(label, label)
        self.label_choice.blockSignals(False)
        self.show_heatmap()
        overall = report.agreement.overall
        self.note.setText(
            f"Cohen's κ of each pair, with the items they share. Overall: Krippendorff's α"
            f" {fmt_number(overall.krippendorff_alpha)} on {overall.items:,}"
            f" items, Fleiss' κ {fmt_number(overall.fleiss_kappa)}"
            f" on {overall.fleiss_items:,}."
        )

    def show_heatmap(self, *_args) -> None:
        """Draw the matrix of the label chosen (None: all labels)."""
        heat = self.heat
        if heat is None:
            return
        label = self.label_choice.currentData()
        matrix = heat.kappa if label is None else heat.per_label[label]
        self.heatmap.set_data((list(heat.annotators), matrix, heat.items))


class AlphaCard(Card):
    """Krippendorff's alpha per label, the labels below the bar, and the worst items."""

    def __init__(self) -> None:
        super().__init__(
            "Agreement per label",
            f"Krippendorff's α of each label against the rest; dashed line {LOW_ALPHA}.",
        )
        explain_on(self.note, "Krippendorff's α")
        self.alpha = HBars(
            scale_max=1.0, marker=LOW_ALPHA, empty_text="No items with two annotators yet"
        )
        self.disagreements = make_table(["Datapoint", "Agreement", "Answers"], stretch=2)
        self.low_labels = QLabel("")
        self.low_labels.setTextFormat(Qt.TextFormat.PlainText)  # label names are user text
        self.low_labels.setObjectName("note")
        self.low_labels.setWordWrap(True)
        self.set_body(column(self.alpha, 6, self.low_labels, self.disagreements))

    def show_report(self, report: ProjectReport) -> None:
        self.alpha.set_data(alpha_rows(report))
        self.show_low(report.agreement.low_agreement)

    def show_low(self, low: LowAgreement) -> None:
        self.low_labels.setText(
            f"Labels below {LOW_ALPHA}: {', '.join(low.labels) or 'none'}."
            + (" Items whose annotators agree least:" if low.items else "")
        )
        fill_table(
            self.disagreements,
            [
                (
                    str(item.datapoint_id),
                    f"{item.agreement:.2f}",
                    " · ".join(
                        f"{who}: {value_text(value)}"
                        for who, value in zip(item.annotators, item.values, strict=False)
                    ),
                )
                for item in low.items
            ],
            numeric=(0, 1),
        )
        self.disagreements.setVisible(bool(low.items))
