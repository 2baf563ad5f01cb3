"""Helpers for the operations-bundle tests (tests/integration/test_deploy_*.py): where the bundle lives,
YAML loading, the metric catalog, PromQL name extraction, and real Prometheus / Alertmanager processes
on 127.0.0.1.

Stdlib only. YAML is read with PyYAML when the interpreter has it, otherwise through the interpreter
that runs Debian's docker-compose (which depends on python3-yaml), so no extra package is needed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEPLOY = os.path.join(harness.SOURCE_DIR, "deploy")
RULES_DIR = os.path.join(DEPLOY, "prometheus", "rules")
RULE_FILES = sorted(os.path.join(RULES_DIR, f) for f in os.listdir(RULES_DIR) if f.endswith(".yml"))
RULE_TESTS_DIR = os.path.join(harness.SOURCE_DIR, "tests", "deploy")
DASHBOARD_DIR = os.path.join(DEPLOY, "grafana", "dashboards")
DOCS = os.path.join(harness.SOURCE_DIR, "docs")
CATALOG_HEADER = os.path.join(harness.SOURCE_DIR, "src", "telemetry", "telethon_metrics.h")

# HTTP metrics of the service (issue 2), not part of the seed catalog header.
HTTP_METRICS = {"tgpulse_http_requests_total": "counter", "tgpulse_http_request_duration_seconds": "histogram"}


def load_yaml(path):
    try:
        import yaml  # type: ignore
        with open(path) as f:
            return yaml.safe_load(f)
    except ImportError:
        pass
    script = "import sys,json,yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)"
    out = subprocess.run([_compose_python(), "-c", script, path], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def _compose_python():
    compose = shutil.which("docker-compose")
    if compose:
        with open(compose, "rb") as f:
            first = f.readline().decode(errors="replace").strip()
        if first.startswith("#!") and "python" in first:
            return first[2:].split()[0]
    return "/usr/bin/python3"


def catalog_metrics():
    """{family name: "counter"|"histogram"} from the catalog comment in telethon_metrics.h (default
    namespace "telethon") plus the HTTP families."""
    families = dict(HTTP_METRICS)
    with open(CATALOG_HEADER) as f:
        for line in f:
            m = re.match(r"//\s+<ns>_(\w+)", line)
            if m:
                name = "telethon_" + m.group(1)
                families[name] = "histogram" if name.endswith("_seconds") else "counter"
    if len(families) < 10:
        raise AssertionError(f"could not read the metric catalog from {CATALOG_HEADER}: {families}")
    return families


def series_names(families):
    """Every series name a scrape of these families can contain (histograms: _bucket/_count/_sum)."""
    names = set()
    for fam, kind in families.items():
        if kind == "histogram":
            names.update(fam + suffix for suffix in ("_bucket", "_count", "_sum"))
        else:
            names.add(fam)
    return names


def rule_groups():
    groups = []
    for path in RULE_FILES:
        for g in load_yaml(path)["groups"]:
            groups.append((os.path.basename(path), g))
    return groups


def alert_rules():
    return [r for _, g in rule_groups() for r in g["rules"] if "alert" in r]


def recording_rules():
    return [r for _, g in rule_groups() for r in g["rules"] if "record" in r]


PROMQL_KEYWORDS = {
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "group", "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
    "offset", "inf", "nan",
}


def strip_promql(expr):
    """The expression with string literals, label matchers, ranges and grouping clauses blanked out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    return re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)


def metric_names_in(expr):
    """Metric names a PromQL expression selects: identifiers that are not functions, keywords, labels of
    grouping clauses or parts of number literals."""
    text = strip_promql(expr)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = m.group(0)
        if text[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if word.lower() in PROMQL_KEYWORDS:
            continue
        if m.start() > 0 and (text[m.start() - 1].isdigit() or text[m.start() - 1] == "."):
            continue  # the exponent or unit of a number literal
        names.add(word)
    return names


def promtool(*args, cwd=None):
    return subprocess.run(["promtool", *args], capture_output=True, text=True, cwd=cwd)


def write_prometheus_config(directory, scrape_targets=(), alertmanager=None, rule_files=None,
                            scrape_interval="15s", evaluation_interval="15s", job="tgpulse"):
    """A loopback Prometheus config using the shipped rule files (absolute paths); returns its path."""
    rule_files = RULE_FILES if rule_files is None else rule_files
    lines = ["global:", f"  scrape_interval: {scrape_interval}", f"  evaluation_interval: {evaluation_interval}"]
    lines += ["rule_files:"] + [f"  - {json.dumps(p)}" for p in rule_files] if rule_files else ["rule_files: []"]
    if alertmanager:
        lines += ["alerting:", "  alertmanagers:", "    - static_configs:",
                  f"        - targets: [{json.dumps(alertmanager)}]"]
    if scrape_targets:
        lines += ["scrape_configs:", f"  - job_name: {job}", "    static_configs:",
                  f"      - targets: {json.dumps(list(scrape_targets))}"]
    else:
        lines += ["scrape_configs: []"]
    path = os.path.join(directory, "prometheus.yml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _start_ready(name, args, url):
    proc = harness.Proc(args, name=name)
    try:
        harness.wait_http_ok(url + "/-/ready", timeout=60)
    except AssertionError:
        proc.stop()
        raise AssertionError(f"{name} did not become ready:\n" + proc.stderr()[-3000:])
    return proc, url


def start_prometheus(config_path, extra=()):
    """A real Prometheus on 127.0.0.1:<free port>; returns (Proc, base_url). Stop it with Proc.stop()."""
    port = harness.free_port()
    tsdb = tempfile.mkdtemp(prefix="tgpulse-prom-tsdb-")
    return _start_ready("prometheus", ["prometheus", f"--config.file={config_path}",
                                       f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={tsdb}",
                                       *extra], f"http://127.0.0.1:{port}")


def alertmanager_binary():
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def start_alertmanager(config_path):
    """A real Alertmanager on 127.0.0.1:<free port> (cluster port too); returns (Proc, base_url)."""
    port = harness.free_port()
    storage = tempfile.mkdtemp(prefix="tgpulse-am-")
    return _start_ready("alertmanager", [alertmanager_binary(), f"--config.file={config_path}",
                                         f"--web.listen-address=127.0.0.1:{port}", f"--storage.path={storage}",
                                         f"--cluster.listen-address=127.0.0.1:{harness.free_port()}"],
                        f"http://127.0.0.1:{port}")


def prom_query(base_url, expr):
    """Instant query; returns (http_status, json_doc)."""
    status, _, doc = harness.http_json("GET", base_url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    return status, doc
