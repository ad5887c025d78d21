"""Keeps the project's model fresh in the background and tells the editors about it.

Training starts by itself after every few new labels (often while there are few, less often as
they grow) or on demand (Ctrl+T); it never runs on the GUI thread. A request while a run is
going cancels that stale run and starts again from the newest labels once it has stopped.
When a version is ready and has scored the pool, the editors get its suggestions (if it
passes the user's quality bar) and the model's queue order picks up the new scores.
While a run is going, `training` (a TrainingState) says what is trained, on how many items,
which step and about how long is left; `training_changed` tells the panel and the status bar.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.core.annotation.stats import labeling_progress
from app.core.errors import ProjectError
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.project import modelstore
from app.core.project.modelstore import ModelVersion
from app.core.project.project import Project
from app.ml.policy import MIN_EXAMPLES, quality_bar, retrain_every, show_early
from app.views.editor.session import AnnotationSession
from app.views.model.training import TrainingState
from app.workers.job import Job


def train_in_worker_process(
    project: Project, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
) -> ModelVersion:
    """Train and score in a child process, so NumPy and scikit-learn never hold the GUI
    thread's GIL (a thread stalled the event loop by up to 200 ms at 1M datapoints)."""
    from app.workers.process import run_in_process

    version_id = run_in_process(
        "app.ml.loop:train_and_score_file", str(project.path), progress=progress, cancel=cancel
    )
    return modelstore.get_version(project, version_id)


def quick_update_in_worker_process(
    project: Project, progress: Progress = no_progress, cancel: CancelCheck = never_cancel
) -> ModelVersion:
    """The quick update after a completed span document (app.ml.loop.quick_update), in a
    child process like a full training run."""
    from app.workers.process import run_in_process

    version_id = run_in_process(
        "app.ml.loop:quick_update_file", str(project.path), progress=progress, cancel=cancel
    )
    return modelstore.get_version(project, version_id)


class ModelController(QObject):
    status_changed = Signal(str)  # one line for the status bar
    version_ready = Signal(object)  # ModelVersion
    progress = Signal(int, int, str)
    training_changed = Signal(object)  # TrainingState, or None when no run is going

    def __init__(self, project: Project, session: AnnotationSession, parent=None) -> None:
        super().__init__(parent)
        self.project = project
        self.session = session
        self.job: Job | None = None
        self.training: TrainingState | None = None
        self.restart = False
        self.auto = True
        self.quick_at = 0  # labels when the last quick update started
        self.version = modelstore.latest_version(project)
        self.trained_at = self.version.label_count if self.version else 0
        session.progress_changed.connect(self._labels_changed)
        self._apply(self.version)

    def start(self) -> None:
        """Called once the window is up: a project with labels but no model gets one, and so
        does one whose span model predates the CRF."""
        from app.ml.loop import outdated

        if self.auto and self.job is None and outdated(self.project, self.version):
            self.train()
            return
        if not self.auto or self.version is not None or self.job is not None:
            return
        if labeling_progress(self.project).labeled >= MIN_EXAMPLES:
            self.train()  # the run itself says so if the labels do not suffice yet

    # --- when to train -----------------------------------------------------------------------

    def _labels_changed(self) -> None:
        if not self.auto:
            return
        labeled = self.session.labeled
        if labeled - self.trained_at >= retrain_every(self.trained_at):
            self.train()
        elif labeled > self.quick_at and self.job is None:
            from app.ml.loop import quick_update_wanted

            if quick_update_wanted(self.project, labeled):
                self.quick_update()

    def quick_update(self) -> None:
        """A completed span document: a quick model now, the full one at the next retrain."""
        self.quick_at = self.session.labeled
        self._start(Job(quick_update_in_worker_process, self.project), quick=True)

    def train(self) -> None:
        """Train now; a run already going is stale: cancel it and start over after it."""
        if self.job is not None:
            self.restart = True
            self.job.cancel()
            self.status_changed.emit("Model: restarting with the newest labels…")
            return
        self.trained_at = self.quick_at = self.session.labeled
        self._start(Job(train_in_worker_process, self.project), quick=False)

    def _start(self, job: Job, quick: bool) -> None:
        self.training = TrainingState(
            self.project.task_type, self.session.labeled, self.version is None, quick=quick
        )
        job.progress.connect(self._progress)
        job.succeeded.connect(self._trained)
        job.failed.connect(self._failed)
        job.cancelled.connect(self._cancelled)  # methods, not lambdas: Qt disconnects them
        job.finished.connect(self._finished)
        self.job = job
        self.status_changed.emit(self.training.status_line())
        self.training_changed.emit(self.training)
        job.start()

    def cancel(self) -> None:
        """Stop the run (the Cancel button): it says "Cancelling…" until it has stopped."""
        self.restart = False
        if self.job is not None:
            self.job.cancel()
            if self.training is not None:
                self.training.cancelling = True
                self.status_changed.emit(self.training.status_line())
                self.training_changed.emit(self.training)

    def _progress(self, done: int, total: int, message: str) -> None:
        self.progress.emit(done, total, message)
        if self.training is None or self.training.cancelling:
            return
        self.training.update(done, total, message)
        self.status_changed.emit(self.training.status_line())
        self.training_changed.emit(self.training)

    def _cancelled(self) -> None:
        self.status_changed.emit(f"{self.summary()} · training cancelled")

    def _failed(self, message: str) -> None:
        error = self.job.error if self.job else None
        if isinstance(error, ProjectError):  # not enough labels yet: a note, not an alarm
            self.status_changed.emit(f"Model: {message}")
        else:
            self.status_changed.emit(f"Model: training failed ({message})")

    def _trained(self, version: ModelVersion) -> None:
        self.training = None  # done: the summary speaks of the new version
        self.version = version
        self._apply(version)
        self.version_ready.emit(version)

    def _finished(self) -> None:
        self.job = None
        self.training = None
        self.training_changed.emit(None)
        if self.restart:
            self.restart = False
            self.train()

    # --- what the editors see --------------------------------------------------------------

    def _apply(self, version: ModelVersion | None) -> None:
        """Suggestions from a version that passes the bar (or any version, marked as early,
        when the user asked for early suggestions); new scores for the model's queue."""
        scored = modelstore.scored_version(self.project)
        ready = version is not None and scored == version.id
        passes = ready and version.score is not None and version.score >= quality_bar()
        early = ready and not passes and show_early()
        self.session.suggest_early = early
        self.session.set_suggest_version(scored if passes or early else None)
        self.session.pick_up_new_scores()
        self.status_changed.emit(self.summary())

    def refresh(self) -> None:
        """The quality bar changed: show or hide suggestions accordingly."""
        self._apply(self.version)

    def summary(self) -> str:
        version = self.version
        if self.training is not None and not self.training.cancelling:
            return self.training.status_line()
        if version is None:
            return "Model: none yet (Ctrl+T trains one)"
        score = version.score
        figure = f"macro-F1 {score:.2f}" if score is not None else "no score"
        below = ""
        if score is None or score < quality_bar():
            below = " · below the bar, " + (
                "early suggestions" if show_early() else "no suggestions"
            )
        if version.metrics.get("quick"):
            below += " · quick update"
        return f"Model v{version.id}: {figure} on {version.label_count:,} labels{below}"
