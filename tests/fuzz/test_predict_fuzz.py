"""`tagloop predict` reads the same hostile files as an import (session 6's red team found an
IndexError there that no import showed): a seeded slice of the import corpus's hand-made
hostile files, and the ones that once failed, are each predicted or refused with a TagloopError
naming the file. The slice runs in a child process (run_slice), so a hang fails."""

from __future__ import annotations

from tests.fuzz.import_runner import run_slice

SLICE = """
import random, sys, traceback
from pathlib import Path
from app.cli.main import main as cli
from app.core.errors import TagloopError
from app.core.io.importer import import_dataset
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project
from app.ml.loop import predict_file
from tests.fixtures_data import sms_rows, write_csv
from tests.fuzz import import_cases

root = Path(sys.argv[1])
labels = [LabelSpec("ham"), LabelSpec("spam")]
project = create_project(root / "p.tagloop", "classification", labels)
write_csv(root / "sms.csv", [["text", "label"], *[[t, label] for t, label in sms_rows(60)]])
import_dataset(project, root / "sms.csv", label_column="label")
project.close()
assert cli(["train", str(root / "p.tagloop"), "--no-score"]) == 0
TABULAR = ("csv", "tsv", "json", "jsonl", "txt")
cases = [c for c in import_cases.hostile() if c[0].rsplit(".", 1)[-1] in TABULAR]
ONCE_FAILED = {"b-long-blank.jsonl"}
chosen = [c for c in cases if c[0] in ONCE_FAILED]
chosen += random.Random(14).sample([c for c in cases if c[0] not in ONCE_FAILED], 60)
from app.core.project.project import open_project
bad = []
with open_project(root / "p.tagloop") as project:
    for name, data, _task, _options in chosen:
        path = root / name
        path.write_bytes(data() if callable(data) else data)
        try:
            predict_file(project, path, root / "out.jsonl")
        except TagloopError as exc:
            if name not in str(exc):
                bad.append((name, "unnamed", str(exc)[:200]))
        except Exception:
            bad.append((name, traceback.format_exc()[-600:]))
        path.unlink()
print(len(chosen), bad)
sys.exit(1 if bad or len(chosen) != 61 else 0)
"""


def test_predict_reads_hostile_files_without_a_traceback(tmp_path):
    done = run_slice(SLICE, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
