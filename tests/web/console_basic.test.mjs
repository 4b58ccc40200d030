// The console served by airliftd, in Debian's chromium: headers, sign-in, the fleet chart,
// filtering the device list, a read-only token, and a device's own text shown as text.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { setup, until, AIRLIFTD } from './lib.mjs';

const rawStatus = (port, path) => new Promise((resolve, reject) => {
  request({ host: '127.0.0.1', port, path }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject).end();
});

let t;
before(async () => {
  t = await setup();
  await t.deviceOs();
  await t.api('POST', '/v1/products', { name: 'tracker', platform: 10 });
  await t.device('t-01', { product: 'tracker', groups: ['field'] });
  await t.device('t-02', { product: 'tracker', groups: ['lab'] });
  await t.device('lab-03', {});
  await t.device('nap-04', {}, '--sleep', '600'); // a sleepy device: back in 10 minutes
  for (const n of ['t-01', 't-02', 'lab-03', 'nap-04']) await t.reported(n);
  await until('nap-04 asleep', async () => (await t.get('/v1/devices/nap-04')).next_checkin_at);
});
after(() => t && t.close());
afterEach(() => t && t.closePages()); // issue 13 (sort): a test's pages end with it

test('GET / is the console, with a strict CSP, gzip and ETag; bad paths are refused', async () => {
  const res = await fetch(`${t.base}/`, { headers: { 'Accept-Encoding': 'identity' } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/html/);
  assert.equal(res.headers.get('content-security-policy'),
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  const etag = res.headers.get('etag');
  assert.ok(etag);
  assert.equal((await fetch(`${t.base}/`, { headers: { 'If-None-Match': etag, 'Accept-Encoding': 'identity' } })).status, 304);
  // node's fetch always asks for gzip: the precompressed variant comes back, decoded by fetch.
  const js = await fetch(`${t.base}/js/dom.js`);
  assert.equal(js.headers.get('content-encoding'), 'gzip');
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  assert.match(await js.text(), /createTextNode/);
  assert.equal((await fetch(`${t.base}/devices/t-01`)).status, 200, 'a deep link is the app');
  assert.equal((await fetch(`${t.base}/nothing.js`)).status, 404);
  // Sent as they are (node:http does not normalise the path as fetch's URL parser does).
  for (const bad of ['/js/..%2f..%2fetc/passwd', '/a%00b', '/%2e%2e/x', '/js/../../x', '/a%5cb', '/a//b']) {
    assert.equal(await rawStatus(t.http, bad), 400, bad);
  }
  assert.equal((await fetch(`${t.base}/`, { method: 'POST' })).status, 405);
});

test('--web-root serves a directory: its files, FILE.gz beside FILE, 304; without index.html airliftd exits 2', async () => {
  const root = join(t.work, 'www');
  mkdirSync(join(root, 'js'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>mine</title>');
  writeFileSync(join(root, 'js/x.js'), 'export const x = 1;\n'.repeat(50));
  writeFileSync(join(root, 'js/x.js.gz'), gzipSync('export const x = 1;\n'.repeat(50)));
  const dir = join(t.work, 'wr');
  mkdirSync(dir);
  const args = ['--data-dir', join(dir, 'data'), '--http-listen', '127.0.0.1:0', '--coap-listen', '127.0.0.1:0',
    '--port-file', join(dir, 'port')];
  const bad = spawnSync(AIRLIFTD, [...args, '--web-root', join(t.work, 'nothing-here')], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr + bad.stdout, /--web-root has no index\.html/);
  const srv = spawn(AIRLIFTD, [...args, '--web-root', root], { stdio: 'ignore' });
  t.procs.push(srv);
  await until('the second airliftd', () => existsSync(join(dir, 'port')) && readFileSync(join(dir, 'port'), 'utf8').includes('\n'), 10000);
  const base = `http://127.0.0.1:${readFileSync(join(dir, 'port'), 'utf8').split('\n')[0]}`;
  assert.match(await (await fetch(`${base}/devices/x`)).text(), /<title>mine<\/title>/);
  const js = await fetch(`${base}/js/x.js`);
  assert.equal(js.headers.get('content-encoding'), 'gzip');
  assert.match(js.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal((await js.text()).length, 20 * 50);
  const plain = await fetch(`${base}/js/x.js`, { headers: { 'Accept-Encoding': 'identity' } });
  assert.equal(plain.headers.get('content-encoding'), null);
  const again = await fetch(`${base}/js/x.js`, { headers: { 'Accept-Encoding': 'identity', 'If-None-Match': plain.headers.get('etag') } });
  assert.equal(again.status, 304);
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>edited</title>');
  assert.match(await (await fetch(`${base}/`)).text(), /edited/, 'read at each request');
  srv.kill('SIGTERM');
});

test('sign in: a wrong token is refused, the right one shows the fleet; sign out forgets it', async () => {
  const page = await t.page();
  await page.goto(`${t.base}/devices`);
  await page.waitForSelector('#token');
  await t.shot(page, 'signin');
  await page.fill('#token', 'alt_0000');
  await page.click('button[type=submit]');
  await page.waitForSelector('.error');
  assert.match(await page.textContent('.error'), /Token refused/);
  await page.fill('#token', t.token);
  await page.click('button[type=submit]');
  await t.rendered(page, 'devices'); // back where the deep link pointed
  assert.equal(new URL(page.url()).pathname, '/devices');
  assert.ok(!page.url().includes(t.token), 'the token is never in a URL');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('airlift.token')), t.token);
  await page.click('#signout');
  await page.waitForSelector('#token');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('airlift.token')), null);
  assert.deepEqual(page.problems, []);
});

test('the fleet chart counts what the devices report', async () => {
  const page = await t.page();
  await t.signIn(page);
  await t.rendered(page, 'fleet');
  const n = (label) => page.textContent(`a.card[data-count="${label}"] .n`);
  assert.equal(await n('devices'), '4');
  assert.equal(await n('online'), '3');
  assert.equal(await n('sleeping'), '1', 'the sleepy device between check-ins');
  assert.equal(await n('offline'), '0');
  const sys = page.locator('.chart[data-module="system:1"]');
  assert.equal(await sys.locator('text[data-count]').count(), 1);
  assert.equal(await sys.locator('text[data-count]').first().textContent(), '4');
  assert.match(await sys.locator('svg').getAttribute('aria-label'), /0\.6\.4 on 4/);
  assert.equal(await page.locator('.chart[data-module="bootloader:0"] text[data-count]').first().textContent(), '4');
  await t.shot(page, 'fleet');
  // A bar is a link to the devices that run that version.
  assert.equal(await sys.locator('a').first().getAttribute('href'), '/devices?module=system%3A1&version=0.6.4');
  await sys.locator('a').first().click({ noWaitAfter: true });
  await page.waitForURL(/module=system/);
  await t.rendered(page, 'devices');
  assert.equal(await page.locator('#devices tbody tr').count(), 4);
  // The sleeping card lists just the sleepy device (GET /v1/devices?sleeping=true).
  await page.goto(`${t.base}/`);
  await t.rendered(page, 'fleet');
  await page.click('a.card[data-count="sleeping"]');
  await page.waitForURL(/sleeping=true/);
  await until('1 row', async () => (await page.locator('#devices tbody tr').count()) === 1, 5000);
  assert.equal(await page.getAttribute('#devices tbody tr', 'data-device'), 'nap-04');
  // Dark mode and a phone's width.
  const phone = await t.page({ width: 390, height: 800, dark: true });
  await t.signIn(phone);
  await t.rendered(phone, 'fleet');
  await t.shot(phone, 'fleet-phone-dark');
  assert.deepEqual([...page.problems, ...phone.problems], []);
});

test('filter the device list on the server: product, prefix; the back button goes back', async () => {
  const page = await t.page();
  await t.signIn(page, t.token, '/devices');
  await t.rendered(page, 'devices');
  assert.equal(await page.locator('#devices tbody tr').count(), 4);
  await page.selectOption('select[name=product]', 'tracker');
  await page.click('form.filters button[type=submit]');
  await page.waitForURL(/product=tracker/);
  await t.rendered(page, 'devices');
  await until('2 rows', async () => (await page.locator('#devices tbody tr').count()) === 2, 5000);
  assert.match(await page.textContent('#device-count'), /^2 devices match/);
  await page.fill('input[name=prefix]', 't-0');
  await page.fill('input[name=group]', 'lab');
  await page.click('form.filters button[type=submit]');
  await page.waitForURL(/group=lab/);
  await until('1 row', async () => (await page.locator('#devices tbody tr').count()) === 1, 5000);
  assert.equal(await page.getAttribute('#devices tbody tr', 'data-device'), 't-02');
  await t.shot(page, 'devices');
  await page.goBack();
  await until('2 rows again', async () => (await page.locator('#devices tbody tr').count()) === 2, 5000);
  // Keyboard: the device link is reachable and opens the device page (a deep link).
  await page.locator('#devices a', { hasText: 't-01' }).focus();
  await page.keyboard.press('Enter');
  await t.rendered(page, 'device');
  assert.equal(new URL(page.url()).pathname, '/devices/t-01');
  await page.reload();
  await t.rendered(page, 'device');
  assert.equal(await page.textContent('h1'), 't-01');
  // issue 16: the bootloader as users know it, after its version.
  assert.match(await page.textContent('#modules'), /1006\.0\.0 · bootloader 1006 \(Device OS 2\.2\.0\)/);
  await t.shot(page, 'device');
  assert.deepEqual(page.problems, []);
});

test('a read-only token sees no button that changes anything, and the API refuses them', async () => {
  const tok = await t.api('POST', '/v1/tokens', { name: 'viewer', scope: 'read' });
  const read = tok.body.token;
  const page = await t.page();
  await t.signIn(page, read, '/devices/t-01');
  await t.rendered(page, 'device');
  assert.match(await page.textContent('#who-name'), /viewer \(read\)/);
  assert.equal(await page.locator('#flash').count(), 0);
  await page.click('nav a[href="/rollouts"]');
  await t.rendered(page, 'rollouts');
  assert.equal(await page.locator('#new-rollout').count(), 0);
  for (const v of ['/', '/devices', '/images', '/events', '/devices/t-02', '/devices/t-02/flash', '/rollouts/new']) {
    await page.goto(`${t.base}${v}`);
    await page.waitForSelector('body[data-rendered]');
    // Buttons: sign out, and on filter forms the submit that only reads. Nothing else.
    const labels = await page.locator('button').allTextContents();
    for (const l of labels) assert.ok(['Sign out', 'Filter'].includes(l) || /^(Name|Product|Online|Application|System|Update|Last seen|Data)$/.test(l), `${v}: button '${l}'`);
  }
  const refused = await t.api('POST', '/v1/devices/t-01/updates', { images: [t.factoryImages.length ? (await t.get('/v1/images')).images[0].id : ''] }, read);
  assert.equal(refused.status, 403);
  assert.equal((await t.api('POST', '/v1/rollouts', { product: 'tracker', release: '1.0.0' }, read)).status, 403);
  assert.equal((await t.api('GET', '/v1/whoami', undefined, read)).body.scope, 'read');
  assert.deepEqual(page.problems, []);
});

// issue 13 (sort): a column header sorts every matching device on the server, across pages.
test('sorting by last seen orders across pages: the URL holds it, the back button and the keyboard work', async () => {
  const bulk = Array.from({ length: 55 }, (_, i) => `bulk-${String(i).padStart(2, '0')}`); // never seen
  const made = await t.api('POST', '/v1/devices', { devices: bulk.map((name) => ({ name, platform: 10 })) });
  assert.equal(made.status, 201);
  const seen = ['lab-03', 'nap-04', 't-01', 't-02'];
  const rows = (page) => page.locator('#devices tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.device));
  try {
    const page = await t.page();
    await t.signIn(page, t.token, '/devices');
    await t.rendered(page, 'devices');
    // Name order: the first page is bulk devices only.
    assert.deepEqual((await rows(page)).slice(0, 3), ['bulk-00', 'bulk-01', 'bulk-02']);
    assert.equal(await page.getAttribute('th:has(button[data-sort=name])', 'aria-sort'), 'ascending');
    // From the keyboard: Last seen, ascending; the devices ever seen first, never seen last.
    await page.locator('button[data-sort=last_seen]').focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/sort=last_seen/);
    await t.rendered(page, 'devices');
    await until('sorted', async () => (await rows(page))[0] !== 'bulk-00', 5000);
    const first = await rows(page);
    assert.equal(first.length, 50);
    assert.deepEqual(first.slice(0, 4).sort(), seen, 'the seen devices lead page 1');
    assert.deepEqual(first.slice(4), bulk.slice(0, 46), 'then the never seen, by name');
    assert.equal(await page.getAttribute('th:has(button[data-sort=last_seen])', 'aria-sort'), 'ascending');
    assert.equal(await page.getAttribute('th:has(button[data-sort=name])', 'aria-sort'), null);
    // The next page follows the sort (its cursor is the server's).
    assert.match(await page.getAttribute('#next-page', 'href'), /sort=last_seen&after=~bulk-45|after=~bulk-45.*sort=last_seen|sort=last_seen.*after=%7Ebulk-45/);
    await page.click('#next-page');
    await until('page 2', async () => (await rows(page))[0] === 'bulk-46', 5000);
    assert.deepEqual(await rows(page), bulk.slice(46), 'page 2: the rest, each device once');
    // Again on the header: descending, and never seen devices still last.
    await page.click('button[data-sort=last_seen]');
    await page.waitForURL(/sort=-last_seen/);
    await until('descending', async () => seen.includes((await rows(page))[0]), 5000);
    const desc = await rows(page);
    assert.deepEqual(desc.slice(0, 4).sort(), seen);
    assert.deepEqual(desc.slice(4), bulk.slice(0, 46));
    assert.equal(await page.getAttribute('th:has(button[data-sort=last_seen])', 'aria-sort'), 'descending');
    // (Among the four, the order is the server's; they keep checking in, so it is not pinned here.)
    const times = await Promise.all(desc.slice(0, 4).map(async (n) => (await t.get(`/v1/devices/${n}`)).last_seen_at));
    assert.ok(times.every((x) => x), 'all four seen');
    // Back: page 2 of the ascending sort, then page 1; a deep link shows the same.
    await page.goBack();
    await until('back to page 2', async () => (await rows(page))[0] === 'bulk-46', 5000);
    await page.goBack();
    await until('back to page 1', async () => (await rows(page)).length === 50 && seen.includes((await rows(page))[0]), 5000);
    assert.match(page.url(), /sort=last_seen/);
    await page.goto(`${t.base}/devices?sort=-bytes`);
    await t.rendered(page, 'devices');
    assert.equal(await page.getAttribute('th:has(button[data-sort=bytes])', 'aria-sort'), 'descending');
    assert.deepEqual((await rows(page)).slice(0, 4).sort(), seen, 'a deep link to a sort');
    assert.deepEqual(page.problems, []);
  } finally {
    for (const name of bulk) await t.api('DELETE', `/v1/devices/${name}`);
  }
});
