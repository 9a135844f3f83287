#!/usr/bin/env bash
# Bad input never stops the stream and is never lost: between good tweets, one malformed
# message of each kind (wrong magic byte, unknown schema id, undecodable Avro body, empty
# text, missing id, text over consumer.max.text.bytes, invalid UTF-8, no value at all) goes
# to the dead-letter topic with its reason, source offset and raw bytes; every good tweet is
# scored exactly once; the dead_lettered_total counters agree. The bad messages are made by
# hand (Python writes the Avro bytes), independently of our serde.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

data=$src/data/semeval-2016test.tsv
port=$(ss_port 465)

ss_venv
ss_kafka_start
ss_topic tweets 1
ss_topic tweet-predictions 2
ss_topic tweets-dlq 1
ss_model

head -n 600 "$data" >"$work/good.tsv"
head -n 300 "$work/good.tsv" >"$work/good1.tsv"
tail -n 300 "$work/good.tsv" >"$work/good2.tsv"
"$SS_BIN" score "$model" <"$work/good.tsv" >"$work/offline.jsonl" || fail "offline score"

# The bad messages, one file each (kcat sends a file as one message), named by the reason
# the scorer must give.
"$py" - "$work/bad" <<'EOF'
import os, struct, sys
out = sys.argv[1]
os.makedirs(out)
def zz(n):  # Avro long: zigzag varint
    n = (n << 1) ^ (n >> 63)
    b = bytearray()
    while n & ~0x7F:
        b.append((n & 0x7F) | 0x80)
        n >>= 7
    b.append(n)
    return bytes(b)
def s(b):
    return zz(len(b)) + b
def tweet(tid, text, schema_id=1, magic=0):
    body = s(tid) + s(text) + zz(1462000000000) + zz(0) + zz(0)  # lang, user: null
    return bytes([magic]) + struct.pack(">i", schema_id) + body
cases = [
    ("01-SS_ERR_DECODE-magic", tweet(b"b1", b"fine text", magic=1)),
    ("02-SS_ERR_UNSUPPORTED-schema", tweet(b"b2", b"fine text", schema_id=99)),
    ("03-SS_ERR_DECODE-truncated", tweet(b"b3", b"fine text")[:9]),
    ("04-SS_ERR_EMPTY-text", tweet(b"b4", b"")),
    ("05-SS_ERR_EMPTY-id", tweet(b"", b"a tweet without an id")),
    ("06-SS_ERR_TOO_LARGE-text", tweet(b"b6", b"long " * 100)),
    ("07-SS_ERR_UTF8-text", tweet(b"b7", b"bad \xff\xfe bytes \xc3")),
    ("08-SS_ERR_DECODE-garbage", b"\x00\x00\x00\x00\x01" + b"\xff" * 12),
]
for name, value in cases:
    open(os.path.join(out, name), "wb").write(value)
EOF

"$SS_BIN" produce "$work/good1.tsv" kafka.bootstrap.servers="$bs" >/dev/null || fail "produce 1"
for f in "$work"/bad/*; do
        kcat -b "$bs" -P -t tweets -k "key-$(basename "$f")" "$f" || fail "kcat produce $f"
done
# a message with no value (tombstone)
printf 'key-09-SS_ERR_EMPTY-tombstone:\n' | kcat -b "$bs" -P -t tweets -K: -Z || fail "tombstone"
"$SS_BIN" produce "$work/good2.tsv" kafka.bootstrap.servers="$bs" >/dev/null || fail "produce 2"
nbad=9

ss_consume_bg "$work/consume.log" metrics.port=$port consumer.max.text.bytes=200
ss_wait_metric $port sentistream_consumed_total $((600 + nbad)) 120
ss_wait_metric $port sentistream_scored_total 600 30
curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
ss_stop "$cpid"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"

# Every good tweet scored exactly once, nothing else predicted.
ss_dump tweet-predictions "$work/pred.bin"
"$py" "$here/consume_check.py" predictions "$work/pred.bin" "$src/schemas" "$work/good.tsv" \
        "$work/offline.jsonl" exactly-once || fail "predictions check"

# Every bad message in the dead-letter topic once, with its reason and raw bytes.
ss_dump tweets-dlq "$work/dlq.bin"
"$py" "$here/consume_check.py" deadletters "$work/dlq.bin" "$src/schemas" >"$work/dlq.jsonl" ||
        fail "dead letters undecodable"
"$py" - "$work/dlq.jsonl" "$work/bad" "$work/metrics.txt" <<'EOF' || fail "dead letters check"
import collections, json, os, sys
dl = [json.loads(l) for l in open(sys.argv[1])]
bad = sorted(os.listdir(sys.argv[2]))
want = {"key-" + n: open(os.path.join(sys.argv[2], n), "rb").read().hex() for n in bad}
want["key-09-SS_ERR_EMPTY-tombstone"] = ""
if len(dl) != len(want):
    sys.exit(f"{len(dl)} dead letters, want {len(want)}")
offsets = []
for d in dl:
    key = bytes.fromhex(d["raw_key"]).decode()
    reason = key.split("-")[2]
    if key not in want:
        sys.exit(f"unexpected dead letter {d}")
    if d["error_code"] != reason:
        sys.exit(f"{key}: error_code {d['error_code']}, want {reason} ({d['error_message']})")
    if not d["error_message"]:
        sys.exit(f"{key}: empty error message")
    if d["raw_value"] != want.pop(key):
        sys.exit(f"{key}: raw_value differs from what was sent")
    if d["source_topic"] != "tweets" or d["partition"] != 0:
        sys.exit(f"{key}: source {d['source_topic']} [{d['partition']}]")
    offsets.append(d["offset"])
# the bad messages sit between the 300 good tweets of each half: offsets 300..308
if sorted(offsets) != list(range(300, 309)):
    sys.exit(f"source offsets {sorted(offsets)}, want 300..308")
counts = collections.Counter(d["error_code"] for d in dl)
text = open(sys.argv[3]).read()
for code, n in counts.items():
    line = f'sentistream_dead_lettered_total{{reason="{code}"}} {n}\n'
    if line not in text:
        sys.exit(f"metrics lack {line.strip()}")
print("dead letters ok:", dict(counts))
EOF
