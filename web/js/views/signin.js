// Sign-in: an API token (airlift tokens create, or the admin token of the first start).
import { signIn } from '../api.js';
import { h } from '../dom.js';
import { navigate } from '../router.js';

export async function view(main, _params, query) {
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', required: true,
    spellcheck: 'false', placeholder: 'alt_…' });
  const msg = h('p', { role: 'alert' });
  const form = h('form', { class: 'panel signin', onsubmit: async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    try {
      await signIn(input.value.trim());
      const next = query.next && query.next.startsWith('/') && !query.next.startsWith('//') ? query.next : '/';
      navigate(next, { replace: true });
    } catch (e) {
      msg.className = 'error';
      msg.textContent = e.status === 401 ? `Token refused: ${e.message}` : e.message;
    }
  } },
  h('h1', {}, 'Sign in to airlift'),
  h('label', { for: 'token' }, 'API token', input),
  h('p', { class: 'muted' }, 'The token stays in this browser tab (session storage) until you sign out or close it.'),
  msg,
  h('button', { class: 'primary', type: 'submit' }, 'Sign in'));
  main.append(form);
  input.focus();
}
