#!/usr/bin/env bash
# Redis authentication and TLS against a real redis-server started here with requirepass,
# an ACL user and a TLS port (certificates made here with openssl): `sentistream label`
# pushes with the right password (from ${env:...}) and as the ACL user; without a password,
# with a wrong one, or as the user with a wrong one it stops at once with a clear error that
# never holds the password, and exits non-zero. Over TLS it pushes when the server's
# certificate verifies (with and without a client certificate) and refuses a server signed
# by another CA or carrying another name.
set -uo pipefail
: "${SS_BIN:?SS_BIN must point to the sentistream binary}"
: "${SS_SOURCE_DIR:?SS_SOURCE_DIR must point to the source tree}"
port=$((${SS_TEST_PORT_BASE:-19000} + 381))
tls_port=$((${SS_TEST_PORT_BASE:-19000} + 382))
tmp=$(mktemp -d)
fails=0
fail() {
        echo "FAIL: $*" >&2
        fails=$((fails + 1))
}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$SS_SOURCE_DIR/tests/lsan.supp:print_suppressions=0}

# a CA, a server certificate for 127.0.0.1, a client certificate, and an unrelated CA
mkcert() { # NAME SUBJECT SAN [CA]
        openssl req -newkey rsa:2048 -nodes -keyout "$tmp/$1.key" -subj "$2" -out "$tmp/$1.csr" 2>/dev/null
        printf 'subjectAltName=%s\n' "$3" >"$tmp/$1.ext"
        openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/${4:-ca}.pem" -CAkey "$tmp/${4:-ca}.key" \
                -CAcreateserial -days 2 -extfile "$tmp/$1.ext" -out "$tmp/$1.pem" 2>/dev/null
}
for ca in ca otherca; do
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/$ca.key" -subj "/CN=test $ca" \
                -days 2 -out "$tmp/$ca.pem" 2>/dev/null
done
mkcert server /CN=redis IP:127.0.0.1,DNS:redis.test
mkcert client /CN=monitor DNS:monitor.test
mkcert stranger /CN=redis IP:127.0.0.1 otherca

cat >"$tmp/redis.conf" <<CONF
port $port
tls-port $tls_port
tls-cert-file $tmp/server.pem
tls-key-file $tmp/server.key
tls-ca-cert-file $tmp/ca.pem
tls-auth-clients optional
bind 127.0.0.1
dir $tmp
save ""
appendonly no
requirepass good-default-pw
user labeller on >labeller-pw ~sentistream:* +@all
CONF
redis-server "$tmp/redis.conf" >"$tmp/redis.log" 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do
        redis-cli -p "$port" -a good-default-pw --no-auth-warning PING 2>/dev/null | grep -q PONG && break
        sleep 0.1
done
rcli() { redis-cli -p "$port" -a good-default-pw --no-auth-warning "$@"; }

printf '1\tpositive\tgood\n2\tnegative\tbad\n3\tneutral\tmeh\n' >"$tmp/labels.tsv"
label() { timeout 60 "$SS_BIN" label "$tmp/labels.tsv" redis.port="$port" redis.timeout.ms=500 "$@"; }

# no password: refused at once, clear error
start=$(date +%s)
label >"$tmp/out" 2>&1
rc=$?
took=$(($(date +%s) - start))
[ "$rc" -ne 0 ] || fail "no password: exit 0"
grep -q "requires authentication: set redis.password" "$tmp/out" || fail "no password: $(cat "$tmp/out")"
[ "$took" -le 5 ] || fail "no password: took $took s"

# wrong password: clear error, no password echoed
label redis.password=not-the-pw >"$tmp/out" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "wrong password: exit 0"
grep -q "authentication as the default user failed: WRONGPASS" "$tmp/out" || fail "wrong password: $(cat "$tmp/out")"
grep -q "not-the-pw" "$tmp/out" && fail "wrong password printed: $(cat "$tmp/out")"

# right password from the environment
SS_TEST_REDIS_PW=good-default-pw label 'redis.password=${env:SS_TEST_REDIS_PW}' >"$tmp/out" 2>&1 ||
        fail "right password: $(cat "$tmp/out")"
[ "$(rcli XLEN sentistream:labels)" = 3 ] || fail "right password: stream holds $(rcli XLEN sentistream:labels)"

# the ACL user, right and wrong password
printf 'labeller-pw\n' >"$tmp/pw"
label redis.user=labeller "redis.password=\${file:$tmp/pw}" >"$tmp/out" 2>&1 || fail "ACL user: $(cat "$tmp/out")"
[ "$(rcli XLEN sentistream:labels)" = 6 ] || fail "ACL user: stream holds $(rcli XLEN sentistream:labels)"
label redis.user=labeller redis.password=wrong >"$tmp/out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "authentication as user 'labeller' failed" "$tmp/out" ||
        fail "ACL user, wrong password: exit $rc: $(cat "$tmp/out")"
# the ACL user may only touch sentistream:* keys
label redis.user=labeller redis.password=labeller-pw redis.prefix=other: >"$tmp/out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q "NOPERM" "$tmp/out" || fail "ACL key pattern: exit $rc: $(cat "$tmp/out")"

# TLS: the server verifies against the CA, by IP and by name; a client certificate is
# accepted; the password goes inside the TLS session
tls=(redis.port="$tls_port" redis.tls.enable=true redis.tls.ca="$tmp/ca.pem" redis.password=good-default-pw)
label "${tls[@]}" >"$tmp/out" 2>&1 || fail "TLS: $(cat "$tmp/out")"
[ "$(rcli XLEN sentistream:labels)" = 9 ] || fail "TLS: stream holds $(rcli XLEN sentistream:labels)"
label "${tls[@]}" redis.tls.cert="$tmp/client.pem" redis.tls.key="$tmp/client.key" \
        redis.tls.server_name=redis.test >"$tmp/out" 2>&1 || fail "TLS, client cert + name: $(cat "$tmp/out")"
[ "$(rcli XLEN sentistream:labels)" = 12 ] || fail "TLS client cert: stream holds $(rcli XLEN sentistream:labels)"
# another CA, another name, plaintext against the TLS port: refused, nothing written
label "${tls[@]}" redis.tls.ca="$tmp/otherca.pem" >"$tmp/out" 2>&1
grep -q "TLS handshake failed: .*certificate verify failed" "$tmp/out" || fail "other CA: $(tail -3 "$tmp/out")"
label "${tls[@]}" redis.tls.server_name=other.test >"$tmp/out" 2>&1
grep -q "TLS handshake failed: .*certificate: hostname mismatch" "$tmp/out" || fail "other name: $(tail -3 "$tmp/out")"
[ "$(rcli XLEN sentistream:labels)" = 12 ] || fail "refused TLS wrote: $(rcli XLEN sentistream:labels)"

[ "$fails" -eq 0 ] && echo "redis auth: ok" || echo "redis auth: $fails failures"
exit $((fails > 0))
