// router.js - one URL per view (History API paths: /devices/NAME), deep links and the back
// button. Links are ordinary <a href> elements; a plain click on a same-origin one is turned
// into a pushState, anything else (new tab, modifier keys) is left to the browser.

const routes = [];
let current = null; // {cleanup, abort} of the view on screen
let renderFn = null;

// route('/devices/:name', view): view(params, query, signal) renders and may return a cleanup.
export function route(pattern, view) {
  const names = [];
  const re = new RegExp(`^${pattern.replace(/:(\w+)/g, (_, n) => { names.push(n); return '([^/]+)'; })}/?$`);
  routes.push({ re, names, view });
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  show();
}

// The current query as an object.
export const query = () => Object.fromEntries(new URLSearchParams(location.search));

async function show() {
  performance.mark('airlift:navigate'); // a view's mark minus this: its in-app load time
  if (current) {
    current.abort.abort();
    if (typeof current.cleanup === 'function') current.cleanup();
  }
  const abort = new AbortController();
  current = { abort, cleanup: null };
  const path = location.pathname;
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    const params = {};
    r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
    const mine = current;
    const cleanup = await renderFn(r.view, params, query(), abort.signal, path);
    if (mine === current) mine.cleanup = cleanup;
    else if (typeof cleanup === 'function') cleanup();
    return;
  }
  await renderFn(null, {}, query(), abort.signal, path);
}

// Start routing; render(view, params, query, signal, path) draws one view (view null: 404).
export function start(render) {
  renderFn = render;
  window.addEventListener('popstate', show);
  document.addEventListener('click', (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target.closest('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href');
    if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/v1/')) return;
    ev.preventDefault();
    navigate(href);
  });
  show();
}

export const refresh = show;
