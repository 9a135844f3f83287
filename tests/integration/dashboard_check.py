#!/usr/bin/env python3
"""Checks a Grafana dashboard JSON without a Grafana server.

  dashboard_check.py DASHBOARD.json SOURCE_DIR OUT_DIR

Structure: title, uid, schemaVersion, a non-empty panel list; each panel has a unique id,
a known type, a title, a gridPos inside the 24-column grid (no two panels overlapping),
a Prometheus datasource and at least one target; each target has a unique refId and a
non-empty expr. Every sentistream_* metric a query names must be one the code exports
(string literals "sentistream_..." in the C sources, histograms with _bucket/_sum/_count).
Then every query is written as a recording rule (OUT_DIR/dashboard_rules.yml, Grafana's
$__rate_interval / $__interval / $__range replaced by durations) and checked with
`promtool check rules`, which parses the PromQL. Exit 0 when all holds; otherwise each
problem on stderr (naming the panel and refId) and exit 1.
"""
import json
import os
import re
import subprocess
import sys

PANEL_TYPES = {"timeseries", "stat", "gauge", "table", "bargauge", "text", "heatmap", "row"}
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def exported_metrics(src):
    """Metric names the C sources register, with the series names histograms add."""
    names = set()
    for d in ("common", "consumer", "monitor", "cli", "models"):
        for root, _, files in os.walk(os.path.join(src, d)):
            for f in files:
                if f.endswith(".c"):
                    with open(os.path.join(root, f), encoding="utf-8") as fh:
                        names.update(re.findall(r'"(sentistream_[a-z0-9_]+)"', fh.read()))
    for n in list(names):
        names.update({n + "_bucket", n + "_sum", n + "_count"})
    return names


def check(dash, known):
    errs = []
    for k in ("title", "uid"):
        if not isinstance(dash.get(k), str) or not dash[k]:
            errs.append(f"dashboard: '{k}' missing or empty")
    if not isinstance(dash.get("schemaVersion"), int):
        errs.append("dashboard: 'schemaVersion' missing or not an integer")
    panels = dash.get("panels")
    if not isinstance(panels, list) or not panels:
        return errs + ["dashboard: 'panels' missing or empty"], []
    ids, cells, rules = set(), {}, []
    for i, p in enumerate(panels):
        where = f"panel #{i} ({p.get('title', '?')!r})"
        if p.get("id") in ids or not isinstance(p.get("id"), int):
            errs.append(f"{where}: id {p.get('id')!r} missing or not unique")
        ids.add(p.get("id"))
        if p.get("type") not in PANEL_TYPES:
            errs.append(f"{where}: unknown panel type {p.get('type')!r}")
        if not p.get("title"):
            errs.append(f"{where}: no title")
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "xywh"):
            errs.append(f"{where}: gridPos needs integer x, y, w, h")
        elif g["x"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > 24:
            errs.append(f"{where}: gridPos {g} outside the 24-column grid")
        else:
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    if (x, y) in cells:
                        errs.append(f"{where}: overlaps panel {cells[(x, y)]!r} at x={x} y={y}")
                        break
                    cells[(x, y)] = p.get("title")
                else:
                    continue
                break
        if p.get("type") in ("row", "text"):
            continue
        if (p.get("datasource") or {}).get("type") != "prometheus":
            errs.append(f"{where}: datasource is not of type prometheus")
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            errs.append(f"{where}: no targets")
            continue
        refs = set()
        for t in targets:
            ref = t.get("refId")
            if not ref or ref in refs:
                errs.append(f"{where}: refId {ref!r} missing or not unique")
            refs.add(ref)
            expr = t.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                errs.append(f"{where} {ref}: empty expr")
                continue
            for name in re.findall(r"\bsentistream_[a-zA-Z0-9_]+", expr):
                if name not in known:
                    errs.append(f"{where} {ref}: metric {name} is not exported by the code")
            for var, val in GRAFANA_VARS.items():
                expr = expr.replace(var, val)
            rules.append({"record": f"dashboard:panel_{p.get('id')}_{ref}", "expr": expr})
    return errs, rules


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, src, out = sys.argv[1:]
    try:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{path}: {e}", file=sys.stderr)
        return 1
    errs, rules = check(dash, exported_metrics(src))
    rule_file = os.path.join(out, "dashboard_rules.yml")
    with open(rule_file, "w", encoding="utf-8") as f:
        # JSON is YAML: the expressions need no quoting rules of their own
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, indent=1)
    r = subprocess.run(["promtool", "check", "rules", rule_file], capture_output=True, text=True)
    if r.returncode != 0:
        errs.append(f"promtool check rules on the panel queries:\n{r.stdout}{r.stderr}")
    for e in errs:
        print(f"{path}: {e}", file=sys.stderr)
    if not errs:
        print(f"{path}: {len(dash['panels'])} panels, {len(rules)} queries: ok")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
