"""The worker of the peer-format fuzz corpus (tests.fuzz.peer_corpus): the import runner's
worker (tests.fuzz.import_runner.run_one, same verdicts), plus each case's peak memory.

Before each case the kernel's peak-RSS counter is reset (/proc/self/clear_refs, "5"); after
it, VmHWM less the RSS the case started with is the case's own peak. Over MEMORY_MB it is a
"memory" finding even when the import ended in a clear error: a bomb refused only after it
inflated is still a bomb. The address space is capped (ADDRESS_SPACE) so that a real bomb
fails the case instead of the machine.
"""

from __future__ import annotations

import contextlib
import gc
import json
import resource
import sys
from pathlib import Path

from tests.fuzz import import_runner
from tests.fuzz.import_runner import run_one

MEMORY_MB = 500
ADDRESS_SPACE = 8 << 30  # bytes of virtual memory the worker may map


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measured(case: dict, project, work: Path) -> dict:
    """run_one, with the case's own peak memory (MB above its start) in `peak_mb`."""
    gc.collect(1)  # young garbage only: a full collection costs 0.2 s with spaCy loaded
    resettable = _reset_peak()
    before = _status_kb("VmRSS:")
    result = run_one(case, project, work)
    if resettable:
        peak_mb = max(0, _status_kb("VmHWM:") - before) / 1024
        result["peak_mb"] = round(peak_mb, 1)
        if peak_mb > MEMORY_MB and result["outcome"] in ("imported", "refused"):
            result["detail"] = f"peak {peak_mb:.0f} MB; {result.get('detail', '')}"[:300]
            result["outcome"] = "memory"
    return result


def worker(cases_file: Path, out_file: Path, work: Path) -> None:
    """The import runner's worker, with each case's peak memory and the address space capped
    (a bomb then fails its case, not the machine)."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    import_runner.worker(cases_file, out_file, work, run=measured)


# ---- memory of one long accepted field ----------------------------------------------------


def long_files(size: int) -> dict[str, bytes]:
    """One record whose text is `size` bytes, in each text peer format (by suffix)."""
    text = "word " * (size // 5)
    spans = json.dumps({"text": text, "spans": [{"start": 0, "end": 4, "label": "D"}]})
    tokens = "\n".join(["long O", "x" * size + " B-D", "end O"])
    return {
        "long.prodigy.jsonl": (spans[:-1] + ', "answer": "accept", "_input_hash": 1}\n').encode(),
        "long.labelstudio.json": json.dumps([{"data": {"text": text}, "annotations": []}]).encode(),
        "long.conll": tokens.encode(),
        "long.pubtator": f"1|t|{text}\n1|a|x\n1\t0\t4\tword\tD\n".encode(),
        "long.bioc.xml": (
            "<collection><source/><date/><key/><document><id>1</id><passage><offset>0"
            f"</offset><text>{text}</text></passage></document></collection>"
        ).encode(),
    }


def measure_memory(work: Path, field_mb: int = 8) -> dict:
    """Peak RSS of importing one `field_mb` MB record in each text peer format, against a
    one-line file, each in its own process: (peak - baseline) / field size. 8 MB: libxml2
    reads a text node of at most 10 MB (BioC)."""
    work.mkdir(parents=True, exist_ok=True)
    size = field_mb << 20
    files = {"tiny.txt": b"one line\n", **long_files(size)}
    for name, content in files.items():
        (work / name).write_bytes(content)
    peaks = {
        name: import_runner.peak_kb(work / name, work, "tests.fuzz.peer_runner", timeout=600)
        for name in files
    }
    return import_runner.memory_ratios(peaks, field_mb)


def memory_child(step: str, project_path: Path) -> None:
    """`create` a spans project, or import the file `step` into it; print the peak RSS."""
    from app.core.io.importer import import_dataset
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project, open_project

    if step == "create":
        create_project(project_path, "spans", [LabelSpec("D")]).close()
        return
    fmt = {"jsonl": "prodigy", "json": "labelstudio", "conll": "conll", "xml": "bioc"}
    suffix = step.rsplit(".", 1)[-1]
    with open_project(project_path) as project:
        import_dataset(
            project, Path(step), fmt=fmt.get(suffix, suffix if suffix != "txt" else None)
        )
    print(_status_kb("VmHWM:"))


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    elif sys.argv[1] == "memory":
        memory_child(sys.argv[2], Path(sys.argv[3]))
