"""Helpers for the engine/tdsim integration tests (stdlib only).

TdsimProcess runs libtdsim.so in a child process (loaded with ctypes, like any TDLib user would load
libtdjson), with the control interface on a free 127.0.0.1 port. The child prints every object it
receives as one JSON line and sends every JSON line it reads on stdin, so a test plays the application
on one side and the phone / Telegram (the control interface) on the other.
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import harness

DRIVER = r"""
import ctypes, json, sys, threading
lib = ctypes.CDLL(sys.argv[1])
lib.td_create_client_id.restype = ctypes.c_int
lib.td_send.argtypes = [ctypes.c_int, ctypes.c_char_p]
lib.td_receive.argtypes = [ctypes.c_double]
lib.td_receive.restype = ctypes.c_char_p
lib.td_execute.argtypes = [ctypes.c_char_p]
lib.td_execute.restype = ctypes.c_char_p
CB = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p)
out_lock = threading.Lock()
def emit(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
@CB
def on_log(level, message):
    emit({"@type": "log", "verbosity": level, "message": message.decode()})
lib.td_execute(b'{"@type":"setLogVerbosityLevel","new_verbosity_level":2}')
lib.td_set_log_message_callback(2, on_log)
emit({"@type": "driver", "client_id": lib.td_create_client_id()})
def pump():
    while True:
        line = lib.td_receive(0.2)
        if line:
            emit(json.loads(line))
threading.Thread(target=pump, daemon=True).start()
for line in sys.stdin:
    line = line.strip()
    if line:
        req = json.loads(line)
        lib.td_send(req.pop("@to"), json.dumps(req).encode())
"""


def sanitizer_preload(library):
    """Environment for loading `library` into an uninstrumented interpreter: a sanitizer build of
    libtdsim.so needs its runtimes first in the process (LD_PRELOAD) and no leak check of Python."""
    try:
        deps = subprocess.run(["ldd", library], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    runtimes = [line.split("=>")[1].split()[0] for line in deps.splitlines()
                if "=>" in line and ("libasan" in line or "libubsan" in line)]
    if not runtimes:
        return {}
    return {"LD_PRELOAD": " ".join(runtimes), "ASAN_OPTIONS": "detect_leaks=0"}


class TdsimProcess:
    """A child process serving libtdsim.so with its control interface; use as a context manager."""

    def __init__(self, profile=None, control=True, extra_env=None):
        self.port = harness.free_port() if control else None
        self.dir = tempfile.mkdtemp(prefix="tgpulse-tdsim-it-")
        env = dict(os.environ)
        env.update(sanitizer_preload(harness.TDSIM_LIB))
        if control:
            env["TDSIM_CONTROL_ADDR"] = f"127.0.0.1:{self.port}"
        if profile is not None:
            path = os.path.join(self.dir, "profile.json")
            with open(path, "w") as f:
                json.dump(profile, f)
            env["TDSIM_PROFILE"] = path
        env.update(extra_env or {})
        self.p = subprocess.Popen([sys.executable, "-c", DRIVER, harness.TDSIM_LIB], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                                  start_new_session=True)
        self.objects = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()
        hello = self.next(lambda o: o.get("@type") == "driver", what="driver start")
        self.client_id = hello["client_id"]
        if control:
            harness.wait_http_ok(self.url("/health"), timeout=10)

    def _read(self):
        for line in self.p.stdout:
            self.objects.put(json.loads(line))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def control(self, method, path, body=None):
        return harness.http_json(method, self.url(path), body)

    def send(self, request):
        request = dict(request)
        request["@to"] = self.client_id
        self.p.stdin.write(json.dumps(request) + "\n")
        self.p.stdin.flush()

    def next(self, pred, timeout=10.0, what="object"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; seen {self.seen[-10:]}")
            try:
                obj = self.objects.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(obj)
            if pred(obj):
                return obj

    def answer(self, extra, timeout=10.0):
        return self.next(lambda o: o.get("@extra") == extra, timeout, what=f"answer {extra}")

    def state(self, name, timeout=10.0):
        obj = self.next(lambda o: o.get("@type") == "updateAuthorizationState"
                        and o["authorization_state"]["@type"] == name, timeout, what=name)
        return obj["authorization_state"]

    def start_qr(self):
        """setTdlibParameters + requestQrCodeAuthentication; returns the link."""
        self.send({"@type": "setTdlibParameters", "database_directory": os.path.join(self.dir, "db"),
                   "api_id": 1, "api_hash": "x", "@extra": "params"})
        self.state("authorizationStateWaitPhoneNumber")
        self.send({"@type": "requestQrCodeAuthentication", "@extra": "qr"})
        return self.state("authorizationStateWaitOtherDeviceConfirmation")["link"]

    def stderr(self):
        self.close()
        return self.p.stderr.read()
