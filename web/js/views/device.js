// Device: what it runs as it last reported, boot state and its own reason for a revert,
// next check-in, data used, its rollout, and a live timeline of its updates and events.
import { api, qs, canChange } from '../api.js';
import { h, append, presence, time, ago, bytes, pill, table, rendered, clear, versionText } from '../dom.js';
import { follow, debounce } from '../stream.js';

export function eventText(e) {
  const d = e.data || {};
  const bits = [];
  if (d.why) bits.push(d.why);
  if (d.result && d.result !== 'success' && d.result !== 'none') bits.push(d.result);
  if (d.state) bits.push(d.state);
  if (d.wave) bits.push(`wave ${d.wave}`);
  if (d.version) bits.push(d.version);
  return bits.join(' · ');
}

export function timelineItem(e) {
  return h('li', { 'data-event': e.id },
    h('span', { class: 'muted' }, time(e.ts)),
    h('span', {}, pill(e.type), e.update_id ? [' ', h('a', { href: `/events${qs({ update: e.update_id })}` }, `#${e.update_id}`)] : null),
    h('span', {}, e.device ? [h('a', { href: `/devices/${encodeURIComponent(e.device)}` }, e.device), ' '] : null,
      eventText(e), e.actor ? h('span', { class: 'muted' }, ` by ${e.actor}`) : null));
}

export async function view(main, { name }, _query, signal) {
  const enc = encodeURIComponent(name);
  const title = h('h1', {}, name);
  const top = h('div');
  const body = h('div');
  append(main, title, top, body);

  async function load() {
    const [d, ups, evs] = await Promise.all([
      api(`/devices/${enc}`, { signal }),
      api(`/devices/${enc}/updates`, { signal }),
      api(`/events${qs({ device: name, last: 50 })}`, { signal }),
    ]);
    const inv = d.inventory;
    append(clear(top), h('div', { class: 'row' },
      pill(presence(d)),
      d.update ? [pill(d.update.state), ' ', h('span', {}, `update #${d.update.id} under way`)] : null,
      canChange() ? h('a', { class: 'btn primary', href: `/devices/${enc}/flash`, id: 'flash' }, 'Flash…') : null));
    const usedPer = ups.updates.map((u) => u.bytes_sent + u.bytes_received).reduce((a, b) => a + b, 0);
    const facts = [
      ['Platform', d.platform], ['Product', d.product || '—'], ['Groups', d.groups.join(', ') || '—'],
      ['Channel', d.channel], ['Pinned to', d.pinned || '—'], ['Development device', d.dev ? 'yes' : 'no'],
      ['Last seen', `${time(d.last_seen_at)} (${ago(d.last_seen_at)})`],
      ['Last report', time(d.reported_at)],
      ['Next check-in', d.next_checkin_at ? `${time(d.next_checkin_at)} (${ago(d.next_checkin_at)})` : '—'],
      ['Data used', `${bytes(d.bytes_sent + d.bytes_received)} (sent ${bytes(d.bytes_sent)}, received ${bytes(d.bytes_received)}; updates ${bytes(usedPer)})`],
      ['Boot state', inv ? pill(inv.boot_state) : 'never reported'],
      ['Last result', inv ? inv.last_result : '—'],
      ['Device\u2019s reason', h('span', { id: 'reason' }, inv && inv.reason ? inv.reason : '—')],
      ['Rollout', d.rollout ? [h('a', { href: `/rollouts/${d.rollout.id}` }, `#${d.rollout.id} (release ${d.rollout.release})`),
        ` wave ${d.rollout.wave}, `, pill(d.rollout.state)] : '—'],
    ];
    append(clear(body), 
      h('div', { class: 'panel' }, h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
      h('h2', {}, 'Firmware it runs'),
      inv ? table([{ label: 'Module' }, { label: 'Version' }, { label: 'Size', num: true }, { label: 'On trial' }, { label: 'SHA-256' }],
        inv.modules.map((m) => [`${m.function} ${m.index}`, versionText(m), m.size ? bytes(m.size) : '—', m.on_trial ? 'yes' : 'no',
          h('code', {}, m.sha256.slice(0, 16))]), { id: 'modules' })
        : h('p', { class: 'muted' }, 'It has not reported an inventory yet.'),
      h('h2', {}, 'Updates'),
      ups.updates.length ? table([{ label: 'Update' }, { label: 'State' }, { label: 'Queued by' }, { label: 'Queued' },
        { label: 'Why' }, { label: 'Data', num: true }],
      ups.updates.map((u) => [`#${u.id}`, pill(u.state), u.origin, time(u.created_at), u.why || '',
        bytes(u.bytes_sent + u.bytes_received)]), { id: 'updates' }) : h('p', { class: 'muted' }, 'No update yet.'),
      h('h2', {}, 'Timeline'),
      h('ol', { class: 'timeline', id: 'timeline', reversed: true }, [...evs.events].reverse().map(timelineItem)));
  }
  await load();
  rendered('device');
  const again = debounce(() => load().catch(() => {}), 500);
  return follow({ device: name }, () => again());
}
