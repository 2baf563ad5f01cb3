"""Webhooks end to end, tgpulse on tdsim: a real HTTP receiver started by the test (http.server on 127.0.0.1)
verifies every signature with docs/examples/webhook_receiver.py's verify(), fails a random 30 % of the
deliveries and answers some with 429 + Retry-After: every message tdsim injects (POST /incoming) still
arrives, in order per session, and a duplicate comes only after a delivery the receiver failed; POSTs share
kept-alive connections (the receiver speaks HTTP/1.1). Bad URLs
and secrets are refused (422), a private address too while updates.webhook_allow_private is off; an
unreachable and a hanging receiver are retried (bounded by updates.webhook_timeout), nothing is lost and
GET /v1/webhook shows the last error without the URL's query or the secret. A webhook and long polling
are exclusive (409), DELETE with drop_pending_updates empties the log, the webhook survives a restart,
and another tenant can neither see nor delete it."""
import http.server
import importlib.util
import json
import os
import random
import threading
import time

import harness
from session_util import SessionStack

SECRET = "s3cret_Webhook-0123456789"
QUERY_TOKEN = "qtok-987654321"
CONFIG = "updates:\n  webhook_allow_private: true\n  webhook_timeout: 2s\n"

_spec = importlib.util.spec_from_file_location(
    "webhook_receiver", os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples", "webhook_receiver.py"))
webhook_receiver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(webhook_receiver)


class Receiver:
    """A webhook receiver on 127.0.0.1. Every POST is recorded as (status answered, verified, updates).
    `script` answers the first verified ones; then `fail_rate` of them get 500, `throttle_rate` get 429 + Retry-After: 1; `mode` "fail"
    answers 500 to all, "hang" holds the first POST for `hang_seconds` before answering 204."""

    def __init__(self, fail_rate=0.0, throttle_rate=0.0, seed=13, script=()):
        self.lock = threading.Lock()
        self.posts = []
        self.rng = random.Random(seed)
        self.fail_rate, self.throttle_rate = fail_rate, throttle_rate
        self.mode = "ok"
        self.script = list(script)  # statuses for the first verified POSTs, before the random ones
        self.hang_seconds = 0.0
        self.connections = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # connections are kept unless a side closes them

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections += 1

            def do_POST(self):  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                verified = webhook_receiver.verify(SECRET.encode(), self.headers.get("X-Tgpulse-Timestamp", ""),
                                                   self.headers.get("X-Tgpulse-Signature", ""), body, time.time())
                hang = 0.0
                with receiver.lock:
                    roll = receiver.rng.random()
                    if not verified:
                        status = 401
                    elif receiver.mode == "fail":
                        status = 500
                    elif receiver.script:
                        status = receiver.script.pop(0)
                    elif receiver.mode == "hang":
                        receiver.mode, hang, status = "ok", receiver.hang_seconds, 504
                    elif roll < receiver.fail_rate:
                        status = 500
                    elif roll < receiver.fail_rate + receiver.throttle_rate:
                        status = 429
                    else:
                        status = 204
                if hang:
                    time.sleep(hang)  # longer than updates.webhook_timeout: tgpulse gives up first
                with receiver.lock:
                    receiver.posts.append((status, verified, json.loads(body)["updates"]))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token={QUERY_TOKEN}"
        self.shown_url = self.url.split("?")[0] + "?\u2026"  # what tgpulse shows: the query left out
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def accepted(self, types=("updateNewMessage",)):
        """The updates of 2xx POSTs, in arrival order, of `types`."""
        with self.lock:
            return [u for status, _, ups in self.posts if status < 300 for u in ups if u["update"]["@type"] in types]

    def snapshot(self):
        with self.lock:
            return list(self.posts)


def put_webhook(st, url, headers=None, **extra):
    body = {"url": url, "secret": SECRET}
    body.update(extra)
    return harness.http_json("PUT", f"{st.url}/v1/webhook", body, headers or st.auth())


def webhook_info(st, headers=None):
    return harness.http_json("GET", f"{st.url}/v1/webhook", headers=headers or st.auth())


def check_no_secrets(where, text):
    harness.check(SECRET not in text and QUERY_TOKEN not in text, f"{where} shows the secret or the URL's query")


def test_every_update_arrives_in_order_per_session_through_failures_and_429s():
    with Receiver(fail_rate=0.3, throttle_rate=0.1, script=[429, 500]) as receiver:  # at least one of each
        with SessionStack(config=CONFIG) as st:
            sessions = [st.authorized_session(), st.authorized_session()]
            status, _, doc = put_webhook(st, receiver.url, allowed_updates=["updateNewMessage", "tgpulse*"],
                                         max_connections=4)
            harness.check(status == 200 and doc["url"] == receiver.shown_url and doc["max_connections"] == 4,
                          f"PUT /v1/webhook: {status} {doc}")
            st.control("/incoming", {"count": 25, "text": "hook"})  # to every authorized session
            expected = 25 * len(sessions)
            harness.wait_until(lambda: len({u["update_id"] for u in receiver.accepted()}) >= expected, timeout=120,
                               what=f"{expected} messages acknowledged by the receiver")
            posts = receiver.snapshot()
            harness.check(all(verified for _, verified, _ in posts), "every delivery carries a valid signature")
            # Per session: what the receiver saw, in arrival order. An id seen again must have been in a POST
            # the receiver failed; apart from such repeats the ids increase. A POST's updates are in id order
            # and may come from several sessions.
            failed_ids = set()
            last_ok = {}
            for status, _, ups in posts:
                ids = [u["update_id"] for u in ups]
                harness.check(ids == sorted(ids), f"a POST's updates in id order: {ups}")
                for sid in {u["session_id"] for u in ups}:
                    mine = [u["update_id"] for u in ups if u["session_id"] == sid]
                    for i in mine:
                        if i <= last_ok.get(sid, 0):
                            harness.check(i in failed_ids, f"update {i} delivered twice without a failed delivery")
                    if status < 300:
                        last_ok[sid] = max(last_ok.get(sid, 0), mine[-1])
                    else:
                        failed_ids.update(mine)
            with receiver.lock:
                connections = receiver.connections
            harness.check(connections < len(posts), f"kept-alive connections: {connections} for {len(posts)} POSTs")
            got = receiver.accepted()
            for sid in sessions:
                mine = [u["update_id"] for u in got if u["session_id"] == sid]
                unique = sorted(set(mine))
                harness.check(len(unique) == 25, f"session {sid}: {len(unique)} of 25 messages")
                first_seen = [i for n, i in enumerate(mine) if i not in mine[:n]]
                harness.check(first_seen == unique, f"session {sid}: out of order {mine}")
            harness.check(any(s == 500 for s, _, _ in posts) and any(s == 429 for s, _, _ in posts),
                          "the receiver failed some deliveries and throttled some")
            harness.wait_until(lambda: webhook_info(st)[2]["pending_update_count"] == 0, timeout=30,
                               what="nothing pending")
            status, _, info = webhook_info(st)
            harness.check(status == 200 and info["url"] == receiver.shown_url and info["max_connections"] == 4
                          and info["last_error_date"]
                          and ("500" in info["last_error_message"] or "429" in info["last_error_message"]),
                          f"GET /v1/webhook: {info}")
            check_no_secrets("GET /v1/webhook", json.dumps(info))
            status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates", headers=st.auth())
            harness.check(status == 409 and doc["error"]["code"] == "conflict" and "webhook" in doc["error"]["message"],
                          f"long polling while a webhook is set: {status} {doc}")
            status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates/stream", headers=st.auth())
            harness.check(status == 409 and doc["error"]["code"] == "conflict", f"the stream too: {status} {doc}")
            harness.check(st.metric("tgpulse_updates_delivered_total", channel="webhook") >= expected, "delivered")
            for code in ("2xx", "5xx", "429"):
                harness.check(st.metric("tgpulse_webhook_requests_total", code=code) > 0, f"requests {code}")
            st.collector.wait_for_spans("/v1/traces", 1)
            spans = json.dumps(st.collector.bodies("/v1/traces"))
            harness.check("tgpulse_webhook_deliver" in spans, "a span per POST")
            check_no_secrets("the spans", spans)
            check_no_secrets("the log", st.service.stdout())
            harness.check(any(line.get("message") == "Webhook delivery failed" for line in st.service.log_lines()),
                          "a failing webhook is logged")


def test_bad_webhooks_are_refused_and_another_tenant_cannot_touch_one():
    with Receiver() as receiver:
        with SessionStack() as strict:  # updates.webhook_allow_private off (the default)
            status, _, doc = put_webhook(strict, receiver.url)
            harness.check(status == 422 and "127.0.0.1" in doc["error"]["message"], f"loopback refused: {status} {doc}")
        with SessionStack(config=CONFIG) as st:
            bad = [({"url": "ftp://127.0.0.1/x"}, 422, "http"),
                   ({"url": "http://user:pw-777@127.0.0.1/x"}, 422, "credentials"),
                   ({"url": receiver.url, "secret": "short"}, 422, "secret"),
                   ({"url": receiver.url, "max_connections": 0}, 422, "max_connections"),
                   ({"url": receiver.url, "max_connections": 101}, 422, "max_connections"),
                   ({"url": receiver.url, "allowed_updates": ["updateNoSuchThing"]}, 422, "updateNoSuchThing"),
                   ({"url": "http://no-such-host.invalid/x"}, 422, "")]
            for body, want, word in bad:
                full = {"secret": SECRET}
                full.update(body)
                status, _, doc = harness.http_json("PUT", f"{st.url}/v1/webhook", full, st.auth())
                harness.check(status == want and word in doc["error"]["message"], f"{body}: {status} {doc}")
                harness.check("pw-777" not in json.dumps(doc), "an error never repeats the URL's password")
            status, _, doc = harness.http_json("PUT", f"{st.url}/v1/webhook", {"url": receiver.url}, st.auth())
            harness.check(status == 400, f"no secret: {status} {doc}")
            harness.check(webhook_info(st)[0] == 404, "nothing was set")
            status, _, _ = put_webhook(st, receiver.url)
            harness.check(status == 200, f"acme's webhook: {status}")
            other = st.new_tenant("other")
            harness.check(webhook_info(st, other)[0] == 404, "another tenant does not see it")
            status, _, _ = harness.http_json("DELETE", f"{st.url}/v1/webhook", headers=other)
            harness.check(status == 404, f"another tenant cannot delete it: {status}")
            status, _, _ = harness.http_json("GET", f"{st.url}/v1/updates", headers=other)
            harness.check(status == 200, f"another tenant's long polling is not affected: {status}")
            harness.check(webhook_info(st)[0] == 200, "acme's webhook is still there")


def test_unreachable_and_hanging_receivers_are_retried_and_nothing_is_lost():
    with Receiver() as receiver:
        with SessionStack(config=CONFIG) as st:
            sid = st.authorized_session()
            closed_port = harness.free_port()
            status, _, doc = put_webhook(st, f"http://127.0.0.1:{closed_port}/hook?token={QUERY_TOKEN}")
            harness.check(status == 200, f"an unreachable receiver is accepted (it may come up): {status} {doc}")
            st.control("/incoming", {"count": 3, "text": "wait"})
            info = harness.wait_until(lambda: (lambda i: i.get("last_error_date") and i["pending_update_count"] >= 3
                                               and i)(webhook_info(st)[2]), timeout=30, what="the connect error")
            check_no_secrets("GET /v1/webhook", json.dumps(info))
            # The receiver now hangs on the first POST (5 s > updates.webhook_timeout 2 s), then answers.
            receiver.mode, receiver.hang_seconds = "hang", 5.0
            status, _, _ = put_webhook(st, receiver.url)
            harness.check(status == 200, f"the new URL: {status}")
            harness.wait_until(lambda: len({u["update_id"] for u in receiver.accepted()}) >= 3, timeout=90,
                               what="the three messages after the timeout")
            got = [u["update_id"] for u in receiver.accepted() if u["session_id"] == sid]
            harness.check(sorted(set(got)) == sorted(set(got), key=got.index), f"in order: {got}")
            harness.check(st.metric("tgpulse_webhook_requests_total", code="timeout") >= 1,
                          "the hanging receiver counted as a timeout")
            harness.check(st.metric("tgpulse_webhook_requests_total", code="connect_error") >= 1,
                          "the unreachable receiver counted as a connect error")
            status, _, info = webhook_info(st)
            harness.check(status == 200 and info["last_error_date"], f"the last error is kept: {info}")


def test_webhook_and_long_polling_exclude_each_other_delete_drops_and_a_restart_keeps_it():
    with Receiver() as receiver:
        with SessionStack(config=CONFIG) as st:
            st.authorized_session()
            _, _, doc = harness.http_json("GET", f"{st.url}/v1/updates?timeout=10", headers=st.auth(), timeout=20)
            harness.check(doc["updates"], f"the login's event: {doc}")
            last = doc["updates"][-1]["update_id"]
            harness.http_json("GET", f"{st.url}/v1/updates?offset={last + 1}", headers=st.auth())  # acknowledge
            answer = {}

            def long_poll():
                answer["status"], _, answer["doc"] = harness.http_json(
                    "GET", f"{st.url}/v1/updates?offset=0&timeout=40", headers=st.auth(), timeout=60)

            waiting = threading.Thread(target=long_poll)
            waiting.start()
            # Let the long poll park (the service shows no per-tenant sign of it); if it had not, it would get
            # 409 all the same — the time bound below is what shows that a parked one was woken.
            time.sleep(0.5)
            receiver.mode = "fail"
            started = time.monotonic()
            status, _, _ = put_webhook(st, receiver.url)
            harness.check(status == 200, f"PUT: {status}")
            waiting.join(30)
            harness.check(answer.get("status") == 409 and time.monotonic() - started < 20,
                          f"the waiting long poll lost to the webhook at once: {answer}")
            st.control("/incoming", {"count": 2, "text": "pending"})
            harness.wait_until(lambda: webhook_info(st)[2]["pending_update_count"] >= 2, timeout=20, what="pending")
            # A restart on the same data directory keeps the webhook; the receiver now takes them.
            harness.Proc.stop(st.service)
            receiver.mode = "ok"
            with SessionStack(config=CONFIG, data_dir=st.service.data_dir) as again:
                again.token = st.token
                harness.check(webhook_info(again)[0] == 200, "the webhook survived the restart")
                harness.wait_until(lambda: len(receiver.accepted()) >= 2, timeout=60,
                                   what="the pending messages delivered after the restart")
                receiver.mode = "fail"
                again.control("/incoming", {"count": 2, "text": "dropped"})
                harness.wait_until(lambda: webhook_info(again)[2]["pending_update_count"] >= 2, timeout=20,
                                   what="pending again")
                status, _, doc = harness.http_json("DELETE", f"{again.url}/v1/webhook?drop_pending_updates=maybe",
                                                   headers=again.auth())
                harness.check(status == 400, f"a bad flag: {status} {doc}")
                status, _, doc = harness.http_json("DELETE", f"{again.url}/v1/webhook?drop_pending_updates=true",
                                                   headers=again.auth())
                harness.check(status == 200 and doc["dropped_pending_updates"] is True, f"DELETE: {status} {doc}")
                harness.check(webhook_info(again)[0] == 404, "gone")
                status, _, doc = harness.http_json("GET", f"{again.url}/v1/updates", headers=again.auth())
                harness.check(status == 200 and doc["updates"] == [], f"long polling again, nothing left: {doc}")


if __name__ == "__main__":
    harness.main([test_every_update_arrives_in_order_per_session_through_failures_and_429s,
                  test_bad_webhooks_are_refused_and_another_tenant_cannot_touch_one,
                  test_unreachable_and_hanging_receivers_are_retried_and_nothing_is_lost,
                  test_webhook_and_long_polling_exclude_each_other_delete_drops_and_a_restart_keeps_it])
