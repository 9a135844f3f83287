#!/usr/bin/env python3
"""Helpers of test_consume_follow.sh, independent of the C code (fastavro).

  update OUT SCHEMA_DIR NAME VERSION ALIAS SHA256 MODEL_VERSION REASON
      Writes one Confluent-framed ModelUpdate (schema id 5) to OUT, as the retrain worker
      or `sentistream models promote` publish it.
  predictions DUMP SCHEMA_DIR INPUT.tsv SEGMENTS [VERSION=OFFLINE.jsonl ...]
      DUMP: the predictions topic (one partition), kcat '%R%s'. Every id of INPUT.tsv must
      have exactly one prediction, nothing else may be there, and the registry versions
      ("@NAME/VERSION" of model_version), in the topic's order, must form exactly the
      segments listed in SEGMENTS (e.g. "1,2,1": version 1, then 2, then 1 again; each
      swap happens once, between two predictions, and never goes back). With
      VERSION=OFFLINE.jsonl (`sentistream score` of that version's file), every prediction
      naming VERSION must equal its offline score (label, probabilities to 2e-6): it was
      scored by the model it names. Prints the segments with their lengths.
"""
import io
import json
import struct
import sys
import time

import fastavro


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def schema(schema_dir, name):
    with open(f"{schema_dir}/{name}.avsc") as f:
        return fastavro.parse_schema(json.load(f))


def read_dump(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        (n,) = struct.unpack(">i", data[i:i + 4])
        i += 4
        out.append(data[i:i + n])
        i += n
    return out


def update(out, schema_dir, name, version, alias, sha256, model_version, reason):
    rec = {
        "model_name": name,
        "version": version,
        "alias": alias,
        "uri": f"models:/{name}/{version}",
        "sha256": sha256,
        "model_version": model_version,
        "metrics": {"fresh_avgrec": 0.5},
        "reason": reason,
        "event_id": None,
        "updated_at": int(time.time() * 1000),
    }
    buf = io.BytesIO()
    buf.write(b"\x00" + struct.pack(">i", 5))
    fastavro.schemaless_writer(buf, schema(schema_dir, "model_update"), rec)
    open(out, "wb").write(buf.getvalue())


def predictions(dump, schema_dir, input_tsv, segments, *offline_args):
    offline = {}
    for arg in offline_args:
        version, path = arg.split("=", 1)
        offline[version] = {}
        for line in open(path, encoding="utf-8"):
            o = json.loads(line)
            offline[version][o["id"]] = o
    ids = [line.split("\t", 1)[0] for line in open(input_tsv, encoding="utf-8")]
    want = set(ids)
    if len(want) != len(ids):
        fail(f"{input_tsv}: ids are not unique")
    sch = schema(schema_dir, "prediction")
    seen, order = {}, []
    for k, m in enumerate(read_dump(dump)):
        if len(m) < 5 or m[0] != 0 or struct.unpack(">i", m[1:5])[0] != 2:
            fail(f"message {k}: not a framed Prediction")
        rec = fastavro.schemaless_reader(io.BytesIO(m[5:]), sch)
        tid, mv = rec["tweet_id"], rec["model_version"]
        if tid not in want:
            fail(f"message {k}: tweet {tid} was not in the input")
        seen[tid] = seen.get(tid, 0) + 1
        if "@" not in mv:
            fail(f"message {k}: model_version {mv} names no registry version")
        version = mv.rsplit("/", 1)[1]
        order.append(version)
        o = offline.get(version, {}).get(tid)
        if version in offline and o is None:
            fail(f"message {k}: no offline score of {tid} by version {version}")
        if o is not None:
            if rec["label"] != o["label"]:
                fail(f"message {k}: {tid} labelled {rec['label']}, version {version} says {o['label']}")
            for c in ("negative", "neutral", "positive"):
                if abs(rec["prob_" + c] - o["prob_" + c]) > 2e-6:
                    fail(f"message {k}: {tid} prob_{c} {rec['prob_' + c]!r}, version {version} "
                         f"scores {o['prob_' + c]!r}: not scored by the version it names")
    lost = [t for t in ids if t not in seen]
    twice = [t for t, c in seen.items() if c > 1]
    segs = []
    for v in order:
        if segs and segs[-1][0] == v:
            segs[-1][1] += 1
        else:
            segs.append([v, 1])
    print(f"predictions={len(order)} ids={len(ids)} lost={len(lost)} twice={len(twice)} "
          "segments=" + ",".join(f"{v}x{n}" for v, n in segs))
    if lost:
        fail(f"{len(lost)} tweets lost, e.g. {lost[:3]}")
    if twice:
        fail(f"{len(twice)} tweets scored twice, e.g. {twice[:3]}")
    got = ",".join(v for v, _ in segs)
    if got != segments:
        fail(f"registry versions in topic order: {got}, want {segments}")


def main():
    if len(sys.argv) == 10 and sys.argv[1] == "update":
        update(*sys.argv[2:])
    elif len(sys.argv) >= 6 and sys.argv[1] == "predictions":
        predictions(*sys.argv[2:])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
