#!/usr/bin/env bash
# Exactly-once with a second live scorer under the same consumer.instance.id (so the same
# transactional.id and static group membership): the newer one fences the older, which must
# stop by itself with a message naming the cause and a non-zero exit (never re-create its
# producer and fence the newer one back in a loop); the newer one goes on, and a
# read_committed reader sees every tweet exactly once.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

n=3000
ss_kafka_start
ss_topic tweets 2
ss_topic tweet-predictions 2
ss_topic tweets-dlq 1
ss_model
head -n $n "$src/data/semeval-2016test.tsv" >"$work/in.tsv"

eos=(consumer.delivery=exactly_once consumer.instance.id=a consumer.batch.size=128)
ss_consume_bg "$work/consume-a.log" "${eos[@]}" "metrics.port=$(ss_port 476)"
a=$cpid
# Two parts: the first flows while the second scorer fences the first; the second is produced
# once the older scorer stopped, so that the newer one has tweets of its own to score however
# long its start took.
head -n 2000 "$work/in.tsv" >"$work/in-1.tsv"
tail -n +2001 "$work/in.tsv" >"$work/in-2.tsv"
"$SS_BIN" produce "$work/in-1.tsv" --rate 1000 kafka.bootstrap.servers="$bs" \
        >"$work/produce.log" 2>&1 &
ppid_=$!
bg_pids+=("$ppid_")
ss_wait_metric "$(ss_port 476)" sentistream_scored_total 200 60

ss_consume_bg "$work/consume-b.log" "${eos[@]}" "metrics.port=$(ss_port 477)"
b=$cpid
t0=$SECONDS
for _ in $(seq 1 600); do
        kill -0 "$a" 2>/dev/null || break
        sleep 0.1
done
kill -0 "$a" 2>/dev/null && fail "the fenced scorer still runs 60 s after the second one started"
rc=0
wait "$a" || rc=$?
echo "the older scorer stopped after $((SECONDS - t0)) s with exit $rc"
[ "$rc" != 0 ] || fail "the fenced scorer exited 0"
grep -q -E "fenced: another process runs with this transactional.id|FENCED_INSTANCE_ID" \
        "$work/consume-a.log" || fail "no fencing named in the log: $(tail -n 5 "$work/consume-a.log")"
recreated=$(grep -c "transactional producer re-created" "$work/consume-a.log" || true)
[ "$recreated" = 0 ] || fail "the fenced scorer re-created its producer ($recreated times) instead of stopping"

wait "$ppid_" || fail "produce"
"$SS_BIN" produce "$work/in-2.tsv" kafka.bootstrap.servers="$bs" >>"$work/produce.log" 2>&1 ||
        fail "produce the second part"
ss_wait_metric "$(ss_port 477)" sentistream_scored_total 1 60
for _ in $(seq 1 120); do
        got=$(kcat -b "$bs" -C -t tweet-predictions -o beginning -e -q -f '%k\n' | sort -u | wc -l)
        [ "$got" -ge $n ] && break
        sleep 1
done
ss_stop "$b"
total=$(kcat -b "$bs" -C -t tweet-predictions -o beginning -e -q -f '%k\n' | wc -l)
distinct=$(kcat -b "$bs" -C -t tweet-predictions -o beginning -e -q -f '%k\n' | sort -u | wc -l)
echo "read_committed: $total predictions, $distinct distinct tweets of $n"
[ "$distinct" = $n ] || fail "lost: $distinct of $n tweets predicted"
[ "$total" = $n ] || fail "duplicated: $total predictions for $n tweets"
echo "PASS consume fenced"
