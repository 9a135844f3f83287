#!/usr/bin/env bash
# Builds the base image of the container build from Debian packages, without a registry:
# mmdebstrap bookworm (the host's apt sources) with the compiler and the -dev packages the
# project links against, imported with `podman import` as localhost/sentistream-build-base.
# The runtime image needs no base (it is FROM scratch, see Containerfile).
#   deploy/container/base.sh          build unless the image exists
#   deploy/container/base.sh --force  rebuild
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
image=localhost/sentistream-build-base:bookworm
pkgs=build-essential,cmake,pkg-config,librdkafka-dev,libavro-dev,libopenblas-dev,libhiredis-dev
pkgs=$pkgs,libyaml-dev,libcjson-dev,libmicrohttpd-dev,libssl-dev,tini,ca-certificates

if [ "${1:-}" != --force ] && podman image exists "$image"; then
        echo "base.sh: $image exists"
        exit 0
fi
# The host's apt sources (deb822 or one-line format), so that the image gets the same mirror.
sources=
for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        [ -s "$f" ] && { sources=$f; break; }
done
[ -n "$sources" ] || { echo "base.sh: no apt sources file on this host" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ss-base.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "base.sh: mmdebstrap bookworm + build packages -> $image"
mmdebstrap --quiet --variant=apt --include="$pkgs" bookworm "$tmp/rootfs.tar" "$sources"
podman import --quiet "$tmp/rootfs.tar" "$image" >/dev/null
podman image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$image"
