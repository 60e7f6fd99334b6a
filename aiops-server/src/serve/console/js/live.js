// `/ws/alerts` over the session cookie: alerts, incidents and anomalies as they happen, to
// every view that listens. Reconnects with backoff while logged in.

const listeners = new Set();
let socket = null;
let wanted = false;
let attempt = 0;
let timer = null;

function status(state) {
  const badge = document.getElementById('live');
  if (!badge) return;
  badge.hidden = !wanted;
  badge.dataset.state = state;
  badge.textContent = state === 'open' ? 'live' : 'offline';
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/ws/alerts`);
  socket = ws;
  ws.addEventListener('open', () => {
    attempt = 0;
    status('open');
  });
  ws.addEventListener('message', (m) => {
    let event;
    try { event = JSON.parse(m.data); } catch (_) { return; }
    for (const fn of listeners) {
      try { fn(event); } catch (e) { console.warn('live update failed', e); }
    }
  });
  ws.addEventListener('close', () => {
    if (socket !== ws) return;
    socket = null;
    status('closed');
    if (wanted) {
      timer = setTimeout(connect, Math.min(30000, 1000 * 2 ** attempt));
      attempt += 1;
    }
  });
}

/** Starts the stream (once logged in). */
export function start() {
  if (wanted) return;
  wanted = true;
  status('connecting');
  connect();
}

/** Stops it (logged out). */
export function stop() {
  wanted = false;
  clearTimeout(timer);
  const ws = socket;
  socket = null;
  if (ws) ws.close();
  status('closed');
}

/** Calls `fn(event)` for each pushed event; returns the function that stops it. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
