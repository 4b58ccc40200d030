// Flash: pick held images, see the plan and its cost (the dry run of
// POST /v1/devices/{name}/updates), confirm by typing the MB figure as `airlift flash` asks
// (wire_estimate / 1e6 with two decimals, at least 0.01), then follow the update live to
// the device's confirmed report.
import { api, qs, canChange, whoami } from '../api.js';
import { h, append, bytes, pill, table, rendered, clear, time, versionText } from '../dom.js';
import { follow } from '../stream.js';

// The figure the CLI asks for (cli/cmd_flash.c).
export const mbFigure = (wire) => Math.max(wire / 1e6, 0.01).toFixed(2);

export async function view(main, { name }, _query, signal) {
  const enc = encodeURIComponent(name);
  if (!canChange()) {
    append(main, h('h1', {}, `Flash ${name}`), h('p', { class: 'notice' }, `This token (${whoami().scope}) may read, not flash.`));
    rendered('flash');
    return null;
  }
  const d = await api(`/devices/${enc}`, { signal });
  const imgs = await api(`/images${qs({ platform: d.platform })}`, { signal });
  const runs = new Set((d.inventory ? d.inventory.modules : []).map((m) => m.sha256));
  const byModule = new Map();
  for (const i of imgs.images) {
    const k = `${i.function} ${i.index}`;
    if (!byModule.has(k)) byModule.set(k, []);
    byModule.get(k).push(i);
  }
  const out = h('div', { id: 'plan' });
  const pick = h('form', { class: 'panel', onsubmit: (ev) => { ev.preventDefault(); plan(); } },
    h('p', {}, 'Pick the images it should run (one per module); the server plans the rest.'),
    [...byModule].map(([k, list]) => h('label', {}, k, h('select', { name: k, 'data-module': k },
      h('option', { value: '' }, '— as it is —'),
      list.map((i) => h('option', { value: i.id }, `${versionText(i)} (${bytes(i.file_size)}, key ${i.key_id})${runs.has(i.sha256) ? ' — runs now' : ''}`))))),
    h('div', { class: 'row' }, h('button', { class: 'primary', type: 'submit', id: 'show-plan' }, 'Show the plan')));
  append(main, h('h1', {}, 'Flash ', h('a', { href: `/devices/${enc}` }, name)), pick, out);
  rendered('flash');

  let stop = null;
  async function plan() {
    const images = [...pick.querySelectorAll('select')].map((s) => s.value).filter(Boolean);
    clear(out);
    if (!images.length) { append(out, h('p', { class: 'error' }, 'Pick at least one image.')); return; }
    let p;
    try {
      p = await api(`/devices/${enc}/updates`, { method: 'POST', body: { images, dry_run: true } });
    } catch (e) {
      append(out, h('p', { class: 'error', role: 'alert' }, e.message));
      return;
    }
    if (p.state === 'up_to_date') { append(out, h('p', { class: 'notice' }, `${name} already runs these images.`)); return; }
    const figure = mbFigure(p.wire_estimate);
    const typed = h('input', { id: 'typed-mb', autocomplete: 'off', inputmode: 'decimal', size: 8 });
    const go = h('button', { class: 'primary', type: 'submit', id: 'flash-go', disabled: true }, 'Flash');
    typed.addEventListener('input', () => { go.disabled = typed.value.trim() !== figure; });
    append(out, h('h2', {}, 'Plan'),
      p.estimate_only ? h('p', { class: 'notice' }, 'It has not reported yet: dependencies are checked when it does.') : null,
      table([{ label: '#' }, { label: 'Module' }, { label: 'Version' }, { label: 'Sent as' }, { label: 'Bytes', num: true }],
        p.steps.map((st, i) => [String(i + 1), `${st.function} ${st.index}`, st.version,
          st.encoding !== 'delta' ? st.encoding
            : st.base_also ? `patch from ${st.base_version} and ${st.base_also.length} other part${st.base_also.length === 1 ? '' : 's'}`
            : `patch from ${st.base_version}`, bytes(st.size)]), { id: 'plan-steps' }),
      h('p', { id: 'plan-cost' }, `This update sends about ${figure} MB over the air (${p.wire_estimate} bytes incl. protocol overhead).`),
      h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); if (!go.disabled) start(images); } },
        h('label', {}, `Type ${figure} to confirm`, typed), go));
    typed.focus();
  }

  async function start(images) {
    clear(out);
    let u;
    try {
      u = await api(`/devices/${enc}/updates`, { method: 'POST', body: { images } });
    } catch (e) {
      append(out, h('p', { class: 'error', role: 'alert' }, e.message,
        e.body && e.body.error && e.body.error.update ? [' ', h('a', { href: `/events${qs({ update: e.body.error.update.id })}` }, `update #${e.body.error.update.id}`)] : null));
      return;
    }
    if (!u.id) { append(out, h('p', { class: 'notice' }, `${name} already runs these images.`)); return; }
    const state = h('p', { id: 'flash-state' });
    const bar = h('progress', { max: 1, value: 0, id: 'flash-progress' });
    const log = h('ol', { class: 'timeline' });
    append(out, h('h2', {}, `Update #${u.id}`), state, bar, log);
    const show = (x) => {
      const pr = x.progress || {};
      bar.max = pr.total || 1;
      bar.value = pr.bytes || 0;
      append(clear(state), pill(x.state), ' ',
        x.state === 'succeeded' ? `${name} runs the new firmware, confirmed.` : x.final ? (x.why || '') : `step ${(pr.step || 0) + 1} of ${pr.steps || x.steps.length}, ${bytes(pr.bytes || 0)} of ${bytes(pr.total || 0)}`);
      if (x.final && stop) { stop(); stop = null; }
    };
    show(u);
    stop = follow({ update: u.id, after: 0 }, async (e) => {
      log.prepend(h('li', {}, h('span', { class: 'muted' }, time(e.ts)), pill(e.type), h('span', {}, (e.data && e.data.why) || '')));
      try { show(await api(`/updates/${u.id}`)); } catch { /* the next event tries again */ }
    });
  }
  return () => { if (stop) stop(); };
}
