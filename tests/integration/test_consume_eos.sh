#!/usr/bin/env bash
# Exactly-once on the real broker: 20,000 tweets over 3 partitions, produced at 4,000/s
# while the scorer (consumer.delivery=exactly_once, two scoring threads, transactions of up
# to 1 s, static member "a") is killed with -9 twice mid-stream and restarted each time. A
# read_committed reader must then see exactly one prediction per tweet (0 lost, 0
# duplicated), each equal to the offline score; a read_uncommitted reader's count shows the
# outputs of cut transactions that reached the broker (informative: depends on timing). The
# same run under at_least_once gives duplicates (1,536 in one run), so the check can fail.
# Also measured: restart-to-scoring time (first prediction of the restarted process), which
# static membership keeps short.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

data=$src/data/semeval-2016test.tsv
port=$(ss_port 475)
n=20000

ss_venv
ss_kafka_start
ss_topic tweets 3
ss_topic tweet-predictions 3
ss_topic tweets-dlq 1
ss_model

head -n $n "$data" >"$work/in.tsv"
"$SS_BIN" score "$model" <"$work/in.tsv" >"$work/offline.jsonl" || fail "offline score"

eos=(consumer.delivery=exactly_once consumer.instance.id=a consumer.score.threads=2
        consumer.batch.size=256 consumer.txn.max.ms=1000 "metrics.port=$port")

# A kill -9 once the current process scored 3,000, twice, while the stream still flows.
restarts=()
for at in 3000 3000; do
        ss_consume_bg "$work/consume.log" "${eos[@]}"
        if [ ${#restarts[@]} = 0 ]; then
                "$SS_BIN" produce "$work/in.tsv" --rate 4000 kafka.bootstrap.servers="$bs" \
                        >"$work/produce.log" 2>&1 &
                ppid_=$!
                bg_pids+=("$ppid_")
        fi
        t0=$(date +%s.%N)
        ss_wait_metric $port sentistream_scored_total 1 60
        t1=$(date +%s.%N)
        restarts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
        ss_wait_metric $port sentistream_scored_total $at 180
        kill -9 "$cpid"
        wait "$cpid" 2>/dev/null || true
        cp "$work/consume.log" "$work/consume-killed-$at-${#restarts[@]}.log"
done
ss_consume_bg "$work/consume.log" "${eos[@]}"
t0=$(date +%s.%N)
ss_wait_metric $port sentistream_scored_total 1 60
t1=$(date +%s.%N)
restarts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
wait "$ppid_" || fail "produce"
ss_wait_lag $port 3 60
ss_lag_zero $port 3 180 || fail "lag not 0 after the last restart"
# every commit is timed (how long the loop was blocked in it)
commits=$(ss_metric $port sentistream_transaction_commit_seconds_count)
awk -v c="${commits:-0}" 'BEGIN { exit !(c >= 1) }' || fail "no timed transaction commit"
ss_stop "$cpid"
echo "start-to-first-prediction (s): ${restarts[*]}"
for r in "${restarts[@]:1}"; do
        awk -v r="$r" 'BEGIN { exit !(r <= 5) }' || fail "a restarted scorer took $r s to score"
done

grep -q "exactly-once: transactional.id sentistream-scorer-a" "$work/consume.log" ||
        fail "no transactional.id in the log"
# read_committed (librdkafka's and kcat's default): exactly one prediction per tweet.
ss_dump tweet-predictions "$work/pred.bin"
"$py" "$here/consume_check.py" predictions "$work/pred.bin" "$src/schemas" "$work/in.tsv" \
        "$work/offline.jsonl" exactly-once || fail "read_committed: not exactly once"
committed=$(ss_count tweet-predictions)
uncommitted=$(kcat -b "$bs" -C -t tweet-predictions -o beginning -e -q \
        -X isolation.level=read_uncommitted -f 'x\n' | wc -l)
echo "predictions: read_committed $committed, read_uncommitted $uncommitted (aborted or cut" \
        "off by the kills: $((uncommitted - committed)))"
[ "$committed" = $n ] || fail "read_committed sees $committed predictions, want $n"
[ "$(ss_count tweets-dlq)" = 0 ] || fail "unexpected dead letters"
echo "PASS consume eos"
