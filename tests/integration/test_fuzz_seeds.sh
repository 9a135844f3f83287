#!/usr/bin/env bash
# The committed fuzz seeds stay valid inputs, so that a fuzzer mutates from a file that passes
# every check instead of one refused at its first byte: the model seed
# (tests/fuzz/corpus/model/logreg.ssm, a format-2 logistic regression) loads and scores, and
# `sentistream eval` accepts it. A change of the model format that forgets the seed fails here.
# Needs SS_BIN and SS_SOURCE_DIR (set by ctest).
set -euo pipefail
: "${SS_BIN:?}" "${SS_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

seed=$SS_SOURCE_DIR/tests/fuzz/corpus/model/logreg.ssm
head -n 200 "$SS_SOURCE_DIR/data/semeval-2016test.tsv" >"$tmp/in.tsv"
"$SS_BIN" score "$seed" <"$tmp/in.tsv" >"$tmp/out.jsonl" 2>"$tmp/err" ||
        fail "the model seed does not score: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/out.jsonl")" = 200 ] || fail "$(wc -l <"$tmp/out.jsonl") predictions of 200"
[ "$(grep -c '"label"' "$tmp/out.jsonl")" = 200 ] || fail "a line without a label: $(head -n 2 "$tmp/out.jsonl")"
"$SS_BIN" eval "$seed" "$tmp/in.tsv" >"$tmp/eval.out" 2>&1 || fail "eval: $(cat "$tmp/eval.out")"
grep -q "AvgRec" "$tmp/eval.out" || fail "eval printed no AvgRec: $(cat "$tmp/eval.out")"
echo "PASS the model fuzz seed loads, scores 200 tweets and evaluates"
