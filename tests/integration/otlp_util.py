"""An OTLP/HTTP capture collector for tests (stdlib only) and the structural comparison of OTLP/JSON
export requests.

CaptureCollector listens on 127.0.0.1 (a free port, or the one given), records every POST (path,
headers, decoded body; chunked and gzip bodies are handled) and answers 200 with an empty
ExportTraceServiceResponse. Use it as a context manager so it is always stopped.
"""
import gzip
import http.server
import json
import re
import threading
import time

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
DECIMAL = re.compile(r"^[0-9]+$")


class CaptureCollector:
    def __init__(self, port=0):
        self.requests = []  # (path, headers dict with lowercase names, body bytes)
        self._lock = threading.Lock()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server naming
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    body = gzip.decompress(body)
                with collector._lock:
                    collector.requests.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                reply = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def _read_chunked(self):
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()  # CRLF after the chunk

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path="/v1/traces"):
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path):
        """Decoded JSON bodies of the requests to `path`, in arrival order."""
        with self._lock:
            return [json.loads(b) for p, _, b in self.requests if p == path]

    def headers(self, path):
        with self._lock:
            return [h for p, h, _ in self.requests if p == path]

    def wait_for_spans(self, path, count, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(spans_by_name(self.bodies(path))) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{path}: fewer than {count} spans arrived within {timeout}s")

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def spans_by_name(bodies):
    """{span name: (span, resource, scope)} over every export request in `bodies`."""
    out = {}
    for body in bodies:
        for rs in body.get("resourceSpans", []):
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    out[span["name"]] = (span, rs.get("resource"), ss.get("scope"))
    return out


def value_kind(any_value):
    """The OTLP AnyValue kind: 'stringValue', 'intValue', ... (exactly one key is allowed)."""
    if not isinstance(any_value, dict) or len(any_value) != 1:
        raise AssertionError(f"AnyValue must have exactly one key: {any_value!r}")
    return next(iter(any_value))


def check_value(where, any_value, problems):
    """Checks an AnyValue against the OTLP/JSON mapping: int64 as a decimal string (the JS SDK sends
    a JSON number, which receivers also accept; both are accepted here and reported by kind only)."""
    kind = value_kind(any_value)
    v = any_value[kind]
    ok = {
        "stringValue": isinstance(v, str),
        "boolValue": isinstance(v, bool),
        "intValue": (isinstance(v, str) and re.match(r"^-?[0-9]+$", v) is not None)
        or (isinstance(v, int) and not isinstance(v, bool)),
        "doubleValue": isinstance(v, (int, float)) and not isinstance(v, bool),
    }.get(kind, False)
    if not ok:
        problems.append(f"{where}: {kind} has a value of the wrong type: {v!r}")
    return kind


def attribute_shape(where, attributes, problems):
    """{key: value kind} of an OTLP attribute list; checks each KeyValue is exactly {key, value}."""
    shape = {}
    for kv in attributes:
        if set(kv) != {"key", "value"}:
            problems.append(f"{where}: a KeyValue has keys {sorted(kv)}")
            continue
        shape[kv["key"]] = check_value(f"{where}[{kv['key']}]", kv["value"], problems)
    return shape


def span_shape(name, span, problems):
    """The structure of a span with values reduced to their format class."""
    where = f"span {name}"
    if not HEX32.match(span.get("traceId", "")):
        problems.append(f"{where}: traceId is not 32 lowercase hex digits: {span.get('traceId')!r}")
    if not HEX16.match(span.get("spanId", "")):
        problems.append(f"{where}: spanId is not 16 lowercase hex digits: {span.get('spanId')!r}")
    if "parentSpanId" in span and not HEX16.match(span["parentSpanId"]):
        problems.append(f"{where}: parentSpanId is not 16 lowercase hex digits: {span['parentSpanId']!r}")
    for key in ("startTimeUnixNano", "endTimeUnixNano"):
        if not (isinstance(span.get(key), str) and DECIMAL.match(span[key])):
            problems.append(f"{where}: {key} is not a decimal string: {span.get(key)!r}")
    for key in ("kind",):
        if not (isinstance(span.get(key), int) and not isinstance(span.get(key), bool)):
            problems.append(f"{where}: {key} is not an integer: {span.get(key)!r}")
    status = span.get("status", {})
    if not (isinstance(status.get("code"), int) and not isinstance(status.get("code"), bool)):
        problems.append(f"{where}: status.code is not an integer: {status!r}")
    events = []
    for i, event in enumerate(span.get("events", [])):
        if not (isinstance(event.get("timeUnixNano"), str) and DECIMAL.match(event["timeUnixNano"])):
            problems.append(f"{where}: events[{i}].timeUnixNano is not a decimal string")
        events.append({
            "keys": sorted(event),
            "name": event.get("name"),
            "attributes": attribute_shape(f"{where} event {event.get('name')}", event.get("attributes", []), problems),
        })
    return {
        "keys": sorted(span),
        "kind": span.get("kind"),
        "status": {"keys": sorted(status), "code": status.get("code")},
        "attributes": attribute_shape(where, span.get("attributes", []), problems),
        "events": events,
        "links": span.get("links"),
    }


def request_shape(body, problems):
    """Structure of a whole ExportTraceServiceRequest: key sets at every level, value kinds, formats."""
    shape = {"keys": sorted(body), "resourceSpans": []}
    for rs in body.get("resourceSpans", []):
        resource = rs.get("resource", {})
        rs_shape = {
            "keys": sorted(rs),
            "resource": {
                "keys": sorted(resource),
                "attributes": attribute_shape("resource", resource.get("attributes", []), problems),
            },
            "scopeSpans": [],
        }
        for ss in rs.get("scopeSpans", []):
            rs_shape["scopeSpans"].append({
                "keys": sorted(ss),
                "scope": {k: type(v).__name__ for k, v in ss.get("scope", {}).items()},
                "spanKeys": sorted({k for span in ss.get("spans", []) for k in span}),
            })
        shape["resourceSpans"].append(rs_shape)
    return shape


def tree_of(spans):
    """{name: parent name or None} from spans_by_name() output, checking ids link up within one trace."""
    by_id = {s["spanId"]: name for name, (s, _, _) in spans.items()}
    traces = {s["traceId"] for s, _, _ in spans.values()}
    if len(traces) != 1:
        raise AssertionError(f"the spans belong to {len(traces)} traces, expected 1")
    return {name: by_id.get(s.get("parentSpanId")) for name, (s, _, _) in spans.items()}


def diff(a, b, path="$"):
    """Human-readable differences between two nested shapes (dicts/lists/scalars)."""
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}.{k}: only in the reference: {b[k]!r}")
            elif k not in b:
                out.append(f"{path}.{k}: only in tgpulse: {a[k]!r}")
            else:
                out += diff(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items in tgpulse, {len(b)} in the reference")
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, f"{path}[{i}]")
    elif a != b:
        out.append(f"{path}: tgpulse {a!r} != reference {b!r}")
    return out
