"""Helpers for the session-layer integration tests: `tgpulse serve` on tdsim with its control interface
and an OTLP capture collector, tenant "acme", QR-login steps, a second tenant, and the spans, metrics,
log lines and engine directories those tests check."""
import contextlib
import json
import os
import re
import secrets
import tempfile

import harness
import otlp_util
import serve_util

# The configuration of the FloodWait tests: td.verbosity 2 (the default, set explicitly) so TDLib's WARNING
# lines (absorbed flood waits) reach the engine, and the FloodWait policy's defaults spelled out.
FLOOD_CONFIG = """
td:
  verbosity: 2
flood:
  sleep_threshold: 60s
  request_retries: 5
"""

ADMIN_TOKEN = "admin-" + secrets.token_hex(16)
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def span_attr(span, key):
    for a in span.get("attributes", []):
        if a["key"] == key:
            v = a["value"]
            return int(v["intValue"]) if "intValue" in v else next(iter(v.values()))
    return None


def scrape_metric(base_url, name, **labels):
    """Sum of the samples of `name` in base_url's /metrics whose labels include `labels`."""
    status, _, raw = harness.http("GET", base_url + "/metrics")
    harness.check(status == 200, f"/metrics of {base_url}: {status}")
    total = 0.0
    for line in raw.decode().splitlines():
        m = _SAMPLE.match(line) if line and not line.startswith("#") else None
        if m and m.group(1) == name:
            lab = dict(_LABEL.findall(m.group(2) or ""))
            if all(lab.get(k) == str(w) for k, w in labels.items()):
                total += float(m.group(3))
    return total


class SessionStack:
    """The service on tdsim with tenant "acme" and no session yet. `qr_timeout` e.g. "5s"; `data_dir`
    reuses a data directory (a restart); `extra_env` adds environment variables; `config` is more YAML
    for the --config file (e.g. throttle and flood sections)."""

    def __init__(self, qr_timeout=None, profile=None, data_dir=None, extra_env=None, config=""):
        self._stack = contextlib.ExitStack()
        try:
            self.collector = self._stack.enter_context(otlp_util.CaptureCollector())
            self.dir = tempfile.mkdtemp(prefix="tgpulse-session-")
            cfg_path = os.path.join(self.dir, "tgpulse.yaml")
            with open(cfg_path, "w") as f:
                f.write((f"qr:\n  timeout: {qr_timeout}\n" if qr_timeout else "") + config)
            prof = {"latency_ms": {"min": 1, "max": 3}}
            prof.update(profile or {})
            prof_path = os.path.join(self.dir, "tdsim.json")
            with open(prof_path, "w") as f:
                json.dump(prof, f)
            control_port = harness.free_port()
            self.control_url = f"http://127.0.0.1:{control_port}"
            env = {
                "TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN,
                "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB,
                "TDSIM_CONTROL_ADDR": f"127.0.0.1:{control_port}",
                "TDSIM_PROFILE": prof_path,
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": self.collector.url(),
                "OTEL_BSP_SCHEDULE_DELAY": "100",
            }
            env.update(extra_env or {})
            self.service = self._stack.enter_context(
                serve_util.Service("--config", cfg_path, env=env, data_dir=data_dir))
            self.url = self.service.url
            harness.wait_http_ok(self.control_url + "/health", timeout=20)
            self.token = None
            status, _, doc = harness.http_json("POST", self.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
            if status == 201:
                self.token = doc["token"]
        except BaseException:
            self._stack.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stack.close()

    def auth(self):
        return {"Authorization": "Bearer " + self.token}

    def control(self, path, body):
        status, _, doc = harness.http_json("POST", self.control_url + path, body)
        harness.check(status == 200, f"control {path}: {status} {doc}")
        return doc

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        return scrape_metric(self.url, name, **labels)

    def logs(self, message):
        return [line for line in self.service.log_lines() if line.get("message") == message]

    def wait_logs(self, message, count, timeout=10):
        return harness.wait_until(lambda: len(self.logs(message)) >= count and self.logs(message),
                                  timeout=timeout, what=f"{count} log line(s) {message!r}")

    def spans(self, trace_id, name=None, timeout=15):
        """The spans of one trace (waits until one named `name`, when given, arrived)."""
        def found():
            out = []
            for body in self.collector.bodies("/v1/traces"):
                for rs in body.get("resourceSpans", []):
                    for ss in rs.get("scopeSpans", []):
                        out += [s for s in ss.get("spans", []) if s.get("traceId") == trace_id]
            if name is None:
                return out
            return out if any(s["name"] == name for s in out) else None
        return harness.wait_until(found, timeout=timeout, what=f"span {name} of trace {trace_id}")

    def sessions_dir(self):
        return os.path.join(os.path.abspath(self.service.data_dir), "sessions")

    def engine_dir(self, sid):
        return os.path.join(self.sessions_dir(), sid)

    def new_tenant(self, tenant_id):
        status, _, doc = harness.http_json("POST", self.url + "/v1/tenants", {"tenant_id": tenant_id}, ADMIN)
        harness.check(status == 201, f"tenant {tenant_id}: {status} {doc}")
        return {"Authorization": "Bearer " + doc["token"]}

    def start_login(self, trace_id=None, headers=None):
        """POST /v1/qr-logins; returns (doc, trace_id). The request carries a traceparent."""
        trace_id = trace_id or secrets.token_hex(16)
        hdrs = dict(headers or self.auth())
        hdrs["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        status, _, doc = harness.http_json("POST", self.url + "/v1/qr-logins", {}, hdrs)
        harness.check(status == 201, f"qr-login: {status} {doc}")
        return doc, trace_id

    def login_doc(self, sid, headers=None):
        return harness.http_json("GET", f"{self.url}/v1/qr-logins/{sid}", headers=headers or self.auth())

    def authorized_session(self):
        """A new session, logged in: starts a QR login, accepts its scan, waits until it is authorized;
        returns its id."""
        doc, _ = self.start_login()
        sid = doc["session_id"]
        self.scan(sid, "accept")
        self.wait_status(sid, "authorized")
        return sid

    def wait_status(self, sid, status, timeout=30):
        def ok():
            code, _, doc = self.login_doc(sid)
            return code == 200 and doc["status"] == status and doc
        return harness.wait_until(ok, timeout=timeout, what=f"session {sid} {status}")

    def wait_gone(self, sid, timeout=30):
        harness.wait_until(lambda: self.login_doc(sid)[0] == 404, timeout=timeout, what=f"session {sid} cleaned up")

    def current_link(self, sid):
        return harness.wait_until(lambda: self.login_doc(sid)[2].get("link"), timeout=20, what="QR link")

    def scan(self, sid, outcome, password=None):
        body = {"link": self.current_link(sid), "outcome": outcome}
        if password is not None:
            body["password"] = password
        return self.control("/scan", body)

    def qr_metric(self, status):
        return self.metric("telethon_qr_session_total", status=status)


def check_span_tree(stack, trace_id, sid, tenant="acme"):
    """The QR login spans of a trace: telethon_qr_login under the request's server span, with its three
    children; every one with the seed's attributes and no QR link anywhere."""
    spans = stack.spans(trace_id, name="telethon_qr_login", timeout=30)
    by_name = {s["name"]: s for s in spans}
    root = by_name["telethon_qr_login"]
    parent = [s for s in spans if s["spanId"] == root.get("parentSpanId")]
    harness.check(parent and parent[0]["kind"] in (2, "SPAN_KIND_SERVER"), f"telethon_qr_login is not under the server span: {root}")
    for child in ("telethon_connect", "telethon_qr_generate", "telethon_qr_wait"):
        harness.check(child in by_name, f"{child} missing: {sorted(by_name)}")
        harness.check(by_name[child]["parentSpanId"] == root["spanId"], f"{child} not under telethon_qr_login")
    for name in ("telethon_qr_login", "telethon_connect", "telethon_qr_generate", "telethon_qr_wait"):
        s = by_name[name]
        harness.check(span_attr(s, "telethon.operation") == "qr_login", f"{name} operation")
        harness.check(span_attr(s, "telethon.tenant_id") == tenant, f"{name} tenant")
        harness.check(span_attr(s, "telethon.session_id") == sid, f"{name} session")
        harness.check("tg://" not in str(s), f"{name} carries the QR link")
    return by_name
