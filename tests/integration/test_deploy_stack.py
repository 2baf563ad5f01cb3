"""Operations bundle: the Elastic stack files (index template, ILM policy, Logstash pipeline, Filebeat,
Kibana saved objects), the OpenTelemetry Collector config and the containers (Dockerfile, compose file).
None of Elasticsearch, Logstash, Kibana, the Collector or Docker runs here: each file is checked as far
as a real tool (docker-compose config, sh -n, JSON/YAML parsers) or a structural parser can tell, and
against what tgpulse's code logs."""
import glob
import json
import os
import re
import subprocess

import deploy_util as du
import harness
from harness import check

ELK = os.path.join(du.DEPLOY, "elk")
TEMPLATE = os.path.join(ELK, "elasticsearch", "index-template.json")
ILM = os.path.join(ELK, "elasticsearch", "ilm-policy.json")
PIPELINE = os.path.join(ELK, "logstash", "pipeline", "tgpulse.conf")
KIBANA = os.path.join(ELK, "kibana", "saved-objects.ndjson")
COMPOSE = os.path.join(du.DEPLOY, "docker", "docker-compose.yml")
DOCKERFILE = os.path.join(du.DEPLOY, "docker", "Dockerfile")

NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
TEXT = {"text", "match_only_text"}
# Fields whose type the spec or ECS fixes (seed log events; ECS http/event fields).
EXPECTED_KIND = {
    "@timestamp": {"date", "date_nanos"}, "message": TEXT, "error.message": TEXT,
    "seconds": NUMERIC, "delay": NUMERIC, "duration": NUMERIC,
    "http.response.status_code": NUMERIC, "event.duration": NUMERIC,
    "tenant_id": {"keyword"}, "session_id": {"keyword"}, "operation": {"keyword"}, "status": {"keyword"},
    "trace.id": {"keyword"}, "span.id": {"keyword"}, "log.level": {"keyword"},
}
LOGSTASH_PLUGINS = {
    "input": {"beats": {"port", "host", "tags", "codec", "id", "type", "add_field", "ssl_enabled", "ecs_compatibility"},
              "tcp": {"port", "host", "mode", "codec", "tags", "id", "type", "add_field", "ecs_compatibility"}},
    "filter": {"json": {"source", "target", "skip_on_invalid_json", "tag_on_failure", "add_field", "add_tag",
                        "remove_field", "id", "ecs_compatibility"},
               "mutate": {"add_field", "add_tag", "remove_field", "remove_tag", "gsub", "rename", "replace", "convert",
                          "lowercase", "uppercase", "copy", "merge", "strip", "split", "update", "coerce", "id"},
               "date": {"match", "target", "timezone", "locale", "tag_on_failure", "id"}},
    "output": {"elasticsearch": {"hosts", "data_stream", "data_stream_type", "data_stream_dataset",
                                 "data_stream_namespace", "data_stream_sync_fields", "data_stream_auto_routing",
                                 "user", "password", "api_key", "ssl_enabled", "ssl_certificate_authorities", "id"},
               "stdout": {"codec", "id"}},
}
LOGSTASH_CODECS = {"json_lines", "json", "plain", "line", "rubydebug"}


def load_json(path):
    with open(path) as f:
        return json.load(f)


def mappings():
    return load_json(TEMPLATE)["template"]["mappings"]


def kibana_objects():
    with open(KIBANA) as f:
        return [json.loads(line) for line in f if line.strip()]


def check_mapped(field, where):
    node = du.template_field(mappings(), field)
    check(node is not None, f"{field} ({where}) is not mapped in {os.path.relpath(TEMPLATE, du.DEPLOY)}")
    kind = node.get("type", "object" if "properties" in node else None)
    check(kind, f"{field}: mapping without a type: {node}")
    if field in EXPECTED_KIND:
        check(kind in EXPECTED_KIND[field], f"{field} mapped as {kind}, expected one of {sorted(EXPECTED_KIND[field])}")
    return kind


def test_every_json_file_in_the_bundle_is_valid():
    files = glob.glob(os.path.join(du.DEPLOY, "**", "*.json"), recursive=True)
    check(len(files) >= 3, f"json files: {files}")
    for path in files:
        load_json(path)
    check(len(kibana_objects()) >= 5, "kibana saved objects")


def test_index_template_is_a_data_stream_template_with_the_ilm_policy():
    t = load_json(TEMPLATE)
    check(t["index_patterns"] == ["logs-tgpulse-*"] and "data_stream" in t, f"template: {t['index_patterns']}")
    check(t["priority"] > 100, "priority must beat the built-in logs-*-* template (100)")
    policy_name = t["template"]["settings"]["index.lifecycle.name"]
    with open(os.path.join(ELK, "setup.sh")) as f:
        setup = f.read()
    check(f"_ilm/policy/{policy_name}" in setup, f"setup.sh does not install the ILM policy {policy_name}")
    phases = load_json(ILM)["policy"]["phases"]
    check("rollover" in phases["hot"]["actions"] and "delete" in phases["delete"]["actions"], f"ILM phases {phases}")
    for ds in ("type", "dataset", "namespace"):
        check(du.template_field(mappings(), f"data_stream.{ds}")["type"] == "constant_keyword", f"data_stream.{ds}")


def test_every_field_tgpulse_logs_is_mapped_with_a_suitable_type():
    fields = du.logged_fields_in_source()
    for required in ("seconds", "delay", "tenant_id", "operation", "duration", "status", "session_id", "trigger",
                     "http.request.method", "url.path", "http.response.status_code", "event.duration", "http.request.id"):
        check(required in fields, f"the code no longer logs {required}? found {sorted(fields)}")
    for field in du.LOG_CORE_FIELDS:
        check_mapped(field, "ECS core field")
    for field, files in sorted(fields.items()):
        check_mapped(field, "logged by " + ", ".join(sorted(files)))


def test_logstash_pipeline_parses_and_uses_known_plugins_and_options():
    with open(PIPELINE) as f:
        conf = du.LogstashConfig(f.read())
    sections = {s for s, _, _ in conf.plugins}
    check(sections == {"input", "filter", "output"}, f"sections {sections}")
    for section, name, options in conf.plugins:
        known = LOGSTASH_PLUGINS[section]
        check(name in known, f"unknown {section} plugin {name!r}")
        unknown = set(options) - known[name]
        check(not unknown, f"{section} {name}: unknown options {unknown}")
        codec = options.get("codec")
        if codec is not None:
            check((codec if isinstance(codec, str) else codec["plugin"]) in LOGSTASH_CODECS, f"codec {codec}")
    inputs = {name: opts for s, name, opts in conf.plugins if s == "input"}
    check("beats" in inputs and "tcp" in inputs, f"inputs {sorted(inputs)}")
    es = [opts for s, name, opts in conf.plugins if s == "output" and name == "elasticsearch"]
    check(es and es[0]["data_stream"] == "true" and es[0]["data_stream_dataset"] == "tgpulse", f"output {es}")
    check(f"logs-{es[0]['data_stream_dataset']}-*" in load_json(TEMPLATE)["index_patterns"],
          "the data stream the pipeline writes is not covered by the template")


def test_fields_the_pipeline_reads_and_adds_are_mapped():
    with open(PIPELINE) as f:
        conf = du.LogstashConfig(f.read())
    added = [k for _, _, opts in conf.plugins for k in (opts.get("add_field") or {})]
    check("[tgpulse][floodwait][severity]" in added and "[labels][environment]" in added, f"enrichment: {added}")
    for selector in added + conf.condition_selectors:
        parts = re.findall(r"\[([^\]]+)\]", selector)
        check_mapped(".".join(parts), f"pipeline selector {selector}")


def test_filebeat_ships_to_the_pipelines_beats_port():
    fb = du.load_yaml(os.path.join(ELK, "filebeat", "filebeat.yml"))
    with open(PIPELINE) as f:
        conf = du.LogstashConfig(f.read())
    port = int(next(o["port"] for s, n, o in conf.plugins if s == "input" and n == "beats"))
    check(fb["output.logstash"]["hosts"] == [f"logstash:{port}"], f"filebeat output {fb['output.logstash']}")


def test_kibana_saved_objects_reference_each_other_and_mapped_fields():
    objects = kibana_objects()
    by_key = {(o["type"], o["id"]): o for o in objects}
    check(len(by_key) == len(objects), "duplicate saved object ids")
    views = [o for o in objects if o["type"] == "index-pattern"]
    check(len(views) == 1 and views[0]["attributes"]["title"] == "logs-tgpulse-*"
          and views[0]["attributes"]["timeFieldName"] == "@timestamp", f"data view {views}")
    searches = [o for o in objects if o["type"] == "search"]
    queries = set()
    for o in objects:
        for ref in o.get("references", []):
            check((ref["type"], ref["id"]) in by_key, f"{o['type']} {o['id']}: dangling reference {ref}")
        source = json.loads(o["attributes"].get("kibanaSavedObjectMeta", {}).get("searchSourceJSON", "{}"))
        if "indexRefName" in source:
            check(any(r["name"] == source["indexRefName"] for r in o["references"]), f"{o['id']}: indexRefName")
        query = source.get("query", {}).get("query", "")
        for field in re.findall(r"([\w.@]+)\s*:", query):
            check_mapped(field, f"query of {o['id']}")
        queries.add(query)
        for column in o["attributes"].get("columns", []):
            check_mapped(column, f"column of {o['id']}")
        if o["type"] == "dashboard":
            panels = json.loads(o["attributes"]["panelsJSON"])
            names = {r["name"].split(":", 1)[-1] for r in o["references"]}
            check(panels and all(p["panelRefName"] in names for p in panels), f"dashboard panel refs {panels}")
    for event in ("FloodWait detected", "Session cleanup completed", "QR session timeout"):
        check(any(f'"{event}"' in q for q in queries), f"no saved search for {event!r}")
    check(len(searches) >= 3, "saved searches")


def test_otel_collector_pipelines_use_defined_components():
    base = du.load_yaml(os.path.join(du.DEPLOY, "otel", "otel-collector.yaml"))
    overlay = du.load_yaml(os.path.join(du.DEPLOY, "otel", "otel-collector.elastic-apm.yaml"))
    for cfg, extra in ((base, {}), (overlay, base)):
        for name, pipeline in cfg["service"]["pipelines"].items():
            check(name.split("/")[0] == "traces", f"pipeline {name}")
            for kind in ("receivers", "processors", "exporters"):
                defined = set(cfg.get(kind, {})) | set(extra.get(kind, {}))
                missing = set(pipeline.get(kind, [])) - defined
                check(not missing, f"pipeline {name}: undefined {kind} {missing}")
    check(base["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318"), "OTLP/HTTP on 4318")
    check(any(e.startswith("otlp/jaeger") for e in base["service"]["pipelines"]["traces"]["exporters"]), "to Jaeger")
    for kind in ("receivers", "processors", "exporters", "extensions"):
        unused = set(base.get(kind, {})) - {c for p in base["service"]["pipelines"].values() for c in p.get(kind, [])} \
            - set(base["service"].get("extensions", []))
        check(not unused, f"{kind} defined but unused in the base config: {unused}")


NODES = ("tgpulse-1", "tgpulse-2", "tgpulse-3")


def test_compose_file_passes_docker_compose_config():
    env = dict(os.environ, TGPULSE_ADMIN_TOKEN="compose-config-check", TGPULSE_DB_PASSWORD="compose-config-check")
    r = subprocess.run(["docker-compose", "-f", COMPOSE, "config"], capture_output=True, text=True, env=env)
    check(r.returncode == 0, f"docker-compose config:\n{r.stdout}{r.stderr}")
    # Both secrets come from the environment (or an .env file), never from the compose file.
    for secret in ("TGPULSE_ADMIN_TOKEN", "TGPULSE_DB_PASSWORD"):
        without = {k: v for k, v in env.items() if k != secret}
        r = subprocess.run(["docker-compose", "-f", COMPOSE, "config", "-q"], capture_output=True, text=True, env=without)
        check(r.returncode != 0 and secret in r.stderr, f"compose must refuse to start without {secret}")


def test_compose_runs_every_part_and_mounts_files_that_exist():
    compose = du.load_yaml(COMPOSE)
    services = compose["services"]
    for name in (*NODES, "lb", "postgres", "redis", "loadgen", "prometheus", "alertmanager", "grafana",
                 "elasticsearch", "logstash", "kibana", "filebeat", "otel-collector", "jaeger"):
        check(name in services, f"compose service {name} missing")
    here = os.path.dirname(COMPOSE)
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            if source.startswith("."):
                check(os.path.exists(os.path.join(here, source)), f"{name}: mounts missing {source}")
        for port in svc.get("ports", []):
            check(str(port).startswith("127.0.0.1:"), f"{name}: port {port} not bound to 127.0.0.1")
    prom = services["prometheus"]["command"]
    check("--enable-feature=exemplar-storage" in prom, "prometheus without exemplar storage")
    # Prometheus scrapes the admin listener of every node, and each node's is published on the host.
    targets = [t for job in du.load_yaml(os.path.join(du.DEPLOY, "prometheus", "prometheus.yml"))["scrape_configs"]
               for sc in job["static_configs"] for t in sc["targets"]]
    published = set()
    for node in NODES:
        cmd = services[node]["command"]
        check("--admin-listen" in cmd, f"{node} in compose has no admin listener")
        admin_port = cmd[cmd.index("--admin-listen") + 1].rsplit(":", 1)[1]
        check(f"{node}:{admin_port}" in targets, f"prometheus.yml does not scrape {node}'s admin listener")
        ports = [str(p) for p in services[node].get("ports", [])]
        check(any(p.startswith("127.0.0.1:") and p.endswith(f":{admin_port}") for p in ports),
              f"compose does not publish {node}'s admin port {admin_port}: {ports}")
        published.update(p.split(":")[1] for p in ports)
        check("--td-library" in cmd and any(c.endswith("libtdsim.so") for c in cmd), f"{node} in compose runs on tdsim")
    check(len(published) == len(NODES), f"the nodes' published ports collide: {sorted(published)}")


def test_compose_cluster_nodes_share_the_data_volume_and_the_stores_with_distinct_ids():
    compose = du.load_yaml(COMPOSE)
    services = compose["services"]
    ids, data = set(), set()
    for node in NODES:
        svc = services[node]
        env = svc["environment"]
        cmd = svc["command"]
        data_dir = cmd[cmd.index("--data-dir") + 1]
        mounts = [v for v in svc["volumes"] if v.split(":")[1] == data_dir]
        check(len(mounts) == 1, f"{node}: no volume at its data dir {data_dir}: {svc['volumes']}")
        source = mounts[0].split(":")[0]
        check(source in (compose.get("volumes") or {}), f"{node}: {source} is not a named volume")
        data.add(source)
        ids.add(env["TGPULSE_CLUSTER_NODE_ID"])
        check(env["TGPULSE_CLUSTER_ADVERTISE_URL"] == f"http://{node}:8080",
              f"{node}: advertise URL {env['TGPULSE_CLUSTER_ADVERTISE_URL']}")
        check(env["TGPULSE_STORE_URL"].startswith("postgresql://") and "@postgres:" in env["TGPULSE_STORE_URL"],
              f"{node}: store URL {env['TGPULSE_STORE_URL']}")
        check(":" not in env["TGPULSE_STORE_URL"].split("//", 1)[1].split("@", 1)[0],
              f"{node}: a password in the store URL")
        check(env["TGPULSE_STORE_PASSWORD"] == "${TGPULSE_DB_PASSWORD:?set TGPULSE_DB_PASSWORD}",
              f"{node}: the store password does not come from the environment")
        check(env["TGPULSE_QUOTA_REDIS_URL"].startswith("redis://redis:"), f"{node}: quota.redis_url")
        check({"postgres", "redis"} <= set(svc["depends_on"]), f"{node}: depends_on {svc['depends_on']}")
    check(len(ids) == len(NODES), f"node ids are not distinct: {sorted(ids)}")
    check(len(data) == 1, f"the nodes do not share one data volume: {sorted(data)}")
    check(services["postgres"]["image"].startswith("postgres:15"), f"postgres image {services['postgres']['image']}")
    check(services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${TGPULSE_DB_PASSWORD:?set TGPULSE_DB_PASSWORD}",
          "the database password is not taken from the environment")
    check(services["redis"]["image"].startswith("redis:"), "redis")
    # The load balancer sends to every node, and is the only way in for the API.
    with open(os.path.join(os.path.dirname(COMPOSE), "nginx.conf")) as f:
        nginx = f.read()
    for node in NODES:
        check(re.search(rf"^\s*server {node}:8080\b", nginx, re.M), f"nginx.conf does not balance to {node}")
    check(re.search(r"^\s*proxy_buffering off;", nginx, re.M), "nginx buffers event streams")
    check(any(str(p) == "127.0.0.1:8080:8080" for p in services["lb"]["ports"]), "lb does not publish the API")


def test_dockerfile_is_multi_stage_on_bookworm_and_fetches_the_pinned_tdlib():
    with open(DOCKERFILE) as f:
        text = f.read()
    check(re.search(r"^ARG DEBIAN_IMAGE=debian:bookworm$", text, re.M), "base image is not debian:bookworm")
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, re.M)
    check(len(stages) >= 2, f"stages {stages}")
    check(re.search(r"^COPY --from=build ", text, re.M), "runtime stage copies nothing from the build stage")
    with open(os.path.join(harness.SOURCE_DIR, "scripts", "install-deps.sh")) as f:
        pinned = re.search(r'TDLIB_NPM_PACKAGE="([^"]+)"', f.read()).group(1)
    check(f"TDLIB_NPM_PACKAGE={pinned}" in text, f"Dockerfile does not fetch the TDLib the tests use ({pinned})")
    check("USER tgpulse" in text, "runs as root")


def test_setup_script_is_valid_shell():
    r = subprocess.run(["sh", "-n", os.path.join(ELK, "setup.sh")], capture_output=True, text=True)
    check(r.returncode == 0, r.stderr)


if __name__ == "__main__":
    harness.main([
        test_every_json_file_in_the_bundle_is_valid,
        test_index_template_is_a_data_stream_template_with_the_ilm_policy,
        test_every_field_tgpulse_logs_is_mapped_with_a_suitable_type,
        test_logstash_pipeline_parses_and_uses_known_plugins_and_options,
        test_fields_the_pipeline_reads_and_adds_are_mapped,
        test_filebeat_ships_to_the_pipelines_beats_port,
        test_kibana_saved_objects_reference_each_other_and_mapped_fields,
        test_otel_collector_pipelines_use_defined_components,
        test_compose_file_passes_docker_compose_config,
        test_compose_runs_every_part_and_mounts_files_that_exist,
        test_compose_cluster_nodes_share_the_data_volume_and_the_stores_with_distinct_ids,
        test_dockerfile_is_multi_stage_on_bookworm_and_fetches_the_pinned_tdlib,
        test_setup_script_is_valid_shell,
    ])
