"""The model panel while a model trains: a first training is shown as one (what, on how many
items, which step), never as "No model yet"; Cancel stops it; and the per-label counts are
never cut. Training is replaced by a stand-in that reports progress until it is cancelled, so
the test pins the panel, not the speed of a real model."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt
from sqlalchemy import text

from app.core.errors import Cancelled
from app.core.project import modelstore
from app.views.model import controller as controller_module
from app.views.model.panel import LabelBars, ModelPanel
from app.views.model.training import TrainingState
from tests.gui.test_model_gui import editor_on, settle, spam  # noqa: F401


def stand_in_training(reached: threading.Event):
    def train(project, progress, cancel):
        progress(0, None, "reading features")
        progress(1, 5, "fold 2 of 5")
        reached.set()
        while not cancel():
            threading.Event().wait(0.01)
        raise Cancelled()

    return train


def test_a_first_training_is_shown_as_such_and_cancel_stops_it(
    qtbot,
    spam,  # noqa: F811
    editor_on,  # noqa: F811
    monkeypatch,
    tmp_path,
):
    reached = threading.Event()
    monkeypatch.setattr(controller_module, "train_in_worker_process", stand_in_training(reached))
    session, _editor, controller = editor_on(spam)
    with spam.engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM datapoint ORDER BY id"))]
    for dp in ids[:12]:
        session.show_datapoint(dp)
        session.set_state("spam" if dp % 3 == 0 else "ham", "complete", "label")
    settle(session)
    panel = ModelPanel(spam, controller)
    qtbot.addWidget(panel)
    panel.show()
    assert "No model yet" in panel.figures.toPlainText()
    statuses: list[str] = []
    controller.status_changed.connect(statuses.append)
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Fold 2 of 5" in panel.training.step.text(), timeout=20_000)
    assert panel.training.isVisible()
    headline = panel.training.headline.text()
    assert "first classification model" in headline and "12 labeled items" in headline
    assert "No model yet" not in panel.figures.toPlainText()
    assert "first" in panel.figures.toPlainText()
    assert panel.curve.empty == "The first model is training…"
    assert "Fold 2 of 5 · 20%" in statuses[-1]  # the status bar says the same
    panel.resize(1024, 640)
    panel.grab().save(str(tmp_path / "training.png"))
    qtbot.mouseClick(panel.training.cancel, Qt.MouseButton.LeftButton)
    assert panel.training.step.text() == "Cancelling…"
    qtbot.waitUntil(lambda: controller.job is None, timeout=20_000)
    assert not panel.training.isVisible()
    assert "training cancelled" in statuses[-1] and "none yet" in statuses[-1]
    assert "No model yet" in panel.figures.toPlainText()
    assert modelstore.latest_version(spam) is None


def test_training_state_steps_and_time_left():
    state = TrainingState("spans", 102, first=True, started=100.0)
    assert state.headline() == "Training the first span model on 102 documents"
    state.update(0, 10, "Training span model (fold 1 of 5)", now=100.0)
    state.update(4, 10, "Training span model (fold 1 of 5)", now=120.0)
    assert state.fraction == 0.4
    assert state.seconds_left(now=120.0) == 30.0  # 4 steps in 20 s: 6 more take 30 s
    assert state.step(now=120.0) == (
        "Training span model (fold 1 of 5) · 40% · about 30 s left in this step"
    )
    state.update(0, 200, "Scoring unlabeled items", now=121.0)  # a new step: no estimate yet
    assert state.seconds_left(now=121.5) is None
    assert TrainingState("multilabel", 1, first=False).headline() == (
        "Training a new multilabel model on 1 labeled item"
    )


def test_per_label_counts_are_never_cut(qtbot):
    per_label = {
        "ham": {"f1": 0.98, "precision": 0.97, "recall": 0.99, "support": 4480},
        "spam": {"f1": 0.91, "precision": 0.93, "recall": 0.9, "support": 448},
    }
    for width in (700, 980, 1900):
        bars = LabelBars()
        qtbot.addWidget(bars)
        bars.set_rows(per_label, {})
        bars.resize(width, 60)
        name_width, figure_width = bars.widths()
        metrics = bars.fontMetrics()
        bar_width = max(40, width - name_width - figure_width - 12)
        for figures in per_label.values():
            text_width = metrics.horizontalAdvance(LabelBars.figures(figures))
            assert name_width + bar_width + 8 + text_width <= width  # the count fits
        assert LabelBars.figures(per_label["ham"]).endswith("n 4,480")
