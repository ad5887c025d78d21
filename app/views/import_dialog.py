"""The import dialog: a live preview of the file, column mapping, and the import as a Job.

The formats come from the registry (app.core.io.formats.registry). For a peer format (Label
Studio, Prodigy, doccano, CoNLL...) the file says where the text and each annotator's labels
are, so the column mapping is hidden and the preview shows the answers instead."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import TagloopError, UnknownLabelsError
from app.core.io.formats.registry import NAMES
from app.core.io.importer import ImportReport, import_dataset, preview, suggest_mapping
from app.core.project.project import Project
from app.views.theme import palette
from app.workers.job import Job, run_with_progress

NONE = "(none)"
AUTO = "(detect)"
# Static, so that building the menu does not import every format's library.
FILE_FILTER = (
    "Data files (*.csv *.tsv *.tab *.json *.jsonl *.ndjson *.txt *.text *.conll *.iob"
    " *.bio *.biluo *.spacy *.ann *.xml *.bioc *.pubtator *.parquet *.arrow *.xlsx);;All files (*)"
)
ENCODINGS = (AUTO, "utf-8", "cp1252", "latin-1", "utf-16")
PEER_NOTE = (
    "This format says where the text and the labels are: each annotator's labels are "
    "imported as that annotator's annotations; unanswered items stay unlabelled."
)


class ImportDialog(QDialog):
    imported = Signal(object)

    def __init__(
        self, project: Project, path: Path | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.path: Path | None = None
        self.job: Job | None = None
        self.report: ImportReport | None = None
        self.peer = False
        self.setWindowTitle("Import dataset")
        self.resize(900, 620)

        top = self._top_bar()
        self.peer_note = QLabel(PEER_NOTE)
        self.peer_note.setWordWrap(True)
        self.peer_note.hide()

        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {palette().form_error}; font-weight: bold")
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)

        mapping_box = QGroupBox("Columns")
        self.mapping_box = mapping_box
        form = QFormLayout(mapping_box)
        self.input_combos: dict[str, QComboBox] = {}
        for spec in project.inputs:
            combo = QComboBox()
            self.input_combos[spec.name] = combo
            role = "annotated" if spec.annotated else "context"
            form.addRow(f"Input “{spec.name}” ({role}):", combo)
        self.label_combo = QComboBox()
        form.addRow("Existing labels in:", self.label_combo)
        self.annotator = QLineEdit()
        self.annotator.setPlaceholderText("imported")
        self.annotator_row = QLabel("Those labels are by:")
        form.addRow(self.annotator_row, self.annotator)
        self.keep = QRadioButton("Keep")
        self.skip = QRadioButton("Skip")
        self.keep.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.keep)
        group.addButton(self.skip)
        duplicates = QHBoxLayout()
        duplicates.addWidget(self.keep)
        duplicates.addWidget(self.skip)
        duplicates.addStretch(1)
        form.addRow("Exact duplicate texts:", duplicates)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Cancel | QDialogButtonBox.StandardButton.Ok
        )
        self.import_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.import_button.setText("Import")
        self.import_button.setEnabled(False)
        self.buttons.accepted.connect(self.start_import)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.error)
        layout.addWidget(self.peer_note)
        layout.addWidget(self.table, 1)
        layout.addWidget(mapping_box)
        layout.addWidget(self.buttons)
        self.sheet.hide()
        self.sheet_label.hide()
        if path is not None:
            self.set_path(Path(path))

    def _top_bar(self) -> QHBoxLayout:
        """The file, its format, encoding (and xlsx sheet), and the Choose button."""
        self.file_label = QLabel("No file chosen")
        choose = QPushButton("Choose file…")
        choose.clicked.connect(self._choose)
        self.format = QComboBox()
        self.format.addItems(NAMES)
        self.format.activated.connect(lambda _i: self._load_preview(self.format.currentText()))
        self.encoding = QLabel()
        self.encoding_choice = QComboBox()
        self.encoding_choice.setEditable(True)
        self.encoding_choice.addItems(ENCODINGS)
        self.encoding_choice.setToolTip("The text encoding: detect (UTF-8, UTF-16 with a BOM), "
                                        "or e.g. cp1252 for a CSV saved by Excel")  # fmt: skip
        self.encoding_choice.activated.connect(
            lambda _i: self._load_preview(self.format.currentText())
        )
        top = QHBoxLayout()
        top.addWidget(self.file_label, 1)
        top.addWidget(QLabel("Format:"))
        top.addWidget(self.format)
        top.addWidget(QLabel("Encoding:"))
        top.addWidget(self.encoding_choice)
        self.sheet = QLineEdit()
        self.sheet.setPlaceholderText("first sheet")
        self.sheet.setToolTip("xlsx: the sheet to read")
        self.sheet.setMaximumWidth(120)
        self.sheet.editingFinished.connect(lambda: self._load_preview(self.format.currentText()))
        self.sheet_label = QLabel("Sheet:")
        top.addWidget(self.sheet_label)
        top.addWidget(self.sheet)
        top.addWidget(self.encoding)
        top.addWidget(choose)
        return top

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import dataset", "", FILE_FILTER)
        if path:
            self.set_path(Path(path))

    def set_path(self, path: Path) -> None:
        self.path = path
        self.file_label.setText(str(path))
        self._load_preview(None)

    def _load_preview(self, fmt: str | None) -> None:
        self.error.clear()
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.import_button.setEnabled(False)
        if self.path is None:
            return
        try:
            found = preview(
                self.path,
                fmt,
                encoding=self.chosen_encoding(),
                task_type=self.project.task_type,
                sheet=self.chosen_sheet(),
            )
        except TagloopError as exc:
            self.error.setText(str(exc))
            return
        self.peer = found.peer
        self.peer_note.setVisible(found.peer)
        for combo in self.input_combos.values():
            combo.setEnabled(not found.peer)
        self.label_combo.setEnabled(not found.peer)
        self.format.setCurrentText(found.format)
        self.sheet.setVisible(found.format == "xlsx")
        self.sheet_label.setVisible(found.format == "xlsx")
        self.encoding.setText(f"(read as {found.encoding.replace('-sig', '')})")
        self.table.setColumnCount(len(found.columns))
        self.table.setHorizontalHeaderLabels(found.columns)
        self.table.setRowCount(len(found.rows))
        for r, record in enumerate(found.rows):
            for c, column in enumerate(found.columns):
                value = record.get(column, "")
                text = value if isinstance(value, str) else "" if value is None else str(value)
                self.table.setItem(r, c, QTableWidgetItem(text[:300]))
        for c in range(len(found.columns)):
            self.table.setColumnWidth(c, 220)
        suggested = {
            target: column
            for column, target in suggest_mapping(found.columns, self.project).items()
        }
        for name, combo in self.input_combos.items():
            combo.clear()
            combo.addItems([NONE, *found.columns])
            combo.setCurrentText(suggested.get(name, NONE))
        self.label_combo.clear()
        self.label_combo.addItems([NONE, *found.columns])
        guess = next((c for c in found.columns if c.lower() in ("label", "labels")), NONE)
        guess = NONE if found.peer else guess
        self.label_combo.setCurrentText(guess)
        self.import_button.setEnabled(True)

    def chosen_sheet(self) -> str | None:
        """The sheet typed, for an xlsx file only (the field is hidden for other formats, and
        the importer refuses a sheet for them)."""
        if self.sheet.isHidden():
            return None
        return self.sheet.text().strip() or None

    def chosen_encoding(self) -> str | None:
        text = self.encoding_choice.currentText().strip()
        return None if text in ("", AUTO) else text

    def mapping(self) -> dict[str, str] | None:
        if self.peer:
            return None
        return {
            combo.currentText(): name
            for name, combo in self.input_combos.items()
            if combo.currentText() != NONE
        }

    def start_import(self, add_labels: bool = False) -> None:
        if self.path is None:
            return
        label = self.label_combo.currentText()
        self.import_button.setEnabled(False)
        self.error.clear()
        self.job = run_with_progress(
            self,
            f"Importing {self.path.name}",
            import_dataset,
            self.project,
            self.path,
            mapping=self.mapping(),
            label_column=None if label == NONE or self.peer else label,
            annotator=self.annotator.text().strip() or None,
            duplicates="skip" if self.skip.isChecked() else "keep",
            add_labels=add_labels,
            fmt=self.format.currentText(),
            encoding=self.chosen_encoding(),
            sheet=self.chosen_sheet(),
            index=False,  # the main window builds the search index in the background
        )
        self.job.succeeded.connect(self._done)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(self._cancelled)
        self.job.start()

    def _done(self, report: ImportReport) -> None:
        self.report = report
        self.imported.emit(report)
        QMessageBox.information(self, "Import finished", report.summary())
        self.accept()

    def _failed(self, message: str) -> None:
        self.import_button.setEnabled(True)
        error = self.job.error if self.job else None
        if isinstance(error, UnknownLabelsError):
            names = ", ".join(error.labels)
            answer = QMessageBox.question(
                self,
                "Labels not in the schema",
                f"{error.file}, line {error.line}: the labels {names} are not in the label "
                "schema.\n\nAdd them to the schema (as a new schema version) and import?",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.start_import(add_labels=True)
                return
        self.error.setText(message)

    def _cancelled(self) -> None:
        self.import_button.setEnabled(True)
        self.error.setText("Import cancelled; nothing was imported.")
