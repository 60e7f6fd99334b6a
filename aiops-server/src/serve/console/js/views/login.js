// Login: paste an API token (`aiops token create`) or an OIDC JWT; the server trades it for
// an HttpOnly session cookie. The token is not kept by the page.

import * as api from '../api.js';
import { el } from '../dom.js';

export default function render(root, ctx) {
  const input = el('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false', placeholder: 'aiops_…' });
  const message = el('p', { class: 'error', role: 'alert' });
  const button = el('button', { type: 'submit', text: 'Log in' });
  const form = el('form', { class: 'login', id: 'login-form' },
    el('h1', { text: 'aiops console' }),
    el('label', { for: 'token', text: 'API token' }),
    input,
    el('p', { class: 'muted', text: 'A token from `aiops token create` (viewer, operator or admin), or an OIDC JWT. It opens a session in this browser and is not stored by the page.' }),
    el('div', { class: 'actions' }, button),
    message);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    message.textContent = '';
    button.disabled = true;
    try {
      await api.login(input.value.trim());
      input.value = '';
      ctx.loggedIn();
    } catch (e) {
      message.textContent = e.status === 401 ? `Login refused: ${e.message}` : e.message;
    } finally {
      button.disabled = false;
    }
  });
  root.append(form);
  input.focus();
}
