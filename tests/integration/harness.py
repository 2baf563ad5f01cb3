"""Shared helpers for tgpulse's integration tests (stdlib only).

Every server a test starts listens on 127.0.0.1 on a free port and is stopped when the test ends
(use `with Proc(...)` or `stack = contextlib.ExitStack()`).
"""
import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SOURCE_DIR = os.environ.get("TGPULSE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("TGPULSE_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
TGPULSE = os.path.join(BUILD_DIR, "tgpulse")
TDSIM_LIB = os.path.join(BUILD_DIR, "libtdsim.so")
TDJSON_LIB = os.path.join(SOURCE_DIR, "third_party", "tdlib", "libtdjson.so")
NODE_DIR = os.path.join(SOURCE_DIR, "tests", "node")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Base URLs of the services under test: harness.http() records their answers, and main() checks them
# against docs/openapi.json (openapi_util).
_recorded_bases = set()
_answers = []


def record_answers_of(base_url):
    """Records every answer harness.http() gets from `base_url` ("http://127.0.0.1:PORT")."""
    _recorded_bases.add(base_url.rstrip("/"))


def _record(method, url, status, headers, raw):
    parsed = urllib.parse.urlsplit(url)
    if f"{parsed.scheme}://{parsed.netloc}" not in _recorded_bases:
        return
    _answers.append({"method": method, "path": urllib.parse.unquote(parsed.path), "status": status,
                     "content_type": headers.get("content-type", ""),
                     "body": raw.decode("utf-8", "replace") if len(raw) <= 1 << 20 else ""})


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, headers_dict_lowercase, body_bytes); never raises on HTTP error codes. Answers of
    a recorded service (record_answers_of) are checked against docs/openapi.json when main() ends."""
    status, hdrs, raw = _http(method, url, body, headers, timeout)
    _record(method, url, status, hdrs, raw)
    return status, hdrs, raw


def _http(method, url, body, headers, timeout):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def http_json(method, url, body=None, headers=None, timeout=10):
    status, hdrs, raw = http(method, url, body, headers, timeout)
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    return status, hdrs, doc


def wait_until(pred, timeout=30.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - polling tolerates transient errors
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def wait_http_ok(url, timeout=30.0):
    def ok():
        try:
            return http("GET", url, timeout=2)[0] == 200
        except OSError:
            return False
    wait_until(ok, timeout, what=url)


class Proc:
    """A child process with stdout/stderr captured to files; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, args, env=None, cwd=None, name=None):
        self.name = name or os.path.basename(args[0])
        self.dir = tempfile.mkdtemp(prefix=f"tgpulse-{self.name}-")
        self.stdout_path = os.path.join(self.dir, "stdout")
        self.stderr_path = os.path.join(self.dir, "stderr")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        # Its own session (a signal to the test's group does not reach it), and killed with the test:
        # setpriv's parent-death signal outlives the exec, so a test killed by CTest's timeout or by hand
        # leaves no service, Prometheus or receiver running behind it. (The pid is the program's own.)
        if shutil.which("setpriv"):
            args = ["setpriv", "--pdeathsig", "KILL", "--", *args]
        self.p = subprocess.Popen(args, stdout=self._out, stderr=self._err, env=full_env, cwd=cwd,
                                  start_new_session=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.p.poll() is None:
            try:
                self.p.send_signal(sig)
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self._out.close()
        self._err.close()
        return self.p.returncode

    def kill9(self):
        os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait()

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    def json_lines(self, path=None):
        """Parses JSON log lines from stdout (or a file); non-JSON lines raise."""
        text = self.stdout() if path is None else open(path).read()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def main(tests):
    """Runs test functions in order; prints 'N passed, N failed'; exit code 1 on any failure."""
    import traceback
    passed = failed = 0
    if os.path.exists(TGPULSE):
        sanitizer_build()  # cached while the process is still whole
    for t in tests:
        name = t.__name__
        t0 = time.monotonic()
        try:
            t()
            passed += 1
            print(f"[ OK ] {name} ({time.monotonic() - t0:.1f}s)", flush=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print(f"[FAIL] {name} ({time.monotonic() - t0:.1f}s)", flush=True)
            traceback.print_exc()
    if _answers:
        import openapi_util
        t0 = time.monotonic()
        try:
            broken = openapi_util.check_answers(_answers)
        except AssertionError as e:
            broken = [str(e)]
        if broken:
            failed += 1
            print(f"[FAIL] answers against docs/openapi.json ({len(broken)} broken)", flush=True)
            for line in broken:
                print("  " + line, flush=True)
        else:
            passed += 1
            print(f"[ OK ] {len(_answers)} answers match docs/openapi.json ({time.monotonic() - t0:.1f}s)", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    raise SystemExit(1 if failed else 0)


@functools.lru_cache(maxsize=None)
def sanitizer_build():
    """The sanitizer TGPULSE was built with: "asan" (make test SANITIZE=1), "tsan" (make test-tsan) or
    None. Asked once, before the first test (main()): a test that exhausts its descriptors or processes
    would make ldd fail and the answer silently None."""
    out = subprocess.run(["ldd", TGPULSE], capture_output=True, text=True, check=True).stdout
    if "libasan" in out:
        return "asan"
    if "libtsan" in out:
        return "tsan"
    return None


def asan_build():
    """Whether TGPULSE is an AddressSanitizer build (make test SANITIZE=1)."""
    return sanitizer_build() == "asan"


# How each sanitizer's report begins; a report ends at its "SUMMARY:" line.
SANITIZER_MARKERS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "ThreadSanitizer:", "AddressSanitizer:", "runtime error:")


def sanitizer_report(text, limit=6000):
    """The first sanitizer report in a process's stderr (up to `limit` characters), or None."""
    starts = [i for i in (text.find(m) for m in SANITIZER_MARKERS) if i >= 0]
    if not starts:
        return None
    start = text.rfind("\n", 0, min(starts)) + 1
    end = text.find("\n", text.find("SUMMARY:", start) if "SUMMARY:" in text[start:] else start)
    report = text[start:end if end >= 0 else len(text)]
    return report[:limit] + (" [...]" if len(report) > limit else "")
