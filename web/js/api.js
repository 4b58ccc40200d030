// api.js - the management API (docs/api.md) with the signed-in token.
// The token lives in sessionStorage only (this tab, until it closes or signs out): it is
// sent in the Authorization header, never put in a URL, never logged.

const KEY = 'airlift.token';
let me = null; // {name, scope} of the token (GET /v1/whoami)
let onUnauthorized = () => {};

export const token = () => sessionStorage.getItem(KEY);
export const whoami = () => me;
// Can this token change things (operator or admin)? A read token sees no such button.
export const canChange = () => !!me && me.scope !== 'read';
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

// A query string from an object, leaving out empty values: "?a=1&b=x".
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const t = u.toString();
  return t ? `?${t}` : '';
}

// Call /v1 + path. Resolves with the JSON body (null for 204); rejects with an ApiError
// carrying the server's error code and message ("network" when airliftd cannot be reached).
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Authorization: `Bearer ${token() || ''}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/v1${path}`, {
      method, headers, signal, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `cannot reach airliftd (${e.message})`);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code || `http_${res.status}`,
      e.message || `${res.status} ${res.statusText}`, data);
    if (res.status === 401) onUnauthorized(err);
    throw err;
  }
  return data;
}

// Sign in with t: kept only if the server takes it. Resolves with {name, scope}.
export async function signIn(t) {
  sessionStorage.setItem(KEY, t);
  try {
    me = await api('/whoami');
    return me;
  } catch (e) {
    sessionStorage.removeItem(KEY);
    me = null;
    throw e;
  }
}

// The token of this tab, if any, checked again (after a reload).
export async function resume() {
  if (!token()) return null;
  me = await api('/whoami');
  return me;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  me = null;
}
