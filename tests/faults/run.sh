#!/usr/bin/env bash
# The fault suite: the scorer on a real local broker under crashes, broker restarts and
# rebalances, in both delivery modes, with its outputs read by an independent read_committed
# consumer (kcat) keyed by tweet id.
#
#   tests/faults/run.sh [--short] [--modes "at_least_once exactly_once"] [--seed N]
#                       [--scenarios "kills broker group"]
#
# Input: the 20,556 tweets of data/semeval-2016test.tsv repeated with unique ids
# ("<id>-<copy>") up to 100,000 (--short: 4,000), produced at a fixed rate while the
# faults happen (4,000/s; --short 2,000/s), into 6 partitions. Scenarios, each on fresh
# topics, per mode:
#   kills   20 x kill -9 of the scorer at random points (seeded), restarted each time
#           (--short: 2);
#   broker  5 broker restarts mid-stream, 3 x kill -9 and 2 x SIGTERM, the scorer running
#           through them (--short: one kill -9);
#   group   3 scorers in one group, members joining and leaving (SIGTERM and kill -9)
#           mid-stream, i.e. rebalances (--short: fewer steps); dynamic members under
#           at_least_once, static ones (consumer.instance.id) under exactly_once.
# Every scorer runs consumer.score.threads=2 (pipelined).
# Per scenario and mode it prints lost (inputs without a prediction: must be 0), duplicated
# (predictions beyond one per input: must be 0 under exactly_once), the wall time until
# every input had its prediction, SIGTERM stops that did not exit 0, and fatal exits: a
# scorer that stopped by itself on a fatal Kafka error (it names it) is restarted as a
# supervisor would. Results are appended to bench/out/faults.txt (full runs). Exits 1 if
# anything was lost, duplicated under exactly_once, a SIGTERM did not exit 0, or a scorer
# stopped by itself (it is to ride out every fault here in process).
#
# Environment: SS_BIN (default build/rel/cli/sentistream, built if missing),
# SS_TEST_PORT_BASE (broker on base+92/93), SS_FAULT_SEED (default: from the clock; printed).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
short=0
modes="at_least_once exactly_once"
scenarios="kills broker group"
seed=${SS_FAULT_SEED:-$(($(date +%s) % 100000))}
while [ $# -gt 0 ]; do
        case $1 in
        --short) short=1 ;;
        --modes) modes=$2; shift ;;
        --seed) seed=$2; shift ;;
        --scenarios) scenarios=$2; shift ;;
        *) echo "usage: $0 [--short] [--modes M] [--seed N] [--scenarios S]" >&2; exit 2 ;;
        esac
        shift
done
if [ -z "${SS_BIN:-}" ]; then
        SS_BIN=$root/build/rel/cli/sentistream
        [ -x "$SS_BIN" ] || {
                cmake -S "$root" -B "$root/build/rel" -DCMAKE_BUILD_TYPE=Release >/dev/null
                cmake --build "$root/build/rel" -j "$(nproc)"
        }
fi
export SS_BIN SS_SOURCE_DIR=$root
. "$root/tests/integration/consume_lib.sh"
RANDOM=$seed

if [ $short = 1 ]; then
        n=4000 rate=2000 kills=2 broker_kills=1 broker_terms=0 group_steps=2
else
        n=100000 rate=4000 kills=20 broker_kills=3 broker_terms=2 group_steps=8
fi
parts=6
echo "fault suite: $n tweets at $rate/s, modes: $modes, scenarios: $scenarios, seed $seed"

# The input: the test set repeated with unique ids.
awk -F '\t' -v n=$n 'BEGIN { OFS = "\t" } { l[NR] = $0 } END {
        for (i = 0; i < n; i++) { split(l[i % NR + 1], f, "\t");
                print f[1] "-" int(i / NR), f[2], f[3] } }' "$src/data/semeval-2016test.tsv" \
        >"$work/in.tsv"
ss_kafka_start
ss_model

# rnd_ms LO HI: a random number of milliseconds in [LO, HI], as seconds for sleep
rnd_s() { awk -v r=$((RANDOM % ($2 - $1 + 1) + $1)) 'BEGIN { printf "%.3f", r / 1000 }'; }

# scorer NAME MODE TOPIC: starts a scorer, a static member NAME (a dynamic member when
# $dynamic is 1); its pid in scorer_pid[NAME]
declare -A scorer_pid stopped
dynamic=0
scorer() {
        stopped[$1]=
        local inst=$1
        [ $dynamic = 1 ] && inst=
        "$SS_BIN" consume kafka.bootstrap.servers="$bs" consumer.model.path="$model" \
                consumer.delivery="$2" consumer.instance.id="$inst" consumer.score.threads=2 \
                topics.input="$3" topics.output="$3-out" topics.dlq="$3-dlq" \
                consumer.group.id="$3-g" >>"$work/$3-$1.log" 2>&1 &
        scorer_pid[$1]=$!
        bg_pids+=("$!")
}
scorer_kill() {
        stopped[$1]=1
        kill -9 "${scorer_pid[$1]}" 2>/dev/null || true
        wait "${scorer_pid[$1]}" 2>/dev/null || true
}
# scorer_term NAME: SIGTERM; a non-zero exit is counted in term_fail
term_fail=0
scorer_term() {
        local rc=0
        kill -0 "${scorer_pid[$1]}" 2>/dev/null || supervise
        stopped[$1]=1
        kill -TERM "${scorer_pid[$1]}" 2>/dev/null || true
        wait "${scorer_pid[$1]}" || rc=$?
        [ $rc = 0 ] || { term_fail=$((term_fail + 1)); echo "  $1: exit $rc after SIGTERM"; }
}

# distinct TOPIC: inputs with a prediction; preds TOPIC: predictions (read_committed)
keys() { kcat -b "$bs" -C -t "$1-out" -o beginning -e -q -f '%k\n' 2>/dev/null || true; }

# supervise: a scorer that exited by itself (a fatal error: it says why and exits non-zero)
# is restarted under its name, as a supervisor (systemd, Kubernetes) would; counted in died
died=0
supervise() {
        local name rc
        for name in "${!scorer_pid[@]}"; do
                [ -z "${stopped[$name]:-}" ] || continue
                kill -0 "${scorer_pid[$name]}" 2>/dev/null && continue
                rc=0
                wait "${scorer_pid[$name]}" 2>/dev/null || rc=$?
                died=$((died + 1))
                echo "  $name exited by itself ($rc: $(grep -o 'fatal error [A-Z_]*' \
                        "$work/$cur_topic-$name.log" | tail -n 1)); restarted"
                scorer "$name" "$cur_mode" "$cur_topic"
        done
}

# wait_done TOPIC TIMEOUT_S: until every input has a prediction
wait_done() {
        local d=0
        for _ in $(seq 1 $(($2 * 2))); do
                d=$(keys "$1" | sort -u | wc -l)
                [ "$d" -ge $n ] && return 0
                supervise
                sleep 0.5
        done
        echo "  stopped waiting with $d of $n inputs predicted"
}

# produce_bg TOPIC: the input at the fixed rate, in the background
produce_bg() {
        "$SS_BIN" produce "$work/in.tsv" --rate $rate --created-at now topics.input="$1" \
                kafka.bootstrap.servers="$bs" >"$work/$1-produce.log" 2>&1 &
        prod_pid=$!
        bg_pids+=("$!")
}

sc_kills() { # TOPIC MODE
        scorer s1 "$2" "$1"
        produce_bg "$1"
        for _ in $(seq 1 "$kills"); do
                sleep "$(rnd_s 300 $((2 * n / rate * 1000 / kills)))"
                scorer_kill s1
                scorer s1 "$2" "$1"
        done
        wait "$prod_pid" || echo "  produce failed"
        wait_done "$1" 300
        scorer_term s1
}

sc_broker() { # TOPIC MODE
        scorer s1 "$2" "$1"
        produce_bg "$1"
        local events=()
        for _ in $(seq 1 $broker_kills); do events+=(kill); done
        for _ in $(seq 1 $broker_terms); do events+=(term); done
        for e in "${events[@]}"; do
                sleep "$(rnd_s 500 2000)"
                if [ "$e" = kill ]; then
                        "$kafka_sh" kill >/dev/null 2>&1 || true
                else
                        "$kafka_sh" stop --keep >/dev/null 2>&1 || true
                fi
                sleep "$(rnd_s 200 1500)"
                "$kafka_sh" start --keep-data >>"$work/kafka-restarts.out" 2>&1 ||
                        { cat "$work/kafka-restarts.out"; fail "broker restart"; }
                echo "  broker $e + restart"
        done
        wait "$prod_pid" || echo "  produce failed (the broker was down)"
        wait_done "$1" 300
        scorer_term s1
}

sc_group() { # TOPIC MODE
        # at-least-once: dynamic members, so that every join and leave is a rebalance;
        # exactly-once needs an instance id per scorer (static members)
        [ "$2" = at_least_once ] && dynamic=1
        scorer g1 "$2" "$1"
        produce_bg "$1"
        local steps=0
        while [ $steps -lt $group_steps ]; do
                sleep "$(rnd_s 500 1500)"
                steps=$((steps + 1))
                local name="g$((RANDOM % 3 + 1))"
                if [ -z "${scorer_pid[$name]:-}" ] || ! kill -0 "${scorer_pid[$name]}" 2>/dev/null; then
                        scorer "$name" "$2" "$1"
                        echo "  $name joins"
                elif [ $((RANDOM % 2)) = 0 ]; then
                        scorer_term "$name"
                        echo "  $name leaves (SIGTERM)"
                else
                        scorer_kill "$name"
                        echo "  $name killed (-9)"
                fi
                # never leave the group empty for long
                local any=0
                for g in g1 g2 g3; do
                        [ -n "${scorer_pid[$g]:-}" ] && kill -0 "${scorer_pid[$g]}" 2>/dev/null && any=1
                done
                [ $any = 1 ] || { scorer g1 "$2" "$1"; echo "  g1 joins"; }
        done
        wait "$prod_pid" || echo "  produce failed"
        wait_done "$1" 300
        for g in g1 g2 g3; do
                [ -n "${scorer_pid[$g]:-}" ] && kill -0 "${scorer_pid[$g]}" 2>/dev/null &&
                        scorer_term "$g"
        done
        return 0
}

results=()
bad=0
k=0
for mode in $modes; do
        for sc in $scenarios; do
                k=$((k + 1))
                t=f$k-$sc
                ss_topic "$t" $parts
                ss_topic "$t-out" $parts
                ss_topic "$t-dlq" 1
                scorer_pid=()
                term_fail=0
                dynamic=0
                died=0
                echo "== $sc, $mode"
                t0=$(date +%s.%N)
                cur_topic=$t cur_mode=$mode
                stopped=()
                "sc_$sc" "$t" "$mode"
                t1=$(date +%s.%N)
                keys "$t" | sort >"$work/$t.keys"
                total=$(wc -l <"$work/$t.keys")
                distinct=$(uniq "$work/$t.keys" | wc -l)
                lost=$((n - distinct))
                dups=$((total - distinct))
                wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
                line=$(printf '%-7s %-14s lost %6d  duplicated %6d  wall %6s s  sigterm-fails %d  fatal-exits %d' \
                        "$sc" "$mode" "$lost" "$dups" "$wall" "$term_fail" "$died")
                echo "$line"
                results+=("$line")
                [ $lost = 0 ] && [ $term_fail = 0 ] && [ $died = 0 ] || bad=1
                [ "$mode" != exactly_once ] || [ $dups = 0 ] || bad=1
        done
done
echo
echo "fault suite results ($n tweets, seed $seed):"
printf '%s\n' "${results[@]}"
if [ $short = 0 ]; then
        mkdir -p "$root/bench/out"
        {
                echo "# tests/faults/run.sh, $(date -u +%FT%TZ), $n tweets at $rate/s, seed $seed"
                printf '%s\n' "${results[@]}"
        } >>"$root/bench/out/faults.txt"
fi
[ $bad = 0 ] || {
        echo "FAIL: inputs lost, duplicated under exactly_once, a SIGTERM failed or a scorer" \
                "stopped by itself"
        exit 1
}
echo "PASS fault suite"
