// Devices: a page of the fleet at a time (keyset paging, GET /v1/devices), filtered on the
// server; the URL holds the filters and the page, so a filtered list is a link.
import { api, qs } from '../api.js';
import { h, append, presence, num, ago, bytes, pill, rendered } from '../dom.js';
import { navigate } from '../router.js';

const PAGE = 50;
const FILTERS = ['prefix', 'product', 'group', 'channel', 'module', 'version', 'online', 'sleeping', 'state'];
const version = (d, fn, idx) => (d.modules.find((m) => m.function === fn && m.index === idx) || {}).version || '—';
const COLS = [
  { key: 'name', label: 'Name', get: (d) => d.name },
  { key: 'product', label: 'Product', get: (d) => d.product || '' },
  { key: 'online', label: 'Online', get: (d) => (d.online ? 1 : 0) },
  { key: 'application', label: 'Application', get: (d) => version(d, 'application', 1) },
  { key: 'system', label: 'System', get: (d) => version(d, 'system', 1) },
  { key: 'update', label: 'Update', get: (d) => (d.update ? d.update.state : '') },
  { key: 'seen', label: 'Last seen', get: (d) => d.last_seen_at || '' },
  { key: 'data', label: 'Data', num: true, get: (d) => d.bytes_sent + d.bytes_received },
];

function select(name, label, options, value) {
  return h('label', {}, label, h('select', { name },
    options.map(([v, t]) => h('option', { value: v, selected: v === (value || '') ? true : null }, t))));
}

export async function view(main, _params, query, signal) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, query[k] || '']));
  const t0 = performance.now();
  const [products, page] = await Promise.all([
    api('/products', { signal }).catch(() => ({ products: [] })),
    api(`/devices${qs({ ...filters, after: query.after, limit: PAGE, count: 'true' })}`, { signal })]);
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    if (f.module && !f.version) delete f.module;
    navigate(`/devices${qs(f)}`);
  } },
  h('label', {}, 'Name starts with', h('input', { name: 'prefix', type: 'search', value: filters.prefix })),
  select('product', 'Product', [['', 'any'], ...products.products.map((p) => [p.name, p.name])], filters.product),
  h('label', {}, 'Group', h('input', { name: 'group', value: filters.group, size: 10 })),
  h('label', {}, 'Channel', h('input', { name: 'channel', value: filters.channel, size: 8 })),
  select('module', 'Module', [['', 'any'], ['application:1', 'application'], ['system:1', 'system part 1'],
    ['system:2', 'system part 2'], ['system:3', 'system part 3'], ['bootloader:0', 'bootloader']], filters.module),
  h('label', {}, 'Version', h('input', { name: 'version', value: filters.version, size: 8, placeholder: 'X.Y.Z' })),
  select('online', 'Online', [['', 'any'], ['true', 'online'], ['false', 'not online']], filters.online),
  select('sleeping', 'Sleeping', [['', 'any'], ['true', 'sleeping'], ['false', 'not sleeping']], filters.sleeping),
  select('state', 'Update', [['', 'any'], ['none', 'none'], ['active', 'any under way'], ['queued', 'queued'],
    ['downloading', 'downloading'], ['installing', 'installing'], ['confirming', 'confirming']], filters.state),
  h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  h('a', { class: 'btn', href: '/devices' }, 'Clear'));
  append(main, h('h1', {}, 'Devices'), form);

  const status = h('p', { class: 'muted', id: 'device-count' },
    `${num(page.count)} device${page.count === 1 ? '' : 's'} match`, query.after ? ` (after ${query.after})` : '');
  const body = h('tbody');
  let sort = { key: null, dir: 1 };
  const head = h('tr', {}, COLS.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null },
    h('button', { type: 'button', 'data-sort': c.key, onclick: () => {
      sort = { key: c.key, dir: sort.key === c.key ? -sort.dir : 1 };
      for (const b of head.querySelectorAll('th')) b.removeAttribute('aria-sort');
      head.children[COLS.indexOf(c)].setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
      draw();
    } }, c.label))));
  function draw() {
    const rows = [...page.devices];
    if (sort.key) {
      const c = COLS.find((x) => x.key === sort.key);
      rows.sort((a, b) => { const x = c.get(a); const y = c.get(b); return (x < y ? -1 : x > y ? 1 : 0) * sort.dir; });
    }
    body.replaceChildren(...rows.map((d) => h('tr', { 'data-device': d.name },
      h('td', {}, h('a', { href: `/devices/${encodeURIComponent(d.name)}` }, d.name)),
      h('td', {}, d.product || '—'),
      h('td', {}, pill(presence(d))),
      h('td', {}, version(d, 'application', 1)),
      h('td', {}, version(d, 'system', 1)),
      h('td', {}, d.update ? pill(d.update.state) : '—'),
      h('td', {}, ago(d.last_seen_at)),
      h('td', { class: 'num' }, bytes(d.bytes_sent + d.bytes_received)))));
  }
  draw();
  const pager = h('div', { class: 'pager' },
    query.after ? h('a', { class: 'btn', href: `/devices${qs(filters)}` }, 'First page') : null,
    page.next ? h('a', { class: 'btn', id: 'next-page', href: `/devices${qs({ ...filters, after: page.next })}`, rel: 'next' }, 'Next page') : null);
  append(main, status, h('div', { class: 'table-wrap' }, h('table', { id: 'devices' }, h('thead', {}, head), body)), pager,
    h('p', { class: 'muted' }, 'Sorting by a column sorts this page; filters and paging are the server\'s.'));
  rendered('devices');
  performance.measure('airlift:devices:load', { start: t0, end: performance.now() });
}
