"""The session layer on the real libtdjson (TDLib 1.8.67), offline: a QR login reaches TDLib's
waiting-for-network state (requestQrCodeAuthentication never answers without Telegram, so no link
comes), and cancelling it closes the client (authorizationStateClosed) and removes its directory."""
import os

import harness
import serve_util
from session_util import ADMIN, ADMIN_TOKEN


def test_qr_login_waits_for_network_then_cleans_up():
    if not os.path.exists(harness.TDJSON_LIB):
        raise AssertionError(f"{harness.TDJSON_LIB} is missing: run scripts/install-deps.sh")
    env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDJSON_LIB}
    with serve_util.Service(env=env) as svc:
        code, _, tenant = harness.http_json("POST", svc.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
        harness.check(code == 201, f"tenant: {code}")
        auth = {"Authorization": "Bearer " + tenant["token"]}
        code, _, doc = harness.http_json("POST", svc.url + "/v1/qr-logins", {}, auth, timeout=30)
        harness.check(code == 201, f"qr-login: {code} {doc}")
        sid = doc["session_id"]
        harness.check(doc["status"] == "qr_pending" and doc["link"] is None, f"offline TDLib showed a link: {doc}")
        engine_dir = os.path.join(os.path.abspath(svc.data_dir), "sessions", sid)
        harness.wait_until(lambda: os.path.isdir(engine_dir), timeout=20, what="TDLib database directory")
        state = harness.wait_until(
            lambda: harness.http_json("GET", f"{svc.url}/v1/qr-logins/{sid}", headers=auth)[2]
            .get("authorization_state") == "authorizationStateWaitPhoneNumber", timeout=20,
            what="authorizationStateWaitPhoneNumber")
        harness.check(state, "no waiting state")
        code, _, out = harness.http_json("DELETE", f"{svc.url}/v1/qr-logins/{sid}", headers=auth, timeout=60)
        harness.check(code == 200, f"cancel: {code} {out}")
        harness.check(not os.path.exists(engine_dir), "the TDLib directory is still there")
        # The logger writes asynchronously: the line may reach stdout a moment after the answer.
        def cleanup_lines():
            return [l for l in svc.log_lines() if l.get("message") == "Session cleanup completed"] or None
        lines = harness.wait_until(cleanup_lines, timeout=10, what="the 'Session cleanup completed' log line")
        harness.check(len(lines) == 1 and lines[0]["status"] == "success", f"cleanup log: {lines}")


if __name__ == "__main__":
    harness.main([test_qr_login_waits_for_network_then_cleans_up])
