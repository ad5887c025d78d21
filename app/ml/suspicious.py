"""Labels that look wrong: where the cross-validated model disagrees with the given label.

Confident-learning style (Northcutt et al. 2021): an example is flagged when the out-of-fold
model's top label is not the given one and its probability reaches that label's per-class
threshold (the mean probability the model gives that class on examples labeled with it), so
a model that is shy about a rare class still gets to flag it. Flagged items are ranked by
1 - p(given label): the less the model believes the given label, the more suspicious.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.ml.types import Example, Prediction


def _classification(examples: Sequence[Example], oof: Sequence[Prediction]):
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for example, prediction in zip(examples, oof, strict=True):
        label = str(example.value)
        sums[label] = sums.get(label, 0.0) + prediction.scores.get(label, 0.0)
        counts[label] = counts.get(label, 0) + 1
    threshold = {label: sums[label] / counts[label] for label in sums}
    out: list[tuple[int, float, Any]] = []
    for i, (example, prediction) in enumerate(zip(examples, oof, strict=True)):
        given = str(example.value)
        if not prediction.scores:
            continue
        top = max(prediction.scores, key=prediction.scores.get)
        p_top = prediction.scores[top]
        if top != given and p_top >= threshold.get(top, 0.5):
            out.append((i, 1.0 - prediction.scores.get(given, 0.0), top))
    return out


def _multilabel(examples: Sequence[Example], oof: Sequence[Prediction]):
    out: list[tuple[int, float, Any]] = []
    for i, (example, prediction) in enumerate(zip(examples, oof, strict=True)):
        given = set(example.value or [])
        predicted = set(prediction.value or [])
        if given == predicted:
            continue
        worst = 0.0
        for label in given ^ predicted:
            p = prediction.scores.get(label, 0.5)
            worst = max(worst, p if label in predicted else 1.0 - p)
        out.append((i, worst, sorted(predicted)))
    return out


def _span_key(span: dict) -> tuple[int, int, str]:
    return int(span["start"]), int(span["end"]), str(span["label"])


def _spans(examples: Sequence[Example], oof: Sequence[Prediction]):
    out: list[tuple[int, float, Any]] = []
    for i, (example, prediction) in enumerate(zip(examples, oof, strict=True)):
        given = {_span_key(s) for s in example.value or []}
        spans = list(prediction.value or [])
        scores = prediction.span_scores or [prediction.confidence] * len(spans)
        predicted = {_span_key(s): float(sc) for s, sc in zip(spans, scores, strict=False)}
        extra = [predicted[k] for k in predicted if k not in given]
        missing = [k for k in given if k not in predicted]
        if not extra and not missing:
            continue
        union = len(given | set(predicted)) or 1
        # how much differs, weighted by how sure the model is of the spans it adds
        sureness = max(extra) if extra else float(prediction.confidence)
        score = (len(extra) + len(missing)) / union * (0.5 + 0.5 * sureness)
        out.append((i, score, spans))
    return out


def suspicious(
    task_type: str, examples: Sequence[Example], out_of_fold: Sequence[Prediction]
) -> list[tuple[int, float, Any]]:
    """(index, score in [0, 1], suggested value) of suspicious labels, most suspicious first."""
    if len(examples) != len(out_of_fold):
        raise ValueError("one out-of-fold prediction per example is needed")
    if task_type == "classification":
        found = _classification(examples, out_of_fold)
    elif task_type == "multilabel":
        found = _multilabel(examples, out_of_fold)
    elif task_type == "spans":
        found = _spans(examples, out_of_fold)
    else:
        raise ValueError(f"unknown task type {task_type!r}")
    found.sort(key=lambda item: (-item[1], item[0]))
    return found


# -- suspicious spans, in words -------------------------------------------------------------

MISSING = "missing span"  # the model finds a span the label lacks
EXTRA = "extra span"  # the label has a span the model does not find
WRONG_LABEL = "wrong label"  # same characters, another label
WRONG_BOUNDARY = "wrong boundary"  # overlapping spans with other start or end
KINDS = (WRONG_LABEL, WRONG_BOUNDARY, MISSING, EXTRA)


@dataclass(frozen=True)
class SpanDifference:
    """One way the model's spans differ from the given ones, with the sentence it sits in
    ((start, end) character offsets into the text), so a person reads words, not offsets."""

    kind: str
    given: dict | None
    model: dict | None
    sentence: tuple[int, int]

    @property
    def anchor(self) -> dict:
        """The span to highlight: the given one where there is one."""
        return self.given or self.model or {"start": 0, "end": 0, "label": ""}


def _overlaps(a: dict, b: dict) -> bool:
    return int(a["start"]) < int(b["end"]) and int(b["start"]) < int(a["end"])


def _sentence_starts(text: str, at: int) -> bool:
    """Whether a sentence starts at `at`: after a line break, or after . ! ? and a space."""
    before = text[at - 1]
    return before in "\n\r" or (before.isspace() and at >= 2 and text[at - 2] in ".!?")


def sentence_around(text: str, start: int, end: int, limit: int = 400) -> tuple[int, int]:
    """(start, end) of the sentence holding text[start:end]: from after the previous
    . ! ? or line break to the next one, at most `limit` characters either side."""
    begin = start
    floor = max(0, start - limit)
    while begin > floor and not _sentence_starts(text, begin):
        begin -= 1
    stop = end
    ceiling = min(len(text), end + limit)
    while stop < ceiling and text[stop] not in "\n\r":
        stop += 1
        if text[stop - 1] in ".!?" and (stop == len(text) or text[stop].isspace()):
            break
    return begin, stop


def span_differences(
    text: str, given: Sequence[dict], model: Sequence[dict]
) -> list[SpanDifference]:
    """Each given and each predicted span that do not match exactly, paired where they
    overlap: same characters and another label is a wrong label, an overlap with other
    offsets a wrong boundary; a predicted span overlapping nothing given is a missing span,
    a given span overlapping nothing predicted an extra one. In text order."""
    given_keys = {_span_key(s) for s in given}
    model_keys = {_span_key(s) for s in model}
    left = [s for s in given if _span_key(s) not in model_keys]
    right = [s for s in model if _span_key(s) not in given_keys]
    paired: set[int] = set()
    found: list[SpanDifference] = []
    for g in left:
        partner = next(
            (j for j, m in enumerate(right) if j not in paired and _overlaps(g, m)), None
        )
        if partner is None:
            kind, m = EXTRA, None
        else:
            paired.add(partner)
            m = right[partner]
            same = (g["start"], g["end"]) == (m["start"], m["end"])
            kind = WRONG_LABEL if same else WRONG_BOUNDARY
        found.append(SpanDifference(kind, dict(g), m and dict(m), (0, 0)))
    found += [
        SpanDifference(MISSING, None, dict(m), (0, 0))
        for j, m in enumerate(right)
        if j not in paired
    ]
    out = []
    for diff in found:
        anchor = diff.anchor
        start = min(int(anchor["start"]), int((diff.model or anchor)["start"]))
        end = max(int(anchor["end"]), int((diff.model or anchor)["end"]))
        out.append(
            SpanDifference(diff.kind, diff.given, diff.model, sentence_around(text, start, end))
        )
    out.sort(key=lambda d: (int(d.anchor["start"]), KINDS.index(d.kind)))
    return out


def _quote(text: str, span: dict) -> str:
    return f"“{' '.join(text[int(span['start']) : int(span['end'])].split())}”"


def describe_difference(text: str, diff: SpanDifference) -> str:
    """One plain sentence: what was given and what the model says instead."""
    g, m = diff.given, diff.model
    if diff.kind == WRONG_LABEL and g and m:
        return f"{_quote(text, g)}: labeled {g['label']}, the model says {m['label']}"
    if diff.kind == WRONG_BOUNDARY and g and m:
        return (
            f"labeled {g['label']} {_quote(text, g)}, the model marks {m['label']} "
            f"{_quote(text, m)}"
        )
    if diff.kind == MISSING and m:
        return f"not labeled: the model finds {m['label']} {_quote(text, m)}"
    if g:
        return f"labeled {g['label']} {_quote(text, g)}, the model finds no span there"
    return diff.kind


def marked_sentence(text: str, diff: SpanDifference, left: str = "[", right: str = "]") -> str:
    """The difference's sentence, one line, with its span between `left` and `right` (the
    given span where there is one, else the model's)."""
    begin, end = diff.sentence
    anchor = diff.anchor
    start, stop = int(anchor["start"]), int(anchor["end"])
    return " ".join((text[begin:start] + left + text[start:stop] + right + text[stop:end]).split())
