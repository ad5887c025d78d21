"""Bundle dialogs: export a project, open a bundle, return work, merge work.

Each dialog only gathers what the core verb needs (app.core.bundle) and runs it as a Job
behind a progress dialog with Cancel; a failure (a wrong passphrase, a tampered or foreign
bundle) is shown in the dialog, which stays open so the user can correct it.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.bundle import (
    SUFFIX,
    export_project_bundle,
    export_work_bundle,
    merge_bundle,
    open_bundle,
)
from app.core.bundle.crypto import is_encrypted
from app.core.project import modelstore
from app.core.project.project import Project
from app.views.theme import palette
from app.workers.job import Job, run_with_progress

BUNDLE_FILTER = f"Tagloop bundles (*{SUFFIX})"
PROJECT_FILTER = "Tagloop projects (*.tagloop)"
MIN_PASSPHRASE = 8
CLI_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*:\s*")  # "--with-model: " in a message


def file_is_encrypted(path: Path) -> bool:
    try:
        with Path(path).open("rb") as handle:
            return is_encrypted(handle.read(64))
    except OSError:
        return False


class PathField(QWidget):
    """A path with a Browse… button (a save, open or directory chooser)."""

    def __init__(self, mode: str, caption: str, file_filter: str = "", parent=None) -> None:
        super().__init__(parent)
        self.mode, self.caption, self.file_filter = mode, caption, file_filter
        self.edit = QLineEdit()
        self.edit.setAccessibleName(caption)
        browse = QPushButton("Browse…")
        browse.setAccessibleDescription(f"Choose: {caption}")
        browse.clicked.connect(self.browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)

    def browse(self) -> None:
        start = self.edit.text()
        if self.mode == "save":
            path, _ = QFileDialog.getSaveFileName(self, self.caption, start, self.file_filter)
        elif self.mode == "open":
            path, _ = QFileDialog.getOpenFileName(self, self.caption, start, self.file_filter)
        else:
            path = QFileDialog.getExistingDirectory(self, self.caption, start)
        if path:
            self.edit.setText(path)

    def path(self) -> Path | None:
        text = self.edit.text().strip()
        return Path(text).expanduser() if text else None


class PassphraseFields(QWidget):
    """Encrypt or not; for a new bundle the passphrase is typed twice."""

    def __init__(self, confirm: bool, parent=None) -> None:
        super().__init__(parent)
        self.confirm = confirm
        self.enabled = QCheckBox("Encrypt with a passphrase (AES-256)" if confirm else "")
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase.setPlaceholderText("passphrase")
        self.passphrase.setAccessibleName("Passphrase")
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.EchoMode.Password)
        self.again.setPlaceholderText("the same passphrase again")
        self.again.setAccessibleName("The same passphrase again")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if confirm:
            layout.addWidget(self.enabled)
            layout.addWidget(self.passphrase)
            layout.addWidget(self.again)
            self.enabled.toggled.connect(self._toggle)
            self._toggle(False)
        else:
            layout.addWidget(self.passphrase)

    def _toggle(self, on: bool) -> None:
        self.passphrase.setEnabled(on)
        self.again.setEnabled(on)

    def value(self) -> tuple[str | None, str | None]:
        """(passphrase or None, a problem or None)."""
        if self.confirm:
            if not self.enabled.isChecked():
                return None, None
            text = self.passphrase.text()
            if len(text) < MIN_PASSPHRASE:
                return None, f"Use a passphrase of at least {MIN_PASSPHRASE} characters."
            if text != self.again.text():
                return None, "The two passphrases differ."
            return text, None
        return self.passphrase.text() or None, None


def gui_message(text: str) -> str:
    """A core message as a dialog says it: without the command line's option names
    ("--with-model: no model yet" reads "No model yet")."""
    plain = CLI_OPTION.sub("", text)
    return plain[:1].upper() + plain[1:] if CLI_OPTION.match(text) else plain


class _JobDialog(QDialog):
    """A form whose OK runs one core verb in the background and shows its outcome."""

    def __init__(self, title: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(560)
        self.form = QFormLayout()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.run)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.job: Job | None = None
        self.report: object | None = None

    def problem(self, text: str) -> None:
        self.message.setStyleSheet(f"color: {palette().bundle_error};")
        self.message.setText(gui_message(text))

    def start(self, title: str, fn, *args, **kwargs) -> Job:
        self.message.setStyleSheet("")
        self.message.setText("Working…")
        self.buttons.setEnabled(False)
        job = run_with_progress(self, title, fn, *args, **kwargs)
        job.succeeded.connect(self._succeeded)
        job.failed.connect(self._failed)
        job.cancelled.connect(self._cancelled)
        self.job = job
        return job.start()

    def _succeeded(self, report: object) -> None:
        self.buttons.setEnabled(True)
        self.report = report
        self.finished_ok(report)

    def _failed(self, message: str) -> None:
        self.buttons.setEnabled(True)
        self.problem(message)

    def _cancelled(self) -> None:
        self._failed("Cancelled: nothing was changed.")

    def run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def finished_ok(self, report: object) -> None:
        self.accept()


class ExportBundleDialog(_JobDialog):
    """File ▸ Export bundle (the whole project) or File ▸ Return work (a work bundle)."""

    exported = Signal(object)  # ExportReport

    def __init__(self, project: Project, work: bool = False, parent=None) -> None:
        super().__init__("Return work" if work else "Export project bundle", parent)
        self.project, self.work = project, work
        suffix = "-work" if work else ""
        self.path = PathField("save", self.windowTitle(), BUNDLE_FILTER)
        self.path.edit.setText(
            str(Path(project.path).with_name(project.path.stem + suffix + SUFFIX))
        )
        self.with_model = QCheckBox("Include the current model (a safe format, no code)")
        if modelstore.latest_version(project) is None:
            self.with_model.setEnabled(False)
            self.with_model.setToolTip("No model yet: train one first (Model ▸ Train now).")
            self.with_model.setText("Include the current model (none yet: train one first)")
        self.passphrase = PassphraseFields(confirm=True)
        intro = QLabel(
            "Your annotations, comments and flags since you received the assignment, for the"
            " project owner to merge."
            if work
            else "The whole project in one file: datasets, label schema versions, every"
            " annotator's annotations, comments, flags, tasks and the audit log."
        )
        intro.setWordWrap(True)
        self.form.addRow(intro)
        self.form.addRow("Save as", self.path)
        if not work:
            self.form.addRow("", self.with_model)
        self.form.addRow("", self.passphrase)

    def run(self) -> None:
        path = self.path.path()
        if path is None:
            self.problem("Choose where to save the bundle.")
            return
        if path.suffix != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        passphrase, problem = self.passphrase.value()
        if problem:
            self.problem(problem)
            return
        if self.work:
            self.start(
                f"Writing {path.name}",
                export_work_bundle,
                self.project,
                path,
                passphrase=passphrase,
            )
        else:
            self.start(
                f"Writing {path.name}",
                export_project_bundle,
                self.project,
                path,
                with_model=self.with_model.isChecked(),
                passphrase=passphrase,
            )

    def finished_ok(self, report: object) -> None:
        self.exported.emit(report)
        self.accept()


class OpenBundleDialog(_JobDialog):
    """File ▸ Open bundle: a project or assignment bundle becomes a new project file."""

    opened = Signal(object)  # OpenReport

    def __init__(self, bundle: Path | None = None, parent=None) -> None:
        super().__init__("Open bundle", parent)
        self.bundle = PathField("open", "Open bundle", BUNDLE_FILTER)
        self.dest = PathField("save", "Save the project as", PROJECT_FILTER)
        self.passphrase = PassphraseFields(confirm=False)
        self.bundle.edit.textChanged.connect(self._bundle_chosen)
        self.form.addRow("Bundle", self.bundle)
        self.form.addRow("New project file", self.dest)
        self.form.addRow("Passphrase", self.passphrase)
        if bundle is not None:
            self.bundle.edit.setText(str(bundle))
        self._bundle_chosen()

    def _bundle_chosen(self) -> None:
        path = self.bundle.path()
        encrypted = path is not None and file_is_encrypted(path)
        self.passphrase.setEnabled(encrypted)
        self.passphrase.passphrase.setPlaceholderText(
            "this bundle is encrypted: its passphrase" if encrypted else "not encrypted"
        )
        if path is not None and not self.dest.edit.text():
            self.dest.edit.setText(str(path.with_suffix(".tagloop")))

    def run(self) -> None:
        bundle, dest = self.bundle.path(), self.dest.path()
        if bundle is None or not bundle.is_file():
            self.problem("Choose a bundle file.")
            return
        if dest is None:
            self.problem("Choose where to save the new project.")
            return
        passphrase, _ = self.passphrase.value()
        if file_is_encrypted(bundle) and not passphrase:
            self.problem("This bundle is encrypted: type its passphrase.")
            return
        self.start(f"Opening {bundle.name}", open_bundle, bundle, dest, passphrase=passphrase)

    def finished_ok(self, report: object) -> None:
        self.opened.emit(report)
        self.accept()


def _merge_all(project: Project, bundles: list[Path], passphrase: str | None, progress, cancel):
    """Merge each bundle in turn; each merge is all or nothing on its own."""
    reports = []
    for number, bundle in enumerate(bundles):

        def step(done, total, message, number=number, name=bundle.name):
            progress(done, total, f"{name} ({number + 1} of {len(bundles)}): {message}")

        secret = passphrase if file_is_encrypted(bundle) else None
        reports.append(
            merge_bundle(project, bundle, passphrase=secret, progress=step, cancel=cancel)
        )
    return reports


class MergeDialog(_JobDialog):
    """File ▸ Merge work: work bundles (or project bundles) of this project, merged in."""

    merged = Signal(object)  # list[MergeReport]

    def __init__(self, project: Project, bundles: list[Path] | None = None, parent=None) -> None:
        super().__init__("Merge work", parent)
        self.project = project
        self.files = QListWidget()
        self.files.setMinimumHeight(110)
        add = QPushButton("Add bundles…")
        add.clicked.connect(self.choose)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: self.files.takeItem(self.files.currentRow()))
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        self.passphrase = PassphraseFields(confirm=False)
        self.passphrase.passphrase.setPlaceholderText("for encrypted bundles")
        self.result = QPlainTextEdit()
        self.result.setReadOnly(True)
        self.result.setPlaceholderText(
            "Merging is all or nothing per bundle, and merging the same bundle twice changes"
            " nothing. Conflicts keep the newer version and the older one in history."
        )
        self.form.addRow("Bundles", self.files)
        self.form.addRow("", _wrap(row))
        self.form.addRow("Passphrase", self.passphrase)
        self.form.addRow(self.result)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Merge")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Close")
        for bundle in bundles or []:
            self.files.addItem(str(bundle))

    def choose(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Merge work", "", BUNDLE_FILTER)
        for path in paths:
            self.files.addItem(path)

    def bundles(self) -> list[Path]:
        return [Path(self.files.item(i).text()) for i in range(self.files.count())]

    def run(self) -> None:
        bundles = self.bundles()
        if not bundles:
            self.problem("Add the bundles to merge.")
            return
        passphrase, _ = self.passphrase.value()
        if any(file_is_encrypted(b) for b in bundles) and not passphrase:
            self.problem("A bundle is encrypted: type its passphrase.")
            return
        self.start("Merging work", _merge_all, self.project, bundles, passphrase)

    def _failed(self, message: str) -> None:
        super()._failed(message + "\nBundles merged before this one stay merged.")

    def finished_ok(self, report: object) -> None:
        reports = list(report)  # type: ignore[call-overload]
        self.result.setPlainText("\n\n".join(r.summary() for r in reports))
        conflicts = sum(r.conflict_count for r in reports)
        self.message.setStyleSheet("")
        self.message.setText(
            f"Merged {len(reports)} bundle(s)"
            + (
                f"; {conflicts:,} conflicts resolved (the older versions are kept)."
                if conflicts
                else "."
            )
        )
        self.files.clear()
        self.merged.emit(reports)


def _wrap(layout) -> QWidget:
    widget = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    widget.setLayout(layout)
    return widget
