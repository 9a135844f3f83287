#!/usr/bin/env bash
# No poison pill: input that would make an output the broker refuses never stalls a partition.
#   1. a valid tweet with a 520 kB id and one with a 600 kB text go to the dead-letter topic
#      with at most dlq.max.raw.bytes of their value plus its whole size and sha256; every
#      good tweet is scored once; SIGTERM exits 0 within a few seconds;
#   2. a prediction the output topic refuses (max.message.bytes=1000, a 2,000-byte id let
#      through with consumer.max.id.bytes=4000) is not retried: its input goes to the
#      dead-letter topic with the broker's error, and the tweets after it are scored;
#   3. a dead letter the dead-letter topic refuses (max.message.bytes=400) stops the scorer
#      with a non-zero exit naming partition and offset; nothing after it is committed, so a
#      scorer allowed smaller dead letters (dlq.max.raw.bytes=100) picks it up again and
#      nothing is lost.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

data=$src/data/semeval-2016test.tsv
port=$(ss_port 470)

ss_venv
ss_kafka_start
ss_model

# ss_topic_cfg NAME PARTITIONS KEY=VALUE: a topic with one topic-level setting.
ss_topic_cfg() {
        java -cp "$src/deploy/local/jars/*" org.apache.kafka.tools.TopicCommand \
                --bootstrap-server "$bs" --create --if-not-exists --topic "$1" --partitions "$2" \
                --replication-factor 1 --config "$3" >/dev/null 2>&1 || fail "create topic $1 ($3)"
}

# mk_bad OUT ID_BYTES TEXT_BYTES: one Avro Tweet (Confluent framing) made by hand.
mk_bad() {
        "$py" - "$@" <<'EOF'
import struct, sys
out, nid, ntext = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def zz(n):
    n = (n << 1) ^ (n >> 63)
    b = bytearray()
    while n & ~0x7F:
        b.append((n & 0x7F) | 0x80)
        n >>= 7
    b.append(n)
    return bytes(b)
def s(b):
    return zz(len(b)) + b
tid = (b"7" * nid)
text = (b"fine words " * (ntext // 11 + 1))[:ntext]
body = s(tid) + s(text) + zz(1462000000000) + zz(0) + zz(0)
open(out, "wb").write(b"\x00" + struct.pack(">i", 1) + body)
EOF
}

head -n 400 "$data" >"$work/good.tsv"
head -n 200 "$work/good.tsv" >"$work/good1.tsv"
tail -n 200 "$work/good.tsv" >"$work/good2.tsv"
"$SS_BIN" score "$model" <"$work/good.tsv" >"$work/offline.jsonl" || fail "offline score"

# ---- 1. huge id, huge text --------------------------------------------------------------
ss_topic tweets 1
ss_topic tweet-predictions 1
ss_topic tweets-dlq 1
mk_bad "$work/bigid" 532480 20
mk_bad "$work/bigtext" 4 614400
"$SS_BIN" produce "$work/good1.tsv" kafka.bootstrap.servers="$bs" >/dev/null || fail "produce 1"
kcat -b "$bs" -P -t tweets -k bigid "$work/bigid" || fail "kcat bigid"
kcat -b "$bs" -P -t tweets -k bigtext "$work/bigtext" || fail "kcat bigtext"
"$SS_BIN" produce "$work/good2.tsv" kafka.bootstrap.servers="$bs" >/dev/null || fail "produce 2"

ss_consume_bg "$work/consume1.log" metrics.port=$port
ss_wait_metric $port sentistream_consumed_total 402 120
ss_wait_metric $port sentistream_scored_total 400 30
t0=$(date +%s.%N)
ss_stop "$cpid"
t1=$(date +%s.%N)
stop_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
awk -v s="$stop_s" 'BEGIN { exit !(s < 10) }' || fail "SIGTERM took $stop_s s"
echo "1: SIGTERM -> exit 0 in $stop_s s"

ss_dump tweet-predictions "$work/pred1.bin"
"$py" "$here/consume_check.py" predictions "$work/pred1.bin" "$src/schemas" "$work/good.tsv" \
        "$work/offline.jsonl" exactly-once || fail "predictions check (1)"
ss_dump tweets-dlq "$work/dlq1.bin"
"$py" "$here/consume_check.py" deadletters "$work/dlq1.bin" "$src/schemas" >"$work/dlq1.jsonl" ||
        fail "dead letters undecodable (1)"
"$py" - "$work/dlq1.jsonl" "$work/bigid" "$work/bigtext" <<'EOF' || fail "dead letters check (1)"
import hashlib, json, sys
dl = [json.loads(l) for l in open(sys.argv[1])]
if len(dl) != 2:
    sys.exit(f"{len(dl)} dead letters, want 2")
for d, path, code in zip(dl, sys.argv[2:4], ["SS_ERR_TOO_LARGE", "SS_ERR_TOO_LARGE"]):
    raw = open(path, "rb").read()
    if d["error_code"] != code:
        sys.exit(f"{path}: {d['error_code']} ({d['error_message']}), want {code}")
    if d["raw_size"] != len(raw) or d["raw_sha256"] != hashlib.sha256(raw).hexdigest():
        sys.exit(f"{path}: raw_size {d['raw_size']} / sha256 do not describe the input")
    if bytes.fromhex(d["raw_value"]) != raw[:65536]:
        sys.exit(f"{path}: raw_value is not the first 64 KiB of the input")
print("1: dead letters bounded:", [(d["error_code"], d["raw_size"], len(d["raw_value"]) // 2) for d in dl])
EOF
grep -q "field 'id' is 532480 bytes, over consumer.max.id.bytes=256" "$work/consume1.log" ||
        fail "no id-length reason in the log"

# ---- 2. a prediction the broker refuses -------------------------------------------------
ss_topic tweets2 1
ss_topic_cfg preds2 1 max.message.bytes=1000
ss_topic tweets2-dlq 1
mk_bad "$work/longid" 2000 20
"$SS_BIN" produce "$work/good1.tsv" topics.input=tweets2 kafka.bootstrap.servers="$bs" >/dev/null ||
        fail "produce 2a"
kcat -b "$bs" -P -t tweets2 -k longid "$work/longid" || fail "kcat longid"
"$SS_BIN" produce "$work/good2.tsv" topics.input=tweets2 kafka.bootstrap.servers="$bs" >/dev/null ||
        fail "produce 2b"
ss_consume_bg "$work/consume2.log" metrics.port=$port topics.input=tweets2 topics.output=preds2 \
        topics.dlq=tweets2-dlq consumer.max.id.bytes=4000 kafka.batch.num.messages=1
ss_wait_metric $port sentistream_consumed_total 401 120
ss_wait_metric $port sentistream_scored_total 401 30
for _ in $(seq 1 100); do
        [ "$(ss_count tweets2-dlq)" -ge 1 ] && break
        sleep 0.2
done
ss_stop "$cpid"
ss_dump preds2 "$work/pred2.bin"
"$py" "$here/consume_check.py" predictions "$work/pred2.bin" "$src/schemas" "$work/good.tsv" \
        "$work/offline.jsonl" exactly-once || fail "predictions check (2)"
ss_dump tweets2-dlq "$work/dlq2.bin"
"$py" "$here/consume_check.py" deadletters "$work/dlq2.bin" "$src/schemas" >"$work/dlq2.jsonl" ||
        fail "dead letters undecodable (2)"
"$py" - "$work/dlq2.jsonl" <<'EOF' || fail "dead letters check (2)"
import json, sys
dl = [json.loads(l) for l in open(sys.argv[1])]
if len(dl) != 1:
    sys.exit(f"{len(dl)} dead letters, want 1: {dl}")
d = dl[0]
if d["error_code"] != "SS_ERR_KAFKA" or "MSG_SIZE_TOO_LARGE" not in d["error_message"]:
    sys.exit(f"dead letter {d['error_code']}: {d['error_message']}")
if d["source_topic"] != "tweets2" or d["offset"] != 200:
    sys.exit(f"dead letter of {d['source_topic']} offset {d['offset']}, want tweets2 200")
print("2: refused prediction dead-lettered:", d["error_message"][:90])
EOF
retries=$(grep -c "re-producing" "$work/consume2.log" || true)
[ "$retries" = 0 ] || fail "a refused prediction was retried ($retries log lines)"

# ---- 3. a dead letter the broker refuses ------------------------------------------------
ss_topic tweets3 1
ss_topic preds3 1
ss_topic_cfg tweets3-dlq 1 max.message.bytes=400
head -c 1000 /dev/urandom >"$work/garbage"
"$SS_BIN" produce "$work/good1.tsv" topics.input=tweets3 kafka.bootstrap.servers="$bs" >/dev/null ||
        fail "produce 3a"
kcat -b "$bs" -P -t tweets3 -k garbage "$work/garbage" || fail "kcat garbage"
"$SS_BIN" produce "$work/good2.tsv" topics.input=tweets3 kafka.bootstrap.servers="$bs" >/dev/null ||
        fail "produce 3b"
common3=(topics.input=tweets3 topics.output=preds3 topics.dlq=tweets3-dlq)
rc=0
timeout 60 "$SS_BIN" consume kafka.bootstrap.servers="$bs" consumer.model.path="$model" \
        "${common3[@]}" >"$work/consume3.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "scorer with a refused dead letter exited $rc"
grep -q "dead letter of tweets3 \[0\] offset 200 .* was refused" "$work/consume3.log" ||
        fail "the refusal does not name partition and offset"
echo "3: refused dead letter -> exit $rc: $(grep -o 'the dead letter of .* refused' "$work/consume3.log" | head -1)"
# Restarted with smaller dead letters: the input is picked up again, nothing was skipped.
ss_consume_bg "$work/consume3b.log" metrics.port=$port "${common3[@]}" dlq.max.raw.bytes=100
for _ in $(seq 1 300); do
        [ "$(ss_count tweets3-dlq)" -ge 1 ] && break
        sleep 0.2
done
ss_wait_lag $port 1 60
ss_lag_zero $port 1 60 || fail "lag not 0 after the restart (3)"
ss_stop "$cpid"
ss_dump preds3 "$work/pred3.bin"
"$py" "$here/consume_check.py" predictions "$work/pred3.bin" "$src/schemas" "$work/good.tsv" \
        "$work/offline.jsonl" at-least-once || fail "predictions check (3)"
ss_dump tweets3-dlq "$work/dlq3.bin"
"$py" "$here/consume_check.py" deadletters "$work/dlq3.bin" "$src/schemas" >"$work/dlq3.jsonl" ||
        fail "dead letters undecodable (3)"
"$py" - "$work/dlq3.jsonl" <<'EOF' || fail "dead letters check (3)"
import json, sys
dl = [json.loads(l) for l in open(sys.argv[1])]
if len(dl) != 1 or dl[0]["offset"] != 200 or dl[0]["raw_size"] != 1000 or len(dl[0]["raw_value"]) != 200:
    sys.exit(f"dead letters {dl}")
print("3: picked up after the restart: offset 200, 100 of 1000 bytes kept")
EOF
echo "PASS consume poison"
