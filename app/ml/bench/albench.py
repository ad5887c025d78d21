"""al-bench: does active learning save labels on *this* data? A simulation that uses the file's
own labels as the oracle: start from seed_size labels, add batch labels at a time chosen by
each strategy, retrain, and score on a held-out stratified 25% of the file, up to budget.

For classification and multilabel each text is featurised once and models are fitted on
matrix rows (linear_fit.fit_matrix), so a 500-label curve takes seconds; spans go through
app.ml.registry (spaCy), which is much slower: use a bigger batch and fewer repeats there.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import TagloopError
from app.core.jobs import CancelCheck, Progress, check_cancel, never_cancel, no_progress
from app.ml import active
from app.ml.types import Example, Prediction

TEST_FRACTION = 0.25


# -- data ---------------------------------------------------------------------------------


def _strata(task: str, examples: Sequence[Example]) -> list[str]:
    """A stratum per example: its label; for multilabel its label set (rare sets pooled)."""
    if task == "classification":
        return [str(e.value) for e in examples]
    if task == "multilabel":
        keys = ["|".join(sorted(e.value)) for e in examples]
        counts = Counter(keys)
        return [key if counts[key] >= 8 else "~rare" for key in keys]
    return ["all"] * len(examples)


def stratified_split(
    task: str, examples: Sequence[Example], fraction: float, rng: random.Random
) -> tuple[list[int], list[int]]:
    """(pool, test) indices; each stratum contributes `fraction` of its items to test."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(_strata(task, examples)):
        groups.setdefault(key, []).append(i)
    pool: list[int] = []
    test: list[int] = []
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        cut = round(len(members) * fraction) if len(members) > 1 else 0
        test += members[:cut]
        pool += members[cut:]
    return sorted(pool), sorted(test)


def _subsample(
    task: str, examples: Sequence[Example], pool: list[int], limit: int, rng: random.Random
) -> list[int]:
    if limit <= 0 or len(pool) <= limit:
        return pool
    chosen, _ = stratified_split(task, [examples[i] for i in pool], 1 - limit / len(pool), rng)
    return sorted(pool[i] for i in chosen)


# -- scoring ------------------------------------------------------------------------------


def span_f1(gold: Sequence[Sequence[dict]], predicted: Sequence[Prediction]) -> float:
    """Micro exact-match span F1 (start, end, label)."""
    tp = fp = fn = 0
    for spans, prediction in zip(gold, predicted, strict=True):
        g = {(s["start"], s["end"], s["label"]) for s in spans}
        p = {(s["start"], s["end"], s["label"]) for s in prediction.value or []}
        tp += len(g & p)
        fp += len(p - g)
        fn += len(g - p)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


class _Linear:
    """Classification / multilabel runner: features once, models on matrix rows."""

    def __init__(self, task: str, examples: Sequence[Example], labels: Sequence[str], pool, test):
        from app.ml import features
        from app.ml.linear import fit as linear_fit

        self.task = task
        self.labels = tuple(labels)
        self.params = features.check_params(features.DEFAULT_PARAMS)
        self.x_pool = features.transform([examples[i].text for i in pool], self.params)
        self.x_test = features.transform([examples[i].text for i in test], self.params)
        y_all = linear_fit.targets(task, examples, labels)
        if task == "classification":
            self.y_pool = [y_all[i] for i in pool]
        else:
            self.y_pool = y_all[pool]
        self.gold_test = [examples[i].value for i in test]
        self._embedding: np.ndarray | None = None

    def fit(self, chosen: Sequence[int], seed: int) -> Any:
        from app.ml.linear import fit as linear_fit

        rows = np.asarray(chosen)
        y = [self.y_pool[i] for i in rows] if self.task == "classification" else self.y_pool[rows]
        return linear_fit.fit_matrix(
            self.task, self.x_pool[rows], y, self.labels, feature_params=self.params, seed=seed
        )

    def score(self, model: Any) -> float:
        from app.ml import metrics

        predictions = model.predictions(model.predict_proba(matrix=self.x_test))
        value = metrics.compute(self.task, self.gold_test, predictions, self.labels)["macro_f1"]
        return float(value or 0.0)

    def predict_pool(self, model: Any, rows: Sequence[int]) -> list[Prediction]:
        return model.predictions(model.predict_proba(matrix=self.x_pool[np.asarray(rows)]))

    def embed(self, rows: Sequence[int]) -> np.ndarray:
        if self._embedding is None:
            self._embedding = active.embedding(self.x_pool, 0)
        return self._embedding[np.asarray(rows)]


class _Spans:
    """Spans runner through app.ml.registry (the spaCy models of app.ml.spans.model)."""

    def __init__(self, task: str, examples: Sequence[Example], labels: Sequence[str], pool, test):
        try:
            from app.ml.spans import model as spans  # noqa: F401
        except ImportError as exc:
            raise RuntimeError(
                f"al-bench for spans needs the span models (app.ml.spans.model): {exc}"
            ) from exc
        self.labels = tuple(labels)
        self.pool_examples = [examples[i] for i in pool]
        self.test_examples = [examples[i] for i in test]
        self._linear_embed: np.ndarray | None = None

    def fit(self, chosen: Sequence[int], seed: int) -> Any:
        from app.ml import registry

        return registry.train(
            "spans", [self.pool_examples[i] for i in chosen], self.labels, seed=seed
        )

    def score(self, model: Any) -> float:
        predictions = model.predict([e.text for e in self.test_examples])
        return span_f1([e.value for e in self.test_examples], predictions)

    def predict_pool(self, model: Any, rows: Sequence[int]) -> list[Prediction]:
        return model.predict([self.pool_examples[i].text for i in rows])

    def embed(self, rows: Sequence[int]) -> np.ndarray:
        from app.ml import features

        if self._linear_embed is None:
            x = features.transform([e.text for e in self.pool_examples])
            self._linear_embed = active.embedding(x, 0)
        return self._linear_embed[np.asarray(rows)]


# -- the simulation -----------------------------------------------------------------------


def _curve(
    runner: Any,
    strategy: str,
    pool_size: int,
    seed_size: int,
    batch: int,
    budget: int,
    rng: random.Random,
    tick: Callable[[], None],
    cancel: CancelCheck,
) -> tuple[list[int], list[float]]:
    everything = list(range(pool_size))
    seed_size = min(seed_size, pool_size, budget)
    if strategy == "random" or strategy in active.MIXED_STRATEGIES:
        chosen = rng.sample(everything, seed_size)
    else:  # no model yet: a diverse cold start (balanced starts from a random sample)
        chosen = active.cold_start_indices(everything, seed_size, rng, runner.embed)
    counts: list[int] = []
    scores: list[float] = []
    while True:
        check_cancel(cancel)
        model = runner.fit(chosen, rng.randrange(1 << 30))
        counts.append(len(chosen))
        scores.append(runner.score(model))
        tick()
        if len(chosen) >= budget or len(chosen) >= pool_size:
            return counts, scores
        taken = set(chosen)
        rest = [i for i in everything if i not in taken]
        step = min(batch, budget - len(chosen), len(rest))
        if strategy in ("random", "cold_start"):
            priorities: list[float] = []
        else:
            predicted = runner.predict_pool(model, rest)
            priorities = active.priority(strategy, predicted, rng, labeled=len(chosen))
        chosen = chosen + active.select_from_scores(
            strategy, priorities, rest, step, rng, runner.embed
        )


def _steps(pool_size: int, seed_size: int, batch: int, budget: int) -> int:
    top = min(budget, pool_size)
    first = min(seed_size, top)
    return 1 + max(0, -(-(top - first) // max(batch, 1)))


def run(
    path: str | Path | Sequence[str | Path],
    task: str,
    strategies: Sequence[str] = ("default",),
    seed_size: int = 20,
    batch: int = 10,
    budget: int = 500,
    repeats: int = 3,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelCheck = never_cancel,
    pool_limit: int = 0,
    keep_repeats: bool = False,
    include_random: bool = True,
    fmt: str | None = None,
) -> dict[str, Any]:
    """Learning curves per strategy (see module docstring); random is always included.
    path may be several files of the same kind (e.g. NCBI train + test), read as one.
    keep_repeats adds each repeat's AUC ("auc_repeats"), for a paired standard error
    (every strategy's repeat r starts from the same seed sample). include_random=False skips
    random (bench/al_tune.py computes it once per data set and reuses it)."""
    from app.ml.bench import data

    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    examples: list[Example] = []
    labels: set[str] = set()
    for one in paths:
        found, found_labels = data.read_examples(one, task, fmt)
        examples += found
        labels.update(found_labels)
    if len(examples) < 8:
        raise ValueError(f"al-bench needs at least 8 labeled examples; found {len(examples)}")
    label_list = sorted(labels)
    names: list[str] = []
    for name in ["random", *strategies] if include_random else list(strategies):
        name = active.DEFAULT_STRATEGY if name == "default" else name
        if name not in active.STRATEGIES:
            raise ValueError(f"unknown strategy {name!r}; use one of {active.STRATEGIES}")
        if name not in names:
            names.append(name)
    split_rng = random.Random(seed)
    pool, test = stratified_split(task, examples, TEST_FRACTION, split_rng)
    pool = _subsample(task, examples, pool, pool_limit, split_rng)
    runner_class = _Spans if task == "spans" else _Linear
    if task not in ("classification", "multilabel", "spans"):
        raise ValueError(f"unknown task {task!r}")
    progress(0, None, "reading features")
    runner = runner_class(task, examples, label_list, pool, test)
    steps = _steps(len(pool), seed_size, batch, budget)
    total = 1 + steps * repeats * len(names)
    done = [0]

    def tick() -> None:
        done[0] += 1
        progress(done[0], total, f"{done[0]} of {total} models")

    full = runner.score(runner.fit(list(range(len(pool))), seed))
    tick()
    result: dict[str, Any] = {
        "dataset": "+".join(p.stem for p in paths),
        "task": task,
        "default": active.DEFAULT_STRATEGY,
        "full_data_score": round(full, 4),
        "strategies": {},
    }
    for name in names:
        curves = []
        for repeat in range(repeats):
            rng = random.Random(seed * 7919 + repeat)
            curves.append(
                _curve(
                    runner,
                    active.for_task(name, task, len(label_list)),
                    len(pool),
                    seed_size,
                    batch,
                    budget,
                    rng,
                    tick,
                    cancel,
                )
            )
        counts = curves[0][0]
        length = min(len(c[1]) for c in curves)
        mean = np.mean([c[1][:length] for c in curves], axis=0)
        scores = [round(float(v), 4) for v in mean]
        reach = next((n for n, s in zip(counts, scores, strict=False) if s >= 0.95 * full), None)
        result["strategies"][name] = {
            "labels": counts[:length],
            "score": scores,
            "auc": round(float(np.mean(mean)), 4) if length else 0.0,
            "labels_to_95": reach,
        }
        if keep_repeats:
            result["strategies"][name]["auc_repeats"] = [
                round(float(np.mean(c[1][:length])), 5) for c in curves
            ]
    return result


# -- command line -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="CSV/TSV/JSONL with text and label columns, or PubTator")
    parser.add_argument(
        "--task", choices=("classification", "multilabel", "spans"), default="classification"
    )
    parser.add_argument(
        "--strategy",
        action="append",
        default=None,
        help=f"repeatable; one of {', '.join(active.STRATEGIES)} or 'default' "
        "(random is always run)",
    )
    parser.add_argument("--seed-size", type=int, default=20)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--budget", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pool-limit", type=int, default=0, help="subsample the pool to this many items (0: all)"
    )


def _stderr_progress(done: int, total: int | None, message: str) -> None:
    if total:
        width = 30
        filled = int(width * done / total)
        end = "\n" if done >= total else ""
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {message}", end=end, file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    """Print the al-bench JSON on stdout (progress on stderr)."""
    for name in ("seed_size", "batch", "budget", "repeats"):
        if getattr(args, name) < 1:
            print(f"al-bench: --{name.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    try:
        result = run(
            args.data,
            args.task,
            args.strategy or ["default"],
            seed_size=args.seed_size,
            batch=args.batch,
            budget=args.budget,
            repeats=args.repeats,
            seed=args.seed,
            fmt=getattr(args, "format", None),
            progress=_stderr_progress,
            pool_limit=getattr(args, "pool_limit", 0),
        )
    except (ValueError, RuntimeError, OSError, TagloopError) as exc:
        print(f"al-bench: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="tagloop al-bench")
    add_arguments(_parser)
    raise SystemExit(main(_parser.parse_args()))
