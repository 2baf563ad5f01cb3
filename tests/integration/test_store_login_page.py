"""The end-user login page (src/session/assets/login.html) in headless Chromium, against a stub of its
HTTP contract (src/session/assets/README.md): the QR it shows decodes (zbarimg) to exactly the current
link and is swapped when the link refreshes; simulated scans, the 2FA password (wrong, then right),
decline and expiry show live without a reload; the page reconnects when its event stream drops and
loads nothing from anywhere else.

The stub serves the page file as it is and renders QR codes with the service's own renderer
(build/tgpulse-qr-svg); the browser is driven through playwright-core (tests/node).
"""
import json
import os
import queue
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from browser_util import Browser  # noqa: E402

PAGE = os.path.join(harness.SOURCE_DIR, "src", "session", "assets", "login.html")
QR_TOOL = os.path.join(harness.BUILD_DIR, "tgpulse-qr-svg")
SESSION_ID = "s_PageTest0123456789abcd"
KEY = "page-key_0123456789abcdefghijklmnopqrstuvw"
LINK_1 = "tg://login?token=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA-first"
LINK_2 = "tg://login?token=ZmVkY2JhOTg3NjU0MzIxMHNlY29uZF9saW5rX2Zvcl9wYWdl_second"


class LoginStub:
    """The page's side of the service: page, qr.svg, events (SSE), password, simulate."""

    def __init__(self, simulator=True, state=None):
        self.lock = threading.Lock()
        self.state = state or {"status": "qr_pending", "link": LINK_1, "expires_at": 0, "simulator": simulator}
        self.answers = {}              # route → [(status, doc, headers)] given in turn to the phone steps
        self.subscribers = []          # one queue per open event stream
        self.event_connections = 0
        self.posts = []                # (path, json body) of every POST
        self.requests = []             # every request path
        self.right_password = "correct horse"
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status, doc, headers=None):
                body = json.dumps(doc).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self):
                url = urllib.parse.urlsplit(self.path)
                key = urllib.parse.parse_qs(url.query).get("key", [""])[0]
                with stub.lock:
                    stub.requests.append(url.path)
                return url.path, key

            def do_GET(self):  # noqa: N802 - http.server's naming
                path, key = self._route()
                if path == f"/login/{SESSION_ID}":
                    with open(PAGE, "rb") as f:
                        body = f.read()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if not path.startswith(f"/v1/login/{SESSION_ID}/") or key != KEY:
                    self._json(404, {"error": {"code": "not_found", "message": "no such login"}})
                    return
                if path.endswith("/qr.svg"):
                    with stub.lock:
                        link = stub.state["link"]
                    svg = subprocess.run([QR_TOOL, link], check=True, capture_output=True).stdout
                    self.send_response(200)
                    self.send_header("Content-Type", "image/svg+xml")
                    self.send_header("Cache-Control", "no-store")
                    self.send_header("Content-Length", str(len(svg)))
                    self.end_headers()
                    self.wfile.write(svg)
                elif path.endswith("/events"):
                    self._events()
                else:
                    self._json(404, {"error": {"code": "not_found", "message": "no such route"}})

            def _events(self):
                q = queue.Queue()
                with stub.lock:
                    stub.subscribers.append(q)
                    stub.event_connections += 1
                    state = dict(stub.state)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                try:
                    self._send_event("state", state)
                    while True:
                        try:
                            item = q.get(timeout=1.0)
                        except queue.Empty:
                            self.wfile.write(b": keep-alive\n\n")
                            self.wfile.flush()
                            continue
                        if item is None:  # drop this stream
                            return
                        self._send_event(*item)
                except OSError:
                    pass
                finally:
                    with stub.lock:
                        if q in stub.subscribers:
                            stub.subscribers.remove(q)

            def _send_event(self, name, data):
                self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

            def do_POST(self):  # noqa: N802
                path, key = self._route()
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"null")
                except ValueError:
                    body = None
                if key != KEY or not path.startswith(f"/v1/login/{SESSION_ID}/"):
                    self._json(404, {"error": {"code": "not_found", "message": "no such login"}})
                    return
                with stub.lock:
                    stub.posts.append((path.rsplit("/", 1)[1], body))
                if path.endswith("/password"):
                    if isinstance(body, dict) and body.get("password") == stub.right_password:
                        self._json(200, {"status": "authorized"})
                        stub.push("authorized", {})
                    else:
                        self._json(400, {"error": {"code": "invalid_argument", "message": "wrong password"}})
                elif path.endswith("/simulate"):
                    self._json(202, {"accepted": True})
                elif path.rsplit("/", 1)[1] in ("phone-number", "code", "resend"):
                    with stub.lock:
                        queued = stub.answers.get(path.rsplit("/", 1)[1]) or []
                        status, doc, headers = queued.pop(0) if queued else (200, {"status": "accepted"}, {})
                    self._json(status, doc, headers)
                else:
                    self._json(404, {"error": {"code": "not_found", "message": "no such route"}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self):
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, key=KEY):
        return f"{self.origin}/login/{SESSION_ID}?key={urllib.parse.quote(key)}"

    def push(self, name, data):
        with self.lock:
            for q in self.subscribers:
                q.put((name, data))

    def drop_streams(self):
        with self.lock:
            for q in self.subscribers:
                q.put(None)

    def set_link(self, link):
        with self.lock:
            self.state["link"] = link
        self.push("link", {"link": link, "expires_at": 0})

    def posts_to(self, what):
        with self.lock:
            return [body for (name, body) in self.posts if name == what]

    def close(self):
        self.drop_streams()
        self.server.shutdown()
        self.server.server_close()


BROWSER = []  # the one browser of this run, started by the first test


def with_page(simulator=True, key=KEY, state=None):
    """Decorator: runs the test with a fresh stub and the browser on its page."""
    def wrap(fn):
        def run():
            if not BROWSER:
                BROWSER.append(Browser())
            browser = BROWSER[0]
            stub = LoginStub(simulator=simulator, state=state)
            try:
                browser("goto", url=stub.page_url(key))
                fn(stub, browser)
            finally:
                stub.close()
        run.__name__ = fn.__name__
        return run
    return wrap


def wait_qr_version(browser, above):
    browser.wait(f"Number(document.getElementById('qr').getAttribute('data-version') || 0) > {above}")
    return int(browser("eval", expr="document.getElementById('qr').getAttribute('data-version')"))


@with_page()
def test_qr_decodes_to_the_current_link_and_swaps_on_refresh(stub, browser):
    version = wait_qr_version(browser, 0)
    harness.check(browser("text", selector="#status") == "waiting", "status is waiting")
    harness.check(browser.qr_text() == LINK_1, "the QR on the page is the current link")
    box = browser("box", selector="#qr img")
    harness.check(box["width"] >= 300, f"the QR fills a phone's width (got {box['width']} px)")

    stub.set_link(LINK_2)
    wait_qr_version(browser, version)
    harness.check(browser.qr_text() == LINK_2, "after a refresh the QR is the new link")
    harness.check(browser("text", selector="#status") == "waiting", "still waiting after a refresh")


@with_page()
def test_simulated_accept_shows_authorized_without_reload(stub, browser):
    wait_qr_version(browser, 0)
    browser("eval", expr="window.__same_page = true")
    harness.check(browser("visible", selector="#sim-accept"), "simulator buttons shown on the simulator")
    harness.check(browser("visible", selector="#sim-decline"), "decline button shown")
    browser("click", selector="#sim-accept")
    harness.wait_until(lambda: stub.posts_to("simulate"), 10, what="simulate POST")
    harness.check(stub.posts_to("simulate") == [{"outcome": "accept"}], f"body {stub.posts_to('simulate')}")
    stub.push("authorized", {})
    browser.wait_status("authorized")
    harness.check(browser("eval", expr="window.__same_page === true"), "no reload happened")
    harness.check(not browser("visible", selector="#qr"), "the QR is gone once authorized")
    harness.check(not browser("visible", selector="#sim-accept"), "no simulator buttons once authorized")


@with_page()
def test_password_wrong_then_right(stub, browser):
    wait_qr_version(browser, 0)
    browser("click", selector="#sim-password")
    harness.wait_until(lambda: stub.posts_to("simulate"), 10, what="simulate POST")
    harness.check(stub.posts_to("simulate") == [{"outcome": "password"}], f"body {stub.posts_to('simulate')}")
    stub.push("password_required", {"hint": "first pet"})
    browser.wait_status("password_required")
    harness.check(browser("visible", selector="#password-form"), "the password form is shown")
    harness.check("first pet" in browser("text", selector="#hint"), "the hint is shown")

    browser("fill", selector="#password", value="wrong one")
    browser("click", selector="#password-submit")
    browser.wait("document.getElementById('password-error').textContent.includes('wrong password')")
    harness.check(browser("text", selector="#status") == "password_required", "still asks after a wrong password")

    browser("fill", selector="#password", value=stub.right_password)
    browser("click", selector="#password-submit")
    browser.wait_status("authorized")
    harness.check(stub.posts_to("password") == [{"password": "wrong one"}, {"password": stub.right_password}],
                  f"password bodies {stub.posts_to('password')}")
    harness.check(not browser("visible", selector="#password-form"), "the form is gone once authorized")


@with_page()
def test_decline_shows_failed(stub, browser):
    wait_qr_version(browser, 0)
    browser("click", selector="#sim-decline")
    harness.wait_until(lambda: stub.posts_to("simulate") == [{"outcome": "decline"}], 10, what="decline POST")
    stub.push("failed", {"reason": "declined"})
    browser.wait_status("failed")
    harness.check("declined" in browser("text", selector="#message"), "the reason is shown")


@with_page(simulator=False)
def test_expired_and_no_simulator_buttons_on_real_telegram(stub, browser):
    wait_qr_version(browser, 0)
    harness.check(not browser("visible", selector="#simulator"), "no simulator buttons without the simulator")
    stub.push("expired", {})
    browser.wait_status("expired")
    harness.check(not browser("visible", selector="#qr"), "no stale QR after expiry")


@with_page()
def test_reconnects_after_the_stream_drops(stub, browser):
    wait_qr_version(browser, 0)
    harness.check(stub.event_connections == 1, "one event stream")
    stub.drop_streams()
    harness.wait_until(lambda: stub.event_connections >= 2 and stub.subscribers, 20, what="reconnection")
    stub.push("authorized", {})
    browser.wait_status("authorized")


@with_page(key="not-the-key")
def test_a_wrong_key_shows_failed(stub, browser):
    browser.wait_status("failed")
    harness.check("not valid" in browser("text", selector="#message"), "says the link is not valid")
    harness.check(not browser("visible", selector="#qr"), "no QR for a wrong key")


@with_page()
def test_loads_nothing_from_elsewhere(stub, browser):
    wait_qr_version(browser, 0)
    urls = browser("requests")
    harness.check(urls, "requests recorded")
    foreign = [u for u in urls if not u.startswith(stub.origin + "/")]
    harness.check(not foreign, f"requests to other origins: {foreign}")


def phone_state(status, code_info=None):
    state = {"status": status, "method": "phone", "expires_at": 0, "simulator": True, "has_link": False}
    if code_info is not None:
        state["code_info"] = code_info
    return state


def flood_wait(seconds):
    return (429, {"error": {"code": "flood_wait", "message": "FloodWait", "retry_after": seconds}},
            {"Retry-After": str(seconds)})


@with_page(state=phone_state("phone_number_required"))
def test_phone_number_refused_then_flood_wait(stub, browser):
    browser.wait_status("phone_number_required")
    harness.check(not browser("visible", selector="#qr"), "no QR code on a phone login")
    harness.check(not browser("visible", selector="#simulator"), "no scan buttons on a phone login")
    stub.answers["phone-number"] = [
        (422, {"error": {"code": "phone_number_invalid", "message": "PHONE_NUMBER_INVALID"}}, {}),
        flood_wait(300)]
    browser("fill", selector="#phone", value="+44 20 7946 0000")
    browser("click", selector="#phone-submit")
    browser.wait_text("#phone-error", "does not accept")
    browser("click", selector="#phone-submit")
    error = browser.wait_text("#phone-error", "Try again in")
    harness.check("5 minutes" in error, f"the wait: {error!r}")
    harness.check(stub.posts_to("phone-number") == [{"phone_number": "+44 20 7946 0000"}] * 2,
                  f"number bodies {stub.posts_to('phone-number')}")
    harness.check(not [u for u in browser("requests") if "7946" in u], "the number in a URL")
    stub.push("code_required", {"code_info": {"type": "sms", "length": 6, "next_type": "call", "timeout": 0}})
    browser.wait_status("code_required")
    harness.check("by SMS" in browser("text", selector="#code-info"), "says how the code was sent")
    harness.check("6 digits" in browser("text", selector="#code-info"), "says the code's length")
    harness.check(browser("eval", expr="document.getElementById('phone').value") == "", "the number left the form")


@with_page(state=phone_state("code_required", {"type": "call", "length": 5, "next_type": None, "timeout": 0}))
def test_code_ways_and_no_other_way(stub, browser):
    browser.wait_status("code_required")
    harness.check("by a call" in browser("text", selector="#code-info"), "a call")
    harness.check(browser("eval", expr="document.getElementById('resend').disabled"), "no other way: no resend")
    harness.check("no other way" in browser("text", selector="#resend"), "the button says there is no other way")
    stub.push("code_required", {"code_info": {"type": "missed_call", "length": 4, "next_type": "fragment", "timeout": 0}})
    browser.wait_text("#code-info", "last digits")
    browser.wait("!document.getElementById('resend').disabled")
    harness.check("on Fragment" in browser("text", selector="#resend"), "the button names the next way")
    stub.answers["resend"] = [flood_wait(7200)]
    browser("click", selector="#resend")
    harness.check("2 hours" in browser.wait_text("#code-error", "Try again in"), "the resend's flood wait")
    harness.check(browser("eval", expr="document.getElementById('resend').disabled"), "no resend during the wait")


@with_page(state=phone_state("code_required", {"type": "telegram_message", "length": 5, "next_type": "sms", "timeout": 0}))
def test_expired_code_then_attempts_spent(stub, browser):
    browser.wait_status("code_required")
    stub.answers["code"] = [
        (422, {"error": {"code": "code_expired", "message": "expired", "status": "code_required", "attempts_left": 1}}, {}),
        (429, {"error": {"code": "code_attempts", "message": "the login has no code attempts left", "scope": "tenant"}}, {})]
    browser("fill", selector="#code", value="11111")
    browser("click", selector="#code-submit")
    error = browser.wait_text("#code-error", "expired")
    harness.check("1 attempt left" in error, f"the attempts left: {error!r}")
    browser("fill", selector="#code", value="11112")
    browser("click", selector="#code-submit")
    browser.wait_status("failed")
    harness.check("Too many wrong codes" in browser("text", selector="#message"), "says why the login ended")
    harness.check(stub.posts_to("code") == [{"code": "11111"}, {"code": "11112"}], f"code bodies {stub.posts_to('code')}")


if __name__ == "__main__":
    harness.check(os.path.exists(QR_TOOL), f"{QR_TOOL} is not built")
    import atexit
    atexit.register(lambda: BROWSER and BROWSER[0].close())
    harness.main([
        test_qr_decodes_to_the_current_link_and_swaps_on_refresh,
        test_simulated_accept_shows_authorized_without_reload,
        test_password_wrong_then_right,
        test_decline_shows_failed,
        test_expired_and_no_simulator_buttons_on_real_telegram,
        test_reconnects_after_the_stream_drops,
        test_a_wrong_key_shows_failed,
        test_loads_nothing_from_elsewhere,
        test_phone_number_refused_then_flood_wait,
        test_code_ways_and_no_other_way,
        test_expired_code_then_attempts_spent,
    ])
