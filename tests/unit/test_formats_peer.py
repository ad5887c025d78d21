"""Peer formats (Label Studio, Prodigy, doccano, CoNLL) land the right labels, and every
wrong-label case of issue #13 is refused or stored right."""

from __future__ import annotations

import json

import pytest

from app.core.errors import DataError
from app.core.io.importer import import_dataset, preview
from tests.unit.helpers import import_refused, rows, texts

EMOJI_TEXT = "Patient 😷 has chest pain"
EMOJI_MIDDLE = "😷 chest pain, mask on 😷"


def jsonl(path, items):
    path.write_text("".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items))
    return path


def annotations(project):
    """(text, annotator, value) of every annotation, in datapoint then annotator order."""
    return [
        (text, name, json.loads(value))
        for text, name, value in rows(
            project,
            "SELECT d.text, n.name, a.value FROM annotation a JOIN datapoint d"
            " ON d.id = a.datapoint_id JOIN annotator n ON n.id = a.annotator_id"
            " ORDER BY d.id, n.name",
        )
    ]


def statuses(project):
    return [r[0] for r in rows(project, "SELECT status FROM datapoint ORDER BY id")]


# --- Prodigy -----------------------------------------------------------------------------


def test_prodigy_reject_and_ignore_never_become_labels(make_project, tmp_path):
    project = make_project(labels=("urgent", "routine"))
    path = jsonl(
        tmp_path / "db.jsonl",
        [
            {"text": "call now", "label": "urgent", "answer": "reject", "_input_hash": 1},
            {"text": "see you", "label": "routine", "answer": "accept", "_input_hash": 2},
            {"text": "later", "label": "urgent", "answer": "ignore", "_input_hash": 3},
            {"text": "not yet seen", "_input_hash": 4},
        ],
    )
    report = import_dataset(project, path)  # detected from the content: prodigy
    assert report.rows == 4
    assert annotations(project) == [("see you", "imported", "routine")]
    assert statuses(project) == [0, 1, 0, 0]


def test_prodigy_rejected_ner_example_stays_unlabelled(make_project, tmp_path):
    project = make_project("spans", labels=("DISEASE",))
    spans = [{"start": 0, "end": 5, "label": "DISEASE"}]
    path = jsonl(
        tmp_path / "ner.jsonl",
        [
            {"text": "fever today", "spans": spans, "answer": "reject", "_annotator_id": "a"},
            {"text": "flu again", "spans": [], "answer": "accept", "_annotator_id": "a"},
            {"text": "nothing done", "spans": [], "_input_hash": 9},
        ],
    )
    import_dataset(project, path, fmt="prodigy")
    # accepted with no spans is "answered: no spans"; untouched and rejected stay unlabelled
    assert annotations(project) == [("flu again", "a", [])]


def test_prodigy_choice_and_annotators_on_one_item(make_project, tmp_path):
    project = make_project("multilabel", labels=("a", "b", "c"))
    options = [{"id": x, "text": x} for x in "abc"]
    path = jsonl(
        tmp_path / "choice.jsonl",
        [
            {"text": "t1", "options": options, "accept": ["a", "c"], "answer": "accept",
             "_input_hash": 7, "_annotator_id": "ann-1"},
            {"text": "t1", "options": options, "accept": [], "answer": "accept",
             "_input_hash": 7, "_annotator_id": "ann-2"},
        ],
    )  # fmt: skip
    report = import_dataset(project, path)
    assert report.rows == 1  # two annotators' lines of one item: one datapoint
    assert annotations(project) == [("t1", "ann-1", ["a", "c"]), ("t1", "ann-2", [])]
    assert statuses(project) == [1]


def test_prodigy_single_choice_as_one_element_list(make_project, tmp_path):
    project = make_project(labels=("pos", "neg"))
    path = jsonl(
        tmp_path / "c.jsonl",
        [{"text": "good", "options": [], "accept": ["pos"], "answer": "accept"}],
    )
    import_dataset(project, path, fmt="prodigy")
    assert annotations(project) == [("good", "imported", "pos")]


# --- doccano -----------------------------------------------------------------------------


def test_doccano_untouched_documents_stay_unlabelled(make_project, tmp_path):
    project = make_project("spans", labels=("PER", "LOC"))
    path = jsonl(
        tmp_path / "doccano.jsonl",
        [
            {"id": 1, "text": "Ann in Oslo", "label": [[0, 3, "PER"], [7, 11, "LOC"]]},
            {"id": 2, "text": "nothing here", "label": []},
            {"id": 3, "text": "Bob", "entities": [
                {"id": 5, "label": "PER", "start_offset": 0, "end_offset": 3}]},
        ],
    )  # fmt: skip
    import_dataset(project, path, fmt="doccano")
    assert annotations(project) == [
        ("Ann in Oslo", "imported", [
            {"start": 0, "end": 3, "label": "PER"}, {"start": 7, "end": 11, "label": "LOC"}]),
        ("Bob", "imported", [{"start": 0, "end": 3, "label": "PER"}]),
    ]  # fmt: skip
    assert statuses(project) == [1, 0, 1]


def test_doccano_classification_label_list(make_project, tmp_path):
    project = make_project(labels=("pos", "neg"))
    path = jsonl(
        tmp_path / "cls.jsonl",
        [{"text": "fine", "label": ["pos"]}, {"text": "meh", "label": []}],
    )
    import_dataset(project, path, fmt="doccano")
    assert annotations(project) == [("fine", "imported", "pos")]


# --- Label Studio ------------------------------------------------------------------------


def ls_span(start, end, label, text=None):
    value = {"start": start, "end": end, "labels": [label]}
    if text is not None:
        value["text"] = text
    return {"from_name": "label", "to_name": "text", "type": "labels", "value": value}


def test_labelstudio_annotators_cancelled_and_untouched(make_project, tmp_path):
    project = make_project("spans", labels=("SYMPTOM",))
    tasks = [
        {
            "id": 1,
            "data": {"text": "chest pain and fever", "ward": "A"},
            "annotations": [
                {"completed_by": 1, "result": [ls_span(0, 10, "SYMPTOM", "chest pain")]},
                {"completed_by": 2, "was_cancelled": True, "result": []},
                {"completed_by": {"email": "c@x.org"}, "result": []},
            ],
        },
        {"id": 2, "data": {"text": "untouched"}, "annotations": []},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    project_ward = make_project("spans", labels=("SYMPTOM",), inputs=["text", "ward"])
    import_dataset(project, path)
    assert annotations(project) == [
        ("chest pain and fever", "1", [{"start": 0, "end": 10, "label": "SYMPTOM"}]),
        ("chest pain and fever", "c@x.org", []),
    ]
    assert statuses(project) == [1, 0]
    import_dataset(project_ward, path, fmt="labelstudio")
    contexts = rows(project_ward, "SELECT context FROM datapoint ORDER BY id")
    assert json.loads(contexts[0][0]) == {"ward": "A"}


def test_labelstudio_choices_for_classification(make_project, tmp_path):
    project = make_project(labels=("pos", "neg"))
    choice = {"from_name": "s", "to_name": "text", "type": "choices", "value": {"choices": ["neg"]}}
    path = tmp_path / "cls.json"
    path.write_text(json.dumps([{"data": {"text": "bad"}, "annotations": [{"result": [choice]}]}]))
    import_dataset(project, path)
    assert annotations(project) == [("bad", "imported", "neg")]


def test_labelstudio_json_min(make_project, tmp_path):
    project = make_project("spans", labels=("X",))
    path = tmp_path / "min.json"
    items = [
        {"id": 1, "text": "ab cd", "label": [{"start": 3, "end": 5, "text": "cd", "labels": ["X"]}],
         "annotator": 4, "annotation_id": 9, "lead_time": 2.5},
    ]  # fmt: skip
    path.write_text(json.dumps(items))
    import_dataset(project, path)
    assert annotations(project) == [("ab cd", "4", [{"start": 3, "end": 5, "label": "X"}])]


def test_span_text_in_utf16_units_refused_with_both_strings(make_project, tmp_path):
    project = make_project("spans", labels=("SYMPTOM",))
    start = 3  # "chest pain" in UTF-16 units, after the emoji's two; in characters it is 2
    tasks = [
        {
            "data": {"text": EMOJI_MIDDLE},
            "annotations": [{"result": [ls_span(start, start + 10, "SYMPTOM", "chest pain")]}],
        }
    ]
    path = tmp_path / "utf16.json"
    path.write_text(json.dumps(tasks, ensure_ascii=False))
    error = import_refused(project, path, 1, ["'chest pain'", "'hest pain,'", "UTF-16"])
    tasks[0]["data"]["text"] = EMOJI_TEXT  # offsets past the end in characters: same message
    start = len(EMOJI_TEXT.encode("utf-16-le")) // 2 - len("chest pain")
    tasks[0]["annotations"][0]["result"] = [ls_span(start, start + 10, "SYMPTOM", "chest pain")]
    path.write_text(json.dumps(tasks, ensure_ascii=False))
    import_refused(project, path, 1, ["'chest pain'", "UTF-16"])
    assert "span 3-13" in str(error)  # the offsets as the file gives them


# --- CoNLL -------------------------------------------------------------------------------

CONLL = """-DOCSTART- -X- -X- O

EU B-ORG
rejects O
German B-MISC
call O

Peter B-PER
Blackburn I-PER

-DOCSTART- -X- -X- O

Chest B-SYM
pain L-SYM
and O
fever U-SYM
"""


def test_conll_documents_and_tag_schemes(make_project, tmp_path):
    project = make_project("spans", labels=("ORG", "MISC", "PER", "SYM"))
    path = tmp_path / "train.conll"
    path.write_text(CONLL)
    import_dataset(project, path)
    assert texts(project) == ["EU rejects German call", "Peter Blackburn", "Chest pain and fever"]
    first, second, third = [value for _text, _who, value in annotations(project)]
    assert first == [
        {"start": 0, "end": 2, "label": "ORG"},
        {"start": 11, "end": 17, "label": "MISC"},
    ]
    assert second == [{"start": 0, "end": 15, "label": "PER"}]
    assert third == [
        {"start": 0, "end": 10, "label": "SYM"},
        {"start": 15, "end": 20, "label": "SYM"},
    ]


def test_conll_iob1_sentences_without_docstart(make_project, tmp_path):
    project = make_project("spans", labels=("PER",))
    path = tmp_path / "iob1.iob"
    path.write_text("John I-PER\nSmith I-PER\nleft O\n\nnobody O\nhere O\n")
    import_dataset(project, path)
    assert annotations(project) == [
        ("John Smith left", "imported", [{"start": 0, "end": 10, "label": "PER"}]),
        ("nobody here", "imported", []),  # every token tagged: answered, no spans
    ]


def test_tsv_chosen_for_a_conll_file_is_refused(make_project, tmp_path):
    project = make_project("spans", labels=("ORG", "MISC", "PER", "SYM"))
    path = tmp_path / "train.tsv"
    path.write_text(CONLL.replace(" ", "\t"))
    import_refused(project, path, None, ["looks like conll", "--format conll"], fmt="tsv")
    import_refused(project, path, None, ["looks like conll"])  # the .tsv name says tsv


def test_peer_format_refuses_a_label_column(make_project, tmp_path):
    project = make_project("spans", labels=("X",))
    path = tmp_path / "a.conll"
    path.write_text("a B-X\nb O\nc O\n")
    import_refused(project, path, None, ["--label-column"], label_column="label")


def test_peer_preview_shows_text_and_answers(make_project, tmp_path):
    path = jsonl(
        tmp_path / "p.jsonl",
        [{"text": "x y", "label": "pos", "answer": "accept", "_annotator_id": "ann"}],
    )
    found = preview(path, task_type="classification")
    assert found.format == "prodigy" and found.peer
    assert found.rows == [{"text": "x y", "labels": "ann: pos"}]


def test_classification_one_element_list_and_choices_in_a_label_column(make_project, tmp_path):
    project = make_project(labels=("pos", "neg"))
    path = jsonl(
        tmp_path / "plain.jsonl",
        [
            {"text": "a", "label": ["pos"]},
            {"text": "b", "label": {"choices": ["neg"]}},
            {"text": "c", "label": []},
        ],
    )
    import_dataset(project, path, label_column="label")
    assert [v for _t, _w, v in annotations(project)] == ["pos", "neg"]
    with pytest.raises(DataError, match="one label per datapoint"):
        import_dataset(
            make_project(labels=("pos", "neg")),
            jsonl(tmp_path / "two.jsonl", [{"text": "a", "label": ["pos", "neg"]}]),
            label_column="label",
        )


def test_broken_peer_files_name_file_and_line(make_project, tmp_path):
    spans = make_project("spans", labels=("X",))
    conll = tmp_path / "bad.conll"
    conll.write_text("a B-X\nb O\nc O\n\nd Q-X\n")
    import_refused(spans, conll, 5, ["'Q-X'"])
    prodigy = jsonl(tmp_path / "bad.jsonl", [{"text": "a", "answer": "maybe", "_input_hash": 1}])
    import_refused(spans, prodigy, 1, ["unknown answer 'maybe'"], fmt="prodigy")
    truncated = tmp_path / "cut.json"
    truncated.write_text('[{"data": {"text": "a"}, "annotations": [')
    import_refused(spans, truncated, None, ["JSON"], fmt="labelstudio")
    outside = jsonl(tmp_path / "out.jsonl", [{"text": "abc", "label": [[1, 9, "X"]]}])
    import_refused(spans, outside, 1, ["outside the text"], fmt="doccano")


def test_unexpected_shapes_end_in_a_message_not_a_traceback(make_project, tmp_path):
    project = make_project("spans", labels=("X",))
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps([{"data": {"text": "abc"}, "annotations": [{"result": [
        {"type": "labels", "value": ["not", "an", "object"]}]}]}]))  # fmt: skip
    import_refused(project, odd, 1, ["'value' must be an object"], fmt="labelstudio")
