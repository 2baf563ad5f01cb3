"""End-to-end throttle benchmark (see run_throttle.sh).

1. Off vs on: tdsim allows each session 5 getChats/s (burst 5) and absorbs waits up to 60 s like TDLib;
   the load generator offers twice that (4 sessions, 40 req/s) for DURATION seconds, once with the
   throttle off and once with it on (session layer 4.75/s, burst 1: 95% of the limit). Reported per
   column: the FloodWait ratio (floodwait_total / requests_total from /metrics, absorbed waits
   included), goodput against the allowed 20 req/s, latency and throttle-delay quantiles.
   Targets: ratio < 1% with the throttle on, goodput >= 90% of the allowed rate.
2. 10,000 invokes of one session wait in the throttle at once (getMe at 500/s, burst 1) while /healthz
   is timed every 20 ms: max and p99 of its latency (target: within 10 ms).
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


def config(enabled):
    # td.verbosity 2: TDLib's WARNING lines reach the engine, which counts the waits TDLib absorbs.
    return f"""
td:
  verbosity: 2
server:
  threads: 2
throttle:
  enabled: {"true" if enabled else "false"}
  session:
    methods:
      getChats: {{rate: {LIMIT * 0.95}, burst: 1}}
      getMe: {{rate: 500, burst: 1}}
  tenant:
    default_rate: 100000
    default_burst: 100000
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


def ten_thousand_waiting():
    # tdsim lets getMe through at 1,000/s, so only the throttle (500/s) holds the calls back.
    generous = {"flood": {"default": {"rate_per_second": 1000, "burst": 1000}, "methods": {}}}
    with InvokeStack(config=config(True), profile=generous, sessions=0) as stack:
        out = tempfile.mktemp(suffix=".json")
        p = load(stack, out, "--tenants", "1", "--sessions", "1", "--mix", "getMe=1", "--count", "10000",
                 "--rate", "50000", "--connections", "10000", "--deadline-ms", "60000")
        lat = []
        stop = threading.Event()

        def probe():
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    status = harness.http("GET", stack.url + "/healthz", timeout=5)[0]
                except OSError:
                    status = 0
                if status == 200:
                    lat.append((time.monotonic() - t0) * 1000)
                time.sleep(0.02)

        th = threading.Thread(target=probe, daemon=True)
        th.start()
        stdout, stderr = p.communicate(timeout=300)
        stop.set()
        th.join()
        if p.returncode != 0:
            raise SystemExit(f"load (10k waiting) failed: {stderr}")
        report = json.load(open(out))
        lat.sort()
        return {"load": report, "healthz_probes": len(lat),
                "healthz_max_ms": lat[-1] if lat else None,
                "healthz_p50_ms": lat[len(lat) // 2] if lat else None,
                "healthz_p99_ms": lat[int(0.99 * (len(lat) - 1))] if lat else None}


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
    print(f"10,000 waiting: {w['load']['ok']} ok, /healthz p50 {w['healthz_p50_ms']:.1f} ms, "
          f"max {w['healthz_max_ms']:.1f} ms, p99 {w['healthz_p99_ms']:.1f} ms over {w['healthz_probes']} probes")


if __name__ == "__main__":
    main()
