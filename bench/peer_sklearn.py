#!/usr/bin/env python3
"""Peer for bench/bench_score.sh: scikit-learn's reference pipeline.

TF-IDF word 1-2 grams + char_wb 2-5 grams -> LogisticRegression(class_weight="balanced"),
trained on the training file; prints its metrics on the validation file, then times
predict_proba on the texts of a (repeated) scoring input and prints one machine-readable line:
    PEER n=<tweets> seconds=<s> rate=<tweets/s>
Run it on one core (taskset -c 0, OMP/OPENBLAS threads 1): bench/bench_score.sh does.
"""
import argparse
import sys
import time

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, recall_score
from sklearn.pipeline import FeatureUnion, make_pipeline

LABELS = ["negative", "neutral", "positive"]


def read_tsv(path):
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) != 3:
                sys.exit(f"{path}: bad line {line[:60]!r}")
            labels.append(parts[1])
            texts.append(parts[2])
    return texts, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--validation", required=True)
    ap.add_argument("--score-input", required=True, help="TSV whose texts are timed")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts")
    a = ap.parse_args()

    xt, yt = read_tsv(a.train)
    xv, yv = read_tsv(a.validation)
    t0 = time.perf_counter()
    pipe = make_pipeline(
        FeatureUnion([
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2))),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))),
        ]),
        LogisticRegression(class_weight="balanced", max_iter=1000),
    )
    pipe.fit(xt, yt)
    fit_s = time.perf_counter() - t0
    pred = pipe.predict(xv)
    print(f"peer: scikit-learn fit {fit_s:.1f} s; validation n={len(yv)} "
          f"AvgRec {recall_score(yv, pred, average='macro', labels=LABELS):.4f} "
          f"F1-PN {f1_score(yv, pred, average='macro', labels=['positive', 'negative']):.4f} "
          f"accuracy {accuracy_score(yv, pred):.4f}", flush=True)

    texts, _ = read_tsv(a.score_input)
    best = best_cpu = None
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        probs = pipe.predict_proba(texts)
        s, c = time.perf_counter() - t0, time.process_time() - c0
        best = s if best is None else min(best, s)
        best_cpu = c if best_cpu is None else min(best_cpu, c)
    assert probs.shape == (len(texts), 3)
    print(f"PEER n={len(texts)} seconds={best:.3f} rate={len(texts) / best:.0f} "
          f"cpu_seconds={best_cpu:.3f} cpu_rate={len(texts) / best_cpu:.0f}", flush=True)


if __name__ == "__main__":
    main()
