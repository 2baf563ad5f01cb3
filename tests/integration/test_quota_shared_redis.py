"""The tenant request quota shared through Redis (docs/operations.md, "Shared quotas (Redis)"): two
`tgpulse serve` nodes, each with its own SQLite data directory and the same tenant created on both
through the admin API, share one redis-server (127.0.0.1, a free port, no persistence). One tenant's
cheap route hammered on both nodes admits, in sum, rate × time + burst (within 5 %), not twice that;
with Redis stopped mid-run the nodes keep serving on their own buckets, counting the fallbacks."""
import contextlib
import http.client
import os
import shutil
import subprocess
import threading
import time

import harness
from session_util import SessionStack

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
RATE, BURST = 40, 20


class RedisServer:
    """redis-server on 127.0.0.1:<free port>, without persistence; killed when the block ends."""

    def __init__(self):
        harness.check(os.path.exists(REDIS), f"{REDIS} is missing: run scripts/install-deps.sh")
        self.port = harness.free_port()
        self.p = None
        self.start()

    def start(self):
        self.p = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def up():
            try:
                import socket
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False
        harness.wait_until(up, timeout=10, interval=0.05, what="redis-server accepting connections")

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def config(redis_port):
    # A generous Redis deadline: this test is about sharing and degrading, and two nodes hammering on 2
    # cores (an ASan build above all) can take longer than the default 50 ms for a reply, which would be
    # decided locally and counted as a fallback. A stopped Redis refuses connections at once anyway.
    return (f"limits:\n  tenant_request_rate: {RATE}\n  tenant_request_burst: {BURST}\n"
            f"quota:\n  redis_url: redis://127.0.0.1:{redis_port}/0\n  redis_timeout: 1s\n")


def hammer(stack, seconds, counts, stop_at, max_requests=6000):
    """GET /v1/sessions as the tenant on one keep-alive connection until `stop_at` (or max_requests)."""
    host, port = stack.url.replace("http://", "").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = stack.auth()
    n = 0
    while time.monotonic() < stop_at and n < max_requests:
        conn.request("GET", "/v1/sessions", headers=headers)
        r = conn.getresponse()
        r.read()
        n += 1
        key = "ok" if 200 <= r.status < 300 else str(r.status)
        with counts["lock"]:
            counts[key] = counts.get(key, 0) + 1
    conn.close()


def run_load(stacks, seconds, threads_per_node=3):
    counts = {"lock": threading.Lock()}
    started = time.monotonic()
    stop_at = started + seconds
    workers = [threading.Thread(target=hammer, args=(s, seconds, counts, stop_at))
               for s in stacks for _ in range(threads_per_node)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    counts.pop("lock")
    return counts, time.monotonic() - started


def test_two_nodes_share_one_quota_and_keep_serving_without_redis():
    with contextlib.ExitStack() as stack:
        redis = stack.enter_context(RedisServer())
        a = stack.enter_context(SessionStack(config=config(redis.port)))
        b = stack.enter_context(SessionStack(config=config(redis.port)))
        harness.check(a.token and b.token, "tenant acme was not created on both nodes")
        # The burst both nodes drew on while starting up (tenant creation is an admin call: no quota).
        counts, seconds = run_load([a, b], 4.0)
        expected = RATE * seconds + BURST
        ok = counts.get("ok", 0)
        print(f"shared quota over two nodes: {ok} admitted in {seconds:.2f} s, expected {expected:.0f} "
              f"(rate x time + burst), answers {counts}", flush=True)
        harness.check(sum(counts.values()) > 3 * expected, f"the load did not exceed the quota: {counts}")
        harness.check(abs(ok - expected) <= 0.05 * expected, f"admitted {ok}, expected {expected:.0f} ± 5 %")
        harness.check(set(counts) <= {"ok", "429"}, f"answers other than 2xx and 429: {counts}")
        for node in (a, b):
            harness.check(node.metric("tgpulse_quota_shared_state") == 1, "shared state is not 1")
            harness.check(node.metric("tgpulse_quota_shared_fallbacks_total") == 0, "fallbacks while Redis was up")
        calls = a.metric("tgpulse_quota_redis_seconds_count")
        mean_ms = 1000 * a.metric("tgpulse_quota_redis_seconds_sum") / max(calls, 1)
        print(f"Redis calls on node a: {calls:.0f}, mean {mean_ms:.3f} ms", flush=True)

        # Redis goes away: each node decides on its own bucket; requests keep being served.
        redis.stop()
        counts, seconds = run_load([a, b], 3.0)
        print(f"Redis stopped: answers {counts} in {seconds:.2f} s", flush=True)
        harness.check(counts.get("ok", 0) > 0, f"no request served without Redis: {counts}")
        harness.check(set(counts) <= {"ok", "429"}, f"answers other than 2xx and 429 without Redis: {counts}")
        for node in (a, b):
            harness.check(node.metric("tgpulse_quota_shared_fallbacks_total") > 0, "no fallback counted")
            harness.check(node.metric("tgpulse_quota_shared_state") == 0, "shared state is not 0")
            harness.check(len(node.logs("Shared quota unavailable, using per-node quotas")) == 1,
                          "not exactly one WARN for the outage")

        # Redis is back: the next probe (at most a second later) restores the shared state.
        redis.start()
        def restored():
            harness.http("GET", a.url + "/v1/sessions", headers=a.auth())
            return a.metric("tgpulse_quota_shared_state") == 1
        harness.wait_until(restored, timeout=10, interval=0.2, what="shared state back to 1")
        a.wait_logs("Shared quota restored", 1)


if __name__ == "__main__":
    harness.main([test_two_nodes_share_one_quota_and_keep_serving_without_redis])
