"""What the CRF span model's format tagloop-crf-3 adds: BILOU tags, with the BIO models saved
before (tagloop-crf-2) still loading and suggesting the same spans, and token features that
cue a mention's type. Without Qt, on a toy corpus."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from app.ml import registry
from app.ml.spans import crf
from app.ml.spans import encoding as E
from app.ml.spans import features as F
from app.ml.types import Example

PHRASES = ["breast cancer", "cancer", "type 2 diabetes mellitus", "asthma"]


def _examples() -> list[Example]:
    """Notes with one- to four-word mentions, one at a text's very end, CRLF and emoji."""
    out = []
    who = ["The patient", "Her father 🙂", "A child", "Each donor", "My aunt"]
    for i, person in enumerate(who * 4):
        phrase = PHRASES[i % len(PHRASES)]
        text = f"{person} had {phrase} last year.\r\nFollow-up for {PHRASES[(i + 1) % 4]}"
        first = text.index(phrase)
        last = text.rindex(PHRASES[(i + 1) % 4])
        out.append(
            Example(
                text,
                [
                    {"start": first, "end": first + len(phrase), "label": "Disease"},
                    {"start": last, "end": len(text), "label": "Disease"},
                ],
            )
        )
        out.append(Example(f"{person} was seen on day {i}.\r\nAll normal.", []))
    return out


def test_spans_are_tagged_bilou_and_read_back_as_mentions() -> None:
    tokenizer, _ = F.blank_tokenizer("en")
    text = "Type 2 diabetes mellitus and asthma"
    doc = E.encode(
        tokenizer,
        Example(
            text, [{"start": 0, "end": 24, "label": "D"}, {"start": 29, "end": 35, "label": "D"}]
        ),
        {"D"},
        [0],
    )
    assert doc.tags == ["B-D", "I-D", "I-D", "L-D", "O", "U-D"]
    assert E.mentions([doc]) == [(("Type", "2", "diabetes", "mellitus"), "D"), (("asthma",), "D")]


def _bio(length: int, label: str) -> list[str]:
    return ["B-" + label] + ["I-" + label] * (length - 1)


def test_a_bio_model_of_the_previous_format_still_loads_and_suggests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    examples = _examples()
    texts = [ex.text for ex in examples]
    bilou = crf.train(examples, ["Disease"], settings=crf.CrfSettings(clusters=False))
    assert bilou.format == "tagloop-crf-3"
    with monkeypatch.context() as patched:
        patched.setattr(E, "span_tags", _bio)  # what tagloop-crf-2 trained on
        bio = crf.train(examples, ["Disease"], settings=crf.CrfSettings(clusters=False))
    with zipfile.ZipFile(io.BytesIO(bio.to_bytes())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["meta.json"])
    meta["format"] = "tagloop-crf-2"
    members["meta.json"] = json.dumps(meta).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    old = registry.load("tagloop-crf-2", buffer.getvalue())
    assert not any(tag[:2] in ("L-", "U-") for tag in old.tagger().labels())
    gold = [sorted((s["start"], s["end"]) for s in ex.value) for ex in examples]
    for model in (old, bilou):
        predictions = model.predict(texts)
        found = [sorted((s["start"], s["end"]) for s in p.value) for p in predictions]
        assert found == gold  # multi-word mentions, and one ending the text, whole
        assert all(0.0 <= s <= 1.0 for p in predictions for s in p.span_scores or [])


def test_type_cues_a_modifier_a_plural_head_and_an_abbreviation() -> None:
    gazetteer = F.Gazetteer({("breast", "cancer"): "SpecificDisease"})
    words = ["Breast", "cancer", "(", "BC", ")", "genes", "in", "tumors", "."]
    features = F.sequence_features(words, gazetteer.tags(words))
    assert "next=lower" not in features[1] and "next=(" in features[1]
    assert "inparen" in features[3] and "paren_of=SpecificDisease" in features[3]
    assert "plural" in features[5] and "plural" in features[7]
    assert "plural" not in F.word_features("illness") and "plural" not in F.word_features("AIDS")
    assert "next=lower" in F.sequence_features(["APC", "gene"], ["", ""])[0]


def test_a_defined_abbreviation_carries_its_long_forms_type_through_the_document() -> None:
    gazetteer = F.Gazetteer({("myotonic", "dystrophy"): "SpecificDisease"})
    words = [
        "Myotonic",
        "dystrophy",
        "(",
        "DM",
        ")",
        "is",
        "common",
        ".",
        "Later",
        ",",
        "DM",
        "was",
        "seen",
        ";",
        "(",
        "MRI",
        ")",
        "too",
    ]
    cues = F.document_cues(words, gazetteer.tags(words))
    later = words.index("DM", 5)
    assert "abbr_type=SpecificDisease" in cues[later] and "abbr_head=dystrophy" in cues[later]
    assert cues[later] == cues[3] and cues[0] == []
    mri = words.index("MRI")
    assert "abbr=defined" in cues[mri] and not any(c.startswith("abbr_type") for c in cues[mri])
    features = F.sequence_features(words[7:11], gazetteer.tags(words[7:11]), None, cues[7:11])
    assert "abbr_type=SpecificDisease" in features[later - 7]
