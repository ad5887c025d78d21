"""Demo projects built from the public data shipped in resources/demo.

- spam: SMS Spam Collection, classification (ham/spam), the first 500 messages labeled;
- diseases: NCBI Disease corpus, span tagging of disease mentions, the test set labeled;
- mention types: the same abstracts, multilabel by which mention types each one contains.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import platformdirs

from app.core.errors import ProjectError
from app.core.io.formats.pubtator import documents
from app.core.io.importer import import_dataset
from app.core.jobs import CancelCheck, Progress, never_cancel, no_progress
from app.core.project.label_schema import LabelSpec
from app.core.project.project import create_project, open_project
from app.core.resources import resource_path

SPAM_LABELED = 500
MENTION_TYPES = {
    "SpecificDisease": "A named, specific disease, e.g. 'Duchenne muscular dystrophy'.",
    "DiseaseClass": "A class of diseases, e.g. 'cancers' or 'autosomal recessive disease'.",
    "CompositeMention": "Several diseases in one mention, e.g. 'breast and ovarian cancer'.",
    "Modifier": "A disease word that modifies another noun, e.g. 'the *DMD* gene'.",
}
SPAM_GUIDELINES = """# Spam or ham

Label each SMS message.

- **spam**: unsolicited commercial or fraudulent messages: prizes, offers, premium numbers.
- **ham**: everything else, including informal chat with typos and abbreviations.

When unsure, prefer **ham**: wrongly blocking a real message costs more than letting spam through.
"""
_TYPE_LIST = "\n".join(f"- **{name}**: {text}" for name, text in MENTION_TYPES.items())
DISEASE_GUIDELINES = f"""# Disease mentions (NCBI Disease corpus)

Mark every mention of a disease in the title and abstract of each PubMed article.

{_TYPE_LIST}"""
TYPE_GUIDELINES = f"""# Mention types

Tick every type of disease mention in the abstract.

{_TYPE_LIST}"""


# The bench and the span-model tests read PubTator through this name.
read_pubtator = documents


def _demo_dir() -> Path:
    return Path(platformdirs.user_data_dir("tagloop", False)) / "demo"


DEMO_NAMES = ("spam.tagloop", "diseases.tagloop", "mention-types.tagloop")


def build_demo(
    directory: Path | None = None,
    force: bool = False,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> list[Path]:
    """Build the three demo projects (or reuse them if already built); spam comes first."""
    directory = Path(directory) if directory else _demo_dir()
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in DEMO_NAMES]
    builders = (_build_spam, _build_diseases, _build_mention_types)
    for step, (path, builder) in enumerate(zip(paths, builders, strict=True)):
        if path.exists():
            if not force:
                try:
                    open_project(path).close()
                    continue
                except ProjectError:
                    pass  # a broken leftover: build it again
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        progress(step, len(paths), f"Building demo {path.name}")
        with tempfile.TemporaryDirectory() as tmp:
            builder(path, Path(tmp), cancel)
    progress(len(paths), len(paths), "Demo projects ready")
    return paths


def _build_spam(path: Path, tmp: Path, cancel: CancelCheck) -> None:
    source = resource_path("demo/sms_spam.tsv")
    staged = tmp / "sms_spam.tsv"
    with (
        source.open(encoding="utf-8", newline="") as src,
        staged.open("w", encoding="utf-8") as out,
    ):
        for number, line in enumerate(src):
            if number > SPAM_LABELED:  # keep the header and the first labels, blank the rest
                line = "\t" + line.split("\t", 1)[1]
            out.write(line)
    labels = [
        LabelSpec("ham", "#009E73", "1", "A real message."),
        LabelSpec("spam", "#D55E00", "2", "Unsolicited or fraudulent."),
    ]
    project = create_project(
        path, "classification", labels, guidelines=SPAM_GUIDELINES, name="SMS spam"
    )
    with project:
        import_dataset(
            project,
            staged,
            mapping={"SMS": "text"},
            label_column="Label",
            annotator="SMS Spam Collection",
            cancel=cancel,
        )


def _stage_ncbi(tmp: Path, multilabel: bool) -> list[Path]:
    staged = []
    for name in ("ncbi_disease_test", "ncbi_disease_train"):
        out = tmp / f"{name}.jsonl"
        with out.open("w", encoding="utf-8") as handle:
            for doc in documents(resource_path(f"demo/{name}.pubtator")):
                record: dict = {"pmid": doc.pmid, "text": doc.text}
                if name.endswith("test"):  # the test set comes labeled, the rest is to do
                    if multilabel:
                        labels = sorted({span["label"] for span in doc.spans})
                        record["label"] = [x for x in MENTION_TYPES if x in labels]
                    else:
                        record["label"] = doc.spans
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        staged.append(out)
    return staged


def _disease_labels() -> list[LabelSpec]:
    colours = ("#D55E00", "#0072B2", "#CC79A7", "#009E73")
    return [
        LabelSpec(name, colour, str(i + 1), text)
        for i, ((name, text), colour) in enumerate(zip(MENTION_TYPES.items(), colours, strict=True))
    ]


def _build_ncbi(
    path: Path, tmp: Path, cancel: CancelCheck, task_type: str, name: str, guidelines: str
) -> None:
    project = create_project(
        path,
        task_type,
        _disease_labels(),
        inputs=["text", "pmid"],
        guidelines=guidelines,
        name=name,
    )
    with project:
        for staged in _stage_ncbi(tmp, multilabel=task_type == "multilabel"):
            import_dataset(
                project,
                staged,
                mapping={"text": "text", "pmid": "pmid"},
                label_column="label",
                annotator="NCBI Disease corpus",
                cancel=cancel,
            )


def _build_diseases(path: Path, tmp: Path, cancel: CancelCheck) -> None:
    _build_ncbi(path, tmp, cancel, "spans", "Disease mentions", DISEASE_GUIDELINES)


def _build_mention_types(path: Path, tmp: Path, cancel: CancelCheck) -> None:
    _build_ncbi(path, tmp, cancel, "multilabel", "Disease mention types", TYPE_GUIDELINES)
