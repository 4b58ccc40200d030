// Devices: a page of the fleet at a time (keyset paging, GET /v1/devices), filtered and
// sorted on the server (sort=, issue 13); the URL holds the filters, the sort and the page,
// so a filtered, sorted list is a link and the back button returns to the order before.
import { api, qs } from '../api.js';
import { h, append, presence, num, ago, bytes, pill, rendered, versionText } from '../dom.js';
import { navigate } from '../router.js';

const PAGE = 50;
const FILTERS = ['prefix', 'product', 'group', 'channel', 'module', 'version', 'online', 'sleeping', 'state'];
const version = (d, fn, idx) => { const m = d.modules.find((x) => x.function === fn && x.index === idx); return m ? versionText(m) : '—'; };
// sort: the API's sort key of a column the server can order by (docs/api.md, Sorting).
const COLS = [
  { key: 'name', label: 'Name', sort: 'name' },
  { key: 'product', label: 'Product' },
  { key: 'online', label: 'Online' },
  { key: 'application', label: 'Application' },
  { key: 'system', label: 'System' },
  { key: 'update', label: 'Update', sort: 'state' },
  { key: 'seen', label: 'Last seen', sort: 'last_seen' },
  { key: 'data', label: 'Data', num: true, sort: 'bytes' },
];
const SORTS = COLS.filter((c) => c.sort).map((c) => c.sort);
// The sort of the URL (?sort=-last_seen): {key, desc}; anything unknown is name order.
function parseSort(s) {
  const desc = (s || '').startsWith('-');
  const key = desc ? s.slice(1) : s;
  return SORTS.includes(key) ? { key, desc } : { key: 'name', desc: false };
}

function select(name, label, options, value) {
  return h('label', {}, label, h('select', { name },
    options.map(([v, t]) => h('option', { value: v, selected: v === (value || '') ? true : null }, t))));
}

export async function view(main, _params, query, signal) {
  const filters = Object.fromEntries(FILTERS.map((k) => [k, query[k] || '']));
  const order = parseSort(query.sort);
  // The sort in the URL and the API, '' for the default (name order: a shorter link).
  const sortParam = order.key === 'name' && !order.desc ? '' : `${order.desc ? '-' : ''}${order.key}`;
  const listed = { ...filters, sort: sortParam }; // what every link of this view keeps
  const t0 = performance.now();
  const [products, page] = await Promise.all([
    api('/products', { signal }).catch(() => ({ products: [] })),
    api(`/devices${qs({ ...listed, after: query.after, limit: PAGE, count: 'true' })}`, { signal })]);
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
  sortParam ? h('input', { type: 'hidden', name: 'sort', value: sortParam }) : null,
  h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  h('a', { class: 'btn', href: '/devices' }, 'Clear'));
  append(main, h('h1', {}, 'Devices'), form);

  const status = h('p', { class: 'muted', id: 'device-count' },
    `${num(page.count)} device${page.count === 1 ? '' : 's'} match`, query.after ? ` (after ${query.after.replace(/^[0-9]*~/, '')})` : '');
  const body = h('tbody');
  // A sortable header is a button (Enter or Space from the keyboard) that asks the server for
  // that order from the first page: the same column again flips the direction. The column
  // the list is sorted by carries aria-sort.
  const head = h('tr', {}, COLS.map((c) => h('th', {
    scope: 'col', class: c.num ? 'num' : null,
    'aria-sort': c.sort === order.key ? (order.desc ? 'descending' : 'ascending') : null,
  }, c.sort ? h('button', { type: 'button', 'data-sort': c.sort, onclick: () => {
    const desc = c.sort === order.key ? !order.desc : false;
    navigate(`/devices${qs({ ...filters, sort: c.sort === 'name' && !desc ? '' : `${desc ? '-' : ''}${c.sort}` })}`);
  } }, c.label) : c.label)));
  function draw() {
    body.replaceChildren(...page.devices.map((d) => h('tr', { 'data-device': d.name },
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
    query.after ? h('a', { class: 'btn', href: `/devices${qs(listed)}` }, 'First page') : null,
    page.next ? h('a', { class: 'btn', id: 'next-page', href: `/devices${qs({ ...listed, after: page.next })}`, rel: 'next' }, 'Next page') : null);
  append(main, status, h('div', { class: 'table-wrap' }, h('table', { id: 'devices' }, h('thead', {}, head), body)), pager,
    h('p', { class: 'muted' }, 'Sorting, filters and paging are the server\'s: a sort covers every matching device; devices without a value (never seen, no update) come last.'));
  rendered('devices');
  performance.measure('airlift:devices:load', { start: t0, end: performance.now() });
}
