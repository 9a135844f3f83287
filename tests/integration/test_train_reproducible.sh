#!/usr/bin/env bash
# LR training is deterministic: the same data, configuration and seed give a byte-identical
# model file (the file holds no clock: its version string comes from its content), with one
# training thread or two. A different seed (another tune split) gives another file.
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
: "${SS_BIN:?SS_BIN not set}"
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-repro-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
fail() {
        echo "FAIL: $*"
        exit 1
}
head -n 2000 "$src/data/semeval-train.tsv" >"$work/train.tsv"
head -n 300 "$src/data/semeval-2016test.tsv" >"$work/val.tsv"
train() { # train OUT [overrides...]
        local out=$1
        shift
        "$SS_BIN" train data.train="$work/train.tsv" data.validation="$work/val.tsv" \
                model.logreg.dim_bits=14 model.logreg.max_iter=25 model.out="$out" "$@" \
                >"$out.log" 2>&1 || { cat "$out.log"; fail "train $out"; }
}
train "$work/a.ssm"
sleep 1 # a clock in the file would show now
train "$work/b.ssm"
train "$work/c.ssm" train.threads=1
train "$work/d.ssm" model.seed=2
sha256sum "$work"/*.ssm
cmp "$work/a.ssm" "$work/b.ssm" || fail "two identical trainings wrote different files"
cmp "$work/a.ssm" "$work/c.ssm" || fail "train.threads=1 and 2 wrote different files"
cmp -s "$work/a.ssm" "$work/d.ssm" && fail "model.seed=2 wrote the same file as seed 1"
# the cards differ only in their creation time
diff <(grep -v '"created_at"' "$work/a.card.json" | sed "s#$work/a.ssm#M#") \
        <(grep -v '"created_at"' "$work/b.card.json" | sed "s#$work/b.ssm#M#") ||
        fail "the cards differ beyond created_at"
echo PASS
