// The REST API over the session cookie: the CSRF token goes on every call that changes
// something; a 401 sends the user back to the login form.

let current = null;
const unauthorizedHandlers = new Set();

/** An error answer of the API: its HTTP status and stable code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Who is logged in (`GET /api/v1/session`), or null. */
export function session() {
  return current;
}

/** Whether the logged-in role grants `permission` (`write:alerts`...). */
export function can(permission) {
  return Boolean(current && current.permissions.includes(permission));
}

/** Calls `fn(error)` when the session is refused (expired, revoked, logged out elsewhere). */
export function onUnauthorized(fn) {
  unauthorizedHandlers.add(fn);
}

async function send(method, path, { body, bearer } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  else if (method !== 'GET' && current && current.csrf_token) headers['x-aiops-csrf'] = current.csrf_token;
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  let data = null;
  if (r.status !== 204) {
    try { data = await r.json(); } catch (_) { data = null; }
  }
  if (!r.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(r.status, err.code || `http_${r.status}`, err.message || r.statusText);
  }
  return data;
}

/** A call of the API with the session; a 401 ends the session in the page. */
export async function api(method, path, body) {
  try {
    return await send(method, path, { body });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401 && current) {
      current = null;
      for (const fn of unauthorizedHandlers) fn(e);
    }
    throw e;
  }
}

/** `GET path`. */
export function get(path) {
  return api('GET', path);
}

/** A query string of the non-empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Logs in with an API token (or a JWT): the server sets the session cookie. */
export async function login(token) {
  current = await send('POST', '/api/v1/session', { bearer: token });
  return current;
}

/** The session of the cookie, if there is one. */
export async function restore() {
  try {
    current = await send('GET', '/api/v1/session');
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    current = null;
  }
  return current;
}

/** Logs out: the server deletes the session and clears the cookie. */
export async function logout() {
  try {
    await send('DELETE', '/api/v1/session');
  } finally {
    current = null;
  }
}
