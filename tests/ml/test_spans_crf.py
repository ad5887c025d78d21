"""The CRF span model (app.ml.spans.crf), its features and windows, and span calibration:
without Qt, on small fixtures (a toy corpus learnt in about a second, a 40-abstract NCBI
slice for real text)."""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from pathlib import Path

import pytest

from app.core.errors import Cancelled
from app.core.io.demo import read_pubtator
from app.ml import registry
from app.ml.spans import calibration as cal
from app.ml.spans import crf
from app.ml.spans import features as F
from app.ml.types import Example, Prediction

FIXTURES = Path(__file__).parent / "fixtures"
NCBI_LABELS = ["SpecificDisease", "DiseaseClass", "CompositeMention", "Modifier"]
DISEASES = ["cancer", "diabetes", "asthma", "anemia"]


def _span(text: str, phrase: str, label: str = "Disease") -> dict:
    start = text.index(phrase)
    return {"start": start, "end": start + len(phrase), "label": label}


def toy_examples() -> list[Example]:
    """Short notes with emoji, CRLF, and diseases at the very start and end of a text."""
    out = []
    people = ["The patient", "Her father", "A child 🙂", "Each donor", "My aunt 👩‍⚕️"]
    for i, who in enumerate(people * 4):
        disease = DISEASES[i % 4]
        text = f"{who} had {disease} last year.\r\nNo other findings {i}."
        out.append(Example(text, [_span(text, disease)]))
        edge = f"{disease.capitalize()} 🙂 was ruled out.\r\nFollow-up for {DISEASES[(i + 1) % 4]}"
        out.append(
            Example(edge, [_span(edge, disease.capitalize()), _span(edge, DISEASES[(i + 1) % 4])])
        )
        out.append(Example(f"{who} was seen on day {i}.\r\nAll normal.", []))
    return out


@pytest.fixture(scope="module")
def toy() -> crf.CrfSpanModel:
    return crf.train(toy_examples(), ["Disease"])


def ncbi(name: str) -> list[Example]:
    return [Example(d.text, d.spans) for d in read_pubtator(FIXTURES / name)]


def _check(text: str, prediction: Prediction, labels: list[str]) -> None:
    assert prediction.span_scores is not None
    assert len(prediction.span_scores) == len(prediction.value)
    assert 0.0 <= prediction.confidence <= 1.0
    for span, score in zip(prediction.value, prediction.span_scores, strict=True):
        assert 0 <= span["start"] < span["end"] <= len(text)
        assert span["label"] in labels and 0.0 <= score <= 1.0
        piece = text[span["start"] : span["end"]]
        assert piece == piece.strip()


def test_windows_keep_exact_offsets_with_emoji_crlf_and_edges() -> None:
    tokenizer, language = F.blank_tokenizer("en")
    assert language == "en"
    text = "Cancer 🙂 here.\r\nThe 👩‍⚕️ aunt had asthma. Then A. Smith came\r\n\r\nend"
    tokens = F.tokenize(tokenizer, text)
    assert all(text[t.start : t.end] == t.text and t.text.strip() for t in tokens)
    assert tokens[0].start == 0 and tokens[-1].end == len(text)
    spans = F.windows(text, tokens)
    assert spans[0][0] == 0 and spans[-1][1] == len(tokens)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # no token lost
    firsts = [tokens[start].text for start, _end in spans]
    assert firsts == ["Cancer", "The", "Then", "end"]  # sentences and line breaks
    # a labelled span across a sentence end keeps its window whole
    across = (text.index("asthma"), text.index("Smith") + 5)
    kept = F.windows(text, tokens, [across])
    assert not any(across[0] < tokens[start].start < across[1] for start, _end in kept if start)


def test_toy_model_finds_spans_with_exact_offsets(toy: crf.CrfSpanModel) -> None:
    texts = [
        "🙂🙂 My aunt 👩‍⚕️ had cancer last year.\r\nNo other findings.",
        "Asthma 🙂 was ruled out.\r\nFollow-up for diabetes",  # spans at both edges
        "The patient was seen on day 3.\r\nAll normal.",
    ]
    predictions = toy.predict(texts)
    found = [
        [t[s["start"] : s["end"]] for s in p.value] for t, p in zip(texts, predictions, strict=True)
    ]
    assert found == [["cancer"], ["Asthma", "diabetes"], []]
    assert predictions[1].value[0]["start"] == 0
    assert predictions[1].value[-1]["end"] == len(texts[1])
    for text, prediction in zip(texts, predictions, strict=True):
        _check(text, prediction, ["Disease"])
    assert predictions[0].span_scores[0] > 0.5 and predictions[2].confidence > 0.5


def test_confidence_is_the_chance_the_whole_answer_is_right(toy: crf.CrfSpanModel) -> None:
    """Raw: the CRF's probability of the whole tag sequence, never above any span's score;
    a document with a doubtful span is less sure than a clear one."""
    texts = ["The patient had cancer last year.", "The patient had xylophonia last year."]
    clear, doubtful = toy.predict_raw(texts)
    assert clear.value and clear.confidence <= min(clear.span_scores) + 1e-9
    assert doubtful.confidence < clear.confidence


def test_round_trip_is_safe_and_identical(toy: crf.CrfSpanModel) -> None:
    data = toy.to_bytes()
    loaded = registry.load(toy.format, data)
    texts = [ex.text for ex in toy_examples()[:9]]
    before, after = toy.predict(texts), loaded.predict(texts)
    assert [p.value for p in after] == [p.value for p in before]
    flat = [score for p in before for score in p.span_scores]
    assert [score for p in after for score in p.span_scores] == pytest.approx(flat)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["meta.json", "model.crfsuite"]
        meta = json.loads(archive.read("meta.json"))
    assert meta["format"] == "tagloop-crf-3" and meta["labels"] == ["Disease"]
    assert ["cancer"] in [words for words, _label in meta["gazetteer"]]


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_load_refuses_garbage(toy: crf.CrfSpanModel) -> None:
    with zipfile.ZipFile(io.BytesIO(toy.to_bytes())) as archive:
        good = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(good["meta.json"])
    for data in [
        b"",
        b"not a zip",
        _zip({"meta.json": good["meta.json"]}),
        _zip({**good, "model.pkl": b"\x80\x04."}),
        _zip({**good, "meta.json": json.dumps({**meta, "format": "tagloop-crf-9"}).encode()}),
        _zip({**good, "meta.json": json.dumps({**meta, "settings": {"evil": 1}}).encode()}),
        _zip({**good, "meta.json": json.dumps({**meta, "gazetteer": [[1, 2]]}).encode()}),
        _zip({**good, "meta.json": json.dumps({**meta, "calibration": "x"}).encode()}),
        _zip({**good, "model.crfsuite": b"\x00garbage"}),
    ]:
        with pytest.raises(ValueError):
            crf.load(data)


def test_registry_picks_the_crf_and_still_loads_the_previous_span_model() -> None:
    from app.ml.spans import model as spacy_spans

    examples = toy_examples()[:12]
    assert registry.train("spans", examples, ["Disease"]).format == "tagloop-crf-3"
    nothing = [Example("No spans.", [])]  # spancat's door, without training a network
    overlapping = registry.train("spans", nothing, ["Disease"], allow_overlap=True)
    assert overlapping.format == "tagloop-spacy-1"
    old = spacy_spans.train(examples, ["Disease"], settings=spacy_spans.Settings(epochs=2))
    loaded = registry.load("tagloop-spacy-1", old.to_bytes())  # a model saved before #17
    assert loaded.predict(["She had cancer."])[0].span_scores is not None


def test_train_validated_gives_calibrated_scores_and_span_ece() -> None:
    examples = toy_examples()
    model, metrics, oof = registry.train_validated("spans", examples, ["Disease"], folds=3)
    assert metrics["folds"] == 2 and metrics["n"] == len(examples)  # 2: cheap, as calibrated
    assert 0.0 <= metrics["ece"] <= 1.0 and 0.0 <= metrics["document_ece"] <= 1.0
    assert metrics["macro_f1"] > 0.8
    assert len(oof) == len(examples)
    for ex, prediction in zip(examples, oof, strict=True):
        _check(ex.text, prediction, ["Disease"])
    # every out-of-fold span of the toy task is right: nothing to correct, identity kept
    assert model.calibration.to_json()["span"] == [[], []]
    assert model.predict([examples[0].text])[0].span_scores[0] > 0.9


def test_ncbi_slice_learns_something_real() -> None:
    model = crf.train(ncbi("ncbi_train_40.pubtator"), NCBI_LABELS)
    test = ncbi("ncbi_test_10.pubtator")
    predictions = model.predict([ex.text for ex in test])
    for ex, prediction in zip(test, predictions, strict=True):
        _check(ex.text, prediction, NCBI_LABELS)
    from app.ml.spans.metrics import span_metrics

    metrics = span_metrics([ex.value for ex in test], [p.value for p in predictions])
    assert metrics["micro"]["f1"] > 0.3


def test_progress_counts_iterations_and_cancel_stops() -> None:
    calls: list[tuple[int, int | None, str]] = []
    crf.train(toy_examples(), ["Disease"], iterations=5, progress=lambda *a: calls.append(a))
    assert calls[0][2] == "Preparing span features"
    assert calls[-1][:2] == (calls[-1][1], 5) and 1 <= calls[-1][0] <= 5
    with pytest.raises(Cancelled):
        crf.train(toy_examples(), ["Disease"], cancel=lambda: True)
    seen: list[int] = []
    with pytest.raises(Cancelled):
        crf.train(
            toy_examples(),
            ["Disease"],
            progress=lambda done, *_: seen.append(done),
            cancel=lambda: len(seen) >= 3,
        )


@pytest.mark.parametrize(
    "examples,labels",
    [
        ([], ["Disease"]),
        ([Example("No spans here.", [])], ["Disease"]),
        ([Example("She had cancer.", [{"start": 8, "end": 14, "label": "Disease"}])], []),
        ([Example("Unknown label.", [{"start": 0, "end": 7, "label": "X"}])], ["D"]),
    ],
)
def test_nothing_to_learn_predicts_nothing(examples: list[Example], labels: list[str]) -> None:
    model = crf.train(examples, labels)
    assert [p.value for p in model.predict(["She had cancer.", ""])] == [[], []]
    assert crf.load(model.to_bytes()).predict(["She had cancer."])[0].value == []


def test_odd_spans_are_skipped_not_fatal() -> None:
    text = "She had cancer 🙂 and   asthma.\r\n"
    odd = [
        {"start": 8, "end": 14, "label": "Disease"},
        {"start": 10, "end": 12, "label": "Disease"},  # inside another: overlap, skipped
        {"start": 5, "end": 99, "label": "Disease"},  # runs past the text: overlaps, skipped
        {"start": "x", "end": 3, "label": "Disease"},
        {"start": 24, "end": 30, "label": "Disease"},
    ]
    model = crf.train([Example(text, odd)] * 3, ["Disease"])
    assert model.info["skipped_spans"] >= 6
    _check(text, model.predict([text])[0], ["Disease"])


def test_isotonic_calibration_and_ece() -> None:
    scores = [i / 100 for i in range(100)]
    correct = [s > 0.5 for s in scores]
    iso = cal.Isotonic.fit(scores, correct)
    assert iso(0.1) == pytest.approx(0.0) and iso(0.9) == pytest.approx(1.0)
    assert cal.Isotonic.from_json(iso.to_json())(0.9) == pytest.approx(1.0)
    assert cal.Isotonic.fit(scores[:5], correct[:5])(0.3) == 0.3  # too few points: identity
    assert cal.ece([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert cal.ece([1.0, 1.0], [False, False]) == pytest.approx(1.0)
    assert cal.ece([], []) is None
    with pytest.raises(ValueError):
        cal.Isotonic.from_json([[0.5, 0.1], [0.1, 0.2]])  # not increasing


def test_gazetteer_tags_longest_matches() -> None:
    gazetteer = F.Gazetteer.from_mentions(
        [(("breast", "cancer"), "Disease"), (("cancer",), "Class"), (("cancer",), "Class")]
    )
    assert gazetteer.tags(["Breast", "cancer", "and", "cancer"]) == [
        "B-Disease",
        "I-Disease",
        "",
        "B-Class",
    ]
    assert F.Gazetteer.from_json(gazetteer.to_json()).entries == gazetteer.entries
