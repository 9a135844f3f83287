#!/usr/bin/env bash
# At-least-once across stops: the 20,556 validation tweets are produced at 1,000/s while
# the scorer runs; it is stopped with SIGTERM mid-stream (must exit 0 having committed all it
# produced: its successor re-scores none of those tweets), restarted, killed with kill -9
# mid-stream (uncommitted work is done again: duplicates allowed, counted and printed),
# restarted again and left to finish. Every input id must end with at least one prediction,
# each equal to the offline score.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

data=$src/data/semeval-2016test.tsv
n=$(wc -l <"$data")
port=$(ss_port 466)
# A killed member must leave the group quickly for the restart to get its partitions.
opts=(metrics.port="$port" consumer.lag.interval.ms=200 kafka.session.timeout.ms=10000
      kafka.heartbeat.interval.ms=1000)

ss_venv
ss_kafka_start
ss_topic tweets 4
ss_topic tweet-predictions 4
ss_topic tweets-dlq 1
ss_model
"$SS_BIN" score "$model" <"$data" >"$work/offline.jsonl" || fail "offline score"

"$SS_BIN" produce "$data" --rate 1000 kafka.bootstrap.servers="$bs" >"$work/produce.out" 2>&1 &
ppid_=$!
bg_pids+=("$ppid_")

# 1. SIGTERM mid-stream: a clean stop, from the pipelined loop (a batch is being scored on
#    a worker while the next is collected: both must be emitted and committed).
ss_consume_bg "$work/consume-1.log" "${opts[@]}" consumer.score.threads=2
ss_wait_metric $port sentistream_scored_total 3000 120
ss_stop "$cpid"
ss_dump tweet-predictions "$work/pred-1.bin"
n1=$(ss_count tweet-predictions)
[ "$n1" -lt "$n" ] || fail "the first scorer finished everything before SIGTERM ($n1)"
echo "after SIGTERM: $n1 predictions"

# 2. kill -9 mid-stream, once some of its predictions are on the topic (commits every 3 s, so
#    part of what it did is not committed and will be done again).
ss_consume_bg "$work/consume-2.log" "${opts[@]}" consumer.commit.interval.ms=3000
for _ in $(seq 1 600); do
        [ "$(ss_count tweet-predictions)" -ge $((n1 + 2000)) ] && break
        sleep 0.2
done
kill -9 "$cpid"
wait "$cpid" 2>/dev/null || true
n2=$(ss_count tweet-predictions)
echo "after kill -9: $n2 predictions"

# 3. Restart and finish once the producer is done.
wait "$ppid_" || { cat "$work/produce.out"; fail "produce"; }
grep -q "^produced $n of $n " "$work/produce.out" || fail "produce: $(cat "$work/produce.out")"
ss_consume_bg "$work/consume-3.log" "${opts[@]}"
ss_wait_lag $port 4 120
ss_lag_zero $port 4 120 || fail "lag did not reach 0 on the 4 partitions"
ss_stop "$cpid"

ss_dump tweet-predictions "$work/pred.bin"
"$py" "$here/consume_check.py" predictions "$work/pred.bin" "$src/schemas" "$data" \
        "$work/offline.jsonl" at-least-once | tee "$work/check.out" || fail "predictions check"
[ "$(ss_count tweets-dlq)" = 0 ] || fail "dead letters from good input"

# No tweet predicted before the clean stop was scored again afterwards.
"$py" -c '
import sys
sys.path.insert(0, sys.argv[1])
import consume_check as cc
s = cc.load_schema(sys.argv[4], "prediction")
first = [r["tweet_id"] for r in cc.decode(cc.read_dump(sys.argv[2]), s, 2)]
count = {}
for r in cc.decode(cc.read_dump(sys.argv[3]), s, 2):
    count[r["tweet_id"]] = count.get(r["tweet_id"], 0) + 1
again = [t for t in first if count[t] > 1]
print(f"clean stop: {len(first)} predictions, {len(again)} scored again after the restart")
sys.exit(1 if again else 0)
' "$here" "$work/pred-1.bin" "$work/pred.bin" "$src/schemas" || fail "tweets scored before SIGTERM were scored again"
echo "duplicates (from kill -9): $(sed -n 's/.*duplicates=\([0-9]*\).*/\1/p' "$work/check.out")"
