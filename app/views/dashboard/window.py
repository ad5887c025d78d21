"""The project dashboard: progress, throughput, labels, agreement, gold accuracy and drift,
assignments, consensus and open issues (flags, rejections), as charts.

The figures come from `app.core.report.figures.project_report` (a typed `ProjectReport`),
computed off the GUI thread by a Job; the charts (`app.views.widgets.charts`) are drawn with
QPainter (no chart library), in the palette and scales of the HTML report
(`app.core.report.svg`), and "Save HTML report…" writes that report from the same figures, so
what the team lead hands on is what they saw. Each panel is a card of its own module (summary,
work, agreement, quality, issues) that shows its part of the report; this module is the
view's layout and wiring.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import TagloopError
from app.core.project.project import Project
from app.core.report.figures import project_report
from app.core.report.html import write_html
from app.core.report.sections import ProjectReport
from app.views.dashboard.agreement import AlphaCard, HeatmapCard
from app.views.dashboard.automation import AutomationCard
from app.views.dashboard.issues import IssuesCard
from app.views.dashboard.quality import AssignmentsCard, ConsensusCard, GoldCard
from app.views.dashboard.summary import SummaryTiles
from app.views.dashboard.widgets import Card, style_sheet
from app.views.dashboard.work import LabelsCard, ProgressCard, ThroughputCard, TimelineCard
from app.views.widgets.geometry import fit_to_screen
from app.workers.job import Job

PLACEMENT = {  # card: (row, column) on the board; the tiles span row 0
    "progress": (1, 0),
    "timeline": (1, 1),
    "gold": (2, 0),
    "throughput": (3, 0),
    "labels": (3, 1),
    "heatmap": (4, 0),
    "alpha": (4, 1),
}


class DashboardView(QDialog):
    """The dashboard of one project. The report is computed by a background Job on open
    (and on Refresh); `report` holds the newest one."""

    report_ready = Signal(object)

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.report: ProjectReport | None = None
        self.job: Job | None = None
        self.setWindowTitle(f"Dashboard: {project.name}")
        self.setStyleSheet(style_sheet())

        self.tiles = SummaryTiles()
        self.tile_labels = self.tiles.tile_labels
        self.tile_frames = self.tiles.tile_frames
        self.progress_card = ProgressCard()
        self.timeline_card = TimelineCard()
        self.throughput_card = ThroughputCard()
        self.labels_card = LabelsCard()
        self.heatmap_card = HeatmapCard()
        self.alpha_card = AlphaCard()
        self.gold_card = GoldCard()
        self.assignments_card = AssignmentsCard()
        self.consensus_card = ConsensusCard()
        self.issues_card = IssuesCard()
        self.automation_card = AutomationCard()
        self.cards: dict[str, Card] = {
            "progress": self.progress_card,
            "timeline": self.timeline_card,
            "throughput": self.throughput_card,
            "labels": self.labels_card,
            "heatmap": self.heatmap_card,
            "alpha": self.alpha_card,
            "gold": self.gold_card,
            "assignments": self.assignments_card,
            "consensus": self.consensus_card,
            "flags": self.issues_card,
            "automation": self.automation_card,
        }
        self.automation_card.hide()
        self.gold_card.hide()
        self.assignments_card.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self._scroll(self._board()), 1)
        layout.addLayout(self._buttons())
        fit_to_screen(self, 1320, 940)
        self.refresh()

    def _board(self) -> QWidget:
        """The tiles, then the cards in two columns; assignments and consensus share a cell."""
        quality = QWidget()
        box = QVBoxLayout(quality)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(12)
        box.addWidget(self.assignments_card)
        box.addWidget(self.consensus_card)
        box.addStretch(1)
        board = QWidget()
        board.setObjectName("board")
        grid = QGridLayout(board)
        grid.setContentsMargins(14, 14, 14, 14)
        grid.setSpacing(12)
        grid.addLayout(self.tiles, 0, 0, 1, 2)
        for key, (row, column) in PLACEMENT.items():
            grid.addWidget(self.cards[key], row, column)
        self._grid, self._quality = grid, quality
        self._place_quality()
        grid.addWidget(self.issues_card, 5, 0, 1, 2)
        grid.addWidget(self.automation_card, 6, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(7, 1)
        return board

    @staticmethod
    def _scroll(board: QWidget) -> QScrollArea:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(board)
        return scroll

    def _buttons(self) -> QHBoxLayout:
        """The progress of the computation, its message, Refresh, Save HTML report and Close."""
        self.busy = QProgressBar()
        self.busy.setMaximumWidth(220)
        self.busy.setTextVisible(False)
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # may quote a path or an error
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.save_button = QPushButton("Save HTML report…")
        self.save_button.clicked.connect(self.save_html)
        self.save_button.setEnabled(False)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(14, 8, 14, 10)
        buttons.addWidget(self.busy)
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        return buttons

    # --- the job ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Compute the report again in the background (a running one is cancelled)."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
        job = Job(project_report, self.project)
        # bound methods, not lambdas: Qt drops the connections if this dialog is destroyed
        job.progress.connect(self._progress)
        job.succeeded.connect(self._ready)
        job.failed.connect(self._failed)
        self.job = job
        self.busy.setRange(0, 0)
        self.busy.show()
        self.message.setText("Computing the figures…")
        self.refresh_button.setEnabled(False)
        job.start()

    def _current(self) -> bool:
        """Whether the signal being handled comes from the newest job (not a stale run)."""
        return self.sender() is self.job

    def _progress(self, done: int, total: int, message: str) -> None:
        if not self._current():
            return
        if total > 0:
            self.busy.setRange(0, total)
            self.busy.setValue(done)
        self.message.setText(message)

    def _ended(self) -> bool:
        """The report's job ended: if it is the current one, the busy bar goes and Refresh
        comes back (True); an older job's end is ignored (False)."""
        if not self._current():
            return False
        self.busy.hide()
        self.refresh_button.setEnabled(True)
        return True

    def _ready(self, report: ProjectReport) -> None:
        if not self._ended():
            return
        self.save_button.setEnabled(True)
        self.message.setText(f"Figures of {report.generated_at[:19].replace('T', ' ')} UTC")
        self.show_report(report)
        self.report_ready.emit(report)

    def _failed(self, message: str) -> None:
        if self._ended():
            self.message.setText(f"Could not compute the report: {message}")

    def done(self, result: int) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()
        super().done(result)

    # --- drawing ----------------------------------------------------------------------------

    def show_report(self, report: ProjectReport) -> None:
        """Show the figures of a report in every panel."""
        self.report = report
        self.tiles.show_report(report)
        for card in self.cards.values():
            card.show_report(report)
        self._place_quality()

    def _place_quality(self) -> None:
        """Assignments and consensus beside the gold card, or across both columns when the
        project has no gold items (the gold card is hidden: its cell would stay empty)."""
        self._grid.removeWidget(self._quality)
        if self.gold_card.isHidden():
            self._grid.addWidget(self._quality, 2, 0, 1, 2)
        else:
            self._grid.addWidget(self._quality, 2, 1)

    # --- saving -----------------------------------------------------------------------------

    def save_html(self) -> Path | None:
        """Ask where, then write the report shown as one self-contained HTML file."""
        if self.report is None:
            return None
        suggested = self.project.path.with_name(f"{self.project.path.stem}-report.html")
        name, _filter = QFileDialog.getSaveFileName(
            self, "Save HTML report", str(suggested), "HTML files (*.html)"
        )
        if not name:
            return None
        out = Path(name)
        if out.suffix.lower() not in (".html", ".htm"):
            out = out.with_suffix(".html")
        try:
            write_html(self.report, out)
        except (OSError, TagloopError) as exc:
            QMessageBox.warning(self, "Save HTML report", f"Could not write {out}:\n{exc}")
            return None
        self.message.setText(f"Saved {out}")
        return out
