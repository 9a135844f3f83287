#!/usr/bin/env bash
# `sentistream config show|doc` end to end: the real config/ tree, a fixture
# tree with groups, good and bad overrides, and the exit codes (0 ok, 2 config).
# Then the numeric flags of the other subcommands: a bad value is refused (exit 2)
# with the flag, the range and the value named, before anything starts.
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

# numeric flags: the whole value must be a number in range; nothing runs on a bad one
flag() { # flag PATTERN SUBCOMMAND ARGS...: exit 2 and stderr matching PATTERN
        local pattern=$1
        shift
        "$SS_BIN" "$@" </dev/null >"$tmp/out" 2>&1
        local rc=$?
        [ "$rc" -eq 2 ] || fail "$*: exit $rc, want 2: $(cat "$tmp/out")"
        grep -Eq -- "$pattern" "$tmp/out" || fail "$*: output lacks /$pattern/: $(cat "$tmp/out")"
}
flag "produce: --rate wants a number in 0\.\.1e\+09, got '10x'" produce x.tsv --rate 10x
flag "produce: --limit wants a whole number in 0\.\..*, got '-3'" produce x.tsv --limit -3
flag "produce: --rate wants a number .*got '\(nothing\)'" produce x.tsv --rate
flag "label: --delay wants a number in 0\.\.3600, got '99999'" label x.tsv --delay 99999
flag "label: --rate wants a number .*got 'fast'" label x.tsv --rate fast
flag "score: --batch wants a whole number in 1\.\.1048576, got '0'" score m.ssm --batch 0
flag "eval: --batch wants a whole number in 1\.\.1048576, got '2.5'" eval m.ssm d.tsv --batch 2.5
flag "tail: --max wants a whole number in 0\.\..*, got '-1'" tail tweets --max -1
flag "tail: --timeout wants a number in 0\.001\.\..*, got '0'" tail tweets --timeout 0
flag "monitor: --timeout wants a number .*got 'abc'" monitor events --timeout abc
flag "unexpected argument '--bogus'" train --bogus

if [ "$fails" -ne 0 ]; then
        echo "$fails check(s) failed" >&2
        exit 1
fi
echo "config cli: all checks passed"
