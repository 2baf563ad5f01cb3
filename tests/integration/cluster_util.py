"""A cluster of `tgpulse serve` nodes on this machine for the scale-out tests: one real PostgreSQL
(pg_util), one data directory shared by every node, one tdsim world directory (TDSIM_WORLD_DIR: the nodes'
simulators compare auth keys across processes, so two clients on one authorization answer
AUTH_KEY_DUPLICATED), each node its own tdsim control port. A node can be killed with SIGKILL, stopped
with SIGTERM and started again under the same id and port."""
import concurrent.futures
import os
import secrets
import shutil
import signal
import tempfile
import time

import harness
import pg_util
from session_util import scrape_metric

ADMIN_TOKEN = "admin-" + secrets.token_hex(16)
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}

# The tests' cluster: short leases (a failover within seconds), invoke throttling and tenant limits out
# of the way of the load they send.
TEST_CONFIG = """
cluster:
  lease_ttl: 6s
  renew_interval: 1s
  fence_margin: 2s
  claim_interval: 500ms
throttle:
  tenant:
    default_rate: 10000
    default_burst: 10000
limits:
  tenant_request_rate: 0
  tenant_logins: 200
  process_logins: 400
  tenant_logins_per_minute: 100000
"""
TEST_LEASE_TTL = 6.0

# What tdsim answers when a directory is opened twice or an authorization is used by two clients at
# once (the texts TDLib and Telegram use): none of it may ever appear in a failover.
DOUBLE_OPEN_SIGNS = ("Can't lock file", "AUTH_KEY_DUPLICATED")


class Node:
    """One node: `tgpulse serve` with cluster.node_id = `node_id` on a fixed port."""

    def __init__(self, cluster, node_id):
        self.cluster = cluster
        self.node_id = node_id
        self.port = harness.free_port()
        self.control_port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.outputs = []  # stdout of earlier runs (logs are checked across restarts)

    def start(self, wait=True):
        env = {
            "TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN,
            "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB,
            "TDSIM_CONTROL_ADDR": f"127.0.0.1:{self.control_port}",
            "TDSIM_PROFILE": self.cluster.profile_path,
            "TDSIM_WORLD_DIR": self.cluster.world_dir,
            "TGPULSE_STORE_URL": self.cluster.pg.url,
            "TGPULSE_STORE_PASSWORD_FILE": self.cluster.pg.password_file,
            "TGPULSE_CLUSTER_NODE_ID": self.node_id,
        }
        env.update(self.cluster.extra_env)
        args = [harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.cluster.data_dir,
                "--config", self.cluster.config_path]
        self.proc = harness.Proc(args, env=env, name=f"tgpulse-{self.node_id}")
        if wait:
            self.wait_up()
        return self

    def wait_up(self, timeout=60):
        def up():
            if not self.proc.alive():
                raise AssertionError(f"node {self.node_id} exited with {self.proc.p.returncode}: {self.proc.stderr()}")
            try:
                return harness.http("GET", self.url + "/healthz", timeout=2)[0] == 200
            except OSError:
                return False
        harness.wait_until(up, timeout=timeout, what=f"node {self.node_id} serving")

    def alive(self):
        return self.proc is not None and self.proc.alive()

    def kill9(self):
        self.proc.kill9()
        self._keep_output()

    def stop(self, timeout=60):
        code = self.proc.stop(signal.SIGTERM, timeout=timeout)
        self._keep_output()
        return code

    def _keep_output(self):
        self.outputs.append(self.proc.stdout() + self.proc.stderr())
        self.proc._out.close()
        self.proc._err.close()

    def all_output(self):
        now = (self.proc.stdout() + self.proc.stderr()) if self.alive() else ""
        return "".join(self.outputs) + now

    def log_lines(self, message=None):
        import json
        out = []
        for text in self.outputs + ([self.proc.stdout()] if self.alive() else []):
            for line in text.splitlines():
                if line.startswith("{"):
                    doc = json.loads(line)
                    if message is None or doc.get("message") == message:
                        out.append(doc)
        return out

    def metric(self, name, **labels):
        return scrape_metric(self.url, name, **labels)


class Cluster:
    """`with Cluster(3) as c:` — c.nodes, c.pg, c.tenant(...)."""

    def __init__(self, nodes=3, config="", extra_env=None):
        self.pg = pg_util.PostgresServer()
        try:
            self.dir = tempfile.mkdtemp(prefix="tgpulse-cluster-")
            self.data_dir = os.path.join(self.dir, "data")
            self.world_dir = os.path.join(self.dir, "world")
            os.makedirs(self.world_dir)
            self.profile_path = os.path.join(self.dir, "tdsim.json")
            with open(self.profile_path, "w") as f:
                f.write('{"latency_ms": {"min": 1, "max": 3}}')
            self.config_path = os.path.join(self.dir, "tgpulse.yaml")
            with open(self.config_path, "w") as f:
                f.write(config)
            self.extra_env = dict(extra_env or {})
            self.nodes = [Node(self, f"node-{i + 1}") for i in range(nodes)]
            # One at a time: the first migrates the schema (the others would wait on its lock anyway).
            for n in self.nodes:
                n.start()
            self.wait_membership()
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for n in getattr(self, "nodes", []):
            if n.alive():
                n.proc.stop(signal.SIGKILL, timeout=10)
        self.pg.close()
        shutil.rmtree(getattr(self, "dir", ""), ignore_errors=True)

    def wait_membership(self, timeout=15):
        """Until every live node has seen all live nodes in a renewal (placement needs their loads)."""
        live = self.live()
        for n in live:
            harness.wait_until(lambda n=n: n.metric("tgpulse_cluster_nodes") == len(live), timeout=timeout,
                               what=f"{n.node_id} seeing {len(live)} nodes")

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def tenant(self, tenant_id):
        status, _, doc = harness.http_json("POST", self.nodes[0].url + "/v1/tenants", {"tenant_id": tenant_id}, ADMIN)
        harness.check(status == 201, f"tenant {tenant_id}: {status} {doc}")
        return {"Authorization": "Bearer " + doc["token"]}

    def owners(self):
        """session id -> owner node id, for leases valid now (PostgreSQL's view)."""
        rows = self.pg.psql("SELECT session_id, owner_node FROM session_leases WHERE lease_until > clock_timestamp()")
        return dict(line.split("|") for line in rows.strip().splitlines() if line)

    def authorized_sessions(self, auth, count, workers=6, entry=None):
        """`count` new authorized sessions: each a QR login started on the nodes in turn (placement may send
        it elsewhere), its scan simulated through the login page's route on any node (forwarded to the
        owner, whose tdsim issued the link), then waited for. `entry`: send every login to that node (its
        placement spreads them). Returns their ids."""
        def one(i):
            node = entry or self.nodes[i % len(self.nodes)]
            for _ in range(50):
                status, headers, doc = harness.http_json("POST", node.url + "/v1/qr-logins", {}, auth, timeout=30)
                if status == 201:
                    break
                harness.check(status in (429, 503), f"qr-login on {node.node_id}: {status} {doc}")
                time.sleep(0.2)
            sid = doc["session_id"]
            page = doc["page_url"]  # /login/{id}?key=...
            key = page.split("key=", 1)[1]
            via = self.nodes[(i + 1) % len(self.nodes)]
            def scanned():
                code, _, d = harness.http_json("POST", f"{via.url}/v1/login/{sid}/simulate?key={key}",
                                               {"outcome": "accept"}, timeout=30)
                return code == 200 or (code == 409 and None)
            harness.wait_until(scanned, timeout=30, what=f"scan of {sid}")
            def authorized():
                code, _, d = harness.http_json("GET", f"{via.url}/v1/sessions/{sid}", headers=auth, timeout=30)
                return code == 200 and d.get("status") == "authorized"
            harness.wait_until(authorized, timeout=30, what=f"session {sid} authorized")
            return sid
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, range(count)))


def invoke(node, auth, sid, timeout=30):
    return harness.http_json("POST", f"{node.url}/v1/sessions/{sid}/invoke", {"@type": "getMe"}, auth, timeout=timeout)
