// Alerts: every alert, filtered by status and severity (kept in the address, `#/alerts?...`),
// paged with the API's cursor.

import { get, query } from '../api.js';
import { badge, card, el, link, outside, row, table, when } from '../dom.js';

const STATUSES = ['', 'firing', 'acknowledged', 'resolved'];
const SEVERITIES = ['', 'critical', 'high', 'medium', 'low', 'info'];

function select(name, values, current) {
  return el('select', { name, id: `filter-${name}` },
    values.map((v) => el('option', { value: v, selected: v === current, text: v || 'any' })));
}

function alertRow(a) {
  const l = a.labels || {};
  return row([
    a.generator_url ? outside(a.generator_url, l.alertname || a.alert_id) : (l.alertname || a.alert_id),
    badge(a.status, 'status-'),
    badge(a.severity || 'unknown'),
    l.service || l.instance || l.job || '',
    when(a.starts_at),
    a.incident_id ? link('incidents', a.incident_id) : '',
    a.acknowledged_by || '',
    (a.annotations && (a.annotations.summary || a.annotations.description)) || '',
  ], { 'data-id': a.alert_id });
}

export default async function render(root, ctx, search) {
  const params = new URLSearchParams(search || '');
  const status = params.get('status') || '';
  const severity = params.get('severity') || '';
  const statusSel = select('status', STATUSES, status);
  const severitySel = select('severity', SEVERITIES, severity);
  const form = el('form', { class: 'filters' },
    el('label', {}, 'status', statusSel),
    el('label', {}, 'severity', severitySel),
    el('button', { type: 'submit', text: 'Filter' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/alerts${query({ status: statusSel.value, severity: severitySel.value })}`;
  });
  const list = card(null);
  const more = el('button', { type: 'button', class: 'secondary', text: 'More', hidden: true });
  root.append(el('h1', { text: 'Alerts' }), form, list, more);

  const rows = [];
  let cursor = null;
  let total = 0;
  const load = async () => {
    const page = await get(`/api/v1/alerts${query({ status, severity, limit: 100, cursor })}`);
    if (!ctx.alive()) return;
    total = page.total;
    rows.push(...page.alerts.map(alertRow));
    cursor = page.next_cursor;
    list.replaceChildren(el('p', { class: 'muted', text: `${total} alert(s)` }),
      table(['alert', 'status', 'severity', 'resource', 'since', 'incident', 'acknowledged by', 'summary'], rows, 'No alert matches.'));
    more.hidden = !cursor;
  };
  more.addEventListener('click', load);
  await load();
}
