#!/usr/bin/env bash
# Installs the pinned deployment tools into git-ignored directories of the checkout (once;
# later calls only check) and prints the path of each one asked for, one per line:
#   actionlint           .tools/bin/actionlint    (Go module proxy, go install)
#   kubeconform          .tools/bin/kubeconform   (Go module proxy, go install)
#   kustomize            .tools/bin/kustomize     (Go module proxy, go install)
#   kubernetes-validate  .venv-deploy/bin/kubernetes-validate (PyPI)
#   podman-compose       .venv-deploy/bin/podman-compose      (PyPI)
# Go: the `go` on PATH or /usr/local/go/bin when it is at least $go_min; otherwise (no Go, or
# Debian's older one, installed by apt-get when there is none) the Go toolchain is itself
# fetched from the module proxy as the module golang.org/toolchain, the way `go` does it.
#   deploy/tools.sh actionlint kubeconform
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
tools=$root/.tools
venv=$root/.venv-deploy
actionlint_version=v1.7.12
kubeconform_version=v0.7.0
kustomize_version=v5.7.1
go_min=1.25
go_toolchain=v0.0.1-go1.25.14.linux-amd64
py_pins=(podman-compose==1.6.0 python-dotenv==1.2.4 PyYAML==6.0.4 kubernetes-validate==1.37.0
        jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0
        rpds-py==2026.9.1 attrs==26.1.0 typing_extensions==4.16.0 importlib_resources==7.1.0
        packaging==26.4)

log() { echo "tools.sh: $*" >&2; }

# A go binary of at least $go_min, installing one when needed; its path on stdout.
go_bin() {
        local g=
        g=$(command -v go || true)
        [ -z "$g" ] && [ -x /usr/local/go/bin/go ] && g=/usr/local/go/bin/go
        if [ -n "$g" ]; then
                local v
                v=$("$g" env GOVERSION 2>/dev/null | sed 's/^go//')
                if [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$go_min" "$v" | sort -V | head -n1)" = "$go_min" ]; then
                        echo "$g"
                        return
                fi
        fi
        local tc=$tools/go/bin/go
        if [ ! -x "$tc" ]; then
                if [ -z "$g" ]; then
                        log "apt-get install golang-go (to fetch Go $go_min from the module proxy)"
                        local sudo=
                        [ "$(id -u)" -ne 0 ] && sudo=sudo
                        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends golang-go >/dev/null
                        g=/usr/bin/go
                fi
                log "go mod download golang.org/toolchain@$go_toolchain"
                local tmp dir
                tmp=$(mktemp -d)
                (cd "$tmp" && "$g" mod init toolchain-fetch >/dev/null 2>&1 &&
                        GOFLAGS=-mod=mod GOTOOLCHAIN=local "$g" mod download -json "golang.org/toolchain@$go_toolchain") >"$tmp/out.json"
                dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$tmp/out.json")
                rm -rf "$tmp"
                [ -f "$dir/bin/go" ] || { log "no go binary in the toolchain module ($dir)"; exit 1; }
                mkdir -p "$tools"
                rm -rf "$tools/go"
                cp -r "$dir" "$tools/go"
                # module zips keep no file modes: the programs get theirs back, as go does
                chmod -R u+w "$tools/go"
                chmod +x "$tools/go/bin/"* "$tools/go/pkg/tool/"*/*
        fi
        echo "$tc"
}

go_tool() { # go_tool NAME MODULE/cmd/NAME VERSION
        local bin=$tools/bin/$1
        if [ ! -x "$bin" ] || [ "$(cat "$bin.version" 2>/dev/null)" != "$3" ]; then
                local g
                g=$(go_bin)
                log "go install $2@$3"
                mkdir -p "$tools/bin"
                GOBIN=$tools/bin GOTOOLCHAIN=local GOFLAGS='' "$g" install "$2@$3"
                echo "$3" >"$bin.version"
        fi
        echo "$bin"
}

py_tools() {
        local stamp=$venv/.pins
        if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${py_pins[*]}" ]; then
                log "pip install ${py_pins[*]} -> $venv"
                rm -rf "$venv"
                python3 -m venv "$venv"
                "$venv/bin/pip" install -q --disable-pip-version-check "${py_pins[@]}"
                echo "${py_pins[*]}" >"$stamp"
        fi
}

[ $# -ge 1 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
for t in "$@"; do
        case $t in
        actionlint) go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint "$actionlint_version" ;;
        kubeconform) go_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$kubeconform_version" ;;
        kustomize) go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$kustomize_version" ;;
        kubernetes-validate | podman-compose) py_tools && echo "$venv/bin/$t" ;;
        *) log "unknown tool $t"; exit 2 ;;
        esac
done
