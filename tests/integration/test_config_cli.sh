#!/usr/bin/env bash
# `sentistream config show|doc` end to end: the real config/ tree, a fixture
# tree with groups, good and bad overrides, and the exit codes (0 ok, 2 config).
set -uo pipefail
: "${SS_BIN:?SS_BIN must point to the sentistream binary}"
: "${SS_SOURCE_DIR:?SS_SOURCE_DIR must point to the source tree}"
fx="$SS_SOURCE_DIR/tests/fixtures/config"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
        echo "FAIL: $*" >&2
        fails=$((fails + 1))
}

# expect RC PATTERN ARGS...: runs `config ARGS`, checks the exit code and that
# stdout+stderr match the extended regex PATTERN.
expect() {
        local want_rc=$1 pattern=$2
        shift 2
        "$SS_BIN" config "$@" >"$tmp/out" 2>&1
        local rc=$?
        [ "$rc" -eq "$want_rc" ] || fail "config $*: exit $rc, want $want_rc: $(cat "$tmp/out")"
        grep -Eq -- "$pattern" "$tmp/out" || fail "config $*: output lacks /$pattern/: $(cat "$tmp/out")"
}

# the real tree, selected explicitly and through $SS_CONFIG_DIR
expect 0 '^log\.level: [a-z]+  # ' show --config-dir "$SS_SOURCE_DIR/config"
SS_CONFIG_DIR="$SS_SOURCE_DIR/config" expect 0 '^log\.level: debug  # command line$' show log.level=debug

# composition and origins in a fixture tree
expect 0 '^log\.level: error  # .*compose/model/a\.yaml:2$' show --config-dir "$fx/compose"
expect 0 '^runtime\.blas\.threads: 5  # .*compose/model/b\.yaml:4$' show --config-dir "$fx/compose" model=b
expect 0 '^kafka\.acks: all  # command line$' show --config-dir="$fx/compose" kafka.acks=all

# output is sorted by key
"$SS_BIN" config show --config-dir "$fx/compose" kafka.acks=all >"$tmp/sorted" 2>&1
cut -d: -f1 "$tmp/sorted" | LC_ALL=C sort -c || fail "config show output is not sorted"

# bad configs: exit 2 and the reason names the key and where
expect 2 'log\.levle: unknown key \(command line\); did you mean .log\.level.' \
        show --config-dir "$fx/compose" log.levle=debug
expect 2 'runtime\.blas\.threads: 999 is out of range \[0, 256\] \(command line\)' \
        show --config-dir "$fx/compose" runtime.blas.threads=999
expect 2 "log\.level: 'loud' is not one of debug\|info\|warn\|error" \
        show --config-dir "$fx/compose" log.level=loud
expect 2 "model: unknown option 'zzz'.*model/zzz\.yaml" show --config-dir "$fx/compose" model=zzz
expect 2 "without '='" show --config-dir "$fx/compose" log.level
expect 2 'runtime\.blas\.threads: expected an integer.*err_type/base\.yaml:4' \
        show --config-dir "$fx/err_type"
expect 2 'err_yaml/base\.yaml:4: malformed YAML' show --config-dir "$fx/err_yaml"
expect 2 'unknown option' show --bogus
expect 2 'unknown action' frobnicate

# doc: a Markdown table with every key of the table
expect 0 '^\| `log\.level` \| enum \| `info` \|' doc
expect 0 '^\| Key \| Type \| Default \|' doc

if [ "$fails" -ne 0 ]; then
        echo "$fails check(s) failed" >&2
        exit 1
fi
echo "config cli: all checks passed"
