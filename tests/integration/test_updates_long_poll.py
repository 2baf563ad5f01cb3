"""The tenant's update log end to end, tgpulse on tdsim: the service's own events (a QR login that
authorizes, a session that is closed) are real update traffic on tdsim. A tenant gets them by long polling
in order, acknowledges with the offset, the service restarts on the same data directory and the tenant
gets exactly what it had not acknowledged — nothing twice, and new ids continue above the old ones.
Another tenant sees none of it. Bad input gets a clear 4xx. Messages that arrive in the account (tdsim's POST
/incoming) reach the tenant in order, each once."""
import http.client
import json
import urllib.parse

import harness
from session_util import ADMIN, SessionStack


def poll(st, offset, headers=None, timeout=0, **params):
    query = f"offset={offset}&timeout={timeout}" + "".join(f"&{k}={v}" for k, v in params.items())
    status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates?{query}", headers=headers or st.auth(),
                                       timeout=timeout + 10)
    harness.check(status == 200, f"GET /v1/updates?{query}: {status} {doc}")
    return doc["updates"]


def authorize(st):
    doc, _ = st.start_login()
    sid = doc["session_id"]
    st.scan(sid, "accept")
    st.wait_status(sid, "authorized")
    return sid


def types_and_sessions(updates):
    return [(u["update"]["@type"], u["session_id"]) for u in updates]


def test_long_poll_acknowledges_and_a_restart_delivers_exactly_what_was_not():
    with SessionStack() as first:
        first_sid = authorize(first)
        second_sid = authorize(first)
        # A long poll answers as soon as one update is there; offset 0 acknowledges nothing, so ask again
        # until both logins' events were committed.
        got = harness.wait_until(lambda: (lambda u: len(u) >= 2 and u)(poll(first, 0, timeout=5)), timeout=20,
                                 what="both logins' events")
        harness.check(types_and_sessions(got) == [("tgpulseSessionAuthorized", first_sid),
                                                  ("tgpulseSessionAuthorized", second_sid)], f"first read: {got}")
        ids = [u["update_id"] for u in got]
        harness.check(ids[1] == ids[0] + 1, f"ids not consecutive: {ids}")
        again = poll(first, ids[0] + 1)  # acknowledges the first only
        harness.check([u["update_id"] for u in again] == ids[1:], f"after acknowledging {ids[0]}: {again}")
        harness.Proc.stop(first.service)  # SIGTERM: authorized sessions stay, the data directory too
        with SessionStack(data_dir=first.service.data_dir) as second:
            second.token = first.token
            after = poll(second, 0)  # offset 0 acknowledges nothing
            harness.check([u["update_id"] for u in after] == ids[1:],
                          f"after the restart: exactly the unacknowledged one, got {after}")
            status, _, _ = harness.http_json("DELETE", f"{second.url}/v1/sessions/{first_sid}?logout=false",
                                             headers=second.auth(), timeout=30)
            harness.check(status == 200, f"DELETE: {status}")
            closed = poll(second, ids[1] + 1, timeout=20)
            harness.check(len(closed) == 1 and closed[0]["update"]["@type"] == "tgpulseSessionClosed"
                          and closed[0]["session_id"] == first_sid and closed[0]["update_id"] == ids[1] + 1,
                          f"the close after the restart continues the ids: {closed}")
            harness.check(poll(second, ids[1] + 2) == [] and poll(second, 0) == [],
                          "an offset above the last update acknowledged everything")
            harness.check(second.metric("tgpulse_updates_delivered_total", channel="long_poll") >= 2,
                          "deliveries counted")


def test_another_tenant_sees_nothing_and_bad_input_is_refused():
    with SessionStack() as st:
        sid = authorize(st)
        harness.check(len(poll(st, 0, timeout=10)) == 1, "acme's event")
        other = st.new_tenant("other")
        harness.check(poll(st, 0, headers=other) == [], "another tenant's log is empty")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates?session_id={sid}", headers=other)
        harness.check(status == 404, f"another tenant's session filter: {status} {doc}")
        harness.http_json("GET", f"{st.url}/v1/updates?offset=1000", headers=other)  # acknowledges only other's
        harness.check(len(poll(st, 0)) == 1, "another tenant's offset acknowledged nothing of acme's")
        for query, what in [("offset=-1", "offset"), ("offset=99999999999999999999", "offset"), ("limit=0", "limit"),
                            ("limit=1001", "limit"), ("timeout=51", "timeout"), ("timeout=-1", "timeout"),
                            ("session_id=..%2F", "session_id")]:
            status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates?{query}", headers=st.auth())
            harness.check(status == 400 and what in doc["error"]["message"], f"{query}: {status} {doc}")
        status, _, doc = harness.http_json("PUT", f"{st.url}/v1/updates/settings",
                                           {"allowed_updates": ["updateNewMessage", "updateNoSuchThing"]}, st.auth())
        harness.check(status == 422 and "updateNoSuchThing" in doc["error"]["message"], f"unknown type: {status} {doc}")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates", headers={"Authorization": "Bearer nope"})
        harness.check(status == 401, f"bad token: {status}")
        status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates", headers=ADMIN)
        harness.check(status == 401, f"the admin token is not a tenant's: {status}")


def stream_events(st, count, last_event_id=None):
    """The first `count` `update` events of GET /v1/updates/stream, as (id, update) pairs."""
    u = urllib.parse.urlparse(st.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    headers = dict(st.auth())
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    conn.request("GET", "/v1/updates/stream", headers=headers)
    resp = conn.getresponse()
    harness.check(resp.status == 200 and resp.getheader("content-type").startswith("text/event-stream"),
                  f"stream: {resp.status}")
    events, fields = [], {}
    while len(events) < count:
        line = resp.fp.readline().decode().rstrip("\n")
        if line == "":
            if fields.get("event") == "update":
                events.append((int(fields["id"]), json.loads(fields["data"])))
            fields = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(": ")
            fields[key] = value
    conn.close()
    return events


def test_the_stream_resumes_after_last_event_id_and_that_acknowledges():
    with SessionStack() as st:
        authorize(st)
        authorize(st)
        first = stream_events(st, 2)
        harness.check([i for i, _ in first] == [1, 2] and all(e["update_id"] == i for i, e in first),
                      f"id: is the update_id: {first}")
        harness.check(len(poll(st, 0)) == 2, "a stream alone acknowledges nothing")
        resumed = stream_events(st, 1, last_event_id=1)
        harness.check([i for i, _ in resumed] == [2], f"resumed after 1, no gap, no duplicate: {resumed}")
        harness.check([u["update_id"] for u in poll(st, 0)] == [2], "Last-Event-ID: 1 acknowledged update 1")
        harness.check(st.metric("tgpulse_updates_delivered_total", channel="stream") >= 3, "stream deliveries counted")


def test_incoming_messages_arrive_in_order():
    with SessionStack() as st:
        sid = authorize(st)
        status, _, _ = harness.http_json("POST", st.control_url + "/incoming", {"count": 5, "text": "hello"})
        harness.check(status == 200, f"POST /incoming: {status}")
        seen = []
        offset = 0
        while len(seen) < 5:
            page = poll(st, offset, timeout=10)
            harness.check(page, f"only {len(seen)} of 5 messages arrived")
            seen += [u for u in page if u["update"]["@type"] == "updateNewMessage"]
            offset = page[-1]["update_id"] + 1
        harness.check(all(u["session_id"] == sid for u in seen), "every message is the session's")
        ids = [u["update_id"] for u in seen]
        harness.check(ids == sorted(ids) and len(set(ids)) == 5, f"in order, no duplicate: {ids}")
        harness.check(all("hello" in str(u["update"]) for u in seen), "the text")


if __name__ == "__main__":
    harness.main([test_long_poll_acknowledges_and_a_restart_delivers_exactly_what_was_not,
                  test_another_tenant_sees_nothing_and_bad_input_is_refused,
                  test_the_stream_resumes_after_last_event_id_and_that_acknowledges,
                  test_incoming_messages_arrive_in_order])
