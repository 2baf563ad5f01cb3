"""Headless Chromium for the login-page tests, driven through playwright-core (tests/node/node_modules) by
a small line protocol: one JSON command per line on the driver's stdin, one JSON answer per line on its
stdout. Every `goto` opens a fresh phone-sized context; the driver records the URLs the page requests
and the console messages it writes, so a test can check that a secret reaches neither."""
import json
import os
import shutil
import subprocess
import tempfile

import harness

DRIVER_JS = r"""
const { chromium } = require('playwright-core');
const readline = require('readline');
(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM, args: ['--no-sandbox'] });
  let context = null, page = null, requests = [], consoleLines = [];
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
          consoleLines = [];
          page.on('request', (r) => requests.push(r.url()));
          page.on('console', (m) => consoleLines.push(m.text()));
          page.on('pageerror', (e) => consoleLines.push('pageerror: ' + String(e && e.message || e)));
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
        case 'console': out = consoleLines.slice(); break;
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
    """The driver process; `browser(cmd, **args)` sends one command and returns its `out` (fails the test
    when the command failed). close() quits Chromium and removes the driver's directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tgpulse-page-")
        script = os.path.join(self.dir, "driver.js")
        with open(script, "w") as f:
            f.write(DRIVER_JS)
        env = dict(os.environ, NODE_PATH=os.path.join(harness.NODE_DIR, "node_modules"),
                   CHROMIUM=shutil.which("chromium") or "/usr/bin/chromium")
        self.p = subprocess.Popen(["node", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                  text=True, start_new_session=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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

    def wait_status(self, status, timeout=10000):
        self.wait(f"document.getElementById('status').textContent === {json.dumps(status)}", timeout)

    def wait_text(self, selector, fragment, timeout=10000):
        """Waits until the text of `selector` contains `fragment`; returns the whole text."""
        self.wait(f"(document.querySelector({json.dumps(selector)}).textContent || '').includes({json.dumps(fragment)})",
                  timeout)
        return self("text", selector=selector)

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
