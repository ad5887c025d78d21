"""The status bar's counts ("5,574 datapoints · labeled 512 · … · flagged 1"), kept current.

Counted off the GUI thread (a GROUP BY over the status index). While the user annotates, every
committed write (a label, a flag, an undo) asks for a recount; the requests of a burst of keys
are gathered into one count, and the old figures stay on screen until the new ones arrive, so
the bar never flickers nor goes stale.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from app.core.annotation.browse import Browser
from app.core.project.project import Project
from app.workers.job import Job

RECOUNT_DELAY_MS = 150  # gathers the writes of a burst of keys into one count


def counts_text(counts: dict[str, int]) -> str:
    return (
        f"{counts['total']:,} datapoints · labeled {counts['labeled']:,} · unlabeled "
        f"{counts['unlabeled']:,} · skipped {counts['skipped']:,} · discarded "
        f"{counts['discarded']:,} · flagged {counts['flagged']:,}"
        # the model's auto-labels (issue 12) are not people's labels: counted apart
        + (f" · auto-labelled {n:,}" if (n := counts.get("auto-labelled")) else "")
    )


class CountsLabel(QLabel):
    """The counts of the open project; `count_soon` after every write the session commits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("counts")
        self.project: Project | None = None
        self.job: Job | None = None
        self.counting: Project | None = None  # the project the running count is of
        self.again = False  # a write arrived while a count was running: count once more
        self.timer = QTimer(self, singleShot=True, interval=RECOUNT_DELAY_MS)
        self.timer.timeout.connect(self._start)

    def count(self, project: Project) -> None:
        """Count now (a project opened, an import, the Browse tab shown)."""
        if project is not self.project or not self.text():
            self.setText("Counting…")
        self.project = project
        self._start()

    def count_soon(self) -> None:
        """Recount shortly: the data changed (a label, a flag, an undo)."""
        if self.project is not None:
            self.timer.start()

    def forget(self) -> None:
        """The project closed: no counts, and no count of it delivered later."""
        self.project = None
        self.timer.stop()
        self.clear()

    def _start(self) -> None:
        project = self.project
        if project is None:
            return
        if self.job is not None:  # one count at a time; the latest request counts again
            self.again = True
            return
        browser = Browser(project)
        job = Job(lambda progress, cancel: browser.status_counts())
        # bound methods, not lambdas: Qt drops the connection if this label is deleted first
        job.succeeded.connect(self._show)
        job.finished.connect(self._finished)
        self.counting = project
        self.job = job.start()

    def _show(self, counts: dict[str, int]) -> None:
        if self.counting is self.project:
            self.setText(counts_text(counts))

    def _finished(self) -> None:
        self.job = None
        if self.again:
            self.again = False
            self._start()
