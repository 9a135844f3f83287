#!/usr/bin/env python3
"""Independent check of what `sentistream consume` wrote to Kafka (used by test_consume_*.sh).

Reads a dump of message values (each prefixed by its 4-byte big-endian length, kcat's
'%R%s'), checks the Confluent framing (magic byte 0, schema id), decodes each body with
fastavro against schemas/*.avsc (an implementation independent of ours) and checks every
field against what the test expects.

  predictions DUMP SCHEMA_DIR INPUT.tsv OFFLINE.jsonl MODE [KEYS]
      MODE = exactly-once | at-least-once. Every input id must have a prediction (exactly
      one in exactly-once mode), each equal to the offline score (label, probabilities to
      1e-6), model version as offline, created_at = the id's snowflake time, scored_at >=
      created_at, input_stats present. KEYS (kcat '%k\\t%p' lines) must match the ids.
      Prints "predictions=N unique=U duplicates=D".
  deadletters DUMP SCHEMA_DIR
      Prints one JSON line per dead letter (fields, raw bytes as hex) for the shell test.
"""
import io
import json
import struct
import sys

import fastavro

SNOWFLAKE_EPOCH_MS = 1288834974657


def fail(msg):
    print("FAIL:", msg, file=sys.stderr)
    sys.exit(1)


def read_dump(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i < len(data):
        if i + 4 > len(data):
            fail(f"{path}: truncated length prefix at byte {i}")
        (n,) = struct.unpack(">i", data[i:i + 4])
        i += 4
        if n < 0:
            fail(f"{path}: null message value at byte {i}")
        out.append(data[i:i + n])
        i += n
    return out


def load_schema(schema_dir, name):
    named = {}
    with open(f"{schema_dir}/{name}.avsc") as f:
        return fastavro.parse_schema(json.load(f), named_schemas=named)


def decode(msgs, schema, want_id):
    recs = []
    for k, m in enumerate(msgs):
        if len(m) < 5 or m[0] != 0:
            fail(f"message {k}: no Confluent magic byte")
        (sid,) = struct.unpack(">i", m[1:5])
        if sid != want_id:
            fail(f"message {k}: schema id {sid}, want {want_id}")
        buf = io.BytesIO(m[5:])
        rec = fastavro.schemaless_reader(buf, schema)
        if buf.tell() != len(m) - 5:
            fail(f"message {k}: {len(m) - 5 - buf.tell()} trailing bytes")
        recs.append(rec)
    return recs


def snowflake_ms(tid):
    return (int(tid) >> 22) + SNOWFLAKE_EPOCH_MS


def to_ms(v):
    # fastavro turns timestamp-millis into datetime objects
    if isinstance(v, int):
        return v
    return int(round(v.timestamp() * 1000))


def check_predictions(dump, schema_dir, input_tsv, offline_jsonl, mode, keys_path=None):
    schema = load_schema(schema_dir, "prediction")
    recs = decode(read_dump(dump), schema, 2)
    ids = [line.split("\t", 1)[0] for line in open(input_tsv, encoding="utf-8")]
    offline = {}
    for line in open(offline_jsonl):
        o = json.loads(line)
        offline[o["id"]] = o
    if len(offline) != len(set(ids)):
        fail(f"offline scores: {len(offline)} ids, input has {len(set(ids))}")
    seen = {}
    for r in recs:
        tid = r["tweet_id"]
        if tid not in offline:
            fail(f"prediction for an id that was never sent: {tid!r}")
        o = offline[tid]
        if r["label"] != o["label"]:
            fail(f"{tid}: label {r['label']} offline {o['label']}")
        for c in ("negative", "neutral", "positive"):
            a, b = r["prob_" + c], o["prob_" + c]
            if abs(a - b) > 1e-6:
                fail(f"{tid}: prob_{c} {a!r} offline {b!r}")
        if r["model_version"] != o["model_version"]:
            fail(f"{tid}: model_version {r['model_version']} offline {o['model_version']}")
        ca, sa = to_ms(r["created_at"]), to_ms(r["scored_at"])
        if ca != snowflake_ms(tid):
            fail(f"{tid}: created_at {ca} want snowflake time {snowflake_ms(tid)}")
        if sa < ca:
            fail(f"{tid}: scored_at {sa} before created_at {ca}")
        st = r["input_stats"]
        if st is None or st["n_tokens"] < 0 or not 0 <= st["unk_share"] <= 1:
            fail(f"{tid}: input_stats {st!r}")
        seen[tid] = seen.get(tid, 0) + 1
    missing = [i for i in ids if i not in seen]
    if missing:
        fail(f"{len(missing)} input id(s) without a prediction, e.g. {missing[:3]}")
    dups = sum(v - 1 for v in seen.values())
    if mode == "exactly-once" and dups:
        fail(f"{dups} duplicate prediction(s) in a clean run")
    if keys_path:
        keys = [line.split("\t")[0] for line in open(keys_path, encoding="utf-8")]
        if sorted(keys) != sorted(r["tweet_id"] for r in recs):
            fail("message keys differ from the predictions' tweet ids")
    print(f"predictions={len(recs)} unique={len(seen)} duplicates={dups}")


def dump_deadletters(dump, schema_dir):
    schema = load_schema(schema_dir, "dead_letter")
    for r in decode(read_dump(dump), schema, 3):
        r["raw_value"] = r["raw_value"].hex()
        r["raw_key"] = None if r["raw_key"] is None else r["raw_key"].hex()
        r["failed_at"] = to_ms(r["failed_at"])
        print(json.dumps(r, sort_keys=True))


def main():
    if len(sys.argv) >= 7 and sys.argv[1] == "predictions":
        check_predictions(*sys.argv[2:8])
    elif len(sys.argv) == 4 and sys.argv[1] == "deadletters":
        dump_deadletters(sys.argv[2], sys.argv[3])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
