// A rollout: each wave's progress, live; why it paused; pause, resume and cancel.
import { api, canChange } from '../api.js';
import { h, append, num, pill, time, table, rendered, clear, confirmDialog, announce } from '../dom.js';
import { follow, debounce } from '../stream.js';
import { timelineItem } from './device.js';

export async function view(main, { id }, _query, signal) {
  const head = h('div');
  const body = h('div');
  const tl = h('ol', { class: 'timeline', id: 'timeline', reversed: true });
  append(main, h('h1', {}, `Rollout #${id}`), head, body, h('h2', {}, 'Events'), tl);

  async function act(verb) {
    const danger = verb === 'cancel';
    const msg = danger ? 'Its updates under way are cancelled and the devices not finished are marked cancelled. This cannot be undone.'
      : verb === 'pause' ? 'No new update starts until it is resumed; updates under way run to their end.' : 'It goes on where it stopped.';
    if (!await confirmDialog(`${verb[0].toUpperCase()}${verb.slice(1)} rollout #${id}?`, msg, { ok: verb, danger })) return;
    try { await api(`/rollouts/${id}/${verb}`, { method: 'POST' }); await load(); } catch (e) { append(head, h('p', { class: 'error', role: 'alert' }, e.message)); }
  }

  async function load() {
    const r = await api(`/rollouts/${id}`, { signal });
    const live = r.state === 'running' || r.state === 'paused';
    append(clear(head), 
      h('p', { class: 'row' }, pill(r.state), h('span', { id: 'ro-state' }, r.state), ' ',
        `${r.release.product} ${r.release.version} (${r.release.channel}) · ${num(r.devices)} devices · started ${time(r.created_at)}`),
      r.why ? h('p', { class: r.state === 'paused' ? 'notice' : 'muted', id: 'ro-why' }, r.state === 'paused' ? 'Paused: ' : '', r.why) : null,
      canChange() && live ? h('div', { class: 'row' },
        r.state === 'running' ? h('button', { type: 'button', id: 'ro-pause', onclick: () => act('pause') }, 'Pause') : null,
        r.state === 'paused' ? h('button', { type: 'button', id: 'ro-resume', onclick: () => act('resume') }, 'Resume') : null,
        h('button', { type: 'button', class: 'danger', id: 'ro-cancel', onclick: () => act('cancel') }, 'Cancel')) : null);
    const c = r.counts;
    append(clear(body), 
      table([{ label: 'Wave' }, { label: 'Devices', num: true }, { label: 'Progress' }, { label: 'Succeeded', num: true },
        { label: 'Updating', num: true }, { label: 'Pending', num: true }, { label: 'Failed or reverted', num: true }],
      r.waves.map((w) => [String(w.wave), num(w.devices),
        h('progress', { max: w.devices || 1, value: w.succeeded || 0, 'aria-label': `wave ${w.wave}: ${w.succeeded} of ${w.devices} succeeded` }),
        num(w.succeeded || 0), num(w.updating || 0), num(w.pending || 0), num((w.failed || 0) + (w.reverted || 0))]), { id: 'ro-wave-table' }),
      h('p', { class: 'muted', id: 'ro-counts' }, Object.entries(c).filter(([, n]) => n).map(([k, n]) => `${k} ${num(n)}`).join(' · ')),
      h('p', { class: 'muted' }, `Thresholds: next wave at ${r.success_percent}% succeeded; pause after ${r.error_count || '—'} failures or ${r.error_percent || '—'}% of started updates; ${r.rate_per_min || 'no limit of'} updates a minute.`));
    announce(`rollout ${r.state}`);
  }
  await load();
  const evs = await api(`/events?rollout=${id}&last=50`, { signal });
  tl.append(...[...evs.events].reverse().map(timelineItem));
  rendered('rollout');
  const again = debounce(() => load().catch(() => {}), 400);
  const last = evs.events.length ? evs.events[evs.events.length - 1].id : undefined;
  return follow({ rollout: id, after: last }, (e) => { tl.prepend(timelineItem(e)); again(); });
}
