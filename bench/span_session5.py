"""Session 5 dev experiments for issue #17 (figures in bench/span_model.py's docstring):
self-training on the pool's documents (st) or sentences (stw), the pool's confident spans
in the gazetteer (gaz: needs crf.train's extra_mentions hook of commit f1d62ec), the CV
folds' CRFs as an ensemble (ens), feature-subset (feat) and bootstrap (boot) ensembles,
their mean marginals decoded by a BILOU-constrained Viterbi.

Usage: python bench/span_session5.py SEED st,gaz,stw,ens,feat,boot
Not kept: added and removed in two commits, for the record."""

import json

# ruff: noqa: E402, SIM115 (a one-off experiment script, kept only in history)
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from span_model import LABELS, ncbi

from app.ml.spans import crf
from app.ml.spans import features as F
from app.ml.spans.metrics import span_metrics
from app.ml.types import Example

seed = int(sys.argv[1])
what = sys.argv[2].split(",")
train = ncbi("ncbi_disease_train.pubtator")
test = ncbi("ncbi_disease_test.pubtator")
everything = [ex.text for ex in train + test]
order = list(train)
random.Random(seed).shuffle(order)
held, rest = order[:120], order[120:]
chosen = {ex.text for ex in rest}
pool = [t for t in everything if t not in chosen]
clusters = crf._clusters(rest, pool, "en", crf.DEFAULT_SETTINGS, 0)
tok, _ = F.blank_tokenizer("en")


def f1(values):
    gold = [ex.value for ex in held]
    t = span_metrics(gold, values, LABELS)["micro"]["f1"]
    u = span_metrics(
        [[{**s, "label": "m"} for s in g] for g in gold],
        [[{**s, "label": "m"} for s in p] for p in values],
    )["micro"]["f1"]
    return round(t, 4), round(u, 4)


def fit(examples, **kw):
    t = time.process_time()
    m = crf.train(examples, LABELS, clusters=clusters, **kw)
    return m, time.process_time() - t


def marginals(model, words, spans):
    """per window: list of dict tag -> [marginal per token]"""
    tagger = model.tagger()
    gaz = [model.gazetteer.tags(words[a:b]) for a, b in spans]
    cues = F.document_cues(words, [x for w in gaz for x in w])
    out = []
    for (a, b), g in zip(spans, gaz, strict=False):
        tagger.set(F.sequence_features(words[a:b], g, model.clusters, cues[a:b]))
        out.append(
            {tag: [tagger.marginal(tag, i) for i in range(b - a)] for tag in tagger.labels()}
        )
    return out


def allowed(prev, cur):
    if prev is None:
        return cur[:2] in ("O", "B-", "U-") or cur == "O"
    if prev == "O" or prev[:2] in ("L-", "U-"):
        return cur == "O" or cur[:2] in ("B-", "U-")
    return cur[:2] in ("I-", "L-") and cur[2:] == prev[2:]


def viterbi(mean, n, tags):
    lp = {t: [math.log(max(v, 1e-12)) for v in mean[t]] for t in tags}
    best = {t: (lp[t][0], [t]) for t in tags if allowed(None, t)}
    for i in range(1, n):
        nxt = {}
        for t in tags:
            cands = [(s + lp[t][i], path) for p, (s, path) in best.items() if allowed(p, t)]
            if cands:
                s, path = max(cands, key=lambda c: c[0])
                nxt[t] = (s, [*path, t])
        best = nxt
    ends = [(s, path) for t, (s, path) in best.items() if t == "O" or t[:2] in ("L-", "U-")]
    return max(ends, key=lambda c: c[0])[1]


def ens_predict(models, texts, weights=None):
    weights = weights or [1.0] * len(models)
    out = []
    for text in texts:
        tokens = F.tokenize(tok, text)
        words = [t.text for t in tokens]
        spans = F.windows(text, tokens)
        per = [marginals(m, words, spans) for m in models]
        tags = sorted(set().union(*[w.keys() for m in per for w in m]))
        value = []
        for wi, (a, b) in enumerate(spans):
            n = b - a
            mean = {
                t: [
                    sum(w * per[k][wi].get(t, [0.0] * n)[i] for k, w in enumerate(weights))
                    / sum(weights)
                    for i in range(n)
                ]
                for t in tags
            }
            path = viterbi(mean, n, tags)
            i = 0
            while i < n:
                t = path[i]
                if t == "O":
                    i += 1
                    continue
                j = i
                if t[:2] == "B-":
                    while j + 1 < n and path[j + 1][:2] in ("I-", "L-"):
                        j += 1
                        if path[j][:2] == "L-":
                            break
                value.append(
                    {"start": tokens[a + i].start, "end": tokens[a + j].end, "label": t[2:]}
                )
                i = j + 1
        out.append(value)
    return out


res = {"seed": seed}
base, cpu = fit(rest, seed=0)
res["base"] = f1([p.value for p in base.predict_raw([e.text for e in held])])
res["base_cpu"] = round(cpu, 1)
print(res, flush=True)
if "st" in what or "gaz" in what:
    preds = base.predict_raw(pool)
if "st" in what:
    a = [Example(t, p.value) for t, p in zip(pool, preds, strict=False) if p.confidence >= 0.8]
    m, cpu = fit(list(rest) + a, seed=0)
    res["st_prob08"] = f1([p.value for p in m.predict_raw([e.text for e in held])])
    res["st_prob08_n"] = len(a)
    res["st_cpu"] = round(cpu, 1)
    print(res, flush=True)
    b = [
        Example(t, p.value)
        for t, p in zip(pool, preds, strict=False)
        if min(p.span_scores or [1.0]) >= 0.9 and p.value
    ]
    m, cpu = fit(list(rest) + b, seed=0)
    res["st_span09"] = f1([p.value for p in m.predict_raw([e.text for e in held])])
    res["st_span09_n"] = len(b)
    print(res, flush=True)


def windows_of(texts, model, prob, minm):
    """confident windows of the pool as Examples of their own text"""
    out = []
    tagger = model.tagger()
    for text in texts:
        tokens = F.tokenize(tok, text)
        words = [t.text for t in tokens]
        gaz = [model.gazetteer.tags(words[a:b]) for a, b in F.windows(text, tokens)]
        cues = F.document_cues(words, [x for w in gaz for x in w])
        for (a, b), g in zip(F.windows(text, tokens), gaz, strict=False):
            tagger.set(F.sequence_features(words[a:b], g, model.clusters, cues[a:b]))
            tags = tagger.tag()
            if tagger.probability(tags) < prob:
                continue
            if min(tagger.marginal(t, i) for i, t in enumerate(tags)) < minm:
                continue
            base_off = tokens[a].start
            value = [
                {
                    "start": tokens[a + i].start - base_off,
                    "end": tokens[a + j].end - base_off,
                    "label": lab,
                }
                for i, j, lab, _ in crf._decode(tagger, tags, frozenset(tagger.labels()))
            ]
            out.append(Example(text[base_off : tokens[b - 1].end], value))
    return out


if "stw" in what:
    for prob, minm in ((0.9, 0.0), (0.0, 0.9)):
        w = windows_of(pool, base, prob, minm)
        m, cpu = fit(list(rest) + w, seed=0)
        res[f"stw_{prob}_{minm}"] = f1([p.value for p in m.predict_raw([e.text for e in held])])
        res[f"stw_{prob}_{minm}_n"] = (len(w), sum(len(x.value) for x in w))
        res["stw_cpu"] = round(cpu, 1)
        print(res, flush=True)
if "gaz" in what:
    extra = []
    for t, p in zip(pool, preds, strict=False):
        tokens = F.tokenize(tok, t)
        for s, sc in zip(p.value, p.span_scores, strict=False):
            if sc >= 0.9:
                words = tuple(x.text for x in tokens if x.start >= s["start"] and x.end <= s["end"])
                if words:
                    extra.append((words, s["label"]))
    m, cpu = fit(rest, seed=0, extra_mentions=extra)
    res["gaz09"] = f1([p.value for p in m.predict_raw([e.text for e in held])])
    res["gaz09_n"] = len(extra)
    print(res, flush=True)
if "ens" in what:
    fold_of = crf._folds(len(rest), 2, 0)
    folds = []
    for k in range(2):
        m, cpu = fit([rest[i] for i in range(len(rest)) if fold_of[i] != k], seed=0, iterations=25)
        folds.append(m)
    texts = [e.text for e in held]
    res["base_posterior"] = f1(ens_predict([base], texts))
    res["ens_base_2folds"] = f1(ens_predict([base, *folds], texts))
    res["ens_base2_2folds"] = f1(ens_predict([base, *folds], texts, [2, 1, 1]))
    print(res, flush=True)
json.dump(res, open(f"span_session5_{seed}_{sys.argv[2]}.json", "w"))
if "feat" in what:
    from dataclasses import replace

    from app.ml.spans import clusters as CL

    texts = [e.text for e in held]
    t = time.process_time()
    nogaz = crf.train(
        rest, LABELS, clusters=clusters, settings=replace(crf.DEFAULT_SETTINGS, gazetteer=False)
    )
    nocl = crf.train(rest, LABELS, clusters=CL.WordClusters())
    res["feat_cpu_two"] = round(time.process_time() - t, 1)
    res["nogaz_alone"] = f1([p.value for p in nogaz.predict_raw(texts)])
    res["nocl_alone"] = f1([p.value for p in nocl.predict_raw(texts)])
    res["ens_base_nogaz"] = f1(ens_predict([base, nogaz], texts))
    res["ens_base_nocl"] = f1(ens_predict([base, nocl], texts))
    res["ens_all3"] = f1(ens_predict([base, nogaz, nocl], texts))
    print(res, flush=True)
    json.dump(res, open(f"span_session5_{seed}_{sys.argv[2]}.json", "w"))
if "boot" in what:
    texts = [e.text for e in held]
    rng = random.Random(100 + seed)
    boots = []
    t = time.process_time()
    for b in range(2):
        sample = [rest[rng.randrange(len(rest))] for _ in rest]
        boots.append(crf.train(sample, LABELS, clusters=clusters, seed=b + 1))
    res["boot_cpu_two"] = round(time.process_time() - t, 1)
    res["boot0_alone"] = f1([p.value for p in boots[0].predict_raw(texts)])
    res["ens_base_boot1"] = f1(ens_predict([base, boots[0]], texts))
    res["ens_base_boot2"] = f1(ens_predict([base, *boots], texts))
    res["ens_boot2"] = f1(ens_predict(boots, texts))
    print(res, flush=True)
    json.dump(res, open(f"span_session5_{seed}_{sys.argv[2]}.json", "w"))
