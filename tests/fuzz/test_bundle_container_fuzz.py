"""A fast, fixed slice of the hostile bundle containers (tests/fuzz/bundle_container.py: cut
zips, lying zip directories, edited manifests, damaged encryption headers), with every case
that once failed: each is refused with a clear message or accepted, never a traceback, a
partial file or a changed project. It runs in a subprocess, so a hang fails, not stalls."""

from __future__ import annotations

from tests.fuzz.import_runner import run_slice

SLICE = """
import sys
from pathlib import Path
from tests.fuzz import bundle_container as bc

root = Path(sys.argv[1])
project_file, plain, encrypted = bc.make_bundles(root)
chosen = bc.sample(bc.cases(plain, encrypted), 60)
names = {case.name for case in chosen}
missing = [name for name in bc.REGRESSIONS if name not in names]
bad = []
for case in chosen:
    outcome = bc.run_case(plain, encrypted, project_file, case, root / "work")
    accepted = "accepted" in (outcome.open, outcome.merge)
    if outcome.traceback or outcome.seconds > 10 or (case.name in bc.MUST_REFUSE and accepted):
        bad.append((case.name, outcome.open, outcome.merge, outcome.detail[-600:]))
print(len(chosen), "cases; missing:", missing, "bad:", bad)
sys.exit(1 if bad or missing else 0)
"""


def test_a_slice_of_hostile_bundle_containers_is_refused_cleanly(tmp_path):
    done = run_slice(SLICE, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
