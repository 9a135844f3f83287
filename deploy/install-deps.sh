#!/usr/bin/env bash
# Installs everything sentistream needs on a fresh Debian 12 machine. Idempotent:
# a second run only checks. Needs root (or sudo) for apt-get.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

pkgs=(build-essential cmake pkg-config git
      librdkafka-dev libavro-dev libopenblas-dev libhiredis-dev libyaml-dev
      libcjson-dev libmicrohttpd-dev libssl-dev
      redis-server kcat prometheus openjdk-17-jre-headless maven python3 python3-venv curl)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts a system redis-server on 6379 at install; the project runs its own on other ports.

# Kafka broker jars from Maven Central (deploy/local/kafka.sh fetch is idempotent).
if [ -x "$here/local/kafka.sh" ]; then
  "$here/local/kafka.sh" fetch
fi
echo "install-deps: ok"
