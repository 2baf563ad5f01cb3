"""Operator mistakes on the data directory, against `tgpulse serve` on tdsim with real SQLite:

- a database replaced by an empty file: start-up refuses (exit 1, a message naming what was found and
  the override) and no session directory is deleted or moved; with --accept-empty-store the directories
  are moved to <data_dir>/quarantine/<time>/ intact, logged at WARN and counted;
- a lost record: its directory is quarantined, the other sessions come back;
- a database file that is not SQLite: start-up refuses, the file is left byte for byte (and its mode);
- /readyz names "data_dir" when free space is below store.min_free_bytes (tests run as root, where a
  read-only chmod does not stop writes: the threshold is set above the disk's free space instead) and
  "store" while another process holds the database's write lock;
- a cleanup whose store writes fail (the write lock again) is retried with back-off while the service
  runs, /readyz names "cleanup" while it is stuck, and it finishes once the lock is released."""
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import time

import harness
from session_util import ADMIN, ADMIN_TOKEN


class Stack:
    """`tgpulse serve` on tdsim on a given data directory (kept across restarts)."""

    def __init__(self, data_dir, *flags, env=None):
        self.data_dir = data_dir
        self.port, control_port = harness.free_port(), harness.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.control_url = f"http://127.0.0.1:{control_port}"
        full_env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB,
                    "TDSIM_CONTROL_ADDR": f"127.0.0.1:{control_port}", "TGPULSE_STORE_PROBE_INTERVAL": "200ms"}
        full_env.update(env or {})
        self.proc = harness.Proc([harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{self.port}",
                                  "--data-dir", data_dir, *flags], env=full_env, name="tgpulse-sweep")
        try:
            harness.wait_until(lambda: self._up(), timeout=60, what="tgpulse up")
            harness.wait_http_ok(self.control_url + "/health", timeout=20)
        except BaseException:
            self.proc.stop()
            raise

    def _up(self):
        if not self.proc.alive():
            raise AssertionError(f"tgpulse exited with {self.proc.p.returncode}: {self.proc.stderr()}")
        try:
            return harness.http("GET", self.url + "/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def stop(self):
        return self.proc.stop()

    def logs(self, message):
        return [line for line in self.proc.json_lines() if line.get("message") == message]

    def metric(self, name):
        _, _, raw = harness.http("GET", self.url + "/metrics")
        for line in raw.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{}"):
                return float(line.split()[-1])
        raise AssertionError(f"{name} not exposed")

    def readyz(self):
        code, _, doc = harness.http_json("GET", self.url + "/readyz")
        return code, doc

    def authorize(self, token, count):
        auth = {"Authorization": "Bearer " + token}
        ids = []
        for _ in range(count):
            code, _, doc = harness.http_json("POST", self.url + "/v1/qr-logins", {}, auth)
            harness.check(code == 201, f"qr-login: {code} {doc}")
            sid = doc["session_id"]
            link = harness.wait_until(lambda: harness.http_json("GET", f"{self.url}/v1/qr-logins/{sid}",
                                                                headers=auth)[2].get("link"), timeout=20, what="link")
            code, _, out = harness.http_json("POST", self.control_url + "/scan", {"link": link, "outcome": "accept"})
            harness.check(code == 200, f"scan: {code} {out}")
            harness.wait_until(lambda: harness.http_json("GET", f"{self.url}/v1/sessions/{sid}",
                                                         headers=auth)[2].get("status") == "authorized",
                               timeout=20, what=f"{sid} authorized")
            ids.append(sid)
        return ids


def new_tenant(stack):
    code, _, doc = harness.http_json("POST", stack.url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
    harness.check(code == 201, f"tenant: {code} {doc}")
    return doc["token"]


def tree(root):
    """{relative path: sha256} of every file under root."""
    out = {}
    for base, _, files in os.walk(root):
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def db_keys(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "tgpulse.db"), timeout=10)
    try:
        return [k for (k,) in db.execute("SELECT db_key FROM sessions")]
    finally:
        db.close()


def serve_expecting_refusal(data_dir, *flags):
    env = dict(os.environ, TGPULSE_ADMIN_TOKEN=ADMIN_TOKEN, TGPULSE_TD_LIBRARY=harness.TDSIM_LIB)
    p = subprocess.run([harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{harness.free_port()}",
                        "--data-dir", data_dir, *flags], env=env, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr, p.stdout


def two_authorized_sessions():
    """A data directory holding two authorized sessions of tenant acme (service stopped)."""
    data_dir = tempfile.mkdtemp(prefix="tgpulse-sweep-")
    stack = Stack(data_dir)
    try:
        ids = stack.authorize(new_tenant(stack), 2)
    finally:
        stack.stop()
    sessions = os.path.join(data_dir, "sessions")
    harness.check(sorted(os.listdir(sessions)) == sorted(ids), f"engine dirs {os.listdir(sessions)} vs {ids}")
    return data_dir, ids


def replace_database_with_empty_file(data_dir):
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(data_dir, "tgpulse.db" + suffix)
        if os.path.exists(path):
            os.remove(path)
    open(os.path.join(data_dir, "tgpulse.db"), "wb").close()


def test_replaced_database_refuses_then_quarantines_with_override():
    data_dir, ids = two_authorized_sessions()
    try:
        keys = db_keys(data_dir)
        sessions = os.path.join(data_dir, "sessions")
        before = tree(sessions)
        harness.check(before, "the engines wrote nothing")
        replace_database_with_empty_file(data_dir)

        code, err, _ = serve_expecting_refusal(data_dir)
        harness.check(code == 1, f"exit code {code}: {err}")
        harness.check("holds no session record" in err and "2 session directories" in err, f"message: {err}")
        harness.check("--accept-empty-store" in err and "store.accept_empty_store" in err, f"no override named: {err}")
        harness.check(tree(sessions) == before, "a session directory was changed by the refused start")
        harness.check(not os.path.exists(os.path.join(data_dir, "quarantine")), "something was quarantined")

        stack = Stack(data_dir, "--accept-empty-store", "true")
        try:
            harness.check(os.listdir(sessions) == [], f"left in sessions/: {os.listdir(sessions)}")
            stamps = os.listdir(os.path.join(data_dir, "quarantine"))
            harness.check(len(stamps) == 1, f"quarantine: {stamps}")
            moved = os.path.join(data_dir, "quarantine", stamps[0])
            harness.check(sorted(os.listdir(moved)) == sorted(ids), f"quarantined: {os.listdir(moved)}")
            harness.check(tree(moved) == before, "quarantined contents differ from the originals")
            lines = stack.logs("Session directory without a record quarantined")
            harness.check(len(lines) == 2 and all(line["log.level"] == "warn" for line in lines), f"logs: {lines}")
            harness.check(sorted(os.path.basename(line["file.path"]) for line in lines) == sorted(ids), f"{lines}")
            harness.check(stack.metric("tgpulse_sessions_quarantined_total") == 2, "quarantine not counted")
            out = stack.proc.stdout() + stack.proc.stderr()
            harness.check(not any(k in out for k in keys), "a database key reached the log")
            code, doc = stack.readyz()
            harness.check(code == 200, f"/readyz after the quarantine: {code} {doc}")
        finally:
            stack.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_lost_record_is_quarantined_and_the_others_restored():
    data_dir, ids = two_authorized_sessions()
    try:
        lost, kept = ids
        sessions = os.path.join(data_dir, "sessions")
        lost_tree = tree(os.path.join(sessions, lost))
        db = sqlite3.connect(os.path.join(data_dir, "tgpulse.db"), timeout=10)
        db.execute("DELETE FROM sessions WHERE session_id = ?", (lost,))
        db.commit()
        db.close()
        stack = Stack(data_dir)  # no override needed: the store still holds a record
        try:
            harness.check(os.listdir(sessions) == [kept], f"sessions/: {os.listdir(sessions)}")
            stamps = os.listdir(os.path.join(data_dir, "quarantine"))
            moved = os.path.join(data_dir, "quarantine", stamps[0], lost)
            harness.check(tree(moved) == lost_tree, "the lost session's directory changed")
            harness.check(stack.metric("tgpulse_sessions_quarantined_total") == 1, "quarantine not counted")
            code, _, tenants = harness.http_json("GET", stack.url + "/v1/tenants", headers=ADMIN)
            harness.check(tenants["tenants"][0]["sessions"] == 1, f"restored: {tenants}")
        finally:
            stack.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_non_sqlite_database_is_refused_untouched():
    data_dir = tempfile.mkdtemp(prefix="tgpulse-sweep-")
    try:
        path = os.path.join(data_dir, "tgpulse.db")
        content = b"PK\x03\x04 an archive someone restored over the database\n" * 10
        with open(path, "wb") as f:
            f.write(content)
        os.chmod(path, 0o644)
        mtime = os.stat(path).st_mtime_ns
        code, err, _ = serve_expecting_refusal(data_dir)
        harness.check(code == 1, f"exit code {code}: {err}")
        harness.check("is not an SQLite database" in err and path in err, f"message: {err}")
        with open(path, "rb") as f:
            harness.check(f.read() == content, "the file was changed")
        st = os.stat(path)
        harness.check(stat.S_IMODE(st.st_mode) == 0o644 and st.st_mtime_ns == mtime, "mode or mtime changed")
        harness.check(sorted(os.listdir(data_dir)) == ["tgpulse.db"], f"files appeared: {os.listdir(data_dir)}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def checks_of(doc):
    """The per-check results of a /readyz answer (200: doc["checks"]; 503: doc["error"]["checks"])."""
    return doc.get("checks") or doc.get("error", {}).get("checks", {})


def test_readyz_names_data_dir_below_min_free_bytes():
    data_dir = tempfile.mkdtemp(prefix="tgpulse-sweep-")
    stack = Stack(data_dir, "--min-free-bytes", "1048576GiB")  # 1 PiB: more than any test disk has free
    try:
        code, doc = stack.readyz()
        harness.check(code == 503, f"/readyz: {code} {doc}")
        body = json.dumps(doc)
        harness.check("data_dir" in body and "store.min_free_bytes" in body, f"/readyz body: {body}")
        checks = checks_of(doc)
        harness.check(doc["error"]["failing_checks"] == ["data_dir"], f"failing: {doc}")
        harness.check(not checks["data_dir"]["ok"], f"checks: {checks}")
        for name in ("store", "engine", "cleanup"):
            harness.check(checks[name]["ok"], f"{name} failing too: {checks}")
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def hold_write_lock(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "tgpulse.db"), timeout=10, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    return db


def test_readyz_names_store_while_its_write_lock_is_held():
    data_dir = tempfile.mkdtemp(prefix="tgpulse-sweep-")
    stack = Stack(data_dir)
    try:
        harness.wait_until(lambda: stack.readyz()[0] == 200, timeout=10, what="ready")
        lock = hold_write_lock(data_dir)
        try:
            doc = harness.wait_until(lambda: (lambda c, d: c == 503 and d)(*stack.readyz()), timeout=15,
                                     what="/readyz failing")
            harness.check("store" in doc["error"]["failing_checks"], f"/readyz: {doc}")
            harness.check("locked" in checks_of(doc)["store"]["message"], f"/readyz: {doc}")
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        harness.wait_until(lambda: stack.readyz()[0] == 200, timeout=15, what="ready again")
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_failed_cleanup_is_retried_until_it_succeeds():
    data_dir = tempfile.mkdtemp(prefix="tgpulse-sweep-")
    stack = Stack(data_dir, env={"TGPULSE_SESSIONS_CLEANUP_RETRY_INITIAL": "200ms",
                                 "TGPULSE_SESSIONS_CLEANUP_RETRY_MAX": "1s",
                                 "TGPULSE_SESSIONS_CLEANUP_STUCK_AFTER": "2"})
    try:
        token = new_tenant(stack)
        (sid,) = stack.authorize(token, 1)
        engine_dir = os.path.join(data_dir, "sessions", sid)
        harness.check(os.path.isdir(engine_dir), "no engine directory")
        lock = hold_write_lock(data_dir)
        released = False
        try:
            code, _, doc = harness.http_json("DELETE", f"{stack.url}/v1/sessions/{sid}?logout=true",
                                             headers={"Authorization": "Bearer " + token}, timeout=60)
            harness.check(code >= 500, f"DELETE while the store cannot write: {code} {doc}")
            harness.check(stack.metric("tgpulse_session_cleanups_pending") == 1, "the failed cleanup is not pending")
            doc = harness.wait_until(
                lambda: (lambda c, d: c == 503 and "cleanup" in d["error"]["failing_checks"] and d)(*stack.readyz()),
                timeout=60, what="/readyz naming cleanup")
            body = json.dumps(doc)
            harness.check(sid not in body, "/readyz names a session id")
            harness.check("failed 2 times or more" in body, f"/readyz body: {body}")
            lock.execute("ROLLBACK")
            lock.close()
            released = True
        finally:
            if not released:
                lock.execute("ROLLBACK")
                lock.close()
        harness.wait_until(lambda: not os.path.exists(engine_dir), timeout=60, what="the retry removed the directory")
        harness.wait_until(lambda: stack.readyz()[0] == 200, timeout=30, what="ready again")
        harness.check(stack.metric("tgpulse_session_cleanups_pending") == 0, "still pending")
        db = sqlite3.connect(os.path.join(data_dir, "tgpulse.db"), timeout=10)
        harness.check(db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0, "the record is left")
        db.close()
        retries = stack.logs("Session cleanup will be retried")
        harness.check(len(retries) >= 2, f"retries logged: {len(retries)}")
        done = [l for l in stack.logs("Session cleanup completed") if l.get("status") == "success"]
        harness.check(done and done[-1]["session_id"] == sid, "no successful cleanup logged")
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    harness.main([test_replaced_database_refuses_then_quarantines_with_override,
                  test_lost_record_is_quarantined_and_the_others_restored,
                  test_non_sqlite_database_is_refused_untouched,
                  test_readyz_names_data_dir_below_min_free_bytes,
                  test_readyz_names_store_while_its_write_lock_is_held,
                  test_failed_cleanup_is_retried_until_it_succeeds])
