#!/usr/bin/env bash
# Offline checks of the Prometheus and Grafana files (no server, a few seconds):
#   - deploy/prometheus/rules.yml passes `promtool check rules`, and its unit tests
#     (rules_test.yml: every alert firing and not firing) pass `promtool test rules`;
#   - every sentistream_* metric the rules name is one the code exports;
#   - the Grafana dashboard passes dashboard_check.py (structure, exported metric names,
#     every panel query parsed by promtool as a recording rule);
#   - the broken fixtures fail: a dashboard with a PromQL error, a misspelt metric,
#     overlapping panels, a duplicate id, an unknown panel type; and rules whose DLQ
#     threshold was changed fail their unit tests.
set -euo pipefail
src=${SS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
here=$src/tests/integration
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-obs.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() {
        echo "FAIL: $*" >&2
        exit 1
}
prom=$src/deploy/prometheus

promtool check rules "$prom/rules.yml" || fail "promtool check rules"
promtool test rules "$prom/rules_test.yml" || fail "promtool test rules"

# Each alert has a firing and a non-firing case in the unit tests.
for a in $(awk '$1 == "-" && $2 == "alert:" { print $3 }' "$prom/rules.yml"); do
        n=$(grep -c "alertname: $a\$" "$prom/rules_test.yml" || true)
        [ "$n" -ge 2 ] || fail "alert $a has $n unit test case(s), wanted a firing and a quiet one"
done

grep -rhoE '"sentistream_[a-z0-9_]+"' "$src"/common "$src"/consumer "$src"/monitor | tr -d '"' |
        sort -u >"$work/exported.txt"
for m in $(grep -oE '\bsentistream_[a-z0-9_]+' "$prom/rules.yml" | sort -u); do
        base=$(sed -E 's/_(bucket|sum|count)$//' <<<"$m")
        grep -qx "$m" "$work/exported.txt" || grep -qx "$base" "$work/exported.txt" ||
                fail "rules.yml names $m, which the code does not export"
done

python3 "$here/dashboard_check.py" "$src/deploy/grafana/sentistream.json" "$src" "$work" ||
        fail "dashboard check"

# The broken dashboard must fail, for each of its reasons.
if python3 "$here/dashboard_check.py" "$src/tests/fixtures/deploy/dashboard_broken.json" "$src" \
        "$work" 2>"$work/broken.err"; then
        fail "the broken dashboard passed the check"
fi
for want in "unclosed left parenthesis" "sentistream_scored_totl is not exported" "overlaps panel" \
        "id 2 missing or not unique" "unknown panel type 'graph-ish'" "no targets"; do
        grep -q "$want" "$work/broken.err" || fail "broken dashboard: no '$want' in: $(cat "$work/broken.err")"
done

# Rules with a changed threshold fail their unit tests.
mkdir "$work/mut"
cp "$prom/rules_test.yml" "$work/mut/"
sed 's/> 0.01$/> 0.1/' "$prom/rules.yml" >"$work/mut/rules.yml"
! cmp -s "$prom/rules.yml" "$work/mut/rules.yml" || fail "the mutation did not change rules.yml"
if promtool test rules "$work/mut/rules_test.yml" >"$work/mut.out" 2>&1; then
        fail "rules with the DLQ threshold at 10% passed the unit tests"
fi
grep -q 'alertname: SentistreamDeadLetterRate' "$work/mut.out" || fail "mutated rules: $(cat "$work/mut.out")"
echo "rules, rule unit tests, dashboard: ok; broken fixtures fail"
