// One incident: its alerts, timeline, status changes, root-cause ranking with evidence and
// recommended runbook actions, and deliveries. Operators and admins acknowledge or resolve it
// (every non-resolved alert of it); for viewers the buttons are disabled, and the server
// refuses them anyway.

import { api, can, get } from '../api.js';
import * as live from '../live.js';
import { badge, card, el, num, outside, row, table, when } from '../dom.js';

function facts(pairs) {
  return el('dl', { class: 'facts' }, pairs.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]));
}

function detailText(d) {
  if (d === null || d === undefined) return '';
  if (typeof d !== 'object') return String(d);
  return Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(', ');
}

function rcaCard(a) {
  const causes = (a.root_causes || []).map((c) => row([
    String(c.rank),
    c.resource,
    c.issue,
    c.metric || '',
    num(c.confidence, 2),
    el('ul', { class: 'evidence' }, (c.evidence || []).map((e) => el('li', { text: e }))),
  ]));
  const actions = (a.recommended_actions || []).map((r) => row([
    r.title || r.runbook || '',
    r.resource || '',
    r.cause_rank === undefined ? '' : String(r.cause_rank),
    el('ol', { class: 'evidence' }, (r.actions || []).map((x) => el('li', { text: x }))),
  ]));
  return card(`Root-cause analysis ${a.analysis_id} (${a.status})`,
    el('p', { class: 'muted', text: `at ${when(a.created_at)}${a.impact_analysis && a.impact_analysis.affected_services && a.impact_analysis.affected_services.length ? `; affects ${a.impact_analysis.affected_services.join(', ')}` : ''}` }),
    a.error ? el('p', { class: 'error', text: a.error }) : null,
    table(['rank', 'resource', 'issue', 'metric', 'confidence', 'evidence'], causes, 'No root cause ranked.'),
    el('h2', { text: 'Recommended actions' }),
    table(['runbook', 'resource', 'for cause', 'steps'], actions, 'No runbook matches these causes.'));
}

export default async function render(root, ctx, id) {
  const box = el('div', { id: 'incident' });
  root.append(box);
  let busy = false;
  // The outcome of the last action, kept across redraws.
  let note = { text: '', error: false };

  const act = async (verb, body) => {
    const d = await get(`/api/v1/incidents/${encodeURIComponent(id)}`);
    const targets = d.alerts.filter((a) => a.status !== 'resolved' && (verb === 'resolve' || a.status === 'firing'));
    for (const a of targets) {
      await api('POST', `/api/v1/alerts/${encodeURIComponent(a.alert_id)}/${verb}`, body);
    }
    note = { text: `${verb === 'resolve' ? 'Resolved' : 'Acknowledged'} ${targets.length} alert(s).`, error: false };
  };

  const draw = async () => {
    const d = await get(`/api/v1/incidents/${encodeURIComponent(id)}`);
    if (!ctx.alive()) return;
    const i = d; // the summary is flattened into the detail
    const allowed = can('write:alerts');
    const comment = el('input', { type: 'text', id: 'action-comment', placeholder: 'comment / resolution', disabled: !allowed });
    const message = el('p', { class: note.error ? 'error' : 'muted', id: 'action-message', role: 'status', text: note.text });
    const ack = el('button', { type: 'button', id: 'acknowledge', text: 'Acknowledge', disabled: !allowed || i.status !== 'open', title: allowed ? null : 'your role may not change alerts' });
    const resolve = el('button', { type: 'button', id: 'resolve', class: 'secondary', text: 'Resolve', disabled: !allowed || i.status === 'resolved', title: allowed ? null : 'your role may not change alerts' });
    const run = (verb) => async () => {
      if (busy) return;
      busy = true;
      ack.disabled = true;
      resolve.disabled = true;
      try {
        const text = comment.value.trim();
        const body = verb === 'resolve' ? { resolution: text || 'resolved from the console' } : (text ? { comment: text } : {});
        await act(verb, body);
      } catch (e) {
        note = { text: e.message, error: true };
      } finally {
        busy = false;
      }
      await draw().catch((e) => console.warn('refresh failed', e));
    };
    ack.addEventListener('click', run('acknowledge'));
    resolve.addEventListener('click', run('resolve'));

    box.replaceChildren(
      el('h1', {}, `${i.incident_id}: `, i.title, ' ', badge(i.severity), ' ', el('span', { id: 'incident-status' }, badge(i.status, 'status-'))),
      card(null, facts([
        ['started', when(i.started_at)],
        ['resolved', when(i.resolved_at) || '—'],
        ['resources', i.resources.join(', ') || '—'],
        ['probable origin', i.probable_origin || '—'],
        ['alerts', String(i.alert_count)],
      ]), el('div', { class: 'actions' }, comment, ack, resolve), allowed ? null : el('p', { class: 'muted', text: 'Your role reads only: acknowledging and resolving need operator or admin.' }), message),
      card('Alerts', table(['alert', 'status', 'severity', 'since', 'acknowledged by', 'comment', 'summary'],
        d.alerts.map((a) => row([
          a.generator_url ? outside(a.generator_url, a.labels.alertname || a.alert_id) : (a.labels.alertname || a.alert_id),
          badge(a.status, 'status-'),
          badge(a.severity || 'unknown'),
          when(a.starts_at),
          a.acknowledged_by || '',
          a.comment || a.resolution || '',
          (a.annotations && (a.annotations.summary || a.annotations.description)) || '',
        ], { 'data-id': a.alert_id })))),
      ...(d.rca.length ? d.rca.map(rcaCard) : [card('Root-cause analysis', el('p', { class: 'empty', text: 'No analysis yet.' }))]),
      card('Timeline', table(['at', 'what', 'detail'], d.timeline.map((t) => row([when(t.at), t.kind, detailText(t.detail)])))),
      card('Status changes', table(['at', 'status', 'by', 'reason'], d.status_changes.map((c) => row([when(c.at), badge(c.status, 'status-'), c.by, c.reason || ''])))),
      card('Deliveries', table(['channel', 'kind', 'status', 'attempts', 'last error', 'updated'],
        d.deliveries.map((x) => row([x.channel, x.kind, x.status, String(x.attempts), x.last_error || '', when(x.updated_at)])), 'Nothing sent for this incident.')),
    );
  };
  await draw();

  let pending = null;
  return live.subscribe((e) => {
    const mine = (e.type === 'incident' && e.incident_id === id) || (e.type === 'alert' && e.incident_id === id);
    if (!mine || pending) return;
    pending = setTimeout(() => {
      pending = null;
      if (ctx.alive() && !busy) draw().catch((err) => console.warn('refresh failed', err));
    }, 300);
  });
}
