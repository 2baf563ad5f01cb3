// Drives the end-user login page of a running tgpulse in headless Chromium (playwright-core):
//   PAGE_URL  the page (http://127.0.0.1:PORT/login/<id>?key=...)
//   MODE      "accept" (simulated scan) or "password" (scan of a 2FA account, then its password)
//   PASSWORD  the 2FA password to type (MODE=password)
//   SHOT      where to write the screenshot of the QR code
// Protocol (one JSON object per line on stdout): {"step":"shot"} once the QR is shown and captured; the
// caller decodes it and answers "go" on stdin; then {"step":"done","status":..,"reloaded":..}.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

function say(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

async function waitFor(page, expr, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (!(await page.evaluate(expr))) {
    if (Date.now() > until) throw new Error('timed out waiting for ' + expr);
    await new Promise((r) => setTimeout(r, 100));
  }
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tgpulse-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    await page.goto(process.env.PAGE_URL);
    await waitFor(page, "document.getElementById('status').textContent.trim() === 'waiting'", 15000);
    await waitFor(page, "(() => { const i = document.querySelector('#qr img'); return i && i.complete && i.naturalWidth > 0; })()", 15000);
    await page.evaluate('window.__notReloaded = true');
    await (await page.$('#qr')).screenshot({ path: process.env.SHOT });
    say({ step: 'shot' });
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) { if (line.trim() === 'go') break; }
    if (process.env.MODE === 'password') {
      await page.click('#sim-password');
      await waitFor(page, "document.getElementById('status').textContent.trim() === 'password_required'", 15000);
      await page.fill('#password', process.env.PASSWORD);
      await page.click('#password-submit');
    } else {
      await page.click('#sim-accept');
    }
    await waitFor(page, "document.getElementById('status').textContent.trim() === 'authorized'", 15000);
    const reloaded = !(await page.evaluate('window.__notReloaded === true'));
    say({ step: 'done', status: 'authorized', reloaded });
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
})().catch((e) => { say({ step: 'error', error: String(e && e.message || e) }); process.exit(1); });
