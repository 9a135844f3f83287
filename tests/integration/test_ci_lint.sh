#!/usr/bin/env bash
# Lint of the CI workflow and of every shell script of the project (a few seconds):
#   - .github/workflows/*.yml pass actionlint (pinned, Go module proxy, via deploy/tools.sh),
#     which also runs shellcheck on the workflow's run: steps;
#   - every tracked shell script (*.sh, and files with a sh/bash shebang, fixtures aside)
#     passes `shellcheck -x -S warning` (sourced libraries followed);
#   - the broken fixtures fail: a workflow with an undefined context, an unknown key and an
#     unquoted variable; a script with an unchecked cd and an unused variable.
set -euo pipefail
src=${SS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src"
fail() {
        echo "FAIL: $*" >&2
        exit 1
}
command -v shellcheck >/dev/null || fail "shellcheck not installed (deploy/install-deps.sh installs it)"
actionlint=$(deploy/tools.sh actionlint) || fail "installing actionlint"

"$actionlint" .github/workflows/*.yml || fail "actionlint"
echo "actionlint: $(ls .github/workflows/*.yml | wc -l) workflow(s) clean"

# Every shell script git knows (the checkout may be a plain copy: then every file).
if git rev-parse --git-dir >/dev/null 2>&1; then
        all=$(git ls-files)
else
        all=$(find . -type f -not -path './build*' -not -path './.*' | sed 's|^\./||')
fi
scripts=()
while IFS= read -r f; do
        case $f in tests/fixtures/*) continue ;; esac
        [ -f "$f" ] || continue
        if [[ $f == *.sh ]] || head -n1 "$f" | grep -qE '^#!.*[/ ](ba)?sh( |$)'; then
                scripts+=("$f")
        fi
done <<<"$all"
[ ${#scripts[@]} -ge 20 ] || fail "only ${#scripts[@]} shell scripts found"
shellcheck -x --source-path=SCRIPTDIR -S warning "${scripts[@]}" || fail "shellcheck -S warning"
echo "shellcheck: ${#scripts[@]} scripts clean at warning level"

out=$("$actionlint" tests/fixtures/deploy/ci-broken.yml 2>&1) && fail "actionlint accepted the broken workflow"
for t in 'property "os" is not defined' 'unexpected key "timeout-minute"' 'SC2086'; do
        grep -qF "$t" <<<"$out" || fail "broken workflow: no '$t' in: $out"
done
out=$(shellcheck -S warning tests/fixtures/deploy/broken-script.sh 2>&1) && fail "shellcheck accepted the broken script"
for t in SC2164 SC2034; do grep -q "$t" <<<"$out" || fail "broken script: no $t in: $out"; done
echo "broken fixtures fail"
