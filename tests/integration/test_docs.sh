#!/usr/bin/env bash
# The README agrees with the configuration: for every model kind, the block between
# "<!-- BEGIN config model=KIND -->" and "<!-- END config model=KIND -->" in README.md is
# exactly what `sentistream config doc model=KIND` says the shipped config/ selects for the
# model.*, data.* and train.* keys (value and the file that sets it), and the prose
# description of the LR model names the n-gram ranges that config selects.
# SS_DOCS_WRITE=1 rewrites the blocks instead of checking them (then review the diff).
# Needs SS_BIN and SS_SOURCE_DIR (set by ctest).
set -euo pipefail
: "${SS_BIN:?}" "${SS_SOURCE_DIR:?}"
readme=$SS_SOURCE_DIR/README.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The generated block of one kind: the second table of `config doc` (the selected values),
# model/data/train keys only, origins relative to the source tree and without line numbers.
block() {
  local kind=$1
  echo "| Key | Value | Set by |"
  echo "|-----|-------|--------|"
  "$SS_BIN" config doc --config-dir "$SS_SOURCE_DIR/config" "model=$kind" |
    awk -F' \\| ' '/^\| Key \| Selected value/ { on = 1; next } on && /^\| `(model|data|train)\./' |
    sed -e "s#$SS_SOURCE_DIR/##" -e 's#\(\.yaml\):[0-9]*#\1#'
}

kinds=$(sed -n 's/^<!-- BEGIN config model=\([a-z0-9_]*\) -->$/\1/p' "$readme")
[ -n "$kinds" ] || fail "README.md has no <!-- BEGIN config model=KIND --> block"
for kind in $kinds; do
  block "$kind" > "$tmp/want.$kind"
  [ "$(wc -l < "$tmp/want.$kind")" -gt 3 ] || fail "config doc model=$kind selected nothing"
  awk -v k="$kind" '$0 == "<!-- BEGIN config model=" k " -->" { on = 1; next }
                    $0 == "<!-- END config model=" k " -->" { on = 0 } on' "$readme" \
    > "$tmp/have.$kind"
  if [ "${SS_DOCS_WRITE:-0}" = 1 ]; then
    awk -v k="$kind" -v f="$tmp/want.$kind" '
      $0 == "<!-- BEGIN config model=" k " -->" { print; while ((getline l < f) > 0) print l; skip = 1; next }
      $0 == "<!-- END config model=" k " -->" { skip = 0 }
      !skip' "$readme" > "$tmp/readme" && cat "$tmp/readme" > "$readme"
  elif ! diff -u "$tmp/have.$kind" "$tmp/want.$kind"; then
    fail "README.md's model=$kind block differs from config doc (above; SS_DOCS_WRITE=1 $0 rewrites it)"
  fi
done

# The LR's n-gram ranges in the models table match what config selects.
get() { "$SS_BIN" config show --config-dir "$SS_SOURCE_DIR/config" model=logreg |
          sed -n "s/^$1: \([^ ]*\).*/\1/p"; }
want="word 1-$(get model.logreg.word_ngram_max) + char_wb $(get model.logreg.char_ngram_min)-$(get model.logreg.char_ngram_max)"
grep -q "^| \`logreg\`: hashed $want TF-IDF" "$readme" ||
  fail "README.md's logreg row does not say \"hashed $want TF-IDF\" (what config/ selects)"
echo "ok: README agrees with config doc for:" $kinds
