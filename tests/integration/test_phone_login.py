"""Phone-number login end to end over HTTP against `tgpulse serve` on tdsim (test numbers 99966XYYYY take
the code X five times): right code, wrong then right, code then 2FA, resend, an expired code,
PHONE_NUMBER_FLOOD → 429, refused numbers, the deadline — each with its metrics, log lines and spans, and
never the phone number or the code in a log line, a metric or a span."""
import http.client
import os
import secrets
import time

import harness
from session_util import SessionStack, span_attr
from test_e2e_qr_login import read_events

NUMBER = "+99966 2 1234"   # code 22222
DIGITS = "9996621234"
CODE = "22222"


def start(st, number=NUMBER, expect=201, trace_id=None):
    trace_id = trace_id or secrets.token_hex(16)
    hdrs = dict(st.auth())
    hdrs["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    body = {} if number is None else {"phone_number": number}
    status, headers, doc = harness.http_json("POST", st.url + "/v1/phone-logins", body, hdrs)
    harness.check(status == expect, f"phone-login: {status} {doc}")
    return doc, headers, trace_id


def doc_of(st, sid):
    return harness.http_json("GET", f"{st.url}/v1/phone-logins/{sid}", headers=st.auth())


def wait_status(st, sid, status, timeout=30):
    def ok():
        code, _, doc = doc_of(st, sid)
        return code == 200 and doc["status"] == status and doc
    return harness.wait_until(ok, timeout=timeout, what=f"session {sid} {status}")


def wait_gone(st, sid, timeout=30):
    harness.wait_until(lambda: doc_of(st, sid)[0] == 404, timeout=timeout, what=f"session {sid} cleaned up")


def post(st, sid, step, body=None):
    return harness.http_json("POST", f"{st.url}/v1/phone-logins/{sid}/{step}", body or {}, st.auth())


def phone_metric(st, status):
    return st.metric("tgpulse_phone_login_total", status=status)


def code_metric(st, result):
    return st.metric("tgpulse_phone_codes_total", result=result)


def check_no_secrets(st, *secrets_, trace_id=None):
    """Neither the number (any spelling) nor a code in the log, the metrics or the trace's spans."""
    status, _, metrics = harness.http("GET", st.url + "/metrics")
    harness.check(status == 200, "/metrics")
    places = {"log": st.service.stdout(), "metrics": metrics.decode()}
    if trace_id:
        places["spans"] = str(st.spans(trace_id))
    for where, text in places.items():
        for s in secrets_ + (DIGITS, "99966 2 1234", "99966"):
            harness.check(s not in text, f"a secret ({len(s)} characters) reached the {where}")


def test_right_code_authorizes_with_its_telemetry():
    with SessionStack() as st:
        doc, headers, trace_id = start(st)
        sid = doc["session_id"]
        harness.check(doc["status"] == "code_required" and doc["method"] == "phone", doc)
        harness.check(doc["code_info"] == {"type": "telegram_message", "length": 5, "next_type": "sms",
                                           "timeout": 60}, doc)
        harness.check(headers.get("location") == f"/v1/phone-logins/{sid}", headers)
        harness.check(doc["page_url"].startswith(f"/login/{sid}?key="), doc)
        harness.check(DIGITS not in str(doc) and "99966" not in str(doc), "the answer shows the number back")
        code, _, ok = post(st, sid, "code", {"code": CODE})
        harness.check(code == 200 and ok["status"] == "accepted", f"code: {code} {ok}")
        wait_status(st, sid, "authorized")
        code, _, me = harness.http_json("POST", f"{st.url}/v1/sessions/{sid}/invoke", {"@type": "getMe"}, st.auth())
        harness.check(code == 200 and me.get("@type") == "user", f"getMe after a phone login: {code} {me}")
        harness.check(phone_metric(st, "created") == 1 and phone_metric(st, "authorized") == 1, "phone funnel")
        harness.check(code_metric(st, "sent") == 1 and code_metric(st, "accepted") == 1, "codes")
        harness.check(st.metric("telethon_qr_session_total", status="created") == 0, "counted as a QR login")
        spans = st.spans(trace_id, name="tgpulse_phone_login", timeout=30)
        by_name = {s["name"]: s for s in spans}
        root = by_name["tgpulse_phone_login"]
        harness.check(span_attr(root, "tgpulse.phone_login.outcome") == "authorized", root)
        for child in ("telethon_connect", "tgpulse_phone_number", "tgpulse_phone_code"):
            harness.check(child in by_name, f"{child} missing: {sorted(by_name)}")
            s = by_name[child]
            harness.check(s["parentSpanId"] == root["spanId"], f"{child} not under tgpulse_phone_login")
            harness.check(span_attr(s, "telethon.operation") == "phone_login", f"{child} operation")
            harness.check(span_attr(s, "telethon.tenant_id") == "acme" and span_attr(s, "telethon.session_id") == sid,
                          f"{child} ids")
        harness.check(span_attr(by_name["tgpulse_phone_code"], "tgpulse.phone_login.code_type") == "telegram_message",
                      "code type on the span")
        sent = st.wait_logs("Phone login code sent", 1)[0]
        harness.check(sent["session_id"] == sid and sent["sessions.code_type"] == "telegram_message", sent)
        check_no_secrets(st, CODE, trace_id=trace_id)


def test_wrong_then_right_code():
    with SessionStack() as st:
        doc, _, _ = start(st)
        sid = doc["session_id"]
        code, _, err = post(st, sid, "code", {"code": "11111"})
        harness.check(code == 422 and err["error"]["code"] == "code_invalid", f"wrong code: {code} {err}")
        harness.check(err["error"].get("attempts_left") == 4, err)
        harness.check(doc_of(st, sid)[2]["status"] == "code_required", "a wrong code ended the login")
        code, _, _ = post(st, sid, "code", {"code": 22222})
        harness.check(code == 400, f"a code of the wrong type: {code}")
        code, _, _ = post(st, sid, "code", {"code": CODE})
        harness.check(code == 200, f"right code: {code}")
        wait_status(st, sid, "authorized")
        harness.check(code_metric(st, "wrong") == 1, "wrong code not counted")
        check_no_secrets(st, CODE, "11111")


def test_code_then_two_factor_password():
    with SessionStack() as st:
        st.control("/phone-account", {"phone_number": "9996631234", "password": "correct horse",
                                      "password_hint": "a horse"})
        doc, _, _ = start(st, "9996631234")
        sid = doc["session_id"]
        code, _, _ = post(st, sid, "code", {"code": "33333"})
        harness.check(code == 200, f"code: {code}")
        waiting = wait_status(st, sid, "password_required")
        harness.check(waiting["password_hint"] == "a horse", waiting)
        code, _, err = post(st, sid, "password", {"password": "battery staple"})
        harness.check(code == 422, f"wrong password: {code} {err}")
        code, _, _ = post(st, sid, "password", {"password": "correct horse"})
        harness.check(code == 200, f"right password: {code}")
        wait_status(st, sid, "authorized")
        out = st.service.stdout()
        harness.check("correct horse" not in out and "battery staple" not in out, "a password reached the log")
        check_no_secrets(st, "33333", "9996631234")


def test_resend_walks_the_ways_to_their_end():
    with SessionStack() as st:
        doc, _, _ = start(st)
        sid = doc["session_id"]
        for way, following in (("sms", "call"), ("call", None)):
            code, _, ok = post(st, sid, "resend")
            harness.check(code == 200 and ok["status"] == "resent", f"resend: {code} {ok}")
            info = harness.wait_until(
                lambda: (d := doc_of(st, sid)[2]).get("code_info", {}).get("type") == way and d["code_info"],
                timeout=10, what=f"code sent by {way}")
            harness.check(info["next_type"] == following, info)
        code, _, err = post(st, sid, "resend")
        harness.check(code == 409 and err["error"]["code"] == "conflict", f"no other way: {code} {err}")
        harness.check(code_metric(st, "resent") == 2, "resends not counted")
        code, _, _ = post(st, sid, "code", {"code": CODE})
        harness.check(code == 200, f"code after resends: {code}")
        wait_status(st, sid, "authorized")


def test_an_expired_code_is_refused_until_a_new_one_is_sent():
    with SessionStack(profile={"phone": {"code_ttl_seconds": 1}}) as st:
        doc, _, _ = start(st)
        sid = doc["session_id"]
        time.sleep(1.5)  # the simulator's code lifetime (no event marks it)
        code, _, err = post(st, sid, "code", {"code": CODE})
        harness.check(code == 422 and err["error"]["code"] == "code_expired", f"expired: {code} {err}")
        harness.check(code_metric(st, "expired") == 1, "expired code not counted")
        code, _, _ = post(st, sid, "resend")
        harness.check(code == 200, f"resend: {code}")
        code, _, _ = post(st, sid, "code", {"code": CODE})
        harness.check(code == 200, f"fresh code: {code}")
        wait_status(st, sid, "authorized")


def test_phone_number_flood_is_429_with_retry_after_and_leaves_nothing():
    with SessionStack(profile={"phone": {"code_sends_per_window": 1}}, config="phone:\n  flood_retry_after: 1800\n") as st:
        first, _, _ = start(st)
        doc, headers, _ = start(st, expect=429)
        harness.check(doc["error"]["code"] == "flood_wait" and doc["error"]["retry_after"] == 1800, doc)
        harness.check(headers.get("retry-after") == "1800", headers)
        code, _, listed = harness.http_json("GET", st.url + "/v1/sessions", headers=st.auth())
        harness.check([s["session_id"] for s in listed["sessions"]] == [first["session_id"]],
                      f"the refused login was left behind: {listed}")
        harness.check(code_metric(st, "flood_limited") == 1, "flood not counted")
        harness.check(phone_metric(st, "failed") == 0, "a flood limit counts as a failure (it would page)")
        check_no_secrets(st, CODE)


def test_refused_and_malformed_numbers():
    with SessionStack() as st:
        doc, _, _ = start(st, "+1 555 0100", expect=422)
        harness.check(doc["error"]["code"] == "phone_number_invalid", doc)
        harness.check("555" not in doc["error"]["message"], "the error repeats the number")
        for bad in ("12", "+1 555 0100 x", 5550100, "1" * 40):
            doc, _, _ = start(st, bad, expect=400)
            harness.check(str(bad) not in doc["error"]["message"], "the error repeats the input")
        code, _, listed = harness.http_json("GET", st.url + "/v1/sessions", headers=st.auth())
        harness.check(listed["sessions"] == [], f"refused logins left behind: {listed}")
        harness.check(os.listdir(st.sessions_dir()) == [], "engine directories left behind")
        check_no_secrets(st, "5550100", "555 0100")


def test_the_page_flow_without_a_number_and_its_event_stream():
    with SessionStack() as st:
        doc, _, _ = start(st, None)
        sid = doc["session_id"]
        harness.check(doc["status"] == "phone_number_required", doc)
        key = doc["page_url"].split("key=")[1]
        conn = http.client.HTTPConnection("127.0.0.1", st.service.port, timeout=30)
        conn.request("GET", f"/v1/login/{sid}/events?key={key}")
        resp = conn.getresponse()
        first = read_events(resp, {"state"})
        harness.check(first[0][1]["status"] == "phone_number_required" and first[0][1]["method"] == "phone", first)
        page = f"{st.url}/v1/login/{sid}"
        code, _, _ = harness.http_json("POST", f"{page}/phone-number?key=wrong", {"phone_number": NUMBER})
        harness.check(code == 404, f"a wrong page key: {code}")
        code, _, _ = harness.http_json("POST", f"{page}/phone-number?key={key}", {"phone_number": NUMBER})
        harness.check(code == 200, f"number from the page: {code}")
        events = read_events(resp, {"code_required"})
        harness.check(events[-1][1]["code_info"]["type"] == "telegram_message", events)
        code, _, _ = harness.http_json("POST", f"{page}/code?key={key}", {"code": "12345"})
        harness.check(code == 422, f"wrong code from the page: {code}")
        events = read_events(resp, {"code_rejected"})
        harness.check(events[-1][1]["reason"] == "wrong", events)
        code, _, _ = harness.http_json("POST", f"{page}/code?key={key}", {"code": CODE})
        harness.check(code == 200, f"code from the page: {code}")
        events = read_events(resp, {"authorized", "failed", "expired"})
        harness.check(events[-1][0] == "authorized", f"stream ended with {events}")
        conn.close()
        check_no_secrets(st, CODE, "12345")


def test_spent_code_attempts_end_the_login():
    with SessionStack(config="limits:\n  code_attempts: 2\n") as st:
        doc, _, _ = start(st)
        sid = doc["session_id"]
        code, _, err = post(st, sid, "code", {"code": "00001"})
        harness.check(code == 422 and err["error"]["attempts_left"] == 1, f"first wrong: {code} {err}")
        code, _, err = post(st, sid, "code", {"code": "00002"})
        harness.check(code == 429 and err["error"]["code"] == "code_attempts", f"last wrong: {code} {err}")
        wait_gone(st, sid)
        harness.check(phone_metric(st, "code_attempts") == 1, "the ending is not counted")
        harness.check(st.metric("tgpulse_rejected_total", reason="code_attempts") >= 1, "refusal not counted")
        line = st.wait_logs("Session cleanup completed", 1)[0]
        harness.check(line["trigger"] == "phone_code_attempts", line)


def test_refused_numbers_are_bounded_like_codes():
    # A holder of the page's key cannot use one login to probe which numbers Telegram accepts.
    with SessionStack(config="limits:\n  code_attempts: 2\n") as st:
        doc, _, _ = start(st, None)
        sid = doc["session_id"]
        code, _, err = post(st, sid, "phone-number", {"phone_number": "+1 555 0100"})
        harness.check(code == 422 and err["error"]["code"] == "phone_number_invalid", f"first refused: {code} {err}")
        harness.check(doc_of(st, sid)[2]["status"] == "phone_number_required", "a refused number ended the login")
        code, _, err = post(st, sid, "phone-number", {"phone_number": "+1 555 0101"})
        harness.check(code == 429 and err["error"]["code"] == "code_attempts", f"last refused: {code} {err}")
        wait_gone(st, sid)
        harness.check(phone_metric(st, "code_attempts") == 1, "the ending is not counted")


def test_the_deadline_expires_and_cleans_up():
    with SessionStack(config="phone:\n  timeout: 5s\n") as st:
        doc, _, trace_id = start(st)
        sid = doc["session_id"]
        wait_gone(st, sid, timeout=20)
        harness.check(phone_metric(st, "expired") == 1, "expired not counted")
        timeout = st.wait_logs("Phone login timeout", 1)[0]
        harness.check(timeout["log.level"] == "warn" and timeout["session_id"] == sid, timeout)
        harness.check(5.0 <= float(timeout["duration"]) < 8.0, f"duration {timeout['duration']}")
        cleaned = st.wait_logs("Session cleanup completed", 1)[0]
        harness.check(cleaned["trigger"] == "phone_expired" and cleaned["status"] == "success", cleaned)
        harness.check(not os.path.exists(st.engine_dir(sid)), "engine directory left behind")
        harness.check(st.metric("telethon_qr_timeout_total") == 0, "counted as a QR timeout")
        spans = st.spans(trace_id, name="tgpulse_phone_login", timeout=30)
        root = [s for s in spans if s["name"] == "tgpulse_phone_login"][0]
        harness.check(span_attr(root, "tgpulse.phone_login.outcome") == "expired", root)
        check_no_secrets(st, CODE, trace_id=trace_id)


def test_another_tenant_cannot_reach_a_phone_login():
    with SessionStack() as st:
        doc, _, _ = start(st)
        sid = doc["session_id"]
        other = st.new_tenant("other")
        for method, step, body in (("GET", "", None), ("POST", "/code", {"code": CODE}), ("POST", "/resend", {}),
                                   ("DELETE", "", None)):
            code, _, _ = harness.http_json(method, f"{st.url}/v1/phone-logins/{sid}{step}", body, other)
            harness.check(code == 404, f"{method} {step} by another tenant: {code}")
        harness.check(doc_of(st, sid)[2]["status"] == "code_required", "another tenant changed the login")
        code, _, out = harness.http_json("DELETE", f"{st.url}/v1/phone-logins/{sid}", headers=st.auth())
        harness.check(code == 200 and out["status"] == "cancelled", f"cancel: {code} {out}")
        harness.check(phone_metric(st, "cancelled") == 1, "cancel not counted")


if __name__ == "__main__":
    harness.main([test_right_code_authorizes_with_its_telemetry, test_wrong_then_right_code,
                  test_code_then_two_factor_password, test_resend_walks_the_ways_to_their_end,
                  test_an_expired_code_is_refused_until_a_new_one_is_sent,
                  test_phone_number_flood_is_429_with_retry_after_and_leaves_nothing,
                  test_refused_and_malformed_numbers, test_the_page_flow_without_a_number_and_its_event_stream,
                  test_spent_code_attempts_end_the_login, test_refused_numbers_are_bounded_like_codes,
                  test_the_deadline_expires_and_cleans_up,
                  test_another_tenant_cannot_reach_a_phone_login])
