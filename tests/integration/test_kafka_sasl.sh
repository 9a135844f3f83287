#!/usr/bin/env bash
# Kafka SASL/PLAIN over SASL_PLAINTEXT against the real broker: deploy/local/kafka.sh starts it
# with a SASL listener and the JAAS config written here (user alice). `sentistream produce`
# delivers with the right password (given through ${env:...}); with a wrong one or an unknown
# user it stops at startup within the bounded
# check with "authentication failed" and a non-zero exit, and never prints the password.
# The scorer (`sentistream consume`) with a wrong password exits non-zero at startup too.
# TLS: the broker also has an SSL and a SASL_SSL listener with a certificate for 127.0.0.1
# signed by a CA made here (openssl); produce, the scorer and `tail` work over both with
# kafka.ssl.ca.location, and a second CA is refused at startup with a clear error.
# SCRAM: the broker holds SCRAM-SHA-256 and -512 credentials for alice (created when its log
# dir is formatted) and accepts them from Kafka's own Java client; librdkafka before 2.6.1
# (Debian 12 has 2.0.2) repeats its client nonce in the SCRAM proof, which Kafka 4 refuses
# (librdkafka PR 4895), so with such a librdkafka the login must fail at startup with a clear
# error, and with a newer one it must work.
set -uo pipefail
: "${SS_BIN:?SS_BIN must point to the sentistream binary}"
: "${SS_SOURCE_DIR:?SS_SOURCE_DIR must point to the source tree}"
src=$SS_SOURCE_DIR
base=${SS_TEST_PORT_BASE:-19000}
export SS_KAFKA_PORT=$((base + 390)) SS_KAFKA_CONTROLLER_PORT=$((base + 391))
sasl_port=$((base + 392)) ssl_port=$((base + 393)) sasl_ssl_port=$((base + 394))
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
# a CA, the broker's certificate for 127.0.0.1 signed by it (key in PKCS#8, as Kafka's PEM
# keystore wants it), and another CA that did not sign it
tls=$work/tls
mkdir -p "$tls"
(
        cd "$tls" || exit 1
        for ca in ca otherca; do
                openssl req -x509 -newkey rsa:2048 -nodes -keyout $ca-key.pem -out $ca.pem \
                        -days 2 -subj "/CN=sentistream test $ca" 2>/dev/null || exit 1
        done
        openssl req -newkey rsa:2048 -nodes -keyout broker-key.pem -out broker.csr \
                -subj "/CN=127.0.0.1" 2>/dev/null &&
                printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext &&
                openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
                        -out broker-cert.pem -days 2 -extfile san.ext 2>/dev/null &&
                openssl pkcs8 -topk8 -nocrypt -in broker-key.pem -out broker-key8.pem &&
                cat broker-key8.pem broker-cert.pem >broker.pem
) || { echo "openssl: making the test certificates failed"; exit 1; }

"$kafka_sh" stop >/dev/null 2>&1 || true
"$kafka_sh" start --sasl-port "$sasl_port" --jaas "$work/jaas.conf" --ssl-port "$ssl_port" \
        --sasl-ssl-port "$sasl_ssl_port" --ssl-dir "$tls" --scram alice=alice-secret \
        >"$work/kafka.out" 2>&1 || { cat "$work/kafka.out"; exit 1; }
"$kafka_sh" create-topic tls-out 1 >/dev/null || { echo "create topic failed"; exit 1; }
"$kafka_sh" create-topic tweets-dlq 1 >/dev/null || { echo "create topic failed"; exit 1; }
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

# SSL: right CA
tls_ok=(kafka.security.protocol=ssl "kafka.ssl.ca.location=$tls/ca.pem")
timeout 120 "$SS_BIN" produce "$work/in.tsv" "kafka.bootstrap.servers=127.0.0.1:$ssl_port" \
        "${tls_ok[@]}" >"$work/out" 2>&1 || fail "SSL: $(tail -5 "$work/out")"
[ "$(count)" -eq 10 ] || fail "SSL: $(count) messages on the topic, want 10"

# SSL: a CA that did not sign the broker's certificate: refused at startup, clearly
start=$SECONDS
timeout 120 "$SS_BIN" produce "$work/in.tsv" "kafka.bootstrap.servers=127.0.0.1:$ssl_port" \
        kafka.security.protocol=ssl "kafka.ssl.ca.location=$tls/otherca.pem" >"$work/out" 2>&1
rc=$?
echo "SSL, wrong CA: exit $rc after $((SECONDS - start)) s"
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "SSL wrong CA: exit $rc"
[ $((SECONDS - start)) -le 30 ] || fail "SSL wrong CA: took $((SECONDS - start)) s"
grep -q "TLS handshake failed.*certificate verify failed" "$work/out" ||
        fail "SSL wrong CA: no clear error: $(tail -3 "$work/out")"

# SASL_SSL with PLAIN
sasl_ssl=("kafka.bootstrap.servers=127.0.0.1:$sasl_ssl_port" kafka.security.protocol=SASL_SSL
        "kafka.ssl.ca.location=$tls/ca.pem" kafka.sasl.mechanism=PLAIN kafka.sasl.username=alice
        kafka.sasl.password=alice-secret)
timeout 120 "$SS_BIN" produce "$work/in.tsv" "${sasl_ssl[@]}" >"$work/out" 2>&1 ||
        fail "SASL_SSL: $(tail -5 "$work/out")"
[ "$(count)" -eq 15 ] || fail "SASL_SSL: $(count) messages on the topic, want 15"

# the scorer over SASL_SSL (passthrough: the Kafka path only), read back by tail over SSL
timeout 120 "$SS_BIN" consume "${sasl_ssl[@]}" consumer.mode=passthrough \
        serde.schema_dir="$src/schemas" topics.output=tls-out >"$work/consume.out" 2>&1 &
cpid=$!
n=0
for _ in $(seq 1 150); do
        n=$(kcat -C -b "127.0.0.1:$SS_KAFKA_PORT" -t tls-out -o beginning -e -q -f '%o\n' 2>/dev/null | wc -l)
        [ "$n" -ge 15 ] && break
        kill -0 $cpid 2>/dev/null || break
        sleep 0.4
done
kill -TERM $cpid 2>/dev/null
wait $cpid
rc=$?
[ "$n" -eq 15 ] || fail "consume over SASL_SSL: $n outputs, want 15: $(tail -5 "$work/consume.out")"
[ "$rc" -eq 0 ] || fail "consume over SASL_SSL: exit $rc after SIGTERM"
timeout 120 "$SS_BIN" tail tls-out --max 15 --timeout 60 serde.schema_dir="$src/schemas" \
        "kafka.bootstrap.servers=127.0.0.1:$ssl_port" "${tls_ok[@]}" >"$work/tail.out" 2>"$work/tail.err"
[ "$(grep -c '"tweet_id"' "$work/tail.out")" -eq 15 ] ||
        fail "tail over SSL: $(wc -l <"$work/tail.out") lines: $(tail -3 "$work/tail.err")"

# SCRAM: Kafka's Java client logs in, so the credentials and the listener are right ...
for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
        printf 'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=%s\nsasl.jaas.config=%s required username="alice" password="alice-secret";\n' \
                "$mech" org.apache.kafka.common.security.scram.ScramLoginModule >"$work/scram.properties"
        timeout 120 java -Xmx256m -cp "$src/deploy/local/jars/*" org.apache.kafka.tools.TopicCommand \
                --bootstrap-server "127.0.0.1:$sasl_port" --list --command-config "$work/scram.properties" \
                >"$work/java.out" 2>&1 && grep -qx tweets "$work/java.out" ||
                fail "$mech: Kafka's Java client cannot log in: $(grep -v WARN "$work/java.out" | tail -3)"
done
# ... and librdkafka: refused before 2.6.1, accepted from it on
rdk=$(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9][0-9.]*\).*/\1/p' | head -n 1)
scram_ok=0
[ "$(printf '%s\n2.6.1\n' "$rdk" | sort -V | head -n 1)" = 2.6.1 ] && scram_ok=1
for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
        start=$SECONDS
        timeout 120 "$SS_BIN" produce "$work/in.tsv" "${sasl[@]}" kafka.sasl.mechanism=$mech \
                kafka.sasl.username=alice kafka.sasl.password=alice-secret >"$work/out" 2>&1
        rc=$?
        echo "$mech with librdkafka $rdk: exit $rc after $((SECONDS - start)) s"
        if [ $scram_ok = 1 ]; then
                [ "$rc" -eq 0 ] || fail "$mech: $(tail -5 "$work/out")"
        else
                [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ $((SECONDS - start)) -le 30 ] &&
                        grep -q "authentication failed" "$work/out" ||
                        fail "$mech with librdkafka $rdk: want a clear refusal at startup, got exit $rc: $(tail -3 "$work/out")"
        fi
done

[ "$fails" -eq 0 ] && echo "kafka sasl: ok" || echo "kafka sasl: $fails failures"
exit $((fails > 0))
