"""Tenant isolation and bad input on every session route: another tenant's ids (or a wrong page key)
answer 404 like unknown ids, bad requests answer the JSON error with their 4xx, and nothing of the
owner's sessions changes."""
import harness
import serve_util
from session_util import ADMIN, SessionStack


def routes(sid):
    return [
        ("GET", f"/v1/qr-logins/{sid}", None),
        ("GET", f"/v1/qr-logins/{sid}/events", None),
        ("GET", f"/v1/qr-logins/{sid}/qr.svg", None),
        ("POST", f"/v1/qr-logins/{sid}/password", {"password": "x"}),
        ("DELETE", f"/v1/qr-logins/{sid}", None),
        ("GET", f"/v1/sessions/{sid}", None),
        ("POST", f"/v1/sessions/{sid}/invoke", {"@type": "getMe"}),
        ("DELETE", f"/v1/sessions/{sid}?logout=true", None),
        ("DELETE", f"/v1/sessions/{sid}?logout=false", None),
    ]


def test_another_tenant_gets_404_and_changes_nothing():
    with SessionStack() as st:
        pending, _ = st.start_login()
        done, _ = st.start_login()
        st.scan(done["session_id"], "accept")
        st.wait_status(done["session_id"], "authorized")
        before = {sid: st.login_doc(sid)[2] for sid in (pending["session_id"], done["session_id"])}
        other = st.new_tenant("globex")
        for sid in before:
            for method, path, body in routes(sid) + routes("s_" + "A" * 22):
                code, _, raw = harness.http(method, st.url + path, body, other)
                harness.check(code == 404, f"{method} {path} as another tenant: {code}")
                harness.check(serve_util.json_error(raw)["code"] == "not_found", raw)
        code, _, listed = harness.http_json("GET", st.url + "/v1/sessions", headers=other)
        harness.check(code == 200 and listed["sessions"] == [], f"another tenant lists {listed}")
        for sid, doc in before.items():
            now = st.login_doc(sid)[2]
            harness.check(now["status"] == doc["status"], f"{sid} changed: {doc['status']} -> {now['status']}")
        # The page key of one login opens nothing else.
        key = pending["page_url"].split("key=")[1]
        for path in (f"/login/{done['session_id']}?key={key}", f"/v1/login/{done['session_id']}/qr.svg?key={key}",
                     f"/login/{pending['session_id']}?key=wrong", f"/login/{pending['session_id']}"):
            harness.check(harness.http("GET", st.url + path)[0] == 404, f"{path} opened")
        harness.check(harness.http("GET", st.url + pending["page_url"])[0] == 200, "the page key does not open its page")


def test_bad_input_is_refused_and_changes_nothing():
    with SessionStack() as st:
        pending, _ = st.start_login()
        sid = pending["session_id"]
        cases = [
            ("POST", "/v1/qr-logins", "not json", st.auth(), 400),
            ("POST", "/v1/qr-logins", "[1,2]", st.auth(), 400),
            ("POST", "/v1/qr-logins", {}, {"Authorization": "Bearer tgp_wrong"}, 401),
            ("POST", "/v1/qr-logins", {}, {}, 401),
            ("GET", "/v1/sessions", None, {}, 401),
            ("POST", "/v1/tenants", {"tenant_id": "bad id!"}, ADMIN, 400),
            ("POST", "/v1/tenants", {"tenant_id": 7}, ADMIN, 400),
            ("POST", "/v1/tenants", {}, ADMIN, 400),
            ("POST", "/v1/tenants", {"tenant_id": "acme"}, ADMIN, 409),
            ("POST", "/v1/tenants", {"tenant_id": "x"}, st.auth(), 401),
            ("GET", "/v1/tenants", None, st.auth(), 401),
            ("DELETE", "/v1/tenants/nobody", None, ADMIN, 404),
            ("POST", f"/v1/qr-logins/{sid}/password", "{", st.auth(), 400),
            ("POST", f"/v1/qr-logins/{sid}/password", {"password": ""}, st.auth(), 400),
            ("POST", f"/v1/qr-logins/{sid}/password", {"password": "pw"}, st.auth(), 409),
            ("POST", f"/v1/sessions/{sid}/invoke", {"limit": 1}, st.auth(), 400),
            ("POST", f"/v1/sessions/{sid}/invoke", {"@type": 5}, st.auth(), 400),
            ("POST", f"/v1/sessions/{sid}/invoke?deadline_ms=abc", {"@type": "getMe"}, st.auth(), 400),
            ("POST", f"/v1/sessions/{sid}/invoke?deadline_ms=0", {"@type": "getMe"}, st.auth(), 400),
            ("POST", f"/v1/sessions/{sid}/invoke?flood=sometimes", {"@type": "getMe"}, st.auth(), 400),
            ("POST", f"/v1/sessions/{sid}/invoke", {"@type": "getMe"}, st.auth(), 409),
            ("DELETE", f"/v1/sessions/{sid}?logout=yes", None, st.auth(), 400),
            ("POST", f"/v1/sessions/{sid}/invoke", {"@type": "getMe", "pad": "x" * (2 << 20)}, st.auth(), 413),
        ]
        for method, path, body, headers, want in cases:
            code, _, raw = harness.http(method, st.url + path, body, headers)
            harness.check(code == want, f"{method} {path} {str(body)[:40]}: {code}, want {want}: {raw[:200]}")
            serve_util.json_error(raw)
        harness.check(st.login_doc(sid)[2]["status"] == "qr_pending", "bad input changed the login")
        code, _, tenants = harness.http_json("GET", st.url + "/v1/tenants", headers=ADMIN)
        harness.check([t["tenant_id"] for t in tenants["tenants"]] == ["acme"], tenants)
        harness.check(st.qr_metric("created") == 1, "a refused request created a login")


def test_tenant_deletion_cleans_its_sessions():
    with SessionStack() as st:
        doc, _ = st.start_login()
        st.scan(doc["session_id"], "accept")
        st.wait_status(doc["session_id"], "authorized")
        code, _, out = harness.http_json("DELETE", st.url + "/v1/tenants/acme", headers=ADMIN)
        harness.check(code == 200 and out["cleanup_failed"] == 0, f"delete tenant: {code} {out}")
        harness.check(harness.http("GET", st.url + "/v1/sessions", headers=st.auth())[0] == 401, "token survived")
        lines = st.wait_logs("Session cleanup completed", 1)
        harness.check(lines[0]["trigger"] == "tenant_deleted", lines[0])


if __name__ == "__main__":
    harness.main([test_another_tenant_gets_404_and_changes_nothing, test_bad_input_is_refused_and_changes_nothing,
                  test_tenant_deletion_cleans_its_sessions])
