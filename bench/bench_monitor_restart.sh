#!/usr/bin/env bash
# How soon a restarted `sentistream monitor` holds its partition again (seconds from process
# start to the "assigned" log line), on a local Kafka broker and Redis:
#   with dynamic membership (monitor.static.membership=false): first start; restart after
#   SIGTERM (the monitor leaves its group on close); restart after kill -9 (the broker waits
#   for the dead member's session timeout); then with the default static membership (the
#   member is named monitor.group.id): first start, restart after kill -9, after SIGTERM.
#   bench/bench_monitor_restart.sh
# Env: SS_BENCH_BUILD_DIR (default build/bench-monitor, Release), SS_BENCH_KAFKA_PORT (29192),
# SS_BENCH_KAFKA_CONTROLLER_PORT (29193), SS_BENCH_REDIS_PORT (26390).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SS_BENCH_BUILD_DIR:-$root/build/bench-monitor}
kport=${SS_BENCH_KAFKA_PORT:-29192}
cport=${SS_BENCH_KAFKA_CONTROLLER_PORT:-29193}
rport=${SS_BENCH_REDIS_PORT:-26390}
bs=127.0.0.1:$kport
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream > /dev/null
bin=$build/cli/sentistream
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-restart.XXXXXX")
kafka() { "$root/deploy/local/kafka.sh" "$@" --port "$kport" --controller-port "$cport"; }
redis() { "$root/deploy/local/redis.sh" "$@" --port "$rport"; }
cleanup() {
        [ -s "$work/pid" ] && kill -KILL "$(cat "$work/pid")" 2> /dev/null
        kafka stop > /dev/null 2>&1
        redis stop > /dev/null 2>&1
        rm -rf "$work"
}
trap cleanup EXIT
"$root/deploy/local/kafka.sh" fetch > /dev/null
kafka start > /dev/null && redis start > /dev/null || exit 1
kafka create-topic restart-predictions 1 > /dev/null
card=$root/tests/fixtures/drift/card_valid.json
n=0
start() { # start [overrides]: a monitor in the background; prints seconds until assigned
        n=$((n + 1))
        local log=$work/m$n.log t0
        t0=$(date +%s.%N)
        "$bin" monitor kafka.bootstrap.servers="$bs" topics.output=restart-predictions \
                topics.retrain=restart-retrain redis.port="$rport" redis.prefix=restart: \
                monitor.card="$card" monitor.group.id=restart-monitor "$@" > "$log" 2>&1 &
        echo $! > "$work/pid"
        for _ in $(seq 1200); do
                grep -q 'assigned restart-predictions' "$log" && break
                sleep 0.1
        done
        awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s\n", b - a }'
}
term() { kill -TERM "$(cat "$work/pid")"; sleep 2; }
crash() { kill -KILL "$(cat "$work/pid")"; sleep 0.5; }
dynamic=(monitor.static.membership=false)
echo "first start, dynamic member:             $(start "${dynamic[@]}")"
term
echo "restart after SIGTERM, dynamic member:   $(start "${dynamic[@]}")"
crash
echo "restart after kill -9, dynamic member:   $(start "${dynamic[@]}")"
term
sleep 1
echo "first start, static member (default):    $(start)"
crash
echo "restart after kill -9, static member:    $(start)"
term
echo "restart after SIGTERM, static member:    $(start)"
term
