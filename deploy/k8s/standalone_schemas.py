#!/usr/bin/env python3
"""Makes kubernetes-validate's bundled JSON schemas usable by kubeconform, offline.

  standalone_schemas.py OUT_DIR [KUBERNETES_VERSION]

kubernetes-validate (PyPI) ships one schema per kind (e.g. deployment-apps-v1.json) whose
$refs point into a shared /api/_definitions.json; kubeconform resolves neither that path
nor the network. For every kind file of the newest bundled "-local-strict" version (or of
the version given), this writes OUT_DIR/<kind>-<group>-<version>.json with the definitions
it reaches copied in under $defs and every $ref rewritten to "#/$defs/...", the names
kubeconform looks up with -schema-location 'OUT_DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json'.
Prints the Kubernetes version used.
"""
import json
import os
import re
import sys

import kubernetes_validate

REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")


def rewrite(node, defs, reached, todo):
    """Rewrites $refs in place and queues the definitions they name."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            m = REF.match(ref)
            if not m:
                raise ValueError(f"unexpected $ref {ref}")
            name = m.group(1)
            node["$ref"] = "#/$defs/" + name
            if name not in reached:
                reached.add(name)
                todo.append(name)
        for v in node.values():
            rewrite(v, defs, reached, todo)
    elif isinstance(node, list):
        for v in node:
            rewrite(v, defs, reached, todo)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    base = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    versions = [d for d in os.listdir(base) if d.endswith("-local-strict")]
    if len(sys.argv) == 3:
        want = "v" + sys.argv[2].lstrip("v") + "-local-strict"
        if want not in versions:
            sys.exit(f"no schemas for {sys.argv[2]}; bundled: {sorted(versions)}")
        version = want
    else:
        version = max(versions, key=lambda v: [int(x) for x in v[1:].split("-")[0].split(".")])
    src = os.path.join(base, version)
    with open(os.path.join(src, "_definitions.json"), encoding="utf-8") as f:
        defs = json.load(f)["$defs"]
    os.makedirs(out, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(src)):
        if name.startswith("_") or name == "all.json" or not name.endswith(".json"):
            continue
        with open(os.path.join(src, name), encoding="utf-8") as f:
            schema = json.load(f)
        reached, todo = set(), []
        rewrite(schema, defs, reached, todo)
        inlined = {}
        while todo:
            d = todo.pop()
            body = json.loads(json.dumps(defs[d]))
            rewrite(body, defs, reached, todo)
            inlined[d] = body
        schema.pop("$id", None)
        if inlined:
            schema["$defs"] = inlined
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(schema, f)
        n += 1
    print(f"{version.split('-')[0]}: {n} standalone schemas in {out}")


if __name__ == "__main__":
    main()
