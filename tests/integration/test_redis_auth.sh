#!/usr/bin/env bash
# Redis authentication against a real redis-server started here with requirepass and an
# ACL user: `sentistream label` pushes with the right password (from ${env:...}) and as the
# ACL user; without a password, with a wrong one, or as the user with a wrong one it stops
# at once with a clear error that never holds the password, and exits non-zero.
set -uo pipefail
: "${SS_BIN:?SS_BIN must point to the sentistream binary}"
: "${SS_SOURCE_DIR:?SS_SOURCE_DIR must point to the source tree}"
port=$((${SS_TEST_PORT_BASE:-19000} + 381))
tmp=$(mktemp -d)
fails=0
fail() {
        echo "FAIL: $*" >&2
        fails=$((fails + 1))
}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$SS_SOURCE_DIR/tests/lsan.supp:print_suppressions=0}

cat >"$tmp/redis.conf" <<CONF
port $port
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

[ "$fails" -eq 0 ] && echo "redis auth: ok" || echo "redis auth: $fails failures"
exit $((fails > 0))
