"""Scale-out benchmarks on one machine (see run_cluster.sh; figures in docs/PERFORMANCE.md, "Scale-out").

Every part starts its own cluster (tests/integration/cluster_util.py: `tgpulse serve` nodes on one real
PostgreSQL 15, one data directory, tdsim) on 127.0.0.1 and free ports, and stops it and the database.

  failover  3 nodes, --sessions authorized sessions (60); --kills times (10): kill -9 the node holding
            the most at a random point of its renewal period, time from the kill until every one of its
            sessions answers getMe through a survivor, then start the killed node again under its id.
            Reports p50/p99 (over the kills) of that time, the lease TTL, and the survivors'
            tgpulse_lease_takeover_seconds histogram summed over the kills.
  forward   3 nodes, 30 sessions: the same getMe sent to the session's owner and through another node
            (forwarded), in turn, sequentially and from 8 threads; p50/p99 of each and the difference. A
            third column sends it to the owner on a new connection each time (the forwarder opens one per
            request), to show how much of the difference is that connection.
  spread    clusters of 1, 2 and 3 nodes (--nodes), --sessions sessions each (300): sessions per node
            and RSS (VmRSS of the node's process) before and after, per session, against the 1-node
            cluster.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import random
import re
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import cluster_util  # noqa: E402
import harness  # noqa: E402
from cluster_util import DOUBLE_OPEN_SIGNS, invoke  # noqa: E402

ENV = {"TGPULSE_THROTTLE_ENABLED": "false"}
LIMITS = """
throttle:
  tenant:
    default_rate: 100000
    default_burst: 100000
limits:
  tenant_request_rate: 0
  tenant_logins: 200
  process_logins: 400
  tenant_logins_per_minute: 100000
"""
# The lease timings: the failover test's short lease (6 s), or the service's defaults (15 s).
RENEW_INTERVAL = {6: 1.0, 15: 3.0}  # seconds, as TIMINGS sets them
TIMINGS = {6: "cluster:\n  lease_ttl: 6s\n  renew_interval: 1s\n  fence_margin: 2s\n  claim_interval: 500ms\n",
           15: ""}
_BUCKET = re.compile(r'^tgpulse_lease_takeover_seconds_bucket\{le="([^"]+)"\}\s+(\S+)')


def config(lease_ttl):
    return TIMINGS[lease_ttl] + LIMITS


def quantile(values, q):
    """Nearest-rank quantile (p99 of 10 values is the largest)."""
    s = sorted(values)
    if not s:
        return None
    return s[min(len(s) - 1, max(0, int(-(-q * len(s) // 1)) - 1))]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def rss_kib(node):
    with open(f"/proc/{node.proc.p.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {node.node_id}")


def takeover_buckets(node):
    """le -> cumulative count of tgpulse_lease_takeover_seconds on `node` (plus "sum" and "count")."""
    _, _, raw = harness.http("GET", node.url + "/metrics")
    out = {}
    for line in raw.decode().splitlines():
        m = _BUCKET.match(line)
        if m:
            out[m.group(1)] = float(m.group(2))
        elif line.startswith("tgpulse_lease_takeover_seconds_sum"):
            out["sum"] = float(line.split()[-1])
        elif line.startswith("tgpulse_lease_takeover_seconds_count"):
            out["count"] = float(line.split()[-1])
    return out


def answers(node, auth, sid, timeout=5):
    try:
        code, _, doc = invoke(node, auth, sid, timeout=timeout)
    except OSError:
        return False
    return code == 200 and isinstance(doc, dict) and doc.get("@type") == "user"


# ---------------------------------------------------------------------------------------------- failover
def failover(args):
    ttl = args.lease_ttl
    kills = []
    histogram = {}
    with cluster_util.Cluster(3, config=config(ttl), extra_env=ENV) as c:
        auth = c.tenant("bench")
        t0 = time.monotonic()
        sids = c.authorized_sessions(auth, args.sessions)
        print(f"{len(sids)} sessions authorized in {time.monotonic() - t0:.1f}s", flush=True)
        for k in range(args.kills):
            owners = c.owners()
            per_node = {n.node_id: sum(1 for s in sids if owners.get(s) == n.node_id) for n in c.nodes}
            victim = max(c.nodes, key=lambda n: per_node[n.node_id])
            moved = [s for s in sids if owners.get(s) == victim.node_id]
            survivors = [n for n in c.nodes if n is not victim]
            before = {n.node_id: takeover_buckets(n) for n in survivors}
            # The kill at a random point of the victim's renewal period: the time left on its leases (and so
            # the failover time) depends on how long ago it last renewed, and the loop's own rhythm (a restart,
            # then a wait for membership) would otherwise fix that phase.
            time.sleep(random.uniform(0, RENEW_INTERVAL[ttl]))
            victim.kill9()
            killed_at = time.monotonic()

            def resumed(i_sid):
                i, sid = i_sid
                node = survivors[i % len(survivors)]
                deadline = killed_at + ttl + 60
                while time.monotonic() < deadline:
                    if answers(node, auth, sid):
                        return time.monotonic() - killed_at
                    time.sleep(0.1)
                raise AssertionError(f"{sid} did not answer through {node.node_id} within {ttl + 60}s")
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                each = list(pool.map(resumed, enumerate(moved)))
            took = max(each)
            for n in survivors:
                after = takeover_buckets(n)
                for le, v in after.items():
                    histogram[le] = histogram.get(le, 0.0) + v - before[n.node_id].get(le, 0.0)
            kills.append({"victim": victim.node_id, "spread": per_node, "moved": len(moved), "seconds": took,
                          "per_session_p50": statistics.median(each)})
            print(f"kill {k + 1}: {victim.node_id} ({len(moved)} of {per_node}) -> all answer after {took:.2f}s "
                  f"(per session p50 {statistics.median(each):.2f}s)", flush=True)
            victim.start()
            harness.wait_until(lambda v=victim: v.metric("tgpulse_cluster_nodes") == 3, timeout=60,
                               what=f"{victim.node_id} sees three nodes again")
        for n in c.nodes:
            out = n.all_output()
            for sign in DOUBLE_OPEN_SIGNS:
                harness.check(sign not in out, f"{sign!r} in the output of {n.node_id}")
    secs = [k["seconds"] for k in kills]
    return {"lease_ttl_s": ttl, "sessions": args.sessions, "kills": kills,
            "p50_s": statistics.median(secs), "p99_s": quantile(secs, 0.99), "max_s": max(secs),
            "takeover_histogram": histogram}


# ---------------------------------------------------------------------------------------------- forward
class KeepAlive:
    """One kept-alive HTTP/1.1 connection per (thread, node)."""

    def __init__(self, auth):
        self.auth = dict(auth, **{"Content-Type": "application/json"})
        self.local = threading.local()

    def get_me(self, node, sid, fresh=False):
        """Nanoseconds until getMe's answer; `fresh`: on a new connection (its set-up timed), closed after."""
        conns = self.local.__dict__.setdefault("conns", {})
        body = b'{"@type":"getMe"}'
        for attempt in range(2):
            conn = None if fresh else conns.get(node.port)
            t = time.perf_counter_ns()
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
                if not fresh:
                    conns[node.port] = conn
            try:
                conn.request("POST", f"/v1/sessions/{sid}/invoke", body, self.auth)
                r = conn.getresponse()
                data = r.read()
                ns = time.perf_counter_ns() - t
                if fresh:
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                conns.pop(node.port, None)
                if attempt:
                    raise
                continue
            if r.status != 200 or b'"user"' not in data:
                raise AssertionError(f"getMe of {sid} through {node.node_id}: {r.status} {data[:200]!r}")
            return ns
        raise AssertionError("unreachable")


def forward(args):
    rounds = []
    with cluster_util.Cluster(3, config=config(args.lease_ttl), extra_env=ENV) as c:
        auth = c.tenant("bench")
        sids = c.authorized_sessions(auth, 30)
        owners = c.owners()
        by_id = {n.node_id: n for n in c.nodes}
        # Per session: its owner, and the next node after it (the one forwarding).
        pairs = []
        for s in sids:
            owner = by_id[owners[s]]
            via = c.nodes[(c.nodes.index(owner) + 1) % len(c.nodes)]
            pairs.append((s, owner, via))
        client = KeepAlive(auth)

        def run(count, offset):
            direct, fwd, fresh = [], [], []
            for i in range(count):
                sid, owner, via = pairs[(offset + i) % len(pairs)]
                calls = [lambda: direct.append(client.get_me(owner, sid)),
                         lambda: fwd.append(client.get_me(via, sid)),
                         lambda: fresh.append(client.get_me(owner, sid, fresh=True))]
                for k in range(3):  # rotate which goes first, so none always follows another
                    calls[(i + k) % 3]()
            return direct, fwd, fresh

        run(60, 0)  # warm-up: the client's kept-alive connections, each node's first requests
        for r in range(args.rounds):
            load_before = loadavg()
            seq = run(args.requests, r)
            with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
                parts = list(pool.map(lambda t: run(args.requests // args.threads, t * 7), range(args.threads)))
            conc = tuple([x for p in parts for x in p[k]] for k in range(3))
            one = {"loadavg_before": load_before, "loadavg_after": loadavg()}
            for name, (d, f, n) in (("sequential", seq), (f"threads_{args.threads}", conc)):
                one[name] = {"requests": len(d)}
                for column, values in (("direct", d), ("forwarded", f), ("direct_new_connection", n)):
                    one[name][f"{column}_p50_ms"] = quantile(values, 0.5) / 1e6
                    one[name][f"{column}_p99_ms"] = quantile(values, 0.99) / 1e6
            rounds.append(one)
            print(f"round {r + 1}: {json.dumps(one)}", flush=True)
    summary = {}
    for name in rounds[0]:
        if name.startswith("loadavg"):
            continue
        med = {k: statistics.median(r[name][k] for r in rounds) for k in rounds[0][name] if k != "requests"}
        med["p50_added_ms"] = med["forwarded_p50_ms"] - med["direct_p50_ms"]
        med["p50_ratio"] = med["forwarded_p50_ms"] / med["direct_p50_ms"]
        med["p99_added_ms"] = med["forwarded_p99_ms"] - med["direct_p99_ms"]
        med["p99_ratio"] = med["forwarded_p99_ms"] / med["direct_p99_ms"]
        summary[name] = med
    return {"rounds": rounds, "median_of_rounds": summary}


# ---------------------------------------------------------------------------------------------- spread
def spread(args):
    out = []
    for size in args.nodes:
        with cluster_util.Cluster(size, config=config(args.lease_ttl), extra_env=ENV) as c:
            auth = c.tenant("bench")
            time.sleep(2)
            idle = {n.node_id: rss_kib(n) for n in c.nodes}
            t0 = time.monotonic()
            sids = c.authorized_sessions(auth, args.sessions)
            took = time.monotonic() - t0
            time.sleep(3)  # let the logins' transient allocations settle
            owners = c.owners()
            nodes = []
            for n in c.nodes:
                count = sum(1 for s in sids if owners.get(s) == n.node_id)
                rss = rss_kib(n)
                nodes.append({"node": n.node_id, "sessions": count, "rss_idle_kib": idle[n.node_id], "rss_kib": rss,
                              "kib_per_session": (rss - idle[n.node_id]) / count if count else None})
            total = sum(x["rss_kib"] for x in nodes)
            one = {"nodes": size, "sessions": len(sids), "authorize_s": took, "per_node": nodes,
                   "rss_total_kib": total, "kib_per_session_total": total / len(sids),
                   "kib_per_session_added": sum(x["rss_kib"] - x["rss_idle_kib"] for x in nodes) / len(sids)}
            out.append(one)
            print(json.dumps(one), flush=True)
    base = out[0]
    for one in out:
        one["rss_total_vs_first"] = one["rss_total_kib"] / base["rss_total_kib"]
        one["max_node_rss_vs_first"] = max(x["rss_kib"] for x in one["per_node"]) / base["rss_total_kib"]
    return {"clusters": out}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=["failover", "forward", "spread"])
    p.add_argument("--out", help="write the result as JSON here")
    p.add_argument("--lease-ttl", type=int, choices=sorted(TIMINGS), default=6,
                   help="6: the failover test's timings (renew 1 s, fence margin 2 s, claim 500 ms); 15: the defaults")
    p.add_argument("--sessions", type=int, help="authorized sessions (default: 60 for failover, 300 for spread)")
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=1000, help="per round, each of direct and forwarded")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    args = p.parse_args()
    if args.sessions is None:
        args.sessions = 300 if args.part == "spread" else 60
    result = {"part": args.part, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
              "loadavg_before": loadavg(), "cpus": os.cpu_count()}
    result.update({"failover": failover, "forward": forward, "spread": spread}[args.part](args))
    result["loadavg_after"] = loadavg()
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
