"""OTLP conformance: tgpulse's OTLP/HTTP JSON export of a three-level span tree has the same structure as
the official OpenTelemetry JS SDK's export of the same tree (key sets at every level, lowercase hex ids,
nanosecond timestamps as decimal strings, integer enums, attribute value kinds, resource, scope).

tgpulse's side is the gtest src/telemetry/otlp_conformance_emitter_test.cc (it exports only when
OTLP_CONFORMANCE_ENDPOINT is set); the reference is tests/node/otlp_reference.js. Both post to one
capture collector on 127.0.0.1, on different paths.
"""
import copy
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import otlp_util  # noqa: E402

EMITTER = os.path.join(harness.BUILD_DIR, "src", "telemetry", "telemetry_otlp_conformance_emitter_test")
CPP_PATH = "/cpp/v1/traces"
JS_PATH = "/js/v1/traces"
TREE = {"telethon_qr_login": None, "telethon_qr_wait": "telethon_qr_login", "telethon_connect": "telethon_qr_wait"}

_captured = {}


def capture_both():
    """Runs both emitters once against one collector; returns (cpp bodies, js bodies, headers)."""
    if _captured:
        return _captured["cpp"], _captured["js"], _captured["headers"]
    harness.check(os.path.exists(EMITTER), f"{EMITTER} is not built")
    with otlp_util.CaptureCollector() as collector:
        cpp = subprocess.run([EMITTER, "--gtest_filter=OtlpConformanceEmitter.*"],
                             env=dict(os.environ, OTLP_CONFORMANCE_ENDPOINT=collector.url(CPP_PATH)),
                             capture_output=True, text=True, timeout=120)
        harness.check(cpp.returncode == 0, f"emitter failed:\n{cpp.stdout}\n{cpp.stderr}")
        harness.check("SKIPPED" not in cpp.stdout, f"emitter skipped:\n{cpp.stdout}")
        js = subprocess.run(["node", "otlp_reference.js"], cwd=harness.NODE_DIR,
                            env=dict(os.environ, OTLP_CONFORMANCE_ENDPOINT=collector.url(JS_PATH)),
                            capture_output=True, text=True, timeout=120)
        harness.check(js.returncode == 0, f"reference failed:\n{js.stdout}\n{js.stderr}")
        collector.wait_for_spans(CPP_PATH, 3)
        collector.wait_for_spans(JS_PATH, 3)
        _captured.update(cpp=collector.bodies(CPP_PATH), js=collector.bodies(JS_PATH),
                         headers={"cpp": collector.headers(CPP_PATH), "js": collector.headers(JS_PATH)})
    return _captured["cpp"], _captured["js"], _captured["headers"]


def compare(cpp_bodies, js_bodies):
    """Every structural difference between the two exports, plus format problems in either."""
    problems = []
    cpp_spans = otlp_util.spans_by_name(cpp_bodies)
    js_spans = otlp_util.spans_by_name(js_bodies)
    if sorted(cpp_spans) != sorted(js_spans):
        return [f"span names differ: tgpulse {sorted(cpp_spans)} vs reference {sorted(js_spans)}"]
    for who, spans in (("tgpulse", cpp_spans), ("reference", js_spans)):
        try:
            tree = otlp_util.tree_of(spans)
            if tree != TREE:
                problems.append(f"{who}: span tree {tree} != {TREE}")
        except AssertionError as e:
            problems.append(f"{who}: {e}")
    problems += otlp_util.diff(otlp_util.request_shape(cpp_bodies[0], problems),
                               otlp_util.request_shape(js_bodies[0], problems), "$request")
    for name in sorted(cpp_spans):
        cpp_span, cpp_resource, cpp_scope = cpp_spans[name]
        js_span, js_resource, js_scope = js_spans[name]
        problems += otlp_util.diff(otlp_util.span_shape(name, cpp_span, problems),
                                   otlp_util.span_shape(name, js_span, problems), f"${name}")
        problems += otlp_util.diff(cpp_scope, js_scope, f"${name}.scope")
    return problems


def test_export_structure_matches_the_opentelemetry_js_sdk():
    cpp, js, _ = capture_both()
    problems = compare(cpp, js)
    harness.check(not problems, "OTLP structure differs:\n  " + "\n  ".join(problems))


def test_tgpulse_follows_the_otlp_json_mapping_strictly():
    """Beyond the comparison: int64 values are decimal strings (proto3 JSON; the JS SDK sends numbers,
    which receivers also accept), times are sane, both send Content-Type: application/json."""
    cpp, _, headers = capture_both()
    spans = otlp_util.spans_by_name(cpp)
    root = spans["telethon_qr_login"][0]
    attrs = {kv["key"]: kv["value"] for kv in root["attributes"]}
    harness.check(attrs["telethon.floodwait_seconds"] == {"intValue": "30"}, attrs["telethon.floodwait_seconds"])
    harness.check(attrs["telethon.qr.authorized"] == {"boolValue": True}, attrs)
    harness.check(attrs["telethon.qr.wait_ratio"] == {"doubleValue": 0.25}, attrs)
    event = spans["telethon_qr_wait"][0]["events"][0]
    harness.check({kv["key"]: kv["value"] for kv in event["attributes"]}["attempt"] == {"intValue": "2"}, event)
    harness.check(spans["telethon_connect"][0]["status"] == {"code": 2, "message": "FLOOD_WAIT_30"},
                  spans["telethon_connect"][0]["status"])
    harness.check(root["status"] == {"code": 1}, root["status"])
    for name, (span, resource, _) in spans.items():
        start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
        harness.check(0 <= end - start < 60 * 10**9, f"{name}: start {start} end {end}")
        res = {kv["key"]: kv["value"] for kv in resource["attributes"]}
        harness.check(res["service.name"] == {"stringValue": "tgpulse-conformance"}, res)
        harness.check(res["deployment.environment"] == {"stringValue": "conformance"}, res)
    for who in ("cpp", "js"):
        for h in headers[who]:
            harness.check(h.get("content-type", "").startswith("application/json"), f"{who}: {h}")


def test_the_comparison_catches_deviations():
    """The comparison is only worth something if it fails on the mistakes it is meant to catch."""
    cpp, js, _ = capture_both()
    mutations = {
        "base64 trace id": lambda s: s.update(traceId="S/kvNXezTaajzpKdDg5HNg=="),
        "numeric nanos": lambda s: s.update(startTimeUnixNano=int(s["startTimeUnixNano"])),
        "enum as string": lambda s: s.update(kind="SPAN_KIND_SERVER"),
        "missing key": lambda s: s.pop("droppedLinksCount"),
        "extra key": lambda s: s.update(flags=1),
        "attribute kind": lambda s: s["attributes"][0].update(value={"intValue": "1"}),
        "status code as string": lambda s: s.update(status={"code": "STATUS_CODE_OK"}),
    }
    for what, mutate in mutations.items():
        bad = copy.deepcopy(cpp)
        mutate(otlp_util.spans_by_name(bad)["telethon_qr_login"][0])
        harness.check(compare(bad, js), f"the comparison did not notice: {what}")
    bad = copy.deepcopy(cpp)
    bad[0]["resourceSpans"][0]["resource"]["attributes"].pop()
    harness.check(compare(bad, js), "the comparison did not notice a missing resource attribute")


if __name__ == "__main__":
    harness.main([
        test_export_structure_matches_the_opentelemetry_js_sdk,
        test_tgpulse_follows_the_otlp_json_mapping_strictly,
        test_the_comparison_catches_deviations,
    ])
