"""The project report as typed, frozen dataclasses: one per section.

`app.core.report.figures.project_report` builds a `ProjectReport`; the HTML page
(`app.core.report.html`), its charts (`app.core.report.svg`), the Qt dashboard and the CLI read
its attributes, so a renamed or missing figure is a type error, not a silent `KeyError` in a
widget. `ProjectReport.as_dict()` rebuilds the JSON-ready dict that `tagloop report --json`
prints, with the keys in the same order as ever; a section that does not apply to the project
(gold, rejections, assignments, span agreement) is None here and absent there.

What each figure means is told in `app.core.report.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

ABSENT_IF_NONE = {"absent_if_none": True}
"""Field metadata: the key is left out of `as_dict()` when the value is None."""

Matrix = tuple[tuple[Any, ...], ...]
"""A square annotator-by-annotator matrix (None on the diagonal and where undefined)."""


def _plain(value: Any) -> Any:
    """A section or value as JSON-ready data: dataclasses to dicts (fields in order), tuples
    to lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in fields(value)
            if not (f.metadata.get("absent_if_none") and getattr(value, f.name) is None)
        }
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


class Section:
    """Base of the report's dataclasses: `as_dict()` gives the section as JSON-ready data."""

    def as_dict(self) -> dict[str, Any]:
        return _plain(self)


# --- project --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Label(Section):
    name: str
    colour: str  # #rrggbb, safe to put in CSS or SVG


@dataclass(frozen=True)
class Counts(Section):
    datapoints: int
    datasets: int
    annotations: int  # finished: complete, skipped or discarded
    complete_annotations: int
    draft_annotations: int
    annotators: int
    labeled_datapoints: int
    flagged_datapoints: int


@dataclass(frozen=True)
class ProjectInfo(Section):
    name: str
    uuid: str
    task_type: str
    schema_version: int
    labels: tuple[Label, ...]
    counts: Counts


# --- progress and throughput ----------------------------------------------------------------


@dataclass(frozen=True)
class DayCount(Section):
    """One annotator's complete annotations of one UTC day, and their running total."""

    day: str
    annotator: str
    completed: int
    cumulative: int


@dataclass(frozen=True)
class LabelingProgress(Section):
    by_annotator: dict[str, dict[str, int]]  # annotator -> annotation status -> count
    by_status: dict[str, int]  # datapoint status (and "flagged") -> count
    over_time: tuple[DayCount, ...]


@dataclass(frozen=True)
class Throughput(Section):
    items: int
    timed_items: int
    active_hours: float
    measured_hours: float
    items_per_hour: float | None
    median_seconds_per_item: float | None


# --- agreement ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairKappa(Section):
    a: str
    b: str
    kappa: float | None
    items: int


@dataclass(frozen=True)
class AgreementSummary(Section):
    """The figures of one tally of `app.core.quality.agreement.project_agreement`."""

    krippendorff_alpha: float | None
    fleiss_kappa: float | None
    fleiss_items: int
    pairwise_cohen_kappa: tuple[PairKappa, ...]
    items: int

    @classmethod
    def from_dict(cls, figures: dict[str, Any]) -> AgreementSummary:
        return cls(
            figures["krippendorff_alpha"],
            figures["fleiss_kappa"],
            figures["fleiss_items"],
            tuple(PairKappa(**pair) for pair in figures["pairwise_cohen_kappa"]),
            figures["items"],
        )


@dataclass(frozen=True)
class LowItem(Section):
    """An item whose annotators agree little, with each one's answer."""

    datapoint_id: int
    agreement: float
    annotators: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class LowAgreement(Section):
    labels: tuple[str, ...]
    items: tuple[LowItem, ...]


@dataclass(frozen=True)
class Heatmap(Section):
    """Pairwise Cohen's kappa as symmetric matrices over `annotators`."""

    annotators: tuple[str, ...]
    kappa: Matrix
    items: Matrix  # the items behind each pair
    per_label: dict[str, Matrix]


@dataclass(frozen=True)
class Agreement(Section):
    overall: AgreementSummary
    per_label: dict[str, AgreementSummary]
    spans: dict[str, Any] | None = field(metadata=ABSENT_IF_NONE)  # span F1, as computed
    low_agreement: LowAgreement
    heatmap: Heatmap


# --- open issues ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag(Section):
    datapoint_id: int
    reason: str
    by: str
    at: str


@dataclass(frozen=True)
class Rejection(Section):
    datapoint_id: int
    reason: str | None
    decision: str
    reviewer: str
    annotator: str
    at: str


@dataclass(frozen=True)
class Rejections(Section):
    open: int
    resolved: int
    items: tuple[Rejection, ...]  # the newest open ones


@dataclass(frozen=True)
class Assignment(Section):
    status: str  # the derived status of the assignment
    tasks: dict[str, int]  # derived task status -> count


@dataclass(frozen=True)
class OpenIssues(Section):
    flags_open: int
    flags_resolved: int
    flags: tuple[Flag, ...]  # the newest open ones
    rejections: Rejections | None = field(default=None, metadata=ABSENT_IF_NONE)
    assignments: dict[str, Assignment] | None = field(default=None, metadata=ABSENT_IF_NONE)


# --- consensus and gold ---------------------------------------------------------------------


@dataclass(frozen=True)
class Consensus(Section):
    items: int
    reached: int
    unanimous: int
    majority: int
    disagreements: int
    adjudicated: int
    open: int
    match: str


@dataclass(frozen=True)
class GoldBucket(Section):
    bucket: str  # the first day
    end: str
    accuracy: float | None
    correct: int
    items: int


@dataclass(frozen=True)
class GoldAnnotator(Section):
    accuracy: float | None
    correct: int
    items: int
    over_time: tuple[GoldBucket, ...]


@dataclass(frozen=True)
class GoldAlert(Section):
    annotator: str
    accuracy: float | None
    correct: int
    items: int
    bucket: str
    end: str
    message: str


@dataclass(frozen=True)
class Gold(Section):
    gold_items: int
    threshold: float
    min_items: int
    window_days: int
    per_annotator: dict[str, GoldAnnotator]
    alerts: tuple[GoldAlert, ...]


# --- automation (issue 12) -------------------------------------------------------------------


@dataclass(frozen=True)
class Automation(Section):
    """Worker in the loop, side by side: what the runs since the last resume promised, what
    the audit found (with its Clopper–Pearson interval), and the share the model labelled;
    `alert` is the drift guard's reason when automation is stopped."""

    runs: int
    promised_precision: float | None
    confidence: float | None
    audited_precision: float | None
    audited_interval: tuple[float, float] | None
    audited: int
    audited_right: int
    coverage: float | None
    auto_labels: int
    routed: int
    alert: str | None
    auto_labels_total: int = 0  # every finished auto-label in the project, resumes or not


# --- the report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectReport(Section):
    """Every dashboard figure of a project (see `app.core.report.figures`)."""

    format: int
    generated_at: str
    project: ProjectInfo
    progress: LabelingProgress
    throughput: dict[str, Throughput]
    label_distribution: dict[str, int]
    label_distribution_by_annotator: dict[str, dict[str, int]]
    agreement: Agreement
    open_issues: OpenIssues
    consensus: Consensus
    gold: Gold | None = field(default=None, metadata=ABSENT_IF_NONE)
    automation: Automation | None = field(default=None, metadata=ABSENT_IF_NONE)

    def annotator_names(self) -> set[str]:
        """Every annotator the report names anywhere, for one colour per annotator."""
        names = set(self.progress.by_annotator) | set(self.throughput)
        names |= set(self.agreement.heatmap.annotators)
        names |= {entry.annotator for entry in self.progress.over_time}
        if self.gold is not None:
            names |= set(self.gold.per_annotator)
        names |= set(self.open_issues.assignments or {})
        return names
