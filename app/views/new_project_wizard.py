"""The new-project wizard: name and place, task type, inputs, labels, guidelines."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.core.annotation.tokens import LANGUAGES, NEEDS_PACKAGE
from app.core.errors import TagloopError
from app.core.project.label_schema import PALETTE, TASK_TYPES, LabelSpec
from app.core.project.project import PROJECT_SUFFIX, Project, create_project
from app.views.theme import palette

TASK_HELP = {
    "classification": "Each item gets exactly one label.",
    "multilabel": "Each item gets any number of labels, or an explicit 'none of these'.",
    "spans": "Mark stretches of text (entities, phrases) with a label.",
}


def swatch_style(colour: str) -> str:
    """A label-colour button: the label's colour behind dark ink (as the button always was)."""
    return f"background: {colour}; color: {palette().ink_on_light}"


class BasicsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("New project")
        self.setSubTitle("A project is one file holding your data, labels and settings.")
        self.name = QLineEdit("My project")
        self.location = QLineEdit(str(Path.home() / f"my-project{PROJECT_SUFFIX}"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.name.textEdited.connect(self._follow_name)
        where = QHBoxLayout()
        where.addWidget(self.location, 1)
        where.addWidget(browse)
        self.types = QButtonGroup(self)
        types = QVBoxLayout()
        for i, task in enumerate(TASK_TYPES):
            button = QRadioButton(f"{task.capitalize()}  —  {TASK_HELP[task]}")
            button.setObjectName(f"type_{task}")
            button.setChecked(i == 0)
            self.types.addButton(button, i)
            types.addWidget(button)
        self.overlap = QCheckBox("Spans may overlap")
        self.overlap.setEnabled(False)
        self.types.idToggled.connect(lambda *_: self.overlap.setEnabled(self.task_type == "spans"))
        types.addWidget(self.overlap)
        self.language = QComboBox()
        self.language.setObjectName("language")
        for code, name in LANGUAGES:
            self.language.addItem(f"{name} ({code})", code)
        self.language_note = QLabel()
        self.language_note.setWordWrap(True)
        self.language_note.setStyleSheet(f"color: {palette().muted}")
        self.language.currentIndexChanged.connect(self._language_changed)
        self._language_changed()
        form = QFormLayout(self)
        form.addRow("Name:", self.name)
        form.addRow("File:", where)
        form.addRow("Task:", types)
        form.addRow("Language:", self.language)
        form.addRow("", self.language_note)

    @property
    def task_type(self) -> str:
        return TASK_TYPES[max(self.types.checkedId(), 0)]

    @property
    def language_code(self) -> str:
        return str(self.language.currentData())

    def _language_changed(self) -> None:
        """Say what the language is for, and where spaCy needs a package we do not install
        (without loading spaCy here: the wizard must open at once)."""
        code = self.language_code
        text = "Used to snap span selections to whole words and by the span model's tokenizer."
        if code in NEEDS_PACKAGE:
            how = "single characters" if code != "ko" else "words between spaces"
            text += (
                f" spaCy's tokenizer for this language needs {NEEDS_PACKAGE[code]}; if it is not"
                f" installed, selections snap to {how}."
            )
        self.language_note.setText(text)

    def _follow_name(self, text: str) -> None:
        slug = "-".join(text.lower().split()) or "project"
        self.location.setText(str(Path(self.location.text()).parent / f"{slug}{PROJECT_SUFFIX}"))

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Project file", self.location.text(), f"Tagloop projects (*{PROJECT_SUFFIX})"
        )
        if path:
            self.location.setText(path)

    def validatePage(self) -> bool:
        return bool(self.name.text().strip() and self.location.text().strip())


class InputsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Inputs")
        self.setSubTitle(
            "The fields each item has. One is annotated; the others are shown beside it as context."
        )
        self.inputs = QLineEdit("text")
        self.inputs.setPlaceholderText("text, title, author")
        self.annotated = QComboBox()
        self.inputs.textChanged.connect(self._refresh)
        form = QFormLayout(self)
        form.addRow("Inputs (comma-separated):", self.inputs)
        form.addRow("Annotated input:", self.annotated)
        self._refresh()

    def names(self) -> list[str]:
        return [name.strip() for name in self.inputs.text().split(",") if name.strip()]

    def _refresh(self) -> None:
        current = self.annotated.currentText()
        self.annotated.clear()
        self.annotated.addItems(self.names())
        if current in self.names():
            self.annotated.setCurrentText(current)

    def validatePage(self) -> bool:
        return bool(self.names())


class LabelsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Labels")
        self.setSubTitle("Name each label; colour and hotkey are filled in if left blank.")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Name", "Colour", "Hotkey", "Description"])
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        add = QPushButton("Add label")
        add.clicked.connect(lambda: self.add_label(""))
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove)
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {palette().form_error}")
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.error)
        for name in ("positive", "negative"):
            self.add_label(name)

    def add_label(self, name: str, hotkey: str = "", description: str = "") -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(name))
        colour = PALETTE[row % len(PALETTE)]
        button = QPushButton(colour)
        button.setStyleSheet(swatch_style(colour))
        button.clicked.connect(lambda: self._pick_colour(button))
        self.table.setCellWidget(row, 1, button)
        self.table.setItem(row, 2, QTableWidgetItem(hotkey))
        self.table.setItem(row, 3, QTableWidgetItem(description))
        if not name:
            self.table.editItem(self.table.item(row, 0))

    def _pick_colour(self, button: QPushButton) -> None:
        colour = QColorDialog.getColor(QColor(button.text()), self, "Label colour")
        if colour.isValid():
            button.setText(colour.name())
            button.setStyleSheet(swatch_style(colour.name()))

    def _remove(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        for row in rows or [self.table.rowCount() - 1]:
            self.table.removeRow(row)

    def labels(self) -> list[LabelSpec]:
        labels = []
        for row in range(self.table.rowCount()):
            name = (self.table.item(row, 0).text() if self.table.item(row, 0) else "").strip()
            if not name:
                continue
            colour = self.table.cellWidget(row, 1).text()
            hotkey = self.table.item(row, 2).text().strip() if self.table.item(row, 2) else ""
            description = self.table.item(row, 3).text() if self.table.item(row, 3) else ""
            labels.append(LabelSpec(name, colour, hotkey, description))
        return labels

    def validatePage(self) -> bool:
        from app.core.project.label_schema import complete_labels

        try:
            complete_labels(self.labels())
        except TagloopError as exc:
            self.error.setText(str(exc))
            return False
        self.error.clear()
        return True


class GuidelinesPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Guidelines")
        self.setSubTitle("What annotators should know, in Markdown. You can edit them later.")
        self.editor = QPlainTextEdit("# Guidelines\n\nDescribe when to use each label.\n")
        self.preview = QTextBrowser()
        self.editor.textChanged.connect(self._render)
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {palette().form_error}")
        self.error.setWordWrap(True)
        splitter = QSplitter()
        splitter.addWidget(self.editor)
        splitter.addWidget(self.preview)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        layout.addWidget(self.error)
        self._render()

    def _render(self) -> None:
        self.preview.setMarkdown(self.editor.toPlainText())


class NewProjectWizard(QWizard):
    """Collects what create_project needs; `.project` holds the created project on accept."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.resize(760, 520)
        self.basics = BasicsPage()
        self.inputs = InputsPage()
        self.labels = LabelsPage()
        self.guidelines = GuidelinesPage()
        for page in (self.basics, self.inputs, self.labels, self.guidelines):
            self.addPage(page)
        self.project: Project | None = None

    def accept(self) -> None:
        try:
            self.project = create_project(
                Path(self.basics.location.text().strip()),
                self.basics.task_type,
                self.labels.labels(),
                inputs=self.inputs.names(),
                annotated_input=self.inputs.annotated.currentText() or None,
                guidelines=self.guidelines.editor.toPlainText(),
                name=self.basics.name.text().strip(),
                allow_overlap=self.basics.overlap.isChecked(),
                language=self.basics.language_code,
            )
        except TagloopError as exc:
            self.guidelines.error.setText(str(exc))
            return
        super().accept()
