"""The figures Tagloop shows, each in one line of plain language: what it means, what is good.

One place for these words, so the model panel, the dashboard, the agreement views and the
HTML report explain a figure the same way (app.views.glossary puts them on widgets).
"""

from __future__ import annotations

TERMS: dict[str, str] = {
    "macro-F1": (
        "macro-F1: how well the model finds each label, averaged so that a rare label counts as"
        " much as a common one. 1.0 is perfect; 0.8 or more is good, below 0.5 is weak."
    ),
    "accuracy": (
        "accuracy: the share of items the model labels as you did. It looks good on a skewed"
        " dataset even when a rare label is always missed: read it with macro-F1."
    ),
    "ECE": (
        "ECE (calibration error): how far the model's confidence is from how often it is right."
        " 0 is perfect; below 0.05 is good, above 0.15 its percentages are not to be trusted."
    ),
    "Krippendorff's α": (
        "Krippendorff's α: how much annotators agree, beyond what chance would give. 1 is full"
        " agreement, 0 is chance; 0.8 or more is good, below 0.67 the guidelines need work."
    ),
    "Fleiss' κ": (
        "Fleiss' κ: agreement among all the annotators of an item at once, beyond chance."
        " 1 is full agreement, 0 is chance; above 0.6 is substantial, above 0.8 near perfect."
    ),
    "Cohen's κ": (
        "Cohen's κ: agreement between two annotators, beyond chance. 1 is full agreement,"
        " 0 is chance; above 0.6 is substantial, above 0.8 near perfect."
    ),
}


def explain(*terms: str) -> str:
    """The plain-language lines of some figures, one per line (a tooltip, a caption)."""
    return "\n".join(TERMS[term] for term in terms)
