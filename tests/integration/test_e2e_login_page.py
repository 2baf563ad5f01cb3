"""The end-user login page in headless Chromium against `tgpulse serve` on tdsim: the QR in a
screenshot decodes (zbarimg) to exactly the session's current link; a simulated scan shows the
authorized state without a reload; a 2FA account asks for its password and succeeds."""
import json
import os
import subprocess
import tempfile

import harness
from session_util import SessionStack

SCRIPT = os.path.join(harness.NODE_DIR, "login_page_test.js")
TDSIM_2FA_PASSWORD = "tdsim-2fa"  # tdsim's profile password for accounts a simulated scan gives 2FA


def run_page(st, mode):
    doc, _ = st.start_login()
    sid = doc["session_id"]
    shot = os.path.join(tempfile.mkdtemp(prefix="tgpulse-page-"), "qr.png")
    env = dict(os.environ, PAGE_URL=st.url + doc["page_url"], MODE=mode, PASSWORD=TDSIM_2FA_PASSWORD, SHOT=shot,
               NODE_PATH=os.path.join(harness.NODE_DIR, "node_modules"))
    p = subprocess.Popen(["node", SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        step = json.loads(p.stdout.readline() or '{"step":"eof"}')
        harness.check(step["step"] == "shot", f"page: {step}")
        zbar = subprocess.run(["zbarimg", "--quiet", "--raw", shot], capture_output=True, text=True)
        harness.check(zbar.returncode == 0, f"zbarimg found no QR code (exit {zbar.returncode})")
        link = st.login_doc(sid)[2]["link"]
        harness.check(zbar.stdout.strip() == link, "the QR on the page is not the current link")
        p.stdin.write("go\n")
        p.stdin.flush()
        done = json.loads(p.stdout.readline() or '{"step":"eof"}')
        harness.check(done["step"] == "done" and done["status"] == "authorized", f"page: {done}")
        harness.check(not done["reloaded"], "the page reloaded")
        harness.check(st.login_doc(sid)[2]["status"] == "authorized", "the service does not agree")
    finally:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait()


def test_page_scan_authorizes_without_reload():
    with SessionStack() as st:
        run_page(st, "accept")


def test_page_two_factor_asks_for_the_password():
    with SessionStack() as st:
        run_page(st, "password")


if __name__ == "__main__":
    harness.main([test_page_scan_authorizes_without_reload, test_page_two_factor_asks_for_the_password])
