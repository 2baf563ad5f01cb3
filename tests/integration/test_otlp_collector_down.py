"""Traces and logs of the running service, end to end: `tgpulse serve` exports the server span of every
HTTP request over OTLP/HTTP JSON. With the collector away, requests are answered as usual, the spans are
dropped and `tgpulse_spans_dropped_total` rises; once a collector listens on the configured port, export
resumes by itself and the spans continue the caller's `traceparent`. The JSON log lines of the same
requests carry the same trace id. A bad OTEL_* value stops start-up with an error naming the variable.
"""
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import otlp_util  # noqa: E402

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"


def metric_value(base, name):
    status, _, body = harness.http("GET", base + "/metrics")
    harness.check(status == 200, f"/metrics answered {status}")
    total = 0.0
    for line in body.decode().splitlines():
        m = re.match(rf"^{name}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", line)
        if m:
            total += float(m.group(1))
    return total


def start_service(collector_port, extra_env=None):
    port = harness.free_port()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2000",
        "OTEL_SERVICE_NAME": "tgpulse-e2e",
    }
    env.update(extra_env or {})
    data_dir = tempfile.mkdtemp(prefix="tgpulse-otlp-")
    proc = harness.Proc([harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
                        env=env, name="tgpulse")
    return proc, f"http://127.0.0.1:{port}"


def test_collector_down_then_back():
    collector_port = harness.free_port()  # nobody listens here yet
    proc, base = start_service(collector_port)
    with proc:
        harness.wait_http_ok(base + "/healthz")
        # Collector away: every request is still answered, and continues the caller's trace.
        for i in range(20):
            parent = f"00-{TRACE_ID}-{i + 1:016x}-01"
            t0 = time.monotonic()
            status, headers, _ = harness.http("GET", base + "/healthz", headers={"traceparent": parent})
            harness.check(status == 200, f"/healthz answered {status} while the collector was down")
            harness.check(time.monotonic() - t0 < 5, "a request waited on the exporter")
            harness.check(headers.get("traceparent", "").startswith(f"00-{TRACE_ID}-"), headers)
        harness.wait_until(lambda: metric_value(base, "tgpulse_spans_dropped_total") >= 20, timeout=30,
                           what="tgpulse_spans_dropped_total >= 20")

        # The collector comes up on the configured port: export resumes without a restart.
        with otlp_util.CaptureCollector(collector_port) as collector:
            parent = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"

            def exported_child():
                harness.http("GET", base + "/healthz", headers={"traceparent": parent})
                for name, (span, resource, _) in otlp_util.spans_by_name(collector.bodies("/v1/traces")).items():
                    if span["traceId"] == TRACE_ID and span.get("parentSpanId") == PARENT_SPAN_ID:
                        return span, resource
                return None

            span, resource = harness.wait_until(exported_child, timeout=30, interval=0.3,
                                                what="the request's span at the collector")
            res = {kv["key"]: kv["value"] for kv in resource["attributes"]}
            harness.check(res.get("service.name") == {"stringValue": "tgpulse-e2e"}, res)
            harness.check(span["kind"] == 2, f"server span kind expected, got {span['kind']}")
            harness.wait_until(lambda: metric_value(base, "tgpulse_spans_exported_total") >= 1, timeout=30,
                               what="tgpulse_spans_exported_total >= 1")
            for h in collector.headers("/v1/traces"):
                harness.check(h.get("content-type") == "application/json", h)
        code = proc.stop()
        harness.check(code == 0, f"tgpulse exited with {code}: {proc.stderr()[-2000:]}")

    # Logs of the same requests: ECS JSON lines carrying the caller's trace id.
    lines = proc.json_lines()
    harness.check(lines, "no log lines on stdout")
    for line in lines:
        for key in ("@timestamp", "log.level", "message", "ecs.version", "service.name"):
            harness.check(key in line, f"log line without {key}: {json.dumps(line)}")
    traced = [line for line in lines if line.get("trace.id") == TRACE_ID]
    harness.check(len(traced) >= 20, f"{len(traced)} log lines carry the requests' trace id, expected >= 20")
    harness.check(all(re.fullmatch(r"[0-9a-f]{16}", line["span.id"]) for line in traced), traced[:3])


def test_bad_otel_value_stops_start_up_naming_the_variable():
    proc, _ = start_service(harness.free_port(), {"OTEL_TRACES_SAMPLER": "sometimes"})
    with proc:
        harness.wait_until(lambda: not proc.alive(), timeout=30, what="tgpulse to refuse to start")
        harness.check(proc.p.returncode != 0, "tgpulse started with OTEL_TRACES_SAMPLER=sometimes")
        harness.check("OTEL_TRACES_SAMPLER" in proc.stderr() + proc.stdout(),
                      f"the error does not name the variable: {proc.stderr()[-1000:]}")


if __name__ == "__main__":
    harness.main([test_collector_down_then_back, test_bad_otel_value_stops_start_up_naming_the_variable])
