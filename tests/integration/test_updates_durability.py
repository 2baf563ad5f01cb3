"""Durability of the update log across a crash, tgpulse on tdsim: 1,000 authorized sessions of two tenants
receive messages (tdsim's incoming rate), one tenant reads by long polling (acknowledging with offset),
the other by the event stream; tgpulse is killed with SIGKILL mid-traffic and started again on the same
data directory.

"Acknowledged by the store" (docs/updates.md, Durability): an update is durable once the group commit
that wrote it returned, and a reader is never shown an update before that. So every update a reader saw
before the kill is durable; the test checks, after the restart:
- the long-poll tenant gets every update it saw and had not acknowledged (update_id >= the last offset it
  sent), each with the same content, and nothing below that offset (nothing twice after an
  acknowledgement);
- the stream tenant, reconnecting with Last-Event-ID = the last id it got, continues at exactly the next
  id, without a gap, and gets the updates it had not seen;
- ids continue above every id assigned before the kill (none reused)."""
import http.client
import json
import threading
import time
import urllib.parse

import harness
from session_util import ADMIN, SessionStack

# The figure in the plain build; a sanitizer build runs the same checks with fewer sessions (its
# 2-5x slower engine would spend minutes on the logins alone, and the property does not depend on the count).
SESSIONS = 1000 if harness.sanitizer_build() is None else 300
CONFIG = """limits:
  tenant_request_rate: 0
  tenant_sessions: 1000
  tenant_logins: 1000
  process_logins: 1000
  tenant_logins_per_minute: 1000000
"""
# The phone scans every QR code by itself at once; every authorized account gets 2 messages a second.
PROFILE = {"qr": {"scan_probability": 1.0, "password_probability": 0.0, "decline_probability": 0.0,
                  "scan_delay_ms": {"min": 1, "max": 5}},
           "incoming": {"rate_per_second": 2, "chats": 3, "edit_probability": 0.0, "delete_probability": 0.0,
                        "read_probability": 0.0}}


def create_sessions(st, headers, count):
    sids = []
    for _ in range(count):
        # A login answers once the engine showed its QR code; with hundreds of sessions already receiving
        # traffic on a loaded machine that may take seconds.
        status, _, doc = harness.http_json("POST", st.url + "/v1/qr-logins", {}, headers, timeout=60)
        harness.check(status == 201, f"qr-login {len(sids)}: {status} {doc}")
        sids.append(doc["session_id"])
    return sids


def authorized_count(st):
    return st.metric("telethon_qr_session_total", status="authorized")


class LongPoller(threading.Thread):
    """Long polls a tenant without pause. Like a client that acknowledges what it has finished with, it
    acknowledges (with the next request's offset) only the first half of each page: the rest is read
    again, so at any moment it has seen updates it has not acknowledged. `confirmed`: the offset of the
    last request the service answered (its acknowledgement certainly done)."""

    def __init__(self, url, headers, offset=0):
        super().__init__(daemon=True)
        self.url, self.headers, self.offset, self.confirmed = url, headers, offset, 0
        self.seen, self.stop, self.failed = {}, threading.Event(), None

    def run(self):
        while not self.stop.is_set():
            try:
                status, _, doc = harness.http_json("GET", f"{self.url}/v1/updates?offset={self.offset}&limit=1000&timeout=1",
                                                   headers=self.headers, timeout=5)
            except OSError as e:  # the service was killed
                self.failed = e
                return
            if status != 200:
                self.failed = status
                return
            self.confirmed = self.offset
            page = doc["updates"]
            for u in page:
                self.seen[u["update_id"]] = u
            if len(page) >= 2:
                self.offset = page[len(page) // 2]["update_id"]  # sent (acknowledging) with the next request


class StreamReader(threading.Thread):
    """Reads GET /v1/updates/stream; records the update events in order."""

    def __init__(self, url, headers, last_event_id=None):
        super().__init__(daemon=True)
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        h = dict(headers)
        if last_event_id is not None:
            h["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/v1/updates/stream", headers=h)
        self.resp = self.conn.getresponse()
        harness.check(self.resp.status == 200, f"stream: {self.resp.status}")
        self.events = []

    def run(self):
        fields = {}
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line == "":
                    if fields.get("event") == "update":
                        self.events.append((int(fields["id"]), json.loads(fields["data"])))
                    fields = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(": ")
                    fields[key] = value
        except (OSError, ValueError):
            return


def test_kill_9_under_traffic_loses_nothing_acknowledged_by_the_store_and_duplicates_nothing_acknowledged():
    started = time.monotonic()
    with SessionStack(config=CONFIG, profile=PROFILE) as first:
        polled = first.auth()
        streamed = first.new_tenant("streamer")
        create_sessions(first, polled, SESSIONS // 2)
        create_sessions(first, streamed, SESSIONS // 2)
        harness.wait_until(lambda: authorized_count(first) >= SESSIONS, timeout=120, interval=0.5,
                           what=f"{SESSIONS} sessions authorized")
        print(f"  {SESSIONS} sessions authorized in {time.monotonic() - started:.1f} s")
        poller = LongPoller(first.url, polled)
        stream = StreamReader(first.url, streamed)
        poller.start()
        stream.start()
        harness.wait_until(lambda: len(poller.seen) >= 2000 and len(stream.events) >= 2000, timeout=60,
                           what="2,000 updates read by each tenant")
        first.service.kill9()  # mid-traffic: the readers are reading, the writer writing
        poller.stop.set()
        poller.join(timeout=10)
        stream.join(timeout=10)
        offset = poller.offset  # the last offset sent: every id below it acknowledged (or being acknowledged)
        confirmed = poller.confirmed  # the last offset the service answered: acknowledged for certain
        seen_polled = dict(poller.seen)
        stream_ids = [i for i, _ in stream.events]
        harness.check(stream_ids == list(range(stream_ids[0], stream_ids[-1] + 1)),
                      "the stream was contiguous before the kill")
        stream_seen = dict(stream.events)
        last_stream_id = stream_ids[-1]
        print(f"  killed after {len(seen_polled)} long-polled ({len([i for i in seen_polled if i >= offset])} not "
              f"acknowledged) and {len(stream_ids)} streamed updates; offset {offset}, Last-Event-ID {last_stream_id}")

        with SessionStack(config=CONFIG, profile=PROFILE, data_dir=first.service.data_dir) as second:
            second.token = first.token
            # The acknowledgements answered before the kill held: a read that acknowledges nothing
            # (offset 0) starts at or above the confirmed offset.
            status, _, doc = harness.http_json("GET", f"{second.url}/v1/updates?offset=0&limit=1", headers=polled)
            harness.check(status == 200 and doc["updates"] and confirmed <= doc["updates"][0]["update_id"] <= offset,
                          f"acknowledged below {confirmed} (last sent {offset}) before the kill: {doc}")
            # The long-poll tenant asks again with the offset it last sent.
            unacked = sorted(i for i in seen_polled if i >= offset)
            harness.check(len(unacked) >= 1, f"the reader had seen updates it had not acknowledged: offset {offset}")
            after = {}
            def caught_up():
                status, _, doc = harness.http_json("GET", f"{second.url}/v1/updates?offset={offset}&limit=1000&timeout=1",
                                                   headers=polled, timeout=10)
                harness.check(status == 200, f"poll after the restart: {status} {doc}")
                for u in doc["updates"]:
                    after[u["update_id"]] = u
                return not unacked or max(after, default=0) >= unacked[-1]
            harness.wait_until(caught_up, timeout=60, what="the unacknowledged updates after the restart")
            harness.check(min(after) >= offset, f"an acknowledged update came back: {min(after)} < offset {offset}")
            missing = [i for i in unacked if i not in after]
            harness.check(not missing, f"{len(missing)} updates seen before the kill and not acknowledged are lost: {missing[:10]}")
            changed = [i for i in unacked if after[i]["update"] != seen_polled[i]["update"]
                       or after[i]["session_id"] != seen_polled[i]["session_id"]]
            harness.check(not changed, f"updates changed across the restart: {changed[:5]}")

            # The stream tenant reconnects with Last-Event-ID: no gap, no duplicate.
            resumed = StreamReader(second.url, streamed, last_event_id=last_stream_id)
            resumed.start()
            harness.wait_until(lambda: len(resumed.events) >= 100, timeout=60, what="the resumed stream")
            ids = [i for i, _ in resumed.events[:100]]
            harness.check(ids == list(range(last_stream_id + 1, last_stream_id + 101)),
                          f"resumed after {last_stream_id} without a gap or a duplicate: {ids[:5]}...")
            resumed.conn.close()
            # New ids continue above everything assigned before the kill.
            new_ids = [i for i in after if i not in seen_polled]
            harness.check(all(i > max(seen_polled) for i in new_ids), "an id was reused after the restart")
        print(f"  whole test {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    harness.main([test_kill_9_under_traffic_loses_nothing_acknowledged_by_the_store_and_duplicates_nothing_acknowledged])
