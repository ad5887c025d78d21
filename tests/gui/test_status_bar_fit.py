"""The status bar at 1024 px: a long model message gives way, the counts stay whole."""

from __future__ import annotations

from app.core.io.importer import import_dataset
from app.views.main_window import MainWindow


def test_a_long_model_message_does_not_cut_the_counts(qtbot, spam_project, sms_csv):
    import_dataset(spam_project, sms_csv, mapping={"message": "text"}, label_column="label")
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    # The model line is set by hand below; the controller's delayed start (1.5 s after the
    # window opens) would train on these 60 labels and replace it, so a slow machine that
    # took that long to count would fail the test.
    window.controller.auto = False
    window.resize(1024, 640)
    window.show()
    message = "Training the first classification model on 1,240 documents · fold 3 of 5 · 42%"
    window.model_label.setText(message + " · about 2 minutes left")
    qtbot.waitUntil(lambda: "flagged" in window.counts_label.text())
    qtbot.wait(50)
    counts = window.counts_label
    needed = counts.fontMetrics().horizontalAdvance(counts.text())
    assert counts.width() >= needed  # every count readable
    assert window.model_label.width() < window.model_label.fontMetrics().horizontalAdvance(
        window.model_label.text()
    )  # the model line is the one that gave way ...
    window.model_label.repaint()
    assert window.model_label.toolTip().startswith("Training the first")  # ... and keeps it all
