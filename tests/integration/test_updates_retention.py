"""Retention and isolation of the update log, tgpulse on tdsim: a tenant that never reads hits
updates.max_pending (set low here): its oldest updates are dropped and counted, and the gap is announced
with tgpulseUpdatesDropped events naming exactly the missing ids. Meanwhile another tenant that reads
keeps its delivery lag: measured here with and without the flood, from each update's received_at to the
moment its long poll answered."""
import datetime
import statistics
import threading
import time

import harness
from session_util import SessionStack

MAX_PENDING = 100
# The flood: a quarter of the 20,000 updates/s target, into a log that keeps 100. (Offered
# unpaced — about 50,000/s from tdsim on this 2-core machine, more than the service takes — the reader's
# p99 went from ~25 ms to ~500 ms: a saturated receive loop and writer delay everyone; that is capacity,
# measured by the bench, not isolation.)
FLOOD_RATE = 5000
CONFIG = f"updates:\n  max_pending: {MAX_PENDING}\nlimits:\n  tenant_request_rate: 0\n"


def session_with_client(st, headers):
    """A new authorized session of the tenant `headers` authenticates, and its tdsim client id."""
    doc, _ = st.start_login(headers=headers)
    sid = doc["session_id"]
    link = harness.wait_until(lambda: st.login_doc(sid, headers)[2].get("link"), timeout=20, what="QR link")
    status, _, state = harness.http_json("GET", st.control_url + "/state")
    client = [c["client_id"] for c in state["clients"] if c.get("link") == link]
    harness.check(len(client) == 1, f"the client showing the link: {state}")
    st.control("/scan", {"link": link, "outcome": "accept"})
    harness.wait_until(lambda: st.login_doc(sid, headers)[2]["status"] == "authorized", timeout=30,
                       what=f"{sid} authorized")
    return sid, client[0]


def poll(st, headers, offset, timeout=0, limit=1000):
    status, _, doc = harness.http_json("GET", f"{st.url}/v1/updates?offset={offset}&limit={limit}&timeout={timeout}",
                                       headers=headers, timeout=timeout + 10)
    harness.check(status == 200, f"poll: {status} {doc}")
    return doc["updates"]


def received_at(u):
    t = datetime.datetime.strptime(u["received_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def drain(st, headers):
    """Reads and acknowledges everything the tenant has; returns the next offset."""
    offset = 0
    while True:
        page = poll(st, headers, offset)
        if not page:
            return offset
        offset = page[-1]["update_id"] + 1


class LagProbe:
    """Long polls a tenant without pause and records, per new message, answer time - received_at."""

    def __init__(self, st, headers, offset):
        self.st, self.headers, self.offset = st, headers, offset
        self.lags, self.stop, self.error = [], threading.Event(), None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while not self.stop.is_set():
                page = poll(self.st, self.headers, self.offset, timeout=1)
                now = time.time()
                self.lags += [now - received_at(u) for u in page if u["update"]["@type"] == "updateNewMessage"]
                if page:
                    self.offset = page[-1]["update_id"] + 1
        except Exception as e:  # noqa: BLE001 - reported by the test thread
            self.error = e

    def measure(self, st, client_id, count):
        """Sends `count` messages to the client, one every 20 ms; returns the lags of those messages."""
        start = len(self.lags)
        for _ in range(count):
            st.control("/incoming", {"client_id": client_id, "count": 1, "text": "probe"})
            time.sleep(0.02)
        harness.wait_until(lambda: self.error or len(self.lags) - start >= count, timeout=30, what=f"{count} probes")
        harness.check(self.error is None, f"the reader failed: {self.error}")
        return self.lags[start:start + count]

    def close(self):
        self.stop.set()
        self.thread.join(timeout=15)


def p99(values):
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def test_a_tenant_that_never_reads_loses_its_oldest_announced_exactly_and_another_tenant_keeps_its_lag():
    with SessionStack(config=CONFIG) as st:
        flooder = st.auth()
        reader = st.new_tenant("reader")
        _, flood_client = session_with_client(st, flooder)
        _, read_client = session_with_client(st, reader)

        # 1. Exactly announced: 150 messages into a log that keeps 100, in however many batches. The
        # announcements in the log name together exactly the ids below the first one kept (a trim that
        # drops an earlier announcement names that one's ids again).
        st.control("/incoming", {"client_id": flood_client, "count": 150, "text": "flood"})
        def settled():  # the last message is in: every trim it caused ran before it could be read
            page = poll(st, flooder, 0)
            return any(u["update"]["@type"] == "updateNewMessage"
                       and u["update"]["message"]["content"]["text"]["text"].endswith("#150") for u in page) and page
        page = harness.wait_until(settled, timeout=30, what="150 messages written or dropped")
        ids = [u["update_id"] for u in page]
        gaps = [u["update"] for u in page if u["update"]["@type"] == "tgpulseUpdatesDropped"]
        # A trim keeps max_pending, then its announcement is appended after them.
        harness.check(len(page) <= MAX_PENDING + len(gaps) and ids == list(range(ids[0], ids[-1] + 1)),
                      f"at most {MAX_PENDING} kept (+ the announcements), contiguous: {ids}")
        harness.check(gaps and all(g["reason"] == "max_pending" and 0 < g["count"] <= g["to_update_id"] - g["from_update_id"] + 1
                                   for g in gaps), f"announcements: {gaps}")
        announced = sorted(i for g in gaps for i in range(g["from_update_id"], g["to_update_id"] + 1))
        harness.check(announced == list(range(1, ids[0])),
                      f"announced exactly the missing ids 1..{ids[0] - 1}: {announced}")
        harness.wait_until(lambda: st.metric("tgpulse_updates_dropped_total", reason="max_pending") >= sum(g["count"] for g in gaps),
                           timeout=5, what="the drops counted")  # counted just after the commit
        harness.check(st.metric("tgpulse_updates_dropped_total", reason="max_pending") == sum(g["count"] for g in gaps),
                      f"every drop counted: {st.metric('tgpulse_updates_dropped_total', reason='max_pending')} vs {gaps}")
        first_kept = next(u for u in page if u["update"]["@type"] == "updateNewMessage")
        # tdsim numbers the texts "<text> #<i>": the oldest went, the newest stayed.
        kept_texts = [u["update"]["message"]["content"]["text"]["text"] for u in page
                      if u["update"]["@type"] == "updateNewMessage"]
        harness.check(kept_texts[-1].endswith("#150") and not any(t.endswith("#1") for t in kept_texts),
                      f"the oldest dropped, the newest kept: {kept_texts[:3]} ... {kept_texts[-3:]} ({first_kept['update_id']})")

        # 2. Isolation: the reader's lag, alone and while the flooder receives a flood it never reads.
        probe = LagProbe(st, reader, drain(st, reader))
        try:
            probe.measure(st, read_client, 20)  # warm-up
            alone = probe.measure(st, read_client, 150)
            flooding, sent = threading.Event(), [0]
            def flood():  # FLOOD_RATE messages a second, in blocks of 100
                start = time.monotonic()
                while not flooding.is_set():
                    st.control("/incoming", {"client_id": flood_client, "count": 100, "text": "flood"})
                    sent[0] += 100
                    ahead = start + sent[0] / FLOOD_RATE - time.monotonic()
                    if ahead > 0:
                        flooding.wait(ahead)
            flood_thread = threading.Thread(target=flood, daemon=True)
            dropped_before = sum(st.metric("tgpulse_updates_dropped_total", reason=r) for r in ("max_pending", "queue_full"))
            flood_thread.start()
            try:
                harness.wait_until(lambda: sent[0] >= FLOOD_RATE, timeout=30, what="the flood under way")
                flooded = probe.measure(st, read_client, 150)
            finally:
                flooding.set()
                flood_thread.join(timeout=30)
        finally:
            probe.close()
        received = sent[0]
        # Every flood message is either kept (at most MAX_PENDING) or dropped: trimmed (max_pending), or
        # dropped before the log when the flooder's in-memory queue was full (queue_full) — counted.
        def accounted():
            dropped = sum(st.metric("tgpulse_updates_dropped_total", reason=r) for r in ("max_pending", "queue_full"))
            return dropped - dropped_before >= received - MAX_PENDING and dropped - dropped_before
        dropped = harness.wait_until(accounted, timeout=60, what=f"the flood's {received} messages dropped or kept")
        harness.check(len(poll(st, flooder, 0)) <= MAX_PENDING + 2, "the flooder's log keeps its bound")
        a50, a99 = statistics.median(alone), p99(alone)
        f50, f99 = statistics.median(flooded), p99(flooded)
        print(f"  reader's lag alone p50 {a50 * 1000:.1f} ms p99 {a99 * 1000:.1f} ms; "
              f"with {received} updates flooding another tenant ({dropped:.0f} dropped) p50 {f50 * 1000:.1f} ms p99 {f99 * 1000:.1f} ms")
        # Generous bounds, on a 2-core machine shared with other builds: the flood shares the writer (its
        # batches of up to 1,000 rows and their trims go through the same group commit), so some lag
        # is expected; a reader held behind the flood would wait for the whole flood (seconds).
        # The p99 is compared with the 100 ms target; under a sanitizer everything is ~10x slower.
        # The ratio's floor is that target: a p99 of 150 samples is the second-slowest probe, and on a
        # shared machine one scheduling hiccup of a few tens of ms moves it (measured here: alone p99
        # 8-23 ms, with the flood 25-60 ms).
        target = 1.0 if harness.sanitizer_build() else 0.1
        harness.check(f99 <= max(4 * a99, target), f"the flood multiplied the reader's p99: {a99:.3f} s -> {f99:.3f} s")
        harness.check(f99 <= target, f"the reader's p99 with the flood {f99:.3f} s is over {target} s")


if __name__ == "__main__":
    harness.main([test_a_tenant_that_never_reads_loses_its_oldest_announced_exactly_and_another_tenant_keeps_its_lag])
