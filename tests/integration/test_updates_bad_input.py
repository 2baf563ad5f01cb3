"""Hostile and mistaken input on the update routes, tgpulse on tdsim: another tenant's session, offsets,
limits and timeouts out of range or not numbers, a garbage Last-Event-ID, more readers than a tenant may
have waiting (long polls and streams alike answer 429 before anything is streamed), and a flood of
allowed_updates settings each naming another unknown type. Each gets a clear 4xx naming what is wrong,
and nothing of it changes what the tenant had."""
import http.client
import urllib.parse

import harness
from session_util import SessionStack

TWO_63 = str(2 ** 63)


def open_stream(st, headers, query=""):
    """Sends GET /v1/updates/stream and reads the answer's head; returns (connection, response)."""
    u = urllib.parse.urlparse(st.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    conn.request("GET", "/v1/updates/stream" + query, headers=headers)
    return conn, conn.getresponse()


def test_another_tenants_session_is_not_found_on_every_update_route():
    with SessionStack() as st:
        sid = st.authorized_session()
        other = st.new_tenant("other")
        for path in (f"/v1/updates?session_id={sid}", f"/v1/updates?session_id={sid}&timeout=1",
                     f"/v1/updates/stream?session_id={sid}"):
            status, _, doc = harness.http_json("GET", st.url + path, headers=other)
            harness.check(status == 404, f"{path} as another tenant: {status} {doc}")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates?timeout=0", headers=other)
        harness.check(status == 200 and doc["updates"] == [], f"another tenant's log is empty: {doc}")


def test_numbers_out_of_range_or_not_numbers_are_400_naming_the_parameter():
    with SessionStack() as st:
        st.authorized_session()
        harness.wait_until(lambda: harness.http_json("GET", f"{st.url}/v1/updates", headers=st.auth())[2]["updates"],
                           timeout=20, what="the login's event")
        bad = {"offset": ["-1", TWO_63, str(2 ** 63 - 1), "99999999999999999999", "abc", "1e3", "0x10", "", " 1", "1.5"],
               "limit": ["0", "-5", "1001", TWO_63, "ten", ""],
               "timeout": ["-1", "51", TWO_63, "5s", ""]}
        for name, values in bad.items():
            for value in values:
                query = f"{name}={urllib.parse.quote(value)}"
                for route in ("/v1/updates", "/v1/updates/stream") if name == "offset" else ("/v1/updates",):
                    status, _, doc = harness.http_json("GET", f"{st.url}{route}?{query}", headers=st.auth())
                    harness.check(status == 400 and doc["error"]["code"] == "invalid_argument"
                                  and doc["error"]["message"].startswith(name + " must be an integer from"),
                                  f"{route}?{query}: {status} {doc}")
        # None of it acknowledged anything (a refused offset deletes nothing).
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates", headers=st.auth())
        harness.check(status == 200 and len(doc["updates"]) == 1, f"the log is as it was: {doc}")


def test_a_garbage_last_event_id_is_400_and_acknowledges_nothing():
    with SessionStack() as st:
        st.authorized_session()
        harness.wait_until(lambda: harness.http_json("GET", f"{st.url}/v1/updates", headers=st.auth())[2]["updates"],
                           timeout=20, what="the login's event")
        # (the last: the UTF-8 bytes of an Arabic-Indic digit one)
        for value in ("abc", "-1", TWO_63, "1 2", "1;2", "9" * 40, "\u00d9\u00a1"):
            headers = dict(st.auth())
            headers["Last-Event-ID"] = value
            conn, resp = open_stream(st, headers)
            body = resp.read().decode(errors="replace")
            conn.close()
            harness.check(resp.status == 400 and "Last-Event-ID must be an update_id" in body,
                          f"Last-Event-ID {value!r}: {resp.status} {body}")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates", headers=st.auth())
        harness.check(len(doc["updates"]) == 1, f"nothing acknowledged: {doc}")


def test_readers_over_the_bound_get_429_streams_included_and_others_are_not_counted():
    with SessionStack() as st:
        held = []
        try:
            # 16 streams, left open: each holds one of the tenant's 16 reader places.
            for i in range(16):
                conn, resp = open_stream(st, st.auth())
                harness.check(resp.status == 200, f"stream {i}: {resp.status}")
                held.append(resp)  # the response owns the socket (a stream has no length: will_close)
            conn, resp = open_stream(st, st.auth())
            body = resp.read().decode() if resp.status != 200 else "(a stream)"
            conn.close()
            harness.check(resp.status == 429 and resp.getheader("Retry-After") == "1" and "at most 16" in body,
                          f"the 17th stream: {resp.status} {resp.getheader('Retry-After')} {body}")
            status, hdrs, doc = harness.http_json("GET", f"{st.url}/v1/updates?timeout=5", headers=st.auth())
            harness.check(status == 429 and hdrs.get("retry-after") == "1", f"a long poll over the bound: {status} {doc}")
            status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates?timeout=0", headers=st.auth())
            harness.check(status == 200, f"a read that does not wait takes no place: {status} {doc}")
            other = st.new_tenant("other")
            conn, resp = open_stream(st, other)
            harness.check(resp.status == 200, f"another tenant's stream is not counted against acme: {resp.status}")
            resp.close()
            # A closed stream gives its place back.
            held.pop().close()
            def place_free():
                _, r = open_stream(st, st.auth())
                ok = r.status == 200
                r.close()
                return ok
            harness.wait_until(place_free, timeout=20, what="the closed stream's place given back")
        finally:
            for resp in held:
                resp.close()


def test_a_flood_of_unknown_types_in_allowed_updates_is_422_naming_each_and_changes_nothing():
    with SessionStack() as st:
        before = harness.http_json("GET", f"{st.url}/v1/updates/settings", headers=st.auth())[2]
        for i in range(60):
            unknown = f"updateNoSuchThing{i:03d}"
            status, _, doc = harness.http_json("PUT", f"{st.url}/v1/updates/settings",
                                               {"allowed_updates": ["updateNewMessage", unknown]}, st.auth())
            harness.check(status == 422 and f"'{unknown}' is not a known update type" in doc["error"]["message"],
                          f"{unknown}: {status} {doc}")
        for entry, what in [("updateNoSuch*", "is not a known update type prefix"),
                            ("updateOption", "is consumed by the service"),
                            ("x" * 65, "1..64 characters"), ("update New", "letters and digits")]:
            status, _, doc = harness.http_json("PUT", f"{st.url}/v1/updates/settings",
                                               {"allowed_updates": [entry]}, st.auth())
            harness.check(status == 422 and what in doc["error"]["message"], f"{entry!r}: {status} {doc}")
        status, _, doc = harness.http_json("PUT", f"{st.url}/v1/updates/settings",
                                           {"allowed_updates": ["updateNewMessage"] * 257}, st.auth())
        harness.check(status == 422 and "more than 256 entries" in doc["error"]["message"], f"257 entries: {status} {doc}")
        after = harness.http_json("GET", f"{st.url}/v1/updates/settings", headers=st.auth())[2]
        harness.check(after == before, f"the setting is unchanged: {before} -> {after}")
        status, _, raw = harness.http("GET", st.url + "/metrics")
        harness.check(b"NoSuchThing" not in raw, "no unknown type reaches a metric label")


if __name__ == "__main__":
    harness.main([test_another_tenants_session_is_not_found_on_every_update_route,
                  test_numbers_out_of_range_or_not_numbers_are_400_naming_the_parameter,
                  test_a_garbage_last_event_id_is_400_and_acknowledges_nothing,
                  test_readers_over_the_bound_get_429_streams_included_and_others_are_not_counted,
                  test_a_flood_of_unknown_types_in_allowed_updates_is_422_naming_each_and_changes_nothing])
