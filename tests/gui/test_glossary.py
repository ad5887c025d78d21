"""Jargon explained where it appears (issue #16): macro-F1, ECE, Krippendorff's α, Fleiss' κ
and Cohen's κ each carry one plain-language line, from one module, in every view showing them."""

from __future__ import annotations

from types import SimpleNamespace

from app.core.glossary import TERMS, explain
from app.views.dashboard.agreement import AlphaCard, HeatmapCard
from app.views.main_window import MainWindow
from app.views.model.panel import _figures_html


def test_every_term_says_what_it_means_and_what_is_good():
    for term, line in TERMS.items():
        assert line.startswith(term) and "\n" not in line
        assert "good" in line or "perfect" in line or "trusted" in line or "read it" in line


def test_model_panel_figures_carry_their_captions():
    version = SimpleNamespace(
        id=3,
        created_at="2026-12-01T10:00:00",
        label_count=500,
        format="linear",
        metrics={"macro_f1": 0.91, "accuracy": 0.95, "ece": 0.03, "folds": 5},
    )
    page = _figures_html(version)
    for term in ("macro-F1", "accuracy", "ECE"):
        assert TERMS[term].split(":")[1].strip()[:30] in page.replace("&#x27;", "'")


def test_agreement_cards_and_status_bar_explain_their_figures(qtbot, spam_project):
    heat, alpha = HeatmapCard(), AlphaCard()
    for card in (heat, alpha):
        qtbot.addWidget(card)
    tip = heat.note.toolTip()
    assert explain("Cohen's κ") in tip and explain("Fleiss' κ") in tip
    assert alpha.note.toolTip() == explain("Krippendorff's α")
    assert alpha.note.accessibleDescription() == explain("Krippendorff's α")
    window = MainWindow(spam_project)
    qtbot.addWidget(window)
    assert explain("macro-F1") in window.model_label.toolTip()  # (after the text, if cut)
