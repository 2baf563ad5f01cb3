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
    namespace "telethon"), plus the HTTP families and the service's own counters and histograms of the
    metric table of docs/telemetry.md (the update log's, the webhooks')."""
    families = dict(HTTP_METRICS)
    with open(os.path.join(os.path.dirname(DEPLOY), "docs", "telemetry.md")) as f:
        for name, kind in re.findall(r"^\| `(tgpulse_\w+)` \| (counter|histogram) \|", f.read(), re.M):
            families[name] = kind
    with open(CATALOG_HEADER) as f:
        for line in f:
            m = re.match(r"//\s+<ns>_(\w+)", line)
            if m:
                name = "telethon_" + m.group(1)
                families[name] = "histogram" if name.endswith("_seconds") else "counter"
    if len(families) < 10:
        raise AssertionError(f"could not read the metric catalog from {CATALOG_HEADER}: {families}")
    return families


def service_gauges():
    """Names of the service's own gauges, from the metric table of docs/telemetry.md (a panel may plot
    a gauge raw; a gauge missing from the docs is unknown to the dashboard tests too)."""
    path = os.path.join(os.path.dirname(DEPLOY), "docs", "telemetry.md")
    with open(path) as f:
        names = set(re.findall(r"^\| `(tgpulse_\w+)` \| gauge \|", f.read(), re.M))
    if not names:
        raise AssertionError(f"no gauges found in the metric table of {path}")
    return names


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


# ---- tgpulse's log fields, as the code writes them -------------------------------------------------------

# The ECS core fields every JSON line starts with (src/telemetry/log_line_formatter.h).
LOG_CORE_FIELDS = ["@timestamp", "log.level", "message", "ecs.version", "service.name", "trace.id", "span.id"]


def logged_fields_in_source():
    """{field key: set of source files} for every event field passed to a Logger call in src/ (tests
    excluded): `logger.warn("msg", {{"key", value}, ...})`. A key that collides with a core field is
    written as "fields.<key>" (log_line_formatter.h), and reported so."""
    fields = {}
    src = os.path.join(harness.SOURCE_DIR, "src")
    for root, _, files in os.walk(src):
        for name in files:
            if not name.endswith((".cc", ".h")) or name.endswith("_test.cc"):
                continue
            path = os.path.join(root, name)
            with open(path, errors="replace") as f:
                text = f.read()
            for m in re.finditer(r"(?:\.|->)(info|warn|error|debug|log)\s*\(", text):
                i, depth = m.end(), 1
                while i < len(text) and depth:
                    depth += {"(": 1, ")": -1}.get(text[i], 0)
                    i += 1
                for key in re.findall(r'\{\s*"([A-Za-z_@][\w.@]*)"\s*,', text[m.end():i]):
                    if key in LOG_CORE_FIELDS:
                        key = "fields." + key
                    fields.setdefault(key, set()).add(os.path.relpath(path, harness.SOURCE_DIR))
    return fields


def template_field(mapping, dotted):
    """The mapping of a dotted field path in an index template's mappings (None if unmapped). A path
    below an object mapped with "dynamic": true resolves to that object."""
    props = mapping.get("properties", {})
    parts = dotted.split(".")
    node = None
    for i, part in enumerate(parts):
        node = props.get(part)
        if node is None:
            return None
        if i < len(parts) - 1:
            if "properties" not in node:
                return node if node.get("type") == "object" and node.get("dynamic") is True else None
            props = node["properties"]
    return node


# ---- Logstash configuration syntax -------------------------------------------------------------------

_LS_TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<selector>(?:\[[^\[\]"',\s]+\])+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\\n]|\\.)+/)
  | (?P<arrow>=>)
  | (?P<op>==|!=|<=|>=|=~|!~|<|>|!)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][\w-]*)
  | (?P<punct>[{}\[\](),])
""", re.X)


def _ls_tokens(text):
    pos, out = 0, []
    while pos < len(text):
        m = _LS_TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise ValueError(f"logstash config: unexpected character {text[pos]!r} on line {line}")
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group(0), text.count("\n", 0, pos) + 1))
        pos = m.end()
    return out


class LogstashConfig:
    """A recursive-descent parser for the Logstash pipeline grammar (sections, plugins, attributes with
    strings/numbers/barewords/arrays/hashes/nested codecs, if/else if/else with conditions). Collects
    plugins as (section, name, {option: value}) and the field selectors used in conditions."""

    SECTIONS = ("input", "filter", "output")

    def __init__(self, text):
        self.toks = _ls_tokens(text)
        self.i = 0
        self.plugins = []
        self.condition_selectors = []
        while self.i < len(self.toks):
            kind, word, line = self._next()
            if kind != "word" or word not in self.SECTIONS:
                raise ValueError(f"line {line}: expected input/filter/output, got {word!r}")
            self._expect("{")
            self._block_body(word)

    def _next(self):
        if self.i >= len(self.toks):
            raise ValueError("logstash config: unexpected end (unbalanced braces?)")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def _peek(self):
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def _expect(self, value):
        kind, word, line = self._next()
        if word != value:
            raise ValueError(f"line {line}: expected {value!r}, got {word!r}")

    def _block_body(self, section):
        while self._peek() != "}":
            kind, word, line = self._next()
            if kind != "word":
                raise ValueError(f"line {line}: expected a plugin or if, got {word!r}")
            if word == "if":
                self._branch(section)
            else:
                self.plugins.append((section, word, self._plugin_body()))
        self._next()

    def _branch(self, section):
        self._condition()
        self._block_body(section)
        while self._peek() == "else":
            self._next()
            if self._peek() == "if":
                self._next()
                self._condition()
            else:
                self._expect("{")
            self._block_body(section)

    def _condition(self):
        depth, count = 0, 0
        while True:
            kind, word, line = self._next()
            if word == "{" and depth == 0:
                if count == 0:
                    raise ValueError(f"line {line}: empty condition")
                return
            count += 1
            if word in ("(", "["):
                depth += 1
            elif word in (")", "]"):
                depth -= 1
            elif kind == "selector":
                self.condition_selectors.append(word)
            elif kind == "word" and word not in ("and", "or", "in", "not", "nand", "xor"):
                raise ValueError(f"line {line}: unexpected {word!r} in a condition")

    def _plugin_body(self):
        self._expect("{")
        options = {}
        while self._peek() != "}":
            kind, name, line = self._next()
            if kind not in ("word", "string"):
                raise ValueError(f"line {line}: expected an option name, got {name!r}")
            self._expect("=>")
            options[name] = self._value()
        self._next()
        return options

    def _value(self):
        kind, word, line = self._next()
        if kind == "string":
            return word[1:-1]
        if kind == "number":
            return float(word)
        if kind == "word":
            if self._peek() == "{":  # a nested plugin, e.g. codec => json_lines { ... }
                return {"plugin": word, "options": self._plugin_body()}
            return word
        if kind == "selector":  # ["a"] is lexed as an array; a bare [x] here is an array of a bareword
            return [w.strip("[]") for w in re.findall(r"\[[^\]]+\]", word)]
        if word == "[":
            items = []
            while self._peek() != "]":
                items.append(self._value())
                if self._peek() == ",":
                    self._next()
            self._next()
            return items
        if word == "{":
            entries = {}
            while self._peek() != "}":
                kind, key, line = self._next()
                self._expect("=>")
                entries[key.strip("\"'")] = self._value()
                if self._peek() == ",":
                    self._next()
            self._next()
            return entries
        raise ValueError(f"line {line}: unexpected {word!r} as a value")


# ---- the Elastic Common Schema, as @elastic/ecs defines it ------------------------------------------------

ECS_SCRIPT = os.path.join(harness.NODE_DIR, "ecs_field_types.js")
INDEX_TEMPLATE = os.path.join(DEPLOY, "elk", "elasticsearch", "index-template.json")
TELEMETRY_DOC = os.path.join(harness.SOURCE_DIR, "docs", "telemetry.md")
LOG_FORMATTER_HEADER = os.path.join(harness.SOURCE_DIR, "src", "telemetry", "log_line_formatter.h")
_ecs = {}

# ECS type -> the JSON values a field of that type may carry in a log line.
_ECS_JSON_KINDS = {
    "keyword": str, "constant_keyword": str, "wildcard": str, "text": str, "match_only_text": str, "ip": str,
    "date": str, "long": int, "integer": int, "short": int, "byte": int, "unsigned_long": int,
    "double": (int, float), "float": (int, float), "half_float": (int, float), "scaled_float": (int, float),
    "boolean": bool,
}


def ecs_definitions():
    """{"ecs_version", "package", "fields": {dotted name: {"type", ["object_type"]}}} from @elastic/ecs."""
    if not _ecs:
        if not os.path.isdir(os.path.join(harness.NODE_DIR, "node_modules", "@elastic", "ecs")):
            raise AssertionError("tests/node/node_modules lacks @elastic/ecs (run scripts/install-deps.sh)")
        out = subprocess.run(["node", ECS_SCRIPT], cwd=harness.NODE_DIR, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise AssertionError(f"ecs_field_types.js failed:\n{out.stderr}")
        _ecs.update(json.loads(out.stdout))
    return _ecs


def ecs_type(field, ecs):
    """The type ECS gives a field: its own, or for a key below an ECS object field (labels.*) the object's
    value type; None when the field is not defined by ECS."""
    fields = ecs["fields"]
    if field in fields:
        return fields[field]["type"]
    parts = field.split(".")
    for i in range(len(parts) - 1, 0, -1):
        parent = fields.get(".".join(parts[:i]))
        if parent and parent["type"] in ("object", "flattened"):
            return parent.get("object_type", parent["type"])
    return None


def first_match(path, pattern, what):
    """The first group of `pattern`'s first match in the file at `path`; fails naming `what` if none."""
    with open(path) as f:
        m = re.search(pattern, f.read())
    if not m:
        raise AssertionError(f"{path} has no {what}")
    return m.group(1)


def service_ecs_version():
    return first_match(LOG_FORMATTER_HEADER, r'kEcsVersion\s*=\s*"([^"]+)"', "kEcsVersion")


def template_leaves(mappings):
    """{dotted field: type} for every field an index template's mappings define (objects without
    properties, such as a dynamic `fields` object, are leaves of type "object")."""
    out = {}

    def walk(props, prefix):
        for name, node in props.items():
            if "properties" in node:
                walk(node["properties"], prefix + name + ".")
            else:
                out[prefix + name] = node.get("type", "object")
    walk(mappings.get("properties", {}), "")
    return out


def documented_custom_fields(text=None):
    """{field: type} from the custom-field table of docs/telemetry.md: rows `| `field` | type | ... |` below
    the heading "### Fields outside ECS"."""
    if text is None:
        with open(TELEMETRY_DOC) as f:
            text = f.read()
    m = re.search(r"^### Fields outside ECS\n(.*?)(?=^#)", text + "\n#", re.M | re.S)
    if not m:
        raise AssertionError(f"{TELEMETRY_DOC} has no '### Fields outside ECS' section")
    return dict(re.findall(r"^\| `([^`]+)` \| (\w+) \|", m.group(1), re.M))


def ecs_problems(logged, mappings, custom, ecs):
    """Every disagreement between tgpulse's log fields and ECS:
    - `logged`: the fields tgpulse's code writes (core fields included);
    - `mappings`: the index template's mappings; `custom`: {field: type} documented outside ECS.
    An ECS field must be mapped with exactly the ECS type; a field outside ECS must be documented as a
    custom field, with the type the template gives it; a documented custom field must not be an ECS field."""
    problems = []
    leaves = template_leaves(mappings)
    for field in sorted(set(logged) | set(leaves)):
        want = ecs_type(field, ecs)
        have = leaves.get(field)
        if have is None:
            node = template_field(mappings, field)
            have = node.get("type", "object") if node else None
        if want is not None:
            if field in custom:
                problems.append(f"{field}: documented as a custom field, but ECS defines it ({want})")
            if have is None:
                problems.append(f"{field}: logged, ECS type {want}, not mapped in the index template")
            elif have != want and not (want == "object" and have == "object"):
                problems.append(f"{field}: the index template maps {have}, ECS {ecs['ecs_version']} says {want}")
        else:
            if field not in custom:
                problems.append(f"{field}: not an ECS field and not documented as a custom field in docs/telemetry.md")
            elif field in custom and have is not None and custom[field] != have:
                problems.append(f"{field}: docs/telemetry.md says {custom[field]}, the index template maps {have}")
            if have is None:
                problems.append(f"{field}: logged but not mapped in the index template")
    for field in sorted(set(custom) - set(logged) - set(leaves)):
        problems.append(f"{field}: documented as a custom field but neither logged nor mapped")
    return problems


def ecs_value_problems(lines, ecs, mappings=None):
    """Every log-line value whose JSON kind does not fit the type ECS gives its field (an int for a long,
    a string for a keyword or a date, ...); fields outside ECS are checked against the index template's type
    when `mappings` is given."""
    problems = []
    for line in lines:
        for key, value in line.items():
            want = ecs_type(key, ecs)
            source = f"ECS {ecs['ecs_version']}"
            if want is None and mappings is not None:
                node = template_field(mappings, key)
                want, source = (node.get("type") if node else None), "the index template"
            kinds = _ECS_JSON_KINDS.get(want)
            if kinds is None:
                continue
            ok = isinstance(value, kinds) and not (isinstance(value, bool) and kinds is not bool)
            if not ok:
                problems.append(f"{key}={value!r} in {line.get('message')!r}: {source} types it {want}")
    return problems


# ---- the deployment bundle: install tree, systemd unit, Kubernetes manifests --------------------------------

CONFIGURATION_DOC = os.path.join(DOCS, "configuration.md")
DOCKERFILE = os.path.join(DEPLOY, "docker", "Dockerfile")


def load_yaml_documents(text):
    """Every document of a multi-document YAML text (e.g. `kubectl kustomize` output), as load_yaml does."""
    try:
        import yaml  # type: ignore
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except ImportError:
        pass
    script = "import sys,json,yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)"
    out = subprocess.run([_compose_python(), "-c", script], input=text, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def cmake_install(prefix, destdir=None):
    """`cmake --install BUILD --prefix PREFIX` (with DESTDIR when given); returns its output."""
    env = dict(os.environ)
    env.pop("DESTDIR", None)
    if destdir:
        env["DESTDIR"] = destdir
    r = subprocess.run(["cmake", "--install", harness.BUILD_DIR, "--prefix", prefix], capture_output=True,
                       text=True, env=env, timeout=300)
    if r.returncode != 0:
        raise AssertionError(f"cmake --install --prefix {prefix} failed:\n{r.stdout}{r.stderr}")
    return r.stdout


def serve_help(binary=None):
    """{flag: (key, env or None)} from `tgpulse serve --help`: every flag of the service with the
    configuration key and environment variable its help line names."""
    out = subprocess.run([binary or harness.TGPULSE, "serve", "--help"], capture_output=True, text=True,
                         timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"tgpulse serve --help: exit {out.returncode}\n{out.stderr}")
    flags, current = {}, None
    for line in out.stdout.split("Keys without a flag")[0].splitlines():
        m = re.match(r"\s+(?:-\w,)?(--[a-z0-9-]+)\b", line)
        if m:
            current = m.group(1)
            flags[current] = (None, None)
        names = re.search(r"\[([a-z_.]+), ([A-Z0-9_]+)\]", line)
        if names and current:
            flags[current] = (names.group(1), names.group(2))
    if "--data-dir" not in flags or "--help" not in flags:
        raise AssertionError(f"could not read the flags of tgpulse serve --help:\n{out.stdout}")
    return flags


def serve_env_vars(binary=None):
    """Every TGPULSE_* (and TDSIM_*) variable `tgpulse serve --help` names: flags' and flagless keys'."""
    out = subprocess.run([binary or harness.TGPULSE, "serve", "--help"], capture_output=True, text=True,
                         timeout=30).stdout
    return set(re.findall(r"\b((?:TGPULSE|TDSIM)_[A-Z0-9_]+)\b", out))


def flags_in(args):
    """The flags of a `serve` argument list (["serve", "--listen", "x", ...] -> ["--listen", ...])."""
    return [a.split("=", 1)[0] for a in args if a.startswith("--")]


def flag_value(args, flag):
    """The value of `flag` in an argument list (`--flag value` or `--flag=value`), or None."""
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def documented_default(key):
    """The default of a configuration key, from its row of docs/configuration.md (| key | env | flag |
    default | meaning |), with the backquotes and any explanation after the value removed."""
    with open(CONFIGURATION_DOC) as f:
        text = f.read()
    m = re.search(r"^\| `" + re.escape(key) + r"` \|[^|\n]*\|[^|\n]*\| `([^`]*)`", text, re.M)
    if not m:
        raise AssertionError(f"no row for {key} with a default in {CONFIGURATION_DOC}")
    return m.group(1)


def seconds(duration):
    """A duration of the configuration (`10s`, `1m`, `1h30m`, `500ms`) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise AssertionError(f"not a duration: {duration!r}")
    return sum(float(n) * units[u] for n, u in parts)


# The drain's parts after SIGTERM, in order (docs/architecture.md, "Shutdown"): the HTTP drain and one
# more second for force-closed connections, the session layer (close_timeout + 2 x engine_request_timeout),
# a webhook POST in flight.
DRAIN_KEYS = ["server.shutdown_grace", "sessions.close_timeout", "sessions.engine_request_timeout",
              "sessions.engine_request_timeout", "updates.webhook_timeout"]


def drain_bound(config=None):
    """Seconds the drain may take with `config` (a parsed YAML file; keys it lacks take the documented
    defaults), before the store pool's last calls and the log flush."""
    total = 1.0
    for key in DRAIN_KEYS:
        node = config or {}
        for part in key.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        total += seconds(node if isinstance(node, str) else documented_default(key))
    return total


def dockerfile_uid():
    return int(first_match(DOCKERFILE, r"useradd\b[^\n]*--uid (\d+)", "useradd with a fixed --uid"))



def load_unit(path):
    """A systemd unit file as {section: {key: [values in order]}} (systemd_sandbox.load_unit)."""
    import systemd_sandbox
    return systemd_sandbox.load_unit(path)


def kustomize(directory):
    """{kind: [objects]} of `kubectl kustomize <directory>`; fails on an error or a warning."""
    kubectl = shutil.which("kubectl")
    harness.check(kubectl, "kubectl is missing (Debian's kubernetes-client: run scripts/install-deps.sh)")
    r = subprocess.run([kubectl, "kustomize", directory], capture_output=True, text=True, timeout=120)
    harness.check(r.returncode == 0, f"kubectl kustomize failed:\n{r.stderr}")
    harness.check(not r.stderr.strip(), f"kubectl kustomize warned:\n{r.stderr}")
    by_kind = {}
    for obj in load_yaml_documents(r.stdout):
        by_kind.setdefault(obj["kind"], []).append(obj)
    return by_kind
