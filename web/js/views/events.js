// Events: the newest events with filters, then the live stream (same filters).
import { api, qs } from '../api.js';
import { h, append, rendered } from '../dom.js';
import { navigate } from '../router.js';
import { follow } from '../stream.js';
import { timelineItem } from './device.js';

const KEYS = ['type', 'device', 'update', 'rollout', 'since'];

export async function view(main, _params, query, signal) {
  const f = Object.fromEntries(KEYS.map((k) => [k, query[k] || '']));
  const state = h('span', { class: 'muted', id: 'stream-state' }, 'connecting…');
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (ev) => { ev.preventDefault(); navigate(`/events${qs(Object.fromEntries(new FormData(form)))}`); } },
    h('label', {}, 'Type starts with', h('input', { name: 'type', value: f.type, placeholder: 'update.', size: 14 })),
    h('label', {}, 'Device', h('input', { name: 'device', value: f.device, size: 14 })),
    h('label', {}, 'Update', h('input', { name: 'update', value: f.update, size: 6, inputmode: 'numeric' })),
    h('label', {}, 'Rollout', h('input', { name: 'rollout', value: f.rollout, size: 6, inputmode: 'numeric' })),
    h('label', {}, 'Since', h('input', { name: 'since', value: f.since, size: 8, placeholder: '1d, 2h' })),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'), h('a', { class: 'btn', href: '/events' }, 'Clear'));
  const list = h('ol', { class: 'timeline', id: 'events', reversed: true });
  append(main, h('h1', {}, 'Events'), form, h('p', {}, 'Live: ', state), list);
  const first = await api(`/events${qs({ ...f, last: 100 })}`, { signal });
  list.append(...[...first.events].reverse().map(timelineItem));
  rendered('events');
  const { since, ...live } = f;
  const after = first.events.length ? first.events[first.events.length - 1].id : undefined;
  return follow({ ...live, after }, (e) => {
    list.prepend(timelineItem(e));
    while (list.children.length > 500) list.lastChild.remove();
  }, (st, detail) => { state.textContent = st === 'open' ? 'connected' : st === 'retry' ? `reconnecting in ${detail / 1000} s` : `stopped: ${detail}`; });
}
