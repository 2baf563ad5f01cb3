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
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PAGE = os.path.join(harness.SOURCE_DIR, "src", "session", "assets", "login.html")
QR_TOOL = os.path.join(harness.BUILD_DIR, "tgpulse-qr-svg")
SESSION_ID = "s_PageTest0123456789abcd"
KEY = "page-key_0123456789abcdefghijklmnopqrstuvw"
LINK_1 = "tg://login?token=AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA-first"
LINK_2 = "tg://login?token=ZmVkY2JhOTg3NjU0MzIxMHNlY29uZF9saW5rX2Zvcl9wYWdl_second"


class LoginStub:
    """The page's side of the service: page, qr.svg, events (SSE), password, simulate."""

    def __init__(self, simulator=True):
        self.lock = threading.Lock()
        self.state = {"status": "qr_pending", "link": LINK_1, "expires_at": 0, "simulator": simulator}
        self.subscribers = []          # one queue per open event stream
        self.event_connections = 0
        self.posts = []                # (path, json body) of every POST
        self.requests = []             # every request path
        self.right_password = "correct horse"
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
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


# A small line-protocol driver around playwright-core: one JSON command per line on stdin, one JSON
# answer per line on stdout.
DRIVER_JS = r"""
const { chromium } = require('playwright-core');
const readline = require('readline');
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
  let context = null, page = null, requests = [];
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const c = JSON.parse(line);
    let out = null;
    try {
      switch (c.cmd) {
        case 'goto':  // a fresh phone-sized context for every page: no state carried between tests
          if (context) await context.close();
          context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
          page = await context.newPage();
          requests = [];
          page.on('request', (r) => requests.push(r.url()));
          await page.goto(c.url);
          break;
        case 'text': out = (await page.textContent(c.selector)).trim(); break;
        case 'visible': out = await page.isVisible(c.selector); break;
        case 'click': await page.click(c.selector); break;
        case 'fill': await page.fill(c.selector, c.value); break;
        case 'eval': out = await page.evaluate(c.expr); break;
        case 'wait': {  // polls with evaluate: waitForFunction's string predicates need 'unsafe-eval'
          const until = Date.now() + (c.timeout || 10000);
          while (!(await page.evaluate(c.expr))) {
            if (Date.now() > until) throw new Error('timed out waiting for ' + c.expr);
            await new Promise((r) => setTimeout(r, 100));
          }
          break;
        }
        case 'box': out = await (await page.$(c.selector)).boundingBox(); break;
        case 'shot': await (await page.$(c.selector)).screenshot({ path: c.path }); break;
        case 'requests': out = requests.slice(); break;
        case 'quit': await browser.close(); process.stdout.write(JSON.stringify({ ok: true }) + '\n'); process.exit(0);
      }
      process.stdout.write(JSON.stringify({ ok: true, out }) + '\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message || e) }) + '\n');
    }
  }
})().catch((e) => { console.error(e); process.exit(1); });
"""


class Browser:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tgpulse-page-")
        script = os.path.join(self.dir, "driver.js")
        with open(script, "w") as f:
            f.write(DRIVER_JS)
        env = dict(os.environ, NODE_PATH=os.path.join(harness.NODE_DIR, "node_modules"),
                   CHROMIUM=shutil.which("chromium") or "/usr/bin/chromium")
        self.p = subprocess.Popen(["node", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                  text=True, start_new_session=True)

    def __call__(self, cmd, **kw):
        self.p.stdin.write(json.dumps(dict(kw, cmd=cmd)) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        harness.check(line, f"browser driver ended during {cmd}")
        answer = json.loads(line)
        harness.check(answer["ok"], f"browser {cmd} {kw}: {answer.get('error')}")
        return answer.get("out")

    def wait(self, expr, timeout=10000):
        return self("wait", expr=expr, timeout=timeout)

    def wait_status(self, status):
        self.wait(f"document.getElementById('status').textContent === {json.dumps(status)}")

    def qr_text(self):
        """Screenshot of #qr, decoded by zbarimg."""
        png = os.path.join(self.dir, "qr.png")
        self("shot", selector="#qr", path=png)
        r = subprocess.run(["zbarimg", "--quiet", "--raw", png], capture_output=True, text=True)
        harness.check(r.returncode == 0, f"zbarimg found no QR code in the page (exit {r.returncode})")
        return r.stdout.strip()

    def close(self):
        try:
            self("quit")
        except (AssertionError, OSError, ValueError):
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


BROWSER = []  # the one browser of this run, started by the first test


def with_page(simulator=True, key=KEY):
    """Decorator: runs the test with a fresh stub and the browser on its page."""
    def wrap(fn):
        def run():
            if not BROWSER:
                BROWSER.append(Browser())
            browser = BROWSER[0]
            stub = LoginStub(simulator=simulator)
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
    ])
