"""Regenerate the README's screenshots from the demo projects (offscreen, real windows).

Usage: .venv/bin/python docs/screenshots.py   (writes docs/*.png; uses a temporary config)
       .venv/bin/python docs/screenshots.py --views DIR [--size 1024x640]
           (every view, in the light and the dark theme, at that window size, into DIR:
           look at each one for clipped text and unreadable colours)

The review, adjudication, gold and guidelines-changed screenshots come from their GUI tests:
    TAGLOOP_SCREENSHOTS=1 pytest tests/gui/test_quality_views.py tests/gui/test_gold_view.py \
        tests/gui/test_guidelines_gui.py -k screenshot
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["TAGLOOP_CONFIG_DIR"] = tempfile.mkdtemp(prefix="tagloop-shots-")
DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))


def main() -> None:
    from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
    from PySide6.QtTest import QTest

    from app.core.io.demo import build_demo
    from app.views.app import make_application
    from app.views.main_window import MainWindow

    app = make_application()
    spam, diseases, mentions = build_demo(Path(tempfile.mkdtemp(prefix="tagloop-demo-")))

    def window_on(path: Path) -> MainWindow:
        window = MainWindow()
        window.resize(1280, 780)
        window.show()
        window.open_project_path(path)
        app.processEvents()
        return window

    def settle(window: MainWindow) -> None:
        """Writes saved, and the status bar's background recount delivered (not the figures
        from before the last keys: the bar must agree with the editor's progress)."""
        window.writer.flush()
        for _ in range(5):
            app.processEvents()
        counts = window.counts_label
        while counts.timer.isActive() or counts.job is not None or counts.again:
            app.processEvents()
        for _ in range(3):
            app.processEvents()

    def grab(widget, name: str) -> None:
        for _ in range(8):
            app.processEvents()
        widget.grab().save(str(DOCS / name))
        print("wrote", DOCS / name)

    def save(window: MainWindow, name: str) -> None:
        settle(window)
        window.grab().save(str(DOCS / name))
        print("wrote", DOCS / name)

    window = window_on(spam)
    window.show_tab("annotate")
    editor = window.editor
    QTest.keyClick(editor, "1")
    QTest.keyClick(editor, "2")
    QTest.keyClick(editor, Qt.Key.Key_F1)  # the guidelines beside the text
    save(window, "editor_classification.png")
    window.show_tab("grid")
    grid = window.grid
    rows = QItemSelection(grid.model.index(3), grid.model.index(5))
    grid.view.selectionModel().select(rows, QItemSelectionModel.SelectionFlag.Select)
    grid.view.selectionModel().select(grid.model.index(9), QItemSelectionModel.SelectionFlag.Select)
    QTest.keyClick(grid.view, "1")
    save(window, "bulk_grid.png")
    window.close()

    window = window_on(mentions)
    window.show_tab("annotate")
    QTest.keyClick(window.editor, "1")
    QTest.keyClick(window.editor, "3")
    save(window, "editor_multilabel.png")
    window.close()

    window = window_on(diseases)
    window.show_tab("annotate")
    editor = window.editor
    view = editor.text_view
    text = window.session.item.text
    for word, key in (("skin tumour", "1"), ("cancer", "2"), ("colon cancers", "1")):
        start = text.index(word)
        view.select(start + 1, start + len(word) - 1)  # partial words: snapping completes them
        QTest.keyClick(view, key)
        settle(window)
    save(window, "editor_spans.png")
    window.close()

    # the model: a learning curve from labels that arrived in steps, then suggestions
    from app.core.io.importer import import_dataset
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project
    from app.ml.loop import score_pool, train_project

    work = Path(tempfile.mkdtemp(prefix="tagloop-model-"))
    rows = [
        line.rstrip("\n").split("\t", 1)
        for line in (DOCS.parent / "resources" / "demo" / "sms_spam.tsv").open(encoding="utf-8")
    ][1:]
    path = work / "spam-model.tagloop"
    labels = [LabelSpec("ham", "#4caf50", "1"), LabelSpec("spam", "#e53935", "2")]
    project = create_project(path, "classification", labels)
    start = 0
    for size in (40, 80, 160, 320, 640):
        staged = work / f"labels_{size}.tsv"
        with staged.open("w", encoding="utf-8") as out:
            out.write("label\tmessage\n")
            for label, message in rows[start : start + size]:
                out.write(f"{label}\t{message}\n")
        import_dataset(project, staged, label_column="label")
        start += size
        version = train_project(project)
    pool = work / "pool.tsv"
    with pool.open("w", encoding="utf-8") as out:
        out.write("message\n")
        for _label, message in rows[start : start + 2000]:
            out.write(f"{message}\n")
    import_dataset(project, pool)
    score_pool(project, version)
    project.close()
    window = window_on(path)
    window.show_tab("annotate")
    app.processEvents()
    save(window, "editor_suggestion.png")
    window.show_model()
    panel = window.model_panel
    panel.resize(980, 700)
    for _ in range(5):
        app.processEvents()
    panel.grab().save(str(DOCS / "model_panel.png"))
    print("wrote", DOCS / "model_panel.png")
    panel.close()
    # Model ▸ Automate… on the trained spam model: the promise, the curve, the threshold
    from app.views.model.automate_dialog import show_automate

    automate = show_automate(window)
    automate.resize(720, 660)
    while not automate.loader.done:
        app.processEvents()
    grab(automate, "automate.png")
    automate.close()
    # the table with the model's predictions, sorted by confidence (the Model column)
    from app.views.table_model import MODEL_COLUMN

    window.show_tab("browse")
    window.browse.table.selectRow(0)  # a labeled item: its history has a step
    history = window.show_history()
    history.resize(920, 420)
    grab(history, "history.png")
    window.browse.table.sortByColumn(MODEL_COLUMN, Qt.SortOrder.DescendingOrder)
    save(window, "main_window.png")
    dashboard = window.show_dashboard()
    dashboard.resize(1280, 900)
    while dashboard.job is not None and not dashboard.job.done:
        app.processEvents()
    grab(dashboard, "dashboard.png")
    importer = window.import_dataset(DOCS.parent / "resources" / "demo" / "sms_spam.tsv")
    importer.resize(900, 600)
    grab(importer, "import_dialog.png")
    importer.close()
    window.close()
    from app.views.new_project_wizard import NewProjectWizard

    wizard = NewProjectWizard()
    wizard.show()
    grab(wizard, "new_project_wizard.png")
    wizard.close()

    # the team: annotators, shared-out work, assignment bundles, returned work merged back
    from app.core.bundle import export_work_bundle, open_bundle
    from app.core.bundle.assignments import export_assignment_bundles
    from app.core.team import assign
    from app.workers.write_job import writes_pending

    window = window_on(spam)
    team = window.show_team()
    team.resize(1180, 640)
    for name, role in (
        ("Dr. Okafor", "owner"),
        ("Ana", "annotator"),
        ("Ben", "annotator"),
        ("Chen", "reviewer"),
    ):
        team.new_name.setText(name)
        team.new_role.setCurrentText(role)
        team.add_annotator()
        while writes_pending(team):  # the annotator is added off the GUI thread
            app.processEvents()
    # the adds ran as jobs: check they all landed before sharing out work among them (a
    # missed wait once ended here in "no annotator named 'Ana'")
    added = {info.name for info in assign.list_annotators(window.project)}
    missing = {"Dr. Okafor", "Ana", "Ben", "Chen"} - added
    if missing:
        raise SystemExit(f"the team dialog did not add {sorted(missing)}: {team.log.toPlainText()}")
    assign.generate_tasks(window.project, ["Ana", "Ben"], fraction=0.5, overlap_fraction=0.2)
    team.refresh()
    bundles = work / "bundles"
    reports = export_assignment_bundles(window.project, bundles)
    team.note("\n".join(report.summary() for report in reports))
    app.processEvents()
    team.grab().save(str(DOCS / "team.png"))
    print("wrote", DOCS / "team.png")
    team.close()
    ana = open_bundle(reports[0].path, work / "ana.tagloop")
    from app.core.annotation.commands import AnnotationState, SetAnnotations
    from app.core.project.project import open_project

    with open_project(ana.path) as laptop:
        ids = [
            row[0]
            for row in laptop.engine.connect().exec_driver_sql(
                "SELECT id FROM datapoint WHERE status = 0 ORDER BY id LIMIT 25"
            )
        ]
        SetAnnotations(
            laptop.local_annotator_id,
            tuple((dp, AnnotationState("ham", "complete")) for dp in ids),
        ).apply(laptop)
        returned = export_work_bundle(laptop, work / "ana-work.tlbundle")
    merge = window.merge_work([returned.path])
    merge.resize(760, 520)
    merge.run()
    while merge.job is not None and not merge.job.done:
        app.processEvents()
    for _ in range(5):
        app.processEvents()
    merge.files.addItem(str(returned.path))
    merge.grab().save(str(DOCS / "merge.png"))
    print("wrote", DOCS / "merge.png")
    window.close()


def render_views(out: Path, width: int, height: int) -> None:
    """Every view of the app, light and dark, at one size: the windows a user meets."""
    from PySide6.QtTest import QTest

    from app.core.io.demo import build_demo
    from app.views import appearance
    from app.views.app import make_application
    from app.views.main_window import MainWindow
    from app.views.new_project_wizard import NewProjectWizard

    app = make_application()
    out.mkdir(parents=True, exist_ok=True)
    from functools import partial

    SMS = DOCS.parent / "resources" / "demo" / "sms_spam.tsv"
    spam, diseases, _mentions = build_demo(Path(tempfile.mkdtemp(prefix="tagloop-demo-")))

    def shoot(widget, name: str, size: tuple[int, int] | None = None) -> None:
        widget.resize(*(size or (width, height)))
        widget.show()
        job = getattr(widget, "job", None)  # the dashboard computes its figures off-thread
        while job is not None and not job.done:
            app.processEvents()
        for _ in range(8):
            app.processEvents()
        path = out / f"{name}_{theme}_{width}x{height}.png"
        widget.grab().save(str(path))
        print("wrote", path)

    for theme in ("light", "dark"):
        appearance.apply_theme(theme)
        window = MainWindow()
        shoot(window, "welcome")
        window.open_project_path(spam)
        app.processEvents()
        shoot(window, "browse")
        window.show_tab("annotate")
        QTest.keyClick(window.editor, "1")
        shoot(window, "annotate")
        window.editor.show_shortcuts()
        shoot(window.editor.sheet, "shortcuts", (min(width, 900), min(height, 640)))
        window.editor.sheet.close()
        window.show_tab("grid")
        shoot(window, "grid")
        dialog_size = (width, height)
        for name, opener in (
            ("dashboard", window.show_dashboard),
            ("review", window.show_review),
            ("adjudication", window.show_adjudication),
            ("gold", window.show_gold),
            ("team", window.show_team),
            ("export_bundle", window.export_bundle),
            ("import", partial(window.import_dataset, SMS)),
        ):
            dialog = opener()
            if dialog is not None:
                shoot(dialog, name, dialog_size)
                dialog.close()
        window.show_tab("browse")
        window.browse.table.selectRow(3)
        history = window.show_history()
        shoot(history, "history", dialog_size)
        history.close()
        window.show_model()
        shoot(window.model_panel, "model_panel", dialog_size)
        window.show_suspicious()
        shoot(window.suspicious_view, "suspicious", dialog_size)
        window.close()
        wizard = NewProjectWizard()
        shoot(wizard, "new_project_wizard", (min(width, 760), min(height, 520)))
        wizard.close()
        window = MainWindow()
        window.open_project_path(diseases)
        app.processEvents()
        window.show_tab("annotate")
        shoot(window, "annotate_spans")
        window.close()


if __name__ == "__main__":
    if "--views" in sys.argv:
        size = sys.argv[sys.argv.index("--size") + 1] if "--size" in sys.argv else "1024x640"
        w, h = (int(n) for n in size.split("x"))
        render_views(Path(sys.argv[sys.argv.index("--views") + 1]), w, h)
    else:
        main()
