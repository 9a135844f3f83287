#!/usr/bin/env python3
"""ONNX Runtime peer of the C MiniLM encoder (bench/bench_onnx.sh runs it).

    peer_onnx.py export MODEL_DIR OUT_DIR IDS.txt
        all-MiniLM-L6-v2 (transformers' BertModel from the weights the project installs) ->
        OUT_DIR/minilm-fp32.onnx (torch.onnx.export, dynamo=True, opset 17, batch and sequence
        length dynamic), checked against PyTorch on padded batches of the texts in IDS.txt (max
        |difference| of the hidden states and of the mean-pooled embeddings <= 1e-4), then
        OUT_DIR/minilm-int8.onnx (onnxruntime.quantization.quantize_dynamic, int8 weights,
        per_channel=True).
    peer_onnx.py run OUT_DIR IDS.txt BATCHES THREADS
        both models on ONNX Runtime (intra-op threads = THREADS, one inter-op thread, default
        graph optimisations), the texts of IDS.txt (one a line, token ids with [CLS]/[SEP],
        already sorted by length) in consecutive batches of each size in BATCHES, padded to the
        batch's longest text; one line per run:
        "rate<TAB>ort-fp32<TAB>BATCH<TAB>TWEETS_PER_S<TAB>WALL_S<TAB>CPU_S". Timed: building the
        padded arrays, session.run and the masked mean pooling (model loading excluded). The
        pooled embeddings of the last batch size go to OUT_DIR/ort-fp32.f32 / ort-int8.f32.
    peer_onnx.py compare OUT_DIR DIM
        the embeddings side by side: ours-fp32 vs ort-fp32 (max |difference|, minimum cosine),
        each int8 against fp32 (mean and minimum cosine). Exit status 1 when fp32 differs by
        more than 1e-5 (max |difference|, or 1 - minimum cosine) or an int8 mean cosine is
        below 0.99.
"""
import os
import sys
import time

import numpy as np


def read_ids(path):
    with open(path) as f:
        return [np.array([int(t) for t in line.split()], dtype=np.int64) for line in f]


def pad(seqs):
    L = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), L), dtype=np.int64)
    mask = np.zeros((len(seqs), L), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return ids, mask


def pool(hidden, mask):
    m = mask[:, :, None].astype(np.float32)
    return (hidden * m).sum(1) / m.sum(1)


def export(model_dir, out_dir, ids_path):
    import torch
    from transformers import BertModel
    torch.manual_seed(0)
    model = BertModel.from_pretrained(model_dir, add_pooling_layer=False,
                                      attn_implementation="eager").eval()
    seqs = read_ids(ids_path)
    ids, mask = pad(seqs[-4:])
    batch = torch.export.Dim("batch", min=1, max=4096)
    seq = torch.export.Dim("seq", min=2, max=512)
    fp32 = os.path.join(out_dir, "minilm-fp32.onnx")
    with torch.no_grad():
        prog = torch.onnx.export(
            model, (torch.from_numpy(ids), torch.from_numpy(mask)), dynamo=True,
            opset_version=17, input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_shapes={"input_ids": {0: batch, 1: seq},
                            "attention_mask": {0: batch, 1: seq}})
    prog.save(fp32)
    import onnxruntime as ort
    sess = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"])
    worst_h = worst_p = 0.0
    checks = [seqs[:32], seqs[len(seqs) // 2:len(seqs) // 2 + 8], seqs[-3:], seqs[7:8]]
    for group in checks:
        ids, mask = pad(group)
        with torch.no_grad():
            ref = model(input_ids=torch.from_numpy(ids),
                        attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
        got = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        valid = mask.astype(bool)
        worst_h = max(worst_h, float(np.abs(got - ref)[valid].max()))
        worst_p = max(worst_p, float(np.abs(pool(got, mask) - pool(ref, mask)).max()))
    print("export: ONNX Runtime vs PyTorch (torch %s, onnx opset 17, dynamo): max |diff| "
          "hidden %.2e, pooled %.2e over %d texts" % (torch.__version__, worst_h, worst_p,
                                                      sum(len(g) for g in checks)))
    if worst_h > 1e-4 or worst_p > 1e-4:
        sys.exit("export: ONNX Runtime differs from PyTorch by more than 1e-4")
    from onnxruntime.quantization import QuantType, quantize_dynamic
    int8 = os.path.join(out_dir, "minilm-int8.onnx")
    quantize_dynamic(fp32, int8, per_channel=True, weight_type=QuantType.QInt8)
    print("export: wrote %s and %s (onnxruntime %s)" % (fp32, int8, ort.__version__))


def run(out_dir, ids_path, batches, threads):
    import onnxruntime as ort
    seqs = read_ids(ids_path)
    n = len(seqs)
    for prec in ("fp32", "int8"):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        sess = ort.InferenceSession(os.path.join(out_dir, "minilm-%s.onnx" % prec), so,
                                    providers=["CPUExecutionProvider"])
        pooled = None
        for b in batches:
            out = []
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, n, b):
                ids, mask = pad(seqs[i:i + b])
                h = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
                out.append(pool(h, mask))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            print("rate\tort-%s\t%d\t%.1f\t%.3f\t%.3f" % (prec, b, n / wall, wall, cpu),
                  flush=True)
            pooled = np.concatenate(out)
        pooled.astype("<f4").tofile(os.path.join(out_dir, "ort-%s.f32" % prec))


def cosines(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def compare(out_dir, dim):
    e = {k: np.fromfile(os.path.join(out_dir, k + ".f32"), dtype="<f4").reshape(-1, dim)
         for k in ("ours-fp32", "ours-int8", "ort-fp32", "ort-int8")}
    ok = True
    d = float(np.abs(e["ours-fp32"] - e["ort-fp32"]).max())
    c = cosines(e["ours-fp32"], e["ort-fp32"])
    print("embeddings: ours fp32 vs ORT fp32 over %d texts: max |diff| %.2e, minimum cosine "
          "%.8f" % (len(c), d, c.min()))
    ok = ok and (d <= 1e-5 or 1 - c.min() <= 1e-5)
    for a, b in (("ours-int8", "ours-fp32"), ("ort-int8", "ort-fp32"), ("ours-int8", "ort-fp32")):
        c = cosines(e[a], e[b])
        print("embeddings: %s vs %s: mean cosine %.4f, minimum %.4f" % (a, b, c.mean(), c.min()))
        ok = ok and c.mean() >= 0.99
    print("embeddings: %s (fp32 within 1e-5, int8 mean cosine >= 0.99)" % ("ok" if ok else "FAIL"))
    return 0 if ok else 1


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if cmd == "export" and len(sys.argv) == 5:
        export(*sys.argv[2:5])
    elif cmd == "run" and len(sys.argv) == 6:
        run(sys.argv[2], sys.argv[3], [int(b) for b in sys.argv[4].split(",")], int(sys.argv[5]))
    elif cmd == "compare" and len(sys.argv) == 4:
        sys.exit(compare(sys.argv[2], int(sys.argv[3])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
