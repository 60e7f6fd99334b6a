// DOM helpers: every value reaches the page through textContent or setAttribute, never as
// markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function fill(node, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.setAttribute('class', v);
    else if (k === 'text') node.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** An HTML element: `el('a', {href: '#/', text: 'home'})`, children as nodes or text. */
export function el(tag, attrs, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** An SVG element. */
export function svg(tag, attrs, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** A link inside the console to `#/kind/id` (the id URL-encoded). */
export function link(kind, id, text) {
  return el('a', { href: `#/${kind}/${encodeURIComponent(id)}`, text: text ?? id });
}

/** An outside link, only for http(s) addresses; other text stays plain. */
export function outside(url, text) {
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' || u.protocol === 'https:') {
      return el('a', { href: u.href, rel: 'noopener noreferrer', target: '_blank', text: text ?? url });
    }
  } catch (_) { /* not a URL */ }
  return document.createTextNode(text ?? '');
}

/** A coloured badge for a severity or status. */
export function badge(value, prefix = '') {
  const v = value ?? 'unknown';
  return el('span', { class: `badge ${prefix}${String(v).toLowerCase()}`, text: v });
}

/** A time (RFC 3339 text or ms since the epoch) in the browser's locale. */
export function when(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = typeof t === 'number' ? new Date(t) : new Date(String(t));
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** A number with at most `digits` decimals. */
export function num(v, digits = 3) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return v === null || v === undefined ? '' : String(v);
  return String(Number(v.toFixed(digits)));
}

/** A table of `rows` with these column headers; `empty` when there are none. */
export function table(headers, rows, empty = 'Nothing here.') {
  if (!rows.length) return el('p', { class: 'empty', text: empty });
  return el('table', {},
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { text: h })))),
    el('tbody', {}, rows));
}

/** A table row of cells (nodes or text). */
export function row(cells, attrs) {
  return el('tr', attrs, cells.map((c) => el('td', {}, c)));
}

/** A titled card. */
export function card(title, ...children) {
  return el('section', { class: 'card' }, title ? el('h2', { text: title }) : null, children);
}

/** An error message for a failed call. */
export function failure(e) {
  return el('p', { class: 'error', role: 'alert', text: e && e.message ? e.message : String(e) });
}
