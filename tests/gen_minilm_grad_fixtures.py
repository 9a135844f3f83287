#!/usr/bin/env python3
"""Writes tests/fixtures/minilm_grad/grad.json, the reference gradients that
tests/unit/test_minilm_ft.c compares the C backward pass with.

A tiny random BERT of the MiniLM layout (D=8, 2 heads, F=16, 2 layers, vocabulary 24) + mean
pooling + softmax head, four texts with labels and class weights. The reference is independent
of the C code: a plain float64 numpy forward pass written from the BERT definition, and the
gradient of every parameter by central finite differences on it (h = 1e-6; float64 keeps the
error near 1e-9). With PyTorch importable (--torch), the same model is also built in torch
and its autograd gradients must agree with the finite differences (they are not needed for
the fixture; PyTorch from PyPI brings ~3 GB of CUDA libraries).

Run by hand (numpy only):  python3 tests/gen_minilm_grad_fixtures.py
The tensor order and names are those of ss_minilm_ft_tensors(): emb.word, emb.pos, emb.type,
emb.ln.w, emb.ln.b, then per layer qkv.w [3D][D] (query, key, value rows), qkv.b, ao.w, ao.b,
ln1.w, ln1.b, ff1.w, ff1.b, ff2.w, ff2.b, ln2.w, ln2.b, then head.w [3][D], head.b.
"""
import argparse
import json
import math
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "minilm_grad")

CFG = dict(dim=8, n_layers=2, n_heads=2, ffn_dim=16, vocab_size=24, max_pos=16, type_vocab=2,
           max_seq_len=16, ln_eps=1e-12)
LENS = [5, 3, 7, 1]
LABELS = [0, 1, 2, 1]
CLASS_W = [1.5, 0.7, 1.2]
SEED = 1717


def tensor_shapes(c):
    D, F = c["dim"], c["ffn_dim"]
    out = [("emb.word", (c["vocab_size"], D)), ("emb.pos", (c["max_pos"], D)),
           ("emb.type", (c["type_vocab"], D)), ("emb.ln.w", (D,)), ("emb.ln.b", (D,))]
    for i in range(c["n_layers"]):
        for nm, sh in [("qkv.w", (3 * D, D)), ("qkv.b", (3 * D,)), ("ao.w", (D, D)),
                       ("ao.b", (D,)), ("ln1.w", (D,)), ("ln1.b", (D,)), ("ff1.w", (F, D)),
                       ("ff1.b", (F,)), ("ff2.w", (D, F)), ("ff2.b", (D,)), ("ln2.w", (D,)),
                       ("ln2.b", (D,))]:
            out.append(("L%d.%s" % (i, nm), sh))
    out += [("head.w", (3, D)), ("head.b", (3,))]
    return out


def init_params(rng, c):
    p = {}
    for nm, sh in tensor_shapes(c):
        if nm.endswith("ln.w") or nm.endswith("ln1.w") or nm.endswith("ln2.w"):
            p[nm] = 1.0 + 0.1 * rng.standard_normal(sh)
        elif len(sh) == 2:
            p[nm] = 0.4 * rng.standard_normal(sh)
        else:
            p[nm] = 0.1 * rng.standard_normal(sh)
    return p


_erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def layernorm(x, w, b, eps):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


def loss_fn(p, c, ids, lens, labels, cw):
    D, H = c["dim"], c["n_heads"]
    hd = D // H
    num = den = 0.0
    off = 0
    for s, L in enumerate(lens):
        tok = ids[off:off + L]
        off += L
        x = p["emb.word"][tok] + p["emb.pos"][:L] + p["emb.type"][0]
        x = layernorm(x, p["emb.ln.w"], p["emb.ln.b"], c["ln_eps"])
        for i in range(c["n_layers"]):
            g = lambda k: p["L%d.%s" % (i, k)]
            qkv = x @ g("qkv.w").T + g("qkv.b")
            q, k, v = qkv[:, :D], qkv[:, D:2 * D], qkv[:, 2 * D:]
            ctx = np.zeros((L, D))
            for h in range(H):
                sl = slice(h * hd, (h + 1) * hd)
                sc = q[:, sl] @ k[:, sl].T / math.sqrt(hd)
                sc = np.exp(sc - sc.max(1, keepdims=True))
                sc /= sc.sum(1, keepdims=True)
                ctx[:, sl] = sc @ v[:, sl]
            h1 = layernorm(x + ctx @ g("ao.w").T + g("ao.b"), g("ln1.w"), g("ln1.b"), c["ln_eps"])
            f = gelu(h1 @ g("ff1.w").T + g("ff1.b"))
            x = layernorm(h1 + f @ g("ff2.w").T + g("ff2.b"), g("ln2.w"), g("ln2.b"), c["ln_eps"])
        pooled = x.mean(0)
        logits = p["head.w"] @ pooled + p["head.b"]
        logits = logits - logits.max()
        logp = logits - math.log(np.exp(logits).sum())
        y = labels[s]
        num += cw[y] * -logp[y]
        den += cw[y]
    return num / den


def fd_grads(p, c, ids, lens, labels, cw, h=1e-6):
    g = {}
    for nm, _ in tensor_shapes(c):
        t = p[nm]
        gt = np.zeros_like(t)
        flat, gflat = t.reshape(-1), gt.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + h
            lp = loss_fn(p, c, ids, lens, labels, cw)
            flat[i] = old - h
            lm = loss_fn(p, c, ids, lens, labels, cw)
            flat[i] = old
            gflat[i] = (lp - lm) / (2 * h)
        g[nm] = gt
    return g


def torch_grads(p, c, ids, lens, labels, cw):
    import torch
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in p.items()}
    D, H = c["dim"], c["n_heads"]
    hd = D // H
    F = torch.nn.functional
    num = den = 0.0
    off = 0
    for s, L in enumerate(lens):
        tok = torch.tensor(ids[off:off + L])
        off += L
        x = tp["emb.word"][tok] + tp["emb.pos"][:L] + tp["emb.type"][0]
        x = F.layer_norm(x, (D,), tp["emb.ln.w"], tp["emb.ln.b"], c["ln_eps"])
        for i in range(c["n_layers"]):
            g = lambda k: tp["L%d.%s" % (i, k)]
            qkv = F.linear(x, g("qkv.w"), g("qkv.b"))
            q, k, v = (qkv[:, j * D:(j + 1) * D].view(L, H, hd).transpose(0, 1) for j in range(3))
            a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd), -1) @ v
            ctx = a.transpose(0, 1).reshape(L, D)
            h1 = F.layer_norm(x + F.linear(ctx, g("ao.w"), g("ao.b")), (D,), g("ln1.w"),
                              g("ln1.b"), c["ln_eps"])
            f = F.gelu(F.linear(h1, g("ff1.w"), g("ff1.b")))
            x = F.layer_norm(h1 + F.linear(f, g("ff2.w"), g("ff2.b")), (D,), g("ln2.w"),
                             g("ln2.b"), c["ln_eps"])
        logits = F.linear(x.mean(0), tp["head.w"], tp["head.b"])
        y = labels[s]
        num = num + cw[y] * -torch.log_softmax(logits, -1)[y]
        den += cw[y]
    (num / den).backward()
    return {k: t.grad.numpy() for k, t in tp.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch", action="store_true", help="also check against torch autograd")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    c = CFG
    p = init_params(rng, c)
    ids = [int(v) for v in rng.integers(0, c["vocab_size"], sum(LENS))]
    loss = loss_fn(p, c, ids, LENS, LABELS, CLASS_W)
    g = fd_grads(p, c, ids, LENS, LABELS, CLASS_W)
    if args.torch:
        tg = torch_grads(p, c, ids, LENS, LABELS, CLASS_W)
        for nm in g:
            den = max(np.linalg.norm(tg[nm]), 1e-12)
            err = np.linalg.norm(tg[nm] - g[nm]) / den
            print("torch vs finite differences %-10s rel err %.2e" % (nm, err))
            assert err < 1e-6 or np.linalg.norm(tg[nm]) < 1e-12
    names = [nm for nm, _ in tensor_shapes(c)]
    out = {
        "config": c,
        "lens": LENS,
        "ids": ids,
        "labels": LABELS,
        "class_weights": CLASS_W,
        "loss": loss,
        "tensors": names,
        "params": {nm: [float(v) for v in p[nm].reshape(-1)] for nm in names},
        "grads": {nm: [float(v) for v in g[nm].reshape(-1)] for nm in names},
        "reference": "numpy float64 forward, central finite differences h=1e-6",
    }
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "grad.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("wrote %s: loss %.10f, %d tensors, %d parameters" %
          (path, loss, len(names), sum(len(out["params"][n]) for n in names)))


if __name__ == "__main__":
    main()
