"""A fast, seeded slice of the hostile-bundle corpus (tests/fuzz/bundle_corpus.py): every
bundle is refused with a BundleError or accepted, never a traceback or a partial file; the
whole slice runs in a subprocess with a generous timeout, so a hang fails instead of stalling."""

from __future__ import annotations

from tests.fuzz.import_runner import run_slice

SLICE = """
import sys
from pathlib import Path
from tests.fuzz import bundle_corpus as corpus

root = Path(sys.argv[1])
project_file, good = corpus.make_fixture(root)
bad = []
for case in corpus.sample(corpus.cases(good), 40, 14):
    outcome = corpus.run_case(good, project_file, case, root / "work")
    if outcome.traceback or outcome.seconds > 10:
        bad.append((case.name, outcome.open, outcome.merge, outcome.detail[-600:]))
print(bad)
sys.exit(1 if bad else 0)
"""


def test_a_seeded_slice_of_hostile_bundles_is_refused_cleanly(tmp_path):
    done = run_slice(SLICE, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


KINDS = """
import sys
from pathlib import Path
from tests.fuzz import bundle_corpus as corpus

root = Path(sys.argv[1])
bad = []
for kind in ("assignment", "work"):
    (root / kind).mkdir()
    project_file, good = corpus.make_kind_fixture(root / kind, kind)
    for case in corpus.sample(corpus.cases(good), 20, 14):
        outcome = corpus.run_case(good, project_file, case, root / "cases")
        if outcome.traceback or outcome.seconds > 10:
            bad.append((kind, case.name, outcome.open, outcome.merge, outcome.detail[-600:]))
print(bad)
sys.exit(1 if bad else 0)
"""


def test_a_seeded_slice_of_hostile_assignment_and_work_bundles_is_refused_cleanly(tmp_path):
    """The same mutations, on the two kinds of bundle the corpus did not make (session 6)."""
    done = run_slice(KINDS, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
