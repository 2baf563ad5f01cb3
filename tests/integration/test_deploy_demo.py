"""The demo (scripts/demo.sh), non-interactively: it starts tgpulse on tdsim, Prometheus and Alertmanager
on free loopback ports, every URL it prints answers, and SIGINT (what Ctrl-C sends) stops every process
it started."""
import os
import re
import signal
import subprocess
import tempfile
import time

import deploy_util  # noqa: F401  (puts harness on the path)
import harness
from harness import check

DEMO = os.path.join(harness.SOURCE_DIR, "scripts", "demo.sh")


def descendants(pid):
    """Pids of every process below `pid` (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_demo_starts_everything_prints_urls_and_stops_everything_on_sigint():
    check(os.access(harness.TGPULSE, os.X_OK), f"no service binary at {harness.TGPULSE}")
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ, TGPULSE_DEMO_DIR=state, TGPULSE_DEMO_PORT="0", TGPULSE_DEMO_PROMETHEUS_PORT="0",
                   TGPULSE_DEMO_ALERTMANAGER_PORT="0", TGPULSE_DEMO_ADMIN_PORT="0",
                   TGPULSE_DEMO_LOAD_RATE="5")
        env.pop("TGPULSE_ADMIN_TOKEN", None)
        out_path = os.path.join(state, "demo.out")
        with open(out_path, "wb") as out:
            demo = subprocess.Popen(["bash", DEMO, harness.BUILD_DIR], stdout=out, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        children = []
        try:
            def banner():
                text = open(out_path, errors="replace").read()
                check(demo.poll() is None, f"demo exited early:\n{text}")
                return text if "Ctrl-C stops everything" in text else None
            text = harness.wait_until(banner, timeout=120, interval=0.5, what="the demo's URLs")
            urls = dict(re.findall(r"^  (tgpulse|admin listener|QR login page|Prometheus|Alertmanager)\s+(http\S+)", text, re.M))
            check(set(urls) == {"tgpulse", "admin listener", "QR login page", "Prometheus", "Alertmanager"}, f"URLs printed:\n{text}")
            for name, url in urls.items():
                check(url.startswith("http://127.0.0.1:"), f"{name} not on loopback: {url}")
            check(harness.http("GET", urls["tgpulse"] + "/healthz")[0] == 200, "service /healthz")
            status, _, body = harness.http("GET", urls["admin listener"])
            check(status == 200 and b"telethon_floodwait_total" in body, f"admin listener metrics answered {status}")
            status, _, body = harness.http("GET", urls["QR login page"])
            check(status == 200 and b"<html" in body.lower(), f"QR page answered {status}")
            check(harness.http("GET", urls["Prometheus"])[0] == 200, f"Prometheus alerts page {urls['Prometheus']}")
            check(harness.http("GET", urls["Alertmanager"])[0] == 200, f"Alertmanager UI {urls['Alertmanager']}")
            check(harness.http("GET", urls["Alertmanager"] + "/-/ready")[0] == 200, "Alertmanager ready")
            prom = re.match(r"http://[^/]+", urls["Prometheus"]).group(0)
            _, _, rules = harness.http_json("GET", prom + "/api/v1/rules")
            names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
            check({"HighFloodWaitRate", "SlowSessionCleanup", "HighQRTimeoutRate"} <= names, f"rules loaded: {names}")
            admin_target = re.match(r"http://([^/]+)", urls["admin listener"]).group(1)
            harness.wait_until(lambda: [r for r in harness.http_json("GET", prom + "/api/v1/query?query=up")[2]["data"]["result"]
                                        if r["metric"].get("instance") == admin_target and r["value"][1] == "1"],
                               timeout=30, what="Prometheus scraping tgpulse's admin listener")
            children = descendants(demo.pid)
            check(len(children) >= 3, f"demo children: {children}")
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
                raise AssertionError("the demo did not exit within 60 s of SIGINT")
        time.sleep(0.2)
        left = [pid for pid in children if alive(pid)]
        check(not left, f"processes left running after SIGINT: {left}")
        check("stopping" in open(out_path, errors="replace").read(), "no stop message")


if __name__ == "__main__":
    harness.main([test_demo_starts_everything_prints_urls_and_stops_everything_on_sigint])
