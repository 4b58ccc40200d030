// Changing the fleet from the console, in Debian's chromium: flash a device from its page to
// confirmed; a rollout in waves, previewed then started, completes; a release that never
// confirms pauses itself and the page says why; the device's own revert reason (markup)
// is shown as text and runs nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, until } from './lib.mjs';

const XSS = '<img src=x onerror=alert(1)>';
let t;
let app1;
let bad;

before(async () => {
  t = await setup();
  await t.deviceOs();
  app1 = await t.app('app1', '1.0.0');
  bad = await t.app('bad', '2.0.0', 6000);
  await t.api('POST', '/v1/products', { name: 'tracker', platform: 10 });
  await t.api('POST', '/v1/products', { name: 'brick', platform: 10 });
  await t.api('POST', '/v1/products/tracker/releases', { version: '1.0.0', channel: 'stable', images: [app1],
    notes: '<b>first</b> release' });
  await t.api('POST', '/v1/products/brick/releases', { version: '2.0.0', channel: 'stable', images: [bad] });
  await t.device('solo', {});
  for (const n of ['w-1', 'w-2', 'w-3']) await t.device(n, { product: 'tracker', groups: ['field'] });
  for (const n of ['b-1', 'b-2']) await t.device(n, { product: 'brick' }, '--never-confirm', '--revert-reason', XSS);
  for (const n of ['solo', 'w-1', 'w-2', 'w-3', 'b-1', 'b-2']) await t.reported(n);
});
after(() => t && t.close());

test('flash a device from its page: plan, cost, the typed MB figure, live to confirmed', async () => {
  const page = await t.page();
  await t.signIn(page, t.token, '/devices/solo');
  await t.rendered(page, 'device');
  await page.click('#flash');
  await t.rendered(page, 'flash');
  assert.equal(new URL(page.url()).pathname, '/devices/solo/flash');
  await page.selectOption('select[data-module="application 1"]', app1);
  await page.click('#show-plan');
  await page.waitForSelector('#plan-cost');
  const cost = await page.textContent('#plan-cost');
  const figure = /about (\d+\.\d\d) MB/.exec(cost)[1];
  const dry = await t.api('POST', '/v1/devices/solo/updates', { images: [app1], dry_run: true });
  assert.equal(figure, Math.max(dry.body.wire_estimate / 1e6, 0.01).toFixed(2), 'the figure the CLI asks for');
  assert.ok(await page.isDisabled('#flash-go'));
  await page.fill('#typed-mb', '9.99');
  assert.ok(await page.isDisabled('#flash-go'), 'a wrong figure does not arm the button');
  await page.fill('#typed-mb', figure);
  await t.shot(page, 'flash-plan');
  await page.click('#flash-go');
  await page.waitForSelector('#flash-state');
  await page.waitForFunction(() => /succeeded/.test(document.querySelector('#flash-state').textContent), null, { timeout: 120000 });
  assert.match(await page.textContent('#flash-state'), /runs the new firmware, confirmed/);
  await t.shot(page, 'flash');
  const d = await t.get('/v1/devices/solo');
  assert.equal(d.inventory.boot_state, 'confirmed');
  assert.equal(d.inventory.modules.find((m) => m.function === 'application').version, '1.0.0');
  assert.deepEqual(page.problems, []);
});

test('create a rollout in waves with a preview, and watch it complete', async () => {
  const page = await t.page();
  await t.signIn(page, t.token, '/rollouts');
  await t.rendered(page, 'rollouts');
  await page.click('#new-rollout');
  await t.rendered(page, 'rollout-new');
  await page.selectOption('#ro-product', 'tracker');
  await page.waitForSelector('#ro-release option[value="1.0.0"]', { state: 'attached' });
  await page.fill('#ro-waves', '1, 100%');
  await page.click('#ro-preview');
  await page.waitForSelector('#ro-wave-plan');
  const waves = await page.locator('#ro-wave-plan tbody tr').allTextContents();
  assert.deepEqual(waves, ['11', '22'], 'wave 1: 1 device, wave 2: 2 devices');
  assert.match(await page.textContent('#ro-summary'), /^3 devices, 3 to move, 0 pinned; estimated/);
  assert.equal((await t.get('/v1/rollouts')).rollouts.length, 0, 'a preview starts nothing');
  await t.shot(page, 'rollout-new');
  await page.click('#ro-start');
  await page.click('dialog button[value=ok]');
  await page.waitForURL(/\/rollouts\/\d+$/);
  await t.rendered(page, 'rollout');
  await page.waitForFunction(() => document.querySelector('#ro-state').textContent === 'completed', null, { timeout: 150000 });
  const rows = await page.locator('#ro-wave-table tbody tr').count();
  assert.equal(rows, 2);
  await t.shot(page, 'rollout');
  const id = Number(new URL(page.url()).pathname.split('/').pop());
  assert.equal((await t.get(`/v1/rollouts/${id}`)).counts.succeeded, 3);
  assert.deepEqual(page.problems, []);
});

test('a release that never confirms pauses itself, and the page says why; cancel with confirmation', async () => {
  const r = await t.api('POST', '/v1/rollouts', { product: 'brick', release: '2.0.0', error_count: 1 });
  assert.equal(r.status, 201);
  const page = await t.page();
  await t.signIn(page, t.token, `/rollouts/${r.body.id}`);
  await t.rendered(page, 'rollout');
  await page.waitForFunction(() => document.querySelector('#ro-state').textContent === 'paused', null, { timeout: 150000 });
  await page.waitForSelector('#ro-why');
  const why = await page.textContent('#ro-why');
  assert.equal(why, `Paused: ${(await t.get(`/v1/rollouts/${r.body.id}`)).why}`);
  assert.match(why, /revert|fail/);
  await t.shot(page, 'rollout-paused');
  assert.ok(await page.isVisible('#ro-resume'));
  await page.click('#ro-cancel');
  await page.click('dialog button[value=cancel]');
  assert.equal((await t.get(`/v1/rollouts/${r.body.id}`)).state, 'paused', 'no confirmation, nothing done');
  await page.click('#ro-cancel');
  await page.click('dialog button[value=ok]');
  await page.waitForFunction(() => document.querySelector('#ro-state').textContent === 'cancelled', null, { timeout: 10000 });
  assert.deepEqual(page.problems, []);
});

test('a revert reason written as markup is shown as text and runs nothing', async () => {
  const name = await until('a reverted device', async () => {
    for (const n of ['b-1', 'b-2']) {
      const d = await t.get(`/v1/devices/${n}`);
      if (d.inventory && d.inventory.reason === XSS) return n;
    }
    return null;
  }, 150000);
  const page = await t.page();
  await page.addInitScript(() => { window.alert = () => { window.__ran = true; }; });
  await t.signIn(page, t.token, `/devices/${name}`);
  await t.rendered(page, 'device');
  assert.equal(await page.textContent('#reason'), XSS);
  assert.equal(await page.locator('#reason img').count(), 0);
  assert.equal(await page.locator('main img').count(), 0);
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => window.__ran === true), false);
  await t.shot(page, 'device-reverted');
  // Release notes written as markup are text too.
  await page.click('nav a[href="/images"]');
  await t.rendered(page, 'images');
  assert.ok((await page.locator('.notes').allTextContents()).includes('<b>first</b> release'));
  assert.equal(await page.locator('main b').count(), 0);
  await t.shot(page, 'images');
  await page.click('nav a[href="/events"]');
  await t.rendered(page, 'events');
  await page.waitForFunction(() => document.querySelector('#stream-state').textContent === 'connected');
  await t.shot(page, 'events');
  assert.deepEqual(page.problems, []);
});
