"""Team ▸ Annotators and assignments: register annotators, share out the work, move open work
from one annotator to another, and write one assignment bundle per annotator.

A front end to app.core.team.assign; the long steps run as Jobs with a progress bar and Cancel.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.core.bundle.assignments import export_assignment_bundles
from app.core.project.annotators import ROLES
from app.core.project.project import Project
from app.core.team import assign
from app.views.team.bundles import PassphraseFields, PathField
from app.views.widgets.geometry import fit_to_screen
from app.workers.job import Job, run_with_progress
from app.workers.write_job import start_write, writes_pending

SELECTION = (
    ("Random", None),
    ("Stratified by label", "label"),
    ("Stratified by dataset", "dataset"),
)


def annotator_table() -> QTableWidget:
    """The annotators, their roles and task counts; the name takes the spare width."""
    table = QTableWidget(0, 4)
    table.setHorizontalHeaderLabels(["Annotator", "Role", "Open tasks", "Done tasks"])
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # counts: narrow
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the name: the rest
    return table


class TeamDialog(QDialog):
    changed = Signal()  # tasks or annotators changed

    def __init__(self, project: Project, parent=None) -> None:
        super().__init__(parent)
        self.project = project
        self.job: Job | None = None
        self.setWindowTitle("Annotators and assignments")
        fit_to_screen(self, 1180, 640)

        self.table = annotator_table()
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("name of a new annotator")
        self.new_name.setAccessibleName("Name of a new annotator")
        self.new_role = QComboBox()
        self.new_role.addItems(list(ROLES))
        self.new_role.setAccessibleName("Role of the new annotator")
        self.new_role.setCurrentText("annotator")
        add = QPushButton("Add annotator")
        add.clicked.connect(self.add_annotator)
        self.add_button = add
        self.new_name.returnPressed.connect(self.add_annotator)
        add_row = QHBoxLayout()
        add_row.addWidget(self.new_name, 1)
        add_row.addWidget(self.new_role)
        add_row.addWidget(add)
        people = QGroupBox("Annotators")
        people_layout = QVBoxLayout(people)
        people_layout.addWidget(self.table)
        people_layout.addLayout(add_row)

        self.team = QListWidget()
        self.team.setMaximumHeight(130)
        self.fraction = _percent(100)
        self.overlap = _percent(0)
        self.per_item = QSpinBox()
        self.per_item.setRange(1, 10)
        self.per_item.setValue(2)
        self.selection = QComboBox()
        for text, value in SELECTION:
            self.selection.addItem(text, value)
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        generate = QPushButton("Generate tasks")
        generate.clicked.connect(self.generate)
        tasks = QGroupBox("Share out the items that have no labeling task yet")
        form = QFormLayout(tasks)
        form.addRow("Annotators", self.team)
        form.addRow("Share of the items to annotate", self.fraction)
        overlap_row = QHBoxLayout()
        overlap_row.addWidget(self.overlap)
        overlap_row.addWidget(QLabel("of them by"))
        overlap_row.addWidget(self.per_item)
        overlap_row.addWidget(QLabel("annotators each, the rest by one"))
        overlap_row.addStretch(1)
        form.addRow("Overlap", overlap_row)
        form.addRow("Selection", self.selection)
        form.addRow("Seed", self.seed)
        form.addRow("", generate)

        self.source = QComboBox()
        self.target = QComboBox()
        move = QPushButton("Reassign open tasks")
        move.clicked.connect(self.reassign)
        move_box = QGroupBox("Reassign (before the assignment bundles go out)")
        move_row = QHBoxLayout(move_box)
        move_row.addWidget(QLabel("From"))
        move_row.addWidget(self.source, 1)
        move_row.addWidget(QLabel("to"))
        move_row.addWidget(self.target, 1)
        move_row.addWidget(move)

        self.outdir = PathField("directory", "Write the assignment bundles into")
        self.outdir.edit.setText(str(project.path.parent))
        self.passphrase = PassphraseFields(confirm=True)
        write = QPushButton("Write one bundle per annotator")
        write.clicked.connect(self.export)
        out_box = QGroupBox("Assignment bundles")
        out_form = QFormLayout(out_box)
        out_form.addRow("Folder", self.outdir)
        out_form.addRow("", self.passphrase)
        out_form.addRow("", write)

        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setAccessibleName("What was done")
        self.log.setMaximumHeight(110)
        self.log.setPlaceholderText("What each step did is written here.")

        right = QVBoxLayout()
        right.addWidget(tasks)
        right.addWidget(move_box)
        right.addWidget(out_box)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.addWidget(people, 4)
        columns.addLayout(right, 5)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(self.log)
        self.refresh()

    # --- state ------------------------------------------------------------------------------
    def refresh(self) -> None:
        people = assign.list_annotators(self.project)
        self.table.setRowCount(len(people))
        for row, info in enumerate(people):
            for column, value in enumerate(
                (info.name, info.role, f"{info.open_tasks:,}", f"{info.done_tasks:,}")
            ):
                cell = QTableWidgetItem(value)
                cell.setData(Qt.ItemDataRole.UserRole, info.uuid)
                if column >= 2:
                    cell.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, column, cell)
        checked = {
            self.team.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.team.count())
            if self.team.item(i).checkState() == Qt.CheckState.Checked
        }
        self.team.clear()
        for combo in (self.source, self.target):
            combo.clear()
        for info in people:
            item = QListWidgetItem(f"{info.name} ({info.role})")
            item.setData(Qt.ItemDataRole.UserRole, info.uuid)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if info.uuid in checked else Qt.CheckState.Unchecked
            )
            self.team.addItem(item)
            self.source.addItem(info.name, info.uuid)
            self.target.addItem(info.name, info.uuid)

    def chosen(self) -> list[str]:
        return [
            self.team.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.team.count())
            if self.team.item(i).checkState() == Qt.CheckState.Checked
        ]

    def note(self, text: str) -> None:
        self.log.appendPlainText(text)

    def _fail(self, message: str) -> None:
        self.note(f"Not done: {message}")
        QMessageBox.warning(self, "Annotators and assignments", message)

    def _run(self, title: str, fn, *args, **kwargs) -> Job:
        job = run_with_progress(self, title, fn, *args, **kwargs)
        job.succeeded.connect(self._done)
        job.failed.connect(self._fail)
        self.job = job
        return job.start()

    def _done(self, report) -> None:
        reports = report if isinstance(report, list) else [report]
        for item in reports:
            self.note(item.summary())
        self.refresh()
        self.changed.emit()

    # --- actions ----------------------------------------------------------------------------
    def add_annotator(self) -> None:
        """Add the annotator off the GUI thread (another program may hold the project's lock
        for a while): the name, role and Add wait until it is saved."""
        if writes_pending(self):
            return
        project, name, role = self.project, self.new_name.text(), self.new_role.currentText()
        start_write(
            self,
            lambda: assign.add_annotator(project, name, role),
            busy=[self.add_button, self.new_name, self.new_role],
            done=self._added,
            failed=self._fail,
            say=self.note,
        )

    def _added(self, info: assign.AnnotatorInfo) -> None:
        self.new_name.clear()
        self.note(f"Added {info.name} ({info.role}).")
        self.refresh()
        for i in range(self.team.count()):  # a new annotator is usually meant for the work
            if self.team.item(i).data(Qt.ItemDataRole.UserRole) == info.uuid:
                self.team.item(i).setCheckState(Qt.CheckState.Checked)
        self.changed.emit()

    def generate(self) -> Job | None:
        team = self.chosen()
        if not team:
            self._fail("Tick the annotators who share the work.")
            return None
        return self._run(
            "Generating tasks",
            assign.generate_tasks,
            self.project,
            team,
            fraction=self.fraction.value() / 100,
            overlap_fraction=self.overlap.value() / 100,
            per_item=self.per_item.value(),
            stratify=self.selection.currentData(),
            seed=self.seed.value(),
        )

    def reassign(self) -> Job | None:
        source, target = self.source.currentData(), self.target.currentData()
        if source is None or target is None or source == target:
            self._fail("Choose two different annotators.")
            return None
        return self._run("Reassigning", assign.reassign, self.project, source, target)

    def export(self) -> Job | None:
        outdir = self.outdir.path()
        if outdir is None:
            self._fail("Choose a folder for the bundles.")
            return None
        passphrase, problem = self.passphrase.value()
        if problem:
            self._fail(problem)
            return None
        outdir.mkdir(parents=True, exist_ok=True)
        return self._run(
            "Writing assignment bundles",
            export_assignment_bundles,
            self.project,
            outdir,
            passphrase=passphrase,
        )


def _percent(value: int) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0, 100)
    box.setDecimals(0)
    box.setSuffix(" %")
    box.setValue(value)
    return box
