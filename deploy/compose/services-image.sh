#!/usr/bin/env bash
# Builds localhost/sentistream-services:bookworm, the image the compose stack runs Kafka,
# Redis and Prometheus from, without a registry: mmdebstrap bookworm (the host's apt
# sources) with openjdk-17-jre-headless, redis-server, prometheus, kcat and tini, plus the
# Kafka broker jars that deploy/local/kafka.sh fetches from Maven Central (/opt/kafka/jars).
# The start scripts are mounted by compose.yaml, so that changing them needs no rebuild.
#   deploy/compose/services-image.sh          build unless the image exists
#   deploy/compose/services-image.sh --force  rebuild
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/../container/containers.conf}
image=localhost/sentistream-services:bookworm
pkgs=openjdk-17-jre-headless,redis-server,prometheus,kcat,tini,ca-certificates

if [ "${1:-}" != --force ] && podman image exists "$image"; then
        echo "services-image.sh: $image exists"
        exit 0
fi
"$here/../local/kafka.sh" fetch >/dev/null
sources=
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [ -s "$f" ] && { sources=$f; break; }
done
[ -n "$sources" ] || { echo "services-image.sh: no apt sources file on this host" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ss-services.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "services-image.sh: mmdebstrap bookworm + $pkgs + Kafka jars -> $image"
mmdebstrap --quiet --variant=apt --include="$pkgs" \
        --customize-hook='mkdir -p "$1/opt/kafka"' \
        --customize-hook="copy-in $here/../local/jars /opt/kafka" \
        bookworm "$tmp/rootfs.tar" "$sources"
podman import --quiet --change 'ENTRYPOINT ["/usr/bin/tini", "--"]' "$tmp/rootfs.tar" "$image" >/dev/null
echo "$image $(podman image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
