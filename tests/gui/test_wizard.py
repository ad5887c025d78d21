"""The new-project wizard, filled in as a user would."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from app.core.project.project import open_project
from app.views.new_project_wizard import NewProjectWizard


def test_wizard_creates_the_project_it_describes(qtbot, tmp_path):
    wizard = NewProjectWizard()
    qtbot.addWidget(wizard)
    wizard.show()
    basics = wizard.basics
    basics.name.clear()
    qtbot.keyClicks(basics.name, "Ward notes")
    basics.location.setText(str(tmp_path / "ward-notes.tagloop"))
    qtbot.mouseClick(
        basics.findChild(type(basics.types.button(0)), "type_spans"), Qt.MouseButton.LeftButton
    )
    assert basics.overlap.isEnabled()
    basics.overlap.setChecked(True)
    wizard.next()
    wizard.inputs.inputs.clear()
    qtbot.keyClicks(wizard.inputs.inputs, "note, ward")
    assert [wizard.inputs.annotated.itemText(i) for i in range(2)] == ["note", "ward"]
    wizard.next()
    labels = wizard.labels
    labels.table.item(0, 0).setText("drug")
    labels.table.item(1, 0).setText("dose")
    labels.table.item(1, 2).setText("d")
    labels.add_label("route", "r", "How it is given")
    wizard.next()
    wizard.guidelines.editor.setPlainText("# Meds\n\nMark **drugs** and doses.")
    assert "drugs" in wizard.guidelines.preview.toPlainText()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert wizard.project is not None
    wizard.project.close()

    project = open_project(tmp_path / "ward-notes.tagloop")
    with project:
        assert project.name == "Ward notes"
        assert project.task_type == "spans"
        assert [(i.name, i.annotated) for i in project.inputs] == [("note", True), ("ward", False)]
        schema = project.schema
        assert schema.allow_overlap
        assert [(x.name, x.hotkey) for x in schema.labels] == [
            ("drug", "1"),
            ("dose", "d"),
            ("route", "r"),
        ]
        assert schema.labels[2].description == "How it is given"
        assert schema.guidelines.startswith("# Meds")


def test_wizard_refuses_duplicate_labels_on_the_page(qtbot, tmp_path):
    wizard = NewProjectWizard()
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.basics.location.setText(str(tmp_path / "x.tagloop"))
    wizard.next()
    wizard.next()
    wizard.labels.table.item(1, 0).setText("positive")  # same as row 0
    wizard.next()
    assert wizard.currentPage() is wizard.labels
    assert "duplicate" in wizard.labels.error.text()
    assert not (tmp_path / "x.tagloop").exists()
