"""Two-pass stacking of the CRF span model (format tagloop-crf-4): the first pass's spans as
document features, a stacked model trained and stored without pickles, and tagloop-crf-3
models still loading. Without Qt, on a toy corpus."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from app.ml import registry
from app.ml.spans import crf, stacking
from app.ml.spans import features as F
from app.ml.types import Example

PHRASES = ["breast cancer", "cancer", "type 2 diabetes mellitus", "asthma"]
SETTINGS = crf.CrfSettings(clusters=False)


def _examples(n: int) -> list[Example]:
    """Notes with one- to four-word mentions, one at a text's very end, CRLF and emoji; every
    other note has none."""
    out = []
    who = ["The patient", "Her father 🙂", "A child", "Each donor", "My aunt"]
    for i in range(n // 2):
        person, phrase, later = who[i % 5], PHRASES[i % 4], PHRASES[(i + 1) % 4]
        text = f"{person} had {phrase} last year.\r\nFollow-up for {later}"
        first, last = text.index(phrase), text.rindex(later)
        spans = [
            {"start": first, "end": first + len(phrase), "label": "Disease"},
            {"start": last, "end": len(text), "label": "Disease"},
        ]
        out.append(Example(text, spans))
        out.append(Example(f"{person} was seen on day {i}.\r\nAll normal.", []))
    return out


def test_first_pass_spans_become_features_of_the_whole_document() -> None:
    words = ["Breast", "cancer", "runs", "in", "families", ".", "breast", "cancer", "genes"]
    cues = stacking.cues(words, [(0, 1, "SpecificDisease"), (8, 8, "Modifier")])
    # the same string found elsewhere in the document: marked where it occurs again
    assert "s1ent=B-SpecificDisease" in cues[6] and "s1ent=I-SpecificDisease" in cues[7]
    assert "s1ent_after" in cues[8]
    # the same token's labels elsewhere (token majority)
    assert "s1tok=SpecificDisease" in cues[7] and "s1tok=Modifier" in cues[8]
    assert cues[2] == ["s1ent_after"] and cues[3] == [] and cues[4] == []
    assert stacking.cues(words, []) == [[] for _ in words]


def test_spans_as_token_indices_follow_the_exact_offsets() -> None:
    tokenizer, _ = F.blank_tokenizer("en")
    text = "🙂 Type 2 diabetes\r\nand asthma"
    tokens = F.tokenize(tokenizer, text)
    value = [
        {"start": text.index("Type"), "end": text.index("\r"), "label": "D"},
        {"start": text.index("asthma"), "end": len(text), "label": "D"},
    ]
    found = stacking.token_spans(tokens, value)
    assert [(tokens[a].start, tokens[b].end, label) for a, b, label in found] == [
        (s["start"], s["end"], "D") for s in value
    ]


def test_a_stacked_model_tags_exactly_and_round_trips_without_pickles() -> None:
    examples = _examples(crf.STACK_MIN_DOCS)
    texts = [ex.text for ex in examples]
    model, metrics, _oof = crf.train_validated(examples, ["Disease"], settings=SETTINGS)
    assert model.first_pass is not None and model.info["stacked"] is True
    assert metrics["folds"] == 2
    gold = [sorted((s["start"], s["end"]) for s in ex.value) for ex in examples]
    predictions = model.predict(texts)
    assert [sorted((s["start"], s["end"]) for s in p.value) for p in predictions] == gold
    data = model.to_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == ["first.crfsuite", "meta.json", "model.crfsuite"]
        meta = json.loads(archive.read("meta.json"))
    assert meta["format"] == "tagloop-crf-4" and isinstance(meta["first_pass"]["gazetteer"], list)
    loaded = registry.load("tagloop-crf-4", data)
    assert loaded.first_pass is not None
    again = loaded.predict(texts)
    assert [p.value for p in again] == [p.value for p in predictions]
    flat = [score for p in predictions for score in p.span_scores]
    assert [score for p in again for score in p.span_scores] == pytest.approx(flat)


def test_few_documents_are_not_stacked() -> None:
    model, _metrics, _oof = crf.train_validated(_examples(20), ["Disease"], settings=SETTINGS)
    assert model.first_pass is None and model.info["stacked"] is False
    with zipfile.ZipFile(io.BytesIO(model.to_bytes())) as archive:
        assert sorted(archive.namelist()) == ["meta.json", "model.crfsuite"]


def _rewrite(data: bytes, change) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_a_model_of_the_previous_format_still_loads_and_suggests() -> None:
    examples = _examples(20)
    texts = [ex.text for ex in examples]
    model = crf.train(examples, ["Disease"], settings=SETTINGS)

    def as_crf3(members: dict[str, bytes]) -> None:
        meta = json.loads(members["meta.json"])
        meta["format"] = "tagloop-crf-3"
        del meta["first_pass"]  # what tagloop-crf-3 wrote
        members["meta.json"] = json.dumps(meta).encode()

    old = registry.load("tagloop-crf-3", _rewrite(model.to_bytes(), as_crf3))
    assert old.first_pass is None
    assert [p.value for p in old.predict(texts)] == [p.value for p in model.predict(texts)]


def test_a_broken_first_pass_is_refused_with_a_clear_message() -> None:
    model, _metrics, _oof = crf.train_validated(
        _examples(crf.STACK_MIN_DOCS), ["Disease"], settings=SETTINGS
    )
    data = model.to_bytes()

    def garbage(members: dict[str, bytes]) -> None:
        members["first.crfsuite"] = b"not a model"

    def undescribed(members: dict[str, bytes]) -> None:
        meta = json.loads(members["meta.json"])
        meta["first_pass"] = None
        members["meta.json"] = json.dumps(meta).encode()

    with pytest.raises(ValueError, match="does not load"):
        crf.load(_rewrite(data, garbage))
    with pytest.raises(ValueError, match="first pass"):
        crf.load(_rewrite(data, undescribed))
