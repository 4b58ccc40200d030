// console.mjs BASE TOKEN: the console's timings and weight in chromium (see console.sh).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), '../tests/web/package.json'));
const { chromium } = require('playwright-core');
const [base, token] = process.argv.slice(2);
const RUNS = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms (runs: ${xs.map((x) => x.toFixed(0)).join(', ')})`;

// As root chromium needs --no-sandbox; it loads only this airliftd's console on 127.0.0.1.
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
  args: process.getuid() === 0 ? ['--no-sandbox'] : [] });
const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
const page = await ctx.newPage();
await page.goto(`${base}/signin`);
await page.evaluate((t) => sessionStorage.setItem('airlift.token', t), token);

const markAt = (name) => page.evaluate((n) => {
  const m = performance.getEntriesByName(n, 'mark');
  return m.length ? m[m.length - 1].startTime : null;
}, name);

const fleet = [];
const list = [];
const swap = [];
const next = [];
const nextClick = [];
let matched = '';
const weight = [];
for (let i = 0; i < RUNS; i++) {
  await page.goto(`${base}/`, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-rendered="fleet"]', { timeout: 20000 });
  fleet.push(await markAt('airlift:fleet'));
  weight.push(await page.evaluate(() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
    .filter((e) => !new URL(e.name).pathname.startsWith('/v1/')).reduce((a, e) => a + e.transferSize, 0)));
  const t0 = await page.evaluate(() => performance.now());
  await page.evaluate(() => { document.body.dataset.rendered = ''; });
  await page.click('nav a[href="/devices"]');
  await page.waitForSelector('body[data-rendered="devices"]', { timeout: 20000 });
  swap.push((await markAt('airlift:devices')) - t0);
  await page.goto(`${base}/devices?after=d-005000`, { waitUntil: 'commit' });
  await page.waitForSelector('body[data-rendered="devices"]', { timeout: 20000 });
  list.push(await markAt('airlift:devices'));
  matched = await page.textContent('#device-count');
  const t1 = await page.evaluate(() => performance.now());
  await page.evaluate(() => { document.body.dataset.rendered = ''; });
  await page.click('#next-page');
  await page.waitForSelector('body[data-rendered="devices"]', { timeout: 20000 });
  next.push((await markAt('airlift:devices')) - (await markAt('airlift:navigate')));
  nextClick.push((await markAt('airlift:devices')) - t1);
}
// The weight of a first visit: a new context, nothing cached.
const cold = await browser.newContext();
const p2 = await cold.newPage();
let bytes = 0;
const files = [];
p2.on('response', async (r) => {
  const u = new URL(r.url());
  if (u.pathname.startsWith('/v1/')) return;
  const h = await r.allHeaders();
  const len = Number(h['content-length'] || 0);
  bytes += len;
  files.push(`${u.pathname} ${len}${h['content-encoding'] ? ` ${h['content-encoding']}` : ''}`);
});
await p2.goto(`${base}/signin`, { waitUntil: 'networkidle' });
console.log(`fleet page, navigation to interactive (counts and chart drawn): ${fmt(fleet)}  [goal < 1000 ms]`);
console.log(`device list page (50 of ${matched}), fresh load of /devices?after=d-005000 (navigation to drawn, all files revalidated): ${fmt(list)}`);
console.log(`device list page, its "Next page" link (the app's navigation to drawn: fetch and render): ${fmt(next)}  [goal < 300 ms]`);
console.log(`  the same from the test driver's click (its own latency included): ${fmt(nextClick)}`);
console.log(`device list page, in-app from the fleet page (click to drawn): ${fmt(swap)}`);
console.log(`page weight, first visit, the console's files as sent (gzip): ${bytes} bytes in ${files.length} files  [goal < 200 KB]`);
console.log(`page weight on a revisit (ETag: 304s): ${median(weight)} bytes`);
for (const f of files.sort()) console.log(`  ${f}`);
await browser.close();
