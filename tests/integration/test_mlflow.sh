#!/usr/bin/env bash
# Experiment tracking and the model registry on a real MLflow server (deploy/local/mlflow.sh on
# 127.0.0.1:BASE+500, BASE = SS_TEST_PORT_BASE, default 19000), one server for every step:
#   - the C client against it: unit.mlflow's live checks (every call once, the server's quirks);
#   - `sentistream train tracking.uri=...`: every resolved key a param, the L-BFGS loss curve
#     with steps, final metrics equal to the card's, provenance tags (git commit, data sha256
#     equal to sha256sum's), artifacts (the model's bytes after a download, card, eval JSON,
#     confusion matrix, resolved config);
#   - the server down: the training finishes and warns loudly; tracking.required=true fails;
#   - models register / list / show / promote / pull; pull refuses a tampered artifact;
#   - lineage --reproduce --run rebuilds the LR model byte for byte; also one trained on two
#     files, one of them kept only as the run's data/ artifact (as the retrain worker keeps its
#     training set), and refuses to rebuild when that copy changed;
#   - the MLflow UI's run page, rendered by headless Chromium, shows the AvgRec figure.
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
bin=${SS_BINARY_DIR:?SS_BINARY_DIR not set}
: "${SS_BIN:?SS_BIN not set}"
base=${SS_TEST_PORT_BASE:-19000}
port=$((base + 500))
down=$((base + 501)) # nothing listens there
uri=http://127.0.0.1:$port
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-mlflow-test.XXXXXX")
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
mlflow() { "$src/deploy/local/mlflow.sh" "$@" --port "$port"; }

cleanup() {
        mlflow stop >/dev/null 2>&1 || true
        if [ -n "${SS_TEST_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

fail() {
        echo "FAIL: $*"
        exit 1
}

step() {
        echo "== $*"
}

# jq-like: json FILE EXPR evaluates a Python expression over the parsed file as d.
json() {
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

api() { # api PATH?QUERY OUT: GET from the server into OUT
        curl -sf "$uri/api/2.0/mlflow/$1" -o "$2" || fail "GET $1"
}

step "mlflow server"
mlflow stop >/dev/null 2>&1 || true
mlflow start
mlflow status

step "the C client against the server"
SS_TEST_MLFLOW_URI=$uri "$bin/tests/test_mlflow" || fail "unit.mlflow live checks"

# A small LR model: 2,000 training tweets, 2^14 features, one l2 (a few seconds under ASan).
head -n 2000 "$src/data/semeval-train.tsv" >"$work/train.tsv"
head -n 500 "$src/data/semeval-2016test.tsv" >"$work/val.tsv"
small=(data.train="$work/train.tsv" data.validation="$work/val.tsv" model.logreg.dim_bits=14
        model.logreg.max_iter=25 model.logreg.l2=1e-4)

step "train with tracking"
"$SS_BIN" train "${small[@]}" model.out="$work/lr.ssm" tracking.uri="$uri" \
        tracking.experiment=it-train >"$work/train.out" 2>&1 || { cat "$work/train.out"; fail "train"; }
cat "$work/train.out"
run=$(sed -n 's/^tracking   run \([0-9a-f]*\) finished.*/\1/p' "$work/train.out")
[ -n "$run" ] || fail "no finished run reported"
api "runs/get?run_id=$run" "$work/run.json"
[ "$(json "$work/run.json" "d['run']['info']['status']")" = FINISHED ] || fail "run not FINISHED"
# the key table is the first table of `config doc` (a second one lists the values config/ sets)
nkeys=$("$SS_BIN" config doc | sed '/^$/q' | grep -c '^| `[a-z]' || true)
nparams=$(json "$work/run.json" "len(d['run']['data']['params'])")
# every table key is a param (the doc table has one more row, `kafka.*`; pass-through keys add)
[ "$nparams" -ge $((nkeys - 1)) ] || fail "$nparams params for $((nkeys - 1)) table keys"
[ "$(json "$work/run.json" "{p['key']: p['value'] for p in d['run']['data']['params']}['model.logreg.dim_bits']")" = 14 ] ||
        fail "param model.logreg.dim_bits"
tag() { json "$work/run.json" "{t['key']: t['value'] for t in d['run']['data']['tags']}.get('$1', 'MISSING')"; }
[ "$(tag sentistream.data.train.sha256)" = "$(sha256sum <"$work/train.tsv" | cut -d' ' -f1)" ] ||
        fail "train data sha256 tag $(tag sentistream.data.train.sha256)"
[ "$(tag sentistream.data.validation.sha256)" = "$(sha256sum <"$work/val.tsv" | cut -d' ' -f1)" ] ||
        fail "validation data sha256 tag"
[ "$(tag sentistream.git_commit)" = "$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)" ] ||
        fail "git commit tag $(tag sentistream.git_commit)"
case $(tag sentistream.git_dirty) in true | false | unknown) ;; *) fail "git_dirty tag" ;; esac
[ "$(tag sentistream.model_sha256)" = "$(sha256sum <"$work/lr.ssm" | cut -d' ' -f1)" ] || fail "model sha256 tag"
[ "$(tag sentistream.version)" != MISSING ] && [ "$(tag sentistream.host)" != MISSING ] &&
        [ "$(tag sentistream.config_sha256)" != MISSING ] || fail "provenance tags"
card_avgrec=$(json "$work/lr.card.json" "d['metrics']['validation']['avgrec']")
run_avgrec=$(json "$work/run.json" "{m['key']: m['value'] for m in d['run']['data']['metrics']}['validation_avgrec']")
python3 -c "import sys; sys.exit(abs($card_avgrec - $run_avgrec) > 1e-12)" ||
        fail "validation_avgrec $run_avgrec, card $card_avgrec"
card_ece=$(json "$work/lr.card.json" "d['calibration']['ece_after']")
run_ece=$(json "$work/run.json" "{m['key']: m['value'] for m in d['run']['data']['metrics']}.get('tune_ece_after', -1)")
python3 -c "import sys; sys.exit(abs($card_ece - $run_ece) > 1e-12)" ||
        fail "tune_ece_after $run_ece, card's calibration.ece_after $card_ece"
api "metrics/get-history?run_id=$run&metric_key=lbfgs_loss" "$work/loss.json"
nsteps=$(json "$work/loss.json" "len(set(m['step'] for m in d['metrics']))")
[ "$nsteps" -ge 10 ] || fail "lbfgs_loss curve has $nsteps steps"
api "artifacts/list?run_id=$run&path=model" "$work/art-model.json"
api "artifacts/list?run_id=$run&path=eval" "$work/art-eval.json"
api "artifacts/list?run_id=$run&path=config" "$work/art-config.json"
arts=$(cat "$work"/art-*.json)
for a in model/lr.ssm model/lr.card.json eval/validation.json eval/confusion_matrix.txt config/resolved.yaml; do
        grep -q "\"$a\"" <<<"$arts" || fail "artifact $a missing: $arts"
done
exp=$(json "$work/run.json" "d['run']['info']['experiment_id']")
curl -sf "$uri/api/2.0/mlflow-artifacts/artifacts/$exp/$run/artifacts/model/lr.ssm" -o "$work/dl.ssm"
cmp "$work/dl.ssm" "$work/lr.ssm" || fail "the model artifact differs from the local file"

step "tracking server down"
"$SS_BIN" train "${small[@]}" model.out="$work/down.ssm" tracking.uri=http://127.0.0.1:$down \
        >"$work/down.out" 2>&1 || { cat "$work/down.out"; fail "train with the server down exited non-zero"; }
grep -q "WARNING: experiment tracking on http://127.0.0.1:$down FAILED" "$work/down.out" ||
        { cat "$work/down.out"; fail "no loud warning"; }
[ -f "$work/down.ssm" ] && [ -f "$work/down.card.json" ] || fail "model files not written with the server down"
cmp "$work/down.ssm" "$work/lr.ssm" || fail "same data, config and seed gave different bytes"
rc=0
"$SS_BIN" train "${small[@]}" model.out="$work/req.ssm" tracking.uri=http://127.0.0.1:$down \
        tracking.required=true >"$work/req.out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$work/req.out"; fail "tracking.required=true with the server down exited $rc"; }
grep -q "tracking.required=true" "$work/req.out" || fail "no error naming tracking.required"
[ ! -f "$work/req.ssm" ] || fail "tracking.required=true: the training ran anyway"

step "models register / list / show / promote / pull"
M=(tracking.uri="$uri" tracking.experiment=it-train)
"$SS_BIN" models register "$work/lr.ssm" --name it-sentiment --alias champion "${M[@]}" | tee "$work/reg1.out"
grep -q "run        $run logged this file" "$work/reg1.out" || fail "register did not find the training run"
grep -q "registered it-sentiment version 1" "$work/reg1.out" || fail "version 1"
"$SS_BIN" train "${small[@]}" model.logreg.l2=1e-5 model.out="$work/lr2.ssm" >/dev/null 2>&1 || fail "train 2"
"$SS_BIN" models register "$work/lr2.ssm" --name it-sentiment "${M[@]}" | tee "$work/reg2.out"
grep -q "logged     $work/lr2.ssm in new run" "$work/reg2.out" || fail "an untracked file gets its own run"
grep -q "registered it-sentiment version 2" "$work/reg2.out" || fail "version 2"
"$SS_BIN" models list it-sentiment "${M[@]}" | tee "$work/list.out"
grep -Eq '^1 +champion +READY' "$work/list.out" || fail "list: version 1 champion"
grep -Eq '^2 +- +READY' "$work/list.out" || fail "list: version 2"
"$SS_BIN" models show it-sentiment@champion "${M[@]}" >"$work/show.out"
grep -q "^version    1$" "$work/show.out" && grep -q "^run        $run$" "$work/show.out" || fail "show"
"$SS_BIN" models promote it-sentiment 2 --alias champion --no-publish "${M[@]}" | tee "$work/promote.out"
grep -q "it-sentiment@champion -> version 2 (was 1)" "$work/promote.out" || fail "promote"
"$SS_BIN" models pull models:/it-sentiment@champion "$work/pulled.ssm" "${M[@]}" || fail "pull"
cmp "$work/pulled.ssm" "$work/lr2.ssm" || fail "pulled file differs from version 2's"
[ -f "$work/pulled.card.json" ] || fail "pull brought no card"
# tamper with version 1's file on the server: pull must refuse it and write nothing
src1=$(curl -sf "$uri/api/2.0/mlflow/model-versions/get?name=it-sentiment&version=1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["model_version"]["source"])')
curl -sf -X PUT --data-binary @"$work/lr2.ssm" \
        "$uri/api/2.0/mlflow-artifacts/artifacts/${src1#mlflow-artifacts:/}/lr.ssm" || fail "PUT tampered"
rc=0
"$SS_BIN" models pull models:/it-sentiment/1 "$work/tampered.ssm" "${M[@]}" 2>"$work/tamper.err" || rc=$?
[ "$rc" = 1 ] || fail "pull of a tampered file exited $rc"
grep -q "refused" "$work/tamper.err" || { cat "$work/tamper.err"; fail "no refusal message"; }
[ ! -e "$work/tampered.ssm" ] || fail "a tampered file was written"
curl -sf -X PUT --data-binary @"$work/lr.ssm" \
        "$uri/api/2.0/mlflow-artifacts/artifacts/${src1#mlflow-artifacts:/}/lr.ssm" || fail "PUT restore"

step "lineage and a rebuild"
"$SS_BIN" lineage models:/it-sentiment/1 --reproduce --run "$work/rebuild" "${M[@]}" | tee "$work/lineage.out" ||
        fail "lineage --reproduce --run"
grep -q "^run        $run " "$work/lineage.out" || fail "lineage: run"
grep -q "^git        $(tag sentistream.git_commit)" "$work/lineage.out" || fail "lineage: commit"
grep -q "^data       train      $work/train.tsv sha256 $(tag sentistream.data.train.sha256) (the local file matches)" \
        "$work/lineage.out" || fail "lineage: data"
grep -q "^  model.logreg.dim_bits = 14$" "$work/lineage.out" || fail "lineage: config"
grep -q "IDENTICAL to the registered file" "$work/lineage.out" || fail "lineage: rebuild"
cmp "$work/rebuild/model.ssm" "$work/lr.ssm" || fail "the rebuilt model differs"
# from a prediction's model_version (<file version>@NAME/VERSION) as the scorer writes it
fv=$(sed -n 's/^tag        sentistream.model_version = //p' "$work/show.out")
"$SS_BIN" lineage "$fv@it-sentiment/1" "${M[@]}" >"$work/lineage2.out" || fail "lineage $fv@it-sentiment/1"
grep -q "^version    it-sentiment/1 (file $fv," "$work/lineage2.out" || fail "lineage from a prediction's version"

step "lineage of a training on two files, one of them kept only in the run (data/)"
# what a retrained model looks like: base file + a set of fresh labels made for the run
mkdir -p "$work/fresh"
sed -n '2001,2600p' "$src/data/semeval-train.tsv" >"$work/fresh/fresh.tsv"
"$SS_BIN" train "${small[@]}" data.train="$work/train.tsv,$work/fresh/fresh.tsv" model.out="$work/two.ssm" \
        "${M[@]}" >"$work/two.out" 2>&1 || { cat "$work/two.out"; fail "train on two files"; }
run2=$(sed -n 's/^tracking   run \([0-9a-f]*\) finished.*/\1/p' "$work/two.out")
api "runs/get?run_id=$run2" "$work/run2.json"
art2=$(json "$work/run2.json" "d['run']['info']['artifact_uri']")
curl -sf -X PUT --data-binary @"$work/fresh/fresh.tsv" \
        "$uri/api/2.0/mlflow-artifacts/artifacts/${art2#mlflow-artifacts:/}/data/fresh.tsv" || fail "PUT data/fresh.tsv"
"$SS_BIN" models register "$work/two.ssm" --name it-sentiment "${M[@]}" >"$work/reg3.out" || fail "register 3"
grep -q "registered it-sentiment version 3" "$work/reg3.out" || fail "version 3"
rm -rf "$work/fresh"
"$SS_BIN" lineage models:/it-sentiment/3 --reproduce --run "$work/rebuild3" "${M[@]}" >"$work/lineage3.out" ||
        { cat "$work/lineage3.out"; fail "lineage --run of a two-file training"; }
grep -v '^  [a-z]' "$work/lineage3.out"
grep -q "^data       train      2 files, sha256 of their listing .* (the files found match)" "$work/lineage3.out" ||
        fail "lineage: two training files"
grep -q "$work/fresh/fresh.tsv sha256 [0-9a-f]* (run artifact: $work/rebuild3/data/fresh.tsv)" "$work/lineage3.out" ||
        fail "lineage: the file kept in the run"
grep -q "IDENTICAL to the registered file" "$work/lineage3.out" || fail "lineage: rebuild from two files"
cmp "$work/rebuild3/model.ssm" "$work/two.ssm" || fail "the model rebuilt from two files differs"
# the run's copy changed: the listing no longer matches, nothing is rebuilt
sed -n '2001,2599p' "$src/data/semeval-train.tsv" >"$work/short.tsv"
curl -sf -X PUT --data-binary @"$work/short.tsv" \
        "$uri/api/2.0/mlflow-artifacts/artifacts/${art2#mlflow-artifacts:/}/data/fresh.tsv" || fail "PUT tampered"
rc=0
"$SS_BIN" lineage models:/it-sentiment/3 --reproduce --run "$work/rebuild4" "${M[@]}" >"$work/lineage4.out" \
        2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$work/lineage4.out"; fail "lineage --run with a changed training file exited $rc"; }
grep -q "NOT reproducible from the files found" "$work/lineage4.out" || fail "no NOT reproducible verdict"
[ ! -e "$work/rebuild4/model.ssm" ] || fail "a model was rebuilt from a changed file"

step "MLflow UI: the run page in headless Chromium"
command -v chromium >/dev/null || fail "chromium not installed (deploy/install-deps.sh installs it)"
timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$work/chromium" --virtual-time-budget=30000 --window-size=1400,1000 \
        --dump-dom "$uri/#/experiments/$exp/runs/$run" >"$work/run-page.html" 2>"$work/chromium.err" ||
        { tail -5 "$work/chromium.err"; fail "chromium"; }
# The SPA renders the metrics table: "validation_avgrec" then its value in a cell.
shown=$(sed -e 's/<[^>]*>/ /g' "$work/run-page.html" | tr -s ' \n' ' ' |
        grep -o 'validation_avgrec [0-9.]*' | head -n 1 | cut -d' ' -f2)
[ -n "$shown" ] || fail "the run page shows no validation_avgrec (see $work/run-page.html)"
python3 -c "import sys; sys.exit(abs($shown - $card_avgrec) > 1e-9)" || fail "the page shows AvgRec $shown, the card $card_avgrec"
echo "the run page shows validation_avgrec $shown (card: $card_avgrec)"
timeout 120 chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$work/chromium" --virtual-time-budget=30000 --window-size=1400,1000 \
        --dump-dom "$uri/#/models/it-sentiment" >"$work/model-page.html" 2>>"$work/chromium.err" ||
        fail "chromium (model page)"
sed -e 's/<[^>]*>/ /g' "$work/model-page.html" | tr -s ' \n' ' ' >"$work/model-page.txt"
grep -q "Version 2" "$work/model-page.txt" && grep -q "Version 1" "$work/model-page.txt" ||
        fail "the model page does not list versions 1 and 2 (see $work/model-page.html)"
grep -q "champion" "$work/model-page.txt" || fail "the model page shows no alias champion"

mlflow stop
echo "PASS"
