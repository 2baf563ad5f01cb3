"""A session restored at start-up is `restoring` until TDLib tells its authorization state, and every
route answers it as docs/api.md promises — above all, DELETE /v1/qr-logins/{id} refuses it (409 naming
the status) instead of dropping an authorized session's data as a "QR cancel". tdsim's profile key
hold_restored_sessions withholds authorizationStateReady until its control route POST /release, so the
window is held open by a handshake, not raced. Also: the served /v1/openapi.json is the repository's."""
import os

import harness
import openapi_util
from session_util import SessionStack


def authorized_then_restarted(first, hold=True):
    """Authorizes a session on `first`, stops it (SIGTERM keeps authorized sessions) and starts the
    service again on the same data directory; returns (second stack, session id)."""
    sid = first.authorized_session()
    harness.Proc.stop(first.service)  # not Service.stop: the data directory stays for the restart
    second = SessionStack(data_dir=first.service.data_dir, profile={"hold_restored_sessions": hold})
    second.token = first.token  # the tenant is in the store already
    return second, sid


def test_every_route_answers_a_restoring_session():
    with SessionStack() as first:
        second, sid = authorized_then_restarted(first)
        with second as st:
            auth = st.auth()
            session_url = f"{st.url}/v1/sessions/{sid}"
            login_url = f"{st.url}/v1/qr-logins/{sid}"

            status, _, doc = harness.http_json("GET", session_url, headers=auth)
            harness.check(status == 200 and doc["status"] == "restoring" and doc["authorized_at"],
                          f"GET session while restoring: {status} {doc}")
            status, _, doc = harness.http_json("GET", st.url + "/v1/sessions", headers=auth)
            harness.check([s["status"] for s in doc["sessions"]] == ["restoring"], f"list: {doc}")
            status, _, doc = harness.http_json("GET", login_url, headers=auth)
            harness.check(status == 200 and doc["status"] == "restoring" and doc["link"] is None, f"qr-login view: {doc}")

            status, hdrs, doc = harness.http_json("POST", session_url + "/invoke", {"@type": "getMe"}, auth)
            harness.check(status == 503 and hdrs.get("retry-after") == "1" and doc["error"]["code"] == "unavailable"
                          and doc["error"]["status"] == "restoring", f"invoke while restoring: {status} {hdrs} {doc}")
            # The function policy still answers first.
            status, _, doc = harness.http_json("POST", session_url + "/invoke", {"@type": "logOut"}, auth)
            harness.check(status == 403, f"denied function while restoring: {status} {doc}")

            status, _, doc = harness.http_json("DELETE", login_url, headers=auth)
            harness.check(status == 409 and doc["error"]["code"] == "conflict"
                          and "status restoring" in doc["error"]["message"], f"QR cancel of a restoring session: {status} {doc}")
            status, _, doc = harness.http_json("GET", login_url + "/qr.svg", headers=auth)
            harness.check(status == 409 and "status restoring" in doc["error"]["message"], f"qr.svg: {status} {doc}")
            status, _, doc = harness.http_json("POST", login_url + "/password", {"password": "x"}, auth)
            harness.check(status == 409, f"password while restoring: {status} {doc}")
            status, hdrs, raw = harness.http("GET", login_url + "/events", headers=auth)
            text = raw.decode()
            harness.check(status == 200 and hdrs["content-type"].startswith("text/event-stream")
                          and text.count("event:") == 1 and '"status":"restoring"' in text, f"events: {status} {text!r}")
            status, _, _ = harness.http("GET", f"{st.url}/login/{sid}?key=anything")
            harness.check(status == 404, f"page of a restored session: {status}")

            # Nothing of that touched the session: its record, directory and authorization are intact.
            harness.check(os.path.isdir(st.engine_dir(sid)), "the engine directory went away")
            harness.check(st.metric("telethon_session_cleanup_total") == 0, "a cleanup ran")
            released = st.control("/release", {})
            harness.check(released["released"] == 1, f"release: {released}")
            st.wait_status(sid, "authorized")
            status, _, me = harness.http_json("POST", session_url + "/invoke", {"@type": "getMe"}, auth)
            harness.check(status == 200 and me["@type"] == "user", f"invoke once authorized: {status} {me}")


def test_delete_of_a_restoring_session_logs_it_out():
    with SessionStack() as first:
        second, sid = authorized_then_restarted(first)
        with second as st:
            harness.check(st.login_doc(sid)[2]["status"] == "restoring", "not restoring")
            status, _, doc = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sid}", headers=st.auth())
            harness.check(status == 200 and doc == {"session_id": sid, "status": "closed", "logout": True},
                          f"DELETE while restoring: {status} {doc}")
            line = st.wait_logs("Session cleanup completed", 1)[0]
            harness.check(line["trigger"] == "delete" and line["status"] == "success", f"cleanup: {line}")
            harness.check(not os.path.exists(os.path.join(st.engine_dir(sid), "td.binlog")),
                          "logOut did not remove the engine's database")
            harness.check(st.login_doc(sid)[0] == 404, "the session is still there")


def test_the_served_contract_is_the_repository_copy():
    with SessionStack() as st:
        status, hdrs, raw = harness.http("GET", st.url + "/v1/openapi.json")  # no token
        with open(openapi_util.DOCUMENT, "rb") as f:
            harness.check(status == 200 and raw == f.read(), f"/v1/openapi.json: {status}")
        harness.check(hdrs["content-type"] == "application/json" and hdrs["cache-control"] == "public, max-age=3600",
                      f"headers: {hdrs}")


if __name__ == "__main__":
    harness.main([test_every_route_answers_a_restoring_session, test_delete_of_a_restoring_session_logs_it_out,
                  test_the_served_contract_is_the_repository_copy])
