"""A proxy per session, end to end on tdsim: the login goes through the proxy given when it starts (tdsim
records that addProxy came before the first request to Telegram), an unreachable proxy shows as the
session's proxy.status and in tgpulse_proxy_*, PUT /v1/sessions/{id}/proxy replaces and removes it — and
the proxy's password never reaches a log line, a metric or an answer."""
import harness
from session_util import SessionStack

PASSWORD = "pr0xy-s3cret"
FAST_PINGS = "proxy:\n  ping_interval: 1s\n  ping_timeout: 2s\n"


def socks(port=1080, server="127.0.0.9"):
    return {"type": "socks5", "server": server, "port": port, "username": "fleet", "password": PASSWORD}


def tdsim_clients(st):
    code, _, state = harness.http_json("GET", st.control_url + "/state")
    harness.check(code == 200, f"tdsim state: {code}")
    return state["clients"]


def session_doc(st, sid):
    return harness.http_json("GET", f"{st.url}/v1/sessions/{sid}", headers=st.auth())


def wait_proxy_state(st, sid, state, timeout=20):
    def ok():
        code, _, doc = session_doc(st, sid)
        return code == 200 and (doc.get("proxy") or {}).get("status", {}).get("state") == state and doc
    return harness.wait_until(ok, timeout=timeout, what=f"proxy of {sid} {state}")


def check_no_password(st):
    _, _, metrics = harness.http("GET", st.url + "/metrics")
    for where, text in (("log", st.service.stdout()), ("metrics", metrics.decode())):
        harness.check(PASSWORD not in text, f"the proxy password reached the {where}")


def test_a_login_goes_through_its_proxy_and_the_ping_says_ok():
    with SessionStack(config=FAST_PINGS) as st:
        code, _, doc = harness.http_json("POST", st.url + "/v1/qr-logins", {"proxy": socks()}, st.auth())
        harness.check(code == 201, f"qr-login with a proxy: {code} {doc}")
        sid = doc["session_id"]
        harness.check(doc["proxy"]["server"] == "127.0.0.9" and doc["proxy"]["has_credentials"] is True, doc)
        harness.check(PASSWORD not in str(doc), "the answer shows the proxy password")
        clients = tdsim_clients(st)
        harness.check(len(clients) == 1, clients)
        calls = clients[0]["calls"]
        harness.check(calls.index("addProxy") < calls.index("requestQrCodeAuthentication"),
                      f"the login reached Telegram before its proxy: {calls}")
        harness.check(calls.index("setTdlibParameters") < calls.index("addProxy"), calls)
        harness.check(clients[0]["proxy"] == {"server": "127.0.0.9", "port": 1080, "type": "proxyTypeSocks5"}, clients)
        doc = wait_proxy_state(st, sid, "ok")
        harness.check(isinstance(doc["proxy"]["status"]["ping_ms"], int), doc)
        harness.check(st.metric("tgpulse_proxy_sessions", state="ok") == 1, "proxy sessions gauge")
        harness.check(st.metric("tgpulse_proxy_ping_seconds_count") >= 1, "ping histogram")
        st.scan(sid, "accept")
        st.wait_status(sid, "authorized")
        check_no_password(st)


def test_a_phone_login_sends_its_number_through_the_proxy():
    with SessionStack(config=FAST_PINGS) as st:
        code, _, doc = harness.http_json("POST", st.url + "/v1/phone-logins",
                                         {"phone_number": "9996621234", "proxy": socks()}, st.auth())
        harness.check(code == 201 and doc["status"] == "code_required", f"phone-login with a proxy: {code} {doc}")
        calls = tdsim_clients(st)[0]["calls"]
        harness.check(calls.index("addProxy") < calls.index("setAuthenticationPhoneNumber"),
                      f"the number reached Telegram before the proxy: {calls}")


def test_an_unreachable_proxy_is_a_clear_status_and_a_metric():
    with SessionStack(config=FAST_PINGS) as st:
        st.control("/proxy", {"server": "127.0.0.9", "port": 1081, "reachable": False})
        code, _, doc = harness.http_json("POST", st.url + "/v1/qr-logins", {"proxy": socks(1081)}, st.auth())
        harness.check(code == 201 and doc["link"] is None, f"a link came through an unreachable proxy: {code} {doc}")
        sid = doc["session_id"]
        doc = wait_proxy_state(st, sid, "unreachable")
        harness.check("timed out" in doc["proxy"]["status"]["error"], doc)
        harness.check(st.metric("tgpulse_proxy_sessions", state="unreachable") == 1, "unreachable gauge")
        harness.check(st.metric("tgpulse_proxy_ping_failures_total") >= 1, "failures not counted")
        line = st.wait_logs("Session proxy unreachable", 1)[0]
        harness.check(line["session_id"] == sid and line["log.level"] == "warn", line)
        harness.check(tdsim_clients(st)[0]["held_requests"] >= 1, "tdsim holds nothing: the login did not wait")
        # The proxy comes back: the held login request goes through and the next ping says so.
        st.control("/proxy", {"server": "127.0.0.9", "port": 1081, "reachable": True})
        st.current_link(sid)
        wait_proxy_state(st, sid, "ok")
        check_no_password(st)


def test_put_replaces_and_removes_the_proxy_of_an_authorized_session():
    with SessionStack(config=FAST_PINGS) as st:
        sid = st.authorized_session()
        url = f"{st.url}/v1/sessions/{sid}/proxy"
        code, _, doc = harness.http_json("PUT", url, {"proxy": socks()}, st.auth())
        harness.check(code == 200 and doc["proxy"]["server"] == "127.0.0.9", f"put: {code} {doc}")
        harness.check(tdsim_clients(st)[0]["proxy"]["port"] == 1080, tdsim_clients(st))
        code, _, doc = harness.http_json("PUT", url, {"proxy": {"type": "http", "server": "127.0.0.10", "port": 3128}},
                                         st.auth())
        harness.check(code == 200 and doc["proxy"]["type"] == "http", f"replace: {code} {doc}")
        harness.check(tdsim_clients(st)[0]["proxy"]["server"] == "127.0.0.10", tdsim_clients(st))
        wait_proxy_state(st, sid, "ok")
        for bad, field in (({"type": "socks5", "server": "x", "port": 99999}, "proxy.port"),
                           ({"type": "tor", "server": "x", "port": 1}, "proxy.type"),
                           ({"type": "socks5", "server": "a b", "port": 1}, "proxy.server")):
            code, _, err = harness.http_json("PUT", url, {"proxy": bad}, st.auth())
            harness.check(code == 400 and field in err["error"]["message"], f"{bad}: {code} {err}")
        code, _, _ = harness.http_json("PUT", url, {}, st.auth())
        harness.check(code == 400, f"no proxy key: {code}")
        other = st.new_tenant("other")
        code, _, _ = harness.http_json("PUT", url, {"proxy": socks()}, other)
        harness.check(code == 404, f"another tenant's session: {code}")
        code, _, doc = harness.http_json("PUT", url, {"proxy": None}, st.auth())
        harness.check(code == 200 and doc["proxy"] is None, f"remove: {code} {doc}")
        harness.check(tdsim_clients(st)[0]["proxy"] is None, tdsim_clients(st))
        code, _, me = harness.http_json("POST", f"{st.url}/v1/sessions/{sid}/invoke", {"@type": "getMe"}, st.auth())
        harness.check(code == 200, f"the session works without a proxy: {code} {me}")
        check_no_password(st)


def test_a_bad_proxy_at_login_is_refused_before_anything_starts():
    with SessionStack() as st:
        code, _, err = harness.http_json("POST", st.url + "/v1/qr-logins",
                                         {"proxy": {"type": "mtproto", "server": "h", "port": 443}}, st.auth())
        harness.check(code == 400 and "secret" in err["error"]["message"], f"{code} {err}")
        code, _, listed = harness.http_json("GET", st.url + "/v1/sessions", headers=st.auth())
        harness.check(listed["sessions"] == [] and tdsim_clients(st) == [], "a refused login started anyway")


def test_the_tenants_default_proxy_carries_its_logins_and_a_login_may_refuse_it():
    with SessionStack() as st:
        code, _, doc = harness.http_json("GET", st.url + "/v1/proxy", headers=st.auth())
        harness.check(code == 200 and doc == {"proxy": None}, f"no default yet: {code} {doc}")
        code, _, doc = harness.http_json("PUT", st.url + "/v1/proxy", {"proxy": socks(1090)}, st.auth())
        harness.check(code == 200 and doc["proxy"]["port"] == 1090 and doc["proxy"]["has_credentials"] is True, doc)
        harness.check(PASSWORD not in str(doc), "the answer shows the proxy password")
        code, _, doc = harness.http_json("PUT", st.url + "/v1/proxy", {"proxy": {"type": "socks5", "port": 0}}, st.auth())
        harness.check(code == 400 and "proxy." in doc["error"]["message"], f"a bad default: {code} {doc}")
        # A login with no proxy field goes through the default, before the QR request.
        code, _, doc = harness.http_json("POST", st.url + "/v1/qr-logins", {}, st.auth())
        harness.check(code == 201 and doc["proxy"]["port"] == 1090, f"login with the default: {code} {doc}")
        calls = tdsim_clients(st)[0]["calls"]
        harness.check(calls.index("addProxy") < calls.index("requestQrCodeAuthentication"), calls)
        # "proxy": null refuses it; a login's own proxy wins.
        code, _, doc = harness.http_json("POST", st.url + "/v1/qr-logins", {"proxy": None}, st.auth())
        harness.check(code == 201 and doc["proxy"] is None, f"login refusing the default: {code} {doc}")
        code, _, doc = harness.http_json("POST", st.url + "/v1/phone-logins",
                                         {"phone_number": "9996621234", "proxy": socks(1091)}, st.auth())
        harness.check(code == 201 and doc["proxy"]["port"] == 1091, f"login with its own proxy: {code} {doc}")
        # Another tenant has none; removing the default stops it.
        other = st.new_tenant("globex")
        code, _, doc = harness.http_json("GET", st.url + "/v1/proxy", headers=other)
        harness.check(code == 200 and doc == {"proxy": None}, f"another tenant's default: {code} {doc}")
        code, _, doc = harness.http_json("PUT", st.url + "/v1/proxy", {"proxy": None}, st.auth())
        harness.check(code == 200 and doc == {"proxy": None}, f"remove: {code} {doc}")
        code, _, doc = harness.http_json("POST", st.url + "/v1/qr-logins", {}, st.auth())
        harness.check(code == 201 and doc["proxy"] is None, f"login after the removal: {code} {doc}")
        check_no_password(st)


if __name__ == "__main__":
    harness.main([test_a_login_goes_through_its_proxy_and_the_ping_says_ok,
                  test_a_phone_login_sends_its_number_through_the_proxy,
                  test_an_unreachable_proxy_is_a_clear_status_and_a_metric,
                  test_put_replaces_and_removes_the_proxy_of_an_authorized_session,
                  test_a_bad_proxy_at_login_is_refused_before_anything_starts,
                  test_the_tenants_default_proxy_carries_its_logins_and_a_login_may_refuse_it])
