"""The Grafana dashboard checked by Grafana's own definition of it: deploy/grafana/dashboards/*.json
type-checked by the TypeScript compiler against @grafana/schema (the dashboard, its variables and
annotations, and every panel with its panel plugin's generated Options and custom FieldConfig), through
tests/node/grafana_dashboard_typecheck.js. Mutations of the shipped dashboard — a value of the wrong type,
an option the panel plugin does not define, a value outside an enum — must fail the same check.

All files (shipped + mutations) go through one compiler run: type-checking the schema is most of the cost.
"""
import copy
import json
import os
import subprocess
import tempfile

import deploy_util
import harness
from harness import check

CHECKER = os.path.join(harness.NODE_DIR, "grafana_dashboard_typecheck.js")
DASHBOARDS = sorted(os.path.join(deploy_util.DASHBOARD_DIR, f) for f in os.listdir(deploy_util.DASHBOARD_DIR)
                    if f.endswith(".json"))
SHIPPED = os.path.join(deploy_util.DASHBOARD_DIR, "tgpulse.json")


def panel(doc, title):
    for p in doc["panels"]:
        for q in [p] + p.get("panels", []):
            if q.get("title") == title:
                return q
    raise AssertionError(f"no panel titled {title!r} in the dashboard")


def _set(path, value):
    def mutate(doc):
        *parents, last = path
        node = doc
        for key in parents:
            node = node[key]
        node[last] = value
    return mutate


def _panel_set(title, path, value):
    return lambda doc: _set(path, value)(panel(doc, title))


# name -> (mutation, text the checker's error must contain; a mutated panel's error also names its title)
MUTATIONS = {
    "wrong field type: a line width as a string": (
        _panel_set("FloodWait Events", ["fieldConfig", "defaults", "custom", "lineWidth"], "2"), "lineWidth",
        "FloodWait Events"),
    "unknown panel option on a time series": (
        _panel_set("Rate Limiting", ["options", "showGrid"], True), "showGrid", "Rate Limiting"),
    "unknown legend option": (
        _panel_set("Session cleanup p95", ["options", "legend", "position"], "bottom"), "position",
        "Session cleanup p95"),
    "value outside an enum: draw style": (
        _panel_set("QR timeouts", ["fieldConfig", "defaults", "custom", "drawStyle"], "curve"), "drawStyle",
        "QR timeouts"),
    "custom field option on a stat panel, which has none": (
        _panel_set("QR conversion", ["fieldConfig", "defaults", "custom"], {"lineWidth": 1}), "lineWidth",
        "QR conversion"),
    "wrong field type in the heatmap's options": (
        _panel_set("Session Cleanup Duration", ["options", "cellGap"], "1px"), "cellGap", "Session Cleanup Duration"),
    "bar gauge without a required option": (
        lambda doc: panel(doc, "QR Session Funnel")["options"].pop("displayMode"), "displayMode", "QR Session Funnel"),
    "SLO row panel: unknown option": (
        _panel_set("Error budget remaining (30 days)", ["options", "barWidth"], 3), "barWidth",
        "Error budget remaining (30 days)"),
    "wrong field type on the dashboard: refresh of a variable": (
        _set(["templating", "list", 1, "refresh"], "on load"), "refresh", None),
    "wrong field type on a row": (
        _set(["panels", 0, "collapsed"], "no"), "collapsed", "Telegram operations (the spec's four panels)"),
}


def run_checker(paths):
    out = subprocess.run(["node", CHECKER, "--json", *paths], cwd=harness.NODE_DIR, capture_output=True, text=True,
                         timeout=300)
    check(out.stdout.strip(), f"the checker printed nothing (exit {out.returncode}):\n{out.stderr}")
    try:
        return out.returncode, json.loads(out.stdout)
    except ValueError:
        raise AssertionError(f"checker output is not JSON (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")


_result = {}


def results():
    """One compiler run over the shipped dashboards and every mutation of tgpulse.json."""
    if _result:
        return _result["report"], _result["names"]
    check(os.path.isdir(os.path.join(harness.NODE_DIR, "node_modules", "@grafana", "schema")),
          "tests/node/node_modules lacks @grafana/schema (run scripts/install-deps.sh)")
    with open(SHIPPED) as f:
        shipped = json.load(f)
    with tempfile.TemporaryDirectory(prefix="tgpulse-grafana-") as tmp:
        names = {}
        for i, (name, (mutate, *_)) in enumerate(MUTATIONS.items()):
            doc = copy.deepcopy(shipped)
            mutate(doc)
            path = os.path.join(tmp, f"mutation{i}.json")
            with open(path, "w") as f:
                json.dump(doc, f)
            names[path] = name
        code, report = run_checker(DASHBOARDS + list(names))
    check(code == 1, f"the checker exited {code} although mutations were among its files")
    _result.update(report=report, names=names)
    return report, names


def test_shipped_dashboards_type_check_against_grafana_schema():
    report, _ = results()
    check(not report["other"], "checker problems outside the dashboards:\n" + "\n".join(report["other"]))
    for path in DASHBOARDS:
        errors = report["errors"][path]
        check(not errors, f"{os.path.basename(path)} disagrees with {report['against']}:\n" + "\n".join(errors))
        with open(path) as f:
            doc = json.load(f)
        count = sum(1 + len(p.get("panels", [])) for p in doc["panels"])
        check(report["panels"][path] == count, f"{path}: checked {report['panels'][path]} panels of {count}")
    print(f"  {len(DASHBOARDS)} dashboard(s) type-check against {report['against']}")


def test_each_mutation_fails_the_type_check():
    report, names = results()
    for path, name in names.items():
        errors = report["errors"][path]
        expected = MUTATIONS[name][1]
        check(errors, f"mutation passed the type check: {name}")
        check(any(expected in e for e in errors), f"mutation {name!r} failed, but not on {expected!r}:\n" + "\n".join(errors))
        title = MUTATIONS[name][2]
        check(title is None or any(f'"{title}"' in e for e in errors), f"mutation {name!r}: no error names {title!r}")
    print(f"  {len(names)} mutations each fail against {report['against']}")


if __name__ == "__main__":
    harness.main([test_shipped_dashboards_type_check_against_grafana_schema, test_each_mutation_fails_the_type_check])
