// Drives the Debian chromium (headless, through playwright-core) through the web console of a
// running `aiops serve`: login form, overview, incident detail and acknowledgement, a live
// alert over the WebSocket, the anomaly chart, the alert filters, workflow runs, logout; no
// console error and no Content-Security-Policy violation on the way.
//
// Usage: node console.test.mjs BASE_URL TOKEN INGEST_TOKEN VIEWER_TOKEN
//   TOKEN: an operator (or admin) token to log in with; INGEST_TOKEN: posts the live alert;
//   VIEWER_TOKEN: a viewer, who sees the incident but may not act on it.
//   CHROMIUM: the browser (default /usr/bin/chromium).

import { chromium } from 'playwright-core';

const [base, token, ingestToken, viewerToken] = process.argv.slice(2);
if (!base || !token || !ingestToken || !viewerToken) {
  console.error('usage: node console.test.mjs BASE_URL TOKEN INGEST_TOKEN VIEWER_TOKEN');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
// The sandbox needs user namespaces a root user in a container does not get.
const args = process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [];
const browser = await chromium.launch({ executablePath, headless: true, args });
const problems = [];
const step = (what) => console.log(`- ${what}`);

let page = null;
try {
  page = await browser.newPage();
  page.setDefaultTimeout(20000);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = m.location().url || '';
    // Before logging in, the page asks who is logged in: that 401 is the expected answer.
    if (url.endsWith('/api/v1/session') && m.text().includes('401')) return;
    problems.push(`console error: ${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });

  step('the root redirects to the login form');
  await page.goto(`${base}/`);
  await page.waitForSelector('#login-form');
  if (!page.url().includes('/console/')) throw new Error(`not redirected to the console: ${page.url()}`);

  step('a wrong token is refused in the form');
  await page.fill('#token', 'aiops_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-form [role=alert]:has-text("Login refused")');
  // The refused POST shows as a failed resource load: expected here, not a fault.
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('/api/v1/session')));

  step('logging in with the token');
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#open-incidents');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'aiops_session');
  if (!session || !session.httpOnly || session.sameSite !== 'Strict') {
    throw new Error(`session cookie missing or not HttpOnly/Strict: ${JSON.stringify(session)}`);
  }
  if (await page.evaluate(() => document.cookie.includes('aiops_session'))) {
    throw new Error('the session cookie is readable by scripts');
  }
  const who = await page.textContent('#who');
  if (!who.includes('operator') && !who.includes('admin')) throw new Error(`header shows ${who}`);

  step('the overview lists the open incident, the firing alert and the anomaly');
  const incidentLink = page.locator('#open-incidents a[href^="#/incidents/"]').first();
  await incidentLink.waitFor();
  const incidentId = (await incidentLink.textContent()).trim();
  await page.waitForSelector('#firing-alerts td:has-text("HighLatency")');
  await page.waitForSelector('#latest-anomalies a[href^="#/anomalies/"]');
  await page.waitForSelector('#live[data-state="open"]');

  step(`the incident ${incidentId} opens with its alerts, timeline and RCA`);
  await incidentLink.click();
  await page.waitForSelector(`#incident h1:has-text("${incidentId}")`);
  await page.waitForSelector('#incident td:has-text("HighLatency")');
  await page.waitForSelector('#incident h2:has-text("Timeline")');
  // The analysis run when the incident opened ranks causes with their evidence.
  await page.waitForSelector('#incident h2:has-text("Root-cause analysis")');
  await page.waitForSelector('#incident h2:has-text("(completed)")', { timeout: 30000 });
  await page.waitForSelector('#incident ul.evidence li');
  await page.waitForSelector('#incident li:has-text("Roll back the last api deployment")');

  step('acknowledging it');
  await page.fill('#action-comment', 'looking into it');
  await page.click('#acknowledge:not([disabled])');
  await page.waitForSelector('#action-message:has-text("Acknowledged 1 alert(s)")');
  await page.waitForSelector('#incident td:has-text("looking into it")');
  await page.waitForSelector('#incident-status .badge:has-text("acknowledged")', { timeout: 30000 });

  step('a new alert arrives live on the overview');
  await page.click('#nav a[href="#/"]');
  await page.waitForSelector('#firing-alerts');
  await page.waitForSelector('#live[data-state="open"]');
  const r = await fetch(`${base}/api/v2/alerts`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${ingestToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify([{
      labels: { alertname: 'LiveAlert', service: 'db', severity: 'critical' },
      annotations: { summary: '<img src=x onerror=alert(1)> stays text' },
      startsAt: new Date(Date.now() - 1000).toISOString(),
    }]),
  });
  if (r.status !== 200) throw new Error(`posting the live alert: ${r.status}`);
  await page.waitForSelector('#firing-alerts td:has-text("LiveAlert")');

  step('the alert list filters by status and severity; markup in data stays text');
  await page.goto(`${base}/console/#/alerts?status=firing&severity=critical`);
  await page.waitForSelector('td:has-text("LiveAlert")');
  if (await page.locator('td:has-text("HighLatency")').count()) throw new Error('the severity filter let a high alert through');
  if (await page.locator('main img').count()) throw new Error('an annotation was rendered as markup');
  await page.waitForSelector('td:has-text("<img src=x onerror=alert(1)> stays text")');

  step('the anomaly detail draws its series');
  await page.goto(`${base}/console/#/`);
  await page.click('#latest-anomalies a[href^="#/anomalies/"]');
  await page.waitForSelector('#timeline-chart polyline');
  const points = await page.getAttribute('#timeline-chart polyline', 'points');
  if (!points || points.split(' ').length < 10) throw new Error(`too few points drawn: ${points}`);

  step('workflow runs');
  await page.click('#nav a[href="#/workflows"]');
  await page.waitForSelector('h1:has-text("Workflow runs")');

  step('logging out');
  await page.click('#logout');
  await page.waitForSelector('#login-form');
  const after = await page.context().cookies();
  if (after.some((c) => c.name === 'aiops_session' && c.value)) throw new Error('the cookie survived the logout');

  step('a viewer following a link logs in, lands on the incident and may not act on it');
  await page.goto(`${base}/console/#/incidents/${incidentId}`);
  await page.waitForSelector('#login-form');
  await page.fill('#token', viewerToken);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector(`#incident h1:has-text("${incidentId}")`);
  if (!(await page.isDisabled('#resolve')) || !(await page.isDisabled('#acknowledge'))) {
    throw new Error('a viewer is offered the incident actions');
  }
  const refused = await page.evaluate(async () => {
    const me = await (await fetch('/api/v1/session')).json();
    const incident = location.hash.split('/').pop();
    const d = await (await fetch(`/api/v1/incidents/${incident}`)).json();
    const r = await fetch(`/api/v1/alerts/${d.alerts[0].alert_id}/resolve`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'x-aiops-csrf': me.csrf_token },
      body: JSON.stringify({ resolution: 'by a viewer' }),
    });
    return [r.status, (await r.json()).error.code];
  });
  if (refused[0] !== 403 || refused[1] !== 'forbidden') throw new Error(`a viewer's resolve answered ${refused}`);
  // That refusal is logged by the browser as a failed load: expected.
  problems.splice(0, problems.length, ...problems.filter((p) => !(p.includes('/resolve') && p.includes('403'))));
} catch (e) {
  problems.push(`failed: ${e.stack || e}`);
  if (page) problems.push(`at ${page.url()} the page shows: ${await page.textContent('main').catch(() => '?')}`);
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('console test passed');
