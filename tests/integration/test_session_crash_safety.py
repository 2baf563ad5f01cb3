"""Crash safety of the session cleanup: 1,000 authorized sessions (seeded in the store with tdsim
databases), a tenant deletion that cleans them one by one, `kill -9` mid-way, restart on the same data
directory. After the start-up sweep: no record stuck in a cleanup state, no engine directory without a
record, no record without its directory, and every session is either still there or fully gone."""
import json
import os
import secrets
import sqlite3
import tempfile
import threading
import time

import harness
from session_util import ADMIN, ADMIN_TOKEN

COUNT = 1000
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def start(data_dir, port, control_port):
    env = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB,
           "TDSIM_CONTROL_ADDR": f"127.0.0.1:{control_port}", "TGPULSE_LOG_LEVEL": "warn"}
    proc = harness.Proc([harness.TGPULSE, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir],
                        env=env, name="tgpulse-crash")
    try:
        harness.wait_until(lambda: proc.alive() and harness.http("GET", f"http://127.0.0.1:{port}/healthz",
                                                                 timeout=2)[0] == 200,
                           timeout=60, what="tgpulse up")
    except BaseException:
        proc.stop()
        raise
    return proc


def seed(data_dir):
    """COUNT authorized sessions of tenant acme, each with a tdsim database, plus two orphan directories."""
    sessions = os.path.join(os.path.abspath(data_dir), "sessions")
    db = sqlite3.connect(os.path.join(data_dir, "tgpulse.db"), timeout=10)
    now = int(time.time() * 1000)
    rows = []
    for i in range(COUNT):
        sid = "s_" + "".join(secrets.choice(BASE62) for _ in range(22))
        engine_dir = os.path.join(sessions, sid)
        os.makedirs(engine_dir)
        with open(os.path.join(engine_dir, "td.binlog"), "w") as f:
            json.dump({"tdsim": 1, "authorized": True, "user_id": 1000 + i, "has_password": False}, f)
        rows.append((sid, "acme", "authorized", now + i, now, now, now, engine_dir,
                     "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=", secrets.token_hex(32)))
    db.executemany("INSERT INTO sessions (session_id, tenant_id, state, created_at, authorized_at, last_used_at, "
                   "updated_at, engine_dir, db_key, page_key_hash) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()
    for orphan in ("s_orphanorphanorphanorph", "leftover"):
        os.makedirs(os.path.join(sessions, orphan))


def records(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "tgpulse.db"), timeout=10)
    try:
        return {sid: (state, d) for sid, state, d in db.execute("SELECT session_id, state, engine_dir FROM sessions")}
    finally:
        db.close()


def directories(data_dir):
    root = os.path.join(os.path.abspath(data_dir), "sessions")
    return set(os.listdir(root)) if os.path.isdir(root) else set()


def test_kill_during_mass_cleanup_then_restart():
    data_dir = tempfile.mkdtemp(prefix="tgpulse-crash-")
    port, control_port = harness.free_port(), harness.free_port()
    url = f"http://127.0.0.1:{port}"
    first = start(data_dir, port, control_port)
    try:
        code, _, _ = harness.http_json("POST", url + "/v1/tenants", {"tenant_id": "acme"}, ADMIN)
        harness.check(code == 201, f"tenant: {code}")
    finally:
        first.stop()
    seed(data_dir)

    second = start(data_dir, port, control_port)
    try:
        code, _, tenants = harness.http_json("GET", url + "/v1/tenants", headers=ADMIN)
        harness.check(tenants["tenants"][0]["sessions"] == COUNT, f"restored: {tenants}")
        harness.check("s_orphanorphanorphanorph" not in directories(data_dir), "orphan directory survived a start")
        def delete_tenant():
            try:
                harness.http("DELETE", url + "/v1/tenants/acme", headers=ADMIN, timeout=600)
            except OSError:
                pass  # the service is killed while this request runs
        threading.Thread(target=delete_tenant, daemon=True).start()
        harness.wait_until(lambda: len(records(data_dir)) <= COUNT * 2 // 3, timeout=120, interval=0.01,
                           what="a third of the sessions cleaned")
        second.kill9()
    finally:
        second.stop()
    mid = records(data_dir)
    harness.check(0 < len(mid) < COUNT, f"the kill did not land mid-way: {len(mid)} records left")
    mid_states = {}
    for state, _ in mid.values():
        mid_states[state] = mid_states.get(state, 0) + 1
    print(f"after kill -9: {len(mid)} records {mid_states}, {len(directories(data_dir))} directories", flush=True)

    third = start(data_dir, port, control_port)
    try:
        after = records(data_dir)
        print(f"after restart: {len(after)} records, {len(directories(data_dir))} directories", flush=True)
        stuck = [sid for sid, (state, _) in after.items() if state.startswith("cleanup_")]
        harness.check(not stuck, f"{len(stuck)} records stuck mid-cleanup after the sweep")
        dirs = directories(data_dir)
        harness.check(dirs == set(after), f"directories without a record: {sorted(dirs - set(after))[:5]}, "
                                          f"records without a directory: {sorted(set(after) - dirs)[:5]}")
        harness.check(set(after) <= set(mid), "a session appeared")
        harness.check(len(after) >= len([s for s, (st, _) in mid.items() if st == "authorized"]),
                      "an authorized session was lost by the restart")
        code, _, tenants = harness.http_json("GET", url + "/v1/tenants", headers=ADMIN)
        harness.check(tenants["tenants"][0]["sessions"] == len(after), f"live sessions {tenants} vs {len(after)}")
        code, _, out = harness.http_json("DELETE", url + "/v1/tenants/acme", headers=ADMIN, timeout=600)
        harness.check(code == 200 and out["cleanup_failed"] == 0, f"finishing the deletion: {code} {out}")
        harness.check(records(data_dir) == {} and directories(data_dir) == set(), "sessions left after deletion")
    finally:
        third.stop()


if __name__ == "__main__":
    harness.main([test_kill_during_mass_cleanup_then_restart])
