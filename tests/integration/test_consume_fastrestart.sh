#!/usr/bin/env bash
# Fast, clean restarts under at-least-once: 20,000 tweets over 3 partitions, in five slices
# of 4,000; each scorer start gets its own slice, produced at 1,000/s as it starts (so every
# start has tweets to score however long the previous stage took). A dynamic member (no instance id) is stopped with SIGTERM mid-stream and
# restarted (it left the group on close), which must re-score nothing (it committed all it
# produced); then a static member (consumer.instance.id=a) takes over, is killed with -9 and
# restarted, stopped with SIGTERM and restarted. Each restarted process must score again
# within 5 s (start to first prediction; printed), and in the end every tweet has a
# prediction (the kill -9 re-scores what was produced since the last commit: printed).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

data=$src/data/semeval-2016test.tsv
port=$(ss_port 480)
n=20000

ss_venv
ss_kafka_start
ss_topic tweets 3
ss_topic tweet-predictions 3
ss_topic tweets-dlq 1
ss_model
head -n $n "$data" >"$work/in.tsv"
"$SS_BIN" score "$model" <"$work/in.tsv" >"$work/offline.jsonl" || fail "offline score"

# start_timed LOG [overrides]: starts a scorer, waits for its first prediction; the seconds
# taken in $took.
start_timed() {
        local log=$1
        shift
        ss_consume_bg "$log" metrics.port=$port "$@"
        local t0 t1
        t0=$(date +%s.%N)
        ss_wait_metric $port sentistream_scored_total 1 60
        t1=$(date +%s.%N)
        took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
}

# produce_slice K: produces lines K*4000+1 .. (K+1)*4000 of the input in the background.
prod_pids=()
produce_slice() {
        sed -n "$(($1 * 4000 + 1)),$((($1 + 1) * 4000))p" "$work/in.tsv" >"$work/slice-$1.tsv"
        "$SS_BIN" produce "$work/slice-$1.tsv" --rate 1000 kafka.bootstrap.servers="$bs" \
                >"$work/produce-$1.log" 2>&1 &
        prod_pids+=($!)
        bg_pids+=($!)
}
# run_until N: waits until the running scorer scored N
run_until() { ss_wait_metric $port sentistream_scored_total "$1" 60; }

produce_slice 0
start_timed "$work/consume-0.log"
t_first=$took
run_until 2000
ss_stop "$cpid"
# a dynamic member left the group on close: its successor is assigned at once
produce_slice 1
start_timed "$work/consume-1.log"
t_dynamic_term=$took
sleep 1
run_until 1500
# Nothing re-scored across the SIGTERM restart: no tweet has two predictions yet.
ss_dump_keys tweet-predictions "$work/keys-1.txt"
dups=$(cut -f1 "$work/keys-1.txt" | sort | uniq -d | wc -l)
echo "after the SIGTERM restart: $(wc -l <"$work/keys-1.txt") predictions, $dups re-scored"
[ "$dups" = 0 ] || fail "$dups tweets re-scored after a SIGTERM restart"
ss_stop "$cpid"

# a static member takes over, is killed with -9, comes back under the same instance id
produce_slice 2
start_timed "$work/consume-2.log" consumer.instance.id=a
t_static_first=$took
run_until 1500
kill -9 "$cpid"
wait "$cpid" 2>/dev/null || true
produce_slice 3
start_timed "$work/consume-3.log" consumer.instance.id=a
t_static_kill=$took
run_until 1500
ss_stop "$cpid"
# a static member does not leave the group on close: back under its id, it is not waited for
produce_slice 4
start_timed "$work/consume-4.log" consumer.instance.id=a
t_static_term=$took
for p in "${prod_pids[@]}"; do wait "$p" || fail "produce (see $work/produce-*.log)"; done
ss_wait_lag $port 3 60
ss_lag_zero $port 3 120 || fail "lag not 0 at the end"
ss_stop "$cpid"

ss_dump tweet-predictions "$work/pred.bin"
"$py" "$here/consume_check.py" predictions "$work/pred.bin" "$src/schemas" "$work/in.tsv" \
        "$work/offline.jsonl" at-least-once | tee "$work/check.txt" || fail "predictions check"
echo "start to first prediction (s): first start $t_first; dynamic after SIGTERM" \
        "$t_dynamic_term; static after a dynamic left $t_static_first; static after kill -9" \
        "$t_static_kill; static after SIGTERM $t_static_term"
for t in $t_dynamic_term $t_static_first $t_static_kill $t_static_term; do
        awk -v t="$t" 'BEGIN { exit !(t <= 5) }' || fail "a restart took $t s to score"
done
echo "PASS consume fast restart"
