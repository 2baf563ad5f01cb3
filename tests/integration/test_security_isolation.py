"""Per-tenant isolation of resources (docs/security-isolation.md) against `tgpulse serve` on tdsim:
the tenant request quota and every cap answer their documented status (429 for the tenant's own
quota or cap, 503 for the process's), the JSON error code, Retry-After where waiting helps, and count
tgpulse_rejected_total{reason}; slots come back when logins, sessions and streams end. The acceptance
test floods the service from one tenant (logins, streams, connections beyond the process's file
descriptors, rotating @type values) while another tenant runs a steady invoke load, and checks the
second tenant's success rate and p99 latency against its baseline and the admin listener's /healthz."""
import contextlib
import http.client
import json
import multiprocessing
import os
import resource
import shutil
import socket
import stat
import tempfile
import threading
import time

import harness
import serve_util
import session_util
from session_util import SessionStack

def limits_yaml(**values):
    """A limits section: LIMITS_OFF's generous quota with `values` on top."""
    base = {"tenant_request_rate": 100000, "tenant_request_burst": 100000, "tenant_logins_per_minute": 0}
    base.update(values)
    return "limits:\n" + "".join(f"  {k}: {v}\n" for k, v in base.items())


def rejected(st, reason):
    return st.metric("tgpulse_rejected_total", reason=reason)


def metric_at(base_url, name, **labels):
    """Sum of the samples of `name` with `labels` on base_url/metrics (e.g. the admin listener)."""
    status, _, raw = harness.http("GET", base_url + "/metrics")
    harness.check(status == 200, f"/metrics: {status}")
    total = 0.0
    for line in raw.decode().splitlines():
        m = session_util._SAMPLE.match(line) if line and not line.startswith("#") else None
        if m and m.group(1) == name:
            lab = dict(session_util._LABEL.findall(m.group(2) or ""))
            if all(lab.get(k) == str(w) for k, w in labels.items()):
                total += float(m.group(3))
    return total


def check_refusal(code, hdrs, raw, want_status, want_code, retry_after=True, scope=None):
    harness.check(code == want_status, f"want {want_status} {want_code}, got {code}: {raw[:300]!r}")
    err = serve_util.json_error(raw)
    harness.check(err["code"] == want_code, f"error code {err['code']}, want {want_code}")
    if scope:
        harness.check(err.get("scope") == scope, f"scope {err.get('scope')}, want {scope}")
    if retry_after:
        ra = hdrs.get("retry-after")
        harness.check(ra and int(ra) >= 1, f"{want_code}: no Retry-After ({hdrs})")
        harness.check(err.get("retry_after") == int(ra), f"retry_after {err.get('retry_after')} != header {ra}")
    else:
        harness.check("retry-after" not in hdrs, f"{want_code}: Retry-After where waiting does not help")
    return err


def create_login(st, headers):
    return harness.http("POST", st.url + "/v1/qr-logins", {}, headers)


class Stream:
    """An open event stream on a raw socket (GET ... text/event-stream), or the refusal it got."""

    def __init__(self, port, path, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        lines = [f"GET {path} HTTP/1.1", "Host: t"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        self.status = int(head.split(" ", 2)[1])
        if self.status != 200:  # a refusal: read its JSON body
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                _, hdrs, body = serve_util.parse_response(data)
                if len(body) >= int(hdrs.get("content-length", "0")):
                    break
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            _, self.headers, self.body = serve_util.parse_response(data)
            self.close()

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()


def test_tenant_quota_is_one_bucket_across_routes_and_methods():
    with SessionStack(config=limits_yaml(tenant_request_rate=5, tenant_request_burst=10)) as st:
        before = rejected(st, "tenant_quota")
        other = st.new_tenant("globex")
        # Ten requests spread over routes and made-up methods spend the burst; the next is refused.
        paths = [("GET", "/v1/sessions", None), ("GET", "/v1/qr-logins/s_" + "A" * 22, None)] + [
            ("POST", "/v1/sessions/s_" + "A" * 22 + "/invoke", {"@type": f"madeUp{i}"}) for i in range(8)]
        codes = [harness.http(m, st.url + p, b, st.auth())[0] for m, p, b in paths]
        harness.check(429 not in codes, f"refused inside the burst: {codes}")
        refused = None
        for i in range(5):
            code, hdrs, raw = harness.http("POST", st.url + "/v1/sessions/s_" + "A" * 22 + "/invoke",
                                           {"@type": f"rotate{i}"}, st.auth())
            if code == 429:
                refused = (code, hdrs, raw)
                break
        harness.check(refused, "rotating @type values were never refused")
        check_refusal(*refused, 429, "tenant_quota", scope="tenant")
        harness.check(rejected(st, "tenant_quota") > before, "tgpulse_rejected_total{reason=tenant_quota} not counted")
        # Another tenant is not touched; a bad token is 401, not a quota refusal.
        code, _, _ = harness.http("GET", st.url + "/v1/sessions", headers=other)
        harness.check(code == 200, f"another tenant: {code}")
        code, _, _ = harness.http("GET", st.url + "/v1/sessions", headers={"Authorization": "Bearer tgp_nope"})
        harness.check(code == 401, f"bad token: {code}")
        # The bucket refills (5/s).
        time.sleep(0.5)
        harness.check(harness.http("GET", st.url + "/v1/sessions", headers=st.auth())[0] == 200, "no refill")


def test_logins_in_progress_are_capped_per_tenant_then_per_process():
    with SessionStack(config=limits_yaml(tenant_logins=2, process_logins=3)) as st:
        other = st.new_tenant("globex")
        first, _ = st.start_login()
        st.start_login()
        check_refusal(*create_login(st, st.auth()), 429, "logins_cap", scope="tenant")
        st.start_login(headers=other)
        check_refusal(*create_login(st, other), 503, "logins_cap", scope="process")
        harness.check(rejected(st, "logins_cap") >= 2, "logins_cap not counted")
        # A login that reaches its outcome gives its slot back.
        st.scan(first["session_id"], "accept")
        st.wait_status(first["session_id"], "authorized")
        harness.wait_until(lambda: create_login(st, other)[0] == 201, timeout=10, what="a login slot back")


def test_live_sessions_are_capped_per_tenant_then_per_process():
    with SessionStack(config=limits_yaml(tenant_sessions=2, process_sessions=3)) as st:
        other = st.new_tenant("globex")
        ids = []
        for _ in range(2):
            doc, _ = st.start_login()
            st.scan(doc["session_id"], "accept")
            st.wait_status(doc["session_id"], "authorized")
            ids.append(doc["session_id"])
        check_refusal(*create_login(st, st.auth()), 429, "sessions_cap", retry_after=False, scope="tenant")
        st.start_login(headers=other)  # the third session of the process (a login counts)
        check_refusal(*create_login(st, other), 503, "sessions_cap", scope="process")
        harness.check(rejected(st, "sessions_cap") >= 2, "sessions_cap not counted")
        # Deleting a session frees its slot.
        code, _, _ = harness.http("DELETE", f"{st.url}/v1/sessions/{ids[0]}?logout=false", headers=st.auth())
        harness.check(code == 200, f"delete: {code}")
        harness.check(create_login(st, st.auth())[0] == 201, "no session slot after a delete")


@contextlib.contextmanager
def kept_data_dir(path):
    """serve_util.Service uses `path` as its data directory and leaves it in place when it stops."""
    real = serve_util.tempfile.mkdtemp

    def mkdtemp(*args, **kwargs):
        return path if kwargs.get("prefix") == "tgpulse-data-" else real(*args, **kwargs)
    serve_util.tempfile.mkdtemp = mkdtemp
    try:
        yield
    finally:
        serve_util.tempfile.mkdtemp = real


def test_sessions_restored_at_start_up_count_against_the_cap():
    data_dir = tempfile.mkdtemp(prefix="tgpulse-limits-")
    cfg = limits_yaml(tenant_sessions=1)
    try:
        with kept_data_dir(data_dir), SessionStack(config=cfg) as st:
            doc, _ = st.start_login()
            st.scan(doc["session_id"], "accept")
            st.wait_status(doc["session_id"], "authorized")
            token = st.token
            st.service.data_dir = tempfile.mkdtemp()  # what Service.stop removes instead
        with kept_data_dir(data_dir), SessionStack(config=cfg) as st:
            st.token = token  # the tenant exists already; its token was shown once
            st.service.data_dir = tempfile.mkdtemp()

            def restored():
                code, _, doc = harness.http_json("GET", st.url + "/v1/sessions", headers=st.auth())
                return code == 200 and [s for s in doc["sessions"] if s["status"] == "authorized"]
            harness.wait_until(restored, timeout=20, what="the session restored")
            check_refusal(*create_login(st, st.auth()), 429, "sessions_cap", retry_after=False, scope="tenant")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_login_creations_per_minute():
    with SessionStack(config=limits_yaml(tenant_logins_per_minute=2)) as st:
        for _ in range(2):
            st.start_login()
        err = check_refusal(*create_login(st, st.auth()), 429, "login_rate", scope="tenant")
        harness.check(20 <= err["retry_after"] <= 31, f"retry_after {err['retry_after']} for 2/min")
        harness.check(rejected(st, "login_rate") >= 1, "login_rate not counted")


def test_password_attempts_end_the_login():
    with SessionStack(config=limits_yaml(password_attempts=3)) as st:
        doc, _ = st.start_login()
        sid = doc["session_id"]
        st.scan(sid, "password", password="correct horse")
        st.wait_status(sid, "password_required")
        url = f"{st.url}/v1/qr-logins/{sid}/password"
        for left in (2, 1):
            code, _, err = harness.http_json("POST", url, {"password": "guess"}, st.auth())
            harness.check(code == 422 and err["error"]["attempts_left"] == left, f"wrong password: {code} {err}")
        code, hdrs, raw = harness.http("POST", url, {"password": "guess"}, st.auth())
        check_refusal(code, hdrs, raw, 429, "password_attempts", retry_after=False, scope="tenant")
        st.wait_gone(sid)  # the login ended and was cleaned up
        code, _, _ = harness.http("POST", url, {"password": "correct horse"}, st.auth())
        harness.check(code == 404, f"a password after the lock-out: {code}")
        harness.check(rejected(st, "password_attempts") >= 1, "password_attempts not counted")
        # The right password within the attempts still works.
        doc, _ = st.start_login()
        st.scan(doc["session_id"], "password", password="pw")
        st.wait_status(doc["session_id"], "password_required")
        url = f"{st.url}/v1/qr-logins/{doc['session_id']}/password"
        harness.check(harness.http("POST", url, {"password": "no"}, st.auth())[0] == 422, "wrong")
        harness.check(harness.http("POST", url, {"password": "pw"}, st.auth())[0] == 200, "right")
        st.wait_status(doc["session_id"], "authorized")


def test_event_streams_are_capped_and_page_streams_count_for_the_tenant():
    with SessionStack(config=limits_yaml(tenant_streams=2, process_streams=3)) as st:
        other = st.new_tenant("globex")
        doc, _ = st.start_login()
        sid = doc["session_id"]
        port = st.service.port
        key = doc["page_url"].split("key=")[1]
        tenant_path = f"/v1/qr-logins/{sid}/events"
        page_path = f"/v1/login/{sid}/events?key={key}"
        a = Stream(port, tenant_path, st.auth())
        b = Stream(port, page_path)
        harness.check(a.status == 200 and b.status == 200, f"streams: {a.status} {b.status}")
        for path, hdrs in ((tenant_path, st.auth()), (page_path, {})):
            c = Stream(port, path, hdrs)
            check_refusal(c.status, c.headers, c.body, 429, "streams_cap", scope="tenant")
        gdoc, _ = st.start_login(headers=other)
        g1 = Stream(port, f"/v1/qr-logins/{gdoc['session_id']}/events", other)
        harness.check(g1.status == 200, f"globex stream: {g1.status}")
        g2 = Stream(port, f"/v1/qr-logins/{gdoc['session_id']}/events", other)
        check_refusal(g2.status, g2.headers, g2.body, 503, "streams_cap", scope="process")
        harness.check(rejected(st, "streams_cap") >= 3, "streams_cap not counted")
        harness.check(st.metric("tgpulse_tenant_limits_held", kind="stream") == 3, "held streams gauge")
        harness.check(st.metric("tgpulse_tenant_limits_held", kind="login") == 2, "held logins gauge")
        # A client that leaves gives its slot back.
        a.close()

        def reopened():
            s = Stream(port, tenant_path, st.auth())
            s.close()
            return s.status == 200
        harness.wait_until(reopened, timeout=20, what="a stream slot back after a client left")
        for s in (b, g1):
            s.close()


def test_start_up_refuses_a_max_connections_without_reserve():
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    code, err = serve_util.run_serve_expecting_failure(
        ["--listen", f"127.0.0.1:{harness.free_port()}", "--max-connections", str(nofile)],
        env={"TGPULSE_TD_LIBRARY": harness.TDSIM_LIB})
    harness.check(code != 0 and "server.max_connections" in err, f"exit {code}: {err[-400:]}")


# --- acceptance: one tenant floods, another keeps its service --------------------------------------

NOFILE = 256
# Each of the attacker's four request threads pauses this long between requests: at most ~400
# requests/s in all, four times the default tenant quota (100/s). The flood is bounded so that the
# load generator itself (Python, on the same small machine) does not take the CPU the service needs.
ATTACK_PAUSE_S = 0.01


@contextlib.contextmanager
def fd_limited_tgpulse(nofile):
    """harness.TGPULSE replaced by a wrapper that runs it with RLIMIT_NOFILE = nofile (soft and hard)."""
    d = tempfile.mkdtemp(prefix="tgpulse-ulimit-")
    wrapper = os.path.join(d, "tgpulse")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nulimit -n {nofile} || exit 97\nexec '{harness.TGPULSE}' \"$@\"\n")
    os.chmod(wrapper, stat.S_IRWXU)
    real = harness.TGPULSE
    harness.TGPULSE = wrapper
    try:
        yield
    finally:
        harness.TGPULSE = real


def connect(url, headers, sid):
    """A keep-alive connection that already served one invoke (so it holds its slot)."""
    host, port = url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", f"/v1/sessions/{sid}/invoke", json.dumps({"@type": "getMe"}),
                 dict(headers, **{"Content-Type": "application/json"}))
    resp = conn.getresponse()
    resp.read()
    harness.check(resp.status == 200, f"warm-up invoke: {resp.status}")
    return conn


def steady_load(conn, headers, sid, count, rate):
    """`count` invokes of getMe at `rate`/s on the keep-alive `conn`; returns (latencies_s, failures)."""
    host, port = conn.host, conn.port
    body = json.dumps({"@type": "getMe"})
    hdrs = dict(headers, **{"Content-Type": "application/json"})
    lat, failures = [], []
    start = time.monotonic()
    for i in range(count):
        due = start + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        t0 = time.monotonic()
        try:
            conn.request("POST", f"/v1/sessions/{sid}/invoke", body, hdrs)
            resp = conn.getresponse()
            resp.read()
            ok = resp.status == 200
            if not ok:
                failures.append(resp.status)
        except OSError as e:
            failures.append(repr(e))
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            ok = False
        if ok:
            lat.append(time.monotonic() - t0)
    conn.close()
    return lat, failures


def p99(values):
    s = sorted(values)
    return s[min(len(s) - 1, int(0.99 * len(s)))]


def attacker(port, token, sid, seconds, stop_conns, out):
    """Runs in its own process (so the GIL of the test does not slow the steady tenant): floods logins,
    streams, rotating @type invokes on keep-alive connections, and connections held open."""
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1:] * 2)
    auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    deadline = time.monotonic() + seconds
    counts = {}
    streams = []
    lock = threading.Lock()

    def count(key):
        with lock:
            counts[key] = counts.get(key, 0) + 1

    def requests(kind):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        i = 0
        while time.monotonic() < deadline:
            i += 1
            try:
                if kind == "invoke":
                    conn.request("POST", f"/v1/sessions/{sid}/invoke", json.dumps({"@type": f"rotate{i}"}), auth)
                elif kind == "login":
                    conn.request("POST", "/v1/qr-logins", "{}", auth)
                else:
                    conn.request("GET", f"/v1/qr-logins/{sid}/events", headers=auth)
                resp = conn.getresponse()
                if resp.getheader("content-type", "").startswith("text/event-stream"):
                    count(f"{kind}:200-stream")
                    streams.append((conn, resp))  # held open until the flood ends
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    continue
                resp.read()
                count(f"{kind}:{resp.status}")
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            except OSError:
                count(f"{kind}:error")
                conn.close()
                time.sleep(0.01)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            time.sleep(ATTACK_PAUSE_S)

    threads = [threading.Thread(target=requests, args=(k,)) for k in ("invoke", "invoke", "login", "stream")]
    for t in threads:
        t.start()
    # Connections held open: more than the server has file descriptors.
    held = []
    for _ in range(stop_conns):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            count("conn:opened")
        except OSError:
            count("conn:error")
    for t in threads:
        t.join()
    for s in held:
        s.close()
    for conn, _ in streams:
        conn.close()
    out.put(counts)


def test_one_tenant_flooding_does_not_starve_another():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    admin_port = harness.free_port()
    # The steady tenant's session may make 25 calls/s (the default session bucket is 10/s).
    config = "throttle:\n  session:\n    default_rate: 100\n    default_burst: 100\n"
    with fd_limited_tgpulse(NOFILE), SessionStack(
            config=config, extra_env={"TGPULSE_ADMIN_LISTEN": f"127.0.0.1:{admin_port}"}) as st:
        admin = f"http://127.0.0.1:{admin_port}"
        victim = st.new_tenant("steady")
        vdoc, _ = st.start_login(headers=victim)
        vsid = vdoc["session_id"]
        link = harness.wait_until(lambda: st.login_doc(vsid, headers=victim)[2].get("link"), timeout=20,
                                  what="victim's QR link")
        st.control("/scan", {"link": link, "outcome": "accept"})
        harness.wait_until(lambda: harness.http_json("GET", f"{st.url}/v1/sessions/{vsid}", headers=victim)[2]
                           .get("status") == "authorized", timeout=20, what="victim authorized")
        adoc, _ = st.start_login()
        asid = adoc["session_id"]
        st.scan(asid, "accept")
        st.wait_status(asid, "authorized")

        count, rate = 300, 25
        base_lat, base_fail = steady_load(connect(st.url, victim, vsid), victim, vsid, count, rate)
        harness.check(not base_fail, f"baseline failures: {base_fail[:5]}")

        probes = {"ok": 0, "failed": []}
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                try:
                    code = harness.http("GET", admin + "/healthz", timeout=2)[0]
                    if code == 200:
                        probes["ok"] += 1
                    else:
                        probes["failed"].append(code)
                except OSError as e:
                    probes["failed"].append(repr(e))
                time.sleep(0.2)

        rejected_before = {r: metric_at(admin, "tgpulse_rejected_total", reason=r) for r in ("tenant_quota", "logins_cap", "login_rate", "streams_cap",
                                                         "connections_cap")}
        conn = connect(st.url, victim, vsid)  # before the flood: an established client keeps its connection
        prober = threading.Thread(target=probe)
        prober.start()
        q = multiprocessing.Queue()
        attack_seconds = count / rate + 4
        proc = multiprocessing.Process(target=attacker, args=(st.service.port, st.token, asid, attack_seconds,
                                                               2 * NOFILE, q))
        proc.start()
        time.sleep(2)  # the flood is under way
        att_lat, att_fail = steady_load(conn, victim, vsid, count, rate)
        attack_counts = q.get(timeout=60)
        proc.join(timeout=30)
        time.sleep(1)
        stop.set()
        prober.join()

        base99, att99 = p99(base_lat), p99(att_lat)
        success = len(att_lat) / count
        after = {}
        for r, v in rejected_before.items():
            try:
                after[r] = metric_at(admin, "tgpulse_rejected_total", reason=r) - v
            except Exception as e:  # noqa: BLE001 - reported below
                after[r] = repr(e)
        figures = {"baseline_p99_ms": round(base99 * 1000, 2), "attack_p99_ms": round(att99 * 1000, 2),
                   "ratio": round(att99 / base99, 2), "success_rate": round(success, 4),
                   "failures": att_fail[:5], "admin_healthz_ok": probes["ok"],
                   "admin_healthz_failed": probes["failed"][:5], "attacker": attack_counts,
                   "rejected_during_attack": after}
        print("acceptance figures:", json.dumps(figures, sort_keys=True), flush=True)
        harness.check(attack_counts.get("conn:opened", 0) + attack_counts.get("conn:error", 0) >= 2 * NOFILE,
                      "the attacker did not offer more connections than the server has descriptors")
        harness.check(success >= 0.99, f"steady tenant success {success:.4f} < 0.99: {att_fail[:5]}")
        if harness.asan_build():
            # Under ASan every refused request costs several times its plain price, so the attacker's
            # refusals alone can fill both cores: the latency target is a property of the plain build,
            # checked there. Success, probes and refusals are checked here as everywhere.
            print("  (ASan build: the p99 ratio is reported, not checked)", flush=True)
        else:
            harness.check(att99 <= 2 * base99,
                          f"p99 under attack {att99 * 1000:.1f} ms > 2 × baseline {base99 * 1000:.1f} ms")
        harness.check(not probes["failed"] and probes["ok"] > 10, f"admin /healthz failed: {probes}")
        harness.check(after["connections_cap"] > 0, "no connection was refused: the flood did not reach the cap")
        harness.check(after["tenant_quota"] > 0, "the rotating @type flood was never refused by the quota")
        # The service is still whole: the victim is served and the admin listener answers.
        harness.check(harness.http("GET", admin + "/healthz")[0] == 200, "admin /healthz after the flood")
        code, _, _ = harness.http("POST", f"{st.url}/v1/sessions/{vsid}/invoke", {"@type": "getMe"}, victim)
        harness.check(code == 200, f"victim after the flood: {code}")


if __name__ == "__main__":
    harness.main([test_tenant_quota_is_one_bucket_across_routes_and_methods,
                  test_logins_in_progress_are_capped_per_tenant_then_per_process,
                  test_live_sessions_are_capped_per_tenant_then_per_process,
                  test_sessions_restored_at_start_up_count_against_the_cap,
                  test_login_creations_per_minute,
                  test_password_attempts_end_the_login,
                  test_event_streams_are_capped_and_page_streams_count_for_the_tenant,
                  test_start_up_refuses_a_max_connections_without_reserve,
                  test_one_tenant_flooding_does_not_starve_another])
