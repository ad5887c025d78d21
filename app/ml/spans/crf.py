"""The default span model: a linear-chain CRF (CRFsuite) on hand-made token features.

Why a CRF rather than the spaCy network (app.ml.spans.model): on NCBI Disease it is more
accurate with few labels and retrains in seconds, not minutes, on two busy cores (figures in
bench/span_model.py and README). It is trained only on the project's own data: features
are the word, its shape and affixes, its neighbours, a gazetteer of the mentions the project
has labelled (app.ml.spans.features), and word clusters learnt from all the project's texts,
labelled or not (app.ml.spans.clusters). Spans may not overlap (BILOU tags: a mention's
last token and a one-word mention have tags of their own); schemas that allow overlaps keep
spaCy's spancat.

Scores: a span's raw score is the least of its tokens' marginal probabilities (and of the
chance that the next token does not continue it); a document's raw confidence is the CRF's
probability of its whole tag sequence, i.e. "every span right and no other span". Both are
calibrated by isotonic maps fitted on out-of-fold predictions (app.ml.spans.calibration).

A model travels as a zip of meta.json (format, labels, language, settings, gazetteer,
calibration, word clusters) and CRFsuite's own binary model file, kept as bytes: nothing is
unpickled. tagloop-crf-1 (before clusters) and tagloop-crf-2 (BIO tags) still load: the
decoder reads both tag schemes.
"""

from __future__ import annotations

import io
import json
import os
import random
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.ml.spans import clusters as C
from app.ml.spans import consistency
from app.ml.spans import encoding as E
from app.ml.spans import features as F
from app.ml.spans.archive import open_model
from app.ml.spans.calibration import Calibration, calibration_metrics, cross_fitted
from app.ml.spans.consistency import Found
from app.ml.spans.metrics import span_metrics
from app.ml.types import Example, Metrics, Prediction

FORMAT = "tagloop-crf-3"  # -3: BILOU tags; -2 added word clusters; -1, -2 (BIO) still load
FORMATS = ("tagloop-crf-1", "tagloop-crf-2", FORMAT)
MEMBERS = ("meta.json", "model.crfsuite")
MAX_BYTES = 256 * 1024 * 1024
ECHO_SCORE = 0.9  # an abbreviation made consistent: this share of its predicted twin's score
ECHO_MIN_MARGINAL = 0.05  # below this the CRF is sure an echo is no mention (measured on NCBI)
GAZETTEER_FOLDS = 4  # training documents see a gazetteer built without their own mentions
# Cross-validation folds of a retrain: 2, each fold's model on fold_iterations. On an NCBI dev
# split (100 abstracts, 3 draws) 2 folds of 30 iterations calibrate the final model as well as
# 3 folds of 60 (dev span ECE 0.043 against 0.047, typed F1 0.652 against 0.651) in 8.8 s CPU
# against 14.8 s; only the cross-fitted ECE the panel shows is rougher (0.064 against 0.046).
CV_FOLDS = 2


@dataclass(frozen=True)
class CrfSettings:
    """Everything that shapes training. Stored in meta.json and checked on load."""

    c1: float = 0.05  # L1: keeps the model small and ignores one-off features
    c2: float = 0.3  # L2: 0.3 gained 4 points of F1 on 100 NCBI abstracts over 0.05 (dev split)
    # L-BFGS iterations of a full retrain: 40 are as accurate as 60 with BILOU tags (dev split
    # typed F1 0.769 / 0.811 against 0.771 / 0.812) and pay for their dearer iterations
    max_iterations: int = 40
    quick_iterations: int = 40  # a quick update after a completed document
    fold_iterations: int = 25  # a CV fold's model: only calibrates and reports, needs fewer
    gazetteer: bool = True
    min_freq: int = 1
    clusters: bool = True  # word clusters of the project's texts (app.ml.spans.clusters)


DEFAULT_SETTINGS = CrfSettings()


def _check_settings(raw: Any) -> CrfSettings:
    if not isinstance(raw, dict):
        raise ValueError("span model settings are not an object")
    defaults = asdict(DEFAULT_SETTINGS)
    unknown = set(raw) - set(defaults)
    if unknown:
        raise ValueError(f"unknown span model settings {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, default in defaults.items():
        value = raw.get(key, default)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000
        else:
            ok = isinstance(value, int | float) and 0 <= value <= 100
        if not ok:
            raise ValueError(f"bad span model setting {key}={value!r}")
        values[key] = value
    return CrfSettings(**values)


# --- the model --------------------------------------------------------------------------------


class CrfSpanModel:
    """A trained CRF span tagger. predict() returns Python string offsets into the text."""

    task_type = "spans"
    format = FORMAT
    kind = "crf"

    def __init__(
        self,
        model: bytes,
        labels: Sequence[str],
        language: str,
        settings: CrfSettings,
        gazetteer: F.Gazetteer,
        calibration: Calibration | None = None,
        info: dict[str, Any] | None = None,
        clusters: C.WordClusters | None = None,
    ) -> None:
        self.model = model
        self.clusters = clusters or C.WordClusters()
        self.labels = tuple(labels)
        self.language = language
        self.settings = settings
        self.gazetteer = gazetteer
        self.calibration = calibration or Calibration()
        self.info = dict(info or {})
        self._local = threading.local()

    def tagger(self) -> Any:
        """This thread's CRFsuite tagger (a tagger holds the sequence being tagged, so the
        pool-scoring threads each need their own); None for a model that learnt nothing."""
        tagger = getattr(self._local, "tagger", None)
        if tagger is None and self.model:
            import pycrfsuite

            tagger = pycrfsuite.Tagger()
            tagger.open_inmemory(self.model)
            self._local.tagger = tagger
            self._local.tags = frozenset(tagger.labels())
        return tagger

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One Prediction per text: spans sorted by start, a calibrated score each, and the
        calibrated chance that the whole answer is right as its confidence."""
        return [self.calibration.apply(p) for p in self.predict_raw(texts)]

    def predict_raw(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions with the CRF's own (uncalibrated) scores."""
        tokenizer, _ = F.blank_tokenizer(self.language)
        tagger = self.tagger()
        out = []
        for text in texts:
            tokens = F.tokenize(tokenizer, text) if isinstance(text, str) else []
            if tagger is None or not tokens:
                out.append(Prediction(value=[], confidence=1.0, span_scores=[]))
                continue
            found, confidence = self._tag_document(tagger, text, tokens)
            value = [
                {"start": tokens[first].start, "end": tokens[last].end, "label": label}
                for first, last, label, _score in found
            ]
            scores = [score for *_, score in found]
            out.append(Prediction(value=value, confidence=confidence, span_scores=scores))
        return out

    def _tag_document(
        self, tagger: Any, text: str, tokens: list[F.Token]
    ) -> tuple[list[Found], float]:
        """Spans (token indices) of one document and the probability of the whole answer:
        each window tagged by Viterbi, then the document's abbreviations made consistent
        (app.ml.spans.consistency), the probability following the changed tag sequences."""
        known = self._local.tags
        found: list[Found] = []
        confidence = 1.0
        spans = F.windows(text, tokens)
        window_features, window_tags = [], []
        words = [t.text for t in tokens]
        gazetteer = [self.gazetteer.tags(words[start:end]) for start, end in spans]
        cues = F.document_cues(words, [tag for window in gazetteer for tag in window])
        for (start, end), tags_here in zip(spans, gazetteer, strict=True):
            features = F.sequence_features(
                words[start:end], tags_here, self.clusters, cues[start:end]
            )
            tagger.set(features)
            tags = tagger.tag()
            confidence *= tagger.probability(tags)
            window_features.append(features)
            window_tags.append(tags)
            for first, last, label, score in _decode(tagger, tags, known):
                found.append((start + first, start + last, label, score))
        extra = consistency.candidates(tokens, found)
        for number, (start, end) in enumerate(spans):
            here = [c for c in extra if start <= c[0] and c[1] < end]
            if not here:
                continue
            tagger.set(window_features[number])
            tags = list(window_tags[number])
            before = tagger.probability(tags)
            for first, last, score in here:
                alone = "U-" if any(tag.startswith("U-") for tag in known) else "B-"
                label = max(
                    (tag[2:] for tag in known if tag.startswith(alone)),
                    key=lambda lab, i=first - start: tagger.marginal(alone + lab, i),
                )
                if tagger.marginal(alone + label, first - start) < ECHO_MIN_MARGINAL:
                    continue  # the CRF is sure it is not a mention here (a gene, say)
                tags[first - start] = alone + label  # an echo is one token (consistency)
                found.append((first, last, label, ECHO_SCORE * score))
            if before > 0:
                confidence *= tagger.probability(tags) / before
        return sorted(found), confidence

    def to_bytes(self) -> bytes:
        meta = {
            "format": FORMAT,
            "labels": list(self.labels),
            "language": self.language,
            "settings": asdict(self.settings),
            "gazetteer": self.gazetteer.to_json(),
            "calibration": self.calibration.to_json(),
            "clusters": self.clusters.to_json() if self.clusters else None,
            "info": self.info,
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.json", json.dumps(meta, sort_keys=True))
            archive.writestr("model.crfsuite", self.model)
        return buffer.getvalue()


def _decode(
    tagger: Any, tags: list[str], known: frozenset[str]
) -> list[tuple[int, int, str, float]]:
    """(first token, last token, label, raw score) of each span in a BILOU tag sequence (a
    BIO one, from a tagloop-crf-1/-2 model, decodes the same way: it has no L- or U-). A
    span opens at any non-O tag, continues over I- of its label and closes at its L-, at a
    U- or where the next tag does not continue it. The score is the least marginal along the
    span, including the chance that the following token does not continue it."""
    out = []
    n, i = len(tags), 0
    while i < n:
        tag = tags[i]
        if tag == "O":
            i += 1
            continue
        label = tag[2:]
        j = i + 1
        if tag[:2] in ("B-", "I-"):
            while j < n and tags[j] == "I-" + label:
                j += 1
            if j < n and tags[j] == "L-" + label:
                j += 1
        score = tagger.marginal(tag, i)
        for k in range(i + 1, j):
            score = min(score, tagger.marginal(tags[k], k))
        if j < n:  # a tag the model never saw cannot continue it
            going_on = sum(
                tagger.marginal(t + label, j) for t in ("I-", "L-") if t + label in known
            )
            score = min(score, 1.0 - going_on)
        out.append((i, j - 1, label, float(max(0.0, min(1.0, score)))))
        i = j
    return out


# --- training ---------------------------------------------------------------------------------


def _trainer(settings: CrfSettings, iterations: int, progress: Progress, cancel: CancelCheck):
    import pycrfsuite

    class Trainer(pycrfsuite.Trainer):
        """Reports L-BFGS iterations as progress; a cancel stops CRFsuite between two."""

        done = 0

        def message(self, message: str) -> None:
            if message.startswith("***** Iteration #"):
                self.done += 1
                check_cancel(cancel)
                progress(self.done, iterations, "Training span model")

    trainer = Trainer(verbose=False)
    trainer.set_params(
        {
            "c1": settings.c1,
            "c2": settings.c2,
            "max_iterations": iterations,
            "feature.minfreq": settings.min_freq,
            "feature.possible_transitions": True,
        }
    )
    return trainer


def _gazetteer_folds(docs: list[E.Document], seed: int) -> list[F.Gazetteer]:
    """For each training document, a gazetteer of the other folds' mentions (jack-knifed), so
    the CRF learns how far to trust a dictionary hit on text it has not seen labelled."""
    if len(docs) < 2:
        return [F.Gazetteer() for _ in docs]
    k = min(GAZETTEER_FOLDS, len(docs))
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    fold_of = {index: position % k for position, index in enumerate(order)}
    gazetteers = [
        F.Gazetteer.from_mentions(
            E.mentions([doc for i, doc in enumerate(docs) if fold_of[i] != fold])
        )
        for fold in range(k)
    ]
    return [gazetteers[fold_of[i]] for i in range(len(docs))]


def train(
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    language: str = "en",
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    settings: CrfSettings = DEFAULT_SETTINGS,
    iterations: int | None = None,
    calibration: Calibration | None = None,
    encoded: dict[int, E.Document] | None = None,
    unlabeled: Sequence[str] = (),
    clusters: C.WordClusters | None = None,
) -> CrfSpanModel:
    """Train the CRF from scratch on these examples (iterations: fewer for a quick update;
    encoded: tokens and tags already made for these examples, by id, shared between folds;
    unlabeled: the project's other texts, for word clusters; clusters: already learnt)."""
    labels = list(dict.fromkeys(str(label) for label in labels))
    tokenizer, language = F.blank_tokenizer(language)
    encoded = {} if encoded is None else encoded
    docs = []
    for ex in examples:
        if isinstance(ex.text, str):
            if id(ex) not in encoded:
                encoded[id(ex)] = E.encode(tokenizer, ex, set(labels), [0])
            docs.append(encoded[id(ex)])
    iterations = iterations or settings.max_iterations
    info: dict[str, Any] = {"n_docs": len(docs), "skipped_spans": sum(d.skipped for d in docs)}
    if not any(tag != "O" for doc in docs for tag in doc.tags):
        return CrfSpanModel(b"", labels, language, settings, F.Gazetteer(), None, info)
    check_cancel(cancel)
    progress(0, iterations, "Preparing span features")
    full_gazetteer = F.Gazetteer.from_mentions(E.mentions(docs)) if settings.gazetteer else None
    per_doc = _gazetteer_folds(docs, seed) if settings.gazetteer else [F.Gazetteer()] * len(docs)
    if clusters is None:
        clusters = _clusters(examples, unlabeled, language, settings, seed)
    trainer = _trainer(settings, iterations, progress, cancel)
    for doc, gazetteer in zip(docs, per_doc, strict=True):
        for xseq, yseq in E.window_items(doc, gazetteer, clusters):
            trainer.append(xseq, yseq)
    check_cancel(cancel)
    handle, path = tempfile.mkstemp(prefix="tagloop-crf-", suffix=".crfsuite")
    os.close(handle)
    try:
        trainer.train(path)
        with open(path, "rb") as model_file:
            model = model_file.read()
    finally:
        os.unlink(path)
    info["iterations"] = iterations
    return CrfSpanModel(
        model,
        labels,
        language,
        settings,
        full_gazetteer or F.Gazetteer(),
        calibration,
        info,
        clusters,
    )


def _clusters(
    examples: Sequence[Example],
    unlabeled: Sequence[str],
    language: str,
    settings: CrfSettings,
    seed: int,
) -> C.WordClusters:
    """Word clusters of every text at hand, labelled or not (none when switched off)."""
    if not settings.clusters:
        return C.WordClusters()
    return C.learn([ex.text for ex in examples] + list(unlabeled), C.words, seed=seed)


def _folds(n: int, folds: int, seed: int) -> list[int]:
    k = max(2, min(folds, n))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    fold_of = [0] * n
    for position, index in enumerate(order):
        fold_of[index] = position % k
    return fold_of


def cross_validate_raw(
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    folds: int = 5,
    language: str = "en",
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    settings: CrfSettings = DEFAULT_SETTINGS,
    encoded: dict[int, E.Document] | None = None,
    unlabeled: Sequence[str] = (),
    clusters: C.WordClusters | None = None,
) -> tuple[list[Prediction], list[int]]:
    """Document-level k-fold: every example's prediction (raw scores) by a model that never
    saw it, and the fold of each example."""
    n = len(examples)
    fold_of = _folds(n, folds, seed)
    k = max(fold_of, default=0) + 1
    if clusters is None:  # learnt once, without labels: every fold may share them
        clusters = _clusters(examples, unlabeled, language, settings, seed)
    predictions: list[Prediction | None] = [None] * n
    for fold in range(k):
        check_cancel(cancel)
        held = [i for i in range(n) if fold_of[i] == fold]
        if not held:
            continue

        def fold_progress(done: int, total: int | None, message: str, fold: int = fold) -> None:
            total = total or 1
            progress(fold * total + done, (k + 1) * total, f"{message} (fold {fold + 1} of {k})")

        model = train(
            [examples[i] for i in range(n) if fold_of[i] != fold],
            labels,
            language=language,
            seed=seed,
            progress=fold_progress,
            cancel=cancel,
            settings=settings,
            encoded=encoded,
            clusters=clusters,
            iterations=settings.fold_iterations,
        )
        for i, p in zip(held, model.predict_raw([examples[i].text for i in held]), strict=True):
            predictions[i] = p
    return [p for p in predictions if p is not None], fold_of


def train_validated(
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    folds: int = 5,
    language: str = "en",
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    settings: CrfSettings = DEFAULT_SETTINGS,
    unlabeled: Sequence[str] = (),
) -> tuple[CrfSpanModel, Metrics, list[Prediction]]:
    """Cross-validated metrics (with span-level ECE of cross-fitted calibrated scores), the
    calibrated out-of-fold predictions, and a model trained on every example whose scores are
    calibrated on all the out-of-fold predictions."""
    folds = min(folds, CV_FOLDS)  # more cost time and calibrate no better (see CV_FOLDS)
    encoded: dict[int, E.Document] = {}
    clusters = _clusters(examples, unlabeled, language, settings, seed)
    raw, fold_of = cross_validate_raw(
        examples,
        labels,
        folds=folds,
        language=language,
        seed=seed,
        progress=progress,
        cancel=cancel,
        settings=settings,
        encoded=encoded,
        clusters=clusters,
    )
    k = max(fold_of, default=0) + 1
    oof = cross_fitted(examples, raw, fold_of)
    metrics = span_metrics([ex.value or [] for ex in examples], [p.value for p in oof], labels)
    metrics["folds"] = k
    metrics.update(calibration_metrics(examples, oof))
    calibration = Calibration.fit(examples, raw)

    def last_progress(done: int, total: int | None, message: str) -> None:
        total = total or 1
        progress(k * total + done, (k + 1) * total, message)

    model = train(
        examples,
        labels,
        language=language,
        seed=seed,
        progress=last_progress,
        cancel=cancel,
        settings=settings,
        calibration=calibration,
        encoded=encoded,
        clusters=clusters,
    )
    return model, metrics, oof


def cross_validate(
    examples: Sequence[Example], labels: Sequence[str], **options: Any
) -> tuple[Metrics, list[Prediction]]:
    """Cross-validated metrics and calibrated out-of-fold predictions (no final model)."""
    raw, fold_of = cross_validate_raw(examples, labels, **options)
    oof = cross_fitted(examples, raw, fold_of)
    metrics = span_metrics([ex.value or [] for ex in examples], [p.value for p in oof], labels)
    metrics["folds"] = max(fold_of, default=0) + 1
    metrics.update(calibration_metrics(examples, oof))
    return metrics, oof


def load(data: bytes) -> CrfSpanModel:
    """A CrfSpanModel from to_bytes() output; ValueError on anything else."""
    archive, meta, labels, language = open_model(data, MEMBERS, MAX_BYTES, FORMATS)
    settings = _check_settings(meta.get("settings"))
    gazetteer = F.Gazetteer.from_json(meta.get("gazetteer"))
    calibration = Calibration.from_json(meta.get("calibration"))
    clusters = C.WordClusters.from_json(meta.get("clusters"))
    info = meta.get("info") if isinstance(meta.get("info"), dict) else {}
    model = CrfSpanModel(
        archive.read("model.crfsuite"),
        labels,
        language,
        settings,
        gazetteer,
        calibration,
        info,
        clusters,
    )
    if model.model:
        try:
            model.tagger()
        except Exception as error:  # CRFsuite refuses a file that is not its model
            raise ValueError(f"span model does not load: {error}") from error
    return model


__all__ = ["DEFAULT_SETTINGS", "FORMAT", "CrfSettings", "CrfSpanModel", "load", "train"]
