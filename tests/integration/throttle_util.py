"""Helpers for the invoke-path integration tests: `tgpulse serve` on tdsim with its control interface,
an OTLP capture collector, one tenant and QR-logged-in sessions; invoke calls on top of the session
tests' SessionStack (metrics, log lines, spans, control calls)."""
import secrets
import time

import harness
from session_util import ADMIN_TOKEN, SessionStack, span_attr  # noqa: F401 - re-exported for the tests


class InvokeStack(SessionStack):
    """The service on tdsim with one tenant and `sessions` authorized sessions. `config` is the YAML
    given with --config (throttle and flood settings); `profile` a tdsim profile (dict)."""

    def __init__(self, config="", profile=None, sessions=1):
        super().__init__(profile=profile, config=config)
        try:
            harness.check(self.token is not None, "tenant acme was not created")
            self.tenant_id = "acme"
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
