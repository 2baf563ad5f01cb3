"""Operations bundle: Prometheus alert/SLO rules, prometheus.yml and the Alertmanager config, checked by
the real tools (promtool, amtool, Prometheus, Alertmanager)."""
import glob
import os
import re
import subprocess
import tempfile

import deploy_util as du
import harness
from harness import check

# The spec's three alerts (seed file, "Алерты"): name -> (for, severity, summary).
SEED_ALERTS = {
    "HighFloodWaitRate": ("2m", "warning", "High FloodWait rate detected"),
    "SlowSessionCleanup": ("1m", "critical", "Session cleanup is taking too long"),
    "HighQRTimeoutRate": ("3m", "warning", "High QR timeout rate"),
}
SLOS = {"qr_authorization_availability": 0.999, "session_cleanup_latency": 0.95, "floodwait_ratio": 0.95}
WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
LONG_WINDOWS = ["1d", "3d", "30d"]


def test_promtool_check_rules_is_clean():
    for path in du.RULE_FILES:
        r = du.promtool("check", "rules", path)
        check(r.returncode == 0, f"promtool check rules {path}:\n{r.stdout}{r.stderr}")
        check("SUCCESS" in r.stdout, r.stdout)
        check("warning" not in (r.stdout + r.stderr).lower(), f"lint findings in {path}:\n{r.stdout}{r.stderr}")


def test_promtool_rule_unit_tests_pass():
    tests = sorted(glob.glob(os.path.join(du.RULE_TESTS_DIR, "*_test.yml")))
    check(len(tests) >= 3, f"rule test files: {tests}")
    r = du.promtool("test", "rules", *tests, cwd=du.RULE_TESTS_DIR)
    check(r.returncode == 0, f"promtool test rules failed:\n{r.stdout}{r.stderr}")
    check(r.stdout.count("SUCCESS") == len(tests), r.stdout)


def _alert_tests():
    """[(alertname, [expected alert label dicts])] for every alert_rule_test in tests/deploy."""
    out = []
    for path in glob.glob(os.path.join(du.RULE_TESTS_DIR, "*_test.yml")):
        for t in du.load_yaml(path)["tests"]:
            for a in t.get("alert_rule_test", []):
                out.append((a["alertname"], [e.get("exp_labels", {}) for e in a.get("exp_alerts") or []],
                            [e.get("exp_annotations", {}) for e in a.get("exp_alerts") or []]))
    return out


def test_every_alert_is_tested_firing_and_silent():
    tests = _alert_tests()
    for rule in du.alert_rules():
        name, severity = rule["alert"], rule["labels"]["severity"]
        fired = [labels for n, exp, _ in tests if n == name for labels in exp if labels.get("severity") == severity]
        silent = [n for n, exp, _ in tests if n == name and not exp]
        check(fired, f"no promtool test shows {name} (severity {severity}) firing")
        check(silent, f"no promtool test shows {name} silent")


def test_tests_check_every_annotation_of_the_rule():
    annotations = {}
    for rule in du.alert_rules():
        annotations.setdefault(rule["alert"], set()).update(rule["annotations"].keys())
    for name, _, exp_annotations in _alert_tests():
        for ann in exp_annotations:
            check(set(ann) == annotations[name], f"{name}: test checks {sorted(ann)}, rule has {sorted(annotations[name])}")


def test_seed_alerts_keep_the_spec_names_for_labels_and_summary():
    rules = {r["alert"]: r for r in du.alert_rules()}
    for name, (for_, severity, summary) in SEED_ALERTS.items():
        check(name in rules, f"seed alert {name} missing")
        r = rules[name]
        check(r.get("for") == for_, f"{name}: for {r.get('for')} != {for_}")
        check(r["labels"].get("severity") == severity, f"{name}: severity {r['labels']}")
        check(r["annotations"].get("summary") == summary, f"{name}: summary {r['annotations'].get('summary')!r}")
    # The corrections: rates summed across series; the quantile over summed per-bucket rates.
    check(rules["HighFloodWaitRate"]["expr"].strip().startswith("sum(rate(telethon_floodwait_total[5m]))"),
          rules["HighFloodWaitRate"]["expr"])
    check(re.search(r"histogram_quantile\(0\.95,\s*sum by \(le\) \(rate\(telethon_session_cleanup_duration_seconds_bucket\[5m\]\)\)",
                    rules["SlowSessionCleanup"]["expr"]), rules["SlowSessionCleanup"]["expr"])


def test_slow_cleanup_and_every_burn_rate_alert_have_a_volume_guard():
    # One slow cleanup or one failed login must not page: each of these alerts also asks for a minimum
    # number of events (the numbers are pinned by the promtool tests; docs/slo.md says why).
    for r in du.alert_rules():
        if r["alert"] == "SlowSessionCleanup":
            check(re.search(r"\band\s+sum\(increase\(telethon_session_cleanup_duration_seconds_count\[5m\]\)\)\s*>=\s*20\b",
                            r["expr"]), r["expr"])
        elif r["alert"].endswith("BudgetBurn"):
            guard = {"critical": r"slo:sli_events:rate1h\{[^}]*\}\s*\*\s*3600\s*>=\s*100\b",
                     "warning": r"slo:sli_events:rate1d\{[^}]*\}\s*\*\s*86400\s*>=\s*500\b"}[r["labels"]["severity"]]
            check(re.search(r"\)\s*and on \(slo\)\s*" + guard, r["expr"]), f"{r['alert']}: {r['expr']}")


def _runbook_anchors():
    with open(os.path.join(du.DOCS, "runbooks.md")) as f:
        text = f.read()
    anchors = set()
    for m in re.finditer(r"^#+\s+(.+?)\s*$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_every_alert_has_severity_description_and_a_runbook_that_exists():
    anchors = _runbook_anchors()
    for r in du.alert_rules():
        name = r["alert"]
        check(r["labels"].get("severity") in ("critical", "warning"), f"{name}: severity {r['labels']}")
        ann = r["annotations"]
        check(ann.get("summary") and ann.get("description"), f"{name}: summary/description missing")
        url = ann.get("runbook_url", "")
        check(url.startswith("docs/runbooks.md#"), f"{name}: runbook_url {url!r}")
        check(url.split("#", 1)[1] in anchors, f"{name}: {url} has no heading in docs/runbooks.md ({sorted(anchors)})")


def test_slo_rules_record_every_window_and_the_budget():
    # A rule without an slo label computes its series for every SLO (the long windows and the budget).
    recorded = {(r["record"], r.get("labels", {}).get("slo")) for r in du.recording_rules()}
    for slo in SLOS:
        for name in [f"slo:sli_error:ratio_rate{w}" for w in WINDOWS] + ["slo:error_budget_remaining:ratio"]:
            check((name, slo) in recorded or (name, None) in recorded, f"{slo}: {name} not recorded")
        check(("slo:objective:ratio", slo) in recorded, f"{slo}: no objective")
    # The long windows are computed from the recorded 1h series, never from 1d+ of raw samples.
    for r in du.recording_rules():
        if r["record"] in {f"slo:sli_error:ratio_rate{w}" for w in LONG_WINDOWS} | {"slo:sli_events:rate1d"}:
            check(not du.metric_names_in(r["expr"]) - {"slo:sli_bad_events:rate1h", "slo:sli_events:rate1h"},
                  f"{r['record']} reads raw series: {r['expr']}")
    severities = {}
    for r in du.alert_rules():
        if r["alert"].endswith("BudgetBurn"):
            severities.setdefault(r["alert"], set()).add(r["labels"]["severity"])
    check(len(severities) == 3 and all(s == {"critical", "warning"} for s in severities.values()),
          f"burn-rate alerts: {severities}")


def test_rules_select_only_catalog_metrics_or_recorded_series():
    # The catalog's counters and histograms (with their _bucket/_sum/_count series), the service's own
    # gauges from the metric table of docs/telemetry.md, and the recorded series.
    known = (du.series_names(du.catalog_metrics()) | du.service_gauges() |
             {r["record"] for r in du.recording_rules()})
    for r in du.alert_rules() + du.recording_rules():
        unknown = du.metric_names_in(r["expr"]) - known
        check(not unknown, f"{r.get('alert') or r.get('record')}: unknown series {unknown}")


def test_prometheus_config_is_valid_and_its_rule_files_resolve():
    path = os.path.join(du.DEPLOY, "prometheus", "prometheus.yml")
    r = du.promtool("check", "config", path)
    check(r.returncode == 0, f"promtool check config:\n{r.stdout}{r.stderr}")
    check(f"SUCCESS: {len(du.RULE_FILES)} rule files found" in r.stdout, r.stdout)


def test_alertmanager_config_is_valid_and_routes_by_severity():
    path = os.path.join(du.DEPLOY, "alertmanager", "alertmanager.yml")
    r = subprocess.run(["amtool", "check-config", path], capture_output=True, text=True)
    check(r.returncode == 0, f"amtool check-config:\n{r.stdout}{r.stderr}")
    for labels, receiver in ((["severity=critical", "alertname=SlowSessionCleanup"], "oncall-pager"),
                             (["severity=warning", "alertname=HighFloodWaitRate"], "team-tickets")):
        r = subprocess.run(["amtool", "config", "routes", "test", f"--config.file={path}", *labels],
                           capture_output=True, text=True)
        check(r.returncode == 0 and r.stdout.strip() == receiver, f"{labels} -> {r.stdout!r} {r.stderr!r}")


def test_a_page_inhibits_the_ticket_of_the_same_slo_in_a_real_alertmanager():
    proc, url = du.start_alertmanager(os.path.join(du.DEPLOY, "alertmanager", "alertmanager.yml"))
    with proc:
        def alert(severity, slo):
            return {"labels": {"alertname": "QRAuthorizationErrorBudgetBurn", "severity": severity, "slo": slo},
                    "annotations": {"summary": "test"}}
        burn = [alert("critical", "qr_authorization_availability"), alert("warning", "qr_authorization_availability"),
                alert("warning", "session_cleanup_latency")]
        status, _, _ = harness.http_json("POST", url + "/api/v2/alerts", burn)
        check(status == 200, f"POST /api/v2/alerts: {status}")

        seen = {}

        def states():
            _, _, doc = harness.http_json("GET", url + "/api/v2/alerts")
            seen.clear()
            seen.update({(a["labels"]["severity"], a["labels"]["slo"]): a["status"]["state"] for a in doc})
            # Alertmanager can list an alert before it has applied the inhibition to it: poll until every
            # alert has left "unprocessed" and the ticket's state has settled, then check what it settled on.
            settled = len(seen) == 3 and "unprocessed" not in seen.values()
            return dict(seen) if settled and seen.get(("warning", "qr_authorization_availability")) == "suppressed" else None
        try:
            got = harness.wait_until(states, timeout=30, what="three alerts at Alertmanager, the ticket suppressed")
        except AssertionError:
            got = dict(seen)
            check(len(got) == 3, f"three alerts at Alertmanager: {got}")
        check(got[("critical", "qr_authorization_availability")] == "active", f"page: {got}")
        check(got[("warning", "qr_authorization_availability")] == "suppressed", f"ticket under the page: {got}")
        check(got[("warning", "session_cleanup_latency")] == "active", f"ticket of another SLO: {got}")


def test_a_real_prometheus_loads_and_evaluates_every_rule():
    with tempfile.TemporaryDirectory() as d:
        config = du.write_prometheus_config(d, evaluation_interval="1s")
        proc, url = du.start_prometheus(config)
        with proc:
            def evaluated():
                _, _, doc = harness.http_json("GET", url + "/api/v1/rules")
                rules = [r for g in doc["data"]["groups"] for r in g["rules"]]
                return rules if rules and all(r.get("health") == "ok" for r in rules) else None
            rules = harness.wait_until(evaluated, timeout=60, what="every rule evaluated with health ok")
            expected = len(du.alert_rules()) + len(du.recording_rules())
            check(len(rules) == expected, f"prometheus loaded {len(rules)} rules, files have {expected}")


if __name__ == "__main__":
    harness.main([
        test_promtool_check_rules_is_clean,
        test_promtool_rule_unit_tests_pass,
        test_every_alert_is_tested_firing_and_silent,
        test_tests_check_every_annotation_of_the_rule,
        test_seed_alerts_keep_the_spec_names_for_labels_and_summary,
        test_every_alert_has_severity_description_and_a_runbook_that_exists,
        test_slo_rules_record_every_window_and_the_budget,
        test_slow_cleanup_and_every_burn_rate_alert_have_a_volume_guard,
        test_rules_select_only_catalog_metrics_or_recorded_series,
        test_prometheus_config_is_valid_and_its_rule_files_resolve,
        test_alertmanager_config_is_valid_and_routes_by_severity,
        test_a_page_inhibits_the_ticket_of_the_same_slo_in_a_real_alertmanager,
        test_a_real_prometheus_loads_and_evaluates_every_rule,
    ])
