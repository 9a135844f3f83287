#!/usr/bin/env python3
"""Peers for bench/bench_peers.sh: fastText (supervised) and Vowpal Wabbit (one-against-all).

Both are trained on the training file minus the same tune split as `sentistream train`
(data.tune.share 0.1 by the same hash of the tweet id and seed 1), their settings chosen by
AvgRec on the tune split from a small grid, then scored on the validation file: AvgRec
(macro recall), F1-PN, accuracy, and prediction throughput through each library's Python API
on the texts of --score-input (default: the validation file; best of --repeats runs). Prints one machine-readable line per peer:
    PEER name=<name> avgrec=<x> f1pn=<x> accuracy=<x> n=<tweets> seconds=<s> rate=<tweets/s>
         cpu_rate=<tweets per CPU-second>
Run it on one core (taskset -c 0): bench/bench_peers.sh does.

  fastText (PyPI fasttext-numpy2): word n-grams 2, character n-grams 2-5 (subwords), dim 50,
    softmax loss, 10 epochs; grid over the learning rate (0.25, 1.0).
  Vowpal Wabbit (PyPI vowpalwabbit): --oaa 3 --loss_function logistic, word unigrams +
    bigrams (--ngram 2), 2^22 hashed features, online passes over shuffled rows; grid over
    learning rate (0.1, 0.5) and passes (1, 3).
"""
import argparse
import os
import random
import re
import sys
import tempfile
import time

LABELS = ["negative", "neutral", "positive"]
M64 = (1 << 64) - 1


def id_hash(tid, seed):
    """ss_id_hash of models/train/dataset.c: FNV-1a, then a splitmix64 finaliser."""
    h = 0xcbf29ce484222325 ^ seed
    for b in tid.encode():
        h ^= b
        h = (h * 0x100000001b3) & M64
    h = (h + seed * 0x9e3779b97f4a7c15) & M64
    h = ((h ^ (h >> 30)) * 0xbf58476d1ce4e5b9) & M64
    h = ((h ^ (h >> 27)) * 0x94d049bb133111eb) & M64
    return h ^ (h >> 31)


def is_tune(tid, share, seed):
    return (id_hash(tid, seed) >> 11) * 2.0 ** -53 < share


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) != 3 or parts[1] not in LABELS:
                sys.exit(f"{path}: bad line {line[:60]!r}")
            rows.append((parts[0], LABELS.index(parts[1]), parts[2]))
    return rows


def metrics(truth, pred):
    conf = [[0] * 3 for _ in range(3)]
    for t, p in zip(truth, pred):
        conf[t][p] += 1
    rec = [conf[c][c] / max(1, sum(conf[c])) for c in range(3)]
    prec = [conf[c][c] / max(1, sum(conf[r][c] for r in range(3))) for c in range(3)]
    f1 = [2 * p * r / (p + r) if p + r > 0 else 0 for p, r in zip(prec, rec)]
    return {"avgrec": sum(rec) / 3, "f1pn": (f1[0] + f1[2]) / 2,
            "accuracy": sum(conf[c][c] for c in range(3)) / max(1, len(truth)),
            "neutral_recall": rec[1]}


def clean(text):
    return re.sub(r"\s+", " ", text.lower()).strip()


def timed(fn, texts, repeats):
    """Best wall-clock and best CPU seconds (this process) over repeats runs."""
    best = best_cpu = None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn(texts)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        best = dt if best is None or dt < best else best
        best_cpu = dc if best_cpu is None or dc < best_cpu else best_cpu
    return best, best_cpu


# ---- fastText ----

def ft_train(fasttext, fit, lr, epoch, threads, tmp):
    path = os.path.join(tmp, "fit.txt")
    with open(path, "w", encoding="utf-8") as f:
        for _, y, text in fit:
            f.write(f"__label__{LABELS[y]} {clean(text)}\n")
    return fasttext.train_supervised(input=path, lr=lr, epoch=epoch, wordNgrams=2, minn=2,
                                     maxn=5, dim=50, loss="softmax", thread=threads, seed=1,
                                     verbose=0)


def ft_predict(model, texts):
    labels, _ = model.predict([clean(t) for t in texts], k=1)
    return [LABELS.index(lab[0][len("__label__"):]) for lab in labels]


# ---- Vowpal Wabbit ----

def vw_line(text):
    return "|w " + re.sub(r"[|:]", " ", clean(text))


def vw_train(pyvw, fit, lr, passes):
    vw = pyvw.Workspace(f"--oaa 3 --loss_function logistic --ngram 2 -b 22 -l {lr} --quiet "
                        "--random_seed 1")
    rows = list(fit)
    rnd = random.Random(1)
    for _ in range(passes):
        rnd.shuffle(rows)
        for _, y, text in rows:
            vw.learn(f"{y + 1} {vw_line(text)}")
    return vw


def vw_predict(vw, texts):
    return [int(vw.predict(vw_line(t))) - 1 for t in texts]


def report(name, m, n, secs, chosen):
    wall, cpu = secs
    print(f"{name}: chosen {chosen}; validation AvgRec {m['avgrec']:.4f}  F1-PN {m['f1pn']:.4f}  "
          f"accuracy {m['accuracy']:.4f}  neutral recall {m['neutral_recall']:.4f}; "
          f"{n / wall:.0f} predictions/s wall-clock, {n / cpu:.0f} per CPU-second")
    print(f"PEER name={name} avgrec={m['avgrec']:.4f} f1pn={m['f1pn']:.4f} "
          f"accuracy={m['accuracy']:.4f} n={n} seconds={wall:.3f} rate={n / wall:.0f} "
          f"cpu_rate={n / cpu:.0f}")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--validation", required=True)
    ap.add_argument("--tune-share", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="fastText training threads")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--peers", default="fasttext,vw")
    ap.add_argument("--score-input", help="TSV whose texts are timed (default: validation)")
    a = ap.parse_args()
    train = read_tsv(a.train)
    val = read_tsv(a.validation)
    fit = [r for r in train if not is_tune(r[0], a.tune_share, a.seed)]
    tune = [r for r in train if is_tune(r[0], a.tune_share, a.seed)]
    print(f"data: fit {len(fit)}, tune {len(tune)}, validation {len(val)}")
    vt = [r[2] for r in val]
    vy = [r[1] for r in val]
    st = [r[2] for r in read_tsv(a.score_input)] if a.score_input else vt
    peers = a.peers.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "fasttext" in peers:
            import fasttext
            best = None
            for lr in (0.25, 1.0):
                for epoch in (10,):
                    t = time.perf_counter()
                    m = ft_train(fasttext, fit, lr, epoch, a.threads, tmp)
                    s = metrics([r[1] for r in tune], ft_predict(m, [r[2] for r in tune]))
                    print(f"fasttext: lr {lr} epoch {epoch}: tune AvgRec {s['avgrec']:.4f} "
                          f"({time.perf_counter() - t:.1f} s)")
                    if best is None or s["avgrec"] > best[0]:
                        best = (s["avgrec"], m, f"lr {lr} epoch {epoch}")
            model = best[1]
            secs = timed(lambda x: ft_predict(model, x), st, a.repeats)
            report("fasttext", metrics(vy, ft_predict(model, vt)), len(st), secs, best[2])
        if "vw" in peers:
            from vowpalwabbit import pyvw
            best = None
            for lr in (0.1, 0.5):
                for passes in (1, 3):
                    t = time.perf_counter()
                    vw = vw_train(pyvw, fit, lr, passes)
                    s = metrics([r[1] for r in tune], vw_predict(vw, [r[2] for r in tune]))
                    print(f"vw: lr {lr} passes {passes}: tune AvgRec {s['avgrec']:.4f} "
                          f"({time.perf_counter() - t:.1f} s)")
                    if best is None or s["avgrec"] > best[0]:
                        best = (s["avgrec"], vw, f"lr {lr} passes {passes}")
            vw = best[1]
            secs = timed(lambda x: vw_predict(vw, x), st, a.repeats)
            report("vw", metrics(vy, vw_predict(vw, vt)), len(st), secs, best[2])


if __name__ == "__main__":
    main()
