"""Helpers for the invoke-path integration tests: `tgpulse serve` on tdsim with its control interface,
an OTLP capture collector, one tenant and QR-logged-in sessions; invoke calls on top of the session
tests' SessionStack (metrics, log lines, spans, control calls)."""
import contextlib
import json
import os
import secrets
import tempfile
import time

import harness
import otlp_util
import serve_util
from session_util import ADMIN_TOKEN, SessionStack, span_attr  # noqa: F401 - re-exported for the tests


class InvokeStack(SessionStack):
    """The service on tdsim with one tenant and `sessions` authorized sessions. `config` is the YAML
    given with --config (throttle and flood settings); `profile` a tdsim profile (dict)."""

    def __init__(self, config="", profile=None, sessions=1):
        self._stack = contextlib.ExitStack()
        try:
            self.collector = self._stack.enter_context(otlp_util.CaptureCollector())
            self.dir = tempfile.mkdtemp(prefix="tgpulse-invoke-")
            cfg_path = os.path.join(self.dir, "tgpulse.yaml")
            with open(cfg_path, "w") as f:
                f.write(config)
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
            self.service = self._stack.enter_context(serve_util.Service("--config", cfg_path, env=env))
            self.url = self.service.url
            harness.wait_http_ok(self.control_url + "/health", timeout=20)
            status, _, doc = harness.http_json("POST", self.url + "/v1/tenants", {"tenant_id": "acme"},
                                               {"Authorization": "Bearer " + ADMIN_TOKEN})
            harness.check(status == 201, f"tenant: {status} {doc}")
            self.tenant_id = "acme"
            self.token = doc["token"]
            self.sessions = [self.log_in() for _ in range(sessions)]
        except BaseException:
            self._stack.close()
            raise

    def log_in(self):
        status, _, doc = harness.http_json("POST", self.url + "/v1/qr-logins", {}, self.auth())
        harness.check(status == 201, f"qr-login: {status} {doc}")
        sid = doc["session_id"]

        def link():
            return harness.http_json("GET", f"{self.url}/v1/qr-logins/{sid}", headers=self.auth())[2].get("link")

        lnk = doc.get("link") or harness.wait_until(link, timeout=20, what="QR link")
        status, _, res = harness.http_json("POST", self.control_url + "/scan", {"link": lnk, "outcome": "accept"})
        harness.check(status == 200, f"scan: {status} {res}")

        def authorized():
            return harness.http_json("GET", f"{self.url}/v1/qr-logins/{sid}", headers=self.auth())[2]["status"] == "authorized"

        harness.wait_until(authorized, timeout=30, what=f"session {sid} authorized")
        return sid

    def invoke(self, session, function, deadline_ms=None, flood=None, trace_id=None, timeout=60):
        """POST /v1/sessions/{id}/invoke; returns (status, headers, doc, seconds, trace_id)."""
        query = []
        if deadline_ms is not None:
            query.append(f"deadline_ms={deadline_ms}")
        if flood is not None:
            query.append(f"flood={flood}")
        target = f"{self.url}/v1/sessions/{session}/invoke" + ("?" + "&".join(query) if query else "")
        trace_id = trace_id or secrets.token_hex(16)
        headers = dict(self.auth())
        headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        t0 = time.monotonic()
        status, hdrs, doc = harness.http_json("POST", target, function, headers, timeout=timeout)
        return status, hdrs, doc, time.monotonic() - t0, trace_id
