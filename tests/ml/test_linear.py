"""Linear models: shapes, calibration, safe serialisation, CV metrics, cancel, tiny data."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from app.core.errors import Cancelled
from app.ml import features, registry
from app.ml.linear import fit as linear_fit
from app.ml.linear import model as linear
from app.ml.types import Example

LABELS = ["ham", "spam"]


@pytest.fixture(scope="module")
def sms_model(sms200):
    return linear_fit.train("classification", sms200, LABELS, seed=0)


def test_features_are_stateless_and_deterministic():
    texts = ["Free entry in 2 a wkly comp!", "", "a\x00b", "Ünïcode text 🙂 ok"]
    a = features.transform(texts)
    b = features.transform(list(reversed(texts)))
    assert a.shape == (4, features.n_features(features.DEFAULT_PARAMS))
    assert (a[0] != b[3]).nnz == 0  # same text, same row, whatever its neighbours
    assert a[1].nnz == 0
    assert a[2].nnz > 0 and a[3].nnz > 0
    weights = np.random.default_rng(0).random((a.shape[1], 2)).astype(np.float32)
    fast = features.linear_scores(texts, features.DEFAULT_PARAMS, weights, np.zeros(2))
    assert np.allclose(fast, a @ weights, atol=1e-4)
    with pytest.raises(ValueError):
        features.check_params({"format": "other"})


@pytest.mark.parametrize("char_ngrams", [[2, 5], [1, 3], [4, 5], [3, 3]])
def test_pool_scores_equal_the_feature_matrix_for_every_window_rule(char_ngrams, sms200):
    """The scoring path weighs every character window and zeroes the ones that are not
    n-grams; it must give exactly what the matrix of real n-grams gives."""
    odd = ["  two  spaces ", "\ttab\u3000ideographic\u2028line", "ΟΔΟΣ Σίσυφος", "a", "", "🙂🙂 ok"]
    texts = [e.text for e in sms200[:60]] + odd
    params = dict(features.DEFAULT_PARAMS, char_ngrams=char_ngrams)
    matrix = features.transform(texts, params)
    rng = np.random.default_rng(1)
    for k in (1, 3):  # one column (binary) and several (multilabel)
        weights = rng.standard_normal((matrix.shape[1], k)).astype(np.float32)
        fast = features.linear_scores(texts, params, weights, np.full(k, 0.5))
        assert np.allclose(fast, matrix @ weights + 0.5, atol=1e-4)


def test_train_predict_shapes(sms_model, sms200):
    texts = [e.text for e in sms200[:50]]
    predictions = sms_model.predict(texts)
    assert len(predictions) == 50
    for p in predictions:
        assert p.value in LABELS
        assert 0.0 <= p.confidence <= 1.0
        assert set(p.scores) == set(LABELS)
        assert sum(p.scores.values()) == pytest.approx(1.0)
        assert p.confidence == pytest.approx(max(p.scores.values()))
    assert sms_model.format == "tagloop-linear-1"
    assert sms_model.task_type == "classification"
    assert sms_model.labels == tuple(LABELS)
    # it learnt something: obvious spam and ham
    spam, ham = sms_model.predict(
        ["WINNER!! Claim your FREE prize now, call 09061701461 txt STOP", "ok see you at home"]
    )
    assert spam.value == "spam" and ham.value == "ham"


def test_round_trip_identical(sms_model, sms200):
    texts = [e.text for e in sms200]
    data = sms_model.to_bytes()
    assert zipfile.is_zipfile(io.BytesIO(data))
    loaded = registry.load(sms_model.format, data)
    before = sms_model.predict(texts)
    after = loaded.predict(texts)
    assert [p.value for p in before] == [p.value for p in after]
    assert np.array_equal(
        np.array([[p.scores[k] for k in LABELS] for p in before]),
        np.array([[p.scores[k] for k in LABELS] for p in after]),
    )
    assert len(data) < 2_000_000  # sparse coefficients, compressed


def _rezip(data: bytes, change) -> bytes:
    members = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            members[name] = archive.read(name)
    change(members)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return out.getvalue()


def test_load_refuses_pickles_and_unknown_formats(sms_model, monkeypatch):
    data = sms_model.to_bytes()

    def add_pickle(members):
        members["model.pkl"] = pickle.dumps({"x": 1})

    def pickled_array(members):
        buffer = io.BytesIO()
        np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
        members["intercept.npy"] = buffer.getvalue()

    def other_format(members):
        meta = json.loads(members["meta.json"])
        meta["format"] = "tagloop-linear-99"
        members["meta.json"] = json.dumps(meta).encode()

    def bad_index(members):
        buffer = io.BytesIO()
        np.save(buffer, np.array([10**12]), allow_pickle=False)
        members["coef_index.npy"] = buffer.getvalue()
        buffer = io.BytesIO()
        np.save(buffer, np.array([1.0], np.float32), allow_pickle=False)
        members["coef_value.npy"] = buffer.getvalue()

    for change in (add_pickle, pickled_array, other_format, bad_index):
        with pytest.raises(ValueError):
            linear.load(_rezip(data, change))
    with pytest.raises(ValueError):
        linear.load(b"not a zip at all")
    with pytest.raises(ValueError):
        registry.load("tagloop-pickle-1", data)
    monkeypatch.setattr(linear, "MAX_MEMBER", 100)
    with pytest.raises(ValueError, match="too large"):
        linear.load(data)


def test_no_pickle_in_source():
    from pathlib import Path

    import app.ml

    for path in Path(app.ml.__file__).parent.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "import pickle" not in source and "joblib" not in source, path
        assert "allow_pickle=True" not in source, path


def test_cross_validate_metrics(sms200):
    calls = []
    metrics, oof = linear_fit.cross_validate(
        "classification", sms200, LABELS, folds=5, seed=0, progress=lambda *a: calls.append(a)
    )
    assert len(oof) == len(sms200)
    assert metrics["n"] == 200 and metrics["folds"] == 5
    assert 0.85 <= metrics["accuracy"] <= 1.0
    assert 0.7 <= metrics["macro_f1"] <= 1.0
    assert 0.0 <= metrics["ece"] <= 0.2
    assert set(metrics["per_label"]) == set(LABELS)
    spam = metrics["per_label"]["spam"]
    assert spam["support"] == 33
    assert 0 <= spam["precision"] <= 1 and 0 <= spam["recall"] <= 1
    matrix = np.array(metrics["confusion"]["matrix"])
    assert matrix.sum() == 200 and metrics["confusion"]["labels"] == LABELS
    assert calls, "progress was never reported"
    json.dumps(metrics)  # stored as JSON with the model version


def test_cancel_raises(sms200):
    with pytest.raises(Cancelled):
        linear_fit.train("classification", sms200, LABELS, cancel=lambda: True)
    with pytest.raises(Cancelled):
        registry.cross_validate("classification", sms200, LABELS, cancel=lambda: True)
    count = {"n": 0}

    def later() -> bool:  # cancel between folds, not only at the start
        count["n"] += 1
        return count["n"] > 3

    with pytest.raises(Cancelled):
        linear_fit.cross_validate("classification", sms200, LABELS, cancel=later)


def test_tiny_and_degenerate_data():
    one_class = [Example("hello there", "ham"), Example("see you soon", "ham")]
    model = linear_fit.train("classification", one_class, ["ham", "spam", "other"])
    (p,) = model.predict(["anything at all"])
    assert p.value == "ham" and p.confidence == 1.0
    assert p.scores["spam"] == 0.0 and p.scores["other"] == 0.0
    assert linear.load(model.to_bytes()).predict(["x"])[0].value == "ham"
    metrics, oof = linear_fit.cross_validate("classification", one_class, ["ham", "spam"])
    assert len(oof) == 2 and metrics["accuracy"] == 1.0
    two = [Example("win a free prize", "spam"), Example("see you at home", "ham")]
    model = linear_fit.train("classification", two, ["ham", "spam", "unused"])
    predictions = model.predict(["free prize", "home"])
    assert all(p.scores["unused"] == 0.0 for p in predictions)
    assert all(p.value in ("ham", "spam") for p in predictions)
    metrics, oof = linear_fit.cross_validate("classification", two, ["ham", "spam", "unused"])
    assert len(oof) == 2 and metrics["n"] == 2
    metrics, oof = linear_fit.cross_validate("classification", [], ["ham"])
    assert oof == [] and metrics["macro_f1"] is None and metrics["accuracy"] is None
    with pytest.raises(ValueError):
        linear_fit.train("classification", [], ["ham"])
    with pytest.raises(ValueError):
        linear_fit.train("classification", [Example("x", "nope")], ["ham"])


def test_three_classes_temperature(sms200):
    examples = [
        Example(e.text, e.value if e.value == "spam" else ("short" if len(e.text) < 40 else "ham"))
        for e in sms200
    ]
    labels = ["ham", "short", "spam"]
    model = linear_fit.train("classification", examples, labels)
    assert model.calibration["t"] > 0
    predictions = model.predict([e.text for e in examples[:20]])
    for p in predictions:
        assert sum(p.scores.values()) == pytest.approx(1.0)
    again = linear.load(model.to_bytes()).predict([e.text for e in examples[:20]])
    assert [p.scores for p in again] == [p.scores for p in predictions]


def test_multilabel_thresholds(mention_types):
    examples, labels = mention_types
    labels = [*labels, "NeverSeen"]
    model = linear_fit.train("multilabel", examples, labels, seed=0)
    fitted = set(model.classes)
    assert fitted, "no label was fitted"
    for label in fitted:
        assert 0.05 <= model.thresholds[label] <= 0.95
    assert model.constant["NeverSeen"] == 0.0
    predictions = model.predict([e.text for e in examples])
    for p in predictions:
        assert isinstance(p.value, list) and set(p.value) <= set(labels)
        assert "NeverSeen" not in p.value
        assert 0.0 <= p.confidence <= 1.0
        assert set(p.scores) == set(labels)
    loaded = linear.load(model.to_bytes())
    assert [p.value for p in loaded.predict([e.text for e in examples])] == [
        p.value for p in predictions
    ]
    metrics, oof = registry.cross_validate("multilabel", examples, labels, folds=3)
    assert len(oof) == len(examples) and metrics["folds"] == 3
    assert 0.0 <= metrics["macro_f1"] <= 1.0
    assert set(metrics["per_label"]) == set(labels)
    assert metrics["per_label"]["NeverSeen"]["support"] == 0
    assert metrics["confusion"] is None


def test_multilabel_thresholds_follow_the_data():
    # 'b' is rare and its texts are near 'a': a per-label threshold is chosen from OOF F1
    examples = [Example(f"alpha item {i}", ["a"]) for i in range(30)]
    examples += [Example(f"alpha beta item {i}", ["a", "b"]) for i in range(10)]
    examples += [Example(f"gamma {i}", []) for i in range(20)]
    model = linear_fit.train("multilabel", examples, ["a", "b"])
    predicted = model.predict(["alpha beta item 99", "alpha item 99", "gamma 99"])
    assert predicted[0].value == ["a", "b"]
    assert predicted[1].value == ["a"]
    assert predicted[2].value == []


@pytest.mark.parametrize("task", ["classification", "multilabel"])
def test_train_validated_matches_separate_cross_validation(task, sms200, mention_types):
    """One pass of folds gives the model, its metrics and the out-of-fold predictions; the
    metrics agree with nested cross-validation, and the model with a plain train()."""
    if task == "classification":
        examples, labels = sms200, LABELS
    else:
        examples, labels = mention_types
    model, metrics, oof = linear_fit.train_validated(task, examples, labels, folds=5, seed=0)
    nested, nested_oof = linear_fit.cross_validate(task, examples, labels, folds=5, seed=0)
    assert len(oof) == len(nested_oof) == len(examples)
    assert metrics["folds"] == 5
    assert metrics["macro_f1"] == pytest.approx(nested["macro_f1"], abs=0.06)
    plain = linear_fit.train(task, examples, labels, seed=0)
    texts = [e.text for e in examples[:40]]
    pairs = zip(model.predict(texts), plain.predict(texts), strict=True)
    same = [a.value == b.value for a, b in pairs]
    assert sum(same) >= 36  # same fits; only the calibration differs a little
    reloaded = linear.load(model.to_bytes())
    assert [p.value for p in reloaded.predict(texts)] == [p.value for p in model.predict(texts)]
    if task == "multilabel":
        assert set(model.thresholds) == set(model.classes)


def test_character_ngrams_are_those_of_sklearns_char_wb_analyzer():
    """An outside oracle for the window rule: for words of three letters or more (where
    sklearn pads short words differently), the same n-grams, as many times, per length."""
    from sklearn.feature_extraction.text import HashingVectorizer

    texts = ["hello big world", "Free entry into wkly comp: win the Cup final tkts!", "the cat"]
    params = features.check_params(dict(features.DEFAULT_PARAMS, word_ngrams=[0, 0]))
    for n in range(2, 6):
        analyze = HashingVectorizer(analyzer="char_wb", ngram_range=(n, n)).build_analyzer()
        ours = features._chunk_parts(texts, dict(params, char_ngrams=[n, n]))
        rows, cols = ours[4][0], ours[5][0]
        for row, text in enumerate(texts):
            theirs = analyze(text)
            mine = cols[rows == row]
            assert len(mine) == len(theirs), (n, text)
            assert len(set(mine.tolist())) == len(set(theirs)), (n, text)
