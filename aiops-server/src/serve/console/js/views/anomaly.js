// One anomaly: its facts, its series around it drawn as an SVG line with the anomalous point
// marked, related anomalies and suggested causes.

import { get } from '../api.js';
import { badge, card, el, link, num, row, svg, table, when } from '../dom.js';

const W = 900;
const H = 260;
const PAD = { left: 56, right: 12, top: 12, bottom: 28 };

function chart(points, at, value) {
  const xs = points.map((p) => Date.parse(p.timestamp));
  const ys = points.map((p) => p.value);
  const t0 = Math.min(...xs, at);
  const t1 = Math.max(...xs, at);
  let lo = Math.min(...ys, value);
  let hi = Math.max(...ys, value);
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (t) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const line = points.map((p, i) => `${x(xs[i]).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  return svg('svg', { class: 'chart', id: 'timeline-chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'series around the anomaly' },
    svg('line', { class: 'axis', x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
    svg('line', { class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
    svg('text', { x: 4, y: PAD.top + 10, text: num(hi, 2) }),
    svg('text', { x: 4, y: H - PAD.bottom, text: num(lo, 2) }),
    svg('text', { x: PAD.left, y: H - 8, text: when(t0) }),
    svg('text', { x: W - PAD.right, y: H - 8, 'text-anchor': 'end', text: when(t1) }),
    svg('polyline', { class: 'line', points: line }),
    svg('circle', { class: 'mark', cx: x(at).toFixed(1), cy: y(value).toFixed(1), r: 5 },
      svg('title', { text: `${when(at)}: ${num(value)}` })));
}

export default async function render(root, ctx, id) {
  const d = await get(`/api/v1/anomalies/${encodeURIComponent(id)}`);
  if (!ctx.alive()) return;
  const at = Date.parse(d.timestamp);
  root.append(
    el('h1', {}, `Anomaly ${d.anomaly_id}: ${d.resource} / ${d.metric} `, badge(d.severity)),
    card(null, el('dl', { class: 'facts' },
      [['at', when(d.timestamp)], ['value', num(d.value)], ['expected', d.expected === null ? '—' : num(d.expected)],
        ['score', num(d.score)], ['threshold', d.threshold === null ? '—' : num(d.threshold)],
        ['detector', d.detector], ['detected', when(d.detected_at)]]
        .flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]))),
    card('Series', d.timeline.length ? chart(d.timeline, at, d.value) : el('p', { class: 'empty', text: 'No stored samples around it.' })),
    card('Related anomalies', table(['when', 'resource', 'metric', 'value', 'score', 'severity'],
      d.related_metrics.map((a) => row([link('anomalies', a.anomaly_id, when(a.timestamp)), a.resource, a.metric, num(a.value), num(a.score), badge(a.severity)])),
      'None on this resource or its neighbours.')),
    card('Suggested causes', table(['at', 'resource', 'reason'],
      d.suggested_causes.map((c) => row([when(c.at), c.resource, c.reason])), 'Nothing earlier on these resources.')),
  );
}
