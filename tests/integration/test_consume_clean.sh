#!/usr/bin/env bash
# A clean run on a real broker: the 20,556 validation tweets in (Avro, 4 partitions), scored
# on three threads (consumer.score.threads=3) -> exactly 20,556 predictions, one per id,
# each equal to what `sentistream score` gives offline (label, probabilities to 1e-6), keyed
# by tweet id, decoded by fastavro (independent of our serde) against
# schemas/prediction.avsc; nothing in the dead-letter topic; the metrics endpoint passes
# `promtool check metrics` and counts what was done. Then the same through JSON input
# (consumer.input.format=json, one scoring thread) on a slice.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

data=$src/data/semeval-2016test.tsv
n=$(wc -l <"$data")
port=$(ss_port 464)

ss_venv
ss_kafka_start
ss_topic tweets 4
ss_topic tweet-predictions 4
ss_topic tweets-dlq 1
ss_model

"$SS_BIN" score "$model" <"$data" >"$work/offline.jsonl" || fail "offline score"
"$SS_BIN" produce "$data" kafka.bootstrap.servers="$bs" >"$work/produce.out" 2>&1 ||
        { cat "$work/produce.out"; fail "produce"; }
grep -q "^produced $n of $n " "$work/produce.out" || fail "produce: $(cat "$work/produce.out")"

ss_consume_bg "$work/consume.log" metrics.port=$port consumer.lag.interval.ms=200 \
        consumer.score.threads=3
ss_wait_metric $port sentistream_scored_total "$n" 240
# The lag gauges refresh every 200 ms from cached watermarks and acknowledged offsets: give
# them a bounded time to catch up with the last deliveries (a fast build scores before then).
for _ in $(seq 50); do
        curl -s "http://127.0.0.1:$port/metrics" >"$work/metrics.txt"
        [ "$(grep -c '^sentistream_consumer_lag{topic="tweets",partition="[0-3]"} 0$' "$work/metrics.txt")" = 4 ] && break
        sleep 0.2
done
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
for m in sentistream_consumed_total sentistream_scored_total; do
        grep -q "^$m $n\$" "$work/metrics.txt" || fail "$m != $n: $(grep "^$m" "$work/metrics.txt")"
done
grep -q '^sentistream_batch_size_count [1-9]' "$work/metrics.txt" || fail "batch_size histogram empty"
grep -q "^sentistream_end_to_end_seconds_count $n\$" "$work/metrics.txt" || fail "e2e count"
grep -q '^sentistream_scoring_seconds_count [1-9]' "$work/metrics.txt" || fail "scoring histogram"
grep -q '^sentistream_model_info{name="sentiment-logreg",version="logreg-[^"]*",kind="logreg"} 1$' \
        "$work/metrics.txt" || fail "model_info: $(grep model_info "$work/metrics.txt")"
[ "$(grep -c '^sentistream_consumer_lag{topic="tweets",partition="[0-3]"} 0$' "$work/metrics.txt")" = 4 ] ||
        fail "lag of the 4 partitions should be 0: $(grep consumer_lag "$work/metrics.txt")"
ss_stop "$cpid"

ss_dump tweet-predictions "$work/pred.bin"
ss_dump_keys tweet-predictions "$work/keys.txt"
"$py" "$here/consume_check.py" predictions "$work/pred.bin" "$src/schemas" "$data" \
        "$work/offline.jsonl" exactly-once "$work/keys.txt" || fail "predictions check"
[ "$(ss_count tweets-dlq)" = 0 ] || fail "dead letters in a clean run"

# A restart after the clean stop consumes nothing again (offsets were committed).
ss_consume_bg "$work/consume2.log" metrics.port=$port consumer.lag.interval.ms=200
ss_wait_lag $port 4 60
sleep 1
[ "$(ss_metric $port sentistream_consumed_total)" = 0 ] || fail "restart re-consumed committed input"
ss_stop "$cpid"

# JSON input: 500 tweets produced as JSON objects, scored the same way.
head -n 500 "$data" >"$work/slice.tsv"
head -n 500 "$work/offline.jsonl" >"$work/slice.jsonl"
ss_topic tweets-json 2
ss_topic preds-json 2
"$SS_BIN" produce "$work/slice.tsv" --format json topics.input=tweets-json \
        kafka.bootstrap.servers="$bs" >"$work/produce-json.out" 2>&1 || fail "produce json"
ss_consume_bg "$work/consume-json.log" metrics.port=$port consumer.input.format=json \
        topics.input=tweets-json topics.output=preds-json consumer.group.id=json
ss_wait_metric $port sentistream_scored_total 500 120
ss_stop "$cpid"
ss_dump preds-json "$work/pred-json.bin"
"$py" "$here/consume_check.py" predictions "$work/pred-json.bin" "$src/schemas" \
        "$work/slice.tsv" "$work/slice.jsonl" exactly-once || fail "JSON-input predictions"
