"""Agreement metrics: published worked examples, scikit-learn, and a project end to end."""

from __future__ import annotations

import json
import math
import random
import warnings
from itertools import combinations, permutations

import pytest
from sklearn.metrics import cohen_kappa_score

from app.core.annotation.commands import AnnotationState, SetAnnotations
from app.core.errors import ProjectError
from app.core.ids import new_uuid
from app.core.io.importer import import_dataset
from app.core.project.annotators import ensure_annotator
from app.core.quality.agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha_nominal,
    span_f1,
)
from app.core.quality.agreement_report import project_agreement
from tests.unit.helpers import rows

N = None

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: nominal data,
# 4 observers, 12 units, missing values; alpha (nominal) = 0.743.
KRIPPENDORFF_2011_C = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    "C": [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
}

# Fleiss' kappa worked example (Wikipedia "Fleiss' kappa"): 10 items, 14 raters, 5 categories,
# counts per category; P-bar = 0.378, P-e = 0.213, kappa = 0.210.
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _units(table: dict[str, list]) -> dict[int, list]:
    columns = list(table.values())
    return {u: [col[u] for col in columns] for u in range(len(columns[0]))}


# --- Cohen's kappa ------------------------------------------------------------------------


def test_cohen_kappa_wikipedia_yes_no_example():
    # 50 proposals: both yes 20, A yes B no 5, A no B yes 10, both no 15 -> kappa 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_cohen_kappa_matches_sklearn_on_random_labels(seed):
    rng = random.Random(seed)
    n = rng.choice([2, 5, 30, 200])
    categories = rng.sample(["a", "b", "c", "d", "e"], rng.randint(2, 5))
    a = [rng.choice(categories) for _ in range(n)]
    # correlated b: copy a most of the time
    b = [x if rng.random() < 0.6 else rng.choice(categories) for x in a]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns where kappa is undefined
        expected = cohen_kappa_score(a, b)
    if math.isnan(expected):
        assert cohen_kappa(a, b) is None
    else:
        assert cohen_kappa(a, b) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1, 2, 3], [1, 2, 3]),  # perfect
        ([1, 2, 1, 2], [2, 1, 2, 1]),  # perfect disagreement
        ([1, 1, 1, 2], [1, 1, 1, 1]),  # one rater constant
        ([0, 1], [1, 1]),
        (["x", "y", "z", "x"], ["y", "z", "x", "y"]),  # categories used by one rater only
        ([True, False, True], [True, True, True]),
    ],
)
def test_cohen_kappa_matches_sklearn_on_edge_cases(a, b):
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_cohen_kappa_perfect_agreement_is_exactly_one():
    assert cohen_kappa(list("abcab"), list("abcab")) == 1.0


def test_cohen_kappa_is_none_where_undefined():
    # both raters give one and the same category: chance agreement is 1, kappa is 0/0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(cohen_kappa_score(["a"] * 4, ["a"] * 4))
    assert cohen_kappa(["a"] * 4, ["a"] * 4) is None
    assert cohen_kappa([], []) is None


def test_cohen_kappa_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="different numbers"):
        cohen_kappa([1, 2], [1])


# --- Fleiss' kappa ------------------------------------------------------------------------


def test_fleiss_kappa_wikipedia_worked_example():
    counts = [dict(enumerate(row)) for row in FLEISS_WIKIPEDIA]
    assert fleiss_kappa(counts) == pytest.approx(0.20993, abs=1e-5)
    assert round(fleiss_kappa(counts), 3) == 0.210


def test_fleiss_kappa_takes_label_lists_as_well_as_counts():
    lists = [[k for k, n in enumerate(row) for _ in range(n)] for row in FLEISS_WIKIPEDIA]
    counts = [dict(enumerate(row)) for row in FLEISS_WIKIPEDIA]
    assert fleiss_kappa(lists) == fleiss_kappa(counts)


@pytest.mark.parametrize("seed", range(6))
def test_fleiss_kappa_and_alpha_obey_their_exact_relation(seed):
    # With no missing data and n = items * raters values: 1 - alpha = (1 - kappa) (n - 1) / n.
    rng = random.Random(seed)
    items, raters = rng.randint(3, 40), rng.randint(2, 7)
    data = [[rng.choice("abc") for _ in range(raters)] for _ in range(items)]
    kappa = fleiss_kappa(data)
    alpha = krippendorff_alpha_nominal(dict(enumerate(data)))
    n = items * raters
    assert 1 - alpha == pytest.approx((1 - kappa) * (n - 1) / n, abs=1e-12)


def test_fleiss_kappa_with_two_raters_is_scotts_pi():
    a, b = list("aabbcabca"), list("abbbcaacc")
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
    pooled = a + b
    p_e = sum((pooled.count(c) / len(pooled)) ** 2 for c in set(pooled))
    assert fleiss_kappa(list(zip(a, b, strict=True))) == pytest.approx((p_o - p_e) / (1 - p_e))


def test_fleiss_kappa_unequal_raters_raise_or_keep_the_modal_number():
    data = [["a", "a", "b"], ["b", "b", "b"], ["a", "b", "a"], ["a", "b"]]
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa(data)
    assert fleiss_kappa(data, unequal="modal") == fleiss_kappa(data[:3])
    # None entries are missing ratings, so this item has 3 raters like the others
    assert fleiss_kappa([*data[:3], ["a", None, "b", "b"]]) is not None


def test_fleiss_kappa_edge_cases():
    assert fleiss_kappa([["a", "b"], ["b", "a"], ["a", "a"], ["b", "b"]]) is not None
    assert fleiss_kappa([["x", "y", "z"], ["x", "y", "z"]]) < 0
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"]]) == 1.0
    assert fleiss_kappa([["a", "a", "a"], ["a", "a", "a"]]) is None  # one category: undefined
    assert fleiss_kappa([]) is None
    with pytest.raises(ValueError, match="at least 2 raters"):
        fleiss_kappa([["a"], ["b"]])
    with pytest.raises(ValueError, match="non-negative"):
        fleiss_kappa([{"a": -1, "b": 3}])
    with pytest.raises(TypeError):
        fleiss_kappa(["ab"])


# --- Krippendorff's alpha -----------------------------------------------------------------


def test_krippendorff_alpha_2011_nominal_example_with_missing_data():
    alpha = krippendorff_alpha_nominal(_units(KRIPPENDORFF_2011_C))
    assert round(alpha, 3) == 0.743
    # exactly: n = 40 pairable values, n_c = 9, 13, 10, 5, 3 for values 1-5, and a
    # disagreeing coincidence mass of 8: alpha = 1 - (n - 1) * 8 / (n^2 - sum n_c^2)
    assert alpha == pytest.approx(1 - 39 * 8 / (40**2 - (81 + 169 + 100 + 25 + 9)), abs=1e-12)


def test_krippendorff_alpha_binary_two_observers():
    # Krippendorff (2004), Content Analysis, section 11.3.1 (also Krippendorff 2011, section A):
    # Jon and Han mark 10 newspaper articles; alpha = 0.095.
    jon = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    han = [0, 1, 1, 0, 0, 1, 0, 1, 0, 0]
    alpha = krippendorff_alpha_nominal(_units({"jon": jon, "han": han}))
    assert round(alpha, 3) == 0.095


def test_krippendorff_alpha_nominal_two_observers_twelve_units():
    # Krippendorff (2011), section B: nominal data, two observers, no missing data; 0.692.
    a = list("aabbdcccedda")
    b = list("babbbccceddd")
    alpha = krippendorff_alpha_nominal(_units({"A": a, "B": b}))
    assert round(alpha, 3) == 0.692


def test_krippendorff_alpha_ignores_units_with_fewer_than_two_values():
    units = _units(KRIPPENDORFF_2011_C)
    extra = {**units, "lonely": [7, N, N, N], "blank": [N, N, N, N], "none": []}
    assert krippendorff_alpha_nominal(extra) == krippendorff_alpha_nominal(units)


def test_krippendorff_alpha_edge_cases():
    assert krippendorff_alpha_nominal({1: ["a", "a"], 2: ["b", "b", "b"]}) == 1.0
    assert krippendorff_alpha_nominal({1: ["a", "a"], 2: ["a", "a", N]}) is None
    assert krippendorff_alpha_nominal({}) is None
    assert krippendorff_alpha_nominal({1: ["a"], 2: ["b"]}) is None


# --- span F1 ------------------------------------------------------------------------------


def test_span_f1_exact_and_overlap():
    a = [(0, 5, "PER"), (10, 15, "LOC"), (20, 25, "PER")]
    b = [(0, 5, "PER"), (11, 15, "LOC"), (20, 25, "LOC"), (30, 32, "PER")]
    exact = span_f1(a, b, "exact")
    assert exact == {
        "precision": 1 / 4,
        "recall": 1 / 3,
        "f1": 2 * 1 / 7,
        "matched": 1,
        "spans_a": 3,
        "spans_b": 4,
    }
    overlap = span_f1(a, b, "overlap")  # LOC 10-15 ~ 11-15; PER 20-25 vs LOC 20-25: no
    assert (overlap["matched"], overlap["f1"]) == (2, 4 / 7)
    # dicts as stored in a project work too, and F1 is symmetric
    as_dicts = [{"start": s, "end": e, "label": x} for s, e, x in b]
    assert span_f1(as_dicts, a, "overlap")["f1"] == overlap["f1"]
    assert span_f1(as_dicts, a, "overlap")["precision"] == overlap["recall"]


def test_span_f1_overlap_is_a_one_to_one_maximum_matching():
    # one long span overlaps two short ones: it may count once only
    assert span_f1([(0, 20, "X")], [(0, 5, "X"), (10, 15, "X")], "overlap")["matched"] == 1
    # a greedy left-to-right pairing would match 0-10 with 5-11 and leave 10-12 unmatched
    a = [(0, 10, "X"), (10, 12, "X")]
    b = [(5, 11, "X"), (0, 3, "X")]
    assert span_f1(a, b, "overlap")["matched"] == 2
    # touching is not overlapping: end offsets are exclusive
    assert span_f1([(0, 5, "X")], [(5, 9, "X")], "overlap")["matched"] == 0
    # duplicates match one to one under exact matching as well
    assert span_f1([(0, 5, "X")] * 2, [(0, 5, "X")] * 3, "exact")["matched"] == 2


@pytest.mark.parametrize("seed", range(25))
def test_span_overlap_matching_equals_brute_force(seed):
    rng = random.Random(seed)

    def spans(k):
        out = []
        for _ in range(k):
            start = rng.randint(0, 30)
            out.append((start, start + rng.randint(1, 8), "X"))
        return out

    a, b = spans(rng.randint(0, 5)), spans(rng.randint(0, 5))

    def overlaps(x, y):
        return x[0] < y[1] and y[0] < x[1]

    small, large = (a, b) if len(a) <= len(b) else (b, a)
    best = max(
        (sum(overlaps(x, y) for x, y in zip(small, chosen, strict=True)))
        for chosen in permutations(large, len(small))
    )
    assert span_f1(a, b, "overlap")["matched"] == best


def test_span_f1_empty_and_bad_mode():
    assert span_f1([], [], "overlap") == {
        "precision": None,
        "recall": None,
        "f1": None,
        "matched": 0,
        "spans_a": 0,
        "spans_b": 0,
    }
    assert span_f1([(0, 1, "X")], [], "exact")["f1"] == 0.0
    with pytest.raises(ValueError, match="match must be"):
        span_f1([], [], "fuzzy")


# --- a project end to end -----------------------------------------------------------------


def _project_with_items(make_project, tmp_path, n, task_type="classification", labels=None):
    project = make_project(task_type, labels=labels or ("a", "b", "c"))
    path = tmp_path / f"items{n}.txt"
    path.write_text("".join(f"item number {i} with some text\n" for i in range(n)))
    import_dataset(project, path)
    return project


def _annotator(project, name):
    with project.engine.begin() as conn:
        return ensure_annotator(conn, new_uuid(), name, "annotator")


def _annotate(project, who, values, status="complete"):
    """values: {datapoint id: value}; None skips the datapoint."""
    changes = tuple(
        (dp, AnnotationState(value if status == "complete" else None, status))
        for dp, value in values.items()
        if value is not None
    )
    SetAnnotations(who, changes).apply(project)


def _binary(table, label):
    return {u: [N if v is N else v == label for v in values] for u, values in table.items()}


def _strict_json(report):
    return json.loads(json.dumps(report, allow_nan=False))


def test_project_agreement_reproduces_krippendorffs_worked_example(make_project, tmp_path):
    project = _project_with_items(make_project, tmp_path, 12, labels=("1", "2", "3", "4", "5"))
    for name, column in KRIPPENDORFF_2011_C.items():
        who = _annotator(project, name)
        _annotate(project, who, {u + 1: N if v is N else str(v) for u, v in enumerate(column)})
    report = _strict_json(project_agreement(project))
    overall = report["overall"]
    assert round(overall["krippendorff_alpha"], 3) == 0.743
    assert overall["items"] == 11  # unit 12 has one value: not pairable
    assert "spans" not in report


# Three annotators on 10 datapoints; '-' = no annotation. Item 8 has one annotator, item 9 one
# complete and one skipped, item 10 two complete and one discarded: 8 items are measured.
THREE = {
    "ann": ["a", "a", "b", "c", "b", "a", "c", "a", "a", "b"],
    "bob": ["a", "a", "b", "c", "-", "b", "c", "-", "skip", "b"],
    "cat": ["a", "b", "b", "a", "b", "-", "c", "-", "-", "discard"],
}
MEASURED = [1, 2, 3, 4, 5, 6, 7, 10]


@pytest.fixture
def three(make_project, tmp_path):
    project = _project_with_items(make_project, tmp_path, 10)
    for name, column in THREE.items():
        who = _annotator(project, name)
        complete = {
            dp: value for dp, value in enumerate(column, 1) if value not in ("-", "skip", "discard")
        }
        _annotate(project, who, complete)
        for mark, status in (("skip", "skipped"), ("discard", "discarded")):
            marked = [dp for dp, v in enumerate(column, 1) if v == mark]
            if marked:
                _annotate(project, who, dict.fromkeys(marked, "unused"), status)
    return project


def _table(columns, items):
    def value(v):
        return v if v not in ("-", "skip", "discard") else N

    return {dp: [value(columns[name][dp - 1]) for name in columns] for dp in items}


def test_project_agreement_three_annotators_classification(three):
    report = _strict_json(project_agreement(three))
    table = _table(THREE, MEASURED)
    overall = report["overall"]
    assert overall["items"] == 8
    assert overall["krippendorff_alpha"] == pytest.approx(krippendorff_alpha_nominal(table))
    # Fleiss uses the items with the modal number of raters: 5 items with 3 (1, 2, 3, 4, 7)
    assert overall["fleiss_items"] == 5
    full = [table[dp] for dp in (1, 2, 3, 4, 7)]
    assert overall["fleiss_kappa"] == pytest.approx(fleiss_kappa(full))
    pairs = {(p["a"], p["b"]): (p["kappa"], p["items"]) for p in overall["pairwise_cohen_kappa"]}
    assert set(pairs) == {("ann", "bob"), ("ann", "cat"), ("bob", "cat")}
    names = list(THREE)
    for x, y in combinations(names, 2):
        both = [dp for dp in MEASURED if table[dp][names.index(x)] and table[dp][names.index(y)]]
        a = [table[dp][names.index(x)] for dp in both]
        b = [table[dp][names.index(y)] for dp in both]
        assert pairs[(x, y)] == (pytest.approx(cohen_kappa_score(a, b)), len(both))
    # hand-checked: ann and bob agree on 6 of 7 shared items
    assert pairs[("ann", "bob")][1] == 7

    # per label: one against the rest, as binary
    assert set(report["per_label"]) == {"a", "b", "c"}
    for label, figures in report["per_label"].items():
        binary = _binary(table, label)
        assert figures["items"] == 8
        assert figures["krippendorff_alpha"] == pytest.approx(krippendorff_alpha_nominal(binary))
        assert figures["fleiss_kappa"] == pytest.approx(
            fleiss_kappa([binary[dp] for dp in (1, 2, 3, 4, 7)])
        )
        kappas = {(p["a"], p["b"]): p["kappa"] for p in figures["pairwise_cohen_kappa"]}
        a = [binary[dp][0] for dp in MEASURED if binary[dp][2] is not N]
        c = [binary[dp][2] for dp in MEASURED if binary[dp][2] is not N]
        assert kappas[("ann", "cat")] == pytest.approx(cohen_kappa_score(a, c))

    low = report["low_agreement"]
    alphas = {k: v["krippendorff_alpha"] for k, v in report["per_label"].items()}
    assert low["labels"] == sorted((k for k in alphas if alphas[k] < 0.667), key=alphas.get)
    # the disagreeing items, worst first: 6 (a/b: no pair agrees), then 2 and 4 (one of three)
    assert [item["datapoint_id"] for item in low["items"]] == [6, 2, 4]
    assert low["items"][0] == {
        "datapoint_id": 6,
        "agreement": 0.0,
        "annotators": ["ann", "bob"],
        "values": ["a", "b"],
    }
    assert low["items"][1]["agreement"] == pytest.approx(1 / 3)


def test_project_agreement_selects_annotators_and_caps_items(three):
    report = project_agreement(three, annotators=["ann", "bob"], max_items=1)
    overall = report["overall"]
    assert overall["items"] == 7  # items 1-4, 6, 7, 10
    [pair] = overall["pairwise_cohen_kappa"]
    assert (pair["a"], pair["b"], pair["items"]) == ("ann", "bob", 7)
    a = ["a", "a", "b", "c", "a", "c", "b"]
    b = ["a", "a", "b", "c", "b", "c", "b"]
    assert pair["kappa"] == pytest.approx(cohen_kappa_score(a, b))
    assert overall["krippendorff_alpha"] == pytest.approx(
        krippendorff_alpha_nominal(dict(enumerate(zip(a, b, strict=True))))
    )
    assert [i["datapoint_id"] for i in report["low_agreement"]["items"]] == [6]
    [(bob_uuid,)] = rows(three, "SELECT uuid FROM annotator WHERE name = 'bob'")
    by_uuid = project_agreement(three, annotators=["ann", bob_uuid], max_items=1)
    assert by_uuid == report
    with pytest.raises(ProjectError, match="no annotator named"):
        project_agreement(three, annotators=["nobody"])


def test_project_agreement_without_overlap_is_all_undefined(make_project, tmp_path):
    project = _project_with_items(make_project, tmp_path, 3)
    _annotate(project, _annotator(project, "solo"), {1: "a", 2: "b"})
    report = _strict_json(project_agreement(project))
    assert report["overall"] == {
        "krippendorff_alpha": None,
        "fleiss_kappa": None,
        "fleiss_items": 0,
        "pairwise_cohen_kappa": [],
        "items": 0,
    }
    assert report["per_label"]["a"]["krippendorff_alpha"] is None
    assert report["low_agreement"] == {"labels": [], "items": []}


def test_project_agreement_perfect_agreement(make_project, tmp_path):
    project = _project_with_items(make_project, tmp_path, 4)
    for name in ("x", "y", "z"):
        _annotate(project, _annotator(project, name), {1: "a", 2: "b", 3: "a", 4: "c"})
    overall = project_agreement(project)["overall"]
    assert overall["krippendorff_alpha"] == 1.0
    assert overall["fleiss_kappa"] == 1.0
    assert {p["kappa"] for p in overall["pairwise_cohen_kappa"]} == {1.0}


def test_project_agreement_tells_apart_annotators_with_the_same_name(make_project, tmp_path):
    project = _project_with_items(make_project, tmp_path, 2)
    for _ in range(2):
        _annotate(project, _annotator(project, "sam"), {1: "a", 2: "b"})
    [pair] = project_agreement(project)["overall"]["pairwise_cohen_kappa"]
    assert pair["a"] != pair["b"]
    assert pair["a"].startswith("sam (") and pair["b"].startswith("sam (")
    assert (pair["kappa"], pair["items"]) == (1.0, 2)


MULTI = {
    "ann": [["x"], ["x", "y"], [], ["z"], ["y"], ["x"]],
    "bob": [["x"], ["x"], [], ["y"], ["y"], ["x", "y"]],
    "cat": [["x"], ["x", "y"], ["y"], ["z"], "-", ["x"]],
}


def test_project_agreement_multilabel_per_label_binary_and_pooled(make_project, tmp_path):
    project = _project_with_items(make_project, tmp_path, 6, "multilabel", ("x", "y", "z", "w"))
    for name, column in MULTI.items():
        who = _annotator(project, name)
        _annotate(project, who, {dp: v for dp, v in enumerate(column, 1) if v != "-"})
    report = _strict_json(project_agreement(project))
    table = {
        dp: [N if MULTI[n][dp - 1] == "-" else set(MULTI[n][dp - 1]) for n in MULTI]
        for dp in range(1, 7)
    }
    for label in ("x", "y", "z"):
        binary = {dp: [N if v is N else label in v for v in vs] for dp, vs in table.items()}
        figures = report["per_label"][label]
        assert figures["items"] == 6
        assert figures["krippendorff_alpha"] == pytest.approx(krippendorff_alpha_nominal(binary))
    # "w" is never used: nothing to measure, kappa and alpha are undefined, not 1 or 0
    assert report["per_label"]["w"]["krippendorff_alpha"] is None
    assert {p["kappa"] for p in report["per_label"]["w"]["pairwise_cohen_kappa"]} == {None}
    # overall: every (item, used label) decision pooled as one binary unit
    pooled = {
        (dp, label): [N if v is N else label in v for v in vs]
        for dp, vs in table.items()
        for label in ("x", "y", "z")
    }
    overall = report["overall"]
    assert overall["items"] == 6
    assert overall["krippendorff_alpha"] == pytest.approx(krippendorff_alpha_nominal(pooled))
    assert overall["fleiss_items"] == 5
    full = [pooled[(dp, label)] for dp in (1, 2, 3, 4, 6) for label in ("x", "y", "z")]
    assert overall["fleiss_kappa"] == pytest.approx(fleiss_kappa(full))
    pairs = {(p["a"], p["b"]): p["items"] for p in overall["pairwise_cohen_kappa"]}
    assert pairs == {("ann", "bob"): 6, ("ann", "cat"): 5, ("bob", "cat"): 5}
    # worst item: 4 ({z}, {y}, {z}) has Jaccard 0, 0, 1 -> 1/3; item 3 ([], [], {y}) too
    items = report["low_agreement"]["items"]
    assert [i["datapoint_id"] for i in items[:2]] == [3, 4]
    assert items[0]["values"] == [[], [], ["y"]]


def test_project_agreement_spans(make_project, tmp_path):
    project = _project_with_items(make_project, tmp_path, 3, "spans", ("PER", "LOC"))

    def s(start, end, label):
        return {"start": start, "end": end, "label": label}

    ann, bob = _annotator(project, "ann"), _annotator(project, "bob")
    _annotate(project, ann, {1: [s(0, 4, "PER"), s(5, 11, "LOC")], 2: [s(0, 4, "PER")], 3: []})
    _annotate(project, bob, {1: [s(0, 4, "PER"), s(5, 9, "LOC")], 2: [s(0, 4, "LOC")], 3: []})
    report = _strict_json(project_agreement(project))
    exact, overlap = report["spans"]["exact"], report["spans"]["overlap"]
    # exact: only PER 0-4 on item 1 matches, of 3 spans on each side: F1 = 2 * 1 / 6
    assert (exact["matched"], exact["spans"], exact["items"]) == (1, 6, 2)
    assert exact["f1"] == pytest.approx(2 / 6)
    # overlap adds LOC 5-11 ~ 5-9
    assert overlap["f1"] == pytest.approx(4 / 6)
    [pair] = overlap["pairwise"]
    assert pair == {
        "a": "ann",
        "b": "bob",
        "precision": 2 / 3,
        "recall": 2 / 3,
        "f1": pytest.approx(4 / 6),
        "matched": 2,
        "spans_a": 3,
        "spans_b": 3,
        "items": 2,
    }
    per = overlap["per_label"]
    assert (per["PER"]["f1"], per["PER"]["matched"], per["PER"]["items"]) == (2 / 3, 1, 2)
    assert (per["LOC"]["f1"], per["LOC"]["matched"], per["LOC"]["items"]) == (2 / 3, 1, 2)
    assert exact["per_label"]["LOC"]["f1"] == 0.0
    # item-level agreement on the label sets: PER present in items 1 (both) and 2 (ann only)
    binary = {1: [True, True], 2: [True, False], 3: [False, False]}
    assert report["per_label"]["PER"]["krippendorff_alpha"] == pytest.approx(
        krippendorff_alpha_nominal(binary)
    )
    assert report["per_label"]["PER"]["items"] == 3
    # the worst item is 2: a PER against a LOC, overlap F1 0
    assert report["low_agreement"]["items"][0]["datapoint_id"] == 2
    assert report["low_agreement"]["items"][0]["agreement"] == 0.0
