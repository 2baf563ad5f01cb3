"""Session keys at rest: `tgpulse serve` on tdsim with a master key.

One data directory through its life: a session authorized without a master key (stored in the clear,
with a WARN and tgpulse_store_keys_encrypted 0); a restart with a master key encrypts it (the sqlite3
CLI and the raw file bytes no longer show the plain key) and the session is restored — tdsim, like
TDLib, opens a database only with the key it was created with, so a working invoke proves the service
handed the engine the decrypted key. Without the key, or with another key, the service refuses to start
with a message naming the expected key id and changes nothing. `tgpulse keys rotate` (refused while the
service runs) re-encrypts with a new key: the new key starts the service, the old one is refused. No
master key ever appears in any output or log.
"""
import json
import os
import shutil
import stat
import subprocess
import tempfile

import harness
from session_util import ADMIN, ADMIN_TOKEN


class Deployment:
    """A data directory, a tdsim profile and two master key files, removed at the end."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="tgpulse-master-key-")
        self.data_dir = os.path.join(self.root, "data")
        self.profile = os.path.join(self.root, "tdsim.json")
        with open(self.profile, "w") as f:
            json.dump({"latency_ms": {"min": 1, "max": 3}}, f)
        self.outputs = []  # every stdout/stderr/log text the service and the commands produced

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)

    def command(self, *args, expect=0):
        p = subprocess.run([harness.TGPULSE, *args], capture_output=True, text=True, timeout=60)
        harness.check(p.returncode == expect, f"tgpulse {' '.join(args)}: exit {p.returncode}, want {expect}: "
                                              f"{p.stdout}\n{p.stderr}")
        return p

    def env(self, key_env):
        self.control_port = harness.free_port()
        env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB,
               "TDSIM_CONTROL_ADDR": f"127.0.0.1:{self.control_port}", "TDSIM_PROFILE": self.profile}
        env.update(key_env)
        return env

    def serve(self, key_env):
        """`tgpulse serve` on the data directory; returns (proc, url) once it answers /healthz."""
        port = harness.free_port()
        proc = harness.Proc([harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", self.data_dir],
                            env=self.env(key_env), name="tgpulse-master-key")
        url = f"http://127.0.0.1:{port}"
        try:
            harness.wait_until(lambda: (not proc.alive()) or harness.http("GET", url + "/healthz", timeout=2)[0] == 200,
                               timeout=60, what="tgpulse up")
            harness.check(proc.alive(), f"tgpulse exited {proc.p.returncode}: {proc.stderr()}")
        except BaseException:
            self.stop(proc)
            raise
        return proc, url

    def stop(self, proc):
        code = proc.stop()
        self.outputs += [proc.stdout(), proc.stderr()]
        shutil.rmtree(proc.dir, ignore_errors=True)
        return code

    def refused(self, key_env):
        """Runs `tgpulse serve` that must refuse to start; returns (exit code, stderr)."""
        full = dict(os.environ)
        full.update(self.env(key_env))
        p = subprocess.run([harness.TGPULSE, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir],
                           env=full, capture_output=True, text=True, timeout=60)
        self.outputs += [p.stdout, p.stderr]
        harness.check(p.returncode != 0, f"tgpulse started: {p.stderr}")
        return p.returncode, p.stderr

    def stored_keys(self):
        """session_id -> db_key as the sqlite3 command-line tool reads them from the file."""
        out = subprocess.run(["sqlite3", os.path.join(self.data_dir, "tgpulse.db"),
                              "SELECT session_id || '|' || db_key FROM sessions"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        return dict(line.split("|", 1) for line in out.splitlines() if line)

    def file_bytes(self):
        data = b""
        for suffix in ("", "-wal"):
            path = os.path.join(self.data_dir, "tgpulse.db" + suffix)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    data += f.read()
        return data


def gauge(url, name):
    _, _, raw = harness.http("GET", url + "/metrics")
    for line in raw.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def log_lines(proc, message):
    return [line for line in proc.json_lines() if line.get("message", "").startswith(message)]


def authorize(dep, url):
    """Tenant acme and one QR login accepted by tdsim's phone; returns (auth headers, session id)."""
    code, _, doc = harness.http_json("POST", url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
    harness.check(code == 201, f"tenant: {code} {doc}")
    auth = {"Authorization": "Bearer " + doc["token"]}
    code, _, doc = harness.http_json("POST", url + "/v1/qr-logins", {}, auth)
    harness.check(code == 201, f"qr-login: {code} {doc}")
    sid = doc["session_id"]
    link = harness.wait_until(lambda: harness.http_json("GET", f"{url}/v1/qr-logins/{sid}", headers=auth)[2].get("link"),
                              timeout=20, what="QR link")
    code, _, doc = harness.http_json("POST", f"http://127.0.0.1:{dep.control_port}/scan",
                                     {"link": link, "outcome": "accept"})
    harness.check(code == 200, f"scan: {code} {doc}")
    harness.wait_until(lambda: harness.http_json("GET", f"{url}/v1/qr-logins/{sid}", headers=auth)[2]["status"]
                       == "authorized", timeout=30, what="authorized")
    return auth, sid


def invoke_works(url, auth, sid):
    def ok():
        code, _, doc = harness.http_json("POST", f"{url}/v1/sessions/{sid}/invoke", {"@type": "getMe"}, auth)
        return code == 200 and doc.get("@type") == "user" and doc
    harness.wait_until(ok, timeout=30, what=f"getMe on the restored session {sid}")


def test_master_key_lifecycle():
    with Deployment() as dep:
        key1_path = os.path.join(dep.root, "key1")
        gen = dep.command("keys", "generate", "--out", key1_path)
        harness.check(stat.S_IMODE(os.stat(key1_path).st_mode) == 0o600, "the generated key file is not 0600")
        key1 = open(key1_path).read().strip()
        harness.check(len(key1) == 44, f"a master key is 44 base64 chars, got {len(key1)}")
        harness.check(key1 not in gen.stdout + gen.stderr, "keys generate --out printed the key")
        dep.command("keys", "generate", "--out", key1_path, expect=1)  # never overwrites a key file
        harness.check(open(key1_path).read().strip() == key1, "an existing key file was overwritten")
        key2 = dep.command("keys", "generate").stdout.strip()
        harness.check(len(key2) == 44 and key2 != key1, "keys generate printed no fresh key")
        key2_path = os.path.join(dep.root, "key2")
        with open(key2_path, "w") as f:
            f.write(key2 + "\n")
        os.chmod(key2_path, 0o600)
        wrong_path = os.path.join(dep.root, "not-a-key")
        with open(wrong_path, "w") as f:
            f.write("c2hvcnQ=\n")

        # 1. Without a master key: stored in the clear, and the service says so loudly.
        proc, url = dep.serve({})
        try:
            warn = log_lines(proc, "session keys are stored UNENCRYPTED")
            harness.check(len(warn) == 1 and warn[0]["log.level"] == "warn", f"no start-up warning: {proc.stdout()[:2000]}")
            harness.check("TGPULSE_MASTER_KEY" in warn[0]["message"], f"the warning says no fix: {warn[0]}")
            harness.check(gauge(url, "tgpulse_store_keys_encrypted") == 0, "gauge not 0 without a master key")
            auth, sid = authorize(dep, url)
            invoke_works(url, auth, sid)
        finally:
            dep.stop(proc)
        plain = dep.stored_keys()[sid]
        harness.check(len(plain) == 44 and ":" not in plain, f"without a key the stored key is not plain: {plain!r}")

        # 2. With the master key: the plain key is encrypted at start-up and the session restored.
        proc, url = dep.serve({"TGPULSE_MASTER_KEY_FILE": key1_path})
        try:
            line = log_lines(proc, "session keys encrypted at rest")
            harness.check(len(line) == 1, f"no start-up line about encrypted keys: {proc.stdout()[:2000]}")
            key1_id = line[0]["store.master_key_id"]
            harness.check(len(key1_id) == 8 and line[0]["store.keys_encrypted_at_start"] == 1, f"line: {line[0]}")
            harness.check(not log_lines(proc, "session keys are stored UNENCRYPTED"), "warned with a master key")
            harness.check(gauge(url, "tgpulse_store_keys_encrypted") == 1, "gauge not 1 with a master key")
            invoke_works(url, auth, sid)
        finally:
            dep.stop(proc)
        stored = dep.stored_keys()[sid]
        harness.check(stored.startswith(f"v1:{key1_id}:") and stored != plain, f"stored key: {stored!r}")
        harness.check(plain.encode() not in dep.file_bytes(), "the plain key is still somewhere in the database file")
        print(f"master key {key1_id}: stored key of {sid} is now {stored[:12]}... ({len(stored)} chars)", flush=True)

        # 3. Without the key, with another key, with a malformed key file: refused, nothing changed.
        code, err = dep.refused({})
        harness.check(code == 2 and key1_id in err and "no master key is configured" in err, f"no key: {code} {err}")
        print(f"without the key: exit {code}: {err.strip()}", flush=True)
        code, err = dep.refused({"TGPULSE_MASTER_KEY": key2})
        harness.check(code == 2 and f"encrypted with master key {key1_id}" in err, f"wrong key: {code} {err}")
        code, err = dep.refused({"TGPULSE_MASTER_KEY_FILE": wrong_path})
        harness.check(code == 2 and "store.master_key_file" in err and "decodes to 5 bytes" in err, f"bad file: {err}")
        code, err = dep.refused({"TGPULSE_MASTER_KEY": key1, "TGPULSE_MASTER_KEY_FILE": key1_path})
        harness.check(code == 2 and "both set" in err, f"key twice: {err}")
        harness.check(dep.stored_keys()[sid] == stored, "a refused start changed the stored key")

        # 4. Rotation is offline: refused while the service runs.
        proc, url = dep.serve({"TGPULSE_MASTER_KEY_FILE": key1_path})
        try:
            busy = dep.command("keys", "rotate", "--data-dir", dep.data_dir, "--master-key-file", key1_path,
                               "--new-key-file", key2_path, expect=1)
            dep.outputs += [busy.stdout, busy.stderr]
            harness.check("stop tgpulse" in busy.stderr, f"rotation while running: {busy.stderr}")
        finally:
            dep.stop(proc)
        harness.check(dep.stored_keys()[sid] == stored, "a refused rotation changed the stored key")

        # 5. Rotation with the service stopped: the new key starts it, the old one is refused.
        bad = dep.command("keys", "rotate", "--data-dir", dep.data_dir, "--new-key-file", key2_path, expect=2)
        harness.check(key1_id in bad.stderr, f"rotation without the old key: {bad.stderr}")
        rotated = dep.command("keys", "rotate", "--data-dir", dep.data_dir, "--master-key-file", key1_path,
                              "--new-key-file", key2_path)
        dep.outputs += [rotated.stdout, rotated.stderr, bad.stdout, bad.stderr]
        harness.check("re-encrypted 1 session keys" in rotated.stdout and key1_id in rotated.stdout,
                      f"rotate output: {rotated.stdout}")
        after = dep.stored_keys()[sid]
        harness.check(after.startswith("v1:") and not after.startswith(f"v1:{key1_id}:"), f"after rotation: {after!r}")
        code, err = dep.refused({"TGPULSE_MASTER_KEY_FILE": key1_path})
        harness.check(code == 2 and "not with the configured master key " + key1_id in err, f"old key: {err}")
        print(f"rotated: {rotated.stdout.splitlines()[0]}; the old key: exit {code}: {err.strip()}", flush=True)
        os.chmod(key2_path, 0o644)  # readable by everyone: started, with a warning
        proc, url = dep.serve({"TGPULSE_MASTER_KEY_FILE": key2_path})
        try:
            harness.check(log_lines(proc, "store.master_key_file can be read by other users"),
                          f"no warning about a world-readable key file: {proc.stdout()[:2000]}")
        finally:
            dep.stop(proc)
        os.chmod(key2_path, 0o600)
        proc, url = dep.serve({"TGPULSE_MASTER_KEY": key2})
        try:
            harness.check(not log_lines(proc, "store.master_key_file can be read"), "warned without a key file")
            invoke_works(url, auth, sid)
            key2_id = log_lines(proc, "session keys encrypted at rest")[0]["store.master_key_id"]
            harness.check(after.startswith(f"v1:{key2_id}:"), f"stored {after!r}, key id {key2_id}")
        finally:
            dep.stop(proc)

        # 6. No master key in any output or log line.
        for text in dep.outputs:
            for key in (key1, key2):
                harness.check(key not in text, "a master key appeared in an output")
                harness.check(key[:20] not in text, "part of a master key appeared in an output")


if __name__ == "__main__":
    harness.main([test_master_key_lifecycle])
