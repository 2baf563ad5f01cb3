"""The session layer on the real libtdjson (TDLib 1.8.67), offline: a QR login reaches TDLib's
waiting-for-network state (requestQrCodeAuthentication never answers without Telegram, so no link
comes), and cancelling it closes the client (authorizationStateClosed) and removes its directory. A phone
login's setAuthenticationPhoneNumber cannot reach Telegram either: it fails within
sessions.engine_request_timeout and the login is cleaned up."""
import time
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


def test_phone_login_offline_fails_in_bounded_time_and_cleans_up():
    if not os.path.exists(harness.TDJSON_LIB):
        raise AssertionError(f"{harness.TDJSON_LIB} is missing: run scripts/install-deps.sh")
    env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDJSON_LIB,
           "TGPULSE_SESSIONS_ENGINE_REQUEST_TIMEOUT": "3s"}
    with serve_util.Service(env=env) as svc:
        code, _, tenant = harness.http_json("POST", svc.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
        harness.check(code == 201, f"tenant: {code}")
        auth = {"Authorization": "Bearer " + tenant["token"]}
        started = time.monotonic()
        code, _, doc = harness.http_json("POST", svc.url + "/v1/phone-logins", {"phone_number": "+99966 2 1234"},
                                         auth, timeout=60)
        took = time.monotonic() - started
        # TDLib accepted the number in WaitPhoneNumber and waits for the network: the engine request
        # times out (504), and the login is ended rather than left waiting half-created.
        harness.check(code == 504 and doc["error"]["code"] == "timeout", f"phone-login offline: {code} {doc}")
        harness.check(took < 20, f"the answer took {took:.1f} s")
        code, _, listed = harness.http_json("GET", svc.url + "/v1/sessions", headers=auth)
        harness.check(code == 200 and listed["sessions"] == [], f"the login was left behind: {listed}")
        sessions_dir = os.path.join(os.path.abspath(svc.data_dir), "sessions")
        harness.wait_until(lambda: not os.listdir(sessions_dir) if os.path.isdir(sessions_dir) else True,
                           timeout=20, what="the TDLib directory removed")

        def cleanup_lines():
            return [l for l in svc.log_lines() if l.get("message") == "Session cleanup completed"] or None
        lines = harness.wait_until(cleanup_lines, timeout=10, what="the 'Session cleanup completed' log line")
        harness.check(lines[0]["trigger"] == "phone_failed", f"cleanup log: {lines}")
        harness.check("99966" not in svc.stdout(), "the phone number reached the log")


def test_a_proxy_is_added_before_authorization_and_pinged():
    if not os.path.exists(harness.TDJSON_LIB):
        raise AssertionError(f"{harness.TDJSON_LIB} is missing: run scripts/install-deps.sh")
    env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDJSON_LIB,
           "TGPULSE_PROXY_PING_INTERVAL": "1s", "TGPULSE_PROXY_PING_TIMEOUT": "3s"}
    dead_port = harness.free_port()  # nothing listens there: the proxy is unreachable
    proxy = {"type": "socks5", "server": "127.0.0.1", "port": dead_port, "username": "u", "password": "pw-offline"}
    with serve_util.Service(env=env) as svc:
        code, _, tenant = harness.http_json("POST", svc.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
        harness.check(code == 201, f"tenant: {code}")
        auth = {"Authorization": "Bearer " + tenant["token"]}
        code, _, doc = harness.http_json("POST", svc.url + "/v1/qr-logins", {"proxy": proxy}, auth, timeout=30)
        # TDLib took addProxy in authorizationStateWaitPhoneNumber, before any request to Telegram: a
        # refusal would have failed the login with "proxy: TDLib refused it".
        harness.check(code == 201 and doc["status"] == "qr_pending", f"qr-login with a proxy: {code} {doc}")
        harness.check(doc["proxy"]["port"] == dead_port and not doc.get("error"), doc)
        sid = doc["session_id"]

        def unreachable():
            d = harness.http_json("GET", f"{svc.url}/v1/sessions/{sid}", headers=auth)[2]
            return (d.get("proxy") or {}).get("status", {}).get("state") == "unreachable" and d
        d = harness.wait_until(unreachable, timeout=30, what="the real TDLib's ping of a dead proxy")
        harness.check(d["proxy"]["status"]["error"], d)
        code, _, _ = harness.http_json("DELETE", f"{svc.url}/v1/qr-logins/{sid}", headers=auth, timeout=60)
        harness.check(code == 200, f"cancel: {code}")
        harness.check("pw-offline" not in svc.stdout(), "the proxy password reached the log")


if __name__ == "__main__":
    harness.main([test_qr_login_waits_for_network_then_cleans_up,
                  test_phone_login_offline_fails_in_bounded_time_and_cleans_up,
                  test_a_proxy_is_added_before_authorization_and_pinged])
