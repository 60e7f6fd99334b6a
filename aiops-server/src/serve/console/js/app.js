// The console's entry: restores the session, routes `#/...` to one view module each, and
// keeps the header (who is logged in, live status, log out) in step.

import * as api from './api.js';
import * as live from './live.js';
import { el, failure } from './dom.js';
import loginView from './views/login.js';
import overviewView from './views/overview.js';
import incidentView from './views/incident.js';
import anomalyView from './views/anomaly.js';
import alertsView from './views/alerts.js';
import workflowsView from './views/workflows.js';

const routes = [
  [/^#\/login$/, loginView],
  [/^#?\/?$/, overviewView],
  [/^#\/incidents\/([^/?]+)$/, incidentView],
  [/^#\/anomalies\/([^/?]+)$/, anomalyView],
  [/^#\/alerts(?:\?(.*))?$/, alertsView],
  [/^#\/workflows$/, workflowsView],
];

let cleanup = null;
let generation = 0;
let notice = null;
// Where a visitor who had to log in first was going.
let returnTo = null;

function header() {
  const me = api.session();
  document.getElementById('nav').hidden = !me;
  document.getElementById('logout').hidden = !me;
  document.getElementById('who').textContent = me ? `${me.name} (${me.role})` : '';
  for (const a of document.querySelectorAll('#nav a')) {
    const here = (location.hash || '#/') === a.getAttribute('href')
      || (a.getAttribute('href') !== '#/' && (location.hash || '').startsWith(a.getAttribute('href')));
    a.classList.toggle('current', here);
  }
}

async function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const mine = ++generation;
  const root = document.getElementById('view');
  root.replaceChildren();
  const hash = location.hash || '#/';
  if (!api.session() && hash !== '#/login') {
    returnTo = hash;
    location.replace('#/login');
    return;
  }
  if (api.session() && hash === '#/login') {
    location.replace('#/');
    return;
  }
  header();
  if (notice) {
    root.append(el('p', { class: 'error', role: 'status', text: notice }));
    notice = null;
  }
  const found = routes.find(([re]) => re.test(hash));
  if (!found) {
    root.append(el('h1', { text: 'Not found' }), el('p', {}, 'No page at ', hash, '. ', el('a', { href: '#/', text: 'Overview' })));
    return;
  }
  const params = hash.match(found[0]).slice(1).map((p) => (p === undefined ? '' : decodeURIComponent(p)));
  const ctx = { alive: () => mine === generation, loggedIn, rerender: render };
  try {
    const done = await found[1](root, ctx, ...params);
    if (typeof done === 'function') {
      if (mine === generation) cleanup = done;
      else done();
    }
  } catch (e) {
    if (mine === generation && !(e instanceof api.ApiError && e.status === 401)) root.append(failure(e));
  }
}

function loggedIn() {
  live.start();
  location.hash = returnTo && returnTo !== '#/login' ? returnTo : '#/';
  returnTo = null;
  header();
}

api.onUnauthorized((e) => {
  live.stop();
  notice = e.code === 'session_expired' ? 'Your session expired: log in again.' : 'Please log in.';
  returnTo = location.hash;
  header();
  location.hash = '#/login';
});

document.getElementById('logout').addEventListener('click', async () => {
  live.stop();
  try {
    await api.logout();
  } catch (e) {
    console.warn('logout failed', e);
  }
  header();
  location.hash = '#/login';
});

window.addEventListener('hashchange', render);

async function boot() {
  try {
    await api.restore();
  } catch (e) {
    document.getElementById('view').replaceChildren(failure(e));
    return;
  }
  if (api.session()) live.start();
  await render();
}

boot();
