#!/usr/bin/env bash
# Kafka SASL/PLAIN over SASL_PLAINTEXT against the real broker: deploy/local/kafka.sh starts it
# with a SASL listener and the JAAS config written here (user alice). `sentistream produce`
# delivers with the right password (given through ${env:...}); with a wrong one or an unknown
# user it stops at startup within the bounded
# check with "authentication failed" and a non-zero exit, and never prints the password.
# The scorer (`sentistream consume`) with a wrong password exits non-zero at startup too.
set -uo pipefail
: "${SS_BIN:?SS_BIN must point to the sentistream binary}"
: "${SS_SOURCE_DIR:?SS_SOURCE_DIR must point to the source tree}"
src=$SS_SOURCE_DIR
base=${SS_TEST_PORT_BASE:-19000}
export SS_KAFKA_PORT=$((base + 390)) SS_KAFKA_CONTROLLER_PORT=$((base + 391))
sasl_port=$((base + 392))
kafka_sh=$src/deploy/local/kafka.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-sasl-test.XXXXXX")
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
trap '"$kafka_sh" stop >/dev/null 2>&1; rm -rf "$work"' EXIT
fails=0
fail() {
        echo "FAIL: $*" >&2
        fails=$((fails + 1))
}

cat >"$work/jaas.conf" <<'JAAS'
KafkaServer {
  org.apache.kafka.common.security.plain.PlainLoginModule required
    user_alice="alice-secret";
};
JAAS
"$kafka_sh" stop >/dev/null 2>&1 || true
"$kafka_sh" start --sasl-port "$sasl_port" --jaas "$work/jaas.conf" \
        >"$work/kafka.out" 2>&1 || { cat "$work/kafka.out"; exit 1; }
"$kafka_sh" create-topic tweets 1 >/dev/null || { echo "create topic failed"; exit 1; }
head -n 5 "$src/data/semeval-train.tsv" >"$work/in.tsv"

sasl=("kafka.bootstrap.servers=127.0.0.1:$sasl_port" kafka.security.protocol=SASL_PLAINTEXT)
count() {
        kcat -C -b "127.0.0.1:$SS_KAFKA_PORT" -t tweets -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l
}

# PLAIN, right password from the environment
SS_TEST_KAFKA_PW=alice-secret timeout 120 "$SS_BIN" produce "$work/in.tsv" "${sasl[@]}" \
        kafka.sasl.mechanism=PLAIN kafka.sasl.username=alice 'kafka.sasl.password=${env:SS_TEST_KAFKA_PW}' \
        >"$work/out" 2>&1 || fail "PLAIN, right password: $(tail -5 "$work/out")"
[ "$(count)" -eq 5 ] || fail "PLAIN: $(count) messages on the topic, want 5"

# wrong passwords: clear error, bounded, non-zero exit, the password never printed
for user in alice mallory; do
        start=$SECONDS
        timeout 120 "$SS_BIN" produce "$work/in.tsv" "${sasl[@]}" kafka.sasl.mechanism=PLAIN \
                kafka.sasl.username="$user" kafka.sasl.password=wrong-pw-123 >"$work/out" 2>&1
        rc=$?
        took=$((SECONDS - start))
        echo "user $user, wrong password: exit $rc after $took s"
        [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "$user wrong password: exit $rc"
        [ "$took" -le 30 ] || fail "$user wrong password: took $took s"
        grep -q "authentication failed" "$work/out" || fail "$user wrong password: $(tail -5 "$work/out")"
        grep -q "wrong-pw-123" "$work/out" && fail "$user: the password was printed"
done
[ "$(count)" -eq 5 ] || fail "wrong passwords: $(count) messages on the topic, want 5"

# the scorer stops at startup on a wrong password
start=$SECONDS
timeout 120 "$SS_BIN" consume "${sasl[@]}" kafka.sasl.mechanism=PLAIN kafka.sasl.username=alice \
        kafka.sasl.password=wrong-pw-123 consumer.mode=passthrough serde.schema_dir="$src/schemas" \
        >"$work/out" 2>&1
rc=$?
echo "consume, wrong password: exit $rc after $((SECONDS - start)) s"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "consume wrong password: exit $rc"
grep -q "authentication failed" "$work/out" || fail "consume wrong password: $(tail -5 "$work/out")"

[ "$fails" -eq 0 ] && echo "kafka sasl: ok" || echo "kafka sasl: $fails failures"
exit $((fails > 0))
