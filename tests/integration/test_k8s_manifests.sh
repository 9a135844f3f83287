#!/usr/bin/env bash
# Offline validation of the Kubernetes manifests (no cluster runs here):
#   - both kustomize overlays of deploy/k8s render (kustomize, pinned);
#   - every object passes `kubeconform -strict` against kubernetes-validate's bundled schemas
#     made standalone (deploy/k8s/standalone_schemas.py), and the KEDA ScaledObject and
#     TriggerAuthentication against the project's own schemas (deploy/k8s/schemas/); no
#     object may be skipped for want of a schema;
#   - the project's rules hold (k8s_policy.py: non-root, read-only root fs, limits, probes on
#     /readyz and /healthz, a PDB, secrets referenced only, KEDA bounded by the partition
#     count of `tweets` as deploy/compose.yaml creates it);
#   - the broken fixtures fail: an unknown Deployment field and a string port (schema), a
#     ScaledObject with a numeric lagThreshold and a misspelt key (project schema), an
#     inlined Secret (rules).
# Tools are installed on first use by deploy/tools.sh into .tools/ and .venv-deploy/.
set -euo pipefail
src=${SS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-k8s.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() {
        echo "FAIL: $*" >&2
        exit 1
}
tools=$("$src/deploy/tools.sh" kustomize kubeconform kubernetes-validate) || fail "installing the tools"
kustomize=$(sed -n 1p <<<"$tools")
kubeconform=$(sed -n 2p <<<"$tools")
py=$(dirname "$(sed -n 3p <<<"$tools")")/python

# Standalone schemas, cached per kubernetes-validate version.
kv=$("$py" -c 'import kubernetes_validate.version as v; print(v.__version__)' 2>/dev/null ||
        "$py" -m pip show kubernetes-validate | awk '/^Version:/ { print $2 }')
schemas=$src/.tools/k8s-schemas/$kv
if [ ! -f "$schemas/.complete" ]; then
        rm -rf "$schemas"
        "$py" "$src/deploy/k8s/standalone_schemas.py" "$schemas" || fail "standalone schemas"
        touch "$schemas/.complete"
fi
validate() {
        "$kubeconform" -strict -summary \
                -schema-location "$schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
                -schema-location "$src/deploy/k8s/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
}

partitions=$(grep -o 'tweets:[0-9]*' "$src/deploy/compose.yaml" | head -n1 | cut -d: -f2)
[ -n "$partitions" ] || fail "no partition count of tweets in deploy/compose.yaml"
for o in local sasl; do
        "$kustomize" build --load-restrictor LoadRestrictionsNone "$src/deploy/k8s/overlays/$o" \
                >"$work/$o.yaml" || fail "kustomize build overlays/$o"
        validate "$work/$o.yaml" >"$work/$o.out" 2>&1 || { cat "$work/$o.out"; fail "kubeconform overlays/$o"; }
        cat "$work/$o.out"
        grep -q 'Invalid: 0, Errors: 0, Skipped: 0' "$work/$o.out" || fail "overlays/$o: $(cat "$work/$o.out")"
        for k in Deployment PodDisruptionBudget ScaledObject ConfigMap; do
                grep -q "^kind: $k\$" "$work/$o.yaml" || fail "overlays/$o renders no $k"
        done
        "$py" "$src/tests/integration/k8s_policy.py" "$work/$o.yaml" "$partitions" ||
                fail "project rules on overlays/$o"
done
# the ConfigMap holds config/ file for file
for f in base.yaml kafka/local.yaml monitor/default.yaml model/logreg.yaml; do
        grep -q "path: $f" "$work/local.yaml" || fail "config/$f is not mounted"
done
grep -q 'kind: TriggerAuthentication' "$work/sasl.yaml" || fail "the sasl overlay has no TriggerAuthentication"
grep -q 'secretKeyRef' "$work/sasl.yaml" || fail "the sasl overlay references no Secret"

broken=$src/tests/fixtures/deploy/k8s-broken
expect_fail() { # expect_fail FILE TEXT...: the check fails and names every TEXT
        local f=$1 out
        shift
        out=$(validate "$broken/$f" 2>&1) && fail "kubeconform accepted $f"
        for t in "$@"; do grep -qF "$t" <<<"$out" || fail "$f: no '$t' in: $out"; done
}
expect_fail deployment-typo.yaml "additional properties 'replica' not allowed" "containerPort': got string, want integer"
expect_fail scaledobject-lag.yaml "lagThreshold': got number, want string" "additional properties 'lagTreshold' not allowed"
"$py" "$src/tests/integration/k8s_policy.py" "$broken/secret-inlined.yaml" "$partitions" 2>"$work/secret.err" &&
        fail "the project rules accepted an inlined Secret"
grep -q 'secrets are referenced, never inlined' "$work/secret.err" || fail "secret fixture: $(cat "$work/secret.err")"
echo "manifests valid (kubernetes-validate $kv schemas, strict); broken fixtures fail"
