"""Unicode-heavy texts and exporter-shaped records for the file format tests (issue #13)."""

from __future__ import annotations

from typing import Any

from app.core.io.formats.base import WriteContext

# ZWJ emoji with a skin tone, combining marks, CRLF, a lone CR, CJK outside the BMP, RTL.
TEXTS = [
    "Nurse 👩🏽\u200d⚕️ notes chest pain 😷 since Monday.\r\nNo fever.",
    "Cafe\u0301 owner: re\u0301sume\u0301 says BP 120/80\rHR 72, mild asthma.",
    "胸痛あり。𠮷野家で𩸽を食べた後に腹痛。",
    "المريض يعاني من صداع and migraine since 2020",
]
MENTIONS = [
    ("chest pain", "SYMPTOM"),
    ("asthma", "DISEASE"),
    ("胸痛", "SYMPTOM"),
    ("صداع", "SYMPTOM"),
]
LABELS = ("DISEASE", "SYMPTOM")


def span_of(text: str, mention: str, label: str) -> dict[str, Any]:
    start = text.index(mention)
    return {"start": start, "end": start + len(mention), "label": label}


def gold_spans() -> list[list[dict[str, Any]]]:
    spans = [[span_of(t, m, lab)] for t, (m, lab) in zip(TEXTS, MENTIONS, strict=True)]
    spans[3].append(span_of(TEXTS[3], "migraine", "DISEASE"))
    return spans


def record(row: int, text: str, value: Any, annotator: str = "ana", **extra: Any) -> dict:
    """A record as app.core.io.export.iter_records yields it, one complete annotation."""
    annotations = []
    if value is not None:
        annotations.append(
            {"annotator": annotator, "value": value, "status": "complete", "origin": "human"}
        )
    return {
        "id": f"id-{row}",
        "dataset": "notes.jsonl",
        "row": row,
        "text": text,
        **extra,
        "status": "labeled" if value is not None else "unlabeled",
        "flagged": False,
        "label": value,
        "annotations": annotations,
    }


def context(task_type: str = "spans", values: str = "all", **kwargs: Any) -> WriteContext:
    return WriteContext(task_type, LABELS, "text", values=values, **kwargs)


def no_progress(done: int, total: int | None, message: str) -> None:
    """Progress that shows nothing."""


def never() -> bool:
    return False
