"""The demo (scripts/demo.sh), non-interactively: it starts tgpulse on tdsim, Prometheus and Alertmanager
on free loopback ports, every URL it prints answers, and SIGINT (what Ctrl-C sends) stops every process
it started.

The Prometheus consoles it links (deploy/prometheus/consoles: the seed's four panels, the SLO row) are
rendered in headless Chromium (tests/node/console_graphs_test.js) once the demo's data has come in: every
graph must have drawn coloured series on the screen, read back from a screenshot of it. The page
screenshots are kept in the build directory (console-screenshots/). The consoles plot what the Grafana
dashboard's panels of the same titles plot (same metrics).
"""
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.parse

import deploy_util  # noqa: F401  (puts harness on the path)
import harness
from harness import check

DEMO = os.path.join(harness.SOURCE_DIR, "scripts", "demo.sh")
CONSOLES_DIR = os.path.join(deploy_util.DEPLOY, "prometheus", "consoles")
CONSOLES = {"tgpulse.html": ["FloodWait Events", "Session Cleanup Duration", "QR Session Funnel", "Rate Limiting"],
            "tgpulse-slo.html": ["SLIs over 30 days", "Error budget burn rate", "Error budget remaining (30 days)"]}
CONSOLE_CHECKER = os.path.join(harness.NODE_DIR, "console_graphs_test.js")
SHOT_DIR = os.path.join(harness.BUILD_DIR, "console-screenshots")


def console_graphs(name):
    """[(title, [expr, ...])] of the PromConsole.Graph calls of a console file, in page order."""
    with open(os.path.join(CONSOLES_DIR, name)) as f:
        text = f.read()
    out = []
    for m in re.finditer(r'<h3>([^<]+)</h3>.*?expr:\s*(\[\s*(?:"(?:[^"\\]|\\.)*"\s*,?\s*)+\]|"(?:[^"\\]|\\.)*")', text, re.S):
        out.append((m.group(1).strip(), re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2))))
    return out


def test_consoles_plot_what_the_dashboard_panels_of_the_same_title_plot():
    with open(os.path.join(deploy_util.DASHBOARD_DIR, "tgpulse.json")) as f:
        dashboard = json.load(f)
    panels = {q["title"]: q for p in dashboard["panels"] for q in [p] + p.get("panels", [])}
    for name, titles in CONSOLES.items():
        graphs = console_graphs(name)
        check([t for t, _ in graphs] == titles, f"{name}: graphs {[t for t, _ in graphs]}, expected {titles}")
        for title, exprs in graphs:
            wanted = set().union(*(deploy_util.metric_names_in(t["expr"]) for t in panels[title]["targets"]))
            plotted = set().union(*(deploy_util.metric_names_in(e) for e in exprs))
            check(plotted == wanted, f"{name} {title!r} plots {sorted(plotted)}, the dashboard panel {sorted(wanted)}")


def test_make_demo_shows_build_output_only_when_something_was_rebuilt_or_failed():
    """`make demo` builds through scripts/quietly.sh; fed with make's output of an up-to-date build, a
    rebuild and a failure, it stays silent, shows what was rebuilt, and shows everything."""
    quietly = os.path.join(harness.SOURCE_DIR, "scripts", "quietly.sh")
    with open(os.path.join(harness.SOURCE_DIR, "Makefile")) as f:
        check(re.search(r"^demo:.*\n\t@bash scripts/quietly\.sh \$\(MAKE\)", f.read(), re.M), "make demo does not build quietly")

    def run(script):
        return subprocess.run(["bash", quietly, "bash", "-c", script], capture_output=True, text=True, timeout=60)
    up_to_date = "echo 'install-deps: ok'; echo '[ 50%] Built target tgpulse_core'; echo '[100%] Built target tgpulse'"
    out = run(up_to_date)
    check(out.returncode == 0 and out.stdout == "" and out.stderr == "", f"up-to-date build printed: {out}")
    out = run(up_to_date + "; echo '[ 99%] Building CXX object src/app/main.cc.o'; echo '[100%] Linking CXX executable tgpulse'")
    check(out.returncode == 0 and "Building CXX object" in out.stdout and "Linking" in out.stdout
          and "Built target" not in out.stdout, f"rebuild output: {out}")
    out = run(up_to_date + "; echo 'main.cc:1: error: expected ;' >&2; exit 2")
    check(out.returncode == 2 and "error: expected" in out.stderr and "Built target" in out.stderr, f"failure: {out}")


# The consoles are opened on the last WINDOW seconds (prom_console.js' time control, in the URL's hash), and
# checked once every graph has finite values over at least SPAN of them: its line then crosses half the graph.
WINDOW, SPAN = 120, 60


def wait_for_console_data(prom):
    """Until every console graph's expressions have finite values over SPAN seconds (the demo's load and its
    QR churn take a little while to produce requests and cleanups)."""
    exprs = [e for name in CONSOLES for _, es in console_graphs(name) for e in es]

    def missing():
        now = time.time()
        left = []
        for expr in exprs:
            q = urllib.parse.urlencode({"query": expr, "start": now - WINDOW, "end": now, "step": 2})
            _, _, doc = harness.http_json("GET", prom + "/api/v1/query_range?" + q)
            times = [float(v[0]) for r in doc["data"]["result"] for v in r["values"]
                     if float(v[1]) == float(v[1]) and abs(float(v[1])) != float("inf")]
            if not times or max(times) - min(times) < SPAN:
                left.append(expr)
        return left
    try:
        harness.wait_until(lambda: not missing(), timeout=180, interval=5, what="data for every console graph")
    except AssertionError:
        raise AssertionError(f"console graphs without {SPAN} s of data after 180 s: " + "; ".join(missing()))


def check_consoles_in_browser(urls):
    window = "#pctc" + urllib.parse.quote(json.dumps({"duration": WINDOW, "endTime": 0}))
    out = subprocess.run(["node", CONSOLE_CHECKER, SHOT_DIR, *[u + window for u in urls]], cwd=harness.NODE_DIR,
                         capture_output=True, text=True, timeout=300)
    check(out.returncode == 0, f"console checker failed:\n{out.stdout}\n{out.stderr}")
    report = json.loads(out.stdout)
    summary = []
    for page in report["pages"]:
        name = page["url"].split("#")[0].rsplit("/", 1)[-1]
        titles = [g["title"] for g in page["graphs"]]
        check(titles == CONSOLES[name], f"{name}: graphs rendered {titles}, expected {CONSOLES[name]}")
        check(os.path.getsize(page["shot"]) > 10000, f"{name}: screenshot {page['shot']} is nearly empty")
        for g in page["graphs"]:
            check(g["error"] is None, f"{name} {g['title']!r}: {g['error']}")
            check(g["series"] > 0 and g["points"] > 0, f"{name} {g['title']!r}: no data points: {g}")
            check(g["coloured_pixels"] > 200, f"{name} {g['title']!r}: the screenshot shows no series drawn: {g}")
            summary.append(f"{g['title']}: {g['series']} series, {g['points']} points ({g['nonzero']} non-zero), "
                           f"{g['coloured_pixels']} coloured px")
    print("  consoles: " + "; ".join(summary))
    print(f"  screenshots in {SHOT_DIR}")


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
            urls = dict(re.findall(r"^  (tgpulse|admin listener|QR login page|Prometheus|Alertmanager|panels|SLO panels)"
                                   r"\s+(http\S+)", text, re.M))
            check(set(urls) == {"tgpulse", "admin listener", "QR login page", "Prometheus", "Alertmanager", "panels",
                                "SLO panels"}, f"URLs printed:\n{text}")
            check(not re.search(r"Built target|Building|\[ *\d+%\]", text), f"build output in the demo's output:\n{text}")
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
            for name in ("panels", "SLO panels"):
                status, _, body = harness.http("GET", urls[name])
                check(status == 200 and b"PromConsole.Graph" in body, f"{name} console {urls[name]} answered {status}")
            wait_for_console_data(prom)
            children = descendants(demo.pid)
            check(len(children) >= 3, f"demo children: {children}")
            check_consoles_in_browser([urls["panels"], urls["SLO panels"]])
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
                raise AssertionError("the demo did not exit within 60 s of SIGINT")
        # The demo has exited; its children get the same SIGINT and may need a moment to exit too.
        try:
            harness.wait_until(lambda: not [pid for pid in children if alive(pid)], timeout=10,
                               what="the demo's processes to exit")
        except AssertionError:
            left = [pid for pid in children if alive(pid)]
            check(not left, f"processes left running 10 s after SIGINT: {left}")
        check("stopping" in open(out_path, errors="replace").read(), "no stop message")


if __name__ == "__main__":
    harness.main([test_consoles_plot_what_the_dashboard_panels_of_the_same_title_plot,
                  test_make_demo_shows_build_output_only_when_something_was_rebuilt_or_failed,
                  test_demo_starts_everything_prints_urls_and_stops_everything_on_sigint])
