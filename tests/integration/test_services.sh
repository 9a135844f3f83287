#!/usr/bin/env bash
# The local services, end to end, on test ports (never a demo's): a real Kafka broker
# (deploy/local/kafka.sh) and redis-server (deploy/local/redis.sh).
#   Kafka: produce/consume with kcat; a consumer group commit (kcat -G, cooperative-sticky);
#          librdkafka from C (tests/integration/rdkafka_check.c): idempotent producer,
#          cooperative-sticky group with a sync commit, transactions with offsets;
#          kill -9 and restart on the same data: messages and committed offsets survive.
#   Redis: PING/SET/GET; the data survives a clean restart and a kill -9 (append-only file).
#   Both stop cleanly and leave no process, pid file or run directory behind.
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
# shellcheck disable=SC2034 # the check that the build dir is set is the point
bin=${SS_BINARY_DIR:?SS_BINARY_DIR not set}
base=${SS_TEST_PORT_BASE:-19000}
kport=${SS_TEST_KAFKA_PORT:-$((base + 92))}
cport=${SS_TEST_KAFKA_CONTROLLER_PORT:-$((base + 93))}
rport=${SS_TEST_REDIS_PORT:-$((base + 380))}
kafka() { "$src/deploy/local/kafka.sh" "$@" --port "$kport" --controller-port "$cport"; }
redis() { "$src/deploy/local/redis.sh" "$@" --port "$rport"; }
bs=127.0.0.1:$kport
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-services.XXXXXX")

cleanup() {
        kafka stop >/dev/null 2>&1 || true
        redis stop >/dev/null 2>&1 || true
        rm -rf "$work"
}
trap cleanup EXIT
# A broker or redis left over from an interrupted run would carry old topics and keys.
kafka stop >/dev/null 2>&1 || true
redis stop >/dev/null 2>&1 || true

fail() {
        echo "FAIL: $*"
        exit 1
}

step() {
        echo "== $*"
}

# ---- Kafka -------------------------------------------------------------------------------
"$src/deploy/local/kafka.sh" fetch
step "kafka start"
kafka start
kafka status

# Topics are created explicitly (auto-creation is off): producing to an unknown one fails.
kafka create-topic svc-test 3
kafka create-topic svc-rdk-in 3
kafka create-topic svc-rdk-out 1
echo x | timeout 30 kcat -b "$bs" -P -t svc-no-such-topic -X message.timeout.ms=3000 2>/dev/null &&
        fail "producing to a topic nobody created succeeded"
kcat -b "$bs" -L -t svc-no-such-topic -m 5 | grep -q "Unknown topic or partition" ||
        fail "producing to an unknown topic created it (auto.create.topics.enable must be false)"

step "kcat produce / consume"
seq 1 100 | sed 's/^\(.*\)$/key\1:value-\1/' | kcat -b "$bs" -P -t svc-test -K: -X acks=all
n=$(kcat -b "$bs" -C -t svc-test -e -q -f '%k %s\n' | tee "$work/consumed" | wc -l)
[ "$n" -eq 100 ] || fail "kcat consumed $n messages, want 100"
grep -qx "key42 value-42" "$work/consumed" || fail "key42 value-42 not consumed"
parts=$(kcat -b "$bs" -C -t svc-test -e -q -f '%p\n' | sort -u | wc -l)
[ "$parts" -eq 3 ] || fail "messages landed in $parts partitions, want 3"

step "kcat consumer group commit (cooperative-sticky)"
group() {
        timeout 60 kcat -b "$bs" -G svc-group -X partition.assignment.strategy=cooperative-sticky \
                -X auto.offset.reset=earliest -e -q -f '%s\n' svc-test
}
n=$(group | wc -l)
[ "$n" -eq 100 ] || fail "first group run read $n messages, want 100"
seq 101 105 | sed 's/^\(.*\)$/key\1:value-\1/' | kcat -b "$bs" -P -t svc-test -K: -X acks=all
group >"$work/second"
n=$(wc -l <"$work/second")
[ "$n" -eq 5 ] || fail "second group run read $n messages, want the 5 new ones (commit lost?)"
grep -qx "value-103" "$work/second" || fail "second group run missed value-103"

step "librdkafka $(pkg-config --modversion rdkafka) from C: idempotence, group, transactions"
# shellcheck disable=SC2046 # pkg-config prints one word per flag
cc -std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -Wno-unused-parameter -Werror \
        "$src/tests/integration/rdkafka_check.c" -o "$work/rdkafka_check" \
        $(pkg-config --cflags --libs rdkafka)
timeout 180 "$work/rdkafka_check" "$bs" svc-rdk-in svc-rdk-out svc-rdk-group

step "kafka kill -9 and restart on the same data"
kafka kill
kafka status >/dev/null 2>&1 && fail "status says running after kill"
kafka start --keep-data
n=$(kcat -b "$bs" -C -t svc-test -e -q -f '%s\n' | wc -l)
[ "$n" -eq 105 ] || fail "after the crash restart $n messages, want 105"
seq 106 107 | sed 's/^\(.*\)$/key\1:value-\1/' | kcat -b "$bs" -P -t svc-test -K: -X acks=all
group >"$work/third"
n=$(wc -l <"$work/third")
[ "$n" -eq 2 ] || fail "after the crash restart the group read $n messages, want 2 (offsets lost?)"

step "kafka stop"
kpid=$(cat "$src/deploy/local/run/$kport/kafka.pid")
kafka stop
kill -0 "$kpid" 2>/dev/null && fail "broker pid $kpid still alive after stop"
[ ! -e "$src/deploy/local/run/$kport" ] || fail "run dir of port $kport left behind"
kafka status >/dev/null 2>&1 && fail "status says running after stop"
(exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null && fail "port $kport still open after stop"

# ---- Redis -------------------------------------------------------------------------------
step "redis start, PING/SET/GET"
redis start
redis status
rc() { redis-cli -h 127.0.0.1 -p "$rport" "$@"; }
[ "$(rc PING)" = PONG ] || fail "PING"
[ "$(rc SET sentistream:test:a hello)" = OK ] || fail "SET"
[ "$(rc GET sentistream:test:a)" = hello ] || fail "GET"
[ "$(rc CONFIG GET appendonly | tail -1)" = yes ] || fail "appendonly is not on"

step "redis clean restart keeps data"
redis stop --keep
redis start
[ "$(rc GET sentistream:test:a)" = hello ] || fail "value lost across a clean restart"

step "redis kill -9 keeps acknowledged writes"
[ "$(rc XADD sentistream:test:s '*' label positive)" != "" ] || fail "XADD"
[ "$(rc SET sentistream:test:b world)" = OK ] || fail "SET b"
redis kill
redis start
[ "$(rc GET sentistream:test:b)" = world ] || fail "value lost across kill -9"
[ "$(rc XLEN sentistream:test:s)" = 1 ] || fail "stream entry lost across kill -9"

step "redis stop"
rpid=$(cat "$src/deploy/local/run/redis-$rport/redis.pid")
redis stop
kill -0 "$rpid" 2>/dev/null && fail "redis pid $rpid still alive after stop"
[ ! -e "$src/deploy/local/run/redis-$rport" ] || fail "redis run dir left behind"
(exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && fail "port $rport still open after stop"

echo "PASS services"
