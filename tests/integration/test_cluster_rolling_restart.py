"""Scale-out acceptance: a rolling restart of three nodes under a steady invoke load.

Each node in turn gets SIGTERM (it stops taking requests, closes its sessions' TDLib clients and hands
their leases over, so the others take them at once instead of waiting out the lease) and is started
again under the same id. Meanwhile clients invoke getMe on every session through the nodes in turn.
No request that a node accepted is lost: each is answered 200, or a clear retryable refusal (503 with
Retry-After: the session is moving, its owner is restarting, it is being restored). A connection a
stopping node refuses was never accepted. After the restart every session is still authorized and
answers, the hand-overs are counted as such, and no session was ever open on two nodes."""
import http.client
import json
import threading
import time
import urllib.parse

import cluster_util
import harness
from cluster_util import DOUBLE_OPEN_SIGNS

SESSIONS = 60
CONFIG = cluster_util.TEST_CONFIG


class Load:
    """Threads invoking getMe on the sessions through the nodes in turn, counting every outcome."""

    def __init__(self, cluster, auth, sids, threads=4):
        self.cluster, self.auth, self.sids = cluster, auth, sids
        self.lock = threading.Lock()
        self.outcomes = {}   # "200", "503 session_moving", "refused", ...
        self.lost = []       # accepted and not answered, or answered with something not retryable
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def count(self, key, lost=None):
        with self.lock:
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
            if lost:
                self.lost.append(lost)

    def run(self, seed):
        i = seed
        while not self.stop_flag.is_set():
            node = self.cluster.nodes[i % len(self.cluster.nodes)]
            sid = self.sids[(i * 7) % len(self.sids)]
            i += 1
            self.one(node, sid)

    def one(self, node, sid):
        u = urllib.parse.urlparse(node.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            try:
                conn.connect()
            except OSError:
                self.count("refused")  # never accepted: the node is down or not listening yet
                time.sleep(0.05)
                return
            body = json.dumps({"@type": "getMe"})
            headers = dict(self.auth)
            headers["Content-Type"] = "application/json"
            try:
                conn.request("POST", f"/v1/sessions/{sid}/invoke", body, headers)
                r = conn.getresponse()
                raw = r.read()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                # A connection the draining node closed before it read the request on it: never accepted
                # (an accepted request is answered, by the drain's rule).
                self.count("closed_unread")
                return
            except OSError as e:
                self.count("error", lost=f"{node.node_id} {sid}: {e!r}")
                return
            doc = json.loads(raw) if raw else {}
            if r.status == 200 and doc.get("@type") == "user":
                self.count("200")
            elif r.status == 503 and r.getheader("Retry-After"):
                self.count(f"503 {doc.get('error', {}).get('code')}")
            else:
                self.count(f"{r.status}", lost=f"{node.node_id} {sid}: {r.status} {doc}")
        finally:
            conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)


def test_rolling_restart_under_load_loses_no_request_and_no_session():
    with cluster_util.Cluster(3, config=CONFIG) as c:
        auth = c.tenant("acme")
        sids = c.authorized_sessions(auth, SESSIONS)
        with Load(c, auth, sids) as load:
            time.sleep(2)
            for node in c.nodes:
                held = node.metric("tgpulse_cluster_sessions_owned")
                t0 = time.monotonic()
                code = node.stop(timeout=90)
                harness.check(code == 0, f"{node.node_id} exited with {code} on SIGTERM")
                left = node.log_lines("Cluster node left: sessions handed over")
                harness.check(left, f"{node.node_id} did not hand its sessions over")
                node.start()
                print(f"{node.node_id}: held {held:.0f}, stopped and back in {time.monotonic() - t0:.1f}s", flush=True)
                harness.wait_until(lambda: all(_authorized(c.nodes[0], auth, s) for s in sids), timeout=30,
                                   interval=0.5, what="every session authorized again")
                time.sleep(1)
        print(f"outcomes: {load.outcomes}", flush=True)
        harness.check(not load.lost, f"{len(load.lost)} accepted requests lost or refused for good: {load.lost[:5]}")
        harness.check(load.outcomes.get("200", 0) > 100, f"too little load went through: {load.outcomes}")
        for s in sids:
            code, _, doc = cluster_util.invoke(c.nodes[-1], auth, s)
            harness.check(code == 200, f"session {s} after the restart: {code} {doc}")
        handed = sum(n.metric("tgpulse_lease_takeovers_total", reason="handover") for n in c.nodes)
        harness.check(handed > 0, "no takeover was counted as a hand-over")
        # Deleting the tenant through one node logs out its sessions on every node, then removes it.
        code, _, doc = harness.http_json("DELETE", c.nodes[1].url + "/v1/tenants/acme", headers=cluster_util.ADMIN,
                                         timeout=60)
        harness.check(code == 200 and doc.get("deleted") is True and doc.get("cleanup_failed") == 0,
                      f"tenant deletion: {code} {doc}")
        harness.check(c.pg.psql("SELECT count(*) FROM sessions").strip() == "0", "session records left behind")
        for n in c.nodes:
            harness.wait_until(lambda n=n: n.metric("tgpulse_cluster_sessions_owned") == 0, timeout=5,
                               what=f"{n.node_id} holding no session")
            harness.check(not n.log_lines("Sessions given up: their leases are no longer this node's"),
                          f"{n.node_id} gave sessions up instead of logging them out")
        for n in c.nodes:
            out = n.all_output()
            for sign in DOUBLE_OPEN_SIGNS:
                harness.check(sign not in out, f"{sign!r} in the output of {n.node_id}")
            report = harness.sanitizer_report(out)
            harness.check(report is None, f"{n.node_id}: {report}")


def _authorized(node, auth, sid):
    code, _, doc = harness.http_json("GET", f"{node.url}/v1/sessions/{sid}", headers=auth, timeout=30)
    return code == 200 and doc.get("status") == "authorized"


if __name__ == "__main__":
    harness.main([test_rolling_restart_under_load_loses_no_request_and_no_session])
