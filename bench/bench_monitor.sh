#!/usr/bin/env bash
# Throughput of the drift monitor, on one core.
#   1. the processing path in-process (bench_monitor core): pre-encoded Prediction messages
#      through decode, binning, sliding + time windows, evaluations and the join insert; then
#      labels through the join and the rolling F1. Targets: >= 100,000 predictions/s and
#      >= 20,000 joined labels/s.
#   2. the real `sentistream monitor` against a local Kafka broker and Redis (ports below,
#      never a demo's or the tests'): N predictions already in the topic and N labels already
#      in the stream; timed from the first prediction counted to the last prediction and the
#      last join (its Prometheus counters, polled every 50 ms), and from process start.
#
#   bench/bench_monitor.sh [N]        N predictions and labels (default 200000)
# Env: SS_BENCH_BUILD_DIR (default build/bench-monitor, Release), SS_BENCH_KAFKA_PORT (29192),
# SS_BENCH_KAFKA_CONTROLLER_PORT (29193), SS_BENCH_REDIS_PORT (26390), SS_BENCH_METRICS_PORT
# (29465), SS_BENCH_SKIP_SERVICES=1 to run part 1 only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-200000}
build=${SS_BENCH_BUILD_DIR:-$root/build/bench-monitor}
kport=${SS_BENCH_KAFKA_PORT:-29192}
cport=${SS_BENCH_KAFKA_CONTROLLER_PORT:-29193}
rport=${SS_BENCH_REDIS_PORT:-26390}
mport=${SS_BENCH_METRICS_PORT:-29465}
one_core=()
command -v taskset > /dev/null && one_core=(taskset -c 0)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target bench_monitor sentistream > /dev/null
bench=$build/bench/bench_monitor
bin=$build/cli/sentistream

echo "== 1. processing path, in-process, one core (${one_core[*]:-no taskset})"
"${one_core[@]}" "$bench" core --n "$n" --rounds 3 | tee /tmp/bench_monitor.$$.core
core=$(grep '^RESULT' /tmp/bench_monitor.$$.core)
rm -f /tmp/bench_monitor.$$.core
[ "${SS_BENCH_SKIP_SERVICES:-0}" = 1 ] && exit 0

echo "== 2. sentistream monitor on real Kafka ($kport) and Redis ($rport)"
kafka() { "$root/deploy/local/kafka.sh" "$@" --port "$kport" --controller-port "$cport"; }
redis() { "$root/deploy/local/redis.sh" "$@" --port "$rport"; }
mon=
cleanup() {
        if [ -n "$mon" ]; then
                kill -TERM "$mon" 2> /dev/null || true
                wait "$mon" 2> /dev/null || true
        fi
        kafka stop > /dev/null 2>&1 || true
        redis stop > /dev/null 2>&1 || true
}
trap cleanup EXIT
"$root/deploy/local/kafka.sh" fetch > /dev/null
kafka start
redis start
kafka create-topic bench-predictions 1 > /dev/null
kafka create-topic bench-retrain 1 > /dev/null
ov=(kafka.bootstrap.servers=127.0.0.1:"$kport" topics.output=bench-predictions
        topics.retrain=bench-retrain redis.port="$rport" redis.prefix=bench:
        monitor.group.id=bench-monitor)
card=$root/tests/fixtures/drift/card_valid.json
"$bench" load --n "$n" --card "$card" "${ov[@]}"
echo "loaded $n predictions into bench-predictions and $n labels into bench:labels"

metric() {
        { curl -s "http://127.0.0.1:$mport/metrics" || true; } |
                awk -v k="$1" '$1 == k { print $2; exit }'
}
now() { date +%s.%N; }
t0=$(now)
"${one_core[@]}" "$bin" monitor "${ov[@]}" monitor.card="$card" \
        monitor.join.max.pending=$((2 * n)) monitor.metrics.port="$mport" \
        > "$build/bench_monitor_run.log" 2>&1 &
mon=$!
t_first='' t_pred='' t_join=''
while [ -z "$t_join" ] || [ -z "$t_pred" ]; do
        kill -0 "$mon" 2> /dev/null || { tail "$build/bench_monitor_run.log"; exit 1; }
        p=$(metric sentistream_monitor_predictions_total)
        j=$(metric sentistream_monitor_joined_total)
        t=$(now)
        [ -z "$t_first" ] && [ "${p:-0}" != 0 ] && t_first=$t
        [ -z "$t_pred" ] && [ "${p:-0}" = "$n" ] && t_pred=$t
        [ -z "$t_join" ] && [ "${j:-0}" = "$n" ] && t_join=$t
        awk -v a="$t" -v b="$t0" 'BEGIN { exit !(a - b > 300) }' && {
                echo "timed out: predictions ${p:-?}, joined ${j:-?}"
                exit 1
        }
        sleep 0.05
done
awk -v n="$n" -v t0="$t0" -v f="$t_first" -v p="$t_pred" -v j="$t_join" 'BEGIN {
        printf "first prediction counted %.2f s after start (group join, assignment)\n", f - t0
        printf "all %d predictions after %.2f s: %.0f predictions/s from the first one\n", n,
                p - t0, n / (p - f)
        printf "all %d labels joined after %.2f s: %.0f joined labels/s from the first prediction\n",
                n, j - t0, n / (j - f)
        printf "RESULT kafka_redis predictions_per_s=%.0f joined_labels_per_s=%.0f (50 ms polling)\n",
                n / (p - f), n / (j - f)
}'
echo "in-process: $core"
echo "reproduce: bench/bench_monitor.sh $n   (Release build in $build)"
