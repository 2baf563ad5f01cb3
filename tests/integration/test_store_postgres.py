"""`tgpulse serve` with its records in PostgreSQL (store.url): a real PostgreSQL 15 started by the test,
the password given in a file. A tenant and a QR login on tdsim land in PostgreSQL's tables (and nothing in
an SQLite file); after a restart on the same database and data directory the session is restored and
answers getMe. A URL carrying a password is refused without being echoed, a wrong password is refused
with PostgreSQL's reason, and the password appears in none of the service's output."""
import os
import tempfile

import harness
import pg_util
import serve_util
from session_util import ADMIN_TOKEN, SessionStack


def serve_env(pg, **more):
    env = {"TGPULSE_STORE_URL": pg.url, "TGPULSE_STORE_PASSWORD_FILE": pg.password_file}
    env.update(more)
    return env


def invoke_works(stack, sid):
    def ok():
        code, _, doc = harness.http_json("POST", f"{stack.url}/v1/sessions/{sid}/invoke", {"@type": "getMe"},
                                          stack.auth())
        return code == 200 and doc.get("@type") == "user" and doc
    harness.wait_until(ok, timeout=30, what=f"getMe on session {sid}")


def test_sessions_live_in_postgres_and_survive_a_restart():
    outputs = []
    with pg_util.PostgresServer() as pg:
        with SessionStack(extra_env=serve_env(pg)) as first:
            harness.check(first.token, "tenant acme was not created")
            started = first.logs("session store on PostgreSQL")
            harness.check(started and started[0]["store.location"] == pg.url, f"no start-up line: {started}")
            sid = first.authorized_session()
            invoke_works(first, sid)
            rows = pg.psql("SELECT tenant_id, session_id, state FROM sessions")
            harness.check(rows.strip() == f"acme|{sid}|authorized", f"sessions in PostgreSQL: {rows!r}")
            harness.check(not os.path.exists(os.path.join(first.service.data_dir, "tgpulse.db")),
                          "an SQLite database was created although store.url is set")
            harness.Proc.stop(first.service)  # keep the data directory (the TDLib directories) for the restart
            outputs += [first.service.stdout(), first.service.stderr()]
            data_dir = first.service.data_dir

            second = SessionStack(data_dir=data_dir, extra_env=serve_env(pg))
            second.token = first.token  # the tenant is in PostgreSQL already
            with second:
                harness.wait_until(lambda: harness.http_json("GET", f"{second.url}/v1/sessions/{sid}",
                                                             headers=second.auth())[2].get("status") == "authorized",
                                   timeout=30, what="the session restored as authorized")
                invoke_works(second, sid)
                code, _, doc = harness.http("GET", second.url + "/readyz")
                harness.check(code == 200, f"/readyz on PostgreSQL: {code} {doc}")
                harness.Proc.stop(second.service)
                outputs += [second.service.stdout(), second.service.stderr()]

        # A password in the URL is refused, and the refusal does not repeat it.
        inline = pg.url.replace("tgpulse@", f"tgpulse:{pg.password}@")
        code, err = harness_refused({"TGPULSE_STORE_URL": inline})
        harness.check(code == 2 and "store.url" in err and "holds a password" in err, f"inline password: {code} {err}")
        outputs.append(err)
        # A wrong password: PostgreSQL's reason, never the password tried.
        code, err = harness_refused({"TGPULSE_STORE_URL": pg.url, "TGPULSE_STORE_PASSWORD": "wrong-" + pg.password})
        harness.check(code != 0 and "password authentication failed" in err, f"wrong password: {code} {err}")
        outputs.append(err)
        print(f"refused: {err.strip()[:300]}", flush=True)

        for text in outputs:
            harness.check(pg.password not in text, "the store password appeared in the service's output")


def harness_refused(env):
    """`tgpulse serve` that must refuse to start; returns (exit code, stderr)."""
    full = {"TGPULSE_ADMIN_TOKEN": ADMIN_TOKEN, "TGPULSE_TD_LIBRARY": harness.TDSIM_LIB}
    full.update(env)
    with tempfile.TemporaryDirectory(prefix="tgpulse-data-") as data_dir:
        return serve_util.run_serve_expecting_failure(["--listen", "127.0.0.1:0", "--data-dir", data_dir], env=full)


if __name__ == "__main__":
    harness.main([test_sessions_live_in_postgres_and_survive_a_restart])
