"""Suspicious spans in words, without Qt: each difference between the given spans and the
model's (wrong label, wrong boundary, missing span, extra span) with its sentence, and the
command line printing them instead of raw offsets."""

from __future__ import annotations

import json

from app.core.project import modelstore
from app.ml import suspicious
from tests.unit.quality_helpers import label, team, with_items

TEXT = "Colorectal cancer is common.\r\nHNPCC is an inherited cancer syndrome 🧬. Ataxia too."
COLORECTAL = {"start": 0, "end": 17, "label": "Disease"}
HNPCC = {"start": 30, "end": 35, "label": "Disease"}
SYNDROME = {"start": 42, "end": 67, "label": "Disease"}
ATAXIA = {"start": 71, "end": 77, "label": "Disease"}


def test_each_kind_of_difference_with_its_sentence():
    assert TEXT[HNPCC["start"] : HNPCC["end"]] == "HNPCC"
    assert TEXT[SYNDROME["start"] : SYNDROME["end"]] == "inherited cancer syndrome"
    assert TEXT[ATAXIA["start"] : ATAXIA["end"]] == "Ataxia"
    given = [COLORECTAL, HNPCC, ATAXIA]
    model = [
        {**COLORECTAL, "label": "Modifier"},  # same characters, another label
        {"start": 42, "end": 58, "label": "Disease"},  # "inherited cancer": overlaps nothing given
        HNPCC,  # agrees: not a difference
        {"start": 71, "end": 81, "label": "Disease"},  # "Ataxia too": a wider span
    ]
    found = suspicious.span_differences(TEXT, given, model)
    assert [d.kind for d in found] == [
        suspicious.WRONG_LABEL,
        suspicious.MISSING,
        suspicious.WRONG_BOUNDARY,
    ]
    wrong_label, missing, boundary = found
    assert suspicious.marked_sentence(TEXT, wrong_label) == "[Colorectal cancer] is common."
    assert suspicious.describe_difference(TEXT, wrong_label) == (
        "“Colorectal cancer”: labeled Disease, the model says Modifier"
    )
    assert suspicious.marked_sentence(TEXT, missing) == (
        "HNPCC is an [inherited cancer] syndrome 🧬."
    )  # the sentence after a CRLF, emoji kept
    assert (
        suspicious.describe_difference(TEXT, missing)
    ) == "not labeled: the model finds Disease “inherited cancer”"
    assert suspicious.describe_difference(TEXT, boundary) == (
        "labeled Disease “Ataxia”, the model marks Disease “Ataxia too”"
    )
    extra = suspicious.span_differences(TEXT, [SYNDROME], [])
    assert [d.kind for d in extra] == [suspicious.EXTRA]
    assert "the model finds no span there" in suspicious.describe_difference(TEXT, extra[0])
    assert suspicious.span_differences(TEXT, given, given) == []


def test_sentences_at_the_edges_of_the_text():
    text = "Ataxia"
    (only,) = suspicious.span_differences(text, [], [{"start": 0, "end": 6, "label": "D"}])
    assert only.sentence == (0, 6)
    assert suspicious.marked_sentence(text, only) == "[Ataxia]"


def test_the_command_line_prints_words_not_offsets(make_project, tmp_path, capsys):
    from app.cli.main import main

    project = make_project("spans", ("Disease", "Modifier"))
    (dp,) = with_items(project, tmp_path, [TEXT])
    ana = team(project, "ana")["ana"]
    label(project, ana, {dp: [COLORECTAL, HNPCC]})
    model = [{**COLORECTAL, "label": "Modifier"}, HNPCC, SYNDROME]
    modelstore.save_version(project, "test-fixed", b"", 1, {"suspicious": [[dp, 0.7, model]]})
    path = str(project.path)
    project.close()
    assert main(["suspicious", path]) == 0
    out = capsys.readouterr().out
    assert "wrong label: “Colorectal cancer”: labeled Disease, the model says Modifier" in out
    assert "[Colorectal cancer] is common." in out
    assert "missing span: not labeled: the model finds Disease “inherited cancer syndrome”" in out
    assert "0-17" not in out and "'start'" not in out
    assert main(["suspicious", path, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["suspicious"]
    assert [d["kind"] for d in row["differences"]] == ["wrong label", "missing span"]
    assert row["differences"][1]["sentence"] == ("HNPCC is an [inherited cancer syndrome] 🧬.")
