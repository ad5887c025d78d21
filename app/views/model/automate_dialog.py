"""Model ▸ Automate…: the model labels what it is sure of, the rest goes to people.

A target-precision slider drives a live precision–coverage curve (app.views.model.
automate_curve) with the chosen threshold marked, the expected coverage and the expected wrong
labels per 1,000 items; the user picks a dataset (or a new file, imported first) and runs it as
a Job with a progress bar and Cancel. Everything it decides comes from app.ml.automate: the
dialog only shows it. The threshold is recomputed on the GUI thread as the slider moves (a few
hundred candidate points, NumPy and one vectorised SciPy call); loading the held-out evidence
and the run itself are Jobs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.core.project.project import Project
from app.ml.automate.threshold import MAX_TARGET, MIN_TARGET, ThresholdChoice, choose_threshold
from app.views.model.automate_curve import PrecisionCoverageCurve
from app.views.theme import palette
from app.workers.job import Job

NEW_FILE = -1  # the dataset box's "a new file…" entry
PER_MILLE = 1000


def _load(project: Project, progress: Any = None, cancel: Any = None) -> dict[str, Any]:
    """What the dialog needs, read off the GUI thread: the model version, its held-out
    evidence, the datasets with their unlabelled counts, and the automation status."""
    from app.core.io.datasets import list_datasets
    from app.core.project import modelstore
    from app.core.quality.automation_status import automation_status
    from app.ml.automate import run

    version = modelstore.latest_version(project)
    found: dict[str, Any] = {"version": version, "status": automation_status(project)}
    found["datasets"] = [
        (info.id, info.source_name, run.unlabelled_count(project, info.id))
        for info in list_datasets(project)
    ]
    if version is not None:
        found["evidence"] = run.held_out(project, version)
        found["stale"] = run.staleness(project, version)
    return found


class AutomateDialog(QDialog):
    """The Automate dialog; `ran` carries the run's outcome once written."""

    ran = Signal(object)

    def __init__(
        self,
        project: Project,
        parent: QWidget | None = None,
        retrain: Callable[[], object] | None = None,
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.retrain = retrain
        self.evidence: tuple[Any, Any] | None = None
        self.choice: ThresholdChoice | None = None
        self.job: Job | None = None
        self.new_file: Path | None = None
        self.pools: dict[int, int] = {}
        self.setWindowTitle("Automate: the model labels what it is sure of")
        self._build()
        self._set_busy(True, "Loading the model's held-out results…")
        self.loader = Job(lambda progress, cancel: _load(project))
        self.loader.succeeded.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self.loader.start()

    # -- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.hide()
        layout.addWidget(self.banner)
        banner_buttons = QHBoxLayout()
        self.resume_button = QPushButton("Resume automation")
        self.resume_button.clicked.connect(self._resume)
        self.retrain_button = QPushButton("Retrain first")
        self.retrain_button.clicked.connect(self._retrain)
        for button in (self.resume_button, self.retrain_button):
            button.hide()
            banner_buttons.addWidget(button)
        banner_buttons.addStretch(1)
        layout.addLayout(banner_buttons)
        form = QFormLayout()
        self.dataset_box = QComboBox()
        self.dataset_box.activated.connect(self._dataset_chosen)
        form.addRow("Apply to", self.dataset_box)
        slider_row = QHBoxLayout()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(MIN_TARGET * PER_MILLE), round(MAX_TARGET * PER_MILLE))
        self.slider.setValue(950)
        self.slider.setPageStep(10)
        self.slider.valueChanged.connect(self._update_choice)
        self.target_label = QLabel()
        self.target_label.setMinimumWidth(48)
        slider_row.addWidget(self.slider, 1)
        slider_row.addWidget(self.target_label)
        form.addRow("Target precision", slider_row)
        self.confidence_box = QDoubleSpinBox()
        self.confidence_box.setRange(0.80, 0.99)
        self.confidence_box.setSingleStep(0.01)
        self.confidence_box.setValue(0.95)
        self.confidence_box.valueChanged.connect(self._update_choice)
        form.addRow("Confidence of the promise", self.confidence_box)
        self.audit_box = QDoubleSpinBox()
        self.audit_box.setRange(0.0, 100.0)
        self.audit_box.setSuffix(" %")
        self.audit_box.setValue(2.0)
        self.audit_box.setToolTip("Share of auto-labels sampled as review tasks (at least 50)")
        form.addRow("Audit sample", self.audit_box)
        layout.addLayout(form)
        self.curve = PrecisionCoverageCurve()
        layout.addWidget(self.curve, 1)
        self.coverage_label = QLabel()
        self.wrong_label = QLabel()
        self.reason_label = QLabel()
        self.reason_label.setWordWrap(True)
        for label in (self.coverage_label, self.wrong_label, self.reason_label):
            layout.addWidget(label)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.run_button = QPushButton("Run automation")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        for button in (self.run_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.resize(620, 640)

    # -- loading and the live choice ----------------------------------------------------------

    def _loaded(self, found: dict[str, Any]) -> None:
        self._set_busy(False, "")
        self.dataset_box.clear()
        for dataset_id, name, pool in found["datasets"]:
            self.pools[dataset_id] = pool
            self.dataset_box.addItem(f"{name} ({pool:,} unlabelled)", dataset_id)
        self.dataset_box.addItem("A new file…", NEW_FILE)
        first = next((i for i, (_d, _n, pool) in enumerate(found["datasets"]) if pool), 0)
        self.dataset_box.setCurrentIndex(first)
        status = found["status"]
        if found["version"] is None:
            self._show_banner("This project has no model yet: train one first (Model ▸ Train now).")
            self.run_button.setEnabled(False)
            return
        self.evidence = found["evidence"]
        self.run_button.setEnabled(True)
        if status.alert:
            self._show_banner(f"Automation is stopped. {status.alert}.")
            self.resume_button.show()
            self.run_button.setEnabled(False)
        elif found.get("stale"):
            self._show_banner(f"Warning: {found['stale']}.", warning=True)
            self.retrain_button.setVisible(self.retrain is not None)
        self._update_choice()

    def _failed(self, message: str) -> None:
        self._set_busy(False, message)
        self.status_label.setStyleSheet(f"color: {palette().form_error}")

    def _show_banner(self, text: str, warning: bool = False) -> None:
        colours = palette()
        background = colours.notice_background if warning else colours.alert_background
        border = colours.notice_border if warning else colours.alert_border
        self.banner.setText(text)
        self.banner.setStyleSheet(
            f"background: {background}; border: 1px solid {border}; padding: 6px;"
        )
        self.banner.show()

    @property
    def target(self) -> float:
        return self.slider.value() / PER_MILLE

    def _update_choice(self) -> None:
        self.target_label.setText(f"{self.target:.3f}")
        if self.evidence is None:
            return
        scores, right = self.evidence
        self.choice = choose_threshold(scores, right, self.target, self.confidence_box.value())
        self.curve.set_choice(self.choice)
        pool = self.pools.get(self.dataset_box.currentData(), 0)
        choice = self.choice
        items = f", about {round(choice.coverage * pool):,} of {pool:,} items" if pool else ""
        self.coverage_label.setText(f"Expected coverage: <b>{choice.coverage:.1%}</b>{items}")
        self.wrong_label.setText(
            f"Expected wrong labels: <b>{choice.wrong_per_1000:.1f}</b> per 1,000 items"
            f" (promised at most {1000 * (1 - choice.target):.0f})"
        )
        self.reason_label.setText(
            ""
            if choice.threshold is not None
            else f"Nothing would be auto-labelled: {choice.reason}."
        )

    def _dataset_chosen(self, index: int) -> None:
        if self.dataset_box.itemData(index) == NEW_FILE:
            name, _filter = QFileDialog.getOpenFileName(self, "A new file to automate")
            self.new_file = Path(name) if name else None
            if self.new_file is not None:
                self.dataset_box.setItemText(index, f"New file: {self.new_file.name}")
        self._update_choice()

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> None:
        """Start the run: a Job whose thread waits on a worker process (app.workers.process),
        so scoring and writing a million items never hold the window's GIL. Progress shows
        below; Cancel stops it, and nothing is kept."""
        from app.workers.process import run_in_process

        chosen = self.dataset_box.currentData()
        if chosen == NEW_FILE and self.new_file is None:
            self.status_label.setText("Choose the new file first.")
            return
        project, target = self.project, self.target
        level, rate = self.confidence_box.value(), self.audit_box.value() / 100
        new_file = None
        if chosen == NEW_FILE:
            new_file, chosen = str(self.new_file), None

        def work(progress, cancel):
            return run_in_process(
                "app.ml.automate.run:automate_file",
                str(project.path),
                chosen,
                target,
                level,
                rate,
                project.local_annotator_id,
                new_file,
                progress=progress,
                cancel=cancel,
            )

        self.job = Job(work)
        self.job.progress.connect(self._progress)
        self.job.succeeded.connect(self._done)
        self.job.failed.connect(self._failed)
        self.job.cancelled.connect(lambda: self._set_busy(False, "Cancelled: nothing was written."))
        self._set_busy(True, "Running…")
        self.job.start()

    def _progress(self, done: int, total: int, message: str) -> None:
        if total > 0:
            scale = max(1, total // 1_000_000 + 1)
            self.progress.setRange(0, total // scale)
            self.progress.setValue(done // scale)
        else:
            self.progress.setRange(0, 0)
        self.status_label.setText(message)

    def _done(self, outcome: Any) -> None:
        report = outcome.report
        if report is None:
            self._set_busy(False, f"Nothing was auto-labelled: {outcome.plan.choice.reason}.")
            return
        self._set_busy(False, report.summary() + ".")
        self.progress.setValue(1)
        self.ran.emit(outcome)

    def _cancel(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()
            self.status_label.setText("Cancelling…")
        else:
            self.reject()

    def _set_busy(self, busy: bool, message: str) -> None:
        self.run_button.setEnabled(not busy and self.evidence is not None)
        self.slider.setEnabled(not busy)
        self.dataset_box.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.progress.setRange(0, 0 if busy else 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(busy)
        self.status_label.setStyleSheet("")
        self.status_label.setText(message)

    def _resume(self) -> None:
        from app.core.quality import automation

        project = self.project
        self.job = Job(
            lambda progress, cancel: automation.resume(project, project.local_annotator_id)
        )
        self.job.succeeded.connect(lambda _r: self._resumed())
        self.job.failed.connect(self._failed)
        self.job.start()

    def _resumed(self) -> None:
        self.banner.hide()
        self.resume_button.hide()
        self.run_button.setEnabled(self.evidence is not None)
        self.status_label.setText("Automation resumed: the audit starts afresh.")

    def _retrain(self) -> None:
        if self.retrain is not None:
            self.retrain()
        self.status_label.setText("Retraining in the background: open Automate again when done.")
        self.retrain_button.setEnabled(False)


def show_automate(window: Any) -> AutomateDialog | None:
    """Model ▸ Automate… from the main window (its project, its retrain action)."""
    if window.project is None:
        return None
    dialog = AutomateDialog(window.project, window, retrain=window.train_model)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
