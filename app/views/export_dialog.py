"""The export options dialog: only completed items, and for CSV, whether to neutralise cells
that a spreadsheet would run as formulas (on by default; app.core.io.spreadsheet)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

SAFE_TEXT = "Protect against spreadsheet formulas (recommended)"
SAFE_TIP = (
    "A cell that starts with = + - @ (or a tab) is run as a formula when the file is opened "
    "in Excel, LibreOffice or Google Sheets. With this on, such cells get a leading ' so the "
    "spreadsheet shows them as text, and a re-import into Tagloop removes it again. Turn it "
    "off only for a program that reads the file (the same as `tagloop export --raw`)."
)


class ExportOptionsDialog(QDialog):
    """Asked after the file is chosen; `only_completed` and `raw` give the answers."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Export to {Path(path).name}"))
        self.completed_box = QCheckBox("Only completed (labeled) items")
        layout.addWidget(self.completed_box)
        self.safe_box = QCheckBox(SAFE_TEXT)
        self.safe_box.setToolTip(SAFE_TIP)
        is_csv = Path(path).suffix.lower() == ".csv"
        self.safe_box.setChecked(True)
        self.safe_box.setEnabled(is_csv)
        self.safe_box.setVisible(is_csv)
        layout.addWidget(self.safe_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @property
    def only_completed(self) -> bool:
        return self.completed_box.isChecked()

    @property
    def raw(self) -> bool:
        """True when the user turned the formula protection off (CSV only)."""
        return self.safe_box.isEnabled() and not self.safe_box.isChecked()
