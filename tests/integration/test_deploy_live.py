"""The operations bundle against the running service: tgpulse on tdsim under a FloodWait storm and slow
cleanups, scraped by a real Prometheus that evaluates the shipped rules and notifies a real
Alertmanager (shipped config).

- HighFloodWaitRate and SlowSessionCleanup arrive at Alertmanager's /api/v2/alerts (the rule
  expressions and `for` are the shipped ones; only scrape and evaluation run every second);
- each of the spec's four dashboard panels returns data (a non-zero value) for that Prometheus;
- every field of every log line the service wrote is mapped in the index template with a type that
  fits its JSON value, and every ECS field's value fits the type @elastic/ecs gives it.
"""
import json
import os
import tempfile
import threading
import time

import deploy_util as du
import harness
from harness import check

ADMIN_TOKEN = "live-test-admin-token-0123456789abcdef"
# SlowSessionCleanup asks for at least 20 cleanups in 5 minutes (its volume guard), so 22 are made slow.
SLOW_CLEANUPS = 22
STORM_WORKERS = 3
SESSIONS = SLOW_CLEANUPS + STORM_WORKERS  # logged in; the first ones are cleaned up slowly, the rest storm
NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
STRINGY = {"keyword", "constant_keyword", "wildcard", "text", "match_only_text", "date", "date_nanos", "ip"}
SEED_PANELS = ["FloodWait Events", "Session Cleanup Duration", "QR Session Funnel", "Rate Limiting"]
# Fast everything while logging in; cleanups are made slow later through the control port.
PROFILE = {"seed": 11, "latency_ms": {"min": 1, "max": 5}, "auth_latency_ms": {"min": 0, "max": 2},
           "qr": {"scan_probability": 0}}


class Service:
    def __init__(self, workdir):
        self.port = harness.free_port()
        self.control_port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.control = f"http://127.0.0.1:{self.control_port}"
        profile = os.path.join(workdir, "profile.json")
        with open(profile, "w") as f:
            json.dump(PROFILE, f)
        self.proc = harness.Proc([harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{self.port}",
                                  "--data-dir", os.path.join(workdir, "data"), "--td-library", harness.TDSIM_LIB],
                                 # verbosity 2: TDLib's WARNING lines, where absorbed flood waits are reported
                                 env={"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TDSIM_PROFILE": profile,
                                      "TGPULSE_TD_VERBOSITY": "2",
                                      "TDSIM_CONTROL_ADDR": f"127.0.0.1:{self.control_port}"}, name="tgpulse")
        try:
            harness.wait_http_ok(self.url + "/healthz", timeout=60)
        except AssertionError:
            self.proc.stop()
            raise AssertionError("tgpulse did not start:\n" + self.proc.stderr()[-3000:] + self.proc.stdout()[-3000:])

    def api(self, method, path, token, body=None):
        return harness.http_json(method, self.url + path, body, {"Authorization": f"Bearer {token}"}, timeout=30)

    def tdsim(self, path, body):
        status, _, doc = harness.http_json("POST", self.control + path, body)
        check(status == 200, f"tdsim {path} {body}: {status} {doc}")
        return doc

    def login(self, token):
        status, _, created = self.api("POST", "/v1/qr-logins", token, {})
        check(status == 201, f"POST /v1/qr-logins: {status} {created}")
        self.tdsim("/scan", {"link": created["link"], "outcome": "accept"})
        sid = created["session_id"]
        harness.wait_until(lambda: self.api("GET", f"/v1/qr-logins/{sid}", token)[2]["status"] == "authorized",
                           timeout=30, what=f"login {sid} authorized")
        return sid


def storm(service, token, session_id, stop, errors):
    """Forces a FloodWait (1 s, absorbed inside the engine as TDLib does) on every getChats call."""
    while not stop.is_set():
        try:
            service.tdsim("/flood", {"method": "getChats", "seconds": 1})
            service.api("POST", f"/v1/sessions/{session_id}/invoke", token, {"@type": "getChats", "limit": 5})
        except Exception as e:  # noqa: BLE001 - collected and reported by the test
            errors.append(repr(e))
            time.sleep(0.5)


def active_alerts(am_url):
    status, _, doc = harness.http_json("GET", am_url + "/api/v2/alerts?active=true")
    check(status == 200, f"alertmanager /api/v2/alerts: {status}")
    return {a["labels"]["alertname"]: a for a in doc}


def seed_panel_queries():
    dash = json.load(open(os.path.join(du.DASHBOARD_DIR, "tgpulse.json")))
    panels = {p["title"]: p for p in dash["panels"] if p["type"] != "row"}
    subst = {"$__rate_interval": "5m", "$__range": "10m", "$job": ".*", "$instance": ".*"}
    out = {}
    for title in SEED_PANELS:
        exprs = []
        for t in panels[title]["targets"]:
            e = t["expr"]
            for k, v in subst.items():
                e = e.replace(k, v)
            exprs.append(e)
        out[title] = exprs
    return out


def check_log_fields_mapped(lines):
    mappings = json.load(open(os.path.join(du.DEPLOY, "elk", "elasticsearch", "index-template.json")))["template"]["mappings"]
    seen = {}
    for line in lines:
        for key, value in line.items():
            seen.setdefault(key, value)
    check({"FloodWait detected", "Session cleanup completed", "http request"} <= {ln.get("message") for ln in lines},
          "the service did not log the expected events")
    for key, value in sorted(seen.items()):
        node = du.template_field(mappings, key)
        check(node is not None, f"logged field {key!r} (e.g. {value!r}) is not mapped in the index template")
        kind = node.get("type", "object")
        if kind == "object":
            continue  # a dynamic object such as fields.*
        if isinstance(value, bool):
            check(kind == "boolean", f"{key}: boolean logged, mapped as {kind}")
        elif isinstance(value, (int, float)):
            check(kind in NUMERIC, f"{key}: number logged ({value}), mapped as {kind}")
        elif isinstance(value, str):
            check(kind in STRINGY, f"{key}: string logged, mapped as {kind}")
    # ECS fields carry the JSON kind of the type Elastic's @elastic/ecs gives them (test_deploy_ecs).
    problems = sorted(set(du.ecs_value_problems(lines, du.ecs_definitions(), mappings)))
    check(not problems, "log values that do not fit their ECS type:\n" + "\n".join(problems))
    return sorted(seen)


def test_alerts_reach_alertmanager_and_seed_panels_have_data():
    for path in (harness.TGPULSE, harness.TDSIM_LIB):
        check(os.path.exists(path), f"missing {path}")
    with tempfile.TemporaryDirectory() as work:
        service = Service(work)
        am, am_url = du.start_alertmanager(os.path.join(du.DEPLOY, "alertmanager", "alertmanager.yml"))
        prom_cfg = du.write_prometheus_config(work, scrape_targets=[f"127.0.0.1:{service.port}"],
                                              alertmanager=am_url.split("//", 1)[1],
                                              scrape_interval="1s", evaluation_interval="1s")
        prom, prom_url = du.start_prometheus(prom_cfg, extra=["--enable-feature=exemplar-storage"])
        stop = threading.Event()
        errors = []
        workers = []
        try:
            # Counters must be scraped at zero before the traffic, or increase() sees no change.
            harness.wait_until(lambda: du.prom_query(prom_url, 'telethon_qr_session_total{status="created"}')[1]
                               ["data"]["result"], timeout=60, what="a first scrape of tgpulse")
            status, _, tenant = harness.http_json("POST", service.url + "/v1/tenants", {"tenant_id": "live-ops"},
                                                  {"Authorization": f"Bearer {ADMIN_TOKEN}"})
            check(status == 201, f"POST /v1/tenants: {status} {tenant}")
            token = tenant["token"]
            sessions = [service.login(token) for _ in range(SESSIONS)]

            # Throttle hits: a burst on one session, more than its buckets hold.
            burst = [threading.Thread(target=service.api, args=("POST", f"/v1/sessions/{sessions[0]}/invoke", token,
                                                               {"@type": "getMe"})) for _ in range(40)]
            for t in burst:
                t.start()
            for t in burst:
                t.join()

            # Slow cleanups: TDLib-side logOut/close now take over 6 s.
            service.tdsim("/profile", {"auth_latency_ms": {"min": 6000, "max": 6500}})
            cleanups = [threading.Thread(target=service.api, args=("DELETE", f"/v1/sessions/{sid}?logout=true", token))
                        for sid in sessions[:SLOW_CLEANUPS]]
            for t in cleanups:
                t.start()

            # FloodWait storm on the other sessions.
            for i in range(STORM_WORKERS):
                w = threading.Thread(target=storm, args=(service, token, sessions[SLOW_CLEANUPS + i], stop, errors))
                w.start()
                workers.append(w)

            def both_alerts():
                alerts = active_alerts(am_url)
                return alerts if {"HighFloodWaitRate", "SlowSessionCleanup"} <= set(alerts) else None
            try:
                alerts = harness.wait_until(both_alerts, timeout=330, interval=2,
                                            what="HighFloodWaitRate and SlowSessionCleanup at Alertmanager")
            except AssertionError as e:
                _, firing = du.prom_query(prom_url, "ALERTS")
                _, floods = du.prom_query(prom_url, "sum(rate(telethon_floodwait_total[5m]))")
                raise AssertionError(f"{e}\nALERTS: {firing}\nFloodWait rate: {floods}\nstorm errors: {errors[:3]}")
            check(alerts["HighFloodWaitRate"]["labels"]["severity"] == "warning", alerts["HighFloodWaitRate"]["labels"])
            check(alerts["SlowSessionCleanup"]["labels"]["severity"] == "critical", alerts["SlowSessionCleanup"]["labels"])
            check(alerts["HighFloodWaitRate"]["annotations"]["summary"] == "High FloodWait rate detected", "summary")
            receivers = {r["name"] for a in alerts.values() for r in a["receivers"]}
            check(receivers == {"oncall-pager", "team-tickets"}, f"routed to {receivers}")
            for t in cleanups:
                t.join()

            for title, exprs in seed_panel_queries().items():
                values = []
                for expr in exprs:
                    status, doc = du.prom_query(prom_url, expr)
                    check(status == 200, f"{title}: {status} {doc}")
                    values += [float(r["value"][1]) for r in doc["data"]["result"]]
                check(any(v > 0 for v in values), f"seed panel {title!r} has no data: {exprs} -> {values}")
        finally:
            stop.set()
            for w in workers:
                w.join(timeout=30)
            prom.stop()
            am.stop()
            service.proc.stop()
        lines = service.proc.json_lines()
        fields = check_log_fields_mapped(lines)
        print(f"{len(lines)} log lines, fields: {', '.join(fields)}")
        print(f"storm request errors: {len(errors)} {errors[:3]}")


if __name__ == "__main__":
    harness.main([test_alerts_reach_alertmanager_and_seed_panels_have_data])
