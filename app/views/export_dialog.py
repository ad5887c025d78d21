"""The export options dialog: the format (from the registry of app.core.io.formats), which
values (every annotator's, or the final one), only completed items, and for CSV, whether to
neutralise cells that a spreadsheet would run as formulas (on by default;
app.core.io.spreadsheet)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from app.core.io.formats.base import WriteReport
from app.core.io.formats.registry import WRITABLE
from app.views.wording import plural

SHOWN_WARNINGS = 20  # the rest are counted, not listed: the dialog must fit the screen

SAFE_TEXT = "Protect against spreadsheet formulas (recommended)"
SAFE_TIP = (
    "A cell that starts with = + - @ (or a tab) is run as a formula when the file is opened "
    "in Excel, LibreOffice or Google Sheets. With this on, such cells get a leading ' so the "
    "spreadsheet shows them as text, and a re-import into Tagloop removes it again. Turn it "
    "off only for a program that reads the file (the same as `tagloop export --raw`)."
)
# Suffix -> format, for the format the file name suggests (the first writable one listed).
SUFFIX_FORMATS = {
    ".jsonl": "jsonl",
    ".csv": "csv",
    ".json": "labelstudio",
    ".conll": "conll",
    ".iob": "conll",
    ".spacy": "spacy",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".xlsx": "xlsx",
    ".pubtator": "pubtator",
    ".xml": "bioc",
}
SINGLE_VALUE = ("doccano", "conll")  # formats that hold one value per datapoint
ALL_VALUES = "Every annotator's annotations"
FINAL_VALUES = "Final: adjudicated, else gold, else consensus"
EXPORT_FILTER = (
    "JSON Lines (*.jsonl);;CSV (*.csv);;Label Studio JSON (*.json);;CoNLL (*.conll);;"
    "spaCy DocBin (*.spacy);;Parquet (*.parquet);;Arrow (*.arrow);;Excel (*.xlsx);;All files (*)"
)


class ExportOptionsDialog(QDialog):
    """Asked after the file is chosen; `fmt`, `value_source`, `only_completed` and `raw` give
    the answers."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Export to {Path(path).name}"))
        form = QFormLayout()
        self.format_combo = QComboBox()
        self.format_combo.addItems(WRITABLE)
        self.format_combo.setCurrentText(SUFFIX_FORMATS.get(Path(path).suffix.lower(), "jsonl"))
        form.addRow("Format:", self.format_combo)
        self.values_combo = QComboBox()
        self.values_combo.addItems([ALL_VALUES, FINAL_VALUES])
        self._chosen_values = ALL_VALUES
        form.addRow("Values:", self.values_combo)
        layout.addLayout(form)
        self.completed_box = QCheckBox("Only completed (labeled) items")
        layout.addWidget(self.completed_box)
        self.safe_box = QCheckBox(SAFE_TEXT)
        self.safe_box.setToolTip(SAFE_TIP)
        self.safe_box.setChecked(True)
        layout.addWidget(self.safe_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.format_combo.currentTextChanged.connect(self._format_changed)
        self._format_changed(self.fmt)

    def _format_changed(self, fmt: str) -> None:
        spreadsheet = fmt in ("csv", "xlsx")
        self.safe_box.setEnabled(spreadsheet)
        self.safe_box.setVisible(spreadsheet)
        single = fmt in SINGLE_VALUE
        if single and self.values_combo.isEnabled():
            self._chosen_values = self.values_combo.currentText()
            self.values_combo.setCurrentText(FINAL_VALUES)
        elif not single and not self.values_combo.isEnabled():
            self.values_combo.setCurrentText(self._chosen_values)  # the user's choice again
        self.values_combo.setEnabled(not single)

    @property
    def fmt(self) -> str:
        return self.format_combo.currentText()

    @property
    def value_source(self) -> str | None:
        return "final" if self.values_combo.currentText() == FINAL_VALUES else None

    def choices(self) -> dict[str, str | None]:
        """The format and the value source, as export_datapoints takes them."""
        return {"fmt": self.fmt, "value_source": self.value_source}

    @property
    def only_completed(self) -> bool:
        return self.completed_box.isChecked()

    @property
    def raw(self) -> bool:
        """True when the user turned the formula protection off (CSV only)."""
        return self.safe_box.isEnabled() and not self.safe_box.isChecked()


def export_done_text(path: Path, report: WriteReport) -> str | None:
    """What the writer wants the user to know (spans that don't align to tokens, the labeling
    config a Label Studio project needs...), or None when it has nothing to say."""
    if not report.warnings and not report.notes:
        return None
    lines = [f"Exported {plural(report.written, 'datapoint')} to {path.name}."]
    if report.warnings:
        lines += ["", f"{plural(len(report.warnings), 'warning')}:"]
        lines += [f"• {w}" for w in report.warnings[:SHOWN_WARNINGS]]
        if len(report.warnings) > SHOWN_WARNINGS:
            lines.append(f"… and {len(report.warnings) - SHOWN_WARNINGS:,} more")
    for note in report.notes:
        lines += ["", note]
    return "\n".join(lines)


def show_export_done(parent: QWidget, path: Path, report: WriteReport) -> None:
    """The status bar says it was written; a message box shows the writer's warnings and
    notes, which the command line prints and a GUI user must not miss either."""
    status = getattr(parent, "statusBar", None)
    if status is not None:
        status().showMessage(f"Exported {plural(report.written, 'datapoint')} to {path}", 8000)
    message = export_done_text(path, report)
    if message is not None:
        box = QMessageBox(QMessageBox.Icon.Information, "Export written", message, parent=parent)
        box.open()
        parent.export_message = box  # type: ignore[attr-defined]  # tests read it
