"""Shared data for the ml tests: slices of the real SMS and NCBI data, no Qt."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.ml.types import Example

ROOT = Path(__file__).resolve().parents[2]
SMS_200 = ROOT / "tests" / "fixtures" / "sms_spam_200.tsv"
SMS_FULL = ROOT.parent / "shared" / "data" / "sms_spam.tsv"
NCBI_40 = Path(__file__).parent / "fixtures" / "ncbi_train_40.pubtator"
NCBI_10 = Path(__file__).parent / "fixtures" / "ncbi_test_10.pubtator"


def read_sms(path: Path, limit: int | None = None) -> list[Example]:
    out = []
    with path.open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            label, _, text = line.rstrip("\n").partition("\t")
            out.append(Example(text, label))
            if limit and len(out) >= limit:
                break
    return out


@pytest.fixture(scope="session")
def sms200() -> list[Example]:
    return read_sms(SMS_200)


@pytest.fixture(scope="session")
def sms1500() -> list[Example]:
    if not SMS_FULL.exists():
        pytest.skip("the shared SMS data is not here")
    return read_sms(SMS_FULL, 1500)


@pytest.fixture(scope="session")
def mention_types() -> tuple[list[Example], list[str]]:
    from app.ml.bench import data

    return data.read_examples(NCBI_40, "multilabel")
