// dom.js - building the page safely, and the locale's formats.
// Every text that comes from the server (names, reasons, notes) goes in as a text node:
// h() never parses markup, and nothing in the console uses innerHTML.

const SVG = 'http://www.w3.org/2000/svg';

function build(el, props, children) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, ...children);
  return el;
}

// Append children: strings and numbers as text nodes, nodes as they are; arrays flattened;
// null, undefined and false left out (where the DOM's own append would write "null").
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('a', {href: '/x'}, 'text', child...): an HTML element.
export const h = (tag, props, ...children) => build(document.createElement(tag), props, children);
// s('rect', {...}): an SVG element.
export const s = (tag, props, ...children) => build(document.createElementNS(SVG, tag), props, children);

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const numFmt = new Intl.NumberFormat();
const rel = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const units = [['kilobyte', 1e3], ['megabyte', 1e6], ['gigabyte', 1e9]];
const unitFmts = new Map();

// A time (RFC 3339 or ms) in the user's locale; "never" for null.
export function time(t) {
  if (t === null || t === undefined) return 'never';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : dateFmt.format(d);
}

// "in 5 minutes", "3 hours ago".
export function ago(t) {
  if (t === null || t === undefined) return 'never';
  const sec = (new Date(t).getTime() - Date.now()) / 1000;
  const a = Math.abs(sec);
  const [n, u] = a < 60 ? [sec, 'second'] : a < 3600 ? [sec / 60, 'minute']
    : a < 86400 ? [sec / 3600, 'hour'] : [sec / 86400, 'day'];
  return rel.format(Math.round(n), u);
}

export const num = (n) => numFmt.format(n);
// A module's or image's version as users know it (issue 16): the server's version_label
// after the version, "1006.0.0 · bootloader 1006 (Device OS 2.2.0)", else the version.
export const versionText = (m) => (m.version_label ? `${m.version} · ${m.version_label}` : m.version);

// Bytes in decimal units (kB, MB, GB: as carriers bill, like the CLI).
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  if (n < 1000) return `${numFmt.format(n)} B`;
  let [unit, div] = units[0];
  for (const u of units) if (n >= u[1]) [unit, div] = u;
  if (!unitFmts.has(unit)) {
    unitFmts.set(unit, new Intl.NumberFormat(undefined,
      { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: 2 }));
  }
  return unitFmts.get(unit).format(n / div);
}

// A device's presence: sleeping (it said when it will be back, and that is ahead), online
// (heard from in the last 60 s) or offline.
export const presence = (d) => (d.next_checkin_at && new Date(d.next_checkin_at) > Date.now() ? 'sleeping'
  : d.online ? 'online' : 'offline');

// A state word as a coloured pill.
export function pill(word) {
  const good = ['succeeded', 'confirmed', 'completed', 'online', 'running', 'ok'];
  const bad = ['failed', 'reverted', 'cancelled', 'offline', 'paused', 'error'];
  const cls = good.includes(word) ? 'pill ok' : bad.includes(word) ? 'pill bad' : 'pill warn';
  return h('span', { class: cls }, word ?? '—');
}

// A table: cols [{label, num?}], rows of cells (strings or nodes).
export function table(cols, rows, props = {}) {
  return h('div', { class: 'table-wrap' }, h('table', props,
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((cell, i) => h('td', { class: cols[i] && cols[i].num ? 'num' : null }, cell)))))));
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err && err.message ? err.message : String(err));
}

// The view has drawn its data: a performance mark the bench and the tests read.
export function rendered(view) {
  performance.mark(`airlift:${view}`);
  document.body.dataset.rendered = view;
}

// A modal confirmation (keyboard: Tab between the buttons, Escape cancels). With `typed`,
// the OK button is enabled only once that exact text is typed. Resolves true or false.
export function confirmDialog(title, message, { ok = 'OK', typed = null, danger = false } = {}) {
  return new Promise((resolve) => {
    const input = typed ? h('input', { id: 'confirm-typed', autocomplete: 'off', 'aria-label': `Type ${typed}` }) : null;
    const okBtn = h('button', { type: 'submit', value: 'ok', class: danger ? 'danger' : 'primary', disabled: typed ? true : null }, ok);
    const dlg = h('dialog', { 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        h('p', {}, message),
        typed ? h('label', {}, `Type ${typed} to confirm`, input) : null,
        h('div', { class: 'row' }, okBtn, h('button', { type: 'submit', value: 'cancel' }, 'Cancel'))));
    if (input) input.addEventListener('input', () => { okBtn.disabled = input.value.trim() !== typed; });
    dlg.addEventListener('close', () => {
      const yes = dlg.returnValue === 'ok' && (!typed || input.value.trim() === typed);
      dlg.remove();
      resolve(yes);
    });
    document.body.append(dlg);
    dlg.showModal();
    (input || okBtn).focus();
  });
}

// Announce a change to screen readers.
export function announce(text) {
  const live = document.getElementById('live');
  if (live) live.textContent = text;
}
