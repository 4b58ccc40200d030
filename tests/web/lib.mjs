// lib.mjs - what the browser tests share (the JS side of tests/e2e/lib.sh): a real airliftd
// on 127.0.0.1 (ports picked by the kernel, a temp data dir), signed Electron modules, simulated
// devices as real processes (airlift-device, airlift-fleet), and Debian's chromium driven by
// playwright-core. Every test file: const t = await setup(); ... await t.close().
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const SRC = resolve(here, '../..');
export const BUILD = resolve(process.env.AIRLIFT_BUILD || join(SRC, 'build'));
const FW = join(process.env.AIRLIFT_FIRMWARE_DIR || resolve(SRC, '../shared/firmware'), 'electron');
export const AIRLIFTD = join(BUILD, 'server/airliftd');
const AIRLIFT = join(BUILD, 'cli/airlift');
const DEVICE = join(BUILD, 'sim/airlift-device');
// Screenshots go to the build tree; AIRLIFT_SCREENSHOTS=DIR (docs/console) refreshes the docs'.
export const SHOTS = resolve(process.env.AIRLIFT_SCREENSHOTS || join(BUILD, 'web-screenshots'));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn until it returns a truthy value (or throw after timeoutMs).
export async function until(what, fn, timeoutMs = 90000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last && last.message ? last.message : JSON.stringify(last)})`);
}

export async function setup() {
  const work = mkdtempSync(join(tmpdir(), 'airlift-web.'));
  const procs = [];
  const t = { work, procs };
  const args = ['--data-dir', join(work, 'data'), '--http-listen', '127.0.0.1:0', '--coap-listen', '127.0.0.1:0',
    '--port-file', join(work, 'port'), '--admin-token-file', join(work, 'admin-token')];
  // The store, as tests/e2e/lib.sh has it: AIRLIFT_TEST_STORE_URL, or with AIRLIFT_TEST_PG_DIR
  // (the ctest fixture's cluster) a fresh database of this test's own, dropped if it passes.
  const pgCluster = join(SRC, 'tests/pg/pg-cluster.sh');
  let store = process.env.AIRLIFT_TEST_STORE_URL;
  if (process.env.AIRLIFT_TEST_PG_DIR) {
    t.pgDb = `web_${process.pid}`;
    store = execFileSync(pgCluster, ['createdb', process.env.AIRLIFT_TEST_PG_DIR, t.pgDb], { encoding: 'utf8' }).trim();
  }
  if (store) args.unshift('--store', store);
  const log = join(work, 'airliftd.log');
  t.server = spawn(AIRLIFTD, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  t.server.stderr.on('data', (b) => { writeFileSync(log, b, { flag: 'a' }); });
  procs.push(t.server);
  await until('airliftd to listen', () => existsSync(join(work, 'port')) && readFileSync(join(work, 'port'), 'utf8').split('\n').length >= 3, 10000);
  const [http, coap] = readFileSync(join(work, 'port'), 'utf8').trim().split('\n').map(Number);
  t.http = http;
  t.coap = coap;
  t.base = `http://127.0.0.1:${http}`;
  t.token = readFileSync(join(work, 'admin-token'), 'utf8').trim();

  // The management API with the admin token (or `token`); resolves {status, body}.
  t.api = async (method, path, body, token = t.token) => {
    const res = await fetch(`${t.base}${path}`, { method, headers: { Authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  t.get = async (path) => (await t.api('GET', path)).body;
  t.cli = (...a) => execFileSync(AIRLIFT, a, { env: { ...process.env, AIRLIFT_SERVER: t.base, AIRLIFT_TOKEN: t.token }, encoding: 'utf8' });

  // sign(name, file, ...image create flags): a signed image uploaded; resolves its id.
  t.sign = async (name, file, ...flags) => {
    const key = join(work, 'author.pem');
    if (!existsSync(key)) execFileSync(AIRLIFT, ['keys', 'generate', '--out', key]);
    const out = join(work, `${name}.alim`);
    execFileSync(AIRLIFT, ['image', 'create', '--key', key, '-o', out, ...flags, file]);
    const res = await fetch(`${t.base}/v1/images`, { method: 'POST', body: readFileSync(out),
      headers: { Authorization: `Bearer ${t.token}`, 'Content-Type': 'application/octet-stream' } });
    const j = await res.json();
    if (!res.ok) throw new Error(`upload ${name}: ${JSON.stringify(j)}`);
    return j.id;
  };
  // The Device OS every device starts from (bootloader 2.3.0, system 0.6.4), and 0.7.0.
  t.deviceOs = async () => {
    for (const f of ['bootloader-2.3.0', 'system-part1-0.6.4', 'system-part2-0.6.4', 'system-part3-0.6.4']) {
      await t.sign(f, join(FW, `${f}.bin`));
    }
  };
  t.factoryImages = ['bootloader-2.3.0', 'system-part1-0.6.4', 'system-part2-0.6.4', 'system-part3-0.6.4'].map((f) => join(work, `${f}.alim`));
  // app(name, version, size): a signed application of random bytes; resolves its id.
  t.app = async (name, version, size = 8192) => {
    const bin = join(work, `${name}.bin`);
    const buf = Buffer.alloc(size);
    for (let i = 0; i < size; i++) buf[i] = (i * 7919 + version.length * 31 + name.length) & 0xff;
    writeFileSync(bin, buf);
    return t.sign(name, bin, '--function', 'application', '--index', '1', '--platform', '10', '--version', version,
      '--link-address', '0x08080000');
  };
  // device(name, fleetFields, ...run flags): registered, factory flash, provisioned, running.
  t.device = async (name, fields = {}, ...runFlags) => {
    const reg = await t.api('POST', '/v1/devices', { name, platform: 10, ...fields });
    if (reg.status !== 201) throw new Error(`device ${name}: ${JSON.stringify(reg.body)}`);
    const dir = join(work, name);
    execFileSync(DEVICE, ['create', dir, '--trust', join(work, 'author.pub.pem')]);
    execFileSync(DEVICE, ['factory', dir, ...t.factoryImages]);
    execFileSync(DEVICE, ['provision', dir, '--server', `127.0.0.1:${t.coap}`, '--identity', reg.body.identity, '--psk', reg.body.psk]);
    const p = spawn(DEVICE, ['run', dir, '--retry-ms', '200', ...runFlags], { stdio: 'ignore' });
    procs.push(p);
    return p;
  };
  t.reported = (name) => until(`${name} to report`, async () => (await t.get(`/v1/devices/${name}`)).reported_at);

  // The browser: Debian's chromium, headless. As root (CI runs as root) chromium refuses to
  // start without --no-sandbox; the tests load only this airliftd's console on 127.0.0.1.
  t.browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [] });
  // page({width, height, dark}): a new page that fails the test on any dialog, page error
  // or console error (a CSP violation is one).
  // closePages(): close every page made so far, and their connections: airliftd takes at
  // most 32 connections per address (http_guard.h), and each open page keeps several.
  t.contexts = [];
  t.closePages = async () => { for (const c of t.contexts.splice(0)) await c.close().catch(() => {}); };
  t.page = async ({ width = 1280, height = 860, dark = false } = {}) => {
    const ctx = await t.browser.newContext({ viewport: { width, height }, colorScheme: dark ? 'dark' : 'light', locale: 'en-GB', timezoneId: 'UTC' });
    t.contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(60000); // a loaded 2-core machine (CI) is slow; nothing here waits on the clock
    page.problems = [];
    page.on('dialog', (d) => { page.problems.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
    page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource.*40[134]/.test(m.text())) page.problems.push(`console: ${m.text()}`); });
    return page;
  };
  // Sign page in with token (the admin's by default) on path.
  t.signIn = async (page, token = t.token, path = '/') => {
    await page.goto(`${t.base}${path}`);
    await page.waitForSelector('#token');
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForSelector('#nav:not([hidden])');
  };
  // The view has rendered its data (dom.js rendered()).
  t.rendered = (page, view) => page.waitForSelector(`body[data-rendered="${view}"]`, { timeout: 30000 });
  t.shot = async (page, name) => {
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  };
  t.close = async () => {
    if (t.browser) await t.browser.close().catch(() => {});
    for (const p of procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
    if (!process.exitCode) {
      rmSync(work, { recursive: true, force: true });
      if (t.pgDb) execFileSync(pgCluster, ['dropdb', process.env.AIRLIFT_TEST_PG_DIR, t.pgDb]);
    }
  };
  return t;
}
