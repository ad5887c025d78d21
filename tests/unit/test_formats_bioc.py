"""BioC XML: passages at offsets, located annotations, every annotator, hostile XML (#13)."""

from __future__ import annotations

import pytest

from app.core.errors import DataError
from app.core.io.formats import bioc as bioc_format
from app.core.io.formats.base import ReadOptions
from tests.unit.format_samples import TEXTS, context, gold_spans, never, no_progress, record

PUBTATOR_STYLE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE collection SYSTEM "BioC.dtd">
<collection><source>PubTator</source><date>2024</date><key>BioC.key</key>
<document><id>123</id>
<passage><infon key="type">title</infon><offset>0</offset><text>Chest pain 😷.</text>
<annotation id="1"><infon key="type">Disease</infon>
<location offset="0" length="10"/><text>Chest pain</text></annotation></passage>
<passage><infon key="type">abstract</infon><offset>14</offset><text>Asthma here.</text>
<annotation id="2"><infon key="type">Disease</infon>
<location offset="14" length="6"/><text>Asthma</text></annotation></passage>
</document>
<document><id>124</id><passage><offset>0</offset><text>Nothing marked.</text></passage></document>
</collection>
"""


def test_reads_passages_at_their_offsets(tmp_path):
    path = tmp_path / "corpus.xml"
    path.write_text(PUBTATOR_STYLE, encoding="utf-8")
    assert bioc_format.detect(path, path.read_bytes()[:4096]) > 0.9
    first, second = bioc_format.read(path, ReadOptions("spans"))
    assert first.text == "Chest pain 😷. Asthma here."
    assert first.values[0].value == [
        {"start": 0, "end": 10, "label": "Disease"},
        {"start": 14, "end": 20, "label": "Disease"},
    ]
    assert first.context == {"document": "123"}
    assert second.values == ()  # no annotation: unlabelled


def test_round_trip_keeps_every_annotator_and_exact_texts(tmp_path):
    records = [record(i, t, s) for i, (t, s) in enumerate(zip(TEXTS, gold_spans(), strict=True))]
    records[0]["annotations"].append(
        {"annotator": "bo", "value": [], "status": "complete", "origin": "human"}
    )
    out = tmp_path / "export.bioc.xml"
    report = bioc_format.write(iter(records), out, context(), no_progress, never)
    assert report.written == 4 and not report.warnings
    back = list(bioc_format.read(out, ReadOptions("spans")))
    assert [r.text for r in back] == TEXTS  # CRLF and lone CR survive XML
    assert [[(v.annotator, v.value) for v in r.values] for r in back][1:] == [
        [("ana", spans)] for spans in gold_spans()[1:]
    ]
    assert {(v.annotator, str(v.value)) for v in back[0].values} == {
        ("ana", str(gold_spans()[0])),
        ("bo", "[]"),
    }


def _bioc(annotation: str) -> str:
    return (
        "<collection><source/><date/><key/><document><id>7</id><passage><offset>0</offset>"
        f"<text>chest and back pain</text>{annotation}</passage></document></collection>"
    )


@pytest.mark.parametrize(
    "body, problem",
    [
        (
            _bioc(
                '<annotation id="a"><infon key="type">S</infon><location offset="0" length="5"/>'
                '<location offset="15" length="4"/><text>chest pain</text></annotation>'
            ),
            "document 7, annotation a: 2 locations",
        ),
        (
            _bioc(
                '<annotation id="b"><infon key="type">S</infon><location offset="1" length="5"/>'
                "<text>chest</text></annotation>"
            ),
            "'chest' but the text there is 'hest '",
        ),
        (_bioc("<annotation id='c'>"), "not well-formed XML"),
        (
            '<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + _bioc(""),
            "declares XML entities",
        ),
    ],
)
def test_bad_bioc_is_a_clear_error(tmp_path, body, problem):
    path = tmp_path / "bad.xml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as error:
        list(bioc_format.read(path, ReadOptions("spans")))
    assert problem in str(error.value) and error.value.file == str(path)
