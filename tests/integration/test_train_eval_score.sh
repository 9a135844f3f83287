#!/usr/bin/env bash
# train -> eval -> score on a slice of the data (3,000 training and 1,000 validation tweets),
# checking what each command prints: the card, eval's metrics against its own confusion
# matrix, score's JSON lines (one per input line, in order, probabilities summing to 1,
# error records with their line numbers, exit status 3), and the refusal of damaged models.
# Needs SS_BIN and SS_SOURCE_DIR (set by ctest); python3 parses the JSON.
set -euo pipefail
: "${SS_BIN:?}" "${SS_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

head -n 3000 "$SS_SOURCE_DIR/data/semeval-train.tsv" > "$tmp/train.tsv"
head -n 1000 "$SS_SOURCE_DIR/data/semeval-2016test.tsv" > "$tmp/val.tsv"
# shellcheck disable=SC2054 # the commas are part of a value (a list of l2 values)
common=(data.train="$tmp/train.tsv" data.validation="$tmp/val.tsv" model.out="$tmp/m/lr.ssm"
        model.logreg.dim_bits=16 model.logreg.max_iter=30 model.logreg.l2=1e-4,1e-5)

# ---- train ----
"$SS_BIN" train "${common[@]}" > "$tmp/train.out" 2> "$tmp/train.err" ||
  { cat "$tmp/train.err"; fail "train exited $?"; }
grep -q "^validation n=1000 " "$tmp/train.out" || fail "train output: $(cat "$tmp/train.out")"
[ "$(grep -c '^tune ' "$tmp/train.out")" = 2 ] || fail "expected 2 tune lines"
grep -q "<- chosen" "$tmp/train.out" || fail "no chosen l2"
[ -s "$tmp/m/lr.ssm" ] || fail "no model file"
[ -s "$tmp/m/lr.card.json" ] || fail "no card"
[ ! -s "$tmp/train.err" ] || fail "train wrote to stderr (not a terminal): $(cat "$tmp/train.err")"

# ---- eval ----
"$SS_BIN" eval "$tmp/m/lr.ssm" "$tmp/val.tsv" --json > "$tmp/eval.json" || fail "eval --json"
"$SS_BIN" eval "$tmp/m/lr.ssm" "$tmp/val.tsv" > "$tmp/eval.txt" || fail "eval"
for w in AvgRec F1-PN accuracy macro-F1 confusion precision; do
  grep -q "$w" "$tmp/eval.txt" || fail "eval table lacks $w"
done
# a bad line (invalid UTF-8) is reported with file:line and skipped; the rest is evaluated
{ head -n 5 "$tmp/val.tsv"; printf '999\tpositive\tbad \377 byte\n'; sed -n 6,10p "$tmp/val.tsv"; } \
  > "$tmp/val_bad.tsv"
set +e
"$SS_BIN" eval "$tmp/m/lr.ssm" "$tmp/val_bad.tsv" --json > "$tmp/eval_bad.json" 2> "$tmp/eval_bad.err"
rc=$?
set -e
[ "$rc" = 3 ] || fail "eval with a bad line exited $rc, want 3: $(cat "$tmp/eval_bad.err")"
grep -q "val_bad.tsv:6: invalid UTF-8 at byte .*(line skipped)" "$tmp/eval_bad.err" ||
  fail "eval did not name the bad line: $(cat "$tmp/eval_bad.err")"
grep -q '"n":10,"skipped":1' "$tmp/eval_bad.json" || fail "eval_bad: $(cat "$tmp/eval_bad.json")"

# ---- score: the validation slice with bad lines mixed in ----
{
  head -n 10 "$tmp/val.tsv"
  echo "a line without any tab"                                   # 11
  echo '{"id":"j1","text":"I love this :) \ud83d\ude00","lang":"en"}'  # 12
  echo '{"id":"j2","text":"broken \ud800 escape"}'                # 13
  echo '{"id":"j3"}'                                              # 14
  printf '77\tneutral\tbad byte \xff here\n'                      # 15
  echo '{"id":"j4","text": "unterminated'                        # 16
  printf '78\tnot-a-label\tsome text\n'                           # 17
  printf '79\tplain two-field line\n'                             # 18
  tail -n +11 "$tmp/val.tsv"
} > "$tmp/in.txt"
set +e
"$SS_BIN" score "$tmp/m/lr.ssm" --batch 7 < "$tmp/in.txt" > "$tmp/score.out" 2> "$tmp/score.err"
rc=$?
set -e
[ "$rc" = 3 ] || fail "score with bad lines exited $rc, want 3: $(cat "$tmp/score.err")"
cut -f1-3 "$tmp/val.tsv" | "$SS_BIN" score "$tmp/m/lr.ssm" > "$tmp/clean.out" ||
  fail "score of clean input exited $?"
cut -f1-3 "$tmp/val.tsv" | "$SS_BIN" score "$tmp/m/lr.ssm" --raw > "$tmp/raw.out" ||
  fail "score --raw exited $?"

python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
def fail(msg):
    print("FAIL:", msg, file=sys.stderr); sys.exit(1)
card = json.load(open(f"{tmp}/m/lr.card.json"))
ev = json.load(open(f"{tmp}/eval.json"))
labels = ["negative", "neutral", "positive"]

# card
if card["format"] != "sentistream-model-card/1": fail("card format")
if card["labels"] != labels: fail("card labels")
if card["model"]["kind"] != "logreg": fail("card kind")
if card["validation_data"]["n"] != 1000 or card["training_data"]["n"] != 3000: fail("card data n")
if card["reference"]["n"] != 1000: fail("reference n")
names = [d["name"] for d in card["reference"]["distributions"]]
want = ["predicted_class", "prob.negative", "prob.neutral", "prob.positive", "input.n_tokens",
        "input.unk_share", "input.has_url", "input.has_mention", "input.has_emoji"]
if names != want: fail(f"distributions {names}")
for d in card["reference"]["distributions"]:
    if sum(d["counts"]) != 1000: fail(f"{d['name']} counts sum {sum(d['counts'])}")
if card["hyperparameters"]["l2"] not in (1e-4, 1e-5): fail("chosen l2")
if len(card["hyperparameters"]["search"]) != 2: fail("search")
if not card["metrics"]["tune"].get("n"): fail("tune metrics")

# eval: metrics in range and consistent with the confusion matrix
m = ev["metrics"]
conf = m["confusion"]
n = sum(map(sum, conf))
if n != 1000 or m["n"] != 1000: fail(f"eval n {n}")
for k in ("avgrec", "f1_pn", "accuracy", "macro_f1"):
    if not 0 <= m[k] <= 1: fail(f"{k} out of range")
if abs(m["accuracy"] - sum(conf[i][i] for i in range(3)) / n) > 1e-12: fail("accuracy")
rec = [conf[i][i] / sum(conf[i]) for i in range(3)]
if abs(m["avgrec"] - sum(rec) / 3) > 1e-12: fail("avgrec")
def f1(c):
    col = sum(conf[t][c] for t in range(3)); row = sum(conf[c])
    p = conf[c][c] / col if col else 0; r = conf[c][c] / row if row else 0
    return 2 * p * r / (p + r) if p + r else 0
if abs(m["f1_pn"] - (f1(0) + f1(2)) / 2) > 1e-12: fail("f1_pn")
if abs(m["macro_f1"] - sum(f1(c) for c in range(3)) / 3) > 1e-12: fail("macro_f1")
if m["avgrec"] <= 0.40: fail(f"avgrec {m['avgrec']} no better than chance")
# same model, same data: eval agrees with the card
cv = card["metrics"]["validation"]
if cv["confusion"] != conf or abs(cv["avgrec"] - m["avgrec"]) > 1e-12: fail("eval != card")
if ev["model"]["version"] != card["model"]["version"]: fail("version")

# score
inp = open(f"{tmp}/in.txt", "rb").read().split(b"\n")[:-1]
out = open(f"{tmp}/score.out").read().splitlines()
if len(out) != len(inp): fail(f"{len(out)} output lines for {len(inp)} input lines")
errors = {}
version = card["model"]["version"]
for i, (raw, line) in enumerate(zip(inp, out), 1):
    rec = json.loads(line)
    if "error" in rec:
        if rec["line"] != i: fail(f"error record line {rec['line']} at output line {i}")
        if not rec["error"].startswith("SS_ERR_") or not rec["message"]: fail("error record")
        errors[i] = rec["error"]
        continue
    if rec["label"] not in labels: fail(f"label {rec['label']}")
    p = [rec["prob_" + l] for l in labels]
    if abs(sum(p) - 1) > 2e-6 or min(p) < 0: fail(f"probs {p}")
    if labels[p.index(max(p))] != rec["label"]: fail("label is not the argmax")
    if rec["model_version"] != version: fail("model_version")
    want_id = json.loads(raw)["id"] if raw.startswith(b"{") else raw.split(b"\t")[0].decode()
    if rec["id"] != want_id: fail(f"id {rec['id']} != {want_id} at line {i}")
want_err = {11: "SS_ERR_PARSE", 13: "SS_ERR_UTF8", 14: "SS_ERR_EMPTY", 15: "SS_ERR_UTF8",
            16: "SS_ERR_PARSE", 17: "SS_ERR_PARSE"}
if errors != want_err: fail(f"errors {errors}")
clean = [json.loads(l) for l in open(f"{tmp}/clean.out")]
if len(clean) != 1000 or any("error" in r for r in clean): fail("clean scoring")
# scoring agrees with eval: the argmax labels reproduce eval's confusion matrix
truth = [l.split("\t")[1] for l in open(f"{tmp}/val.tsv").read().splitlines()]
cm = [[0] * 3 for _ in range(3)]
for t, r in zip(truth, clean):
    cm[labels.index(t)][labels.index(r["label"])] += 1
if cm != conf: fail(f"score labels {cm} disagree with eval {conf}")
# --raw: the same labels, the probabilities before the temperature and the map, so their
# ECE is eval's ece_before (and the calibrated ones' its ece_after)
raw = [json.loads(l) for l in open(f"{tmp}/raw.out")]
if [r["label"] for r in raw] != [r["label"] for r in clean]: fail("--raw moved a label")
def ece(rows, bins=15):
    acc = [[0, 0.0, 0.0] for _ in range(bins)]
    for t, r in zip(truth, rows):
        p = [r["prob_" + l] for l in labels]
        c = max(p)
        b = min(int(c * bins), bins - 1)
        acc[b][0] += 1; acc[b][1] += c; acc[b][2] += labels[p.index(c)] == t
    return sum(abs(s - h) for _, s, h in acc) / len(rows)
cal = ev["calibration"]
if abs(cal["temperature"] - 1) < 1e-3: fail(f"temperature {cal['temperature']}: --raw untested")
for name, rows, want in (("raw", raw, cal["ece_before"]), ("calibrated", clean, cal["ece_after"])):
    if abs(ece(rows) - want) > 2e-4: fail(f"{name} ECE {ece(rows):.5f}, eval says {want:.5f}")
print("score/eval/card checks ok")
PY

# ---- damaged model files are refused with the file named ----
cp "$tmp/m/lr.ssm" "$tmp/bad.ssm"
size=$(stat -c %s "$tmp/bad.ssm")
printf '\x42' | dd of="$tmp/bad.ssm" bs=1 seek=$((size - 100)) conv=notrunc status=none
set +e
echo $'1\tpositive\tok' | "$SS_BIN" score "$tmp/bad.ssm" > /dev/null 2> "$tmp/bad.err"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "bad.ssm" "$tmp/bad.err" && grep -q "sha256" "$tmp/bad.err" ||
  fail "corrupted model: rc $rc, $(cat "$tmp/bad.err")"
head -c $((size / 2)) "$tmp/m/lr.ssm" > "$tmp/short.ssm"
set +e
"$SS_BIN" eval "$tmp/short.ssm" "$tmp/val.tsv" > /dev/null 2> "$tmp/short.err"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "truncated" "$tmp/short.err" || fail "truncated model: $(cat "$tmp/short.err")"

# ---- usage and config errors exit 2 ----
set +e
"$SS_BIN" score > /dev/null 2>&1; r1=$?
"$SS_BIN" eval "$tmp/m/lr.ssm" > /dev/null 2>&1; r2=$?
"$SS_BIN" train model.logreg.no_such_key=1 > /dev/null 2>&1; r3=$?
"$SS_BIN" train "${common[@]}" model.logreg.l2=abc > /dev/null 2>&1; r4=$?
set -e
[ "$r1$r2$r3$r4" = 2222 ] || fail "usage exits $r1 $r2 $r3 $r4, want 2 2 2 2"
echo "train_eval_score: ok"
