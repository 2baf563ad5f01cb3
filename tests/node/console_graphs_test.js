// Renders Prometheus console pages in headless Chromium and reports, for every graph on them, whether it
// drew data:
//
//   node console_graphs_test.js SHOT_DIR URL...
//
// For each URL: waits until every PromConsole.Graph of the page has rendered (or shown an error), saves a
// full-page screenshot SHOT_DIR/<page>.png, and for each graph reports its title (the <h3> before it), the
// series and non-null points prom_console.js received, its error text if any, and the pixels of its plot
// area drawn in colour — read back from a screenshot of that area (PNG decoded here), so "drew data" means
// a coloured line is on the screen, not only that the query answered.
//
// Prints one JSON object: {"pages": [{"url", "shot", "graphs": [{"title", "series", "points",
// "nonzero", "error", "coloured_pixels"}]}]}. Exit 1 on a browser or page failure (graph outcomes are for the caller).
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

// Minimal PNG decoder (8-bit RGB/RGBA, non-interlaced: what Chromium writes). Returns {width, height,
// channels, pixels: Buffer}.
function decodePng(buf) {
  let pos = 8;
  let width = 0, height = 0, colorType = 0, depth = 0, interlace = 0;
  const idat = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4);
      depth = data[8]; colorType = data[9]; interlace = data[12];
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + len;
  }
  if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) {
    throw new Error(`unsupported PNG: depth ${depth}, colour type ${colorType}, interlace ${interlace}`);
  }
  const channels = colorType === 6 ? 4 : 3;
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? pixels.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels] : 0;
      const b = prev[x];
      const c = x >= channels ? prev[x - channels] : 0;
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      out[x] = v & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

// Pixels whose colour is not grey: the series lines (Rickshaw's palette, muted browns included), not the
// white background, the grey grid or the black axis labels (all with R = G = B).
function colouredPixels(png) {
  let n = 0;
  for (let i = 0; i < png.pixels.length; i += png.channels) {
    const r = png.pixels[i], g = png.pixels[i + 1], b = png.pixels[i + 2];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 24) n++;
  }
  return n;
}

async function checkPage(page, url, shotDir) {
  await page.goto(url, { waitUntil: 'load' });
  const ready = `(() => {
    const reg = (window.PromConsole && PromConsole._graph_registry) || [];
    return reg.length > 0 && reg.every((g) => g.rickshawGraph !== null || g.graphTd.querySelector('.prom_graph_error'));
  })()`;
  const deadline = Date.now() + 30000;
  while (!(await page.evaluate(ready))) {
    if (Date.now() > deadline) throw new Error(`${url}: the graphs did not render within 30 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await page.waitForTimeout(300); // let the last paint land
  const graphs = await page.evaluate(() => PromConsole._graph_registry.map((g, i) => {
    g.graphTd.setAttribute('data-graph-index', String(i));
    let title = '';
    for (let el = g.params.node.previousElementSibling; el; el = el.previousElementSibling) {
      if (el.tagName === 'H3') { title = el.textContent.trim(); break; }
    }
    let series = 0, points = 0, nonzero = 0;
    for (const d of g.rendered_data || []) {
      for (const r of d.data.result) {
        series++;
        const finite = r.values.map((v) => parseFloat(v[1])).filter(Number.isFinite);
        points += finite.length;
        nonzero += finite.filter((v) => v !== 0).length;
      }
    }
    const err = g.graphTd.querySelector('.prom_graph_error');
    return { title, series, points, nonzero, error: err ? err.textContent : null };
  }));
  for (let i = 0; i < graphs.length; i++) {
    const area = await page.$(`[data-graph-index="${i}"]`);
    graphs[i].coloured_pixels = colouredPixels(decodePng(await area.screenshot()));
  }
  const name = new URL(url).pathname.split('/').pop().replace(/\.html$/, '') || 'console';
  const shot = path.join(shotDir, `${name}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  return { url, shot, graphs };
}

(async () => {
  const [shotDir, ...urls] = process.argv.slice(2);
  if (!shotDir || !urls.length) {
    console.error('usage: node console_graphs_test.js SHOT_DIR URL...');
    process.exit(2);
  }
  fs.mkdirSync(shotDir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'tgpulse-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 1500 }, // tall enough for a whole console: no fixed bar mid-screenshot
  });
  const pages = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    for (const url of urls) {
      errors.length = 0;
      const result = await checkPage(page, url, shotDir);
      result.script_errors = [...errors];
      pages.push(result);
    }
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ pages }));
})().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
