"""Operations bundle: the Grafana dashboard and its provisioning. Every panel's PromQL is parsed and
evaluated by a real Prometheus (started here on 127.0.0.1, loaded with the shipped rules), and the
dashboard is linted in the spirit of grafana/dashboard-linter."""
import glob
import json
import os
import re
import tempfile

import deploy_util as du
import harness
from harness import check

DASHBOARDS = sorted(glob.glob(os.path.join(du.DASHBOARD_DIR, "*.json")))
SEED_PANELS = ["FloodWait Events", "Session Cleanup Duration", "QR Session Funnel", "Rate Limiting"]
# What Grafana substitutes before a query reaches Prometheus (the values only need to be well-formed).
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "${__range}": "1h", "$__interval_ms": "60000",
    "$__range_s": "3600", "${job}": ".*", "$job": ".*", "${instance}": ".*", "$instance": ".*",
}
COUNTER_FUNCTIONS = ("rate", "irate", "increase")


def load(path):
    with open(path) as f:
        return json.load(f)


def panels(dash):
    """Every non-row panel, rows' nested panels included."""
    out = []
    for p in dash["panels"]:
        if p["type"] == "row":
            out.extend(p.get("panels", []))
        else:
            out.append(p)
    return out


def grafana_substitute(expr):
    for k in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(k, GRAFANA_VARIABLES[k])
    check("$" not in expr, f"unsubstituted variable in {expr}")
    return expr


def all_exprs(dash):
    """[(panel title, expr)] of every panel target and every query variable (label_values(selector, l) ->
    selector)."""
    out = [(p["title"], t["expr"]) for p in panels(dash) for t in p.get("targets", [])]
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.+),\s*\w+\)", q.strip())
            check(m, f"variable {v['name']}: unexpected query {q}")
            out.append((f"variable {v['name']}", m.group(1)))
    return out


def enclosing_function(text, pos):
    """Name of the function whose argument list contains position `pos` in `text` (or None)."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        c = text[i]
        if c == ")":
            depth += 1
        elif c == "(":
            if depth == 0:
                m = re.search(r"([a-zA-Z_]\w*)\s*$", text[:i])
                return m.group(1) if m else None
            depth -= 1
    return None


def test_dashboards_are_valid_json_with_schema_39():
    check(DASHBOARDS, "no dashboards")
    for path in DASHBOARDS:
        d = load(path)
        check(d.get("schemaVersion") == 39, f"{path}: schemaVersion {d.get('schemaVersion')}")
        check(d.get("uid") and d.get("title"), f"{path}: uid/title")
        ids = [p["id"] for p in d["panels"]] + [p["id"] for p in panels(d) if p not in d["panels"]]
        check(len(ids) == len(set(ids)), f"{path}: duplicate panel ids")


def test_seed_panels_are_there():
    titles = {p["title"]: p for path in DASHBOARDS for p in panels(load(path))}
    for t in SEED_PANELS:
        check(t in titles, f"seed panel {t!r} missing; have {sorted(titles)}")
    check(titles["Session Cleanup Duration"]["type"] == "heatmap", "cleanup duration is a heatmap")
    check(titles["QR Session Funnel"]["type"] == "bargauge", "QR funnel is a bar gauge")


def test_lint_datasource_variable_used_by_every_panel_and_target():
    for path in DASHBOARDS:
        d = load(path)
        variables = {v["name"]: v for v in d["templating"]["list"]}
        ds = variables.get("datasource")
        check(ds and ds["type"] == "datasource" and ds["query"] == "prometheus", f"{path}: datasource variable {ds}")
        for name in ("job", "instance"):
            check(name in variables and variables[name]["type"] == "query", f"{path}: ${name} variable missing")
            check(variables[name]["datasource"]["uid"] in ("${datasource}", "$datasource"), f"{path}: ${name} datasource")
        for p in panels(d):
            check(p.get("datasource", {}).get("uid") in ("${datasource}", "$datasource"),
                  f"{path}: panel {p['title']!r} does not use the datasource variable: {p.get('datasource')}")
            for t in p.get("targets", []):
                check(t.get("datasource", {}).get("uid") in ("${datasource}", "$datasource"),
                      f"{path}: panel {p['title']!r} target {t['refId']} datasource {t.get('datasource')}")


def test_lint_every_panel_has_a_unit_and_a_description():
    for path in DASHBOARDS:
        for p in panels(load(path)):
            check(p.get("description", "").strip(), f"panel {p['title']!r}: no description")
            check(p.get("fieldConfig", {}).get("defaults", {}).get("unit"), f"panel {p['title']!r}: no unit")


def test_lint_rate_interval_and_counters_only_through_rate():
    counters = du.series_names(du.catalog_metrics())
    for path in DASHBOARDS:
        d = load(path)
        for title, expr in all_exprs(d):
            if title.startswith("variable "):
                continue
            for m in re.finditer(r"\b(i?rate|increase)\s*\(", expr):
                rng = re.match(r"[^\[]*\[([^\]]+)\]", expr[m.end():])
                check(rng, f"{title}: {m.group(1)}() without a range in {expr}")
                allowed = ("$__rate_interval",) if m.group(1) != "increase" else ("$__rate_interval", "$__range")
                check(rng.group(1) in allowed, f"{title}: {m.group(1)}(...[{rng.group(1)}]) should use {allowed}")
            for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?\s*(\[[^\]]*\])?", expr):
                if m.group(1) not in counters:
                    continue
                check(m.group(3), f"{title}: counter {m.group(1)} plotted raw (no range) in {expr}")
                fn = enclosing_function(expr, m.start())
                check(fn in COUNTER_FUNCTIONS, f"{title}: counter {m.group(1)} inside {fn}(), not rate/increase: {expr}")


def test_lint_raw_selectors_filter_by_job_and_instance():
    counters = du.series_names(du.catalog_metrics())
    for path in DASHBOARDS:
        for title, expr in all_exprs(load(path)):
            if title.startswith("variable "):
                continue
            for m in re.finditer(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\s*(\{[^}]*\})?", expr):
                if m.group(1) in counters:
                    matchers = m.group(2) or ""
                    check('job=~"$job"' in matchers and 'instance=~"$instance"' in matchers,
                          f"{title}: {m.group(1)} not filtered by $job/$instance: {expr}")


def test_every_series_a_panel_reads_exists_in_the_catalog_or_the_rules():
    known = (du.series_names(du.catalog_metrics()) | {r["record"] for r in du.recording_rules()} |
             du.service_gauges())
    for path in DASHBOARDS:
        for title, expr in all_exprs(load(path)):
            unknown = du.metric_names_in(grafana_substitute(expr)) - known
            check(not unknown, f"{title}: unknown series {unknown} in {expr}")


def test_duration_panels_show_exemplars():
    for path in DASHBOARDS:
        for p in panels(load(path)):
            exprs = " ".join(t["expr"] for t in p.get("targets", []))
            if re.search(r"_seconds_bucket", exprs):
                check(any(t.get("exemplar") for t in p["targets"]), f"panel {p['title']!r}: duration without exemplars")


def test_panels_do_not_overlap():
    for path in DASHBOARDS:
        cells = {}
        for p in load(path)["panels"] + [q for r in load(path)["panels"] for q in r.get("panels", [])]:
            g = p["gridPos"]
            check(g["x"] + g["w"] <= 24, f"panel {p['title']!r} wider than the grid")
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    check((x, y) not in cells, f"panels {p['title']!r} and {cells.get((x, y))!r} overlap")
                    cells[(x, y)] = p["title"]


def test_a_real_prometheus_parses_and_evaluates_every_query():
    with tempfile.TemporaryDirectory() as d:
        proc, url = du.start_prometheus(du.write_prometheus_config(d))
        with proc:
            for path in DASHBOARDS:
                for title, expr in all_exprs(load(path)):
                    query = grafana_substitute(expr)
                    status, doc = du.prom_query(url, query)
                    check(status == 200 and doc and doc.get("status") == "success",
                          f"{os.path.basename(path)} / {title}: Prometheus answered {status} {doc} for {query}")


def test_provisioning_points_at_the_dashboards_and_the_datasource_uid():
    prov = os.path.join(du.DEPLOY, "grafana", "provisioning")
    sources = du.load_yaml(os.path.join(prov, "datasources", "datasources.yml"))
    check(sources["apiVersion"] == 1, "datasources apiVersion")
    by_uid = {s["uid"]: s for s in sources["datasources"]}
    check(by_uid.get("prometheus", {}).get("type") == "prometheus", f"prometheus data source: {by_uid}")
    for dest in by_uid["prometheus"]["jsonData"].get("exemplarTraceIdDestinations", []):
        check(dest["datasourceUid"] in by_uid, f"exemplar destination {dest} has no data source")
    for path in DASHBOARDS:
        ds = {v["name"]: v for v in load(path)["templating"]["list"]}["datasource"]
        check(ds["current"].get("value") in by_uid, f"{path}: default data source {ds['current']} not provisioned")
    providers = du.load_yaml(os.path.join(prov, "dashboards", "tgpulse.yml"))
    check(providers["apiVersion"] == 1 and providers["providers"][0]["type"] == "file", "dashboard provider")
    compose = open(os.path.join(du.DEPLOY, "docker", "docker-compose.yml")).read() \
        if os.path.exists(os.path.join(du.DEPLOY, "docker", "docker-compose.yml")) else None
    if compose is not None:
        check(providers["providers"][0]["options"]["path"] in compose, "compose does not mount the dashboards path")


if __name__ == "__main__":
    harness.main([
        test_dashboards_are_valid_json_with_schema_39,
        test_seed_panels_are_there,
        test_lint_datasource_variable_used_by_every_panel_and_target,
        test_lint_every_panel_has_a_unit_and_a_description,
        test_lint_rate_interval_and_counters_only_through_rate,
        test_lint_raw_selectors_filter_by_job_and_instance,
        test_every_series_a_panel_reads_exists_in_the_catalog_or_the_rules,
        test_duration_panels_show_exemplars,
        test_panels_do_not_overlap,
        test_a_real_prometheus_parses_and_evaluates_every_query,
        test_provisioning_points_at_the_dashboards_and_the_datasource_uid,
    ])
