// Overview: open incidents, firing alerts and the latest anomalies, kept current by the
// `/ws/alerts` stream.

import { get } from '../api.js';
import * as live from '../live.js';
import { badge, card, el, link, num, row, table, when } from '../dom.js';

const MAX_ANOMALIES = 20;

function alertName(a) {
  return (a.labels && (a.labels.alertname || a.labels.__name__)) || a.alert_id;
}

function alertResource(a) {
  const l = a.labels || {};
  return l.service || l.instance || l.job || '';
}

function incidentRow(i, fresh) {
  return row([
    link('incidents', i.incident_id),
    i.title,
    badge(i.severity),
    badge(i.status, 'status-'),
    when(i.started_at),
    String(i.alert_count),
  ], { 'data-id': i.incident_id, class: fresh ? 'flash' : null });
}

function alertRow(a, fresh) {
  return row([
    alertName(a),
    badge(a.severity || 'unknown'),
    alertResource(a),
    when(a.starts_at),
    a.incident_id ? link('incidents', a.incident_id) : '',
  ], { 'data-id': a.alert_id, class: fresh ? 'flash' : null });
}

function anomalyRow(a, fresh) {
  return row([
    link('anomalies', a.anomaly_id, when(a.timestamp)),
    a.resource,
    a.metric,
    num(a.value),
    num(a.score),
    badge(a.severity),
  ], { 'data-id': a.anomaly_id, class: fresh ? 'flash' : null });
}

/** An anomaly pushed on the stream, in the shape of `GET /api/v1/anomalies`. */
function anomalyOfEvent(e) {
  return {
    anomaly_id: String(e.id),
    timestamp: e.t,
    resource: e.resource,
    metric: e.metric,
    value: e.value,
    score: e.score,
    severity: e.severity,
  };
}

export default async function render(root, ctx) {
  const [incidents, alerts, anomalies] = await Promise.all([
    get('/api/v1/incidents?limit=200'),
    get('/api/v1/alerts?status=firing&limit=200'),
    get(`/api/v1/anomalies?limit=${MAX_ANOMALIES}`),
  ]);
  if (!ctx.alive()) return undefined;
  const open = new Map(incidents.incidents.filter((i) => i.status !== 'resolved').map((i) => [i.incident_id, i]));
  const firing = new Map(alerts.alerts.map((a) => [a.alert_id, a]));
  let latest = anomalies.anomalies.slice();

  const incidentsCard = card('Open incidents');
  const alertsCard = card('Firing alerts');
  const anomaliesCard = card('Latest anomalies');
  incidentsCard.id = 'open-incidents';
  alertsCard.id = 'firing-alerts';
  anomaliesCard.id = 'latest-anomalies';

  const fresh = new Set();
  const draw = () => {
    const byStart = (a, b, key) => String(b[key]).localeCompare(String(a[key]));
    incidentsCard.replaceChildren(el('h2', { text: `Open incidents (${open.size})` }),
      table(['incident', 'title', 'severity', 'status', 'started', 'alerts'],
        [...open.values()].sort((a, b) => byStart(a, b, 'started_at')).map((i) => incidentRow(i, fresh.has(i.incident_id))),
        'No open incident.'));
    alertsCard.replaceChildren(el('h2', { text: `Firing alerts (${firing.size})` }),
      table(['alert', 'severity', 'resource', 'since', 'incident'],
        [...firing.values()].sort((a, b) => byStart(a, b, 'starts_at')).map((a) => alertRow(a, fresh.has(a.alert_id))),
        'No alert is firing.'));
    anomaliesCard.replaceChildren(el('h2', { text: 'Latest anomalies' }),
      table(['when', 'resource', 'metric', 'value', 'score', 'severity'],
        latest.map((a) => anomalyRow(a, fresh.has(a.anomaly_id))),
        'No anomaly detected yet.'));
    fresh.clear();
  };
  draw();
  root.append(el('h1', { text: 'Overview' }), incidentsCard, alertsCard, anomaliesCard);

  return live.subscribe((e) => {
    if (e.type === 'incident') {
      if (e.status === 'resolved') open.delete(e.incident_id);
      else open.set(e.incident_id, e);
      fresh.add(e.incident_id);
    } else if (e.type === 'alert') {
      if (e.status === 'firing') firing.set(e.alert_id, e);
      else firing.delete(e.alert_id);
      fresh.add(e.alert_id);
    } else if (e.type === 'anomaly') {
      const a = anomalyOfEvent(e);
      latest = [a, ...latest.filter((x) => x.anomaly_id !== a.anomaly_id)].slice(0, MAX_ANOMALIES);
      fresh.add(a.anomaly_id);
    } else {
      return;
    }
    draw();
  });
}
