"""Word clusters from the project's own texts (app.ml.spans.clusters) and the CRF that uses
them: without Qt, on a small synthetic corpus."""

from __future__ import annotations

import io
import json
import random
import zipfile

import pytest

from app.ml import registry
from app.ml.spans import clusters as C
from app.ml.spans import crf
from app.ml.types import Example


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("bcdfgklmnprstvz") + rng.choice("aeiou") for _ in range(3))


RNG = random.Random(5)
_WORDS = sorted({_word(RNG) for _ in range(200)})
RNG.shuffle(_WORDS)
# made-up words with nothing in common but their contexts in the unlabelled notes
DISEASES, DRUGS, FILLERS = _WORDS[:30], _WORDS[30:60], _WORDS[60:100]


def unlabelled_notes() -> list[str]:
    """Diseases and drugs in different contexts, among filler words."""
    rng = random.Random(1)
    out = []
    for i in range(600):
        disease, drug = rng.choice(DISEASES), rng.choice(DRUGS)
        a, b = rng.choice(FILLERS), rng.choice(FILLERS)
        out.append(
            f"The patient {a} had {disease} last year. We gave {drug} twice daily.\r\n"
            f"{b.capitalize()} was seen; {a} {b} {i}."
        )
    return out


def test_words_of_like_contexts_share_a_cluster_and_levels_nest() -> None:
    found = C.learn(unlabelled_notes(), C.words, levels=(4, 8), dimensions=10)
    assert found.levels == (4, 8)
    fine_diseases = {found.table[w][1] for w in DISEASES}
    fine_drugs = {found.table[w][1] for w in DRUGS}
    assert len(fine_diseases) == 1 and len(fine_drugs) == 1
    assert fine_diseases != fine_drugs
    fine_to_coarse: dict[int, int] = {}
    for coarse, fine in found.table.values():  # a fine cluster lies in one coarse cluster
        assert fine_to_coarse.setdefault(fine, coarse) == coarse
    coarse, fine = found.table[DISEASES[0]]
    assert found.features(DISEASES[0].upper()) == [f"c4={coarse}", f"c8={fine}"]
    assert found.features("neverseen") == [] and found.finest("neverseen") == ""
    assert C.normalise("IL-12") == "il-00"


def test_a_small_project_gets_coarse_levels_or_none() -> None:
    assert not C.learn(["One short note."], C.words)
    few = C.learn(unlabelled_notes()[:50], C.words, levels=(4, 10_000))
    assert few.levels == (4,)


def test_clusters_json_round_trip_and_refusals() -> None:
    found = C.learn(unlabelled_notes(), C.words, levels=(4,), dimensions=8)
    raw = json.loads(json.dumps(found.to_json()))
    again = C.WordClusters.from_json(raw)
    assert again.levels == found.levels and again.table == found.table
    assert not C.WordClusters.from_json(None)
    for bad in [
        [],
        {"levels": [4]},
        {"levels": [0], "words": [], "ids": []},
        {"levels": [4], "words": ["a"], "ids": []},
        {"levels": [4], "words": ["a"], "ids": [[1, 2]]},
        {"levels": [4], "words": ["a"], "ids": [["x"]]},
        {"levels": [True], "words": [], "ids": []},
    ]:
        with pytest.raises(ValueError):
            C.WordClusters.from_json(bad)


def _note(rng: random.Random, disease: str, drug: str) -> tuple[str, int]:
    """Filler words around a disease and a drug, in either order: no context tells them
    apart, only the words' clusters do. Returns the text and where the disease starts."""
    a, b, c = (rng.choice(FILLERS) for _ in range(3))
    if rng.random() < 0.5:
        head = f"🙂 {a} {b} "
        return f"{head}{disease} {c} {drug}.\r\n", len(head)
    head = f"{a} {drug} {b}\r\n{c} "
    return f"{head}{disease}", len(head)


def _labelled() -> list[Example]:
    """Sixteen notes naming sixteen of the diseases once each (and four drugs, never
    labelled): the gazetteer never fires on a training mention, the clusters do."""
    rng = random.Random(2)
    out = []
    for i in range(16):
        text, start = _note(rng, DISEASES[i], DRUGS[i % 4])
        end = start + len(DISEASES[i])
        out.append(Example(text, [{"start": start, "end": end, "label": "Disease"}]))
    return out


@pytest.fixture(scope="module")
def clustered() -> crf.CrfSpanModel:
    return crf.train(_labelled(), ["Disease"], unlabeled=unlabelled_notes())


def test_the_crf_stores_its_clusters_and_predicts_the_same_after_loading(
    clustered: crf.CrfSpanModel,
) -> None:
    assert clustered.clusters and clustered.format == "tagloop-crf-3"
    data = clustered.to_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        meta = json.loads(archive.read("meta.json"))
    assert meta["clusters"]["levels"] == list(clustered.clusters.levels)
    loaded = registry.load(clustered.format, data)
    rng = random.Random(3)
    texts = [_note(rng, d, g)[0] for d, g in zip(DISEASES[16:22], DRUGS[4:10], strict=True)]
    before, after = clustered.predict(texts), loaded.predict(texts)
    assert [p.value for p in after] == [p.value for p in before]
    for text, prediction in zip(texts, before, strict=True):  # exact offsets, emoji and CRLF
        for span in prediction.value:
            assert text[span["start"] : span["end"]] in DISEASES + DRUGS + FILLERS


def _found(model: crf.CrfSpanModel) -> tuple[int, int]:
    """(unseen diseases found, unseen drugs wrongly tagged) in new filler notes."""
    rng = random.Random(4)
    notes = [_note(rng, d, g)[0] for d, g in zip(DISEASES[16:], DRUGS[4:], strict=False)]
    diseases = drugs = 0
    for text, prediction in zip(notes, model.predict(notes), strict=True):
        words = {text[s["start"] : s["end"]] for s in prediction.value}
        diseases += bool(words & set(DISEASES))
        drugs += bool(words & set(DRUGS))
    return diseases, drugs


def test_a_disease_never_labelled_is_found_through_its_cluster(
    clustered: crf.CrfSpanModel,
) -> None:
    unseen = len(DISEASES) - 16
    diseases, drugs = _found(clustered)
    assert diseases >= 0.8 * unseen and drugs <= 0.2 * unseen
    plain = crf.train(_labelled(), ["Disease"], settings=crf.CrfSettings(clusters=False))
    assert _found(plain)[0] < diseases  # without clusters the words say nothing


def test_a_model_of_the_previous_format_still_loads() -> None:
    model = crf.train(_labelled(), ["Disease"], settings=crf.CrfSettings(clusters=False))
    with zipfile.ZipFile(io.BytesIO(model.to_bytes())) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["meta.json"])
    del meta["clusters"], meta["settings"]["clusters"], meta["settings"]["fold_iterations"]
    meta["format"] = "tagloop-crf-1"
    members["meta.json"] = json.dumps(meta).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    old = registry.load("tagloop-crf-1", buffer.getvalue())
    texts = [ex.text for ex in _labelled()]
    assert not old.clusters
    assert [p.value for p in old.predict(texts)] == [p.value for p in model.predict(texts)]
