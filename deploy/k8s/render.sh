#!/usr/bin/env bash
# Renders one kustomize overlay of deploy/k8s to stdout (kustomize pinned by
# deploy/tools.sh). config/ lies outside deploy/k8s, hence LoadRestrictionsNone.
#   deploy/k8s/render.sh overlays/local | kubectl apply -f -
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 OVERLAY (e.g. overlays/local)" >&2; exit 2; }
kustomize=$("$here/../tools.sh" kustomize)
"$kustomize" build --load-restrictor LoadRestrictionsNone "$here/$1"
