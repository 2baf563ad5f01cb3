"""FloodWaits met outside invoke, against tdsim: the QR login's start (requestQrCodeAuthentication), the
2FA password check and cleanup's logOut, plus a wait TDLib absorbs during a login. Each one must be
counted (telethon_floodwait_total / _duration_seconds), logged as the seed's "FloodWait detected" with
seconds, delay, tenant_id, operation, session_id and the trace id, and set telethon.floodwait_seconds on
the span of the operation; a short wait is slept and the call repeated where that is safe."""
import secrets
import time

import harness
from session_util import FLOOD_CONFIG as CONFIG
from session_util import SessionStack, span_attr

QR = "requestQrCodeAuthentication"


def floodwait_lines(st, operation):
    return [line for line in st.logs("FloodWait detected") if line.get("operation") == operation]


def check_seed_fields(line, seconds, delay, sid, trace_id=None):
    harness.check(line["log.level"] == "warn", f"level: {line}")
    harness.check(line["seconds"] == seconds and line["delay"] == delay, f"seconds/delay: {line}")
    harness.check(line["tenant_id"] == "acme" and line["session_id"] == sid, f"ids: {line}")
    if trace_id is not None:
        harness.check(line.get("trace.id") == trace_id, f"trace.id {line.get('trace.id')} != {trace_id}")


def span_named(st, trace_id, name):
    return next(s for s in st.spans(trace_id, name) if s["name"] == name)


def test_qr_login_waits_out_a_short_flood_wait_and_authorizes():
    with SessionStack(config=CONFIG) as st:
        # A 429 although short: a query whose earlier waits used up TDLib's own 60 s.
        st.control("/flood", {"method": QR, "seconds": 2, "answer": "error"})
        started = time.monotonic()
        doc, trace_id = st.start_login()
        sid = doc["session_id"]
        st.current_link(sid)
        harness.check(time.monotonic() - started >= 1.9, "the link came before the FloodWait was waited out")
        st.scan(sid, "accept")
        st.wait_status(sid, "authorized")
        harness.check(st.qr_metric("authorized") == 1 and st.qr_metric("failed") == 0, "qr funnel")
        harness.check(st.metric("telethon_floodwait_total", reason=QR, seconds="5") == 1,
                      "telethon_floodwait_total{reason=requestQrCodeAuthentication,seconds=5}")
        harness.check(st.metric("telethon_floodwait_duration_seconds_sum", reason=QR) == 2,
                      "the wait Telegram asked for was not observed")
        harness.check(st.metric("telethon_requests_total", method=QR, status="flood_wait") == 1, "requests flood_wait")
        harness.check(st.metric("telethon_requests_total", method=QR, status="success") == 1, "the retry")
        line = harness.wait_until(lambda: floodwait_lines(st, "qr_login"), timeout=10, what="qr_login FloodWait line")
        check_seed_fields(line[-1], 2, 2, sid, trace_id)
        harness.check(line[-1].get("td.method") == QR, f"td.method: {line[-1]}")
        for name in ("telethon_qr_login", "telethon_qr_generate"):
            span = span_named(st, trace_id, name)
            harness.check(span_attr(span, "telethon.floodwait_seconds") == 2, f"{name} attributes: {span}")
        generate = span_named(st, trace_id, "telethon_qr_generate")
        actions = [span_attr({"attributes": e.get("attributes", [])}, "action") for e in generate.get("events", [])
                   if e["name"] == "floodwait"]
        harness.check(actions == ["sleep_and_retry"], f"floodwait events: {generate.get('events')}")


def test_qr_login_fails_fast_on_a_long_flood_wait():
    with SessionStack(config=CONFIG) as st:
        st.control("/flood", {"method": QR, "seconds": 300})
        started = time.monotonic()
        doc, trace_id = st.start_login()
        sid = doc["session_id"]
        st.wait_gone(sid)
        harness.check(time.monotonic() - started < 10, "a wait beyond the threshold was slept")
        harness.check(st.qr_metric("failed") == 1 and st.qr_metric("authorized") == 0, "qr funnel")
        harness.check(st.metric("telethon_floodwait_total", reason=QR, seconds="300") == 1,
                      "telethon_floodwait_total{reason=requestQrCodeAuthentication,seconds=300}")
        harness.check(st.metric("telethon_floodwait_duration_seconds_sum", reason=QR) == 300,
                      "a wait that failed fast was not observed")
        harness.check(st.metric("telethon_requests_total", method=QR) == 1, "the request was repeated")
        line = harness.wait_until(lambda: floodwait_lines(st, "qr_login"), timeout=10, what="qr_login FloodWait line")
        check_seed_fields(line[-1], 300, 0, sid, trace_id)
        root = span_named(st, trace_id, "telethon_qr_login")
        harness.check(span_attr(root, "telethon.floodwait_seconds") == 300, f"root attributes: {root}")
        harness.check(root.get("status", {}).get("code") in (2, "STATUS_CODE_ERROR"), f"status: {root.get('status')}")


def test_absorbed_wait_during_a_login_names_the_tenant_and_session():
    with SessionStack(config=CONFIG) as st:
        st.control("/flood", {"method": QR, "seconds": 1})  # within TDLib's limit: absorbed, logged by TDLib
        doc, _ = st.start_login()
        sid = doc["session_id"]
        st.current_link(sid)
        line = harness.wait_until(lambda: floodwait_lines(st, "engine"), timeout=10, what="engine FloodWait line")
        check_seed_fields(line[-1], 1, 1, sid)
        harness.check(line[-1].get("td.total_wait") == 1 and "td.client_id" in line[-1], f"td fields: {line[-1]}")
        harness.check(st.metric("telethon_floodwait_total", reason="engine", seconds="1") == 1, "engine count")
        harness.check(st.metric("telethon_floodwait_total", reason=QR) == 0, "counted twice")


def test_password_flood_wait_answers_429_and_is_reported():
    with SessionStack(config=CONFIG) as st:
        doc, _ = st.start_login()
        sid = doc["session_id"]
        st.scan(sid, "password", password="pw")
        st.wait_status(sid, "password_required")
        st.control("/flood", {"method": "checkAuthenticationPassword", "seconds": 30, "answer": "error"})
        url = f"{st.url}/v1/qr-logins/{sid}/password"
        trace_id = secrets.token_hex(16)
        hdrs = dict(st.auth())
        hdrs["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        code, headers, err = harness.http_json("POST", url, {"password": "pw"}, hdrs)
        harness.check(code == 429 and headers.get("retry-after") == "30", f"password: {code} {headers} {err}")
        harness.check(st.login_doc(sid)[2]["status"] == "password_required", "left password_required")
        harness.check(st.metric("telethon_floodwait_total", reason="checkAuthenticationPassword", seconds="30") == 1,
                      "telethon_floodwait_total{reason=checkAuthenticationPassword}")
        line = harness.wait_until(lambda: floodwait_lines(st, "qr_password"), timeout=10, what="qr_password line")
        check_seed_fields(line[-1], 30, 0, sid, trace_id)
        harness.check("pw\"" not in str(line[-1]), "the password reached the log")
        # The flooded attempt never reached Telegram's check, so it spent none of the login's 5 attempts.
        code, _, err = harness.http_json("POST", url, {"password": "not-it"}, st.auth())
        harness.check(code == 422 and err.get("error", {}).get("attempts_left") == 4, f"wrong password after the wait: {code} {err}")
        code, _, _ = harness.http_json("POST", url, {"password": "pw"}, st.auth())
        harness.check(code == 200, f"password after the wait: {code}")
        st.wait_status(sid, "authorized")


def test_cleanup_logout_waits_out_a_flood_wait():
    with SessionStack(config=CONFIG) as st:
        sid = st.authorized_session()
        st.control("/flood", {"method": "logOut", "seconds": 2, "answer": "error"})
        trace_id = secrets.token_hex(16)
        hdrs = dict(st.auth())
        hdrs["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
        started = time.monotonic()
        code, _, out = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sid}?logout=true", headers=hdrs)
        harness.check(code == 200 and out["status"] == "closed", f"delete: {code} {out}")
        harness.check(time.monotonic() - started >= 1.9, "logOut was not repeated after the wait")
        harness.check(st.metric("telethon_requests_total", method="logOut", status="success") == 1, "logOut retried")
        harness.check(st.metric("telethon_requests_total", method="close") == 0, "fell back to close")
        harness.check(st.metric("telethon_floodwait_total", reason="logOut", seconds="5") == 1,
                      "telethon_floodwait_total{reason=logOut}")
        harness.check(st.metric("telethon_session_cleanup_total", status="success") == 1, "cleanup success")
        line = harness.wait_until(lambda: floodwait_lines(st, "session_cleanup"), timeout=10, what="cleanup line")
        check_seed_fields(line[-1], 2, 2, sid, trace_id)
        span = span_named(st, trace_id, "telethon_session_cleanup")
        harness.check(span_attr(span, "telethon.floodwait_seconds") == 2, f"cleanup span: {span}")


if __name__ == "__main__":
    harness.main([test_qr_login_waits_out_a_short_flood_wait_and_authorizes,
                  test_qr_login_fails_fast_on_a_long_flood_wait,
                  test_absorbed_wait_during_a_login_names_the_tenant_and_session,
                  test_password_flood_wait_answers_429_and_is_reported,
                  test_cleanup_logout_waits_out_a_flood_wait])
