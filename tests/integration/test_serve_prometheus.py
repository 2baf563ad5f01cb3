"""A real Prometheus scrapes `tgpulse serve`: the target is up, every family of the seed catalog (and the
HTTP metrics) is queryable through the Prometheus HTTP API, `promtool check metrics` accepts the
scraped text, and with exemplar storage on, /api/v1/query_exemplars returns an exemplar carrying the
trace id of a request this test made with a known traceparent."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

import harness
from harness import check
from serve_util import Service

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SEED_FAMILIES = {
    # family → a series name that must be queryable (histograms through their _count / _bucket)
    "telethon_floodwait_total": "telethon_floodwait_total",
    "telethon_floodwait_duration_seconds": "telethon_floodwait_duration_seconds_count",
    "telethon_session_cleanup_total": "telethon_session_cleanup_total",
    "telethon_session_cleanup_duration_seconds": "telethon_session_cleanup_duration_seconds_bucket",
    "telethon_qr_session_total": "telethon_qr_session_total",
    "telethon_qr_timeout_total": "telethon_qr_timeout_total",
    "telethon_rate_limit_hits_total": "telethon_rate_limit_hits_total",
    "telethon_throttling_delay_seconds": "telethon_throttling_delay_seconds_count",
    "telethon_requests_total": "telethon_requests_total",
    "tgpulse_http_requests_total": "tgpulse_http_requests_total",
    "tgpulse_http_request_duration_seconds": "tgpulse_http_request_duration_seconds_bucket",
}

svc = None
prom_url = None


def api(path, **params):
    status, _, doc = harness.http_json("GET", f"{prom_url}{path}?{urllib.parse.urlencode(params)}", timeout=10)
    check(status == 200 and doc and doc.get("status") == "success", f"{path} {params}: {status} {doc}")
    return doc["data"]


def test_target_is_up():
    def up():
        targets = api("/api/v1/targets")["activeTargets"]
        return targets and targets[0]["health"] == "up" and targets[0]
    target = harness.wait_until(up, timeout=60, interval=0.5, what="tgpulse target up")
    check(target["scrapeUrl"] == svc.url + "/metrics", target)


def test_every_seed_family_is_queryable():
    missing = {}
    for family, series in SEED_FAMILIES.items():
        def present(series=series):
            return api("/api/v1/query", query=series)["result"]
        try:
            result = harness.wait_until(present, timeout=30, interval=0.5, what=series)
        except AssertionError as e:
            missing[family] = str(e)
            continue
        check(all(r["metric"]["__name__"] == series for r in result), result[:2])
    check(not missing, f"families not queryable: {missing}")
    # Pre-created label values make rate() work from the first scrape.
    statuses = {r["metric"]["status"] for r in api("/api/v1/query", query="telethon_qr_session_total")["result"]}
    check({"created", "expired", "authorized", "failed"} <= statuses, statuses)


def test_promtool_accepts_the_scraped_text():
    _, _, text = harness.http("GET", svc.url + "/metrics")
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60)
    check(p.returncode == 0, f"promtool check metrics: {p.stdout.decode()} {p.stderr.decode()}")


def test_exemplar_carries_the_trace_id_of_our_request():
    tp = f"00-{TRACE_ID}-a3ce929d0e0e4736-01"
    status, headers, _ = harness.http("GET", svc.url + "/readyz", headers={"traceparent": tp})
    check(status == 200 and TRACE_ID in headers["traceparent"], headers)

    def exemplar():
        now = time.time()
        data = api("/api/v1/query_exemplars", query='tgpulse_http_request_duration_seconds_bucket{route="/readyz"}',
                   start=f"{now - 300:.3f}", end=f"{now + 60:.3f}")
        for series in data:
            for ex in series.get("exemplars", []):
                if ex["labels"].get("trace_id") == TRACE_ID:
                    return series, ex
        return None
    series, ex = harness.wait_until(exemplar, timeout=60, interval=0.5, what="exemplar with our trace id")
    check(series["seriesLabels"]["route"] == "/readyz", series["seriesLabels"])
    check(len(ex["labels"].get("span_id", "")) == 16, ex)
    check(float(ex["value"]) > 0, ex)


if __name__ == "__main__":
    if shutil.which("prometheus") is None:
        raise SystemExit("prometheus is not installed (make deps installs it)")
    with Service() as service:
        svc = service
        work = tempfile.mkdtemp(prefix="tgpulse-prom-")
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n"
                "  - job_name: tgpulse\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{service.port}']\n")
        port = harness.free_port()
        prom_url = f"http://127.0.0.1:{port}"
        with harness.Proc(["prometheus", f"--web.listen-address=127.0.0.1:{port}",
                           f"--storage.tsdb.path={os.path.join(work, 'data')}", f"--config.file={config}",
                           "--enable-feature=exemplar-storage", "--log.level=warn"], name="prometheus") as prom:
            harness.wait_http_ok(prom_url + "/-/ready", timeout=60)
            harness.main([
                test_target_is_up,
                test_every_seed_family_is_queryable,
                test_promtool_accepts_the_scraped_text,
                test_exemplar_carries_the_trace_id_of_our_request,
            ])
