"""The spaCy span models (app.ml.spans.model: spancat for overlapping schemas, and the ner
models saved before the CRF became the default) and exact-match span metrics, without Qt.

Small on purpose: a toy corpus of short sentences (learnt in a second) for behaviour that
needs a model that actually predicts, and a 40-abstract NCBI slice for shapes on real text.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from app.core.errors import Cancelled
from app.core.io.demo import read_pubtator
from app.ml import registry
from app.ml.spans import model as spans
from app.ml.spans.metrics import span_metrics
from app.ml.types import Example, Prediction

FIXTURES = Path(__file__).parent / "fixtures"
NCBI_LABELS = ["SpecificDisease", "DiseaseClass", "CompositeMention", "Modifier"]
FAST = spans.Settings(epochs=3)


def _span(text: str, phrase: str, label: str, occurrence: int = 0) -> dict:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(phrase, start + 1)
    return {"start": start, "end": start + len(phrase), "label": label}


def toy_examples() -> list[Example]:
    """Short sentences where 'cancer'/'diabetes' are diseases, with emoji and CRLF around."""
    out = []
    people = ["The patient", "Her father", "A child 🙂", "Each donor", "My aunt 👩‍⚕️"]
    for i, who in enumerate(people * 4):
        disease = ["cancer", "diabetes", "asthma", "anemia"][i % 4]
        text = f"{who} had {disease} last year.\r\nNo other findings {i}."
        out.append(Example(text, [_span(text, disease, "Disease")]))
        out.append(Example(f"{who} was seen on day {i}.\r\nAll normal.", []))
    return out


def ncbi(name: str) -> list[Example]:
    return [Example(d.text, d.spans) for d in read_pubtator(FIXTURES / name)]


@pytest.fixture(scope="module")
def toy_model() -> spans.SpanModel:
    return spans.train(toy_examples(), ["Disease"], settings=spans.Settings(epochs=15))


@pytest.fixture(scope="module")
def ncbi_model() -> spans.SpanModel:
    return spans.train(ncbi("ncbi_train_40.pubtator"), NCBI_LABELS, settings=FAST)


def _check_shape(text: str, prediction: Prediction, labels: list[str]) -> None:
    assert isinstance(prediction.value, list)
    assert prediction.span_scores is not None
    assert len(prediction.span_scores) == len(prediction.value)
    assert 0.0 <= prediction.confidence <= 1.0
    for span, score in zip(prediction.value, prediction.span_scores, strict=True):
        assert set(span) == {"start", "end", "label"}
        assert isinstance(span["start"], int) and isinstance(span["end"], int)
        assert 0 <= span["start"] < span["end"] <= len(text)
        assert span["label"] in labels
        assert 0.0 <= score <= 1.0
        piece = text[span["start"] : span["end"]]
        assert piece == piece.strip()  # token-snapped: no surrounding whitespace
    if prediction.value:
        assert prediction.confidence == pytest.approx(min(prediction.span_scores))


def test_ncbi_predictions_have_the_contract_shape(ncbi_model: spans.SpanModel) -> None:
    test = ncbi("ncbi_test_10.pubtator")
    predictions = ncbi_model.predict([ex.text for ex in test])
    assert len(predictions) == len(test)
    for ex, prediction in zip(test, predictions, strict=True):
        _check_shape(ex.text, prediction, NCBI_LABELS)
    assert ncbi_model.task_type == "spans"
    assert ncbi_model.format == "tagloop-spacy-1"
    assert ncbi_model.labels == tuple(NCBI_LABELS)
    assert ncbi_model.kind == "ner"


def test_offsets_are_python_offsets_with_emoji_and_crlf(toy_model: spans.SpanModel) -> None:
    texts = [
        "🙂🙂 My aunt 👩‍⚕️ had cancer last year.\r\nNo other findings.",
        "The patient 🙂 had diabetes last year.\r\n\r\nA child had asthma.",
    ]
    predictions = toy_model.predict(texts)
    found = [
        [t[s["start"] : s["end"]] for s in p.value] for t, p in zip(texts, predictions, strict=True)
    ]
    assert found[0] == ["cancer"]
    assert found[1] == ["diabetes", "asthma"]
    for text, prediction in zip(texts, predictions, strict=True):
        _check_shape(text, prediction, ["Disease"])
        assert all(s["label"] == "Disease" for s in prediction.value)


def test_confident_model_scores_its_spans_high(toy_model: spans.SpanModel) -> None:
    [prediction] = toy_model.predict(["The patient had cancer last year.\r\nNo other findings."])
    assert prediction.span_scores and min(prediction.span_scores) > 0.5
    [empty] = toy_model.predict(["Her father was seen on day 3.\r\nAll normal."])
    assert empty.value == [] and empty.confidence > 0.5


def test_round_trip_gives_identical_predictions(toy_model: spans.SpanModel) -> None:
    data = toy_model.to_bytes()
    loaded = registry.load(toy_model.format, data)
    texts = [ex.text for ex in toy_examples()[:10]] + ["Each donor had anemia 🙂.\r\n"]
    assert loaded.labels == toy_model.labels
    before, after = toy_model.predict(texts), loaded.predict(texts)
    assert [p.value for p in after] == [p.value for p in before]
    for a, b in zip(after, before, strict=True):
        assert a.span_scores == pytest.approx(b.span_scores)
        assert a.confidence == pytest.approx(b.confidence)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["meta.json", "pipeline.bin"]
        meta = json.loads(archive.read("meta.json"))
    assert meta["format"] == "tagloop-spacy-1" and meta["kind"] == "ner"
    assert meta["labels"] == ["Disease"] and meta["language"] == "en"
    assert "[components.ner]" in meta["config"]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _members(model: spans.SpanModel) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(model.to_bytes())) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_load_refuses_garbage_and_unknown_formats(toy_model: spans.SpanModel) -> None:
    good = _members(toy_model)
    meta = json.loads(good["meta.json"])
    bad_inputs = [
        b"",
        b"not a zip at all",
        _zip({"meta.json": good["meta.json"]}),
        _zip({**good, "model.pkl": b"\x80\x04."}),
        _zip({"meta.json": good["meta.json"], "pipeline.pkl": good["pipeline.bin"]}),
        _zip({**good, "meta.json": json.dumps({**meta, "format": "tagloop-spacy-99"}).encode()}),
        _zip({**good, "meta.json": json.dumps({**meta, "kind": "pickle"}).encode()}),
        _zip({**good, "meta.json": json.dumps({**meta, "settings": {"evil": 1}}).encode()}),
        _zip({**good, "meta.json": b"{not json"}),
        _zip({**good, "pipeline.bin": b"\x00garbage"}),
    ]
    for data in bad_inputs:
        with pytest.raises(ValueError):
            spans.load(data)
    with pytest.raises(ValueError):
        registry.load("tagloop-unknown-1", good["pipeline.bin"])


def test_spancat_when_overlaps_are_allowed() -> None:
    examples = []
    for i, who in enumerate(["The patient", "Her mother", "A woman", "Each donor"] * 5):
        organ = ["breast", "ovarian", "lung", "colon"][i % 4]
        text = f"{who} had {organ} cancer in {2000 + i}.\r\nNothing else."
        examples.append(
            Example(
                text,
                [_span(text, f"{organ} cancer", "Specific"), _span(text, "cancer", "Class")],
            )
        )
        examples.append(Example(f"{who} was well in {2000 + i}.", []))
    model = spans.train(
        examples, ["Specific", "Class"], allow_overlap=True, settings=spans.Settings(epochs=20)
    )
    assert model.kind == "spancat"
    text = "A woman had lung cancer in 2011.\r\nNothing else."
    [prediction] = model.predict([text])
    _check_shape(text, prediction, ["Specific", "Class"])
    found = {(text[s["start"] : s["end"]], s["label"]) for s in prediction.value}
    assert found == {("lung cancer", "Specific"), ("cancer", "Class")}  # overlapping spans
    loaded = spans.load(model.to_bytes())
    assert loaded.predict([text])[0].value == prediction.value


def test_cross_validate_gives_metrics_and_one_prediction_per_example() -> None:
    examples = toy_examples()[:24]
    metrics, predictions = spans.cross_validate(examples, ["Disease", "Unused"], folds=3)
    assert len(predictions) == len(examples)
    assert metrics["n"] == len(examples) and metrics["folds"] == 3
    assert metrics["accuracy"] is None and metrics["ece"] is None and metrics["confusion"] is None
    assert set(metrics["per_label"]) == {"Disease", "Unused"}
    for figures in metrics["per_label"].values():
        for key in ("precision", "recall", "f1"):
            assert 0.0 <= figures[key] <= 1.0
    assert metrics["per_label"]["Disease"]["support"] == 12
    assert metrics["per_label"]["Unused"]["support"] == 0
    assert metrics["macro_f1"] == pytest.approx(metrics["per_label"]["Disease"]["f1"])
    assert metrics["macro_f1"] > 0.5  # out-of-fold, the toy task is still learnt
    for ex, prediction in zip(examples, predictions, strict=True):
        _check_shape(ex.text, prediction, ["Disease", "Unused"])


def test_cancel_raises_cancelled_and_progress_counts_epochs() -> None:
    with pytest.raises(Cancelled):
        spans.train(toy_examples(), ["Disease"], cancel=lambda: True, settings=FAST)
    calls: list[tuple[int, int | None, str]] = []

    def progress(done: int, total: int | None, message: str) -> None:
        calls.append((done, total, message))

    with pytest.raises(Cancelled):
        spans.train(
            toy_examples(),
            ["Disease"],
            progress=progress,
            cancel=lambda: len(calls) >= 2,
            settings=FAST,
        )
    assert calls[:2] == [(0, 3, "Training span model"), (1, 3, "Training span model")]
    with pytest.raises(Cancelled):
        spans.cross_validate(toy_examples(), ["Disease"], cancel=lambda: True, settings=FAST)


@pytest.mark.parametrize(
    "examples,labels",
    [
        ([], ["Disease"]),
        ([Example("Only one document, no spans.", [])], ["Disease"]),
        ([Example("She had cancer.", [{"start": 8, "end": 14, "label": "Disease"}])], []),
        ([Example("No spans here.", []), Example("Nor here.", [])], ["Disease", "Other"]),
        ([Example("Spans of unknown labels.", [{"start": 0, "end": 5, "label": "X"}])], ["D"]),
    ],
)
def test_nothing_to_learn_predicts_nothing(examples: list[Example], labels: list[str]) -> None:
    for overlap in (False, True):
        model = spans.train(examples, labels, allow_overlap=overlap, settings=FAST)
        predictions = model.predict(["She had cancer.", ""])
        assert [p.value for p in predictions] == [[], []]
        assert spans.load(model.to_bytes()).predict(["She had cancer."])[0].value == []
        metrics, oof = spans.cross_validate(examples, labels, allow_overlap=overlap)
        assert len(oof) == len(examples) and metrics["n"] == len(examples)


def test_one_document_and_odd_spans_train_without_crashing() -> None:
    text = "She had cancer 🙂 and   asthma.\r\n"
    odd = [
        {"start": 8, "end": 14, "label": "Disease"},
        {"start": 10, "end": 12, "label": "Disease"},  # inside a token: expanded, overlap
        {"start": 20, "end": 23, "label": "Disease"},  # whitespace only: skipped
        {"start": 24, "end": 30, "label": "Disease"},
        {"start": 5, "end": 99, "label": "Disease"},  # past the end: skipped
        {"start": 0, "end": 3, "label": "Unused"},
    ]
    for overlap in (False, True):
        model = spans.train(
            [Example(text, odd)], ["Disease", "Unused"], allow_overlap=overlap, settings=FAST
        )
        _check_shape(text, model.predict([text])[0], ["Disease", "Unused"])
        assert model.predict([""])[0].value == []
    assert spans.train([Example(text, odd)], ["Disease"], settings=FAST).info["skipped_spans"] >= 2


def test_unknown_language_falls_back_to_english() -> None:
    model = spans.train(toy_examples()[:4], ["Disease"], language="zz", settings=FAST)
    assert model.language == "en"
    assert spans.load(model.to_bytes()).language == "en"


def test_span_metrics_exact_match() -> None:
    gold = [
        [{"start": 0, "end": 5, "label": "A"}, {"start": 6, "end": 9, "label": "B"}],
        [{"start": 0, "end": 3, "label": "A"}],
    ]
    predicted = [
        [{"start": 0, "end": 5, "label": "A"}, {"start": 6, "end": 9, "label": "A"}],
        [{"start": 0, "end": 4, "label": "A"}],
    ]
    metrics = span_metrics(gold, predicted, ["A", "B", "C"])
    a, b = metrics["per_label"]["A"], metrics["per_label"]["B"]
    assert (a["precision"], a["recall"], a["support"]) == (pytest.approx(1 / 3), 0.5, 2)
    assert a["f1"] == pytest.approx(0.4)
    assert (b["precision"], b["recall"], b["f1"], b["support"]) == (0.0, 0.0, 0.0, 1)
    assert metrics["per_label"]["C"]["support"] == 0
    assert metrics["macro_f1"] == pytest.approx(0.2)  # C is absent everywhere: not averaged
    assert metrics["micro"]["precision"] == pytest.approx(1 / 3)
    assert metrics["micro"]["recall"] == pytest.approx(1 / 3)
    assert metrics["n"] == 2 and metrics["accuracy"] is None
    with pytest.raises(ValueError):
        span_metrics(gold, predicted[:1])


def test_enough_documents_hold_out_a_slice_to_pick_the_best_epoch() -> None:
    examples = (toy_examples() * 2)[: spans.HOLDOUT_MIN_DOCS]
    model = spans.train(examples, ["Disease"], settings=spans.Settings(epochs=4))
    assert model.info["heldout_docs"] == 10 and model.info["n_docs"] == len(examples)
    assert 1 <= model.info["best_epoch"] <= 4
    assert 0.0 <= model.info["heldout_f1"] <= 1.0
    small = spans.train(examples[:20], ["Disease"], settings=FAST)
    assert small.info["heldout_docs"] == 0 and small.info["best_epoch"] == 3


def test_pool_scoring_stores_span_suggestions_and_priorities(
    toy_model: spans.SpanModel, tmp_path
) -> None:
    """A span model has no vectorised pool path: score_pool stores its predictions one by
    one, with their span scores, through the same bulk write as the linear models."""
    from app.core.annotation.worklist import Worklist, WorklistSpec
    from app.core.io.importer import import_dataset
    from app.core.project import modelstore
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project
    from app.ml import loop

    texts = [e.text.replace("\r\n", " ") for e in toy_examples()[:12]]
    source = tmp_path / "notes.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    with create_project(tmp_path / "p.tagloop", "spans", [LabelSpec("Disease")]) as project:
        import_dataset(project, source)
        version = modelstore.save_version(
            project, toy_model.format, toy_model.to_bytes(), 40, {"macro_f1": 0.9}
        )
        assert loop.score_pool(project, version) == 12
        found = modelstore.suggestions(project, list(range(1, 13)), version.id)
        assert len(found) == 12
        first = found[1]  # "The patient had cancer last year. ..."
        assert [texts[0][s["start"] : s["end"]] for s in first.value] == ["cancer"]
        assert first.span_scores is not None and len(first.span_scores) == 1
        queue = Worklist(project, WorklistSpec(order="active"))
        assert sorted(queue.id_at(p) for p in range(len(queue))) == list(range(1, 13))
