"""Span tagging models: a blank spaCy pipeline trained from scratch on the user's spans.

Since issue #17 the default span model is the CRF (app.ml.spans.crf); this module serves the
schemas that allow overlapping spans (spancat), and loads the ner models saved before.

- Spans that may not overlap: spaCy's transition-based ``ner``. It gives no probabilities
  when parsed greedily, so predictions are decoded with a small beam and each entity's score
  is the total probability of the beam parses that contain it (spaCy's own ``scored_ents``).
- Spans that may overlap: ``spancat`` over n-gram suggestions, whose sigmoid scores are the
  span scores directly; a span is predicted when its best label clears the threshold.

Both use a small CNN tok2vec on hashed NORM/PREFIX/SUFFIX/SHAPE features inside the component
(no shared tok2vec listener), sized by measurement on the NCBI Disease corpus so that training
on ~600 abstracts stays within about a minute on two CPU cores (see DEFAULTS).

A model travels as a zip of meta.json (format, labels, language, pipeline kind, settings,
config) and spaCy's msgpack bytes of the pipeline. Loading rebuilds the pipeline from the
validated settings, never from an arbitrary config, and never unpickles anything.
"""

from __future__ import annotations

import io
import json
import logging
import random
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.ml.spans.archive import open_model
from app.ml.spans.metrics import span_metrics
from app.ml.types import Example, Metrics, Prediction

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

log = logging.getLogger(__name__)

FORMAT = "tagloop-spacy-1"
KINDS = ("ner", "spancat", "none")  # "none": trained on no spans, predicts none
MEMBERS = ("meta.json", "pipeline.bin")
MAX_BYTES = 512 * 1024 * 1024
SPANS_KEY = "sc"
HOLDOUT_MIN_DOCS = 50  # from here on, 10% of the documents choose the best epoch


@dataclass(frozen=True)
class Settings:
    """Everything that shapes the pipeline and its training. Stored in meta.json, so a model
    is rebuilt from these numbers on load rather than from a config someone could edit."""

    width: int = 64  # tok2vec width
    depth: int = 2  # CNN layers (receptive field 2 * depth + 1 tokens)
    embed_size: int = 2000  # hash embedding rows per attribute
    hidden_width: int = 64  # ner state hidden layer
    spancat_hidden: int = 128  # spancat reducer hidden layer
    max_ngram: int = 6  # spancat suggests every 1..max_ngram token span
    threshold: float = 0.5  # spancat decision threshold
    beam_width: int = 4  # ner beam used only to score the greedy parse's entities
    epochs: int = 0  # 0: chosen from the number of documents (see epochs_for)
    batch_size: int = 8  # documents per update
    dropout: float = 0.2
    learn_rate: float = 0.002

    def epochs_for(self, n_docs: int) -> int:
        """Small sets get more passes: the same number of updates costs little there."""
        if self.epochs > 0:
            return self.epochs
        return max(9, min(30, round(5500 / max(n_docs, 1))))


DEFAULTS = Settings()


def _check_settings(raw: Any) -> Settings:
    """Settings from meta.json, refusing unknown keys and wrong types or ranges."""
    if not isinstance(raw, dict):
        raise ValueError("model settings are not an object")
    fields = asdict(DEFAULTS)
    unknown = set(raw) - set(fields)
    if unknown:
        raise ValueError(f"unknown model settings {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, default in fields.items():
        value = raw.get(key, default)
        if isinstance(default, int) and not (isinstance(value, int) and 0 <= value <= 100_000):
            raise ValueError(f"bad model setting {key}={value!r}")
        if isinstance(default, float) and not (isinstance(value, int | float) and 0 <= value <= 1):
            raise ValueError(f"bad model setting {key}={value!r}")
        values[key] = value
    return Settings(**values)


def _tok2vec(s: Settings) -> dict[str, Any]:
    return {
        "@architectures": "spacy.HashEmbedCNN.v2",
        "pretrained_vectors": None,
        "width": s.width,
        "depth": s.depth,
        "embed_size": s.embed_size,
        "window_size": 1,
        "maxout_pieces": 3,
        "subword_features": True,
    }


def _component_config(kind: str, s: Settings) -> dict[str, Any]:
    if kind == "ner":
        return {
            "model": {
                "@architectures": "spacy.TransitionBasedParser.v2",
                "state_type": "ner",
                "extra_state_tokens": False,
                "hidden_width": s.hidden_width,
                "maxout_pieces": 2,
                "use_upper": True,
                "nO": None,
                "tok2vec": _tok2vec(s),
            }
        }
    return {
        "spans_key": SPANS_KEY,
        "threshold": s.threshold,
        "max_positive": 1,
        "suggester": {
            "@misc": "spacy.ngram_suggester.v1",
            "sizes": list(range(1, s.max_ngram + 1)),
        },
        "model": {
            "@architectures": "spacy.SpanCategorizer.v1",
            "reducer": {"@layers": "spacy.mean_max_reducer.v1", "hidden_size": s.spancat_hidden},
            "scorer": {"@layers": "spacy.LinearLogistic.v1", "nO": None, "nI": None},
            "tok2vec": _tok2vec(s),
        },
    }


def _blank(language: str) -> tuple[Language, str]:
    """spacy.blank(language) (app.core.annotation.tokens.blank_pipeline), or a fallback when
    spaCy does not know the language or its tokenizer needs a package that is not installed:
    one token per character ('zh') for Japanese and Thai, as the span editor then snaps,
    else English."""
    from app.core.annotation.tokens import blank_pipeline, unspaced_fallback

    try:
        nlp = blank_pipeline(language)
        nlp.make_doc("test")
        return nlp, language
    except Exception:
        fallback = unspaced_fallback(language)
        log.warning("spaCy has no usable blank pipeline for %r; using %r", language, fallback)
        return blank_pipeline(fallback), fallback


def _build(kind: str, labels: Sequence[str], language: str, s: Settings) -> tuple[Language, str]:
    """The untrained pipeline; labels empty when its weights and labels come from bytes
    (adding them first would fix the output layer's size before from_bytes sets it)."""
    nlp, language = _blank(language)
    if kind != "none":
        pipe = nlp.add_pipe(kind, config=_component_config(kind, s))
        for label in labels:
            pipe.add_label(label)
    return nlp, language


class SpanModel:
    """A trained span tagger. predict() returns Python string offsets into the given text."""

    task_type = "spans"
    format = FORMAT

    def __init__(
        self,
        nlp: Language,
        kind: str,
        labels: Sequence[str],
        language: str,
        settings: Settings,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.nlp = nlp
        self.kind = kind
        self.labels = tuple(labels)
        self.language = language
        self.settings = settings
        self.info = dict(info or {})

    def predict(self, texts: Sequence[str], *, batch_size: int = 32) -> list[Prediction]:
        """One Prediction per text: spans sorted by (start, end), with a score each."""
        texts = list(texts)
        if self.kind == "none":
            return [Prediction(value=[], confidence=1.0, span_scores=[]) for _ in texts]
        out: list[Prediction] = []
        for i in range(0, len(texts), batch_size):
            docs = [self.nlp.make_doc(text) for text in texts[i : i + batch_size]]
            if self.kind == "ner":
                out.extend(self._predict_ner(docs))
            else:
                out.extend(self._predict_spancat(docs))
        return out

    def _predict_ner(self, docs: list[Doc]) -> list[Prediction]:
        """Greedy-decode (what the model was trained for: beam decoding of this greedy model
        cost 0.17 F1 on NCBI), then score each entity by the probability mass of the beam
        parses that contain it; an entity the beam never proposes scores 0."""
        ner = self.nlp.get_pipe("ner")
        if not any(len(doc) for doc in docs):
            return [Prediction(value=[], confidence=1.0, span_scores=[]) for _ in docs]
        ner.set_annotations(docs, ner.greedy_parse(docs))
        beams = ner.beam_parse(docs, beam_width=max(2, self.settings.beam_width))
        scored = ner.scored_ents(beams)
        out = []
        for doc, scores in zip(docs, scored, strict=True):
            value, span_scores = [], []
            chosen = set()
            for ent in doc.ents:
                key = (ent.start, ent.end, ent.label_)
                chosen.add(key)
                offsets = _trimmed(doc, ent.start, ent.end)
                if offsets is None:
                    continue
                value.append({"start": offsets[0], "end": offsets[1], "label": ent.label_})
                span_scores.append(min(1.0, max(0.0, float(scores.get(key, 0.0)))))
            out.append(_prediction(value, span_scores, scores, chosen))
        return out

    def _predict_spancat(self, docs: list[Doc]) -> list[Prediction]:
        """Every suggested n-gram whose best label clears the threshold is a span."""
        spancat = self.nlp.get_pipe("spancat")
        labels = list(spancat.labels)
        indices, scores = spancat.predict(docs)
        import numpy as np

        starts_ends = np.asarray(indices.dataXd) if len(indices.dataXd) else np.zeros((0, 2))
        lengths = np.asarray(indices.lengths)
        scores = np.asarray(scores)
        threshold = self.settings.threshold
        out, offset = [], 0
        for doc, length in zip(docs, lengths, strict=True):
            rows = slice(offset, offset + int(length))
            offset += int(length)
            found, rejected = [], 0.0
            if int(length) and len(labels):
                best = scores[rows].argmax(axis=1)
                best_score = scores[rows].max(axis=1)
                for (start, end), label, p in zip(starts_ends[rows], best, best_score, strict=True):
                    if p >= threshold:
                        offsets = _trimmed(doc, int(start), int(end))
                        if offsets is not None:
                            found.append((*offsets, labels[label], float(p)))
                    else:
                        rejected = max(rejected, float(p))
            found = sorted(set(found))
            value = [{"start": s, "end": e, "label": lab} for s, e, lab, _ in found]
            span_scores = [min(1.0, p) for *_, p in found]
            confidence = min(span_scores) if span_scores else 1.0 - rejected
            out.append(Prediction(value=value, confidence=confidence, span_scores=span_scores))
        return out

    def to_bytes(self) -> bytes:
        """meta.json + spaCy's msgpack pipeline bytes, in an in-memory zip."""
        meta = {
            "format": FORMAT,
            "labels": list(self.labels),
            "language": self.language,
            "kind": self.kind,
            "settings": asdict(self.settings),
            "config": self.nlp.config.to_str(),
            "info": self.info,
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.json", json.dumps(meta, indent=1, sort_keys=True))
            archive.writestr("pipeline.bin", self.nlp.to_bytes())
        return buffer.getvalue()


def _trimmed(doc: Doc, start: int, end: int) -> tuple[int, int] | None:
    """Character offsets of tokens start..end without whitespace tokens at either edge (a
    model can tag a line break), or None when nothing but whitespace is left."""
    while start < end and doc[start].is_space:
        start += 1
    while end > start and doc[end - 1].is_space:
        end -= 1
    if start == end:
        return None
    return doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text)


def _prediction(
    value: list[dict[str, Any]],
    span_scores: list[float],
    candidates: dict[tuple[int, int, str], float],
    chosen: set[tuple[int, int, str]],
) -> Prediction:
    if span_scores:
        confidence = min(span_scores)
    else:
        rejected = max((p for key, p in candidates.items() if key not in chosen), default=0.0)
        confidence = 1.0 - min(1.0, float(rejected))
    return Prediction(value=value, confidence=confidence, span_scores=span_scores)


def load(data: bytes) -> SpanModel:
    """A SpanModel from to_bytes() output; ValueError on anything else."""
    archive, meta, labels, language = open_model(data, MEMBERS, MAX_BYTES, (FORMAT,))
    kind = meta.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown span pipeline kind {kind!r}")
    settings = _check_settings(meta.get("settings"))
    nlp, language = _build(kind, (), language, settings)
    try:
        nlp.from_bytes(archive.read("pipeline.bin"))
    except Exception as error:  # msgpack/shape errors: the bytes do not fit the settings
        raise ValueError(f"span model pipeline does not load: {error}") from error
    info = meta.get("info") if isinstance(meta.get("info"), dict) else {}
    return SpanModel(nlp, kind, labels, language, settings, info)


def _reference(nlp: Language, text: str, spans: Any, kind: str) -> tuple[Doc, int]:
    """The gold Doc for one example, and how many spans could not be placed on tokens."""
    from spacy.util import filter_spans

    doc = nlp.make_doc(text)
    placed, skipped = [], 0
    for span in spans or []:
        try:
            start, end, label = int(span["start"]), int(span["end"]), str(span["label"])
        except (KeyError, TypeError, ValueError):
            skipped += 1
            continue
        char_span = doc.char_span(start, end, label=label, alignment_mode="expand")
        if char_span is None or len(char_span) == 0:
            skipped += 1
            continue
        placed.append(char_span)
    if kind == "ner":
        kept = filter_spans(placed)  # ner cannot hold overlaps: keep the longest
        skipped += len(placed) - len(kept)
        doc.set_ents(kept, default="outside")
    else:
        doc.spans[SPANS_KEY] = placed
    return doc, skipped


def train(
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    allow_overlap: bool = False,
    language: str = "en",
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    settings: Settings = DEFAULTS,
) -> SpanModel:
    """Train ner (or spancat when spans may overlap) from scratch on these examples."""
    import spacy
    from spacy.training import Example as SpacyExample
    from spacy.util import minibatch

    labels = list(dict.fromkeys(str(label) for label in labels))
    kind = "spancat" if allow_overlap else "ner"
    # Spans with labels outside the schema are skipped, not learnt.
    label_set = set(labels)
    cleaned = [
        Example(
            ex.text,
            [s for s in (ex.value or []) if isinstance(s, dict) and s.get("label") in label_set],
        )
        for ex in examples
        if isinstance(ex.text, str)
    ]
    outside = sum(len(ex.value or []) for ex in examples) - sum(len(ex.value) for ex in cleaned)
    if not labels or not any(ex.value for ex in cleaned):
        nlp, language = _build("none", labels, language, settings)
        return SpanModel(nlp, "none", labels, language, settings, {"n_docs": len(cleaned)})

    spacy.util.fix_random_seed(seed)
    rng = random.Random(seed)
    nlp, language = _build(kind, labels, language, settings)
    train_examples, skipped = [], 0
    for ex in cleaned:
        reference, lost = _reference(nlp, ex.text, ex.value, kind)
        skipped += lost
        train_examples.append(SpacyExample(nlp.make_doc(ex.text), reference))
    if skipped:
        log.warning("%d spans do not fall on tokens or overlap and were not learnt", skipped)

    # From-scratch F1 swings by 0.1-0.3 between epochs on NCBI, so with enough documents a
    # held-out slice picks the best epoch's (averaged) weights instead of the last one's.
    held: list[Any] = []
    if len(train_examples) >= HOLDOUT_MIN_DOCS:
        rng.shuffle(train_examples)
        cut = max(10, len(train_examples) // 10)
        held, train_examples = train_examples[:cut], train_examples[cut:]
    optimizer = nlp.initialize(lambda: train_examples)
    optimizer.learn_rate = settings.learn_rate
    epochs = settings.epochs_for(len(train_examples) + len(held))
    progress(0, epochs, "Training span model")
    best_f1, best_epoch, data = -1.0, epochs, b""
    for epoch in range(epochs):
        rng.shuffle(train_examples)
        for batch in minibatch(train_examples, size=settings.batch_size):
            check_cancel(cancel)
            nlp.update(batch, drop=settings.dropout, sgd=optimizer)
        # Averaged weights are smoother than the last step's; bytes make a loaded model
        # predict exactly what this one does.
        with nlp.use_params(optimizer.averages):
            f1 = _heldout_f1(nlp, held) if held else 0.0
            if not held and epoch + 1 < epochs:
                f1 = -1.0  # without a held-out slice the last epoch is kept
            if f1 > best_f1:
                best_f1, best_epoch, data = f1, epoch + 1, nlp.to_bytes()
        progress(epoch + 1, epochs, "Training span model")
    final, language = _build(kind, (), language, settings)
    final.from_bytes(data)
    info = {
        "n_docs": len(train_examples) + len(held),
        "heldout_docs": len(held),
        "heldout_f1": best_f1 if held else None,
        "best_epoch": best_epoch,
        "epochs": epochs,
        "skipped_spans": skipped,
        "spans_outside_schema": outside,
    }
    return SpanModel(final, kind, labels, language, settings, info)


def _heldout_f1(nlp: Language, held: list[Any]) -> float:
    """Exact-match micro F1 on held-out examples (greedy decoding: 3x faster than beam)."""
    kind = nlp.pipe_names[0]
    docs = list(nlp.pipe([eg.reference.text for eg in held], batch_size=32))
    gold, pred = [], []
    for doc, eg in zip(docs, held, strict=True):
        if kind == "ner":
            gold_spans, pred_spans = eg.reference.ents, doc.ents
        else:
            gold_spans, pred_spans = eg.reference.spans[SPANS_KEY], doc.spans[SPANS_KEY]
        gold.append([_as_dict(span) for span in gold_spans])
        pred.append([_as_dict(span) for span in pred_spans])
    return float(span_metrics(gold, pred)["micro"]["f1"])


def _as_dict(span: Any) -> dict[str, Any]:
    return {"start": span.start_char, "end": span.end_char, "label": span.label_}


def cross_validate(
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    folds: int = 5,
    allow_overlap: bool = False,
    language: str = "en",
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    settings: Settings = DEFAULTS,
) -> tuple[Metrics, list[Prediction]]:
    """Document-level k-fold: each example is predicted by a model that never saw it."""
    n = len(examples)
    k = max(2, min(folds, n))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    fold_of = {index: position % k for position, index in enumerate(order)}
    predictions: list[Prediction | None] = [None] * n
    for fold in range(k):
        check_cancel(cancel)
        held = [i for i in range(n) if fold_of[i] == fold]
        if not held:
            continue
        rest = [examples[i] for i in range(n) if fold_of[i] != fold]

        def fold_progress(done: int, total: int | None, message: str, fold: int = fold) -> None:
            total = total or 1
            progress(fold * total + done, k * total, f"{message} (fold {fold + 1} of {k})")

        model = train(
            rest,
            labels,
            allow_overlap=allow_overlap,
            language=language,
            seed=seed,
            progress=fold_progress,
            cancel=cancel,
            settings=settings,
        )
        for i, prediction in zip(
            held, model.predict([examples[i].text for i in held]), strict=True
        ):
            predictions[i] = prediction
    done = [p for p in predictions if p is not None]
    metrics = span_metrics([ex.value or [] for ex in examples], [p.value for p in done], labels)
    metrics["folds"] = k
    return metrics, done


__all__ = ["DEFAULTS", "FORMAT", "Settings", "SpanModel", "cross_validate", "load", "train"]
