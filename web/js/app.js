// app.js - the console's entry: sign-in state, the header, the routes (docs/console.md).
import { resume, signOut, setUnauthorizedHandler, whoami } from './api.js';
import { route, start, navigate, refresh } from './router.js';
import { h, clear, errorBox } from './dom.js';
import * as signin from './views/signin.js';
import * as fleet from './views/fleet.js';
import * as devices from './views/devices.js';
import * as device from './views/device.js';
import * as flash from './views/flash.js';
import * as images from './views/images.js';
import * as rollouts from './views/rollouts.js';
import * as rollout from './views/rollout.js';
import * as events from './views/events.js';

const main = document.getElementById('main');

route('/', fleet.view);
route('/devices', devices.view);
route('/devices/:name', device.view);
route('/devices/:name/flash', flash.view);
route('/images', images.view);
route('/rollouts', rollouts.view);
route('/rollouts/new', rollouts.create);
route('/rollouts/:id', rollout.view);
route('/events', events.view);
route('/signin', signin.view);

function header() {
  const me = whoami();
  document.getElementById('nav').hidden = !me;
  document.getElementById('who').hidden = !me;
  document.getElementById('who-name').textContent = me ? `${me.name} (${me.scope})` : '';
  for (const a of document.querySelectorAll('#nav a')) {
    const p = a.getAttribute('href');
    const on = p === '/' ? location.pathname === '/' : location.pathname.startsWith(p);
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
}

async function render(view, params, query, signal, path) {
  if (!whoami() && path !== '/signin') {
    navigate(`/signin?next=${encodeURIComponent(path + location.search)}`, { replace: true });
    return null;
  }
  header();
  clear(main);
  if (!view) {
    main.append(h('h1', {}, 'Not found'), h('p', {}, 'No such page. ', h('a', { href: '/' }, 'Fleet')));
    return null;
  }
  try {
    return await view(main, params, query, signal);
  } catch (e) {
    if (e.name === 'AbortError') return null;
    main.append(errorBox(e));
    return null;
  }
}

document.getElementById('signout').addEventListener('click', () => {
  signOut();
  navigate('/signin', { replace: true });
});

setUnauthorizedHandler(() => {
  signOut();
  if (location.pathname !== '/signin') navigate(`/signin?next=${encodeURIComponent(location.pathname)}`, { replace: true });
});

(async () => {
  try {
    await resume();
  } catch {
    signOut();
  }
  start(render);
})();
export { refresh };
