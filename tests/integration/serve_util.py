"""Helpers for the `tgpulse serve` integration tests: start the service on a free loopback port, talk
raw HTTP over a socket (for requests no HTTP client library will send), read its JSON log lines."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import harness


class Service(harness.Proc):
    """`tgpulse serve` on 127.0.0.1:<free port>; stopped (SIGTERM) when the `with` block ends, and its
    data directory (a new temporary one unless `data_dir` names one, e.g. for a restart) removed."""

    def __init__(self, *flags, env=None, name="tgpulse", data_dir=None):
        self.port = harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        harness.record_answers_of(self.url)
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="tgpulse-data-")
        args = [harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir, *flags]
        super().__init__(args, env=env, name=name)
        try:
            self._wait_up(timeout=30)
        except BaseException:
            self.stop()
            raise

    def _wait_up(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():  # fail at once, with the reason, instead of polling a dead process
                raise AssertionError(f"tgpulse exited with {self.p.returncode}: {self.stderr()}")
            try:
                if harness.http("GET", self.url + "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"tgpulse not serving {self.url}/healthz after {timeout}s: {self.stderr()}")

    def stop(self, *args, **kwargs):
        code = super().stop(*args, **kwargs)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        return code

    def log_lines(self):
        """The JSON log lines written so far (stdout)."""
        return [json.loads(line) for line in self.stdout().splitlines() if line.startswith("{")]

    def wait_logged(self, message, timeout=10.0):
        """Waits until a log line with `message` is written (e.g. "shutdown requested" after a signal)."""
        harness.wait_until(lambda: any(line.get("message") == message for line in self.log_lines()),
                           timeout, interval=0.02, what=f"log line {message!r}")

    def request_in_flight(self, path="/healthz", timeout=10.0):
        """A connection whose request for `path` the server is in the middle of reading: its head is half
        sent, pipelined behind a complete request. Once the first answer is back, the server has read
        the bytes that followed it as well (one segment on loopback), so the half head is in its hands —
        a handshake, not a guess of how long that takes. Send b"\\r\\n" to complete it."""
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" +
                     f"GET {path} HTTP/1.1\r\nHost: x\r\n".encode())
        raw = b""
        while not _complete(raw):
            chunk = conn.recv(65536)
            if not chunk:
                raise AssertionError(f"closed before the first answer: {raw[:200]!r}")
            raw += chunk
        status, _, _ = parse_response(raw)
        harness.check(status == 200, f"the pipelined first request: {status}")
        return conn


def raw_request(port, data, timeout=10.0, read_all=True):
    """Sends raw bytes and returns (status, headers_lowercase, body_bytes) of the first response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything (e.g. 413)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_all and _complete(b"".join(chunks)):
                break
    return parse_response(b"".join(chunks))


def _complete(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def parse_response(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no HTTP response head in {raw[:200]!r}")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return status, headers, body


def json_error(body):
    """The {"error":{"code","message"}} object of an error body; fails when the body is not one."""
    doc = json.loads(body)
    err = doc["error"]
    harness.check(isinstance(err.get("code"), str) and err["code"], f"error without code: {doc}")
    harness.check(isinstance(err.get("message"), str) and err["message"], f"error without message: {doc}")
    return err


def run_serve_expecting_failure(args, env=None, timeout=20):
    """Runs `tgpulse serve ARGS` that must refuse to start; returns (exit_code, stderr)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run([harness.TGPULSE, "serve", *args], env=full_env, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stderr
