"""End to end over HTTP against `tgpulse serve` on tdsim, driven through tdsim's control interface:
every QR login outcome with its metrics, log lines and spans."""
import http.client
import json
import os

import harness
import session_util
from session_util import SessionStack


def test_scan_authorizes():
    with SessionStack() as st:
        doc, trace_id = st.start_login()
        sid = doc["session_id"]
        for key in ("session_id", "status", "link", "expires_at", "qr_svg_url", "page_url"):
            harness.check(key in doc, f"{key} missing from {doc}")
        harness.check(doc["status"] == "qr_pending", doc)
        harness.check(doc["link"].startswith("tg://login?token="), "no link in the answer")
        status, hdrs, svg = harness.http("GET", st.url + doc["qr_svg_url"], headers=st.auth())
        harness.check(status == 200 and hdrs["content-type"].startswith("image/svg+xml") and b"<svg" in svg,
                      f"qr.svg: {status}")
        st.scan(sid, "accept")
        st.wait_status(sid, "authorized")
        harness.check(st.qr_metric("created") == 1 and st.qr_metric("authorized") == 1, "qr funnel")
        harness.check(st.qr_metric("expired") == 0 and st.qr_metric("failed") == 0, "qr funnel failures")
        code, _, listed = harness.http_json("GET", st.url + "/v1/sessions", headers=st.auth())
        harness.check(code == 200 and [s["session_id"] for s in listed["sessions"]] == [sid], listed)
        harness.check(os.path.isdir(st.engine_dir(sid)), "no engine directory for an authorized session")
        session_util.check_span_tree(st, trace_id, sid)
        harness.check("tg://login" not in st.service.stdout(), "the QR link reached the log")


def test_two_factor_wrong_then_right_password():
    with SessionStack() as st:
        doc, _ = st.start_login()
        sid = doc["session_id"]
        st.scan(sid, "password", password="correct horse")
        waiting = st.wait_status(sid, "password_required")
        harness.check(waiting.get("password_hint"), f"no hint: {waiting}")
        url = f"{st.url}/v1/qr-logins/{sid}/password"
        code, _, err = harness.http_json("POST", url, {"password": "battery staple"}, st.auth())
        harness.check(code == 422, f"wrong password: {code} {err}")
        harness.check(st.login_doc(sid)[2]["status"] == "password_required", "left password_required")
        code, _, _ = harness.http_json("POST", url, {"password": 42}, st.auth())
        harness.check(code == 400, f"password of the wrong type: {code}")
        code, _, ok = harness.http_json("POST", url, {"password": "correct horse"}, st.auth())
        harness.check(code == 200, f"right password: {code} {ok}")
        st.wait_status(sid, "authorized")
        harness.check(st.qr_metric("authorized") == 1, "authorized not counted")
        out = st.service.stdout()
        harness.check("correct horse" not in out and "battery staple" not in out, "a password reached the log")


def test_declined_is_counted_as_declined_and_cleaned():
    with SessionStack() as st:
        doc, _ = st.start_login()
        sid = doc["session_id"]
        st.scan(sid, "decline")
        st.wait_gone(sid)
        harness.check(st.qr_metric("declined") == 1, "declined not counted")
        harness.check(st.qr_metric("failed") == 0, "an end user's decline counts as failed (it would page)")
        lines = st.wait_logs("Session cleanup completed", 1)
        harness.check(lines[0]["trigger"] == "qr_failed" and lines[0]["status"] == "success", lines[0])
        harness.check(lines[0]["tenant_id"] == "acme" and lines[0]["session_id"] == sid, lines[0])
        harness.check(not os.path.exists(st.engine_dir(sid)), "engine directory left behind")
        harness.check(st.metric("telethon_session_cleanup_total", status="success") == 1, "cleanup not counted")


def test_never_scanned_expires_at_the_deadline():
    with SessionStack(qr_timeout="5s") as st:
        doc, trace_id = st.start_login()
        sid = doc["session_id"]
        st.wait_gone(sid, timeout=20)
        harness.check(st.metric("telethon_qr_timeout_total") == 1, "qr_timeout_total")
        harness.check(st.qr_metric("expired") == 1, "expired not counted")
        timeout = st.wait_logs("QR session timeout", 1)[0]
        harness.check(timeout["log.level"] == "warn", timeout)
        harness.check(timeout["tenant_id"] == "acme" and timeout["session_id"] == sid, timeout)
        harness.check(5.0 <= float(timeout["duration"]) < 8.0, f"duration {timeout['duration']}")
        cleaned = st.wait_logs("Session cleanup completed", 1)[0]
        harness.check(cleaned["trigger"] == "qr_expired", cleaned)
        harness.check(not os.path.exists(st.engine_dir(sid)), "engine directory left behind")
        harness.check(st.metric("telethon_session_cleanup_duration_seconds_count") == 1, "cleanup duration")
        spans = session_util.check_span_tree(st, trace_id, sid)
        harness.check(spans["telethon_qr_login"].get("status", {}).get("code") in (2, "STATUS_CODE_ERROR"),
                      "an expired login is not an error span")


def test_delete_session_with_and_without_logout():
    with SessionStack() as st:
        sids = []
        for _ in range(2):
            doc, _ = st.start_login()
            st.scan(doc["session_id"], "accept")
            st.wait_status(doc["session_id"], "authorized")
            sids.append(doc["session_id"])
        code, _, _ = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sids[0]}?logout=maybe", headers=st.auth())
        harness.check(code == 400, f"bad logout value: {code}")
        harness.check(st.login_doc(sids[0])[2]["status"] == "authorized", "a bad request changed the session")
        for sid, logout in zip(sids, ("true", "false")):
            code, _, doc = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sid}?logout={logout}",
                                             headers=st.auth())
            harness.check(code == 200 and doc["status"] == "closed", f"delete: {code} {doc}")
            harness.check(not os.path.exists(st.engine_dir(sid)), "engine directory left behind")
            harness.check(st.login_doc(sid)[0] == 404, "deleted session still answers")
        harness.check(st.metric("telethon_session_cleanup_total", status="success") == 2, "cleanups")
        lines = st.wait_logs("Session cleanup completed", 2)
        harness.check(all(line["trigger"] == "delete" for line in lines), lines)


def test_cancel_login():
    with SessionStack() as st:
        doc, _ = st.start_login()
        sid = doc["session_id"]
        code, _, out = harness.http_json("DELETE", f"{st.url}/v1/qr-logins/{sid}", headers=st.auth())
        harness.check(code == 200 and out["status"] == "cancelled", f"cancel: {code} {out}")
        harness.check(st.login_doc(sid)[0] == 404, "cancelled login still answers")
        harness.check(st.qr_metric("cancelled") == 1, "cancelled not counted")
        harness.check(st.qr_metric("failed") == 0, "a tenant's cancel counts as failed (it would page)")


def test_restart_counts_the_interrupted_login_not_failed():
    # A login the process dies in the middle of (kill -9: no graceful shutdown) is found in the store at
    # the next start; it cannot finish there (its TDLib client died) and ends as interrupted.
    with SessionStack() as first:
        doc, _ = first.start_login()
        sid = doc["session_id"]
        first.current_link(sid)
        data_dir = first.service.data_dir
        first.service.kill9()
        with SessionStack(data_dir=data_dir) as again:
            harness.check(again.qr_metric("interrupted") == 1, "the interrupted login is not counted")
            harness.check(again.qr_metric("failed") == 0, "a restart counts as failed (a deploy would page)")
            line = again.wait_logs("Session cleanup completed", 1)[0]
            harness.check(line["session_id"] == sid and line["trigger"] == "restart", line)
            harness.check(not os.path.exists(again.engine_dir(sid)), "engine directory left behind")


def read_events(resp, until):
    """(event, data) pairs from an SSE response until an event named in `until` (inclusive)."""
    out, name, data = [], None, []
    while True:
        line = resp.fp.readline().decode()
        harness.check(line != "", f"stream ended after {out}")
        line = line.rstrip("\r\n")
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and name:
            out.append((name, json.loads("\n".join(data))))
            if name in until:
                return out
            name, data = None, []


def test_event_stream_follows_the_login():
    with SessionStack() as st:
        doc, _ = st.start_login()
        sid = doc["session_id"]
        conn = http.client.HTTPConnection("127.0.0.1", st.service.port, timeout=30)
        conn.request("GET", f"/v1/qr-logins/{sid}/events", headers=st.auth())
        resp = conn.getresponse()
        harness.check(resp.status == 200 and resp.getheader("Content-Type").startswith("text/event-stream"),
                      f"events: {resp.status}")
        first = read_events(resp, {"state"})
        harness.check(first[0][1]["status"] == "qr_pending" and first[0][1]["simulator"] is True, first)
        st.scan(sid, "password", password="pw")
        events = read_events(resp, {"password_required"})
        harness.check(events[-1][1]["hint"], f"no hint: {events}")
        code, _, _ = harness.http_json("POST", f"{st.url}/v1/qr-logins/{sid}/password", {"password": "pw"}, st.auth())
        harness.check(code == 200, f"password: {code}")
        events = read_events(resp, {"authorized", "failed", "expired"})
        harness.check(events[-1][0] == "authorized", f"stream ended with {events}")
        conn.close()


if __name__ == "__main__":
    harness.main([test_scan_authorizes, test_two_factor_wrong_then_right_password,
                  test_declined_is_counted_as_declined_and_cleaned, test_never_scanned_expires_at_the_deadline,
                  test_delete_session_with_and_without_logout, test_cancel_login,
                  test_restart_counts_the_interrupted_login_not_failed, test_event_stream_follows_the_login])
