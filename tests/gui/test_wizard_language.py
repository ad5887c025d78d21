"""The project language chosen in the new-project wizard (issue #13, item 3)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from app.core.project.project import open_project
from app.views.new_project_wizard import NewProjectWizard


def test_wizard_stores_the_language_chosen_with_the_keyboard(qtbot, tmp_path):
    wizard = NewProjectWizard()
    qtbot.addWidget(wizard)
    wizard.show()
    basics = wizard.basics
    basics.location.setText(str(tmp_path / "notes.tagloop"))
    qtbot.mouseClick(
        basics.findChild(type(basics.types.button(0)), "type_spans"), Qt.MouseButton.LeftButton
    )
    assert basics.language_code == "en"
    basics.language.setFocus()
    qtbot.keyClicks(basics.language, "Japanese")  # a combo box jumps to the typed item
    assert basics.language_code == "ja"
    assert "SudachiPy" in basics.language_note.text()
    basics.grab().save(str(tmp_path / "wizard-language.png"))
    for _ in range(3):
        wizard.next()
    wizard.button(QWizard.WizardButton.FinishButton).click()
    assert wizard.project is not None
    wizard.project.close()
    with open_project(tmp_path / "notes.tagloop") as project:
        assert project.language == "ja"
