"""The span model on NCBI Disease (issue #17): accuracy, retrain time, calibration, and how soon
a suggestion follows the first labels.

Prints:
- exact-match span F1 on the NCBI test set (100 abstracts), trained on the whole train set
  (593 abstracts; target >= 0.80) and on 100 abstracts (target >= 0.60, the mean of 3 draws);
  typed (start, end and label must match: the target) and untyped (start and end only);
- retrain time on ~600 and on 100 abstracts (targets <= 60 s / <= 10 s): training alone, and
  what the app runs (cross-validated metrics, calibration and the model, app.ml.loop's folds);
  wall-clock and CPU seconds, since the machine may be shared;
- span-level ECE of the calibrated span scores on the test set (target <= 0.05), and the
  document-level ECE of the confidences ("the whole answer is right");
- time from the 20th completed document to the first suggestion (target <= 15 s): what the
  app runs then in its worker process (app.ml.loop through app.workers.process), from the
  start of the run to the suggestion read back for the next document of a 500-abstract pool.

The tuning of the CRF's settings was done on a split of the train set (120 abstracts held
out); the test set's labels are only read here. The span model learns word clusters from the
project's unlabelled texts: here the project holds all 693 abstracts (train and test), so
the texts, never the labels, of the test abstracts are among them, as the texts of the
documents still to annotate are in a real project.

Tried for the typed F1 and not kept (issue #17, dev splits of 120 train abstracts held out,
shuffle seeds 0 and 1; CRF typed F1 0.759 and 0.789, untyped 0.853 and 0.872): most of the
gap is DiseaseClass <-> SpecificDisease (~50 spans) and Modifier read as SpecificDisease
(~25), the same words taking a type by context.
- One type per mention string in a document (majority vote): 0.684 on seed 0, since a disease
  name and its use as a modifier ("APC" / "APC gene") share a string (361 such strings in the
  train set's gold); voting only between the other types: 0.760, no gain.
- A second-stage LogisticRegression relabelling each predicted span (mention words, head,
  first word, char 3-4-grams, +-3 context words), trained on gold spans: 0.758 / -; relabelling
  only where it is >= 0.8 sure: 0.767 / 0.792; trained on out-of-fold CRF spans with the
  CRF's label, score and per-type B- marginals as features: 0.760 / 0.796 (C=1). Half a point
  on average, within the splits' noise, for two more CRF fits a retrain and a new format.
- CRF context words at +-3 (not +-2): 0.765 / 0.785; suffixes of the words at +-2: 0.758 /
  0.789. No gain.

Brief of session 3 (the same dev splits and seeds 0 / 1, trained with crf.train on 473):
- kept, BILOU tags instead of BIO (format tagloop-crf-3; crf-2 models still load):
  0.759 / 0.789 -> 0.761 / 0.799 (untyped 0.853 / 0.872 -> 0.857 / 0.878);
- kept, type cues as token features (a lower-case word follows: a modifier; the punctuation
  that follows; inside parentheses and the gazetteer type of the words before them; an -s
  plural; the neighbours' middle-level cluster, the finest at +-2): -> 0.770 / 0.805;
- kept, document cues (an abbreviation the document defines anywhere carries its long
  form's gazetteer type and last word to all its occurrences; plural no longer fires on
  capitals like "AIDS"): -> 0.771 / 0.812;
- not kept, the head of the rough noun phrase a token stands in (the run of non-stop words,
  spaCy's stop list) and its plural: 0.767 on seed 0 (seed 1 not run), 25% slower training;
- not kept, averaged perceptron ('ap', 10 iterations): 0.758 / 0.786, 40% faster;
- not kept, feature.possible_states: 0.776 / 0.809 against 0.770 / 0.805, but 50% more
  training time, which the 60 s retrain cannot pay;
- 45 L-BFGS iterations instead of 60: 0.767 / 0.814 against 0.770 / 0.805 (neutral);
- not kept, non-local features without a first pass: the gazetteer tags the same word has at
  its other places in the document: 0.780 / 0.806 against 0.771 / 0.812 (one seed each way);
- kept, 40 L-BFGS iterations (0.769 / 0.811, neutral) and 25 per CV fold, with faster
  features and tokens (the same strings): BILOU's 17 tags make each iteration dearer (what the
  app runs on 593 went 48 -> 76 s CPU on the loaded machine, back to 56 s with these);
- not kept, passive-aggressive ('pa', 10 iterations): 0.765 / 0.801 against 0.769 / 0.811,
  but half the training time; 'pa' with possible_states (the time L-BFGS takes): 0.774 /
  0.794; feature.minfreq 2: 0.761 / 0.800;
- on the test set (bench run at the end, model of 593): typed F1 0.738 -> 0.740, untyped
  0.820 -> 0.817, so the dev gains (+1.0 / +2.2) did not carry over; 100 abstracts 0.623 ->
  0.618; span ECE 0.037 / 0.049 -> 0.031 / 0.033. What remains on test: 74 right-boundary
  wrong-type mentions (22 SpecificDisease -> DiseaseClass, 21 Modifier -> SpecificDisease,
  15 DiseaseClass -> SpecificDisease, 10 SpecificDisease -> Modifier), 95 other-boundary,
  105 missed, 52 spurious spans (960 gold);
- not tried, two-pass stacking (a second CRF on the first pass's document-level labels) and
  self-training on the unlabelled pool: each needs another full CRF fit per retrain, and the
  retrain on 593 has no room left for one under 60 s; the cheap stand-in (document gazetteer
  tags above) did not gain.

Brief of session 4 (dev splits as above, `python bench/span_model.py --dev`: the CRF trained
with crf.train on 473, dev typed F1 0.769 / 0.811, mean 0.790, untyped 0.856 / 0.887):
- not kept, a span-level type reclassifier after the CRF (app.ml.spans.typer in the
  session's branch history, not merged): scikit-learn logistic regression on hashed span
  features (the span's words, its lower-case string, head word and its 3-4 letter suffixes,
  first word, the two words before and after and the pairs previous|head, head|next, length,
  shape, -s plural head, capitals head, a lower-case word after it, inside brackets,
  coordination), a leave-one-document-out lexicon of how the training labels typed the same
  string and the same head word (label shares), and the types the document's other spans of
  the same string or head word have (gold when training, the CRF's when predicting); trained
  on the gold spans of the training documents, its probabilities mixed log-linearly with the
  CRF's type probabilities (each type's marginal mass along the span), the span's raw score
  the CRF's untyped boundary probability times the mixed type probability. Mean typed F1
  over the seeds, C = 0.3 / 1 / 3 and CRF weight 0 / 0.3 / 0.5 / 0.7: 0.783-0.792 against
  0.790 (best C=1, weight 0.3: 0.7745 / 0.8085 = 0.7915, +0.1 point, noise); the typer alone
  (weight 0) is below the CRF (0.768 / 0.807). Its fit took 4-9 s CPU on 473 documents, which
  neither retrain budget can pay. The same words take either type across the corpus
  (dev seed 0: 37 DiseaseClass read as SpecificDisease, 17 the other way, 23 Modifier read
  as SpecificDisease), and the CRF already sees most of these cues.
- not kept, document consistency beyond abbreviations: every other uncovered occurrence of
  a predicted multi-word span's exact token sequence (and of one-word spans) becomes a
  candidate, typed by the CRF's marginals there and kept when its least tag marginal is at
  least ECHO_MIN_MARGINAL: multi-word 0.7688 / 0.8129 (mean 0.7909), with one-word spans
  0.7693 / 0.8125 (0.7909), against 0.7694 / 0.8115 (0.7904); untyped +0.1-0.4 point. On
  dev, 10 / 9 missed gold mentions had their exact string predicted elsewhere in the
  document: the ceiling of this idea is about half a point.
- not kept, two-pass stacking (Krishnan & Manning 2006; format tagloop-crf-4 and
  app.ml.spans.stacking in the session's branch history, reverted): the first CV fold's CRF
  (half the documents, 25 iterations) kept as a first pass, and what it found anywhere in
  the document as features of the final CRF (token majority: the label the same word takes
  in the document's first-pass spans, and whether its own differs; entity majority: where a
  first-pass span's string occurs, B-/I- of its label, and the token after it). The final
  CRF learns them from the CV folds' out-of-fold spans, so a retrain fits no extra CRF
  (50-51 s CPU on 473, 10.3-10.4 s on 100, as without it on the same loaded machine);
  prediction runs two CRFs. Retrains of >= 40 documents only. Dev, what the app runs
  (train_validated, `--dev`): on 473 0.7732 / 0.8102 (untyped 0.8705 / 0.8841) against
  0.7694 / 0.8115 (0.8557 / 0.8871); on 100 (3 draws each) 0.6678 / 0.6853 against
  0.6665 / 0.6847. The same with untyped first-pass cues (mention or not): 0.7739 / 0.7990.
  +0.1 point on average and down on seed 1: boundaries gain on seed 0 (untyped +1.5) but
  the typed F1 hardly moves, not worth twice the prediction time and a new format. (A first
  try that let the second fold see the first fold's cues gave 0.781 / 0.808: the same.)
- not kept, a head-word type cue for the CRF: each token's type among the gazetteer's
  mentions it ends ("mixed" when several), jack-knifed as the gazetteer: 0.7723 / 0.8068
  (untyped 0.8602 / 0.8819) against 0.7694 / 0.8115.
- not kept, other L1/L2 strengths on 473 documents: c2 0.1: 0.7598 / 0.8173 (0.7885);
  c1 0.1 and c2 0.1: 0.7648 / 0.8111 (0.7879); against c1 0.05, c2 0.3: 0.7904.

Brief of session 5 (dev splits as above, seeds 0 / 1; the CRF of crf.train on 473 against
0.7694 / 0.8115, mean 0.7904; untyped 0.8557 / 0.8871; the pool is the 120 held-out and the
100 test abstracts' texts, never their labels; each variant one retrain, the same seed):
- not kept, self-training on whole documents: the model labels the pool, and the documents
  it is sure of join the training set once, then a retrain. A document's sequence
  probability >= 0.8: 0.7761 / 0.8108 (mean 0.7935, +0.3; untyped 0.8688 / 0.8818), but
  only 1 / 4 abstracts pass (an abstract's probability is the product of its sentences');
  every predicted span's score >= 0.9 (19 / 20 abstracts): 0.7648 / 0.8121 (0.7885).
- not kept, the cheap form: the pool's confident spans (score >= 0.9; 1013 / 916 mentions)
  added to the gazetteer (the jack-knifed training gazetteers and the model's): 0.7668 /
  0.8211 (mean 0.7940, +0.4; untyped 0.8623 / 0.8894): down on seed 0.
- not kept, self-training on sentences (the windows the CRF trains on), since few whole
  abstracts pass: the pool's windows whose Viterbi sequence probability is >= 0.9 (1147 /
  1145 windows, 384 / 328 spans) as extra training items of their own text: 0.7703 /
  0.8120 (mean 0.7912, +0.1; untyped 0.8597 / 0.8840); the windows whose least tag marginal
  is >= 0.9 (1270 / 1272, 522 / 479 spans): 0.7677 / 0.8058 (0.7868). The retrain takes 25%
  more CPU (about 30 s against 24 s on 473 on the loaded machine) for +0.1 point: nothing.
- not kept, the CV folds' models as an ensemble, no extra fit: the final CRF and the two
  fold CRFs (each on half the documents, 25 iterations) tag each window, their tag
  marginals are averaged and decoded by a Viterbi over the mean marginals under BILOU's
  allowed transitions. Equal weights: 0.7735 / 0.7951 (mean 0.7843, -0.6); the final model
  weighted 2:1:1: 0.7756 / 0.8012 (0.7884, -0.2). The half-data models drag the final one
  down on seed 1. The same posterior decoding of the final model alone (no abbreviation
  echoes): 0.7723 / 0.8114 (0.7919, +0.15, flat on seed 1).
- not kept, an ensemble of CRFs on different feature subsets, each on all 473 documents
  (40 iterations), mean marginals decoded as above: the final CRF with one without the
  gazetteer: 0.7771 / 0.8055 (mean 0.7913); with one without word clusters: 0.7690 /
  0.8021 (0.7856); all three: 0.7754 / 0.8061 (0.7908). Alone, without the gazetteer
  0.7778 / 0.8068 (0.7923), without clusters 0.7552 / 0.7834. Each member is a full fit
  (about 20 s CPU on 473), which the 60 s retrain of 593 cannot pay anyway.
- not kept, bagging: CRFs on bootstrap samples of the 473 (drawn with replacement, full
  size, 40 iterations) with the final CRF, mean marginals: with one 0.7726 / 0.7888 (mean
  0.7807), with two 0.7641 / 0.7985 (0.7813); the two bootstrap CRFs without it 0.7602 /
  0.7778; one alone 0.7567 / 0.7657. A bootstrap sample sees about 63% of the documents,
  and with few labels every document counts.
- So nothing here gains a point on both seeds (the best, +0.1-0.4 mean, are each down or
  flat on one seed; one extra abstract in the training set moved seed 0 by +0.7 point, the
  size of a retrain's noise); the model, its format (tagloop-crf-3) and the test figures stay as
  they were. The experiments' script is bench/span_session5.py of commit 3f077a4
  (removed in the next commit): `python bench/span_session5.py SEED
  st,gaz,stw,ens,feat,boot`.

Usage: python bench/span_model.py [--skip-app] [--skip-suggestion] [--dev]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _data import data_file

LABELS = ["SpecificDisease", "DiseaseClass", "CompositeMention", "Modifier"]
SHARED = Path("/work/shared/data")


def ncbi(name: str):
    from app.core.io.demo import read_pubtator
    from app.ml.types import Example

    path = SHARED / name if (SHARED / name).exists() else data_file(name)
    return [Example(d.text, d.spans) for d in read_pubtator(path)]


class Clock:
    """Wall-clock and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.wall:5.1f} s wall, {self.cpu:5.1f} s CPU"


def scores(test, predictions) -> tuple[float, float]:
    from app.ml.spans.metrics import span_metrics

    gold = [ex.value for ex in test]
    typed = span_metrics(gold, [p.value for p in predictions], LABELS)["micro"]["f1"]
    untyped = span_metrics(
        [[{**s, "label": "m"} for s in g] for g in gold],
        [[{**s, "label": "m"} for s in p.value] for p in predictions],
    )["micro"]["f1"]
    return typed, untyped


def errors(test, predictions) -> str:
    """Where the typed F1 is lost: gold mentions found with the right boundaries but the wrong
    type (the commonest gold -> predicted pairs), with other boundaries, missed; spurious
    predicted spans overlapping no gold one."""
    from collections import Counter

    kinds: Counter = Counter()
    pairs: Counter = Counter()
    for ex, p in zip(test, predictions, strict=True):
        found = {(s["start"], s["end"]): s["label"] for s in p.value}
        gold = {(s["start"], s["end"]): s["label"] for s in ex.value}
        for (start, end), label in gold.items():
            if found.get((start, end)) == label:
                continue
            if (start, end) in found:
                kinds["wrong type"] += 1
                pairs[f"{label} -> {found[(start, end)]}"] += 1
            elif any(a < end and start < b for a, b in found):
                kinds["other boundaries"] += 1
            else:
                kinds["missed"] += 1
        kinds["spurious"] += sum(
            not any(a < end and start < b for a, b in gold) for start, end in found
        )
    common = ", ".join(f"{pair} {n}" for pair, n in pairs.most_common(6))
    gold_count = sum(len(ex.value) for ex in test)
    return (
        f"{kinds['wrong type']} right boundaries with the wrong type ({common}),"
        f" {kinds['other boundaries']} other boundaries, {kinds['missed']} missed,"
        f" {kinds['spurious']} spurious ({gold_count} gold)"
    )


def accuracy_and_time(train, test, skip_app: bool) -> None:
    from app.ml import registry
    from app.ml.spans.calibration import calibration_metrics

    everything = [ex.text for ex in train + test]

    def pool(labelled) -> list[str]:
        """The unlabelled texts of a project holding all 693 abstracts: the test texts are
        among them (unlabelled text, as a project would hold; their labels are never read),
        and the train abstracts that are not in this subset."""
        chosen = {ex.text for ex in labelled}
        return [text for text in everything if text not in chosen]

    for name, sets in (
        ("all", [train]),
        ("100", [random.Random(seed).sample(train, 100) for seed in (1, 2, 3)]),
    ):
        f1s, clocks = [], []
        for subset in sets:
            with Clock() as clock:
                model = registry.train("spans", subset, LABELS, unlabeled=pool(subset))
            predictions = model.predict([ex.text for ex in test])
            f1s.append(scores(test, predictions))
            clocks.append(clock)
            if name == "all":
                print(f"  where the typed F1 is lost: {errors(test, predictions)}", flush=True)
        typed = sum(f for f, _ in f1s) / len(f1s)
        untyped = sum(u for _, u in f1s) / len(f1s)
        target = ">= 0.80" if name == "all" else ">= 0.60"
        print(
            f"trained on {name:>3} ({len(sets[0])} abstracts, {len(sets)} draw(s)): test span F1"
            f" typed {typed:.3f} (target {target}), untyped {untyped:.3f};"
            f" train alone {clocks[0]}",
            flush=True,
        )
        if skip_app:
            continue
        folds = max(2, min(5, len(sets[0]) // 5))
        with Clock() as clock:
            model, metrics, _oof = registry.train_validated(
                "spans", sets[0], LABELS, folds=folds, unlabeled=pool(sets[0])
            )
        predictions = model.predict([ex.text for ex in test])
        typed, untyped = scores(test, predictions)
        ece = calibration_metrics(test, predictions)
        print(
            f"  what the app runs on {len(sets[0])} ({metrics['folds']}-fold CV + calibration"
            f" + model): {clock} (target <= {60 if name == 'all' else 10} s);"
            f" cross-validated macro-F1 {metrics['macro_f1']:.3f}, micro F1"
            f" {metrics['micro']['f1']:.3f}, span ECE {metrics['ece']:.3f}",
            flush=True,
        )
        print(
            f"  on the test set: typed F1 {typed:.3f}, untyped {untyped:.3f}; span ECE"
            f" {ece['ece']:.3f} (target <= 0.05), document ECE {ece['document_ece']:.3f}",
            flush=True,
        )


def time_to_suggestion(train) -> None:
    """20 completed documents in a project of 520 abstracts, then the run the controller
    starts at the 20th (a full retrain, as retrain_every asks; the quick update when it is
    not due), each in the worker process, until the next document's suggestion is read."""
    from app.core.annotation.commands import AnnotationState, SetAnnotations
    from app.core.io.importer import import_dataset
    from app.core.project import modelstore
    from app.core.project.label_schema import LabelSpec
    from app.core.project.project import create_project
    from app.workers.process import run_in_process

    folder = Path(tempfile.mkdtemp(prefix="tagloop-span-bench-"))
    source = folder / "ncbi.jsonl"
    docs = train[:520]
    source.write_text(
        "".join(json.dumps({"text": ex.text}) + "\n" for ex in docs), encoding="utf-8"
    )
    project = create_project(folder / "p.tagloop", "spans", [LabelSpec(x) for x in LABELS])
    import_dataset(project, source)
    with project.engine.connect() as conn:
        ids = [row[0] for row in conn.exec_driver_sql("SELECT id FROM datapoint ORDER BY id")]
    who = project.local_annotator_id
    for dp_id, ex in zip(ids[:20], docs[:20], strict=True):  # one user action each
        state = AnnotationState(ex.value, "complete")
        SetAnnotations(who, ((dp_id, state),)).apply(project)
    for target, what in (
        ("app.ml.loop:train_and_score_file", "full retrain (due at 20 labels)"),
        ("app.ml.loop:quick_update_file", "quick update (after any other document)"),
    ):
        started = time.perf_counter()
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + time.process_time()
        version_id = run_in_process(target, str(project.path))
        found = modelstore.suggestions(project, [ids[20]], version_id)
        elapsed = time.perf_counter() - started
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + time.process_time() - cpu
        spans = len(found[ids[20]].value) if ids[20] in found else "no"
        print(
            f"20th document to the first suggestion, {what}: {elapsed:.1f} s wall,"
            f" {cpu:.1f} s CPU (target <= 15 s; {spans} spans suggested for the 21st,"
            " 500 scored)",
            flush=True,
        )
    project.close()


def dev(train, test) -> None:
    """Typed and untyped F1 on the dev splits (the train set shuffled with seeds 0 and 1, 120
    abstracts held out; what settings are tuned on, never the test set): what the app runs
    (train_validated) on the other 473, and on 100 of them (3 draws, 2 seeds)."""
    from app.ml import registry

    everything = [ex.text for ex in train + test]  # unlabelled texts, as in accuracy_and_time
    for seed in (0, 1):
        order = list(train)
        random.Random(seed).shuffle(order)
        held, rest = order[:120], order[120:]
        for name, sets in (
            ("473", [rest]),
            ("100", [random.Random(draw).sample(rest, 100) for draw in (1, 2, 3)]),
        ):
            typed, untyped, cpu = [], [], 0.0
            for subset in sets:
                chosen = {ex.text for ex in subset}
                with Clock() as clock:
                    model, _metrics, _oof = registry.train_validated(
                        "spans",
                        subset,
                        LABELS,
                        folds=2,
                        unlabeled=[t for t in everything if t not in chosen],
                    )
                f1 = scores(held, model.predict([ex.text for ex in held]))
                typed.append(f1[0])
                untyped.append(f1[1])
                cpu += clock.cpu
            print(
                f"dev seed {seed}, trained on {name}: typed F1 "
                + " / ".join(f"{f:.4f}" for f in typed)
                + f" (mean {sum(typed) / len(typed):.4f}), untyped"
                f" {sum(untyped) / len(untyped):.4f}; {cpu / len(sets):.1f} s CPU each",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-app", action="store_true", help="no cross-validated runs")
    parser.add_argument("--skip-suggestion", action="store_true")
    parser.add_argument("--only-suggestion", action="store_true")
    parser.add_argument("--dev", action="store_true", help="only the dev splits of the train set")
    args = parser.parse_args()
    train = ncbi("ncbi_disease_train.pubtator")
    if args.dev:
        dev(train, ncbi("ncbi_disease_test.pubtator"))
        return
    test = ncbi("ncbi_disease_test.pubtator")
    if not args.only_suggestion:
        accuracy_and_time(train, test, args.skip_app)
    if not args.skip_suggestion:
        time_to_suggestion(train)


if __name__ == "__main__":
    main()
