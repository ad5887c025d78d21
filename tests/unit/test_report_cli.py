"""`tagloop report`: labels made elsewhere by several people, imported per annotator, and the
agreement, progress and HTML report the team lead hands on."""

from __future__ import annotations

import json

from app.cli.main import main
from tests.fixtures_data import sms_rows, write_csv


def test_report_json_and_html_from_per_annotator_imports(tmp_path, capsys):
    project = tmp_path / "team.tagloop"
    assert main(["init", str(project), "--type", "classification", "--labels", "ham,spam"]) == 0
    rows = sms_rows(40)
    ana = tmp_path / "ana.csv"
    ben = tmp_path / "ben.csv"
    write_csv(ana, [["text", "label"], *rows])
    # ben disagrees on the first 10 items
    flipped = [
        [t, ("spam" if label == "ham" else "ham") if i < 10 else label]
        for i, (t, label) in enumerate(rows)
    ]
    write_csv(ben, [["text", "label"], *flipped])
    assert (
        main(["import", str(project), str(ana), "--label-column", "label", "--annotator", "ana"])
        == 0
    )
    assert (
        main(
            [
                "import",
                str(project),
                str(ben),
                "--label-column",
                "label",
                "--annotator",
                "ben",
                "--skip-duplicates",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["report", str(project), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    overall = report["agreement"]["overall"]
    assert set(overall) >= {"krippendorff_alpha", "fleiss_kappa", "pairwise_cohen_kappa"}
    (pair,) = overall["pairwise_cohen_kappa"]
    assert {pair["a"], pair["b"]} == {"ana", "ben"} and pair["items"] == 40
    assert overall["krippendorff_alpha"] < 0.9  # ten of forty disagree
    assert report["progress"]["by_annotator"]["ana"]["complete"] == 40

    html = tmp_path / "report.html"
    assert main(["report", str(project), "--html", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert "<svg" in page and "http://" not in page and "https://" not in page
    assert main(["report", str(project)]) == 0
    assert "Cohen's kappa" in capsys.readouterr().out
