"""Tuning balanced's random share (issue #17 item 6, second round), by the protocol: choose on
the tuning sets, check on the others, keep a change only if the tuning sets improve and no
check set gets worse by more than one standard error, with every set >= -0.005 against random.

Each (data set, candidate) run is cached in bench/out/al_tune/ with its per-repeat AUCs, and
random is run once per data set (its curves do not depend on balanced's constants), so several
processes can share the work and a stopped run resumes. Candidates:

    base    the current default (EXPLORE_SHARE 0.3, WARMUP_LABELS 50)
    e02/e04 EXPLORE_SHARE 0.2 / 0.4
    w30/w100 WARMUP_LABELS 30 / 100
    decay   the random share's floor falling from EXPLORE_SHARE to DECAY_TO by DECAY_LABELS

Run: .venv/bin/python bench/al_tune.py --sets sms,mention,sms_short --candidates base,e02
     [--repeats 6] [--seed 0] [--report]   (--report prints the table from the cache only)

Measured (session 3, round 2; 6 repeats, seed 0, batch 10, budget 500, 300 for multilabel and
titles; about 40 minutes on 2 shared cores with two processes). AUC minus random (paired se),
and minus the current default, base (paired se of that gain):

    set (T: tuning) base             e02                        e04     w30     w100    decay
    sms T           +0.0472 (.0037)  +0.0485 (.0037) +.0013/.0007 -.0014  +.0008  -.0039  +.0007
    mention T       +0.0105 (.0049)  +0.0166 (.0069) +.0061/.0035 -.0023  -.0013  -.0088  -.0021
    sms_short T     +0.0998 (.0164)  +0.1069 (.0161) +.0070/.0049 -.0137  -.0001  -.0067  -.0020
    type            +0.0063 (.0095)  +0.0087 (.0119) +.0024/.0041
    multilabel      +0.0018 (.0030)  +0.0006 (.0034) -.0012/.0039
    mention_short   +0.0106 (.0093)  +0.0054 (.0111) -.0051/.0032
    titles          +0.0094 (.0151)  +0.0056 (.0202) -.0038/.0111
    tuning mean     +0.0525          +0.0573                    +0.0467 +0.0523 +0.0460 +0.0514
    check mean      +0.0070          +0.0051
    min             +0.0018          +0.0006

(e04, w30, w100, decay: their gain over base on each tuning set; the means are against random
and none is above base's, so by the protocol they were not run on the check sets.) Only e02 (a
random share of 0.2 after the warm-up) improved the tuning sets, on all three; but on
mention_short, the closest proxy for the held-out short-sentence sets, it fell below base by
1.6 paired standard errors, and 6 more repeats (seed 1) agreed: -0.0039 (0.0055) against base,
-0.0016 against random (base +0.0023 there); titles at seed 1: +0.0085 (0.0079). So nothing
passed and the default is unchanged (EXPLORE_SHARE 0.3, WARMUP_LABELS 50). Less random share
helps where uncertainty is a good guide (SMS) and costs on short sentences, which is what the
held-out sets are: robustness first.

Round 3 (session 4): the density strategy with a softer density weight (each cluster's pick by
uncertainty * density ** DENSITY_BETA, beta 0.5 and 0.3; d10 is density as it stands, beta 1),
to keep balanced's gains on mention yes/no while taking density's on the multi-class and
multilabel sets. Same protocol and settings; about an hour of wall time, three processes on
2 shared cores:

    set (T: tuning) base             d05: - random     - base (se)      d03: - random  - base
    sms T           +0.0472 (.0037)  +0.0523 (.0047)  +.0052 (.0024)   +0.0503        +.0031
    mention T       +0.0105 (.0049)  +0.0019 (.0048)  -.0087 (.0039)   -0.0079        -.0185
    sms_short T     +0.0998 (.0164)  +0.0901 (.0198)  -.0098 (.0079)
    type            +0.0063 (.0095)  +0.0204 (.0076)  +.0141 (.0091)
    multilabel      +0.0018 (.0030)  +0.0066 (.0020)  +.0048 (.0018)
    mention_short   +0.0106 (.0093)  +0.0198 (.0120)  +.0092 (.0058)
    titles          +0.0094 (.0151)  +0.0158 (.0244)  +.0064 (.0124)
    tuning mean     +0.0525          +0.0481                           (2 sets: +0.0212)
    target mean     +0.0165          +0.0203
    (target: sms, mention, type, multilabel; the issue asks >= +0.02)

Neither passed: both lost on mention yes/no (d03 fell below -0.005 there, so it was stopped
before sms_short), and d05's tuning mean is below base's (+0.0481 against +0.0525), so it fails
the protocol although it gained on every check set and its target mean, +0.0203, meets the
issue's +0.02 (min +0.0019). The softer weight does what it was meant to on the multi-class
and multilabel sets, but not on the binary sets it was tuned on; by the protocol the default is
unchanged. A per-task-type default (d05 for multilabel and for three or more classes, balanced
for yes/no: target mean +0.0212 on these figures) would be chosen after seeing the check sets
it is judged on, and the protocol cannot choose it: the tuning sets are all yes/no, so their
mean cannot improve. Left for a decision with fresh multi-class and multilabel tuning sets.

Active learning by learning (Hsu & Lin 2015: a bandit choosing per batch among balanced,
density and random by an importance-weighted accuracy) was not built. The figures say it
cannot pay here: even an oracle that knew in advance, per data set, the better of balanced and
d05 reaches only +0.0224 on the target mean, and a bandit has to find that out inside one
project from one learning curve. The arms differ by 0.005-0.01 of AUC, while the spread of one
run's AUC difference between two strategies is about 0.01 (sd over repeats: the se above times
sqrt 6), and its unbiased reward would come from the random share alone (about 3 picks per
batch of 10, some 140 items by 500 labels: an accuracy se of about 0.03). It would mostly mix
the arms, i.e. add random share, which lost in round 2 (e04).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import al_robust  # noqa: E402

from app.ml import active  # noqa: E402
from app.ml.bench import albench  # noqa: E402

CACHE = ROOT / "bench" / "out" / "al_tune"
TUNING = ("sms", "mention", "sms_short")
CHECK = ("type", "multilabel", "mention_short", "titles")
# the target: ahead of random by >= 0.02 on the mean of these four
TARGET = ("sms", "mention", "type", "multilabel")
DECAY_TO = 0.15
DECAY_LABELS = 500


def _decaying_share(labeled: int | None, spans: bool = False) -> float:
    """The decay candidate: the warm-up as now, then a floor that falls linearly from
    EXPLORE_SHARE to DECAY_TO by DECAY_LABELS labels (spans and unknown counts: the floor)."""
    if labeled is None or spans:
        return active.EXPLORE_SHARE
    fall = min(1.0, labeled / DECAY_LABELS)
    floor = active.EXPLORE_SHARE - (active.EXPLORE_SHARE - DECAY_TO) * fall
    return max(floor, 1.0 - labeled / active.WARMUP_LABELS)


CANDIDATES: dict[str, dict[str, object]] = {
    "base": {},
    "e02": {"EXPLORE_SHARE": 0.2},
    "e04": {"EXPLORE_SHARE": 0.4},
    "w30": {"WARMUP_LABELS": 30},
    "w100": {"WARMUP_LABELS": 100},
    "decay": {"explore_share": _decaying_share},
    # round 3: density (balanced, each cluster's pick by uncertainty * density ** beta) with a
    # softer density weight
    "d03": {"strategy": "density", "DENSITY_BETA": 0.3},
    "d05": {"strategy": "density", "DENSITY_BETA": 0.5},
    "d10": {"strategy": "density", "DENSITY_BETA": 1.0},
    # session 4's default: density (** 0.5) for 3+ classes and multilabel, balanced for yes/no
    "auto": {"strategy": "auto"},
}


def _with(settings: dict[str, object], run: Callable[[], dict]) -> dict:
    """run() with active's names set as the candidate says, restored afterwards."""
    saved = {name: getattr(active, name) for name in settings}
    try:
        for name, value in settings.items():
            setattr(active, name, value)
        return run()
    finally:
        for name, value in saved.items():
            setattr(active, name, value)


def _aucs(key: str, candidate: str, kwargs: dict, repeats: int, seed: int) -> list[float]:
    """Per-repeat AUCs of one candidate (or 'random') on one data set, cached."""
    path = CACHE / f"{key}__{candidate}__s{seed}_r{repeats}.json"
    if path.exists():
        return json.loads(path.read_text())["auc_repeats"]
    started = time.perf_counter()
    if candidate == "random":
        result = albench.run(strategies=[], repeats=repeats, seed=seed, keep_repeats=True, **kwargs)
        aucs = result["strategies"]["random"]["auc_repeats"]
    else:
        settings = dict(CANDIDATES[candidate])
        strategy = str(settings.pop("strategy", "balanced"))
        result = _with(
            settings,
            lambda: albench.run(
                strategies=[strategy],
                repeats=repeats,
                seed=seed,
                keep_repeats=True,
                include_random=False,
                **kwargs,
            ),
        )
        aucs = result["strategies"][strategy]["auc_repeats"]
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auc_repeats": aucs}))
    print(f"  {key} {candidate}: {time.perf_counter() - started:.0f} s", flush=True)
    return aucs


def _cached(key: str, candidate: str, repeats: int, seed: int) -> list[float] | None:
    path = CACHE / f"{key}__{candidate}__s{seed}_r{repeats}.json"
    return json.loads(path.read_text())["auc_repeats"] if path.exists() else None


def _paired(mine: list[float], other: list[float]) -> tuple[float, float]:
    diffs = [a - b for a, b in zip(mine, other, strict=True)]
    return statistics.mean(diffs), statistics.stdev(diffs) / len(diffs) ** 0.5


def _verdict(rows: dict[str, tuple[float, float, float, float]]) -> str:
    """The protocol on one candidate's rows (set -> diff, se, gain over base, its se)."""
    tune = [rows[k] for k in TUNING if k in rows]
    if rows and min(r[0] for r in rows.values()) < -0.005:
        return "fails: a set below -0.005"
    if len(tune) < len(TUNING):
        return "incomplete"
    if statistics.mean(r[2] for r in tune) <= 0:
        return "fails: tuning sets not better (the check sets do not count)"
    if any(k not in rows for k in CHECK):
        return "incomplete"
    # worse: below base by more than the paired standard error of the gain over base (the
    # test of a difference from base; the se against random is wider, it measures another one)
    worse = [k for k in CHECK if rows[k][2] < -rows[k][3]]
    if worse:
        loose = [k for k in worse if rows[k][2] < -rows[k][1]]
        return (
            f"fails: below base by more than 1 paired se on {','.join(worse)}"
            f" ({'also' if loose else 'not'} by 1 se against random)"
        )
    if min(r[0] for r in rows.values()) < -0.005:
        return "fails: a set below -0.005"
    return "passes"


def report(sets: list[str], candidates: list[str], repeats: int, seed: int) -> None:
    """Candidate x set: AUC minus random (paired se) and minus base (paired se); per
    candidate the tuning mean, check mean, minimum and the protocol's verdict."""
    print(f"{'candidate':9s} {'set':14s} {'- random':>8s} {'(se)':>8s} {'- base':>8s} {'(se)':>8s}")
    summary = []
    for candidate in candidates:
        rows: dict[str, tuple[float, float, float, float]] = {}
        for key in sets:
            mine = _cached(key, candidate, repeats, seed)
            chance, base = (
                _cached(key, "random", repeats, seed),
                _cached(key, "base", repeats, seed),
            )
            if mine is None or chance is None or base is None:
                continue
            diff, se = _paired(mine, chance)
            gain, gain_se = _paired(mine, base) if candidate != "base" else (0.0, 0.0)
            rows[key] = (diff, se, gain, gain_se)
            print(f"{candidate:9s} {key:14s} {diff:+8.4f} ({se:.4f}) {gain:+8.4f} ({gain_se:.4f})")
        tune = [rows[k][0] for k in TUNING if k in rows]
        check = [rows[k][0] for k in CHECK if k in rows]
        summary.append((candidate, tune, check, rows))
    print(
        f"\n{'candidate':9s} {'tune mean':>9s} {'check mean':>10s} {'target':>8s} {'min':>8s}"
        "  verdict"
    )
    for candidate, tune, check, rows in summary:
        nan = float("nan")
        target = [rows[k][0] for k in TARGET if k in rows]
        print(
            f"{candidate:9s} {statistics.mean(tune) if tune else nan:+9.4f}"
            f" {statistics.mean(check) if check else nan:+10.4f}"
            f" {statistics.mean(target) if len(target) == len(TARGET) else nan:+8.4f}"
            f" {min(tune + check) if rows else nan:+8.4f}"
            f"  {'the current default' if candidate == 'base' else _verdict(rows)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sets", default=",".join(TUNING))
    parser.add_argument("--candidates", default="base")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args()
    sets, candidates = args.sets.split(","), args.candidates.split(",")
    if not args.report:
        kwargs = al_robust.data_sets()
        for key in sets:
            for candidate in ["random", *candidates]:
                _aucs(key, candidate, kwargs[key], args.repeats, args.seed)
    report(sets, candidates, args.repeats, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
