// Workflow runs: the workflows (configured and added) and their latest runs, newest first;
// a run's record opens below the list.

import { get } from '../api.js';
import { badge, card, el, row, table, when } from '../dom.js';

function triggerOf(w) {
  const t = w.trigger;
  if (t && typeof t === 'object') return t.type || t.kind || Object.keys(t).join(', ');
  return t ? String(t) : '';
}

export default async function render(root, ctx) {
  const { workflows } = await get('/api/v1/workflows');
  const lists = await Promise.all(workflows.map((w) => get(`/api/v1/workflows/${encodeURIComponent(w.id)}/runs?limit=20`)));
  if (!ctx.alive()) return;
  const runs = lists.flatMap((l) => l.runs).sort((a, b) => b.started_at - a.started_at);
  const record = el('pre', { id: 'run-record', hidden: true });
  const show = (r) => {
    record.hidden = false;
    record.textContent = JSON.stringify(r.record, null, 2);
    record.scrollIntoView({ block: 'nearest' });
  };
  root.append(
    el('h1', { text: 'Workflow runs' }),
    card('Workflows', table(['workflow', 'source', 'trigger', 'steps', 'description'],
      workflows.map((w) => row([w.id, w.source, triggerOf(w), String(w.steps.length), w.description || ''])),
      'No workflow is configured.')),
    card('Runs', table(['started', 'workflow', 'trigger', 'status', 'finished', ''],
      runs.map((r) => {
        const open = el('button', { type: 'button', class: 'secondary', text: 'record' });
        open.addEventListener('click', () => show(r));
        return row([when(r.started_at), r.workflow, r.trigger, badge(r.status), when(r.finished_at), open]);
      }),
      'No run yet.'), record),
  );
}
