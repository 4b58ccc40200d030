// stream.js - the live event stream (GET /v1/events/stream, docs/api.md).
// EventSource cannot send an Authorization header, so this reads the stream with fetch()
// and a ReadableStream reader, parses the server-sent events itself, and on a lost
// connection reconnects with Last-Event-ID (backoff 0.5 s doubling to 15 s). Silence for
// 45 s (the server sends a keepalive every 15 s) counts as a lost connection.

import { token } from './api.js';

// Follow the events matching filters ({type, device, update, rollout, after}); onEvent(e)
// gets each event object. onState('open'|'retry'|'error', detail) reports the connection.
// Returns stop().
export function follow(filters, onEvent, onState = () => {}) {
  let lastId = null;
  let stopped = false;
  let ctrl = null;
  let delay = 500;
  let timer = null;

  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(filters || {})) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));

  async function once() {
    ctrl = new AbortController();
    let watchdog = null;
    const pet = () => { clearTimeout(watchdog); watchdog = setTimeout(() => ctrl.abort(), 45000); };
    const headers = { Authorization: `Bearer ${token() || ''}`, Accept: 'text/event-stream' };
    if (lastId !== null) headers['Last-Event-ID'] = String(lastId);
    try {
      pet();
      const res = await fetch(`/v1/events/stream?${params}`, { headers, signal: ctrl.signal, cache: 'no-store', credentials: 'omit' });
      if (!res.ok) {
        let msg = `${res.status}`;
        try { msg = (await res.json()).error.message; } catch { /* not JSON */ }
        clearTimeout(watchdog);
        // A refused token or filter will not get better by retrying.
        if (res.status >= 400 && res.status < 500) { stopped = true; onState('error', msg); return; }
        throw new Error(msg);
      }
      onState('open');
      delay = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let ev = { id: null, data: '' };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        pet();
        buf += value;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (ev.data) {
              if (ev.id !== null) lastId = ev.id;
              try { onEvent(JSON.parse(ev.data)); } catch (e) { console.warn('event', e); }
            }
            ev = { id: null, data: '' };
          } else if (line.startsWith('id:')) {
            ev.id = line.slice(3).trim();
          } else if (line.startsWith('data:')) {
            ev.data += line.slice(5).replace(/^ /, '');
          }
        }
      }
    } catch (e) {
      if (stopped) return;
    } finally {
      clearTimeout(watchdog);
    }
    if (stopped) return;
    onState('retry', delay);
    timer = setTimeout(once, delay);
    delay = Math.min(delay * 2, 15000);
  }

  once();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ctrl) ctrl.abort();
  };
}

// Call fn at most once per `ms` after bursts of calls (a view refetching on events).
export function debounce(fn, ms = 300) {
  let t = null;
  return () => { clearTimeout(t); t = setTimeout(fn, ms); };
}
