"""End-to-end throttle benchmark (see run_throttle.sh).

1. Off vs on: tdsim allows each session 5 getChats/s (burst 5) and absorbs waits up to 60 s like TDLib;
   the load generator offers twice that (4 sessions, 40 req/s) for DURATION seconds, once with the
   throttle off and once with it on (session layer 4.75/s, burst 1: 95% of the limit). Reported per
   column: the FloodWait ratio (floodwait_total / requests_total from /metrics, absorbed waits
   included), goodput against the allowed 20 req/s, latency and throttle-delay quantiles.
   Targets: ratio < 1% with the throttle on, goodput >= 90% of the allowed rate.
2. 10,000 invokes of one session wait in the throttle at once (getMe at 500/s, burst 1) while /healthz
   is timed every 20 ms on the admin listener (server.admin_listen: own thread and accept queue) and,
   for comparison, on the main listener that takes the 10,000 connections: p50, p99 and max of each
   (target: within 10 ms at p99 on the admin listener, which is where probes are meant to go).
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "integration"))
import harness  # noqa: E402
from throttle_util import ADMIN_TOKEN, InvokeStack  # noqa: E402

DURATION = int(os.environ.get("THROTTLE_BENCH_SECONDS", "20"))
SESSIONS = 4
LIMIT = 5.0  # tdsim: getChats per session per second
PROFILE = {"flood": {"default": {"rate_per_second": 100, "burst": 100},
                     "methods": {"getChats": {"rate_per_second": LIMIT, "burst": 5}}}}
LOADGEN = os.path.join(harness.BUILD_DIR, "tgpulse-load")


def config(enabled, admin_port=None):
    # td.verbosity 2: TDLib's WARNING lines reach the engine, which counts the waits TDLib absorbs.
    admin = f"\n  admin_listen: 127.0.0.1:{admin_port}" if admin_port else ""
    return f"""
td:
  verbosity: 2
server:
  threads: 2{admin}
throttle:
  enabled: {"true" if enabled else "false"}
  session:
    methods:
      getChats: {{rate: {LIMIT * 0.95}, burst: 1}}
      getMe: {{rate: 500, burst: 1}}
  tenant:
    default_rate: 100000
    default_burst: 100000
limits:
  tenant_request_rate: 0
"""


def load(stack, out, *flags):
    args = [LOADGEN, "--url", stack.url, "--control", stack.control_url, "--admin-token", ADMIN_TOKEN,
            "--quiet", "--json", out, *flags]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def off_vs_on():
    columns = {}
    for name, enabled in (("off", False), ("on", True)):
        with InvokeStack(config=config(enabled), profile=PROFILE, sessions=0) as stack:
            out = tempfile.mktemp(suffix=".json")
            p = load(stack, out, "--tenants", "1", "--sessions", str(SESSIONS), "--mix", "getChats=1",
                     "--rate", str(2 * LIMIT * SESSIONS), "--duration", str(DURATION), "--deadline-ms", "3000")
            stdout, stderr = p.communicate(timeout=DURATION + 120)
            if p.returncode != 0:
                raise SystemExit(f"load ({name}) failed: {stderr}")
            report = json.load(open(out))
            report["allowed_rps"] = LIMIT * SESSIONS
            report["goodput_of_allowed"] = report["goodput_rps"] / report["allowed_rps"]
            columns[name] = report
            print(f"--- throttle {name}\n{stdout}", flush=True)
    return columns


def quantiles(lat):
    lat = sorted(lat)
    if not lat:
        return {"probes": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {"probes": len(lat), "p50_ms": lat[len(lat) // 2], "p99_ms": lat[int(0.99 * (len(lat) - 1))],
            "max_ms": lat[-1]}


def ten_thousand_waiting():
    # tdsim lets getMe through at 1,000/s, so only the throttle (500/s) holds the calls back.
    generous = {"flood": {"default": {"rate_per_second": 1000, "burst": 1000}, "methods": {}}}
    admin_port = harness.free_port()
    with InvokeStack(config=config(True, admin_port), profile=generous, sessions=0) as stack:
        out = tempfile.mktemp(suffix=".json")
        p = load(stack, out, "--tenants", "1", "--sessions", "1", "--mix", "getMe=1", "--count", "10000",
                 "--rate", "50000", "--connections", "10000", "--deadline-ms", "60000")
        stop = threading.Event()
        lat = {"admin": [], "main": []}
        failed = {"admin": 0, "main": 0}

        def probe(name, url):
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    status = harness.http("GET", url + "/healthz", timeout=5)[0]
                except OSError:
                    status = 0
                if status == 200:
                    lat[name].append((time.monotonic() - t0) * 1000)
                else:
                    failed[name] += 1
                time.sleep(0.02)

        threads = [threading.Thread(target=probe, args=("admin", f"http://127.0.0.1:{admin_port}"), daemon=True),
                   threading.Thread(target=probe, args=("main", stack.url), daemon=True)]
        for th in threads:
            th.start()
        stdout, stderr = p.communicate(timeout=300)
        stop.set()
        for th in threads:
            th.join()
        if p.returncode != 0:
            raise SystemExit(f"load (10k waiting) failed: {stderr}")
        report = json.load(open(out))
        return {"load": report,
                "healthz_admin": dict(quantiles(lat["admin"]), failed=failed["admin"]),
                "healthz_main": dict(quantiles(lat["main"]), failed=failed["main"])}


def main():
    result = {"off_vs_on": off_vs_on(), "waiting_10k": ten_thousand_waiting()}
    with open(sys.argv[1], "w") as f:
        json.dump(result, f, indent=2)
    cols = result["off_vs_on"]
    print(f"{'':28}{'throttle off':>14}{'throttle on':>14}")
    rows = [("FloodWait ratio", lambda r: f"{r['service']['floodwait_ratio'] * 100:.2f}%"),
            ("goodput req/s (allowed 20)", lambda r: f"{r['goodput_rps']:.1f}"),
            ("goodput / allowed", lambda r: f"{r['goodput_of_allowed'] * 100:.0f}%"),
            ("requests to Telegram", lambda r: f"{r['service']['requests_total']:.0f}"),
            ("FloodWaits", lambda r: f"{r['service']['floodwait_total']:.0f}"),
            ("429 throttled", lambda r: str(r["throttled"])),
            ("latency p50 ms", lambda r: f"{r['latency_s']['p50'] * 1000:.0f}"),
            ("latency p99 ms", lambda r: f"{r['latency_s']['p99'] * 1000:.0f}"),
            ("throttle delay p99 ms", lambda r: f"{r['service']['throttle_delay_s']['p99'] * 1000:.0f}")]
    for label, f in rows:
        print(f"{label:28}{f(cols['off']):>14}{f(cols['on']):>14}")
    w = result["waiting_10k"]
    print(f"10,000 waiting: {w['load']['ok']} ok")
    for name in ("admin", "main"):
        h = w[f"healthz_{name}"]
        print(f"  /healthz on the {name} listener: p50 {h['p50_ms']:.1f} ms, p99 {h['p99_ms']:.1f} ms, "
              f"max {h['max_ms']:.1f} ms over {h['probes']} probes ({h['failed']} failed)")


if __name__ == "__main__":
    main()
