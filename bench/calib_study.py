#!/usr/bin/env python3
"""Why a model's calibration does or does not transfer from the tune split to a test file.

  bench/calib_study.py MODEL [TRAIN.tsv [TEST.tsv]]      (defaults: data/semeval-*.tsv)

Scores the training file and the test file with `sentistream score` (build/rel), keeps the
training rows of the tune split (the same seeded hash of the tweet id as
models/train/dataset.c, data.tune.share 0.1, model.seed 1), undoes the model's temperature,
and prints the test ECE (15 bins, top label, as calib.c) for: the temperature fitted on the
tune split; a grid of temperatures; the temperature fitted on the tune rows of the latest
training year; and a temperature plus a per-class bias fitted on the tune split (bias-corrected
temperature scaling). The temperature that minimises the test's own NLL is printed as a
diagnostic only (what no fit on held-out data can beat), never used.
Only meaningful for a model that never trained on its tune rows (cnn, minilm; the final LR
refits on them). Needs numpy and scipy (.venv-mlops has both).
"""
import json
import os
import subprocess
import sys

import numpy as np
from scipy.optimize import minimize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
M64 = (1 << 64) - 1
LABELS = {"negative": 0, "neutral": 1, "positive": 2}


def id_hash(s, seed):
    h = 0xCBF29CE484222325 ^ seed
    for c in s.encode():
        h = ((h ^ c) * 0x100000001B3) & M64
    h = (h + seed * 0x9E3779B97F4A7C15) & M64
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & M64
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & M64
    return h ^ (h >> 31)


def is_tune(tweet_id, share=0.1, seed=1):
    return (id_hash(tweet_id, seed) >> 11) * 2.0**-53 < share


def scored(model, path):
    truth = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            x = line.rstrip("\n").split("\t")
            truth[x[0]] = LABELS[x[1]]
    with open(path, "rb") as f:
        out = subprocess.run([os.path.join(ROOT, "build/rel/cli/sentistream"), "score", model],
                             stdin=f, capture_output=True, check=True).stdout
    ids, probs, ys = [], [], []
    for line in out.decode().splitlines():
        o = json.loads(line)
        ids.append(o["id"])
        probs.append([o["prob_negative"], o["prob_neutral"], o["prob_positive"]])
        ys.append(truth[o["id"]])
    return ids, np.array(probs), np.array(ys)


def scale(p, t, bias=(0.0, 0.0)):
    z = np.log(np.clip(p, 1e-12, 1)) / t + np.array([bias[0], bias[1], 0.0])
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def ece(p, y, bins=15):
    conf, hit = p.max(1), (p.argmax(1) == y).astype(float)
    b = np.minimum((conf * bins).astype(int), bins - 1)
    return sum((b == k).mean() * abs(hit[b == k].mean() - conf[b == k].mean())
               for k in range(bins) if (b == k).any())


def nll(p, y):
    return -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1)))


def fit(p, y, bias):
    n = 3 if bias else 1
    f = lambda x: nll(scale(p, np.exp(x[0]), x[1:] if bias else (0, 0)), y)
    x = minimize(f, np.zeros(n), method="Nelder-Mead",
                 options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 4000}).x
    return np.exp(x[0]), (x[1:] if bias else np.zeros(2))


def main():
    model = sys.argv[1]
    train = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "data/semeval-train.tsv")
    test = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "data/semeval-2016test.tsv")
    with open(model.removesuffix(".ssm") + ".card.json", encoding="utf-8") as f:
        t_model = json.load(f).get("calibration", {}).get("temperature", 1.0)
    ids, tp, ty = scored(model, train)
    keep = np.array([is_tune(i) for i in ids])
    ids = [i for i, k in zip(ids, keep) if k]
    tp, ty = scale(tp[keep], 1 / t_model), ty[keep]  # the raw probabilities
    _, sp, sy = scored(model, test)
    sp = scale(sp, 1 / t_model)
    print(f"model {model}: temperature {t_model:.4f}; tune n={len(ty)}, test n={len(sy)}")
    print(f"  raw: ECE tune {ece(tp, ty):.4f}, test {ece(sp, sy):.4f}")
    t, _ = fit(tp, ty, False)
    print(f"  T fitted on the tune split {t:.3f}: ECE test {ece(scale(sp, t), sy):.4f}")
    grid = " ".join(f"{g:.1f}:{ece(scale(sp, g), sy):.4f}" for g in np.arange(1.0, 2.01, 0.1))
    print(f"  ECE test over T: {grid}")
    t_diag, _ = fit(sp, sy, False)
    print(f"  (diagnostic) T minimising the test's own NLL {t_diag:.3f}: "
          f"ECE test {ece(scale(sp, t_diag), sy):.4f}")
    year = np.array([((int(i) >> 22) + 1288834974657) / 1000 / 31556952 + 1970 for i in ids])
    recent = year >= np.floor(year.max())
    t_r, _ = fit(tp[recent], ty[recent], False)
    print(f"  T fitted on the tune rows of the latest year (n={recent.sum()}) {t_r:.3f}: "
          f"ECE test {ece(scale(sp, t_r), sy):.4f}")
    t_b, b = fit(tp, ty, True)
    q = scale(sp, t_b, b)
    print(f"  T + class bias fitted on the tune split (T {t_b:.3f}, bias negative {b[0]:+.3f} "
          f"neutral {b[1]:+.3f}): ECE test {ece(q, sy):.4f}; argmax moved on "
          f"{np.mean(q.argmax(1) != sp.argmax(1)):.3f} of the test")
    print(f"  mean probability on the test {np.round(sp.mean(0), 3)} (T 1), "
          f"true mix {np.round(np.bincount(sy, minlength=3) / len(sy), 3)}")


if __name__ == "__main__":
    main()
