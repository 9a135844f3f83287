#!/usr/bin/env bash
# Scale-out: two scorers in one consumer group (cooperative-sticky) on a 4-partition topic.
#  1. Clean run: both join, the group settles (2 partitions each), then the 20,556 tweets
#     arrive: both score > 0 and every tweet is scored exactly once.
#  2. A scorer joining mid-stream (a rebalance while the first one is busy): every tweet is
#     scored at least once; duplicates are printed. (The first scorer commits what it hands
#     over on revoke and holds its periodic commits until the cooperative rebalance's second
#     round is over: with librdkafka 2.0.2 a commit racing that round is refused with
#     ILLEGAL_GENERATION and the client drops its assignment uncommitted, so work is redone.
#     Expected duplicates: 0; the guarantee asserted here is at-least-once.)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

data=$src/data/semeval-2016test.tsv
n=$(wc -l <"$data")
pa=$(ss_port 467)
pb=$(ss_port 468)

# lag_series PORT: how many partitions a scorer reports lag for (= holds).
lag_series() {
        { curl -s --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } |
                grep -c '^sentistream_consumer_lag{' || true
}

# wait_total PORT_A PORT_B N: until the two scorers scored N together.
wait_total() {
        for _ in $(seq 1 900); do
                sa=$(ss_metric "$1" sentistream_scored_total)
                sb=$(ss_metric "$2" sentistream_scored_total)
                [ $((sa + sb)) -ge "$3" ] && return 0
                sleep 0.2
        done
        fail "the scorers scored $((sa + sb)), want $3"
}

ss_venv
ss_kafka_start
for t in tweets tweet-predictions tweets2 preds2; do ss_topic $t 4; done
ss_topic tweets-dlq 1
ss_model
"$SS_BIN" score "$model" <"$data" >"$work/offline.jsonl" || fail "offline score"

# ---- 1. clean run, settled group (b scores on a worker thread, pipelined) ----
ss_consume_bg "$work/consume-a.log" metrics.port=$pa consumer.lag.interval.ms=200
a=$cpid
ss_consume_bg "$work/consume-b.log" metrics.port=$pb consumer.lag.interval.ms=200 \
        consumer.score.threads=2
b=$cpid
for _ in $(seq 1 600); do
        la=$(lag_series $pa)
        lb=$(lag_series $pb)
        [ "$la" -ge 1 ] && [ "$lb" -ge 1 ] && [ $((la + lb)) = 4 ] && break
        sleep 0.2
done
[ "$la" -ge 1 ] && [ "$lb" -ge 1 ] && [ $((la + lb)) = 4 ] ||
        fail "the group did not settle: A holds $la, B holds $lb partition(s)"
"$SS_BIN" produce "$data" kafka.bootstrap.servers="$bs" >"$work/produce.out" 2>&1 ||
        { cat "$work/produce.out"; fail "produce"; }
wait_total $pa $pb "$n"
echo "clean run: scorer A scored $sa, scorer B scored $sb"
[ $((sa + sb)) = "$n" ] || fail "A + B scored $((sa + sb)), want $n"
[ "$sa" -gt 0 ] && [ "$sb" -gt 0 ] || fail "one scorer did no work (A $sa, B $sb)"
ss_stop "$a"
ss_stop "$b"
ss_dump tweet-predictions "$work/pred.bin"
"$py" "$here/consume_check.py" predictions "$work/pred.bin" "$src/schemas" "$data" \
        "$work/offline.jsonl" exactly-once || fail "predictions check (clean run)"

# ---- 2. the second scorer joins mid-stream ----
topics=(topics.input=tweets2 topics.output=preds2 consumer.group.id=mid)
"$SS_BIN" produce "$data" --rate 4000 topics.input=tweets2 kafka.bootstrap.servers="$bs" \
        >"$work/produce2.out" 2>&1 &
ppid_=$!
bg_pids+=("$ppid_")
ss_consume_bg "$work/consume-a2.log" metrics.port=$pa "${topics[@]}"
a=$cpid
ss_wait_metric $pa sentistream_scored_total 2000 120
ss_consume_bg "$work/consume-b2.log" metrics.port=$pb "${topics[@]}"
b=$cpid
wait "$ppid_" || { cat "$work/produce2.out"; fail "produce 2"; }
wait_total $pa $pb "$n"
sleep 2 # anything redone after a lost assignment
sa=$(ss_metric $pa sentistream_scored_total)
sb=$(ss_metric $pb sentistream_scored_total)
echo "mid-stream join: scorer A scored $sa, scorer B scored $sb"
[ "$sb" -gt 0 ] || fail "the joining scorer did no work"
# A gives partitions up by a revocation, or, when its generation was fenced during the
# rebalance (a slow member under load: its commit is refused), by losing them
grep -qE "revoked|lost [0-9]+ partition" "$work/consume-a2.log" ||
        fail "A never gave partitions to B (neither revoked nor lost any)"
ss_stop "$a"
ss_stop "$b"
ss_dump preds2 "$work/pred2.bin"
"$py" "$here/consume_check.py" predictions "$work/pred2.bin" "$src/schemas" "$data" \
        "$work/offline.jsonl" at-least-once || fail "predictions check (mid-stream join)"
