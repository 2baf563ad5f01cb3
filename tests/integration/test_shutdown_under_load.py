"""Shutdown under load (tdsim): SIGTERM while invokes wait in the throttle, event streams are open and
session cleanups run. Every accepted request must be answered — with its real answer or a retryable
refusal (503 with Retry-After) — no connection may be closed without an answer, the process must exit 0
within the drain bound, and its last log line must say every task was joined. Repeated LOOPS times
against one data directory (the invoking session is restored at each start).

The issue's numbers are the default: 2,000 invokes, 200 streams, 50 cleanups, 20 loops.
TGPULSE_SHUTDOWN_SCALE (e.g. 0.25) scales the three loads, TGPULSE_SHUTDOWN_LOOPS the repetitions.
"""
import concurrent.futures
import json
import os
import selectors
import shutil
import signal
import socket
import tempfile
import time

import harness
import serve_util
from session_util import ADMIN, ADMIN_TOKEN, SessionStack

SCALE = float(os.environ.get("TGPULSE_SHUTDOWN_SCALE", "1"))
LOOPS = int(os.environ.get("TGPULSE_SHUTDOWN_LOOPS", "20"))
INVOKES = max(1, int(2000 * SCALE))
STREAMS = max(1, int(200 * SCALE))
CLEANUPS = max(1, int(50 * SCALE))
# An ASan build answers the 2,000 refusals (each logged, traced and counted) about ten times slower: on a
# loaded 2-core machine that took longer than 5 s, and what the grace period does not cover is closed.
# A TSan build (make test-tsan) is slower still.
SANITIZER = harness.sanitizer_build()
GRACE_S = 30 if SANITIZER else 5
# What the shutdown may take: the HTTP grace (+1 s of forced close), the sessions' join bound and the
# engine, with room for a loaded 2-core machine and the sanitizer builds.
EXIT_BOUND_S = GRACE_S + 1 + 15

CONFIG = f"""
server:
  shutdown_grace: {GRACE_S}s
limits:
  tenant_request_rate: 0
  tenant_logins: 0
  process_logins: 0
  tenant_logins_per_minute: 0
  tenant_streams: 0
  process_streams: 0
throttle:
  tenant:
    default_rate: 1000000
    default_burst: 1000000
  session:
    methods:
      getMe: {{rate: 8, burst: 1}}
"""
# getMe at 8 calls/s: 2,000 calls queue for about 250 s, within their 300 s deadline.
# Authorization calls (setTdlibParameters, requestQrCodeAuthentication, logOut, close) take 150-300 ms:
# a cleanup (logOut, then close) is still running when SIGTERM arrives.
PROFILE = {"latency_ms": {"min": 1, "max": 3}, "auth_latency_ms": {"min": 150, "max": 300}}


class KeptService(serve_util.Service):
    """`tgpulse serve` that keeps its data directory when stopped: the next loop restores from it."""

    def stop(self, *args, **kwargs):
        return harness.Proc.stop(self, *args, **kwargs)


class Exchange:
    """One request on its own connection, read without blocking until the server closes it."""

    def __init__(self, kind, port, raw):
        self.kind = kind
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(raw)
        self.sock.setblocking(False)
        self.data = bytearray()
        self.closed = False
        self.reset = False

    def pump(self):
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError:
            self.reset = True
            chunk = b""
        if chunk:
            self.data += chunk
        else:
            self.closed = True
            self.sock.close()

    def head(self):
        head, sep, _ = bytes(self.data).partition(b"\r\n\r\n")
        return head if sep else None

    def status(self):
        head = self.head()
        return int(head.split(b" ", 2)[1]) if head else None

    def response(self):
        return serve_util.parse_response(bytes(self.data))

    def describe(self):
        return f"{self.kind}: {bytes(self.data[:300])!r} (closed={self.closed}, reset={self.reset})"


def pump_until(exchanges, done, timeout, what):
    """Reads every open exchange until done() or the timeout."""
    sel = selectors.DefaultSelector()
    for e in exchanges:
        if not e.closed:
            sel.register(e.sock, selectors.EVENT_READ, e)
    deadline = time.monotonic() + timeout
    try:
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            for key, _ in sel.select(timeout=min(left, 0.5)):
                e = key.data
                e.pump()
                if e.closed:
                    sel.unregister(key.fileobj)
    finally:
        sel.close()


def request(method, target, token, body=None, accept=None):
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}",
             "Connection: close"]
    if accept:
        lines.append(f"Accept: {accept}")
    payload = b""
    if body is not None:
        payload = json.dumps(body).encode()
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class Run:
    """One data directory, tdsim profile and config shared by every loop; one tenant and one authorized
    session, logged in at the first start and restored at the next."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tgpulse-shutdown-")
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir)
        self.config = os.path.join(self.dir, "tgpulse.yaml")
        with open(self.config, "w") as f:
            f.write(CONFIG)
        self.profile = os.path.join(self.dir, "tdsim.json")
        with open(self.profile, "w") as f:
            json.dump(PROFILE, f)
        self.token = None
        self.session = None

    def start(self):
        control_port = harness.free_port()
        self.control_url = f"http://127.0.0.1:{control_port}"
        env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB,
               "TDSIM_CONTROL_ADDR": f"127.0.0.1:{control_port}", "TDSIM_PROFILE": self.profile}
        self.proc = KeptService("--config", self.config, env=env, data_dir=self.data_dir)
        self.port = self.proc.port
        self.url = self.proc.url

    def auth(self):
        return {"Authorization": "Bearer " + self.token}

    def ensure_session(self):
        if self.token is None:
            status, _, doc = harness.http_json("POST", self.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
            harness.check(status == 201, f"tenant: {status} {doc}")
            self.token = doc["token"]
            status, _, doc = harness.http_json("POST", self.url + "/v1/qr-logins", {}, self.auth(), timeout=30)
            harness.check(status == 201, f"qr-login: {status} {doc}")
            self.session = doc["session_id"]
            link = doc.get("link") or harness.wait_until(
                lambda: harness.http_json("GET", f"{self.url}/v1/qr-logins/{self.session}", headers=self.auth())[2].get("link"),
                timeout=30, what="QR link")
            status, _, res = harness.http_json("POST", self.control_url + "/scan", {"link": link, "outcome": "accept"})
            harness.check(status == 200, f"scan: {status} {res}")

        def authorized():
            doc = harness.http_json("GET", f"{self.url}/v1/sessions/{self.session}", headers=self.auth())[2]
            return doc and doc.get("status") == "authorized"
        harness.wait_until(authorized, timeout=60, what=f"session {self.session} authorized")

    def new_login(self, _):
        status, _, doc = harness.http_json("POST", self.url + "/v1/qr-logins", {}, self.auth(), timeout=60)
        harness.check(status == 201, f"qr-login: {status} {doc}")
        return doc["session_id"]

    def metric(self, name, **labels):
        return SessionStack.metric(self, name, **labels)


def check_retryable(e, allowed_ok):
    """An exchange answered with its real answer (allowed_ok statuses) or 503 + Retry-After."""
    harness.check(not e.reset, f"connection reset instead of an answer: {e.describe()}")
    status = e.status()
    harness.check(status is not None, f"closed without an answer: {e.describe()}")
    if status in allowed_ok:
        return status
    _, headers, body = e.response()
    harness.check(status == 503, f"neither an answer nor a retryable refusal: {e.describe()}")
    harness.check(headers.get("retry-after", "").isdigit(), f"503 without Retry-After: {e.describe()}")
    doc = json.loads(body)
    harness.check(doc["error"]["code"] in ("unavailable", "cancelled"), f"unclear refusal: {doc}")
    return status


def one_loop(run, loop):
    """One start, load, SIGTERM and check. A sanitizer report in the service's stderr fails the loop, and
    is quoted whatever else failed (a TSan build aborts at its first report: halt_on_error=1)."""
    run.start()
    try:
        check_one_loop(run, loop)
    except AssertionError as e:
        report = harness.sanitizer_report(run.proc.stderr())
        if report and report not in str(e):
            raise AssertionError(f"{e}\nsanitizer report in tgpulse's stderr:\n{report}") from e
        raise


def wait_in_throttle(run, invokes, hits_before, timeout=120):
    """Handshake: each call that has to wait counts a hit before it waits (one may get the token at once,
    and at 8 calls a second some leave the queue answered while the rest arrive). An invoke answered
    before the signal must be a real answer; the wait fails at once on any other, naming it, and on its
    timeout says where the invokes were (answered by status, hits counted, still unanswered)."""
    deadline = time.monotonic() + timeout
    state = {}
    while True:
        for e in invokes:
            if not e.closed:
                e.pump()
        early = [e for e in invokes if e.status() is not None or e.closed]
        for e in early:
            harness.check(e.status() == 200, f"an invoke was answered before SIGTERM with neither its answer nor "
                                             f"a wait in the throttle: {e.describe()}")
        try:
            hits = run.metric("telethon_rate_limit_hits_total", endpoint="getMe") - hits_before
        except Exception as err:  # noqa: BLE001 - a scrape may fail while 2,000 connections arrive
            hits = None
            state["scrape_error"] = repr(err)
        state.update(hits=hits, answered=len(early), unanswered=len(invokes) - len(early))
        if hits is not None and hits >= len(invokes) - 1:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {len(invokes)} invokes waiting in the "
                                 f"throttle: {state}")
        time.sleep(0.2)


def check_one_loop(run, loop):
    exchanges = []
    try:
        run.ensure_session()
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            logins = list(pool.map(run.new_login, range(CLEANUPS)))

        streams = [Exchange("stream", run.port,
                            request("GET", f"/v1/qr-logins/{logins[i % len(logins)]}/events", run.token,
                                    accept="text/event-stream")) for i in range(STREAMS)]
        exchanges += streams
        pump_until(streams, lambda: all(s.head() is not None or s.closed for s in streams), 60, "stream heads")
        for s in streams:
            harness.check(s.status() == 200 and b"text/event-stream" in s.head(), f"stream refused: {s.describe()}")

        hits_before = run.metric("telethon_rate_limit_hits_total", endpoint="getMe")
        invokes = [Exchange("invoke", run.port,
                            request("POST", f"/v1/sessions/{run.session}/invoke?deadline_ms=300000", run.token,
                                    {"@type": "getMe"})) for _ in range(INVOKES)]
        exchanges += invokes
        wait_in_throttle(run, invokes, hits_before)

        deletes = [Exchange("delete", run.port, request("DELETE", f"/v1/sessions/{sid}", run.token)) for sid in logins]
        exchanges += deletes

        # Handshake: each cleanup was seen running (or already answered) before the signal.
        def running_or_answered(i):
            if deletes[i].status() is not None:
                return True
            doc = harness.http_json("GET", f"{run.url}/v1/sessions/{logins[i]}", headers=run.auth())[2] or {}
            return doc.get("status") == "cleaning_up"
        seen = set()

        def all_seen():
            for d in deletes:
                if not d.closed:
                    d.pump()
            for i in range(len(deletes)):
                if i not in seen and running_or_answered(i):
                    seen.add(i)
            return len(seen) == len(deletes)
        harness.wait_until(all_seen, timeout=60, interval=0.01, what="cleanups running")
        running_at_signal = sum(1 for d in deletes if d.status() is None)

        t0 = time.monotonic()
        run.proc.p.send_signal(signal.SIGTERM)
        pump_until(exchanges, lambda: all(e.closed for e in exchanges), EXIT_BOUND_S, "every connection answered and closed")
        try:
            code = run.proc.p.wait(timeout=max(1.0, EXIT_BOUND_S - (time.monotonic() - t0)))
        except Exception:  # noqa: BLE001
            raise AssertionError(f"tgpulse did not exit within {EXIT_BOUND_S}s of SIGTERM")
        took = time.monotonic() - t0
        harness.check(code == 0, f"exit code {code}: {run.proc.stderr()[-3000:]}")

        for e in invokes:
            check_retryable(e, (200,))
        for e in deletes:
            check_retryable(e, (200, 404))  # 404: the login ended by itself before its DELETE was served
        for s in streams:
            harness.check(not s.reset, f"stream reset: {s.describe()}")
        refused = sum(1 for e in invokes if e.status() == 503)
        # 8 calls a second leave the queue: at the signal nearly all of them still wait and are refused.
        harness.check(refused >= INVOKES // 2, f"only {refused} of {INVOKES} waiting invokes were refused")

        lines = [json.loads(l) for l in run.proc.stdout().splitlines() if l.startswith("{")]
        done = [l for l in lines if l.get("message") == "Shutdown complete"]
        harness.check(len(done) == 1, f"no 'Shutdown complete' line: {[l.get('message') for l in lines[-10:]]}")
        harness.check(done[0].get("tasks.outlived") == 0, f"tasks outlived the shutdown: {done[0]}")
        harness.check(done[0].get("tasks.joined", 0) >= INVOKES + STREAMS + CLEANUPS, f"tasks joined: {done[0]}")
        report = harness.sanitizer_report(run.proc.stderr())
        harness.check(report is None, f"sanitizer report in tgpulse's stderr:\n{report}")
        print(f"  loop {loop + 1}/{LOOPS}: exit 0 in {took:.2f}s; {refused} invokes refused, "
              f"{running_at_signal} cleanups running at SIGTERM, tasks joined {done[0].get('tasks.joined')}",
              flush=True)
    finally:
        for e in exchanges:
            if not e.closed:
                e.sock.close()
        if run.proc.alive():
            run.proc.stop(timeout=5)
        else:
            run.proc.stop()


def test_shutdown_under_load_repeatedly():
    run = Run()
    try:
        for loop in range(LOOPS):
            one_loop(run, loop)
    finally:
        shutil.rmtree(run.dir, ignore_errors=True)


if __name__ == "__main__":
    print(f"shutdown under load: {INVOKES} invokes, {STREAMS} streams, {CLEANUPS} cleanups, {LOOPS} loops",
          flush=True)
    harness.main([test_shutdown_under_load_repeatedly])
