#!/usr/bin/env bash
# Builds the runtime image localhost/sentistream:latest with podman (base image first, see
# base.sh) and prints its size.
#   deploy/container/build.sh [TAG]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
tag=${1:-localhost/sentistream:latest}
"$here/base.sh"
podman build --quiet -f "$here/Containerfile" -t "$tag" "$root" >/dev/null
echo "$tag $(podman image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
