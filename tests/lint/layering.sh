#!/usr/bin/env bash
# Layering check: reads the #include graph of the product's sources (common/ models/
# consumer/ monitor/ cli/) and fails on
#   - an include that goes up: a file may include only headers of its own component and of
#     the components its row of the layers table in ARCHITECTURE.md lists under "may include";
#   - any cycle between modules (module = a file name without extension and without a
#     trailing "_impl": model.c, model.h and model_impl.h are one module), found with tsort.
# Usage: tests/lint/layering.sh [ROOT]   (default: the source tree this script is in)
#        tests/lint/layering.sh --self-test   (a small tree with one upward include and one
#        cycle: the check must fail on both, and pass once they are removed)
set -euo pipefail

check() {
  local root=$1 arch=$1/ARCHITECTURE.md
  [ -f "$arch" ] || { echo "layering: $arch missing" >&2; return 2; }
  # The layers table: | component | files (globs) | may include |, between the markers.
  local -a comp globs allow
  local line n=0
  while IFS= read -r line; do
    [[ $line =~ ^\|\ *\`?([a-z_]+)\`?\ *\|([^|]*)\|([^|]*)\|$ ]] || continue
    [ "${BASH_REMATCH[1]}" != component ] || continue # the header row
    comp[n]=${BASH_REMATCH[1]}
    globs[n]=$(echo "${BASH_REMATCH[2]}" | tr -d '`')
    allow[n]=$(echo "${BASH_REMATCH[3]}" | tr -d '`,')
    n=$((n + 1))
  done < <(sed -n '/<!-- BEGIN layers -->/,/<!-- END layers -->/p' "$arch")
  [ "$n" -gt 0 ] || { echo "layering: no layers table in $arch" >&2; return 2; }

  # component of a path relative to root: the first row with a matching glob
  component_of() {
    local f=$1 i g
    local -a gs
    for ((i = 0; i < n; i++)); do
      read -r -a gs <<< "${globs[i]}" # split without pathname expansion
      for g in "${gs[@]}"; do
        # shellcheck disable=SC2053
        [[ $f == $g ]] && { echo "${comp[i]}"; return; }
      done
    done
    echo "?"
  }
  module_of() { local b=${1##*/}; b=${b%.*}; echo "${b%_impl}"; }

  local -A where comp_of allowed
  local f rel
  local -a files=()
  while IFS= read -r f; do files+=("$f"); done < <(cd "$root" &&
    find common models consumer monitor cli -name '*.[ch]' 2>/dev/null | sort)
  for rel in "${files[@]}"; do
    where[${rel##*/}]=$rel
    comp_of[$rel]=$(component_of "$rel")
  done
  local i c a
  for ((i = 0; i < n; i++)); do allowed[${comp[i]}]=" ${comp[i]} ${allow[i]} "; done

  local bad=0 edges="" inc target from to
  for rel in "${files[@]}"; do
    from=${comp_of[$rel]}
    if [ "$from" = "?" ]; then
      echo "layering: $rel belongs to no component of the layers table" >&2
      bad=1
      continue
    fi
    while IFS= read -r inc; do
      target=${where[$inc]:-}
      [ -n "$target" ] || continue # a header outside the product (a library's)
      to=${comp_of[$target]}
      if [[ ${allowed[$from]} != *" $to "* ]]; then
        echo "layering: $rel ($from) includes $inc ($to): $from may include only:${allowed[$from]}" >&2
        bad=1
      fi
      a=$(module_of "$rel") c=$(module_of "$target")
      [ "$a" = "$c" ] || edges+="$a $c"$'\n'
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$root/$rel" |
             sed 's#.*/##')
  done
  local loops
  if ! loops=$(printf '%s' "$edges" | tsort 2>&1 >/dev/null); then
    echo "layering: a cycle between modules (module -> module it includes):" >&2
    echo "$loops" | sed 's/^tsort: -: //' | sed 's/^/  /' >&2
    bad=1
  fi
  [ "$bad" = 0 ] && echo "layering: ok (${#files[@]} files, $n components, no upward include, no cycle)"
  return "$bad"
}

self_test() {
  local t
  t=$(mktemp -d)
  trap 'rm -rf "$t"' RETURN
  mkdir -p "$t/common" "$t/models" "$t/cli"
  cat > "$t/ARCHITECTURE.md" <<'MD'
<!-- BEGIN layers -->
| component | files | may include |
|---|---|---|
| base | common/* | |
| models | models/* | base |
| cli | cli/* | base models |
<!-- END layers -->
MD
  printf '#include "b.h"\n' > "$t/common/a.h"
  printf '#include <stdio.h>\n' > "$t/common/b.h"
  printf '#include "a.h"\n#include "m.h"\n' > "$t/models/m.c"
  printf '#include "a.h"\n' > "$t/models/m.h"
  printf '#include "m.h"\n#include "a.h"\n' > "$t/cli/main.c"
  check "$t" > /dev/null || { echo "self-test: a clean tree failed" >&2; return 1; }
  printf '#include "m.h"\n' >> "$t/common/b.h" # upward: base -> models
  if check "$t" 2> "$t/err" > /dev/null; then
    echo "self-test: an upward include passed" >&2
    return 1
  fi
  grep -q 'common/b.h (base) includes m.h (models)' "$t/err" || { cat "$t/err" >&2; return 1; }
  grep -q 'cycle' "$t/err" || { echo "self-test: the cycle a -> b -> m -> a was missed" >&2; return 1; }
  printf '#include <stdio.h>\n' > "$t/common/b.h"
  printf '#include "b.h"\n#include "cyc.h"\n' > "$t/common/a.h"
  printf '#include "a.h"\n' > "$t/common/cyc.h" # a cycle inside one component
  if check "$t" 2> "$t/err" > /dev/null; then
    echo "self-test: a cycle passed" >&2
    return 1
  fi
  grep -q 'cycle' "$t/err" || { cat "$t/err" >&2; return 1; }
  echo "layering self-test: ok (an upward include and two cycles caught)"
}

if [ "${1:-}" = "--self-test" ]; then
  self_test
else
  check "${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
fi
