"""The main window: the composition of the menus, the Browse tab, the datasets panel, the
editor tabs and the status bar, and the verbs the menus call.

The menus live in app.views.menus, the table with its filters and the datasets panel in
app.views.browse_panel; this module wires them to a project and to the annotation session.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core import settings
from app.core.annotation.worklist import WorklistSpec
from app.core.errors import TagloopError
from app.core.io.datasets import list_datasets, remove_dataset
from app.core.io.export import export_file
from app.core.project import modelstore
from app.core.project.project import PROJECT_SUFFIX, Project, open_project, upgrade_needed
from app.core.storage import fts
from app.views.browse_panel import BrowsePanel, DatasetsPanel
from app.views.dashboard.window import DashboardView
from app.views.editor import AnnotationSession, EditorBase, make_editor
from app.views.editor.grid import BulkGrid
from app.views.editor.save_banner import UnsavedBanner
from app.views.export_dialog import EXPORT_FILTER, ExportOptionsDialog, show_export_done
from app.views.glossary import explain_on
from app.views.import_dialog import FILE_FILTER, ImportDialog
from app.views.menus import build_menus
from app.views.model.controller import ModelController
from app.views.model.panel import ModelPanel
from app.views.new_project_wizard import NewProjectWizard
from app.views.quality.adjudication import AdjudicationView
from app.views.quality.gold import GoldView
from app.views.quality.history import HistoryView
from app.views.quality.review import ReviewView
from app.views.quality.suspicious import SuspiciousView
from app.views.save_guard import CLOSE_GRACE, SaveGuard
from app.views.status_counts import CountsLabel
from app.views.team.assignments import TeamDialog
from app.views.team.bundles import ExportBundleDialog, MergeDialog, OpenBundleDialog
from app.views.widgets.elided import ElidedLabel
from app.workers.job import Job, run_with_progress
from app.workers.writer import Writer

QualityDialog = TypeVar("QualityDialog", GoldView, ReviewView, AdjudicationView)
IDENTITY = "local_annotator_id"  # Project's cached property: who works in the file


class MainWindow(QMainWindow):
    """One project at a time: browse it, annotate it, train its model, work as a team."""

    def __init__(self, project: Project | None = None) -> None:
        super().__init__()
        self.project: Project | None = None
        self.jobs: list[Job] = []  # keep running jobs alive
        self.writer: Writer | None = None
        self.session: AnnotationSession | None = None
        self.editor: EditorBase | None = None
        self.grid: BulkGrid | None = None
        self.controller: ModelController | None = None
        self.model_panel: ModelPanel | None = None
        self.suspicious_view: SuspiciousView | None = None
        self.guard = SaveGuard(self, self._switch_project)  # no edit lost at close or switch
        self.resize(1200, 750)
        self.menus = build_menus(self)
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.stack.addWidget(self._empty_state())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.browse = BrowsePanel()
        self.browse.row_activated.connect(self.annotate_table)
        self.browse.attach(self)  # an empty project's "Import a dataset…", files dropped on it
        self.tabs.addTab(self.browse, "Browse")
        self.tabs.currentChanged.connect(self._tab_changed)
        self.banner = UnsavedBanner()  # "Not saved yet", over every tab; never a modal box
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.tabs, 1)
        self.stack.addWidget(page)
        self.datasets = DatasetsPanel()
        self.datasets.remove_requested.connect(self.remove_selected_dataset)
        self.dock = QDockWidget("Datasets", self)
        self.dock.setObjectName("datasets_dock")
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.dock.setWidget(self.datasets)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        self.counts_label = CountsLabel()
        self.showing_label = QLabel()
        self.statusBar().addWidget(self.counts_label, 1)
        self.indexing_label = QLabel()
        self.statusBar().addPermanentWidget(self.indexing_label)
        self.model_label = ElidedLabel()  # a long training message gives way to the counts
        self.model_label.setObjectName("model_status")
        explain_on(self.model_label, "macro-F1")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.showing_label)
        self.browse.shown.connect(lambda n: self.showing_label.setText(f"showing {n:,}"))
        self.set_project(project)

    # ---- layout -------------------------------------------------------------------------
    def _empty_state(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        title = QLabel("<h1>Tagloop</h1><p>Label text on your own machine. Nothing leaves it.</p>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        row = QHBoxLayout()
        row.addStretch(1)
        for text, slot in (
            ("New project…", self.new_project),
            ("Open project…", self.choose_project),
            ("Open demo", self.open_demo),
        ):
            button = QPushButton(text)
            button.setMinimumWidth(140)
            button.clicked.connect(slot)
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(2)
        return page

    # ---- project ------------------------------------------------------------------------
    def set_project(self, project: Project | None) -> None:
        """Show `project` (None: none), once the edits of the one open are saved: the window
        keeps running while they wait for another program's lock (SaveGuard.switch_to)."""
        self.guard.switch_to(project)

    def _switch_project(self, project: Project | None) -> None:
        if self.project is not None and self.project is not project:
            self.project.close()
        self.project = project
        self._close_session()
        self.menus.set_project_open(project is not None)
        self.dock.setVisible(project is not None)
        if project is None:
            self.setWindowTitle(APP_NAME)
            self.stack.setCurrentIndex(0)
            self.counts_label.forget()
            self.showing_label.clear()
            return
        self.setWindowTitle(f"{APP_NAME} — {project.name}")
        self.browse.show_project(project)
        self._open_session(project)
        self.stack.setCurrentIndex(1)
        self.refresh()
        self._index_pending(project)

    def _index_pending(self, project: Project) -> None:
        """Finish the search index in the background (after an import, or an interrupted one).

        Search is exact meanwhile (pending rows are scanned), only slower."""
        if fts.pending_count(project) == 0:
            return
        self.indexing_label.setText("Indexing text for search…")
        job = Job(fts.index_pending, project)
        job.progress.connect(
            lambda done, total, _m: self.indexing_label.setText(
                f"Indexing text for search… {done:,} of {total:,}" if total > 0 else ""
            )
        )
        job.finished.connect(self.indexing_label.clear)
        self._track(job).start()

    # ---- annotating -------------------------------------------------------------------------
    def _open_session(self, project: Project) -> None:
        """Editor and grid tabs for a project; their queue is built when first shown."""
        self.writer = Writer(self)
        self.session = AnnotationSession(project, self.writer, parent=self)
        self.banner.attach(self.session)
        self.session.items_committed.connect(lambda _items: self.counts_label.count_soon())
        self.editor = make_editor(self.session)
        self.tabs.addTab(self.editor, "Annotate")
        if project.task_type != "spans":
            self.grid = BulkGrid(self.session)
            self.tabs.addTab(self.grid, "Bulk grid")
        self.menus.actions["grid"].setEnabled(self.grid is not None)
        self.controller = ModelController(project, self.session, self)
        self.controller.status_changed.connect(self.model_label.setText)
        self.controller.version_ready.connect(lambda _v: self._model_order_available())
        self.model_label.setText(self.controller.summary())
        self._model_order_available()
        QTimer.singleShot(1500, self.controller.start)
        self.menus.auto_advance.setEnabled(project.task_type == "classification")
        self.menus.show_undo(self.session.undo_stack, self)

    def _close_session(self) -> None:
        if getattr(self, "controller", None) is not None:
            self.controller.cancel()
            self.controller.deleteLater()
        self.controller = None
        for dialog in ("model_panel", "suspicious_view"):
            if getattr(self, dialog, None) is not None:
                getattr(self, dialog).close()
            setattr(self, dialog, None)
        if self.session is not None:
            self.session.save_position()
        self.banner.attach(None)
        if self.writer is not None:
            self.writer.shutdown()  # every edit is committed before the project closes
        while self.tabs.count() > 1:
            widget = self.tabs.widget(1)
            self.tabs.removeTab(1)
            widget.deleteLater()
        for name in ("editor", "grid", "session", "writer"):
            obj = getattr(self, name)
            if obj is not None and name in ("session", "writer"):
                obj.deleteLater()
            setattr(self, name, None)
        self.menus.clear_undo()

    def _model_order_available(self) -> None:
        if self.editor is not None:
            self.editor.set_model_order_available(
                modelstore.scored_version(self.project) is not None
            )

    def train_model(self) -> None:
        if self.controller is not None:
            self.controller.train()

    def show_model(self) -> None:
        if self.controller is None:
            return
        if self.model_panel is None:
            self.model_panel = ModelPanel(self.project, self.controller, self)
        self.model_panel.refresh()
        self.model_panel.show()
        self.model_panel.raise_()

    def show_suspicious(self) -> None:
        if self.session is None:
            return
        if self.suspicious_view is None:
            self.suspicious_view = SuspiciousView(self.session, self)
            self.controller.version_ready.connect(lambda _v: self.suspicious_view.refresh())
        self.suspicious_view.refresh()
        self.suspicious_view.show()
        self.suspicious_view.raise_()

    def show_tab(self, name: str) -> None:
        widget = {"browse": self.browse, "annotate": self.editor, "grid": self.grid}[name]
        if widget is not None:
            self.tabs.setCurrentWidget(widget)

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if self.session is None:
            return
        if widget in (self.editor, self.grid) and widget is not None:
            if self.session.queue is None:
                self.session.open_queue()
            widget.setFocus()
        elif index == 0 and self.browse.model is not None:
            self.session.save_position()
            self.refresh()

    def annotate_table(self, row: int | None = None) -> None:
        """Annotate what the table shows (its filter and sort), from its current row."""
        if self.session is None or self.browse.model is None:
            return
        shown = self.browse.datapoint_at(self.browse.current_row() if row is None else row)
        self.tabs.setCurrentWidget(self.editor)
        self.session.open_queue(WorklistSpec(self.browse.model.query), shown)
        self.editor.setFocus()

    def set_auto_advance(self, on: bool) -> None:
        """Classification: move on to the next item once a label is given (remembered)."""
        settings.set_preference("editor_auto_advance", on)
        if hasattr(self.editor, "set_auto_advance"):
            self.editor.set_auto_advance(on)

    def open_project_path(self, path: Path) -> bool:
        """Open a project file; False if it cannot be opened (the user is told why).

        A file made by an older Tagloop is upgraded (after a copy is kept beside it) in a
        background job behind a progress dialog with Cancel; the project shows when it is done.
        """
        path = Path(path)
        if upgrade_needed(path):
            job = run_with_progress(self, f"Upgrading {path.name}", open_project, path)
            job.succeeded.connect(self._upgraded_project_opened)
            job.failed.connect(lambda message: QMessageBox.warning(self, "Cannot open", message))
            job.cancelled.connect(
                lambda: self.statusBar().showMessage(f"{path.name}: upgrade cancelled; unchanged")
            )
            self._track(job).start()
            return True
        try:
            project = open_project(path, sweep=False)  # swept off the GUI thread, below
        except TagloopError as exc:
            QMessageBox.warning(self, "Cannot open project", str(exc))
            return False
        self._show_when_identified(project)
        return True

    def _show_when_identified(self, project: Project) -> None:
        """Show a project once who works in it is known: looking that up takes the write lock
        (the annotator is registered on first use), which another program (a long import or
        merge) may hold for a while, so it runs off the GUI thread. Usually it is done at once,
        and the project shows straight away; else the window says it waits."""
        from app.core.project.project import sweep_abandoned_imports as sweep  # killed imports

        job = Job(lambda progress, cancel: (sweep(project), project.local_annotator_id))
        self._track(job).start()
        with contextlib.suppress(FutureTimeout):
            job.future.result(timeout=CLOSE_GRACE)  # type: ignore[union-attr]
        if IDENTITY in project.__dict__:  # the cached property is known: no wait
            self.set_project(project)
            return
        self.statusBar().showMessage(
            f"Opening {project.path.name}: waiting for another program that is writing to it…"
        )

        def identified() -> None:
            if IDENTITY in project.__dict__:
                self.statusBar().clearMessage()
                self.set_project(project)
            else:
                project.close()
                QMessageBox.warning(self, "Cannot open project", str(job.error))

        job.finished.connect(identified)

    def _upgraded_project_opened(self, project: Project) -> None:
        self._show_when_identified(project)
        if project.schema_upgrade is not None:
            message = f"{project.path.name}: {project.schema_upgrade.summary()}"
            self.statusBar().showMessage(message, 30000)

    def refresh(self) -> None:
        """Reload the table, datasets and counts after the data changed."""
        if self.project is None or self.browse.model is None:
            return
        self.browse.refresh()
        self.datasets.show_datasets(list_datasets(self.project))
        self.counts_label.count(self.project)

    def _track(self, job: Job) -> Job:
        self.jobs.append(job)
        job.finished.connect(lambda: self.jobs.remove(job) if job in self.jobs else None)
        return job

    # ---- actions ------------------------------------------------------------------------
    def new_project(self) -> None:
        wizard = NewProjectWizard(self)
        if wizard.exec() and wizard.project is not None:
            self.set_project(wizard.project)

    def choose_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", "", f"Tagloop projects (*{PROJECT_SUFFIX})"
        )
        if path:
            self.open_project_path(Path(path))

    def open_demo(self) -> None:
        from app.core.io.demo import build_demo

        job = run_with_progress(self, "Building demo projects", build_demo)
        job.succeeded.connect(lambda paths: self.open_project_path(paths[0]))
        job.failed.connect(lambda message: QMessageBox.warning(self, "Demo", message))
        self._track(job).start()

    def import_dataset(self, path: Path | None = None) -> ImportDialog | None:
        if self.project is None:
            return None
        if path is None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Import dataset", "", FILE_FILTER)
            if not chosen:
                return None
            path = Path(chosen)
        dialog = ImportDialog(self.project, path, self)
        dialog.imported.connect(lambda _report: self._after_import())
        dialog.open()
        return dialog

    def _after_import(self) -> None:
        if self.project is not None:
            self.set_project(self.project)  # the schema may have new labels

    def export(self) -> ExportOptionsDialog | None:
        if self.project is None:
            return None
        path, _ = QFileDialog.getSaveFileName(
            self, "Export", f"{self.project.name}.jsonl", EXPORT_FILTER
        )
        if not path:
            return None
        options = ExportOptionsDialog(Path(path), self)
        options.accepted.connect(
            lambda: self.start_export(
                Path(path), options.only_completed, options.raw, **options.choices()
            )
        )
        options.open()
        return options

    def start_export(
        self, path: Path, only_completed: bool = False, raw: bool = False, **choices: str | None
    ) -> Job:
        job = run_with_progress(
            self,
            f"Exporting to {path.name}",
            export_file,
            self.project,
            path,
            only_completed=only_completed,
            raw=raw,
            **choices,  # fmt, value_source (ExportOptionsDialog.choices)
        )
        job.succeeded.connect(lambda report: show_export_done(self, path, report))
        job.failed.connect(lambda message: QMessageBox.warning(self, "Export failed", message))
        return self._track(job).start()

    # ---- bundles and the team ---------------------------------------------------------------
    def export_bundle(self, work: bool = False) -> ExportBundleDialog | None:
        if self.project is None:
            return None
        dialog = ExportBundleDialog(self.project, work=work, parent=self)
        dialog.exported.connect(
            lambda report: self.statusBar().showMessage(report.summary(), 15000)
        )
        dialog.open()
        return dialog

    def return_work(self) -> ExportBundleDialog | None:
        self.flush_labels()  # every label shown as saved is in the bundle
        return self.export_bundle(work=True)

    def open_bundle(self, bundle: Path | None = None) -> OpenBundleDialog:
        dialog = OpenBundleDialog(bundle, self)
        dialog.opened.connect(self._bundle_opened)
        dialog.open()
        return dialog

    def _bundle_opened(self, report) -> None:
        if self.open_project_path(report.path):
            self.statusBar().showMessage(report.summary(), 15000)

    def merge_work(self, bundles: list[Path] | None = None) -> MergeDialog | None:
        if self.project is None:
            return None
        self.flush_labels()
        dialog = MergeDialog(self.project, bundles, self)
        dialog.merged.connect(lambda _reports: self._after_import())
        dialog.open()
        return dialog

    def flush_labels(self) -> None:
        """Commit the labels the writer still holds, so that what opens next reads them; at
        most a short wait on the GUI thread (edits kept out by a lock are saved later)."""
        if self.writer is not None and not self.writer.wait_idle(CLOSE_GRACE):
            self.statusBar().showMessage(
                "Some edits are not saved yet (the project is locked): what opens now may not"
                " show them yet.",
                15000,
            )

    def _show_quality(self, dialog: QualityDialog) -> QualityDialog:
        """Show a quality dialog whose changes (gold, reviews, decisions) refresh the window."""
        dialog.changed.connect(self.refresh)
        dialog.show()
        return dialog

    def show_dashboard(self) -> DashboardView | None:
        if self.project is None:
            return None
        self.flush_labels()
        dialog = DashboardView(self.project, self)
        dialog.show()
        return dialog

    def show_history(self) -> HistoryView | None:
        """The lineage of the item in front of the user: the editor's, or the table's row."""
        if self.project is None:
            return None
        datapoint_id = None
        if self.tabs.currentWidget() is self.browse:
            datapoint_id = self.browse.datapoint_at(self.browse.current_row())
        elif self.session is not None and self.session.item is not None:
            datapoint_id = self.session.item.id
        if datapoint_id is None:
            self.statusBar().showMessage("Choose an item first.", 5000)
            return None
        self.flush_labels()
        dialog = HistoryView(self.project, datapoint_id, self)
        dialog.show()
        return dialog

    def show_gold(self) -> GoldView | None:
        """Gold items and qualification; the table's selected rows are offered for marking."""
        if self.project is None:
            return None
        selected = self.browse.selected_datapoints()
        self.flush_labels()
        return self._show_quality(GoldView(self.project, datapoint_ids=selected, parent=self))

    def show_review(self) -> ReviewView | None:
        if self.project is None:
            return None
        self.flush_labels()
        return self._show_quality(ReviewView(self.project, parent=self))

    def show_adjudication(self) -> AdjudicationView | None:
        if self.project is None:
            return None
        self.flush_labels()
        return self._show_quality(AdjudicationView(self.project, parent=self))

    def show_team(self) -> TeamDialog | None:
        if self.project is None:
            return None
        dialog = TeamDialog(self.project, self)
        dialog.open()
        return dialog

    def remove_selected_dataset(self) -> None:
        chosen = self.datasets.current()
        if self.project is None or chosen is None:
            return
        dataset_id, name = chosen
        answer = QMessageBox.question(
            self,
            "Remove dataset",
            f"Remove “{name}” and all its datapoints and annotations? This cannot be undone.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        job = run_with_progress(
            self,
            f"Removing {name}",
            remove_dataset,
            self.project,
            dataset_id,
        )
        job.succeeded.connect(lambda _n: self.set_project(self.project))  # queues too
        job.failed.connect(lambda message: QMessageBox.warning(self, "Remove failed", message))
        job.cancelled.connect(lambda: self._removal_cancelled(name))
        self._track(job).start()

    def _removal_cancelled(self, name: str) -> None:
        """A removal cancelled midway: the dataset stays hidden (or was never touched, if the
        cancel came first), and the next open of the project finishes it."""
        from app.core.io.datasets import RESUMES

        if self.project is not None:
            self.set_project(self.project)
            gone = all(info.source_name != name for info in list_datasets(self.project))
            if gone:
                QMessageBox.information(
                    self,
                    "Removal cancelled",
                    f"“{name}” stays hidden, and its removal will finish {RESUMES}.",
                )

    # ---- closing --------------------------------------------------------------------------------
    def unsaved_writes(self) -> int:
        """Edits and view writes not saved yet after a short grace (waiting for the lock)."""
        return self.guard.unsaved()

    def closeEvent(self, event) -> None:
        if not self.guard.may_close():
            event.ignore()
            return
        for job in self.jobs:
            job.cancel()
        self._close_session()
        if self.project is not None:
            self.project.close()
        super().closeEvent(event)
