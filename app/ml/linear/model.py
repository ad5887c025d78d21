"""Linear models for classification and multilabel: hashed word + char n-grams (features.py),
logistic regression with balanced class weights, Platt / temperature calibration fit on
out-of-fold scores, and per-label thresholds for multilabel chosen on out-of-fold
probabilities.

Why this shape: it trains in about a second on 10k texts on one CPU core, scores a large
pool quickly without building sparse matrices, and serialises to a zip of JSON + .npy arrays
(np.load with allow_pickle=False), so a model from someone else's bundle cannot run code.

This module holds the model, its scoring and its serialisation; training, calibration and
cross-validation are in app.ml.linear.fit, which imports this module (never the other way).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.ml import features
from app.ml.types import Prediction

FORMAT = "tagloop-linear-1"
TASKS = ("classification", "multilabel")
MAX_MEMBER = 256 << 20  # a model member larger than this is refused on load
MAX_MEMBERS = 16
_MEMBERS = {"meta.json", "coef_index.npy", "coef_value.npy", "intercept.npy"}


@dataclass
class LinearModel:
    """A trained linear model; everything in it is numbers, strings and arrays."""

    task_type: str
    labels: tuple[str, ...]
    feature_params: dict[str, Any]
    classes: list[str]  # labels with a fitted column (order of coef's columns)
    coef: np.ndarray  # (n_features, k) float32
    intercept: np.ndarray  # (k,) float64
    calibration: dict[str, Any]
    thresholds: dict[str, float] = field(default_factory=dict)
    constant: dict[str, float] = field(default_factory=dict)  # label -> fixed probability
    format: str = FORMAT

    # -- scoring -------------------------------------------------------------------------
    def raw_scores(self, texts: Sequence[str] | None = None, matrix: Any = None) -> np.ndarray:
        """Decision scores (n, k) from texts (fast streaming path) or a feature matrix."""
        if self.coef.shape[1] == 0:
            n = matrix.shape[0] if matrix is not None else len(texts or [])
            return np.zeros((n, 0))
        if matrix is not None:
            return np.asarray(matrix @ self.coef, dtype=np.float64) + self.intercept
        return features.linear_scores(texts or [], self.feature_params, self.coef, self.intercept)

    def proba(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (n, len(labels)) from raw scores."""
        n = raw.shape[0]
        out = np.zeros((n, len(self.labels)))
        index = {label: i for i, label in enumerate(self.labels)}
        for label, value in self.constant.items():
            out[:, index[label]] = value
        if not self.classes:
            return out
        cal = self.calibration
        if self.task_type == "multilabel":
            a = np.asarray(cal["a"])
            b = np.asarray(cal["b"])
            probs = sigmoid(raw * a + b)
            for j, label in enumerate(self.classes):
                out[:, index[label]] = probs[:, j]
        elif len(self.classes) == 2:
            p = sigmoid(raw[:, 0] * cal["a"][0] + cal["b"][0])
            out[:, index[self.classes[0]]] = 1 - p
            out[:, index[self.classes[1]]] = p
        else:
            z = raw / cal["t"]
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            e /= e.sum(axis=1, keepdims=True)
            for j, label in enumerate(self.classes):
                out[:, index[label]] = e[:, j]
        return out

    def predict_proba(self, texts: Sequence[str] | None = None, matrix: Any = None) -> np.ndarray:
        return self.proba(self.raw_scores(texts, matrix))

    def decide(self, probs: np.ndarray) -> tuple[list[Any], np.ndarray]:
        """The answer for each row of a probability matrix and the confidence in it: the top
        label (classification), or the labels at or above their thresholds (multilabel), whose
        confidence is that of the least sure label decision."""
        labels = self.labels
        if self.task_type == "classification":
            top = probs.argmax(axis=1)
            return [labels[j] for j in top.tolist()], probs[np.arange(len(probs)), top]
        thresholds = np.array([self.thresholds.get(label, 0.5) for label in labels])
        chosen = probs >= thresholds
        sure = np.where(chosen, probs, 1 - probs)
        confidence = sure.min(axis=1) if len(labels) else np.ones(len(probs))
        return [[labels[j] for j in np.flatnonzero(row)] for row in chosen], confidence

    def predictions(self, probs: np.ndarray) -> list[Prediction]:
        """Predictions in the contract's shape from a probability matrix."""
        values, confidence = self.decide(probs)
        return [
            Prediction(value, float(conf), dict(zip(self.labels, row, strict=True)))
            for value, conf, row in zip(values, confidence.tolist(), probs.tolist(), strict=True)
        ]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return self.predictions(self.predict_proba(texts))

    def pool_rows(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """What scoring a large pool stores, as arrays: the predicted value as JSON, the
        confidence, and the probabilities (n, labels). Same answers as predictions(), without
        a Prediction object per text (that alone cost 4 s per million)."""
        probs = self.predict_proba(texts)
        values, confidence = self.decide(probs)
        if self.task_type == "classification":
            encoded = {label: json.dumps(label, ensure_ascii=False) for label in self.labels}
            return [encoded[value] for value in values], confidence, probs
        return [json.dumps(value, ensure_ascii=False) for value in values], confidence, probs

    # -- serialisation -------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """A zip of meta.json and .npy arrays: no pickle anywhere."""
        meta = {
            "format": FORMAT,
            "task_type": self.task_type,
            "labels": list(self.labels),
            "classes": list(self.classes),
            "features": self.feature_params,
            "n_features": int(self.coef.shape[0]),
            "calibration": self.calibration,
            "thresholds": self.thresholds,
            "constant": self.constant,
        }
        flat = self.coef.ravel()
        nonzero = np.flatnonzero(flat).astype(np.int64)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("meta.json", json.dumps(meta, sort_keys=True))
            for name, array in (
                ("coef_index.npy", nonzero),
                ("coef_value.npy", flat[nonzero].astype(np.float32)),
                ("intercept.npy", self.intercept.astype(np.float64)),
            ):
                out = io.BytesIO()
                np.save(out, array, allow_pickle=False)
                archive.writestr(name, out.getvalue())
        return buffer.getvalue()


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, overflow-free: Platt calibration both when fitting (fit.py) and
    when scoring (LinearModel.proba) must use this same one."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def load(data: bytes) -> LinearModel:
    """A model from to_bytes(); anything unexpected is a ValueError, never code execution."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"not a Tagloop linear model: {exc}") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ValueError("too many members in the model file")
        names = {info.filename for info in infos}
        if names != _MEMBERS:
            raise ValueError(f"unexpected members in the model file: {sorted(names ^ _MEMBERS)}")
        for info in infos:
            if info.file_size > MAX_MEMBER:
                raise ValueError(f"model member {info.filename} is too large")
        try:
            meta = json.loads(archive.read("meta.json"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"broken model metadata: {exc}") from None

        def array(name: str) -> np.ndarray:
            raw = archive.read(name)
            if len(raw) > MAX_MEMBER:
                raise ValueError(f"model member {name} is too large")
            return np.load(io.BytesIO(raw), allow_pickle=False)

        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"unknown model format {meta.get('format')!r}")
        index, value, intercept = (
            array("coef_index.npy"),
            array("coef_value.npy"),
            array("intercept.npy"),
        )
    try:
        task_type = meta["task_type"]
        if task_type not in TASKS:
            raise ValueError(f"unknown task type {task_type!r}")
        labels = tuple(str(label) for label in meta["labels"])
        classes = [str(label) for label in meta["classes"]]
        params = features.check_params(meta["features"])
        n_feat = int(meta["n_features"])
        if n_feat != features.n_features(params) or not set(classes) <= set(labels):
            raise ValueError("inconsistent model metadata")
        k = len(classes) if task_type == "multilabel" or len(classes) > 2 else min(len(classes), 1)
        if index.dtype.kind != "i" or value.dtype.kind != "f" or len(index) != len(value):
            raise ValueError("bad coefficient arrays")
        if len(index) and (index.min() < 0 or index.max() >= n_feat * max(k, 1)):
            raise ValueError("coefficient index out of range")
        if intercept.shape != (k,):
            raise ValueError("bad intercept array")
        coef = np.zeros(n_feat * k, np.float32)
        coef[index] = value
        return LinearModel(
            task_type=task_type,
            labels=labels,
            feature_params=params,
            classes=classes,
            coef=coef.reshape(n_feat, k),
            intercept=intercept.astype(np.float64),
            calibration=_check_calibration(meta["calibration"]),
            thresholds={str(k_): float(v) for k_, v in dict(meta["thresholds"]).items()},
            constant={str(k_): float(v) for k_, v in dict(meta["constant"]).items()},
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"broken model metadata: {exc!r}") from None


def _check_calibration(cal: Any) -> dict[str, Any]:
    if not isinstance(cal, dict):
        raise ValueError("bad calibration")
    out: dict[str, Any] = {}
    if "a" in cal:
        out["a"] = [float(x) for x in cal["a"]]
        out["b"] = [float(x) for x in cal["b"]]
    if "t" in cal:
        out["t"] = float(cal["t"])
        if not out["t"] > 0:
            raise ValueError("bad temperature")
    return out
