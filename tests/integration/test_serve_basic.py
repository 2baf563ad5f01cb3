"""`tgpulse serve` over real sockets: liveness and readiness, request ids, W3C traceparent, JSON error
bodies for unknown paths, wrong methods and malformed requests (sent raw), HTTP metrics and the access
log, graceful shutdown on SIGTERM within the grace bound, and bad configuration refused with exit 2 and
a message naming the key."""
import os
import re
import signal
import socket
import tempfile
import time

import harness
from harness import check
from serve_util import Service, json_error, parse_response, raw_request, run_serve_expecting_failure

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
HEX32 = re.compile(r"^[0-9a-f]{32}$")

svc = None


def test_healthz_and_readyz():
    status, headers, doc = harness.http_json("GET", svc.url + "/healthz")
    check(status == 200 and doc == {"status": "ok"}, f"/healthz: {status} {doc}")
    check(headers["content-type"] == "application/json", headers)
    status, _, doc = harness.http_json("GET", svc.url + "/readyz")
    check(status == 200 and doc["status"] == "ready", f"/readyz: {status} {doc}")
    check(doc["checks"]["shutdown"] == {"ok": True}, doc)


def test_request_id_is_echoed_or_generated():
    _, headers, _ = harness.http("GET", svc.url + "/healthz", headers={"X-Request-Id": "order-42.retry:1"})
    check(headers["x-request-id"] == "order-42.retry:1", headers)
    _, headers, _ = harness.http("GET", svc.url + "/healthz", headers={"X-Request-Id": "bad id <script>"})
    check(HEX32.match(headers["x-request-id"]), f"unsafe id not replaced: {headers}")
    ids = {harness.http("GET", svc.url + "/healthz")[1]["x-request-id"] for _ in range(5)}
    check(len(ids) == 5 and all(HEX32.match(i) for i in ids), ids)


def test_traceparent_continues_the_callers_trace():
    tp = f"00-{TRACE_ID}-{PARENT_SPAN}-01"
    _, headers, _ = harness.http("GET", svc.url + "/healthz", headers={"traceparent": tp, "X-Request-Id": "tp-check"})
    m = re.match(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$", headers.get("traceparent", ""))
    check(m, f"no traceparent in response: {headers}")
    check(m.group(1) == TRACE_ID, f"trace id not continued: {headers['traceparent']}")
    check(m.group(2) != PARENT_SPAN, "the server span must be a new child span")
    # A malformed traceparent starts a new trace instead of failing the request.
    status, headers, _ = harness.http("GET", svc.url + "/healthz", headers={"traceparent": "00-zz-yy-01"})
    check(status == 200 and TRACE_ID not in headers["traceparent"], headers)
    line = harness.wait_until(lambda: next((l for l in svc.log_lines() if l.get("http.request.id") == "tp-check"), None),
                              timeout=10, what="access log line")
    check(line["trace.id"] == TRACE_ID, f"access log not in the caller's trace: {line}")


def test_unknown_path_and_wrong_method_are_json_errors():
    status, headers, body = harness.http("GET", svc.url + "/no/such/thing")
    check(status == 404 and json_error(body)["code"] == "not_found", (status, body))
    check(headers["content-type"] == "application/json" and "x-request-id" in headers, headers)
    status, headers, body = harness.http("DELETE", svc.url + "/metrics")
    check(status == 405 and json_error(body)["code"] == "method_not_allowed", (status, body))
    check(headers.get("allow") == "GET, HEAD", f"Allow header: {headers}")
    status, headers, body = harness.http("HEAD", svc.url + "/healthz")
    check(status == 200 and body == b"" and int(headers["content-length"]) > 0, (status, headers, body))


def test_body_over_the_limit_is_413():
    # Refused from the Content-Length alone, before the body is read.
    status, _, body = raw_request(svc.port, b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n")
    check(status == 413, f"{status} {body}")
    err = json_error(body)
    check(err["code"] == "payload_too_large" and "1048576" in err["message"], err)
    # A chunked body that grows past the limit.
    chunk = b"x" * 65536
    data = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    data += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 20
    status, _, body = raw_request(svc.port, data)
    check(status == 413 and json_error(body)["code"] == "payload_too_large", f"{status} {body[:200]}")


def test_headers_over_the_limit_are_431():
    big = b"X-Filler: " + b"a" * 8000 + b"\r\n"
    status, _, body = raw_request(svc.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + big * 3 + b"\r\n")
    check(status == 431, f"{status} {body}")
    check(json_error(body)["code"] == "request_header_fields_too_large", body)


def test_malformed_requests_are_400_with_json():
    cases = {
        "bad request line": b"THIS IS NOT HTTP\r\n\r\n",
        "bad version": b"GET /healthz HTTP/9\r\nHost: x\r\n\r\n",
        "bad header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header Name: y\r\n\r\n",
        "bad content-length": b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
        "two content-lengths": b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "bad chunk": b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    }
    for what, data in cases.items():
        status, headers, body = raw_request(svc.port, data)
        check(status == 400, f"{what}: {status} {body}")
        err = json_error(body)
        check(err["code"] == "bad_request", f"{what}: {err}")
        check(headers.get("connection", "").lower() == "close", f"{what}: connection kept: {headers}")
    status, _, body = harness.http("GET", svc.url + "/healthz?x=%zz")
    check(status == 400 and json_error(body)["message"] == "malformed query string", body)


def test_http_metrics_by_route_pattern_and_access_log():
    harness.http("GET", svc.url + "/healthz", headers={"X-Request-Id": "metrics-check"})
    harness.http("GET", svc.url + "/definitely/unknown/42")
    _, _, text = harness.http("GET", svc.url + "/metrics")
    text = text.decode()
    m = re.search(r'^tgpulse_http_requests_total\{route="/healthz",code="200"\} (\d+)', text, re.M)
    check(m and int(m.group(1)) >= 1, "no healthz counter")
    check(re.search(r'^tgpulse_http_requests_total\{route="unmatched",code="404"\} ', text, re.M), "no unmatched 404")
    check(re.search(r'^tgpulse_http_requests_total\{route="unmatched",code="400"\} ', text, re.M), "no 400 counter")
    check("/definitely/unknown/42" not in text, "raw path leaked into a label")
    check(re.search(r'^tgpulse_http_request_duration_seconds_count\{route="/healthz"\} ', text, re.M), "no histogram")
    line = harness.wait_until(
        lambda: next((l for l in svc.log_lines() if l.get("http.request.id") == "metrics-check"), None),
        timeout=10, what="access log line")
    check(line["message"] == "http request", line)
    check(line["http.request.method"] == "GET" and line["url.path"] == "/healthz", line)
    check(line["http.response.status_code"] == 200, line)
    check(isinstance(line["event.duration"], int) and line["event.duration"] > 0, line)
    for field in ("@timestamp", "log.level", "ecs.version", "service.name", "trace.id", "span.id"):
        check(field in line, f"{field} missing: {line}")


def test_idle_and_read_timeouts_close_connections():
    with Service("--idle-timeout", "400ms", "--read-timeout", "600ms") as s:
        def closed_after(conn):
            t0 = time.monotonic()
            conn.settimeout(10)
            data = b""
            while True:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            conn.close()
            return time.monotonic() - t0, data
        idle = socket.create_connection(("127.0.0.1", s.port))
        took, data = closed_after(idle)
        check(data == b"" and 0.3 <= took < 3, f"idle connection: closed after {took:.2f}s, got {data!r}")
        # A keep-alive connection is idle again after its response.
        kept = socket.create_connection(("127.0.0.1", s.port))
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        took, data = closed_after(kept)
        check(data.startswith(b"HTTP/1.1 200 OK") and 0.3 <= took < 3, f"keep-alive: {took:.2f}s {data[:40]!r}")
        # A request whose head never completes is cut off by the read timeout.
        slow = socket.create_connection(("127.0.0.1", s.port))
        slow.sendall(b"GET /healthz HTTP/1.1\r\n")
        took, data = closed_after(slow)
        check(0.45 <= took < 3, f"slow request: closed after {took:.2f}s")
        check(s.alive(), "server died")


def test_sigterm_exits_0_and_closes_idle_connections_at_once():
    with Service("--shutdown-grace", "5s") as s:
        idle = socket.create_connection(("127.0.0.1", s.port))
        harness.http("GET", s.url + "/healthz")
        t0 = time.monotonic()
        s.p.send_signal(signal.SIGTERM)
        code = s.p.wait(timeout=10)
        took = time.monotonic() - t0
        idle.close()
        check(code == 0, f"exit code {code}: {s.stderr()}")
        check(took < 3, f"idle connections held shutdown for {took:.1f}s")
        lines = s.log_lines()
        check(lines and lines[-1]["message"] == "tgpulse stopped", f"last log line: {lines[-1:]}")


def test_sigterm_waits_for_a_request_in_flight_at_most_the_grace():
    with Service("--shutdown-grace", "1500ms") as s:
        # A request that never completes: its head is half sent.
        stuck = s.request_in_flight()
        t0 = time.monotonic()
        s.p.send_signal(signal.SIGTERM)
        code = s.p.wait(timeout=15)
        took = time.monotonic() - t0
        stuck.close()
        check(code == 0, f"exit code {code}: {s.stderr()}")
        check(1.3 <= took < 4.5, f"shutdown took {took:.1f}s with a 1.5s grace")


def test_request_completed_during_shutdown_is_answered_and_readiness_fails():
    with Service("--shutdown-grace", "5s") as s:
        conn = s.request_in_flight("/readyz")  # in flight: head not finished
        s.p.send_signal(signal.SIGTERM)
        s.wait_logged("shutdown requested")
        check(s.alive(), "exited while a request was in flight")
        conn.sendall(b"\r\n")
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        conn.close()
        status, headers, body = parse_response(b"".join(chunks))
        check(status == 503, f"{status} {body}")
        err = json_error(body)
        check(err["code"] == "not_ready" and "shutdown" in err["failing_checks"], err)
        check(headers.get("connection", "").lower() == "close", headers)
        check(s.p.wait(timeout=10) == 0, s.stderr())


def test_second_signal_exits_at_once():
    with Service("--shutdown-grace", "30s") as s:
        stuck = s.request_in_flight()  # keeps the graceful shutdown waiting
        s.p.send_signal(signal.SIGTERM)
        s.wait_logged("shutdown requested")
        check(s.alive(), "exited before its grace period with a request in flight")
        t0 = time.monotonic()
        s.p.send_signal(signal.SIGINT)
        code = s.p.wait(timeout=10)
        stuck.close()
        check(code == 1 and time.monotonic() - t0 < 3, f"exit {code} after {time.monotonic() - t0:.1f}s")
        check("second signal" in s.stderr(), s.stderr())


def test_admin_listener_serves_probes_and_metrics_and_outlives_the_drain():
    admin_port = harness.free_port()
    admin = f"http://127.0.0.1:{admin_port}"
    with Service("--admin-listen", f"127.0.0.1:{admin_port}", "--shutdown-grace", "5s") as s:
        check(f"admin listener on {admin}" in s.stderr(), s.stderr())
        status, _, doc = harness.http_json("GET", admin + "/healthz")
        check(status == 200 and doc == {"status": "ok"}, f"admin /healthz: {status} {doc}")
        status, _, doc = harness.http_json("GET", admin + "/readyz")
        check(status == 200 and doc["checks"]["shutdown"] == {"ok": True}, f"admin /readyz: {status} {doc}")
        status, headers, body = harness.http("GET", admin + "/metrics")
        text = body.decode()
        check(status == 200 and headers["content-type"].startswith("text/plain"), (status, headers))
        check("telethon_floodwait_total" in text and 'tgpulse_http_requests_total{route="/healthz",code="200"}' in text,
              "admin /metrics lacks the catalog or the probe count")
        # Only the operational routes: the API stays on the main listener.
        status, _, doc = harness.http_json("GET", admin + "/v1/sessions")
        check(status == 404 and doc["error"]["code"] == "not_found", f"admin /v1/sessions: {status} {doc}")
        check(harness.http("GET", s.url + "/healthz")[0] == 200, "main /healthz")

        # A request in flight on the main listener keeps the drain going; the admin listener answers
        # through it, and /readyz says why the instance is not ready.
        stuck = s.request_in_flight()
        s.p.send_signal(signal.SIGTERM)
        s.wait_logged("shutdown requested")
        check(s.alive(), "exited while a request was in flight")
        status, _, doc = harness.http_json("GET", admin + "/readyz")
        check(status == 503 and doc["error"]["code"] == "not_ready" and "shutdown" in doc["error"]["failing_checks"],
              f"admin /readyz during the drain: {status} {doc}")
        check(harness.http("GET", admin + "/healthz")[0] == 200, "admin /healthz during the drain")
        stuck.sendall(b"\r\n")
        check(s.p.wait(timeout=10) == 0, s.stderr())
        stuck.close()
        try:
            socket.create_connection(("127.0.0.1", admin_port), timeout=2).close()
            check(False, "the admin listener still accepts after exit")
        except OSError:
            pass


def test_bad_configuration_is_refused_with_exit_2():
    d = tempfile.mkdtemp(prefix="tgpulse-badcfg-")

    def yaml(text):
        path = os.path.join(d, f"c{abs(hash(text))}.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    cases = [
        (["--listen", "abc"], None, 'config: server.listen: "abc" is not HOST:PORT (e.g. 127.0.0.1:8080) [from --listen]'),
        ([], {"TGPULSE_LISTEN": "127.0.0.1:99999"}, 'config: server.listen: "127.0.0.1:99999" is not HOST:PORT'),
        (["--threads", "0"], None, 'config: server.threads: "0" must be between 1 and 64'),
        (["--read-timeout", "30"], None, 'config: server.read_timeout: "30" is not a duration'),
        (["--body-limit", "lots"], None, 'config: server.body_limit: "lots" is not a size'),
        (["--log-format", "xml"], None, 'config: log.format: "xml" is not one of json, console'),
        ([], {"TGPULSE_LOG_LEVEL": "chatty"}, 'config: log.level: "chatty" is not one of trace, debug, info, warn, error [from TGPULSE_LOG_LEVEL]'),
        ([], {"TGPULSE_THROTTLE_ENABLED": "perhaps"}, 'config: throttle.enabled: "perhaps" is not a boolean'),
        (["--td-library", "/nonexistent/libtdjson.so"], None, 'config: td.library: "/nonexistent/libtdjson.so" is not a file'),
        (["--config", yaml("server:\n  listn: 1\n")], None, 'config: unknown key "server.listn"'),
        (["--config", yaml("server:\n  listen: [1, 2\n")], None, "line "),
        (["--config", os.path.join(d, "missing.yaml")], None, "no such file"),
        (["--config", yaml("qr:\n  timeout: 1s\n")], None, 'config: qr.timeout: "1s" must be between 5s and 1h'),
        (["--admin-listen", "nine"], None, 'config: server.admin_listen: "nine" is not HOST:PORT (e.g. 127.0.0.1:9464) or "" (off)'),
        (["--listen", "127.0.0.1:18080", "--admin-listen", "127.0.0.1:18080"], None,
         'config: server.admin_listen: "127.0.0.1:18080" is the same address as server.listen'),
        ([], {"OTEL_TRACES_SAMPLER": "bogus"}, 'config: OTEL_TRACES_SAMPLER: unknown sampler "bogus"'),
    ]
    for args, env, expected in cases:
        code, err = run_serve_expecting_failure(args + ["--data-dir", d], env=env)
        check(code == 2, f"{args} {env}: exit {code}, stderr {err!r}")
        check(expected in err, f"{args} {env}: expected {expected!r} in {err!r}")
    # A secret is never echoed, even when it is the bad value.
    code, err = run_serve_expecting_failure(["--data-dir", d], env={"TGPULSE_ADMIN_TOKEN": "tiny-secret"})
    check(code == 2 and "admin_token" in err and "tiny-secret" not in err, err)


def test_port_in_use_fails_to_start():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        code, err = run_serve_expecting_failure(["--listen", f"127.0.0.1:{port}", "--data-dir", tempfile.mkdtemp()])
        check(code == 1 and f"cannot listen on 127.0.0.1:{port}" in err, (code, err))
        # The admin listener's address in use: the same, naming the key.
        code, err = run_serve_expecting_failure(["--listen", f"127.0.0.1:{harness.free_port()}",
                                                 "--admin-listen", f"127.0.0.1:{port}", "--data-dir", tempfile.mkdtemp()])
        check(code == 1 and f"server.admin_listen: cannot listen on 127.0.0.1:{port}" in err, (code, err))


def test_version_and_help():
    import subprocess
    out = subprocess.run([harness.TGPULSE, "version"], capture_output=True, text=True, timeout=10)
    check(out.returncode == 0 and out.stdout.startswith("tgpulse ") and "libtdsim.so" in out.stdout, out)
    out = subprocess.run([harness.TGPULSE, "--help"], capture_output=True, text=True, timeout=10)
    check(out.returncode == 0 and "serve" in out.stdout and "version" in out.stdout, out)
    out = subprocess.run([harness.TGPULSE, "serve", "--help"], capture_output=True, text=True, timeout=10)
    check(out.returncode == 0 and "--listen" in out.stdout and "TGPULSE_DATA_DIR" in out.stdout, out)


if __name__ == "__main__":
    with Service() as service:
        svc = service
        harness.main([
            test_healthz_and_readyz,
            test_request_id_is_echoed_or_generated,
            test_traceparent_continues_the_callers_trace,
            test_unknown_path_and_wrong_method_are_json_errors,
            test_body_over_the_limit_is_413,
            test_headers_over_the_limit_are_431,
            test_malformed_requests_are_400_with_json,
            test_http_metrics_by_route_pattern_and_access_log,
            test_idle_and_read_timeouts_close_connections,
            test_sigterm_exits_0_and_closes_idle_connections_at_once,
            test_sigterm_waits_for_a_request_in_flight_at_most_the_grace,
            test_request_completed_during_shutdown_is_answered_and_readiness_fails,
            test_second_signal_exits_at_once,
            test_admin_listener_serves_probes_and_metrics_and_outlives_the_drain,
            test_bad_configuration_is_refused_with_exit_2,
            test_port_in_use_fails_to_start,
            test_version_and_help,
        ])
