#!/usr/bin/env python3
"""The project's rules for its Kubernetes manifests, beyond the schemas (kubeconform).

  k8s_policy.py RENDERED.yaml TWEETS_PARTITIONS

- no Secret object (credentials are referenced by secretKeyRef, never inlined), and no env
  value or argument that carries a password literally;
- every Deployment runs as non-root with a read-only root file system, no privilege
  escalation, all capabilities dropped, CPU and memory requests and limits;
- the scorer and the monitor have a readinessProbe on /readyz and a livenessProbe on /healthz;
- a PodDisruptionBudget covers the scorer;
- every KEDA ScaledObject scales at most to TWEETS_PARTITIONS replicas and does not allow
  idle consumers.
Each violation on stderr (kind/name: what), exit 1; exit 0 when all hold.
"""
import re
import sys

import yaml

SECRETISH = re.compile(r"(PASSWORD|SECRET|TOKEN)", re.I)


def check(docs, partitions):
    errs = []
    kinds = {}
    for d in docs:
        kinds.setdefault(d.get("kind"), []).append(d)
    for s in kinds.get("Secret", []):
        errs.append(f"Secret/{s['metadata']['name']}: secrets are referenced, never inlined")
    for dep in kinds.get("Deployment", []):
        name = f"Deployment/{dep['metadata']['name']}"
        pod = dep["spec"]["template"]["spec"]
        comp = dep["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        if not (pod.get("securityContext") or {}).get("runAsNonRoot"):
            errs.append(f"{name}: pod securityContext.runAsNonRoot is not true")
        for c in pod.get("containers", []):
            where = f"{name} container {c['name']}"
            sc = c.get("securityContext") or {}
            if sc.get("readOnlyRootFilesystem") is not True:
                errs.append(f"{where}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                errs.append(f"{where}: allowPrivilegeEscalation is not false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                errs.append(f"{where}: capabilities not dropped")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(part) or {}):
                        errs.append(f"{where}: no {part}.{r}")
            for e in c.get("env") or []:
                if SECRETISH.search(e["name"]) and "value" in e:
                    errs.append(f"{where}: env {e['name']} has a literal value (use secretKeyRef)")
            for a in c.get("args") or []:
                m = re.search(r"password=(.*)", a)
                # a reference only: $(VAR) (expanded by Kubernetes) or ${env:VAR} / ${file:PATH}
                # (resolved by the configuration loader, so not in the process arguments)
                ref = r"\$\([A-Z0-9_]+\)|\$\{env:[A-Za-z0-9_]+\}|\$\{file:[^}]+\}"
                if m and not re.fullmatch(ref, m.group(1)):
                    errs.append(f"{where}: argument {a.split('=')[0]} carries a literal password")
            if comp in ("scorer", "monitor"):
                for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                    got = ((c.get(probe) or {}).get("httpGet") or {}).get("path")
                    if got != path:
                        errs.append(f"{where}: {probe} path {got!r}, want {path}")
    pdbs = [p for p in kinds.get("PodDisruptionBudget", [])
            if p["spec"].get("selector", {}).get("matchLabels", {}).get("app.kubernetes.io/component") == "scorer"]
    if not pdbs:
        errs.append("no PodDisruptionBudget selects the scorer")
    for so in kinds.get("ScaledObject", []):
        name = f"ScaledObject/{so['metadata']['name']}"
        mx = so["spec"].get("maxReplicaCount", 100)
        if mx > partitions:
            errs.append(f"{name}: maxReplicaCount {mx} > {partitions} partitions of the input topic")
        for t in so["spec"]["triggers"]:
            if t.get("metadata", {}).get("allowIdleConsumers") == "true":
                errs.append(f"{name}: allowIdleConsumers lets KEDA scale past the partitions")
    return errs


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    errs = check(docs, int(sys.argv[2]))
    for e in errs:
        print(f"{sys.argv[1]}: {e}", file=sys.stderr)
    if not errs:
        print(f"{sys.argv[1]}: {len(docs)} objects follow the project's rules")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
