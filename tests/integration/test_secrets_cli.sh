#!/usr/bin/env bash
# Secrets never reach stdout or stderr in clear: `sentistream config show` prints every
# secret key (password/secret/token in its name) as *** with its origin, for values set in
# YAML, on the command line, through ${env:NAME} and through ${file:PATH}; a missing
# variable or file is an error naming the key. Then a real command that fails on a Kafka
# property (the scorer at startup) must not echo a secret either.
set -uo pipefail
: "${SS_BIN:?SS_BIN must point to the sentistream binary}"
: "${SS_SOURCE_DIR:?SS_SOURCE_DIR must point to the source tree}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
        echo "FAIL: $*" >&2
        fails=$((fails + 1))
}

printf 'file-secret-4\n' >"$tmp/keypass"
chmod 600 "$tmp/keypass"
mkdir -p "$tmp/conf"
cat >"$tmp/conf/base.yaml" <<YAML
kafka:
  sasl.password: yaml-secret-1
  ssl.key.password: "\${file:$tmp/keypass}"
  sasl.username: alice
redis:
  password: "\${env:SS_TEST_REDIS_PW}"
  user: monitor
YAML

SS_TEST_REDIS_PW=env-secret-2 "$SS_BIN" config show --config-dir "$tmp/conf" \
        kafka.sasl.oauthbearer.client.secret=cli-secret-3 >"$tmp/out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "config show: exit $rc: $(cat "$tmp/out")"
for s in yaml-secret-1 env-secret-2 cli-secret-3 file-secret-4; do
        grep -q "$s" "$tmp/out" && fail "secret $s printed in clear: $(grep "$s" "$tmp/out")"
done
grep -Eq '^kafka\.sasl\.password: "\*\*\*"  # .*base\.yaml:2$' "$tmp/out" || fail "yaml secret: $(cat "$tmp/out")"
grep -Eq '^redis\.password: "\*\*\*"  # env:SS_TEST_REDIS_PW \(.*base\.yaml:6\)$' "$tmp/out" || fail "env secret origin: $(grep redis.password "$tmp/out")"
grep -Eq '^kafka\.ssl\.key\.password: "\*\*\*"  # file:.*keypass \(.*base\.yaml:3\)$' "$tmp/out" || fail "file secret origin: $(grep ssl.key "$tmp/out")"
grep -Eq '^kafka\.sasl\.oauthbearer\.client\.secret: "\*\*\*"  # command line$' "$tmp/out" || fail "cli secret"
grep -Eq '^kafka\.sasl\.username: alice  # ' "$tmp/out" || fail "a user name is not a secret"
grep -Eq '^redis\.user: monitor  # ' "$tmp/out" || fail "redis.user is not a secret"

# a missing variable / file: an error naming the key, exit 2
env -u SS_TEST_REDIS_PW "$SS_BIN" config show --config-dir "$tmp/conf" >"$tmp/out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -q 'redis.password: environment variable SS_TEST_REDIS_PW is not set' "$tmp/out" ||
        fail "missing env: exit $rc: $(cat "$tmp/out")"
SS_TEST_REDIS_PW=x "$SS_BIN" config show --config-dir "$tmp/conf" 'kafka.sasl.password=${file:/nonexistent/pw}' >"$tmp/out" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -q 'kafka.sasl.password: cannot open /nonexistent/pw' "$tmp/out" ||
        fail "missing file: exit $rc: $(cat "$tmp/out")"

# a startup error on a Kafka property does not echo the secret it carries
SS_TEST_REDIS_PW=env-secret-2 timeout 60 "$SS_BIN" consume --config-dir "$tmp/conf" \
        consumer.mode=passthrough serde.schema_dir="$SS_SOURCE_DIR/schemas" \
        kafka.bootstrap.servers=127.0.0.1:1 kafka.bogus.secret=cli-secret-9 >"$tmp/out" 2>&1
rc=$?
[ "$rc" -ne 0 ] || fail "the scorer started with an unknown Kafka property"
grep -q 'kafka.bogus.secret=\*\*\* (command line): No such configuration property' "$tmp/out" ||
        fail "no redacted startup error: $(cat "$tmp/out")"
for s in yaml-secret-1 env-secret-2 file-secret-4 cli-secret-9; do
        grep -q "$s" "$tmp/out" && fail "secret $s in the scorer's output: $(grep "$s" "$tmp/out")"
done

[ "$fails" -eq 0 ] && echo "secrets: ok" || echo "secrets: $fails failures"
exit $((fails > 0))
