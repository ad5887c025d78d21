"""al-bench: the JSON it promises, on small budgets; data readers."""

from __future__ import annotations

import argparse
import importlib.util
import json

import pytest

from app.ml import active
from app.ml.bench import albench, data
from app.ml.types import Example
from tests.ml.conftest import NCBI_10, NCBI_40, SMS_200


def _check_schema(result: dict, task: str, names: set[str], full_check: bool = True) -> None:
    assert set(result) == {"dataset", "task", "default", "full_data_score", "strategies"}
    assert result["task"] == task
    assert result["default"] == active.DEFAULT_STRATEGY
    assert 0.0 <= result["full_data_score"] <= 1.0
    assert set(result["strategies"]) == names
    for run in result["strategies"].values():
        assert set(run) == {"labels", "score", "auc", "labels_to_95"}
        assert len(run["labels"]) == len(run["score"]) >= 1
        assert run["labels"] == sorted(run["labels"])
        assert all(0.0 <= s <= 1.0 for s in run["score"])
        assert run["auc"] == pytest.approx(sum(run["score"]) / len(run["score"]), abs=1e-3)
        reach = run["labels_to_95"]
        if reach is None:
            assert all(s < 0.95 * result["full_data_score"] for s in run["score"])
        else:
            first = next(
                n
                for n, s in zip(run["labels"], run["score"], strict=True)
                if s >= 0.95 * result["full_data_score"]
            )
            assert reach == first


def test_run_classification_schema():
    result = albench.run(
        SMS_200,
        "classification",
        ["default", "margin"],
        seed_size=10,
        batch=10,
        budget=40,
        repeats=2,
    )
    _check_schema(result, "classification", {"random", active.DEFAULT_STRATEGY, "margin"})
    assert result["dataset"] == "sms_spam_200"
    for run in result["strategies"].values():
        assert run["labels"] == [10, 20, 30, 40]
    json.dumps(result)


def test_run_multilabel_schema():
    result = albench.run(
        NCBI_40, "multilabel", ["entropy", "cold_start"], seed_size=5, batch=5, budget=15, repeats=1
    )
    _check_schema(result, "multilabel", {"random", "entropy", "cold_start"})
    assert result["strategies"]["random"]["labels"] == [5, 10, 15]


def test_cli_prints_exactly_the_json(capsys):
    parser = argparse.ArgumentParser()
    albench.add_arguments(parser)
    args = parser.parse_args(
        [str(SMS_200), "--task", "classification", "--strategy", "hybrid", "--strategy",
         "entropy", "--seed-size", "10", "--batch", "15", "--budget", "40", "--repeats", "1"]
    )  # fmt: skip
    assert albench.main(args) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)  # stdout is the JSON and nothing else
    _check_schema(result, "classification", {"random", "hybrid", "entropy"})
    assert result["strategies"]["random"]["labels"] == [10, 25, 40]
    assert "models" in err
    bad = parser.parse_args([str(SMS_200), "--strategy", "nonsense"])
    assert albench.main(bad) == 2
    assert capsys.readouterr().out == ""


def test_stratified_split_keeps_proportions():
    import random

    examples = [Example(str(i), "spam" if i % 10 == 0 else "ham") for i in range(400)]
    pool, test = albench.stratified_split("classification", examples, 0.25, random.Random(0))
    assert len(test) == 100 and not set(pool) & set(test)
    assert sum(examples[i].value == "spam" for i in test) == 10


def test_read_examples_formats(tmp_path):
    examples, labels = data.read_examples(SMS_200, "classification")
    assert len(examples) == 200 and labels == ["ham", "spam"]
    csv_path = tmp_path / "x.csv"
    csv_path.write_text('id,Message,Class\n1,"hello, you",a\n2,buy now,b\n3,no label,\n')
    examples, labels = data.read_examples(csv_path, "classification")
    assert [e.value for e in examples] == ["a", "b"] and examples[0].text == "hello, you"
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_text('{"text": "a b", "labels": ["x", "y"]}\n{"text": "c", "labels": []}\n')
    examples, labels = data.read_examples(jsonl, "multilabel")
    assert [e.value for e in examples] == [["x", "y"], []] and labels == ["x", "y"]
    with pytest.raises(ValueError):
        bad = tmp_path / "y.csv"
        bad.write_text("foo,bar\n1,2\n")
        data.read_examples(bad, "classification")
    docs, labels = data.read_examples(NCBI_40, "multilabel")
    assert len(docs) == 40 and set(labels) <= {
        "SpecificDisease",
        "DiseaseClass",
        "CompositeMention",
        "Modifier",
    }
    spans, _ = data.read_examples(NCBI_40, "spans")
    for doc in spans:
        for span in doc.value:
            assert 0 <= span["start"] < span["end"] <= len(doc.text)


@pytest.mark.skipif(
    importlib.util.find_spec("app.ml.spans.model") is None,
    reason="app.ml.spans.model is not there yet",
)
def test_run_spans_schema():
    result = albench.run(NCBI_10, "spans", ["hybrid"], seed_size=3, batch=2, budget=5, repeats=1)
    _check_schema(result, "spans", {"random", "hybrid"})


def test_run_keeps_paired_repeats_on_request():
    """keep_repeats adds each repeat's AUC (bench/al_robust.py's paired standard error); every
    strategy's repeat starts from the same seed sample, so the first points are paired."""
    result = albench.run(
        SMS_200,
        "classification",
        ["density"],
        seed_size=10,
        batch=10,
        budget=30,
        repeats=2,
        keep_repeats=True,
    )
    for run in result["strategies"].values():
        assert len(run["auc_repeats"]) == 2
        assert sum(run["auc_repeats"]) / 2 == pytest.approx(run["auc"], abs=1e-3)
    assert result["strategies"]["density"]["score"][0] == result["strategies"]["random"]["score"][0]
    plain = albench.run(SMS_200, "classification", seed_size=10, batch=10, budget=20, repeats=1)
    assert "auc_repeats" not in plain["strategies"]["random"]  # the CLI's JSON is unchanged


def test_run_without_random_gives_the_same_curves():
    """include_random=False (bench/al_tune.py runs random once per data set) leaves random out
    and changes nothing else: a strategy's repeats depend only on their own seeds."""
    settings = dict(seed_size=10, batch=10, budget=30, repeats=2, keep_repeats=True)
    both = albench.run(SMS_200, "classification", ["balanced"], **settings)
    alone = albench.run(SMS_200, "classification", ["balanced"], include_random=False, **settings)
    assert list(alone["strategies"]) == ["balanced"]
    assert alone["strategies"]["balanced"] == both["strategies"]["balanced"]


def test_short_text_proxies(tmp_path):
    long = Example("Free entry now. Text WIN to 80086 to claim your prize today or never", "spam")
    (short,) = data.short_texts([long], words=3)
    assert short == Example("Free entry now.", "spam")
    (cut,) = data.short_texts([Example("one two three four five", "ham")], words=2)
    assert cut.text == "one two"
    examples, labels = data.pubtator_titles([NCBI_10])
    assert len(examples) == 10
    assert set(labels) <= {
        "CompositeMention",
        "DiseaseClass",
        "Modifier",
        "SpecificDisease",
        "none",
    }
    assert all("\n" not in e.text and len(e.text) < 400 for e in examples)
