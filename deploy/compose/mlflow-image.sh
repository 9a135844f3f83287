#!/usr/bin/env bash
# Builds localhost/sentistream-mlflow:3.17.2, the MLflow tracking server and model registry of
# the compose stack, without a registry: mmdebstrap bookworm (the host's apt sources) with
# python3-venv and tini, and mlflow==3.17.2 installed into /opt/mlflow inside it from wheels
# that the host's pip fetched from PyPI first (`pip wheel`, the host's Python must be 3.11 like
# bookworm's; the chroot installs offline from them).
#   deploy/compose/mlflow-image.sh          build unless the image exists
#   deploy/compose/mlflow-image.sh --force  rebuild
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/../container/containers.conf}
image=localhost/sentistream-mlflow:3.17.2

if [ "${1:-}" != --force ] && podman image exists "$image"; then
        echo "mlflow-image.sh: $image exists"
        exit 0
fi
sources=
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [ -s "$f" ] && { sources=$f; break; }
done
[ -n "$sources" ] || { echo "mlflow-image.sh: no apt sources file on this host" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ss-mlflow.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$py" = 3.11 ] || { echo "mlflow-image.sh: the host's python3 is $py; bookworm's is 3.11" >&2; exit 1; }
echo "mlflow-image.sh: pip wheel mlflow==3.17.2 (host, PyPI)"
python3 -m pip wheel --quiet --disable-pip-version-check -w "$tmp/wheels" mlflow==3.17.2
echo "mlflow-image.sh: mmdebstrap bookworm + python3-venv + mlflow==3.17.2 -> $image"
# shellcheck disable=SC2016 # $1 is the hook's argument (the root directory), expanded by mmdebstrap
mmdebstrap --quiet --variant=apt --include=python3-venv,ca-certificates,tini,curl \
        --customize-hook="copy-in $tmp/wheels /tmp" \
        --customize-hook='chroot "$1" python3 -m venv /opt/mlflow' \
        --customize-hook='chroot "$1" /opt/mlflow/bin/pip install --quiet --disable-pip-version-check --no-index --find-links /tmp/wheels mlflow==3.17.2' \
        --customize-hook='rm -rf "$1/tmp/wheels"' \
        bookworm "$tmp/rootfs.tar" "$sources"
podman import --quiet --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' --change 'ENV PATH=/opt/mlflow/bin:/usr/bin:/bin' \
        "$tmp/rootfs.tar" "$image" >/dev/null
echo "$image $(podman image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
