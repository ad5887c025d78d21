"""Model ▸ Automate… as a user drives it: move the target-precision slider and the expected
coverage follows; run it, and the database holds the auto-labels, the human queue and the
audit sample. The model version is stored directly (held-out results and predictions), so the
test pins the dialog's behaviour without training."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PySide6.QtCore import Qt
from sqlalchemy import text

from app.core.io.importer import import_dataset
from app.core.project import modelstore
from app.core.team.assign import add_annotator
from app.views.model.automate_dialog import AutomateDialog
from tests.fixtures_data import sms_rows, write_csv


def coverage_shown(dialog: AutomateDialog) -> float:
    return float(re.search(r"<b>([\d.]+)%</b>", dialog.coverage_label.text()).group(1))


@pytest.fixture
def scored(spam_project, tmp_path):
    """300 SMS, unlabelled, scored by a stored model version whose held-out confidences are
    calibrated (uniform on [0.5, 1], each right with that probability)."""
    project = spam_project
    path = tmp_path / "sms.csv"
    write_csv(path, [["message"], *[[t] for t, _label in sms_rows(200)]])
    import_dataset(project, path)
    rng = np.random.default_rng(0)
    held = rng.uniform(0.5, 1.0, 3_000)
    metrics = {
        "macro_f1": 0.9,
        "per_label": {},
        "holdout": {
            "confidence": [round(float(c), 4) for c in held],
            "correct": [int(x) for x in rng.random(3_000) < held],
        },
    }
    version = modelstore.save_version(project, "test-fixed", b"", 3_000, metrics)
    with project.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM datapoint ORDER BY id"))]
    confidences = np.linspace(0.5, 1.0, len(ids))
    modelstore.write_predictions(
        project,
        version.id,
        [(dp, "ham", float(c), 1 - float(c)) for dp, c in zip(ids, confidences, strict=True)],
    )
    add_annotator(project, "ann", "annotator")
    add_annotator(project, "rita", "reviewer")
    project.confidences = dict(zip(ids, confidences.tolist(), strict=True))
    return project


def test_slider_moves_coverage_then_the_run_lands_in_the_database(qtbot, scored, tmp_path):
    project = scored
    dialog = AutomateDialog(project)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.choice is not None, timeout=10_000)
    assert dialog.dataset_box.currentText().startswith("sms.csv (200 unlabelled)")
    at_95 = coverage_shown(dialog)
    assert dialog.target_label.text() == "0.950"

    dialog.slider.setFocus()
    qtbot.keyClick(dialog.slider, Qt.Key.Key_Home)  # the lowest target: 0.80
    assert dialog.target_label.text() == "0.800"
    at_80 = coverage_shown(dialog)
    assert at_80 > at_95 + 20  # a looser promise lets the model label much more

    qtbot.keyClick(dialog.slider, Qt.Key.Key_End)  # 0.999: out of reach with 3,000 labels
    assert "Nothing would be auto-labelled" in dialog.reason_label.text()
    assert dialog.curve.choice.threshold is None

    qtbot.keyClick(dialog.slider, Qt.Key.Key_Home)
    threshold = dialog.choice.threshold
    dialog.grab().save(str(tmp_path / "automate.png"))

    # the run is a spawned process (numpy, scikit-learn, the project opened afresh): a hang
    # guard as generous as the model tests' (60 s), not a speed assertion
    with qtbot.waitSignal(dialog.ran, timeout=60_000, raising=True) as ran:
        qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    report = ran.args[0].report
    expected = sum(1 for c in project.confidences.values() if c >= threshold)
    with project.engine.connect() as conn:
        auto = conn.execute(
            text("SELECT count(*) FROM annotation WHERE origin = 'model'")
        ).scalar_one()
        tasks = dict(conn.execute(text("SELECT kind, count(*) FROM task GROUP BY kind")).all())
    assert auto == expected == report.auto_labelled
    assert tasks["label"] == 200 - expected and tasks["review"] == min(expected, 50)
    assert "Auto-labelled" in dialog.status_label.text()


def test_dashboard_shows_promised_audited_coverage_and_the_drift_alert(qtbot, scored, tmp_path):
    from app.core.quality.review import review
    from app.ml.automate import run
    from app.views.dashboard.window import DashboardView

    project = scored
    run.automate(project, "sms.csv", 0.9, actor_id=project.local_annotator_id)
    with project.engine.connect() as conn:
        made = [r[0] for r in conn.execute(text("SELECT uuid FROM annotation LIMIT 20"))]
    for uid in made:  # the audit finds the model wrong every time
        review(project, "rita", uid, "reject", reason="wrong")
    dashboard = DashboardView(project)
    qtbot.addWidget(dashboard)
    dashboard.show()
    qtbot.waitUntil(lambda: dashboard.report is not None, timeout=20_000)
    card = dashboard.automation_card
    assert card.isVisible()
    assert card.values["promised precision"].text() == "0.9"
    assert card.values["audited precision"].text().startswith("0.0% (0%–")
    assert "drift" in card.alert.text() and card.alert.isVisible()
    # the "finished annotations" tile counts people's; the auto-labels stand beside it
    with project.engine.connect() as conn:
        auto, people = conn.execute(
            text("SELECT sum(origin = 'model'), sum(origin != 'model') FROM annotation")
        ).one()
    tiles = dashboard.tiles
    assert tiles.tile_labels["annotations"].text() == f"{people:,}"
    assert f"+{auto:,} auto" in tiles.tile_labels["annotations_name"].text()
    card.grab().save(str(tmp_path / "automation_card.png"))
    dashboard.grab().save(str(tmp_path / "dashboard.png"))
    dashboard.resize(1300, 800)
    tiles.parentWidget().grab().save(str(tmp_path / "tiles.png"))


def test_editor_shows_an_auto_label_and_enter_confirms_it(qtbot, scored, tmp_path):
    """Browse's 'auto-labelled' filter finds the model's labels; the editor shows one as the
    model's, and Enter makes it a person's label (which then counts and trains)."""
    from app.core.annotation.browse import Browser, Query
    from app.core.annotation.stats import labeling_progress
    from app.core.annotation.worklist import WorklistSpec
    from app.ml.automate import run
    from app.views.editor import AnnotationSession, make_editor
    from app.workers.writer import Writer

    project = scored
    outcome = run.automate(project, "sms.csv", 0.9, actor_id=project.local_annotator_id)
    auto = outcome.report.auto_labelled
    browser = Browser(project)
    assert browser.count(Query(status="auto-labelled")) == auto
    assert browser.status_counts()["auto-labelled"] == auto
    writer = Writer()
    try:
        session = AnnotationSession(project, writer)
        editor = make_editor(session)
        qtbot.addWidget(editor)
        editor.show()
        session.open_queue(WorklistSpec(Query(status="auto-labelled")))
        first = session.item.id
        assert editor.suggestion_label.isVisibleTo(editor)
        assert "Model label" in editor.suggestion_label.text()
        assert "Enter" in editor.suggestion_label.text()
        editor.grab().save(str(tmp_path / "editor.png"))
        qtbot.keyClick(editor, Qt.Key.Key_Return)
        session.flush()
        qtbot.waitUntil(lambda: not writer.pending, timeout=10_000)
    finally:
        writer.shutdown()
    me = project.local_annotator_id
    with project.engine.connect() as conn:
        value, origin = conn.execute(
            text(
                "SELECT value, origin FROM annotation"
                " WHERE datapoint_id = :d AND annotator_id = :me"
            ),
            {"d": first, "me": me},
        ).one()
    assert (value, origin) == ('"ham"', "accepted")
    assert labeling_progress(project).labeled == 1
    assert browser.count(Query(status="auto-labelled")) == auto - 1


def test_model_menu_opens_automate(qtbot, scored):
    from app.views.main_window import MainWindow

    window = MainWindow(scored)
    qtbot.addWidget(window)
    window.show()
    assert window.menus.actions["automate"].isEnabled()
    window.menus.actions["automate"].trigger()
    dialog = window.findChild(AutomateDialog)
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.choice is not None, timeout=10_000)
    assert dialog.run_button.isEnabled()
    dialog.close()
