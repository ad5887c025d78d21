"""The colours of the views, by role: one palette, so that a theme is one more instance.

Widgets ask `palette()` for a role ("danger", "muted", "selection"...) at the time they paint or
style themselves, never for a "#rrggbb" of their own: a dark theme then needs only another
`Palette` instance and `set_palette`. Every value is a colour string that works both in Qt style
sheets and rich text and in `QColor(...)`.

What is not here, on purpose: the colours a project gives its labels (the label schema) are data,
not theme; the report's chart colours live with the report (`app.core.report.svg`), so that the
HTML report and the dashboard show the same picture.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtGui import QColor


@dataclass(frozen=True)
class Palette:
    """Named colour roles of the whole GUI (fields are CSS/QColor colour strings)."""

    # --- text --------------------------------------------------------------------------
    text: str  # main ink: headings, values, the gold editor's text
    text_secondary: str  # status lines, other annotators' answers, panel titles
    text_subtle: str  # unchanged lines of a guidelines diff, the "skipped" overlay
    hint: str  # the help line under a form or an editor
    muted: str  # notes, chart axes, "not reviewed", to-do
    faint: str  # timestamps and ordinal numbers beside a card
    placeholder: str  # "nothing here" notes in rich text
    # --- lines and surfaces ------------------------------------------------------------
    border: str  # frames of cards, excerpts and group boxes
    card_border: str  # the dashboard's cards and tiles
    card: str  # the dashboard's cards and tiles
    board: str  # the dashboard's background, under its cards
    neutral_background: str  # a bar's empty track, the "skipped" overlay
    excluded_background: str  # a card left out of the decision
    track: str  # the empty part of a chart bar
    # --- accent, selection and the model -----------------------------------------------
    accent: str  # the selected card, work in progress, a changed value
    accent_background: str  # the selected card's fill
    selection: str  # the selected card's border in the bulk grid
    selection_background: str  # the selected card's fill in the bulk grid
    cell_border: str  # an unselected card's border in the bulk grid
    model: str  # the model's voice: suggestions, learning curve, guidelines diff hunks
    # --- states ------------------------------------------------------------------------
    danger: str  # errors, rejections, discarded, accuracy under the bar
    danger_strong: str  # a flag, a removed guidelines line
    danger_background: str  # discarded overlay, removed line, a failing row
    alert_background: str  # a dashboard alert or a failing tile
    alert_border: str  # a failing tile's border
    success: str  # completed, approved, saved, accuracy over the bar
    success_strong: str  # an added guidelines line
    success_background: str  # completed overlay, added line, a dashboard "all good"
    success_border: str  # a dashboard "all good" line
    warning: str  # an adjudication in the history
    warning_strong: str  # the model's threshold line
    notice_background: str  # the "guidelines changed" banner
    notice_border: str  # the "guidelines changed" banner's edge
    notice_text: str  # the "guidelines changed" banner's text
    # --- kinds of event (history, review decisions) -----------------------------------
    removal: str  # an annotation removed or reopened, a discarded decision
    review: str  # a review in the history
    correction: str  # a reviewer's correction badge
    # --- the text views ------------------------------------------------------------------
    search_highlight: str  # words found by the find bar
    suggested_span: str  # a suggested span whose label has no colour
    span_fallback: str  # a span whose label has no colour
    label_fallback: str  # a label chip (bulk grid) whose label has no colour
    chip_fallback: str  # a label chip (review cards) whose label has no colour
    span_tint_alpha: int  # 0-255: how strongly a span tints the text behind it
    selected_span_outline: str  # the dashed frame of the selected span
    ink_on_light: str  # text on a light label colour
    ink_on_dark: str  # text on a dark label colour
    # --- the datapoint table and dialogs -----------------------------------------------
    table_unlabeled: str
    table_labeled: str
    table_skipped: str
    table_discarded: str
    table_flagged: str
    form_error: str  # a form's error line (new project, import)
    bundle_error: str  # a bundle dialog's error line (kept apart: today's look)
    # --- the Qt palette of every window (QPalette roles; app.views.appearance sets them) ---
    window: str  # a window's and a dialog's background
    base: str  # the background of text fields, tables and lists
    alternate_base: str  # every other row of a table
    button: str  # buttons, headers, tabs
    highlight: str  # the selected row or text
    highlight_text: str  # text on the selection
    link: str  # a link in rich text
    disabled_text: str  # greyed-out text

    def table_status(self, status: str) -> str:
        """The colour of a datapoint status in the browse table."""
        return {
            "unlabeled": self.table_unlabeled,
            "labeled": self.table_labeled,
            "skipped": self.table_skipped,
            "discarded": self.table_discarded,
        }[status]


LIGHT = Palette(
    text="#263238",
    text_secondary="#37474F",
    text_subtle="#455A64",
    hint="#546E7A",
    muted="#607D8B",
    faint="#78909C",
    placeholder="#808080",
    border="#CFD8DC",
    card_border="#E0E5E8",
    card="#FFFFFF",
    board="#F4F6F7",
    neutral_background="#ECEFF1",
    excluded_background="#F5F5F5",
    track="#F1F4F5",
    accent="#1565C0",
    accent_background="#F3F8FF",
    selection="#1976D2",
    selection_background="#E3F2FD",
    cell_border="#C7CCD1",
    model="#5E35B1",
    danger="#C62828",
    danger_strong="#B71C1C",
    danger_background="#FFEBEE",
    alert_background="#FDECEA",
    alert_border="#F5C2BE",
    success="#2E7D32",
    success_strong="#1B5E20",
    success_background="#E8F5E9",
    success_border="#59A14F",
    warning="#EF6C00",
    warning_strong="#E65100",
    notice_background="#FFF8E1",
    notice_border="#F9A825",
    notice_text="#5D4037",
    removal="#6D4C41",
    review="#8E24AA",
    correction="#6A1B9A",
    search_highlight="#FFF59D",
    suggested_span="#7E57C2",
    span_fallback="#999999",
    label_fallback="#9E9E9E",
    chip_fallback="#90A4AE",
    span_tint_alpha=70,
    selected_span_outline="#202020",
    ink_on_light="#000000",
    ink_on_dark="#FFFFFF",
    table_unlabeled="#6b7280",
    table_labeled="#047857",
    table_skipped="#b45309",
    table_discarded="#b91c1c",
    table_flagged="#b91c1c",
    form_error="#b91c1c",
    bundle_error="#b00020",
    window="#EFF1F3",
    base="#FFFFFF",
    alternate_base="#F5F7F8",
    button="#E8EBED",
    highlight="#2F6FB3",
    highlight_text="#FFFFFF",
    link="#1565C0",
    disabled_text="#9AA4AB",
)

# Dark: light ink on charcoal surfaces; state colours lightened so they keep contrast.
DARK = replace(
    LIGHT,
    text="#E6EBEE",
    text_secondary="#CFD8DC",
    text_subtle="#B0BEC5",
    hint="#B0BEC5",
    muted="#9AAAB3",
    faint="#90A4AE",
    placeholder="#9E9E9E",
    border="#4A5A63",
    card_border="#3C4A52",
    card="#263238",
    board="#1A2125",
    neutral_background="#37474F",
    excluded_background="#2E383E",
    track="#34424A",
    accent="#64B5F6",
    accent_background="#1D3550",
    selection="#42A5F5",
    selection_background="#1A3A5C",
    cell_border="#546E7A",
    model="#B39DDB",
    danger="#EF8A8A",
    danger_strong="#FF8A80",
    danger_background="#4A2326",
    alert_background="#46262A",
    alert_border="#8E3B3B",
    success="#81C784",
    success_strong="#A5D6A7",
    success_background="#1F3A24",
    success_border="#66BB6A",
    warning="#FFB74D",
    warning_strong="#FFA726",
    notice_background="#3A3220",
    notice_border="#F9A825",
    notice_text="#FFE0B2",
    removal="#BCAAA4",
    review="#CE93D8",
    correction="#CE93D8",
    search_highlight="#7A6A00",
    suggested_span="#B39DDB",
    span_fallback="#9E9E9E",
    label_fallback="#9E9E9E",
    chip_fallback="#78909C",
    span_tint_alpha=120,
    selected_span_outline="#FFFFFF",
    table_unlabeled="#A3ACB5",
    table_labeled="#4ADE9B",
    table_skipped="#FBBF24",
    table_discarded="#F87171",
    table_flagged="#F87171",
    form_error="#F87171",
    bundle_error="#FF8A80",
    window="#22292E",
    base="#181D20",
    alternate_base="#1F262A",
    button="#2C363C",
    highlight="#2F6FB3",
    highlight_text="#FFFFFF",
    link="#90CAF9",
    disabled_text="#6B7780",
)

# High contrast: white and yellow on black, no mid-greys for text, strong borders.
HIGH_CONTRAST = replace(
    DARK,
    text="#FFFFFF",
    text_secondary="#FFFFFF",
    text_subtle="#FFFFFF",
    hint="#FFFFFF",
    muted="#E6E6E6",
    faint="#E6E6E6",
    placeholder="#E6E6E6",
    border="#FFFFFF",
    card_border="#FFFFFF",
    card="#000000",
    board="#000000",
    neutral_background="#000000",
    excluded_background="#1A1A1A",
    track="#3A3A3A",
    accent="#FFFF00",
    accent_background="#262600",
    selection="#00FFFF",
    selection_background="#003A4A",
    cell_border="#FFFFFF",
    model="#00FFFF",
    danger="#FF7070",
    danger_strong="#FF7070",
    danger_background="#3A0000",
    alert_background="#3A0000",
    alert_border="#FF7070",
    success="#00FF7F",
    success_strong="#00FF7F",
    success_background="#003318",
    success_border="#00FF7F",
    warning="#FFD700",
    warning_strong="#FFD700",
    notice_background="#000000",
    notice_border="#FFFF00",
    notice_text="#FFFF00",
    removal="#FFB380",
    review="#FF9CFF",
    correction="#FF9CFF",
    search_highlight="#0000B0",
    suggested_span="#00FFFF",
    span_fallback="#BDBDBD",
    label_fallback="#BDBDBD",
    chip_fallback="#BDBDBD",
    span_tint_alpha=150,
    selected_span_outline="#FFFF00",
    table_unlabeled="#FFFFFF",
    table_labeled="#00FF7F",
    table_skipped="#FFD700",
    table_discarded="#FF7070",
    table_flagged="#FF7070",
    form_error="#FF7070",
    bundle_error="#FF7070",
    window="#000000",
    base="#000000",
    alternate_base="#141414",
    button="#000000",
    highlight="#FFFF00",
    highlight_text="#000000",
    link="#00FFFF",
    disabled_text="#A0A0A0",
)

# The themes a user can choose under View (app.views.appearance), by the name kept in settings.
THEMES: dict[str, Palette] = {"light": LIGHT, "dark": DARK, "high-contrast": HIGH_CONTRAST}

_current: Palette = LIGHT


def palette() -> Palette:
    """The palette in use: ask for it when painting or styling, not at import time."""
    return _current


def set_palette(chosen: Palette) -> None:
    """Use another palette from now on (widgets built or painted afterwards follow it)."""
    global _current
    _current = chosen


def text_colour_on(background: QColor) -> str:
    """Ink that reads on a label's colour: dark on light colours, light on dark ones."""
    colours = palette()
    return colours.ink_on_light if background.lightnessF() > 0.55 else colours.ink_on_dark
