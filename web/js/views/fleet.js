// Fleet: counts and the firmware distribution, one bar chart per module.
import { api, qs } from '../api.js';
import { h, append, s, num, rendered, clear } from '../dom.js';
import { follow, debounce } from '../stream.js';

const count = (params, signal) => api(`/devices${qs({ ...params, limit: 1, count: 'true' })}`, { signal }).then((r) => r.count);

const moduleName = (m) => (m.function === 'system' ? `system part ${m.index}`
  : m.function === 'application' || m.function === 'bootloader' ? m.function : `${m.function} ${m.index}`);

// One module's versions as horizontal bars; each bar links to the devices running it.
function chart(m) {
  const rowH = 24;
  const labelW = 110;
  const width = 360;
  const max = Math.max(...m.versions.map((v) => v.devices), 1);
  const hgt = m.versions.length * rowH + 6;
  const svg = s('svg', { viewBox: `0 0 ${width} ${hgt}`, role: 'img',
    'aria-label': `${moduleName(m)}: ${m.versions.map((v) => `${v.version} on ${v.devices}`).join(', ')}` });
  m.versions.forEach((v, i) => {
    const y = i * rowH + 3;
    const w = Math.max(2, ((width - labelW - 60) * v.devices) / max);
    const href = `/devices${qs({ module: `${m.function}:${m.index}`, version: v.version })}`;
    svg.append(s('a', { href, 'aria-label': `${v.version}: ${v.devices} devices` },
      s('text', { x: 0, y: y + 15 }, v.version),
      s('rect', { class: 'bar', x: labelW, y, width: w, height: rowH - 6, rx: 3 }),
      s('text', { x: labelW + w + 6, y: y + 15, 'data-count': v.devices }, num(v.devices))));
  });
  return h('div', { class: 'panel chart', 'data-module': `${m.function}:${m.index}` },
    h('h2', {}, `${moduleName(m)} `, h('span', { class: 'muted' }, `(${num(m.devices)} devices)`)), svg);
}

export async function view(main, _params, _query, signal) {
  const cards = h('div', { class: 'cards' });
  const charts = h('div', { class: 'charts' });
  append(main, h('h1', {}, 'Fleet'), cards, h('h2', {}, 'Firmware distribution'), charts);

  async function load() {
    const [total, online, offline, sleeping, active, failed, reverted, versions] = await Promise.all([
      count({}, signal), count({ online: 'true', sleeping: 'false' }, signal),
      count({ online: 'false', sleeping: 'false' }, signal), count({ sleeping: 'true' }, signal),
      count({ state: 'active' }, signal),
      api('/events?type=update.failed&since=1d&limit=1000', { signal }),
      api('/events?type=update.reverted&since=1d&limit=1000', { signal }),
      api('/fleet/versions', { signal }),
    ]);
    const fails = failed.events.length + reverted.events.length;
    append(clear(cards), ...[
      ['devices', total, '/devices'], ['online', online, '/devices?online=true&sleeping=false'],
      ['offline', offline, '/devices?online=false&sleeping=false'],
      ['sleeping', sleeping, '/devices?sleeping=true'], ['updates under way', active, '/devices?state=active'],
      ['failures, last 24 h', fails, '/events?type=update.&since=1d'],
    ].map(([label, n, href]) => h('a', { class: 'card', href, 'data-count': label },
      h('div', { class: 'n' }, num(n)), h('div', { class: 'l' }, label))));
    clear(charts);
    if (!versions.modules.length) charts.append(h('p', { class: 'muted' }, 'No device has reported its firmware yet.'));
    for (const m of versions.modules) charts.append(chart(m));
  }
  await load();
  rendered('fleet');
  // Live: what changes the counts is an update's progress or a device's report.
  const again = debounce(() => load().catch(() => {}), 1000);
  return follow({}, (e) => { if (e.type.startsWith('update.') || e.type.startsWith('device.')) again(); });
}
