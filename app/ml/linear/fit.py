"""Training, calibration and cross-validation of the linear models (LinearModel in model.py).

Why a module of its own: model.py is what scoring and loading need (the model, its
probabilities, its safe serialisation), and stays free of scikit-learn and scipy; everything
that fits a model — the logistic regressions, Platt / temperature calibration on out-of-fold
scores, multilabel thresholds, the folds of train_validated and cross_validate — lives here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.ml import features
from app.ml.linear.model import TASKS, LinearModel, sigmoid
from app.ml.types import Example, Metrics, Prediction

C_CLASSIFICATION = 30.0  # SMS 5-fold macro-F1: C=10 .9796, 30 .9816, 100 .9812
C_MULTILABEL = 10.0  # NCBI mention types 5-fold macro-F1: C=1 .765, 3 .764, 10 .773, 30 .773
CALIBRATION_FOLDS = 3
# Solvers by measurement on SMS (same L2 problem, same F1): liblinear's dual solver is
# fastest while texts are fewer than features (500 texts: 11 ms vs lbfgs 48 ms), newton-cg
# beyond (10k texts: 0.49 s vs lbfgs 0.91 s, liblinear primal 2.0 s).
DUAL_BELOW = 2000


def targets(task_type: str, examples: Sequence[Example], labels: Sequence[str]) -> Any:
    """classification: list of labels; multilabel: (n, L) 0/1 matrix. Unknown labels refused."""
    known = set(labels)
    if task_type == "classification":
        ys = [str(example.value) for example in examples]
        unknown = sorted(set(ys) - known)
        if unknown:
            raise ValueError(f"labels not in the schema: {unknown[:10]}")
        return ys
    y = np.zeros((len(examples), len(labels)), np.int8)
    index = {label: j for j, label in enumerate(labels)}
    for i, example in enumerate(examples):
        value = example.value or []
        if isinstance(value, str):
            value = [value]
        for label in value:
            if label not in index:
                raise ValueError(f"label {label!r} not in the schema")
            y[i, index[label]] = 1
    return y


def _fit_binary(x: Any, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, float]:
    """One L2 logistic regression with balanced class weights (liblinear: fast on sparse)."""
    from sklearn.linear_model import LogisticRegression

    if x.shape[0] <= DUAL_BELOW:
        model = LogisticRegression(
            C=c,
            class_weight="balanced",
            solver="liblinear",
            dual=True,
            random_state=seed,
            max_iter=1000,
        )
    else:
        model = LogisticRegression(C=c, class_weight="balanced", solver="newton-cg", max_iter=200)
    model.fit(x, y)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def _fit_columns(
    x: Any, targets: list[np.ndarray], c: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    coef = np.zeros((x.shape[1], len(targets)), np.float32)
    intercept = np.zeros(len(targets))
    for j, y in enumerate(targets):
        coef[:, j], intercept[j] = _fit_binary(x, y, c, seed)
    return coef, intercept


def _platt(scores: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling p = sigmoid(a s + b) fit by a tiny logistic regression on OOF scores,
    with Platt's smoothed targets so that a perfectly separated fold does not blow up a."""
    from scipy.optimize import minimize

    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = params
        z = a * scores + b
        p = sigmoid(z)
        eps = 1e-12
        value = -np.sum(t * np.log(p + eps) + (1 - t) * np.log(1 - p + eps))
        g = p - t
        return float(value), np.array([np.sum(g * scores), np.sum(g)])

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    a, b = (float(v) for v in result.x)
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return 1.0, 0.0
    return a, b


def _temperature(scores: np.ndarray, y: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    def loss(log_t: float) -> float:
        z = scores / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())

    result = minimize_scalar(loss, bounds=(-4, 4), method="bounded")
    return float(math.exp(result.x))


def _inner_folds(y_strat: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds for calibration; none when a class is too small to split."""
    from sklearn.model_selection import StratifiedKFold

    counts = np.bincount(y_strat)
    counts = counts[counts > 0]
    folds = min(CALIBRATION_FOLDS, int(counts.min()) if len(counts) else 0)
    if folds < 2 or len(counts) < 2:
        return []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y_strat)), y_strat))


def _best_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The threshold that maximises F1 on out-of-fold probabilities (ties: the middle)."""
    if y.sum() == 0 or y.sum() == len(y):
        return 0.5
    grid = np.linspace(0.05, 0.95, 19)
    f1s = []
    for t in grid:
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        denom = float(pred.sum() + y.sum())
        f1s.append(2 * tp / denom if denom else 0.0)
    f1s = np.array(f1s)
    best = np.flatnonzero(f1s >= f1s.max() - 1e-9)
    return float(grid[best[len(best) // 2]])


def fit_matrix(
    task_type: str,
    x: Any,
    y: Any,
    labels: Sequence[str],
    *,
    feature_params: dict[str, Any],
    seed: int = 0,
    c: float | None = None,
    calibrate: bool = True,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
) -> LinearModel:
    """Train on a feature matrix (rows of features.transform) and targets from targets.
    Split out so that al-bench and cross-validation featurise each text only once."""
    labels = tuple(labels)
    if task_type not in TASKS:
        raise ValueError(f"unknown task type {task_type!r}")
    if x.shape[0] == 0:
        raise ValueError("no labeled examples to train on")
    # fit on the hashed columns that occur (about 10% of them at 10k texts): 8x faster
    n_feat = x.shape[1]
    x = x.tocsr()
    used = np.unique(x.indices)
    x = x[:, used]
    model = _fit_compressed(
        task_type, x, y, labels, feature_params, seed, c, calibrate, progress, cancel
    )
    if model.coef.shape[1]:
        full = np.zeros((n_feat, model.coef.shape[1]), np.float32)
        full[used] = model.coef
        model.coef = full
    else:
        model.coef = np.zeros((n_feat, 0), np.float32)
    return model


def _fit_compressed(
    task_type: str,
    x: Any,
    y: Any,
    labels: tuple[str, ...],
    feature_params: dict[str, Any],
    seed: int,
    c: float | None,
    calibrate: bool,
    progress: Progress,
    cancel: CancelCheck,
) -> LinearModel:
    n_feat = x.shape[1]
    if task_type == "classification":
        c = C_CLASSIFICATION if c is None else c
        present = [label for label in labels if label in set(y)]
        index = {label: j for j, label in enumerate(present)}
        yi = np.array([index[v] for v in y])
        if len(present) == 1:
            return LinearModel(
                task_type,
                labels,
                feature_params,
                [],
                np.zeros((n_feat, 0), np.float32),
                np.zeros(0),
                {},
                constant={present[0]: 1.0},
            )
        targets = (
            [(yi == 1).astype(int)]
            if len(present) == 2
            else [(yi == j).astype(int) for j in range(len(present))]
        )
        folds = _inner_folds(yi, seed) if calibrate else []
        total = len(folds) + 1
        oof = np.zeros((x.shape[0], len(targets)))
        for step, (train_idx, test_idx) in enumerate(folds):
            check_cancel(cancel)
            progress(step, total, "calibrating")
            coef, intercept = _fit_columns(x[train_idx], [t[train_idx] for t in targets], c, seed)
            oof[test_idx] = np.asarray(x[test_idx] @ coef) + intercept
        check_cancel(cancel)
        progress(len(folds), total, "training")
        coef, intercept = _fit_columns(x, targets, c, seed)
        if len(present) == 2:
            a, b = _platt(oof[:, 0], yi) if folds else (1.0, 0.0)
            cal: dict[str, Any] = {"a": [a], "b": [b]}
        else:
            cal = {"t": _temperature(oof, yi) if folds else 1.0}
        progress(total, total, "trained")
        return LinearModel(task_type, labels, feature_params, present, coef, intercept, cal)
    # multilabel: one-vs-rest, a label without both outcomes is a constant
    c = C_MULTILABEL if c is None else c
    y = np.asarray(y)
    counts = y.sum(axis=0)
    fitted = [j for j in range(len(labels)) if 0 < counts[j] < len(y)]
    constant = {labels[j]: float(counts[j] > 0) for j in range(len(labels)) if j not in fitted}
    classes = [labels[j] for j in fitted]
    targets = [y[:, j].astype(int) for j in fitted]
    coef = np.zeros((n_feat, len(fitted)), np.float32)
    intercept = np.zeros(len(fitted))
    a_list, b_list, thresholds = [], [], {}
    total = len(fitted) * (CALIBRATION_FOLDS + 1)
    done = 0
    for col, (j, target) in enumerate(zip(fitted, targets, strict=True)):
        folds = _inner_folds(target, seed + j) if calibrate else []
        oof = np.zeros(len(target))
        for train_idx, test_idx in folds:
            check_cancel(cancel)
            progress(done, total, f"calibrating {labels[j]}")
            w, b0 = _fit_binary(x[train_idx], target[train_idx], c, seed)
            oof[test_idx] = np.asarray(x[test_idx] @ w).ravel() + b0
            done += 1
        check_cancel(cancel)
        coef[:, col], intercept[col] = _fit_binary(x, target, c, seed)
        done += 1
        if folds:
            a, b = _platt(oof, target)
            thresholds[labels[j]] = _best_threshold(sigmoid(a * oof + b), target)
        else:
            a, b = 1.0, 0.0
            thresholds[labels[j]] = 0.5
        a_list.append(a)
        b_list.append(b)
    progress(total, total, "trained")
    return LinearModel(
        task_type,
        labels,
        feature_params,
        classes,
        coef,
        intercept,
        {"a": a_list, "b": b_list},
        thresholds=thresholds,
        constant=constant,
    )


def train(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    feature_params: dict[str, Any] | None = None,
) -> LinearModel:
    """Train a calibrated linear model on the examples (see module docstring)."""
    params, labels, y = _prepare(task_type, examples, labels, feature_params)
    check_cancel(cancel)
    progress(0, None, "reading features")
    x = features.transform([example.text for example in examples], params)
    return fit_matrix(
        task_type, x, y, labels, feature_params=params, seed=seed, progress=progress, cancel=cancel
    )


def train_validated(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    feature_params: dict[str, Any] | None = None,
) -> tuple[LinearModel, Metrics, list[Prediction]]:
    """Cross-validate and train in one pass: what the app does after new labels.

    The outer folds' out-of-fold scores serve three purposes at once: the metrics, the
    suspicious-label list, and the final model's calibration (and multilabel thresholds).
    10k texts then cost folds + 1 fits instead of (folds + 1) x (calibration folds + 1) when
    cross_validate() and train() run one after the other (bench/retrain.py: 5.5 s -> 1.5 s).
    The price: the calibration's two parameters (and each label's threshold) are fitted on
    the same out-of-fold scores the metrics are computed from, a slight optimism.
    """
    params, labels, y = _prepare(task_type, examples, labels, feature_params)
    check_cancel(cancel)
    progress(0, None, "reading features")
    x = features.transform([example.text for example in examples], params).tocsr()
    n_feat = x.shape[1]
    used = np.unique(x.indices)
    xc = x[:, used]
    splits = _outer_folds(task_type, y, folds, seed)

    def fit(rows: Any, targets: Any) -> LinearModel:
        return _fit_compressed(
            task_type, rows, targets, labels, params, seed, None, False, no_progress, cancel
        )

    def slow_path() -> tuple[LinearModel, Metrics, list[Prediction]]:
        result, oof = cross_validate(
            task_type,
            examples,
            labels,
            folds=folds,
            seed=seed,
            cancel=cancel,
            feature_params=params,
        )
        model = fit_matrix(task_type, x, y, labels, feature_params=params, seed=seed, cancel=cancel)
        return model, result, oof

    final = fit(xc, y)
    k = final.coef.shape[1]
    if not splits or k == 0:
        return slow_path()
    oof_raw = np.zeros((x.shape[0], k))
    for train_idx, test_idx, y_train in _each_fold(task_type, y, splits, progress, cancel):
        fold_model = fit(xc[train_idx], y_train)
        if fold_model.classes != final.classes:  # a label missing from a fold: nested CV
            return slow_path()
        oof_raw[test_idx] = fold_model.raw_scores(matrix=xc[test_idx])
    check_cancel(cancel)
    _calibrate_from_oof(final, oof_raw, y)
    predictions = final.predictions(final.proba(oof_raw))
    full = np.zeros((n_feat, k), np.float32)
    full[used] = final.coef
    final.coef = full
    result = _metrics(task_type, examples, predictions, labels, len(splits))
    progress(len(splits), len(splits), "cross-validated")
    return final, result, predictions


def _calibrate_from_oof(model: LinearModel, oof_raw: np.ndarray, y: Any) -> None:
    """Platt / temperature calibration (and multilabel thresholds) from out-of-fold scores."""
    if model.task_type == "classification":
        index = {label: j for j, label in enumerate(model.classes)}
        yi = np.array([index[v] for v in y])
        if len(model.classes) == 2:
            a, b = _platt(oof_raw[:, 0], yi)
            model.calibration = {"a": [a], "b": [b]}
        else:
            model.calibration = {"t": _temperature(oof_raw, yi)}
        return
    columns = [model.labels.index(label) for label in model.classes]
    a_list, b_list = [], []
    for col, j in enumerate(columns):
        target = np.asarray(y)[:, j].astype(int)
        a, b = _platt(oof_raw[:, col], target)
        model.thresholds[model.labels[j]] = _best_threshold(
            sigmoid(a * oof_raw[:, col] + b), target
        )
        a_list.append(a)
        b_list.append(b)
    model.calibration = {"a": a_list, "b": b_list}


def _outer_folds(task_type: str, y: Any, folds: int, seed: int) -> list[tuple[Any, Any]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    if task_type == "classification":
        _, yi = np.unique(np.asarray(y), return_inverse=True)
        counts = np.bincount(yi)
        if len(counts) > 1 and counts.min() >= folds:
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            return list(splitter.split(np.zeros(n), yi))
    k = min(folds, n)
    if k < 2:
        return []
    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n)))


def cross_validate(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    feature_params: dict[str, Any] | None = None,
) -> tuple[Metrics, list[Prediction]]:
    """Out-of-fold predictions for every example, and the metrics computed from them."""
    params, labels, y = _prepare(task_type, examples, labels, feature_params)
    x = features.transform([example.text for example in examples], params)
    splits = _outer_folds(task_type, y, folds, seed)
    oof: list[Prediction | None] = [None] * len(examples)
    for train_idx, test_idx, y_train in _each_fold(task_type, y, splits, progress, cancel):
        model = fit_matrix(
            task_type, x[train_idx], y_train, labels, feature_params=params, seed=seed
        )
        for i, prediction in zip(
            test_idx, model.predictions(model.predict_proba(matrix=x[test_idx])), strict=True
        ):
            oof[i] = prediction
    check_cancel(cancel)
    if not splits:  # fewer than two examples: predict with a model of everything there is
        if len(examples):
            model = fit_matrix(task_type, x, y, labels, feature_params=params, seed=seed)
            oof = list(model.predictions(model.predict_proba(matrix=x)))
        return _metrics(task_type, examples, [], labels, 0), [p for p in oof if p is not None]
    predictions = [p for p in oof if p is not None]
    progress(len(splits), len(splits), "cross-validated")
    return _metrics(task_type, examples, predictions, labels, len(splits)), predictions


def _prepare(
    task_type: str,
    examples: Sequence[Example],
    labels: Sequence[str],
    feature_params: dict[str, Any] | None,
) -> tuple[dict[str, Any], tuple[str, ...], Any]:
    """What every fit from examples starts from: the checked feature parameters, the labels
    as a tuple and the targets; a task type the linear model does not do is refused."""
    if task_type not in TASKS:
        raise ValueError(f"the linear model does not do {task_type!r}")
    params = features.check_params(feature_params or features.DEFAULT_PARAMS)
    labels = tuple(labels)
    return params, labels, targets(task_type, examples, labels)


def _each_fold(
    task_type: str,
    y: Any,
    splits: list[tuple[Any, Any]],
    progress: Progress,
    cancel: CancelCheck,
) -> Iterator[tuple[Any, Any, Any]]:
    """(train rows, test rows, the train rows' targets) of each outer fold, checking for a
    cancel and reporting progress before each."""
    for step, (train_idx, test_idx) in enumerate(splits):
        check_cancel(cancel)
        progress(step, len(splits), f"fold {step + 1} of {len(splits)}")
        y_train = [y[i] for i in train_idx] if task_type == "classification" else y[train_idx]
        yield train_idx, test_idx, y_train


def _metrics(
    task_type: str,
    examples: Sequence[Example],
    predictions: list[Prediction],
    labels: tuple[str, ...],
    folds: int,
) -> Metrics:
    """The cross-validated metrics of these out-of-fold predictions, with the folds used."""
    from app.ml import metrics

    result = metrics.compute(task_type, [e.value for e in examples], predictions, labels)
    result["folds"] = folds
    return result
