// Rollouts: the list, and a new rollout with its preview (the dry run of POST /v1/rollouts).
import { api, canChange, whoami } from '../api.js';
import { h, append, num, bytes, pill, time, table, rendered, clear, confirmDialog } from '../dom.js';
import { navigate } from '../router.js';

export async function view(main, _params, _query, signal) {
  const list = await api('/rollouts', { signal });
  append(main, h('h1', {}, 'Rollouts'),
    canChange() ? h('p', {}, h('a', { class: 'btn primary', href: '/rollouts/new', id: 'new-rollout' }, 'New rollout…')) : null,
    list.rollouts.length ? table([{ label: 'Rollout' }, { label: 'Release' }, { label: 'State' }, { label: 'Devices', num: true },
      { label: 'Succeeded', num: true }, { label: 'Why' }, { label: 'Started' }],
    [...list.rollouts].reverse().map((r) => [h('a', { href: `/rollouts/${r.id}` }, `#${r.id}`),
      `${r.release.product} ${r.release.version}`, pill(r.state), num(r.devices), num(r.counts.succeeded), r.why || '',
      time(r.created_at)]), { id: 'rollouts' }) : h('p', { class: 'muted' }, 'No rollout yet.'));
  rendered('rollouts');
}

// "1, 30%, 100%" as waves [{count:1},{percent:30},{percent:100}]; throws on a bad item.
export function parseWaves(text) {
  return text.split(',').map((t) => t.trim()).filter(Boolean).map((t) => {
    const m = /^(\d+)(%?)$/.exec(t);
    if (!m) throw new Error(`waves: '${t}' is neither a device count (3) nor a percentage (30%)`);
    return m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) };
  });
}

const names = (t) => t.split(',').map((x) => x.trim()).filter(Boolean);

export async function create(main, _params, query, signal) {
  if (!canChange()) {
    append(main, h('h1', {}, 'New rollout'), h('p', { class: 'notice' }, `This token (${whoami().scope}) may read, not start rollouts.`));
    rendered('rollout-new');
    return;
  }
  const prods = await api('/products', { signal });
  const product = h('select', { name: 'product', id: 'ro-product' }, prods.products.map((p) => h('option', { value: p.name }, p.name)));
  const release = h('select', { name: 'release', id: 'ro-release' });
  const loadReleases = async () => {
    clear(release);
    if (!product.value) return;
    const r = await api(`/products/${encodeURIComponent(product.value)}/releases`, { signal });
    release.append(...[...r.releases].reverse().map((x) => h('option', { value: x.version }, `${x.version} (${x.channel})`)));
  };
  product.addEventListener('change', loadReleases);
  const field = (label, name, value, extra = {}) => h('label', {}, label, h('input', { name, id: `ro-${name}`, value, ...extra }));
  const form = h('form', { class: 'panel filters', onsubmit: (ev) => { ev.preventDefault(); preview(); } },
    h('label', {}, 'Product', product), h('label', {}, 'Release', release),
    field('Target groups', 'groups', '', { placeholder: 'all' }), field('Target channels', 'channels', '', { placeholder: 'the release\u2019s' }),
    field('Waves', 'waves', query.waves || '100%', { size: 14 }), field('Success % to open the next wave', 'success_percent', '100', { type: 'number', min: 1, max: 100 }),
    field('Pause after failures', 'error_count', '0', { type: 'number', min: 0 }), field('or failure %', 'error_percent', '0', { type: 'number', min: 0, max: 100 }),
    field('Updates per minute (0: no limit)', 'rate_per_min', '0', { type: 'number', min: 0 }),
    field('Data budget per device per day, bytes (0: none)', 'budget_bytes_per_day', '0', { type: 'number', min: 0 }),
    h('button', { type: 'submit', class: 'primary', id: 'ro-preview' }, 'Preview'));
  const out = h('div', { id: 'ro-out' });
  append(main, h('h1', {}, 'New rollout'), form, out);
  await loadReleases();
  rendered('rollout-new');

  function spec() {
    const f = Object.fromEntries(new FormData(form));
    const target = {};
    if (names(f.groups).length) target.groups = names(f.groups);
    if (names(f.channels).length) target.channels = names(f.channels);
    return { product: f.product, release: f.release, target, waves: parseWaves(f.waves),
      success_percent: Number(f.success_percent), error_count: Number(f.error_count), error_percent: Number(f.error_percent),
      rate_per_min: Number(f.rate_per_min), budget_bytes_per_day: Number(f.budget_bytes_per_day) };
  }
  async function preview() {
    clear(out);
    let body, p;
    try {
      body = spec();
      p = await api('/rollouts', { method: 'POST', body: { ...body, dry_run: true } });
    } catch (e) {
      append(out, h('p', { class: 'error', role: 'alert' }, e.message));
      return;
    }
    const start = h('button', { class: 'primary', type: 'button', id: 'ro-start', onclick: async () => {
      if (!await confirmDialog('Start this rollout?', `${body.product} ${body.release} to ${p.movable} devices in ${p.waves.length} waves, about ${bytes(p.wire_estimate)} on the air for the first ${p.list.length}.`, { ok: 'Start' })) return;
      try {
        const r = await api('/rollouts', { method: 'POST', body });
        navigate(`/rollouts/${r.id}`);
      } catch (e) { append(out, h('p', { class: 'error', role: 'alert' }, e.message)); }
    } }, 'Start rollout');
    append(out, h('h2', {}, 'Preview'),
      h('p', { id: 'ro-summary' }, `${num(p.devices)} devices, ${num(p.movable)} to move, ${num(p.pinned)} pinned; estimated ${bytes(p.wire_estimate)} on the air`,
        p.next_offset !== null ? ` for the first ${num(p.list.length)} devices` : '', '.'),
      table([{ label: 'Wave' }, { label: 'Devices', num: true }], p.waves.map((w) => [String(w.wave), num(w.devices)]), { id: 'ro-wave-plan' }),
      table([{ label: 'Device' }, { label: 'Wave' }, { label: 'Needs' }, { label: 'Bytes on the air', num: true }],
        p.list.slice(0, 20).map((x) => [x.device, String(x.wave), x.needs === 'pinned' ? `pinned (${x.why})` : x.needs === 'error' ? `error: ${x.why}` : x.needs,
          x.wire_estimate ? bytes(x.wire_estimate) : '—'])),
      h('div', { class: 'row' }, start));
  }
}
