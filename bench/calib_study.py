#!/usr/bin/env python3
"""Why a model's calibration does or does not transfer from the tune split to a test file.

  bench/calib_study.py MODEL [TRAIN.tsv [TEST.tsv]]      (defaults: data/semeval-*.tsv)
      env SS_STUDY_TUNE_MODEL=FILE: score the tune rows with FILE instead (a model of the
      same kind trained without them, e.g. data.train= the training file minus its tune rows)

Scores the training file and the test file with `sentistream score --raw` (build/rel: the
raw probabilities, before the model's temperature and top-label map), keeps the training rows
of the tune split (the same seeded hash of the tweet id as models/train/dataset.c,
data.tune.share 0.1, model.seed 1), and prints the test ECE (15 bins, top label, as calib.c)
for: the temperature fitted on the tune split; a grid of temperatures; the temperature fitted
on the tune rows of the latest training year; a temperature plus a per-class bias fitted on
the tune split (bias-corrected temperature scaling); and top-label calibration after the tune
split's temperature (a monotone map of the argmax's probability per predicted class, the other
classes rescaled to fill the rest, clamped so that the argmax never moves, as calib.c does and
with the earlier clamp at the tie for comparison): Platt scaling on logit(confidence),
equal-mass histogram binning made monotone, isotonic regression. The temperature that
minimises the test's own NLL, and a Platt map fitted on the test itself, are printed as
diagnostics only (what no fit on held-out data can beat), never used.
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
    """ids, raw probabilities [n][3] and labels of every row of path scored by model."""
    truth = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            x = line.rstrip("\n").split("\t")
            truth[x[0]] = LABELS[x[1]]
    with open(path, "rb") as f:
        out = subprocess.run([os.path.join(ROOT, "build/rel/cli/sentistream"), "score", model, "--raw"],
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


def toplabel_apply(p, maps, floor="share"):
    """Top-label map as models/train/calib.c applies it: the argmax's probability c ->
    maps[k](c) for predicted class k, the other classes rescaled to fill 1 - c'. The label
    never moves: floor "share" (calib.c) lets c' go down to 1 / (m + 1) (m: the other classes
    above 0) and holds a class whose proportional share would pass c' just under it, the rest
    sharing what is left; floor "tie" (the earlier rule, for comparison) keeps c' just above
    the second class's proportional share."""
    q = p.copy()
    gap = 1e-6
    for i in range(len(p)):
        k = int(p[i].argmax())
        c = p[i, k]
        others = [j for j in range(p.shape[1]) if j != k and p[i, j] > 0]
        rest = p[i, others].sum()
        if rest <= 0:
            continue
        c2 = maps[k](c)
        if floor == "tie":
            lo = p[i, others].max() / (rest + p[i, others].max()) + gap
            c2 = min(lo, c) if c2 < lo else c2
            q[i, others] = p[i, others] * (1 - c2) / rest
        else:
            lo = 1 / (len(others) + 1) + 2 * gap
            if c < lo:
                continue
            c2 = max(c2, lo)
            left, free = 1 - c2, list(others)
            while True:  # water-filling under the cap c2 - gap
                w = p[i, free].sum()
                share = {j: p[i, j] * left / w for j in free}
                over = [j for j in free if share[j] > c2 - gap]
                if not over:
                    for j in free:
                        q[i, j] = share[j]
                    break
                for j in over:
                    q[i, j] = c2 - gap
                    free.remove(j)
                    left -= c2 - gap
        q[i, k] = c2
    return q


def logit(c):
    c = np.clip(c, 1e-6, 1 - 1e-6)
    return np.log(c / (1 - c))


def fit_platt(c, hit):
    x = logit(c)
    f = lambda ab: np.mean(np.logaddexp(0, ab[0] * x + ab[1]) - hit * (ab[0] * x + ab[1]))
    a, b = minimize(f, np.array([1.0, 0.0]), method="Nelder-Mead").x
    a = max(a, 1e-3)
    return lambda cc: 1 / (1 + np.exp(-(a * logit(cc) + b)))


def pav(y, w):
    """Pool-adjacent-violators: the non-decreasing fit of y with weights w."""
    blocks = []  # [value, weight, count]
    for yi, wi in zip(y, w):
        blocks.append([yi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out = []
    for v, _, n in blocks:
        out += [v] * n
    return np.array(out)


def fit_hist(c, hit, bins):
    o = np.argsort(c)
    cs, hs = c[o], hit[o]
    parts = np.array_split(np.arange(len(cs)), min(bins, max(1, len(cs))))
    xs = np.array([cs[i].mean() for i in parts])
    ys = np.array([hs[i].mean() for i in parts])
    ws = np.array([len(i) for i in parts], float)
    ys = pav(ys, ws)
    return lambda cc: float(np.interp(cc, xs, ys))


def fit_iso(c, hit):
    o = np.argsort(c)
    xs, ys = c[o], pav(hit[o].astype(float), np.ones(len(c)))
    return lambda cc: float(np.interp(cc, xs, ys))


def toplabel_fit(p, y, method):
    k, c = p.argmax(1), p.max(1)
    hit = (k == y).astype(float)
    maps = []
    for cls in range(3):
        m = k == cls
        if m.sum() < 10:
            maps.append(lambda cc: cc)
        elif method == "platt":
            maps.append(fit_platt(c[m], hit[m]))
        elif method.startswith("hist"):
            maps.append(fit_hist(c[m], hit[m], int(method[4:])))
        else:
            maps.append(fit_iso(c[m], hit[m]))
    return maps


def main():
    model = sys.argv[1]
    train = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "data/semeval-train.tsv")
    test = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "data/semeval-2016test.tsv")
    with open(model.removesuffix(".ssm") + ".card.json", encoding="utf-8") as f:
        t_model = json.load(f).get("calibration", {}).get("temperature", 1.0)
    tune_model = os.environ.get("SS_STUDY_TUNE_MODEL", model)
    ids, tp, ty = scored(tune_model, train)
    keep = np.array([is_tune(i) for i in ids])
    ids = [i for i, k in zip(ids, keep) if k]
    tp, ty = tp[keep], ty[keep]
    _, sp, sy = scored(model, test)
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
    for method, floor in (("platt", "tie"), ("platt", "share"), ("hist5", "share"),
                          ("hist10", "share"), ("hist15", "share"), ("iso", "share")):
        maps = toplabel_fit(scale(tp, t), ty, method)
        q = toplabel_apply(scale(sp, t), maps, floor)
        qt = toplabel_apply(scale(tp, t), maps, floor)
        print(f"  T {t:.3f} + top-label {method:6s} ({floor:5s}) fitted on the tune split: ECE tune "
              f"{ece(qt, ty):.4f}, test {ece(q, sy):.4f}, NLL test {nll(q, sy):.4f} "
              f"(T only {nll(scale(sp, t), sy):.4f}); argmax moved on "
              f"{np.mean(q.argmax(1) != sp.argmax(1)):.4f}")
    maps = toplabel_fit(scale(sp, t), sy, "platt")
    print(f"  (diagnostic) T {t:.3f} + top-label platt fitted on the test itself: ECE test "
          f"{ece(toplabel_apply(scale(sp, t), maps, 'tie'), sy):.4f} (tie), "
          f"{ece(toplabel_apply(scale(sp, t), maps), sy):.4f} (share)")
    print(f"  mean probability on the test {np.round(sp.mean(0), 3)} (T 1), "
          f"true mix {np.round(np.bincount(sy, minlength=3) / len(sy), 3)}")


if __name__ == "__main__":
    main()
