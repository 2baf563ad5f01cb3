"""End-to-end update benchmark (see run_updates.sh): tgpulse on tdsim (in the service's process, as the
demo runs it), loopback only, bounded in time.

Set-up: TENANTS tenants with SESSIONS authorized sessions in all (QR logins scanned by tdsim's phone).
tdsim emits new messages open loop at a rate (its profile's incoming.rate_per_second per authorized
client, changed live with POST /profile: every 50 ms each client gets rate/20 messages, whether or not the
service keeps up). One reader per tenant, each in its own process, reads by long polling (GET
/v1/updates, acknowledging with its offset, limit 1000) or by the stream (GET /v1/updates/stream,
acknowledging once a second with a one-update long poll above the last id it got).

1. Rate ladder: each step offers a rate for STEP seconds (the first 2 s of a step are not counted).
   A step is sustained when the readers got >= 97 % of the offered rate, nothing was dropped and the
   lag p99 stayed under 1 s. The ladder stops after the first step that is not. Max sustained = the
   highest delivered rate of a sustained step; max delivered = the highest delivered rate of any step
   (the measured maximum, also when the service fell behind).
2. Lag run: 50 % of the max delivered for LAG seconds: lag p50/p99 (update's received_at, set by the service when
   the engine handed the update over → the moment the reader had parsed it; one clock).
3. Raw engine rate: every tenant's allowed_updates set to the service's own events only, so the hub
   counts each new message and stores nothing; the same ladder, until the service receives < 97 % of
   the offered rate: the highest rate of tgpulse_updates_received_total{type="updateNewMessage"} is what
   the engine hands over with the hub doing nothing.
Per step: CPU seconds of the service per delivered update (utime+stime from /proc/<pid>/stat; tdsim is
inside that process), bytes the service wrote to disk per update (/proc/<pid>/io write_bytes: WAL,
checkpoints, tdsim's binlogs), drops.

--channel webhook: each tenant PUTs /v1/webhook (max_connections --max-connections, default 100, the most
allowed) pointing at a receiver of its own on 127.0.0.1, one asyncio process per tenant (running the
whole run), which verifies every POST's signature with docs/examples/webhook_receiver.py's verify(),
answers 204 and records each updateNewMessage's arrival and lag as the readers do (duplicates, which
at-least-once allows, are counted once). The service runs with updates.webhook_allow_private: true.
"""
import argparse
import array
import asyncio
import calendar
import gc
import importlib.util
import http.client
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import harness  # noqa: E402
import serve_util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "webhook_receiver", os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples", "webhook_receiver.py"))
webhook_receiver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(webhook_receiver)

ADMIN_TOKEN = "admin-bench-updates-0123456789abcdef"
ADMIN = {"Authorization": "Bearer " + ADMIN_TOKEN}
CONFIG = """
log:
  level: warn
server:
  threads: 2
limits:
  tenant_request_rate: 0
  tenant_logins: 1000
  process_logins: 1000
  tenant_logins_per_minute: 1000000
"""
WEBHOOK_CONFIG = """
updates:
  webhook_allow_private: true
"""
WEBHOOK_SECRET = "bench_Webhook-secret-0123456789"
PROFILE = {
    "latency_ms": {"min": 1, "max": 3},
    "auth_latency_ms": {"min": 1, "max": 3},
    "qr": {"scan_probability": 1, "password_probability": 0, "decline_probability": 0,
           "scan_delay_ms": {"min": 20, "max": 100}},
    "incoming": {"rate_per_second": 0, "chats": 5, "edit_probability": 0, "delete_probability": 0,
                 "read_probability": 0},
}
WARMUP = 2.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the service's process -------------------------------------------------------------------------

def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def proc_write_bytes(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def metrics(url):
    status, _, raw = harness.http("GET", url + "/metrics", timeout=10)
    harness.check(status == 200, f"/metrics: {status}")
    out = {}
    for line in raw.decode().splitlines():
        if line.startswith("#") or not line:
            continue
        name_labels, _, value = line.rpartition(" ")
        try:
            out[name_labels] = float(value)
        except ValueError:
            pass
    return out


def metric_sum(snapshot, name, label=None):
    total = 0.0
    for key, v in snapshot.items():
        base = key.split("{", 1)[0]
        if base == name and (label is None or label in key):
            total += v
    return total


# --- readers (one process per tenant) --------------------------------------------------------------

_epoch_cache = {}


def received_epoch(stamp):
    """'2026-12-02T14:30:00.123Z' → seconds since the epoch (the second's part cached)."""
    head = stamp[:19]
    base = _epoch_cache.get(head)
    if base is None:
        base = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
        _epoch_cache[head] = base
    return base + int(stamp[20:23]) / 1000.0


def reader(url, token, channel, stop, out):
    """Reads until `stop`; sends back (arrival times, lags in ms) of every updateNewMessage."""
    # No cyclic garbage collection in the reader: a full collection over a heap of parsed pages pauses it
    # for hundreds of milliseconds, in every reader at about the same point of a run, and the updates
    # wait in the log meanwhile — a lag of the bench, not of the service. (The pages hold no cycles;
    # reference counting frees them; a run is bounded in time.)
    gc.disable()
    host, port = url.replace("http://", "").split(":")
    arrivals, lags = array.array("d"), array.array("d")
    auth = {"Authorization": "Bearer " + token}

    def note(updates):
        now = time.time()
        for u in updates:
            if u["update"].get("@type") == "updateNewMessage":
                arrivals.append(now)
                lags.append((now - received_epoch(u["received_at"])) * 1000.0)

    errors = 0
    if channel == "long_poll":
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        offset = 0
        while not stop.is_set():
            try:
                conn.request("GET", f"/v1/updates?offset={offset}&limit=1000&timeout=1", headers=auth)
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                continue
            if resp.status != 200:
                errors += 1
                continue
            updates = json.loads(body)["updates"]
            if updates:
                note(updates)
                offset = updates[-1]["update_id"] + 1
    else:  # stream
        ack = http.client.HTTPConnection(host, int(port), timeout=30)
        conn = http.client.HTTPConnection(host, int(port), timeout=2)
        conn.request("GET", "/v1/updates/stream", headers=auth)
        resp = conn.getresponse()
        harness.check(resp.status == 200, f"stream: {resp.status}")
        last_id, acked, last_ack = 0, 0, time.monotonic()
        fields = {}
        while not stop.is_set():
            try:
                line = resp.fp.readline()
            except OSError:  # no event for 2 s: look at `stop` again
                continue
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line == "":
                if fields.get("event") == "update":
                    note([json.loads(fields["data"])])
                    last_id = int(fields["id"])
                fields = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value
            if last_id > acked and time.monotonic() - last_ack > 1.0:
                ack.request("GET", f"/v1/updates?offset={last_id + 1}&limit=1&timeout=0", headers=auth)
                ack.getresponse().read()
                acked, last_ack = last_id, time.monotonic()
        conn.close()
    out.put((arrivals.tobytes(), lags.tobytes(), errors))


# --- webhook receivers (one process per tenant) ---------------------------------------------------

def webhook_receiver_main(port, ready, commands):
    """Serves POSTs on 127.0.0.1:`port` until told "stop"; on "collect" sends back (arrival times, lags in
    ms, counters) of what arrived since the last collect. Every POST's signature is verified."""
    gc.disable()  # as in reader()
    secret = WEBHOOK_SECRET.encode()
    seen = set()
    state = {"arrivals": array.array("d"), "lags": array.array("d")}
    counts = {"posts": 0, "updates": 0, "duplicates": 0, "bad_signatures": 0, "bad_requests": 0,
              "connections": 0, "in_flight": 0, "max_in_flight": 0}

    async def answer(writer, status, keep):
        close = "" if keep else "Connection: close\r\n"
        writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n{close}\r\n".encode())
        await writer.drain()

    async def serve_one(reader, writer):
        """One request of a connection; False when the connection is to be closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if e.partial:
                counts["bad_requests"] += 1
            return False  # the client closed its kept connection
        counts["in_flight"] += 1
        counts["max_in_flight"] = max(counts["max_in_flight"], counts["in_flight"])
        try:
            if len(head) > 16384:
                raise ValueError("head too long")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            keep = headers.get("connection", "").lower() != "close"
            length = headers.get("content-length", "")
            if not length.isdigit() or int(length) > webhook_receiver.MAX_BODY_BYTES:
                raise ValueError("bad length")
            body = await reader.readexactly(int(length))
            if not webhook_receiver.verify(secret, headers.get("x-tgpulse-timestamp", ""),
                                           headers.get("x-tgpulse-signature", ""), body, time.time()):
                counts["bad_signatures"] += 1
                await answer(writer, "401 Unauthorized", False)
                return False
            now = time.time()
            counts["posts"] += 1
            for u in json.loads(body)["updates"]:
                counts["updates"] += 1
                if u["update_id"] in seen:
                    counts["duplicates"] += 1
                    continue
                seen.add(u["update_id"])
                if u["update"].get("@type") == "updateNewMessage":
                    state["arrivals"].append(now)
                    state["lags"].append((now - received_epoch(u["received_at"])) * 1000.0)
            await answer(writer, "204 No Content", keep)
            return keep
        except (OSError, ValueError, KeyError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            counts["bad_requests"] += 1
            return False
        finally:
            counts["in_flight"] -= 1

    async def serve(reader, writer):
        """A connection: its requests one after the other while the service keeps it (HTTP/1.1)."""
        counts["connections"] += 1
        try:
            while await serve_one(reader, writer):
                pass
        finally:
            writer.close()

    async def main():
        loop = asyncio.get_running_loop()
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=1024, limit=65536)
        ready.set()
        while True:
            command = await loop.run_in_executor(None, commands.recv)
            if command == "stop":
                break
            out = (state["arrivals"].tobytes(), state["lags"].tobytes(),
                   {k: v for k, v in counts.items() if k != "in_flight"})
            state["arrivals"], state["lags"] = array.array("d"), array.array("d")
            commands.send(out)
        server.close()

    asyncio.run(main())


class WebhookReceivers:
    """One receiver process per tenant for the whole run, each tenant's webhook pointing at its own."""

    def __init__(self, bench):
        self.procs, self.pipes = [], []
        for tok in bench.tokens:
            port = harness.free_port()
            ready = mp.Event()
            ours, theirs = mp.Pipe()
            p = mp.Process(target=webhook_receiver_main, args=(port, ready, theirs), daemon=True)
            p.start()
            harness.check(ready.wait(20), "webhook receiver did not start")
            self.procs.append(p)
            self.pipes.append(ours)
            status, _, doc = harness.http_json(
                "PUT", bench.url + "/v1/webhook",
                {"url": f"http://127.0.0.1:{port}/hook", "secret": WEBHOOK_SECRET,
                 "max_connections": bench.args.max_connections}, {"Authorization": "Bearer " + tok})
            harness.check(status == 200, f"PUT /v1/webhook: {status} {doc}")

    def collect(self):
        """(arrival times, lags, counters summed over the receivers) since the last collect."""
        arrivals, lags, counts = [], [], {}
        for pipe in self.pipes:
            pipe.send("collect")
            harness.check(pipe.poll(60), "webhook receiver did not answer")
            a, lg, c = pipe.recv()
            arr, lag = array.array("d"), array.array("d")
            arr.frombytes(a)
            lag.frombytes(lg)
            arrivals += list(arr)
            lags += list(lag)
            for k, v in c.items():
                counts[k] = max(counts.get(k, 0), v) if k == "max_in_flight" else counts.get(k, 0) + v
        return arrivals, lags, counts

    def close(self):
        for pipe in self.pipes:
            pipe.send("stop")
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()


# --- the run ---------------------------------------------------------------------------------------

def quantile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class Bench:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="tgpulse-updates-bench-")
        with open(os.path.join(self.dir, "tgpulse.yaml"), "w") as f:
            f.write(CONFIG + (WEBHOOK_CONFIG if args.channel == "webhook" else ""))
        with open(os.path.join(self.dir, "tdsim.json"), "w") as f:
            json.dump(PROFILE, f)
        control_port = harness.free_port()
        self.control = f"http://127.0.0.1:{control_port}"
        env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB,
               "TDSIM_CONTROL_ADDR": f"127.0.0.1:{control_port}",
               "TDSIM_PROFILE": os.path.join(self.dir, "tdsim.json")}
        self.service = serve_util.Service("--config", os.path.join(self.dir, "tgpulse.yaml"), env=env)
        self.url = self.service.url
        self.pid = self.service.p.pid
        harness.wait_http_ok(self.control + "/health", timeout=20)
        self.receivers = None
        self.drain_seconds = []

    def close(self):
        if self.receivers:
            self.receivers.close()
        self.service.stop(timeout=60)

    def set_rate(self, total_per_second):
        per_client = total_per_second / self.args.sessions
        status, _, doc = harness.http_json("POST", self.control + "/profile",
                                           {"incoming": {"rate_per_second": per_client}})
        harness.check(status == 200, f"POST /profile: {status} {doc}")

    def set_up(self):
        t0 = time.monotonic()
        self.tokens = []
        for t in range(self.args.tenants):
            status, _, doc = harness.http_json("POST", self.url + "/v1/tenants", {"tenant_id": f"bench-{t}"}, ADMIN)
            harness.check(status == 201, f"tenant: {status} {doc}")
            self.tokens.append(doc["token"])

        def login(i):
            token = self.tokens[i % self.args.tenants]
            for _ in range(50):
                status, hdrs, doc = harness.http_json("POST", self.url + "/v1/qr-logins", {},
                                                      {"Authorization": "Bearer " + token}, timeout=30)
                if status == 201:
                    return doc["session_id"]
                time.sleep(float(hdrs.get("retry-after", "0.2") or 0.2))
            raise AssertionError(f"qr-login: {status} {doc}")

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(login, range(self.args.sessions)))

        def ready():
            _, _, doc = harness.http_json("GET", self.control + "/state", timeout=30)
            n = sum(1 for c in doc["clients"] if c["state"] == "authorizationStateReady")
            return n >= self.args.sessions and n

        harness.wait_until(ready, timeout=300, interval=1, what=f"{self.args.sessions} sessions authorized")
        self.setup_seconds = time.monotonic() - t0

    def start_readers(self, channel):
        if channel == "webhook":  # the receivers run for the whole run; a start only forgets what came before
            if self.receivers is None:
                self.receivers = WebhookReceivers(self)
            self.receivers.collect()
            return
        self.stop = mp.Event()
        self.results = mp.Queue()
        self.readers = [mp.Process(target=reader, args=(self.url, tok, channel, self.stop, self.results), daemon=True)
                        for tok in self.tokens]
        for p in self.readers:
            p.start()

    def stop_readers(self):
        if self.receivers is not None:
            before = getattr(self, "webhook_counts", {})
            arrivals, lags, self.webhook_counts = self.receivers.collect()
            errors = sum(self.webhook_counts[k] - before.get(k, 0) for k in ("bad_signatures", "bad_requests"))
            return sorted(zip(arrivals, lags)), errors
        self.stop.set()
        arrivals, lags, errors = [], [], 0
        for _ in self.readers:
            a, lg, e = self.results.get(timeout=120)
            arr, lag = array.array("d"), array.array("d")
            arr.frombytes(a)
            lag.frombytes(lg)
            arrivals += list(arr)
            lags += list(lag)
            errors += e
        for p in self.readers:
            p.join(timeout=30)
        return sorted(zip(arrivals, lags)), errors

    def drain(self, seconds):
        """Waits `seconds` for the backlog to be read; with a webhook, until no tenant has an update left to
        deliver (GET /v1/webhook's pending_update_count), at most 60 s, so a step starts from an empty log."""
        time.sleep(seconds)
        if self.receivers is None:
            return

        def drained():
            for tok in self.tokens:
                status, _, doc = harness.http_json("GET", self.url + "/v1/webhook", headers={"Authorization": "Bearer " + tok})
                if status != 200 or doc["pending_update_count"] > 0:
                    return False
            return True

        t0 = time.monotonic()
        try:
            harness.wait_until(drained, timeout=60, interval=0.5, what="webhook backlog delivered")
        finally:
            self.drain_seconds.append(round(seconds + time.monotonic() - t0, 1))

    def snapshot(self):
        m = metrics(self.url)
        return {"t": time.time(), "cpu": proc_cpu_seconds(self.pid), "write_bytes": proc_write_bytes(self.pid),
                "receivers_cpu": sum(proc_cpu_seconds(p.pid) for p in self.receivers.procs) if self.receivers else None,
                "received": metric_sum(m, "tgpulse_updates_received_total", 'type="updateNewMessage"'),
                "delivered": metric_sum(m, "tgpulse_updates_delivered_total"),
                "dropped": metric_sum(m, "tgpulse_updates_dropped_total"),
                "posts": metric_sum(m, "tgpulse_webhook_requests_total")}

    def step(self, rate, seconds):
        """Offers `rate` for `seconds`; returns the window [start + WARMUP, end] and the snapshots."""
        self.set_rate(rate)
        time.sleep(WARMUP)
        before = self.snapshot()
        time.sleep(max(1.0, seconds - WARMUP))
        after = self.snapshot()
        return {"rate": rate, "before": before, "after": after}


def summarise(step, samples):
    b, a = step["before"], step["after"]
    window = a["t"] - b["t"]
    lags = sorted(lag for t, lag in samples if b["t"] <= t < a["t"])
    delivered = len(lags)
    out = {"offered_per_s": step["rate"], "window_s": round(window, 2),
           "received_per_s": round((a["received"] - b["received"]) / window),
           "delivered_per_s": round(delivered / window),
           "dropped": a["dropped"] - b["dropped"],
           "lag_p50_ms": quantile(lags, 0.50), "lag_p99_ms": quantile(lags, 0.99),
           "lag_max_ms": lags[-1] if lags else None,
           "cpu_s_per_update": (a["cpu"] - b["cpu"]) / delivered if delivered else None,
           "cpu_utilisation": round((a["cpu"] - b["cpu"]) / window, 2)}
    if a.get("receivers_cpu") is not None:
        out["receivers_cpu_utilisation"] = round((a["receivers_cpu"] - b["receivers_cpu"]) / window, 2)
        out["webhook_posts_per_s"] = round((a["posts"] - b["posts"]) / window)
    if a["write_bytes"] is not None and delivered:
        out["disk_bytes_written_per_update"] = round((a["write_bytes"] - b["write_bytes"]) / delivered)
    out["sustained"] = (delivered >= 0.97 * step["rate"] * window and out["dropped"] == 0
                        and out["lag_p99_ms"] is not None and out["lag_p99_ms"] < 1000)
    return out


def webhook_figures(bench):
    """The receivers' counters (cumulative over the run) and the service's count of POSTs by status."""
    m = metrics(bench.url)
    posts = {k.split('code="', 1)[1].split('"', 1)[0]: v for k, v in m.items()
             if k.startswith("tgpulse_webhook_requests_total{") and 'code="' in k}
    c = dict(bench.webhook_counts)
    c["updates_per_post"] = round(c["updates"] / c["posts"], 1) if c["posts"] else None
    c["service_posts_by_code"] = posts
    c["max_connections"] = bench.args.max_connections
    c["drain_seconds"] = bench.drain_seconds
    return c


def one_run(args):
    bench = Bench(args)
    try:
        bench.set_up()
        print(f"  {args.sessions} sessions authorized in {bench.setup_seconds:.0f} s", flush=True)
        bench.start_readers(args.channel)
        time.sleep(1)
        ladder = []
        for rate in args.rates:
            ladder.append(bench.step(rate, args.step_seconds))
            print(f"  offered {rate}/s", flush=True)
            # a step that lags or drops ends the ladder (checked on the metrics: the readers report at the end)
            s = ladder[-1]
            window = s["after"]["t"] - s["before"]["t"]
            behind = (s["after"]["received"] - s["before"]["received"]) / window < 0.97 * rate
            if s["after"]["dropped"] > s["before"]["dropped"] or behind:
                break
            if (s["after"]["received"] - s["after"]["delivered"]) > rate:  # backlog of more than a second
                break
        bench.set_rate(0)
        bench.drain(3)  # the backlog drains
        samples, errors = bench.stop_readers()
        steps = [summarise(s, samples) for s in ladder]
        sustained = [s for s in steps if s["sustained"]]
        max_rate = max((s["delivered_per_s"] for s in sustained), default=0)
        capacity = max(s["delivered_per_s"] for s in steps)  # the measured maximum, kept up with or not
        # Lag at half the measured maximum, readers anew.
        bench.start_readers(args.channel)
        time.sleep(1)
        half = bench.step(max(100, capacity // 2), args.lag_seconds)
        bench.set_rate(0)
        bench.drain(2)
        samples2, errors2 = bench.stop_readers()
        lag = summarise(half, samples2)
        # Raw engine rate: the hub filters every new message out (stores nothing).
        for tok in bench.tokens:
            status, _, doc = harness.http_json("PUT", bench.url + "/v1/updates/settings",
                                               {"allowed_updates": ["tgpulse*"]}, {"Authorization": "Bearer " + tok})
            harness.check(status == 200, f"settings: {status} {doc}")
        raw_steps = []
        for rate in args.rates:
            st = bench.step(rate, args.step_seconds)
            w = st["after"]["t"] - st["before"]["t"]
            raw_steps.append({"offered_per_s": rate,
                              "received_per_s": round((st["after"]["received"] - st["before"]["received"]) / w),
                              "cpu_utilisation": round((st["after"]["cpu"] - st["before"]["cpu"]) / w, 2)})
            if raw_steps[-1]["received_per_s"] < 0.97 * rate:
                break
        bench.set_rate(0)
        raw_rate = max(r["received_per_s"] for r in raw_steps)
        return {"setup_seconds": round(bench.setup_seconds), "steps": steps, "max_sustained_per_s": max_rate,
                "max_delivered_per_s": capacity,
                "at_half": lag, "raw_engine_per_s": raw_rate, "raw_steps": raw_steps,
                "reader_errors": errors + errors2,
                **({"webhook": webhook_figures(bench)} if args.channel == "webhook" else {}),
                "loadavg": open("/proc/loadavg").read().split()[:3]}
    finally:
        bench.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--channel", choices=["long_poll", "stream", "webhook"], default="long_poll")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--tenants", type=int, default=4)
    ap.add_argument("--rates", default=None, help="the ladder (default 5000..50000)")
    ap.add_argument("--step-seconds", type=float, default=float(os.environ.get("UPDATES_BENCH_STEP_SECONDS", "8")))
    ap.add_argument("--lag-seconds", type=float, default=12)
    ap.add_argument("--max-connections", type=int, default=100, help="webhook: each tenant's max_connections")
    args = ap.parse_args()
    if args.rates is None:
        args.rates = "5000,10000,15000,20000,25000,30000,40000,50000"
    args.rates = [int(r) for r in args.rates.split(",")]
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} ({args.channel})", flush=True)
        runs.append(one_run(args))
        r = runs[-1]
        print(f"{'offered/s':>10}{'received/s':>11}{'delivered/s':>12}{'p50 ms':>8}{'p99 ms':>8}{'CPU µs/upd':>11}"
              f"{'disk B/upd':>11}{'dropped':>8}  sustained")
        for s in r["steps"] + [r["at_half"]]:
            cpu = f"{s['cpu_s_per_update'] * 1e6:.1f}" if s["cpu_s_per_update"] else "-"
            print(f"{s['offered_per_s']:>10}{s['received_per_s']:>11}{s['delivered_per_s']:>12}{s['lag_p50_ms'] or 0:>8.0f}"
                  f"{s['lag_p99_ms'] or 0:>8.0f}{cpu:>11}{s.get('disk_bytes_written_per_update', '-'):>11}"
                  f"{s['dropped']:>8.0f}  {s['sustained']}  CPUs {s['cpu_utilisation']}"
                  + (f", receivers {s['receivers_cpu_utilisation']}; POSTs/s {s['webhook_posts_per_s']}"
                     if "receivers_cpu_utilisation" in s else ""))
        print(f"max sustained {r['max_sustained_per_s']}/s, max delivered {r['max_delivered_per_s']}/s; at half: p50 {r['at_half']['lag_p50_ms']:.0f} ms, "
              f"p99 {r['at_half']['lag_p99_ms']:.0f} ms; raw engine {r['raw_engine_per_s']}/s "
              f"(ladder {[x['received_per_s'] for x in r['raw_steps']]}); load {' '.join(r['loadavg'])}", flush=True)
        if "webhook" in r:
            print("webhook:", json.dumps(r["webhook"]), flush=True)
    summary = {"channel": args.channel, "sessions": args.sessions, "tenants": args.tenants, "runs": runs}
    if runs:
        med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
        summary["median"] = {
            "max_sustained_per_s": med(lambda r: r["max_sustained_per_s"]),
            "max_delivered_per_s": med(lambda r: r["max_delivered_per_s"]),
            "cpu_us_per_update_ladder": med(lambda r: statistics.median(
                s["cpu_s_per_update"] * 1e6 for s in r["steps"] if s["cpu_s_per_update"])),
            "lag_p50_ms_at_half": med(lambda r: r["at_half"]["lag_p50_ms"]),
            "lag_p99_ms_at_half": med(lambda r: r["at_half"]["lag_p99_ms"]),
            "cpu_us_per_update_at_half": med(lambda r: r["at_half"]["cpu_s_per_update"] * 1e6),
            "raw_engine_per_s": med(lambda r: r["raw_engine_per_s"]),
        }
        summary["median"]["ratio_to_raw"] = round(summary["median"]["max_delivered_per_s"] /
                                                  max(1, summary["median"]["raw_engine_per_s"]), 2)
        print("median of", len(runs), "runs:", json.dumps(summary["median"]))
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
