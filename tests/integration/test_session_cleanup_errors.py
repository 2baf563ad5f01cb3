"""A session cleanup that TDLib does not finish in time, against tdsim: tdsim is told (control API,
POST /profile auth_latency_ms) to answer logOut and close later than sessions.engine_request_timeout and
to close the session later than sessions.close_timeout. DELETE must answer 504 `timeout` with a message
saying what timed out and what became of the session (not 500 `internal`); the local data goes anyway,
the failure is counted and logged once with its code, and nothing of the session is left behind."""
import os
import time

import harness
from session_util import SessionStack

# Short engine bounds so the test waits about two seconds, not the defaults' 10 s each.
CONFIG = """
sessions:
  engine_request_timeout: 500ms
  close_timeout: 1s
"""


def test_a_cleanup_tdlib_does_not_finish_is_a_gateway_timeout():
    with SessionStack(config=CONFIG) as st:
        sid = st.authorized_session()
        engine_dir = st.engine_dir(sid)
        harness.check(os.path.isdir(engine_dir), f"no engine directory {engine_dir}")
        # logOut and close (authorization functions in tdsim) now take 4 s: past both bounds above.
        st.control("/profile", {"auth_latency_ms": {"min": 4000, "max": 4000}})
        started = time.monotonic()
        code, _, out = harness.http_json("DELETE", f"{st.url}/v1/sessions/{sid}?logout=true", headers=st.auth())
        took = time.monotonic() - started
        harness.check(code == 504, f"delete: {code} {out}")
        err = out["error"]
        harness.check(err["code"] == "timeout", f"error code: {err}")
        harness.check(err["message"].startswith("cleanup failed: engine: "), err["message"])
        harness.check("got no answer" in err["message"] or "did not close" in err["message"], err["message"])
        harness.check(err["message"].endswith("the session's local data was removed"), err["message"])
        harness.check(took < 3.5, f"the answer took {took:.1f} s: the engine bounds were not applied")
        # Counted and logged once as a failed cleanup, with its code; nothing is left of the session.
        harness.check(st.metric("telethon_session_cleanup_total", status="failed") == 1, "cleanup failed count")
        done = st.wait_logs("Session cleanup completed", 1)
        harness.check(done[0]["status"] == "failed" and done[0]["error.code"] == "timeout", f"log: {done[0]}")
        code, _, out = harness.http_json("GET", f"{st.url}/v1/sessions/{sid}", headers=st.auth())
        harness.check(code == 404, f"session after the cleanup: {code} {out}")
        harness.check(not os.path.exists(engine_dir), f"{engine_dir} left behind")
        harness.check(st.metric("tgpulse_session_cleanups_pending") == 0, "a cleanup with nothing left is queued")


if __name__ == "__main__":
    harness.main([test_a_cleanup_tdlib_does_not_finish_is_a_gateway_timeout])
