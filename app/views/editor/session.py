"""An annotation session: one annotator walking a queue, with undo, prefetch and timing.

The editors and the bulk grid are views of a session. Every edit becomes a core command,
pushed on a QUndoStack and committed by the window's single writer thread; the command's
inverse, returned by the commit, is what undo replays. The item on screen is updated at once
(optimistically) and refreshed from the database when its last pending write has committed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.core.annotation import bulk_runs
from app.core.annotation import commands as annotate
from app.core.annotation import worklist as queue
from app.core.annotation.commands import (
    AddComment,
    AddFlag,
    AnnotationState,
    Applied,
    Command,
    Item,
)
from app.core.annotation.stats import labeling_progress
from app.core.errors import ProjectError
from app.core.project.project import Project
from app.views.wording import place
from app.workers.writer import Writer

CACHE_ITEMS = 64
PROGRESS_MS = 100  # how often a long save's progress is shown
PREFETCH_AHEAD = 2


@dataclass(frozen=True)
class Outcome:
    """A committed command, what it did, and the fresh state of the items it touched."""

    command: Command
    applied: Applied
    items: dict[int, Item]


class _UndoEntry(QUndoCommand):
    """A core command on the undo stack: each redo/undo applies the previous inverse."""

    def __init__(self, session: AnnotationSession, command: Command) -> None:
        super().__init__(command.description)
        self.session = session
        self.command = command
        self.future: Future | None = None

    def _toggle(self) -> None:
        previous = self.future
        resolve = (
            (lambda: self.command)
            if previous is None
            else (lambda: previous.result().applied.inverse)
        )
        if previous is not None:  # an undo or a redo: show the item it changes
            self.session.show_datapoint(self.command.datapoints[0])
        self.future = self.session.submit_edit(
            resolve, self.command.datapoints, self.command.description
        )

    def redo(self) -> None:
        self._toggle()

    def undo(self) -> None:
        self._toggle()


class AnnotationSession(QObject):
    item_changed = Signal(object)  # a new item is current
    item_updated = Signal(object)  # the current item's annotation, flags or comments changed
    message = Signal(str)  # a short note for the status line
    failed = Signal(str)  # a write failed for good (the undo history is reset); says why
    waiting = Signal(str)  # a save is kept out by another program's lock: kept and retried
    unstalled = Signal()  # the saves that waited for the lock are all saved now
    saved = Signal()  # every pending write has committed
    progress_changed = Signal()
    items_committed = Signal(object)  # {datapoint id: Item} fresh from the database
    committed = Signal(object)  # the Outcome of each of this session's writes (recent answers)
    saving = Signal(int, int, str)  # a long save's progress (done, total, what); total 0: done
    queue_changed = Signal()

    def __init__(
        self,
        project: Project,
        writer: Writer,
        annotator_id: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.project = project
        self.writer = writer
        self.annotator_id = annotator_id or project.local_annotator_id
        self.undo_stack = QUndoStack(self)
        self.queue: queue.Worklist | None = None
        self.position = 0
        self.item: Item | None = None
        self.reopened: set[int] = set()
        self._cache: OrderedDict[int, Item] = OrderedDict()
        self._pending: dict[int, int] = {}  # datapoint id: writes not yet committed
        self._shown_at = time.monotonic()
        self.labeled = 0
        self.total = 0
        self.suggest_version: int | None = None  # whose suggestions the editors show
        self.suggest_early = False  # that version is below the quality bar: say so
        self._save_timer = QTimer(self, singleShot=True, interval=1000)
        self._save_timer.timeout.connect(self.save_position)
        self.waiting_for_lock = False  # a write is kept out by another program's lock
        self._unsaved: dict[int, tuple[str, tuple[int, ...]]] = {}  # serial: what, where
        self._serial = 0
        # A bulk label of many items saves in steps on the writer thread, which only stores
        # how far it has got (`report_progress`); this timer shows it on the GUI thread.
        self._progress: tuple[int, int, str] | None = None
        self._long_saves = 0  # bulk saves submitted and not committed yet
        self._progress_timer = QTimer(self, interval=PROGRESS_MS)
        self._progress_timer.timeout.connect(self._show_progress)
        writer.done.connect(self._committed)
        writer.failed.connect(self._write_failed)
        writer.waiting.connect(self._write_waiting)
        writer.still_waiting.connect(self._write_waiting)

    # --- queue and navigation -------------------------------------------------------------

    def open_queue(self, spec: queue.WorklistSpec | None = None, datapoint_id: int | None = None):
        """Build a queue and show its first item, or `datapoint_id`, or where I stopped."""
        resuming = spec is None and datapoint_id is None
        if spec is None:
            spec, saved = queue.saved_position(self.project, self.annotator_id)
            datapoint_id = datapoint_id if datapoint_id is not None else saved
            try:
                self.queue = queue.Worklist(self.project, spec)
            except ProjectError:  # a remembered queue that cannot be rebuilt: start afresh
                self.queue = queue.Worklist(self.project, queue.WorklistSpec())
        else:
            self.queue = queue.Worklist(self.project, spec)
        self._cache.clear()
        self._count_progress()
        position = self.queue.position_of(datapoint_id) if datapoint_id is not None else None
        first = queue.first_unfinished(self.project, self.queue, self.annotator_id)
        note = ""
        if position is None:
            position = first
        elif resuming and first < position:
            # Never resume past items nobody answered without saying so (a copied file, a
            # queue walked with →): start at the first of them.
            note = (
                f"Started at item {first + 1:,}, the first you have not answered; "
                f"last time you stopped at item {position + 1:,}."
            )
            position = first
        self.queue_changed.emit()
        self.go(position)
        if note:
            self.message.emit(note)

    def _count_progress(self) -> None:
        progress = labeling_progress(self.project)
        self.total, self.labeled = progress.total, progress.labeled
        self.progress_changed.emit()

    def __len__(self) -> int:
        return len(self.queue) if self.queue else 0

    def go(self, position: int) -> bool:
        if not self.queue or not len(self.queue) or not 0 <= position < len(self.queue):
            if self.queue is not None and not len(self.queue):
                self.item = None
                self.item_changed.emit(None)
            return False
        if self.item is not None:
            self.reopened.discard(self.item.id)  # leaving an item locks it again
        self.position = position
        self.item = self._load(self.queue.id_at(position))
        self._shown_at = time.monotonic()
        self.item_changed.emit(self.item)
        self._save_timer.start()
        QTimer.singleShot(0, self._prefetch)
        return True

    def next(self) -> bool:
        if self.queue and self.position + 1 >= len(self.queue):
            self.message.emit("That was the last item in this queue.")
            return False
        return self.go(self.position + 1)

    def back(self) -> bool:
        if self.position == 0:
            self.message.emit("This is the first item in the queue.")
            return False
        return self.go(self.position - 1)

    def show_datapoint(self, datapoint_id: int) -> None:
        if self.item is not None and self.item.id == datapoint_id:
            return
        position = self.queue.position_of(datapoint_id) if self.queue else None
        if position is not None:
            self.go(position)

    def _load(self, datapoint_id: int) -> Item:
        item = self._cache.get(datapoint_id)
        if item is None:
            item = annotate.load_item(
                self.project, datapoint_id, self.annotator_id, self.suggest_version
            )
            self._remember(item)
        else:
            self._cache.move_to_end(datapoint_id)
        return item

    def _remember(self, item: Item) -> None:
        self._cache[item.id] = item
        self._cache.move_to_end(item.id)
        while len(self._cache) > CACHE_ITEMS:
            self._cache.popitem(last=False)

    def _prefetch(self) -> None:
        if not self.queue:
            return
        ahead = range(self.position + 1, min(self.position + 1 + PREFETCH_AHEAD, len(self.queue)))
        wanted = [self.queue.id_at(p) for p in ahead]
        missing = [i for i in wanted if i not in self._cache]
        loaded = annotate.load_items(self.project, missing, self.annotator_id, self.suggest_version)
        for item in loaded.values():
            self._remember(item)

    def save_position(self) -> None:
        """Remember the queue and the item on screen, so the next session resumes here."""
        if self.queue and self.item:
            queue.save_position(self.project, self.queue.spec, self.item.id, self.annotator_id)

    # --- state of the current item ---------------------------------------------------------

    @property
    def locked(self) -> bool:
        """A finished item is locked until it is explicitly reopened."""
        item = self.item
        return bool(
            item and item.annotation and item.annotation.finished and item.id not in self.reopened
        )

    def reopen(self) -> None:
        if self.item is None or not self.locked:
            return
        item_id = self.item.id
        self.reopened.add(item_id)
        self.writer.submit(
            lambda: self.writer.keep_trying(
                lambda: annotate.record_reopen(self.project, item_id, self.annotator_id), "reopen"
            ),
            token="reopen",
        )
        self.message.emit("Reopened: edits are allowed again.")
        self.item_updated.emit(self.item)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self._shown_at) * 1000)

    def set_state(
        self,
        value: object,
        status: str,
        description: str,
        advance: bool = False,
        origin: str | None = None,
    ) -> bool:
        """Give the current item a new annotation (one undoable, committed action).

        origin: "accepted" when the value is the model's suggestion; an accepted answer
        edited afterwards becomes "corrected", so figures can tell the two apart."""
        item = self.item
        if item is None:
            return False
        if self.locked:
            self.message.emit("This item is finished. Press R to reopen it for editing.")
            return False
        old = item.annotation
        if origin is None:
            origin = "human"
            if old is not None and old.origin in ("accepted", "corrected"):
                origin = old.origin if value == old.value or value is None else "corrected"
            if value is None:
                origin = "human"  # skipped or discarded: nobody's suggestion
        spent = (old.time_spent_ms if old else 0) + self.elapsed_ms()
        self._shown_at = time.monotonic()
        state = AnnotationState(value, status, spent, old.uuid if old else None, origin)
        self.push(annotate.SetAnnotations(self.annotator_id, ((item.id, state),), description))
        if state.finished and not advance:
            self.reopened.add(item.id)  # still editable until the annotator moves on
        if advance:
            self.next()
        return True

    def accept_suggestion(self, advance: bool) -> bool:
        """Take the model's suggestion as this item's answer (then still editable)."""
        item = self.item
        if item is None or item.suggestion is None:
            self.message.emit("The model has no suggestion for this item.")
            return False
        value = item.suggestion.value
        status = "complete" if advance else "draft"
        return self.set_state(value, status, "accept suggestion", advance, origin="accepted")

    def set_suggest_version(self, version: int | None) -> None:
        """Show this model version's suggestions (None: none), from the next item shown."""
        if version == self.suggest_version:
            return
        self.suggest_version = version
        self._cache.clear()
        if self.item is not None:
            self.item = self._load(self.item.id)
            self.item_updated.emit(self.item)

    def pick_up_new_scores(self) -> None:
        """A newer model scored the pool: re-rank what is ahead, never what is on screen."""
        if self.queue is not None and self.queue.rerank_after(self.position):
            self.queue_changed.emit()

    def set_many(self, states: dict[int, AnnotationState], description: str) -> None:
        """One undoable action over many datapoints (the bulk grid)."""
        if states:
            self.push(
                annotate.SetAnnotations(self.annotator_id, tuple(states.items()), description)
            )

    def add_flag(self, reason: str) -> None:
        if self.item is not None and reason.strip():
            self.push(AddFlag(self.item.id, self.annotator_id, reason.strip()))

    def add_comment(self, body: str) -> None:
        if self.item is not None and body.strip():
            self.push(AddComment(self.item.id, self.annotator_id, body.strip()))

    # --- writing ----------------------------------------------------------------------------

    def push(self, command: Command) -> None:
        self._predict(command)
        self.undo_stack.push(_UndoEntry(self, command))

    def _predict(self, command: Command) -> None:
        """Show an edit at once; the committed state replaces it when the write is done."""
        if not isinstance(command, annotate.SetAnnotations):
            return
        for dp_id, state in command.changes:
            cached = self._cache.get(dp_id)
            if cached is not None:
                self._cache[dp_id] = replace(cached, annotation=state)
        if self.item is not None and self.item.id in command.datapoints:
            self.item = self._cache.get(self.item.id, self.item)
            self.item_updated.emit(self.item)

    def submit_edit(
        self, resolve: Callable[[], Command], datapoints: tuple[int, ...], description: str
    ) -> Future:
        # An inverse touches the same datapoints as its command, so they are known up front.
        for dp_id in datapoints:
            self._pending[dp_id] = self._pending.get(dp_id, 0) + 1

        suggest = self.suggest_version
        self._serial += 1
        token = (self, datapoints, self._serial)
        self._unsaved[self._serial] = (description, datapoints)

        def job() -> Outcome:
            command = resolve()
            # Kept out by another program's lock: tried again until saved (a command's apply
            # is one transaction, or a write run that removes itself when it fails: both
            # re-runnable), never dropped; later edits wait behind it.
            applied = self.writer.keep_trying(lambda: self._apply(command), token)
            items = annotate.load_items(
                self.project, list(command.datapoints), self.annotator_id, suggest
            )
            return Outcome(command, applied, items)

        if len(datapoints) > bulk_runs.RUN_THRESHOLD:  # may be a write run: show its steps
            self._long_saves += 1
            self._progress_timer.start()
        return self.writer.submit(job, token=token)

    def _apply(self, command: Command) -> Applied:
        """Apply a command on the writer thread; a bulk label reports its steps."""
        if isinstance(command, annotate.SetAnnotations | bulk_runs.UndoLabelRun):
            return command.apply(self.project, progress=self.report_progress)
        return command.apply(self.project)

    def report_progress(self, done: int, total: int | None, message: str) -> None:
        """On the writer thread: how far a long save has got (shown by a GUI timer)."""
        self._progress = (done, total or 0, message)

    def _show_progress(self) -> None:
        shown = self._progress
        if shown is not None and shown[1]:
            self.saving.emit(*shown)

    def _progress_done(self, every: bool = False) -> None:
        """A bulk save has committed (`every`: all were given up): the bar goes with the last."""
        self._long_saves = 0 if every else max(0, self._long_saves - 1)
        if not self._long_saves:
            self._progress_timer.stop()
            self._progress = None
            self.saving.emit(0, 0, "")

    def _write_waiting(self, token: object, message: str) -> None:
        """A save is kept out by another program's lock: the undo history and the edit on
        screen stay as they are, the writer keeps trying, and the user is told (`waiting`,
        which a window shows in a banner, never a modal box)."""
        if not (isinstance(token, tuple) and token and token[0] is self) and token != "reopen":
            return
        self.waiting_for_lock = True
        self.waiting.emit(message)

    def retry_now(self) -> None:
        """Try the save kept out by the lock again at once."""
        self.writer.retry_now()

    def unsaved_edits(self) -> list[str]:
        """The edits not saved yet, oldest first, as a person reads them ("label spam
        (sms.csv, row 12)")."""
        edits = []
        for description, datapoints in self._unsaved.values():
            places = []
            for dp_id in datapoints[:3]:
                item = self._cache.get(dp_id)
                places.append(place(item.dataset, item.row) if item else f"item {dp_id}")
            more = f" and {len(datapoints) - 3:,} more" if len(datapoints) > 3 else ""
            edits.append(f"{description} ({'; '.join(places)}{more})")
        return edits

    def _committed(self, token: object, outcome: object) -> None:
        if isinstance(token, tuple) and token and token[0] is self:
            self._unsaved.pop(token[2], None)
        if self.waiting_for_lock and not self.writer.stalled:
            self.waiting_for_lock = False
            self.message.emit("Saved: the edits that waited for the project are saved now.")
            self.unstalled.emit()
        if not (isinstance(token, tuple) and token and token[0] is self):
            if token == "reopen" and not self.writer.pending:
                self.saved.emit()
            return
        assert isinstance(outcome, Outcome)
        if len(token[1]) > bulk_runs.RUN_THRESHOLD:
            self._progress_done()
        for dp_id in token[1]:  # as counted when submitted (a bulk label may leave some out)
            left = self._pending.get(dp_id, 1) - 1
            if left > 0:
                self._pending[dp_id] = left
                continue
            self._pending.pop(dp_id, None)
            fresh = outcome.items.get(dp_id)
            if fresh is not None and (dp_id in self._cache or dp_id == getattr(self.item, "id", 0)):
                self._remember(fresh)
                if self.item is not None and self.item.id == dp_id:
                    self.item = fresh
                    self.item_updated.emit(fresh)
        self.items_committed.emit(outcome.items)
        self.committed.emit(outcome)
        for before, after in outcome.applied.statuses.values():
            self.labeled += (after == "labeled") - (before == "labeled")
        if outcome.applied.statuses:
            self.progress_changed.emit()
        if not self._pending:
            self.saved.emit()

    def _write_failed(self, token: object, message: str) -> None:
        if not (isinstance(token, tuple) and token and token[0] is self) and token != "reopen":
            return
        # The undo history no longer matches the database: start it afresh and re-read.
        self._progress_done(every=True)
        self.waiting_for_lock = False
        self._unsaved.clear()
        self._pending.clear()
        self.undo_stack.clear()
        self._cache.clear()
        if self.item is not None:
            self.item = self._load(self.item.id)
            self.item_updated.emit(self.item)
        self.failed.emit(f"Could not save: {message}")

    def flush(self) -> None:
        """Wait for every pending write (tests, closing the window)."""
        self.writer.flush()
