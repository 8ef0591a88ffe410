// SPDX-License-Identifier: MIT
// statusbus example dashboard: team view (channel team.<t>), per-app stats
// (team.<t>.stats) and one log viewer for a deploy's log (deploy.<uuid>.logs)
// or the live runtime log of an app, a database or a service
// (app.<uuid>.logs, db.<uuid>.logs, service.<uuid>.logs), on the
// statusbus.js client.  vendor/statusbus.js is a symlink to
// clients/js/statusbus.js so that the bridge, which serves only
// listen.static_dir, serves the one canonical copy.

import { StatusBus } from './vendor/statusbus.js';
import { LogViewer } from './logview.js';
import { sparkline } from './sparkline.js';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'statusbus.token';
const STATS_POINTS = 60;

// ---- parameters: ?team=42&token=…&bus=ws://host:port/v1/ws --------------------

const params = new URLSearchParams(location.search);
if (params.has('token')) {
  // keep the token out of the address bar, history and screenshots
  localStorage.setItem(TOKEN_KEY, params.get('token'));
  params.delete('token');
  history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
}
const team = params.get('team');
const token = localStorage.getItem(TOKEN_KEY) || null;
// ?bus= points the page at another bridge; honoured only for the page's own
// host or a page opened from a loopback address (development), so that a
// crafted link cannot send the stored token elsewhere.
const sameOriginBus = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
function chooseBus(requested) {
  if (!requested) return sameOriginBus;
  try {
    const u = new URL(requested);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(location.hostname);
    if ((u.protocol === 'ws:' || u.protocol === 'wss:') && (u.host === location.host || loopback)) return u.href;
  } catch { /* not a URL */ }
  console.warn('statusbus: ignoring ?bus=', requested);
  return sameOriginBus;
}
const busUrl = chooseBus(params.get('bus'));

function showLogin(message) {
  $('login').hidden = false;
  $('login-team').value = team || '';
  $('login-token').value = localStorage.getItem(TOKEN_KEY) || '';
  $('login-error').textContent = message || '';
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('login-token').value.trim();
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
  const p = new URLSearchParams(location.search);
  p.set('team', $('login-team').value.trim());
  location.search = `?${p}`;
});

// ---- helpers ---------------------------------------------------------------------

const OK = new Set(['running', 'healthy', 'up', 'reachable', 'finished', 'active', 'online', 'ok', 'operational', 'success', 'succeeded', 'completed', 'resolved']);
const WARN = new Set(['starting', 'restarting', 'deploying', 'degraded', 'queued', 'created', 'building', 'pending', 'stopping', 'scaling', 'updating', 'in_progress', 'provisioning', 'paused', 'partial_outage', 'monitoring', 'identified', 'scheduled']);
const BAD = new Set(['exited', 'failed', 'down', 'unreachable', 'unhealthy', 'crashed', 'error', 'dead', 'major_outage', 'investigating', 'oom']);

function tone(status) {
  const s = String(status || '').toLowerCase();
  if (OK.has(s)) return 'ok';
  if (WARN.has(s)) return 'warn';
  if (BAD.has(s)) return 'bad';
  return 'neutral';
}

function badge(status) {
  const b = document.createElement('span');
  b.className = `badge tone-${tone(status)}`;
  b.dataset.status = String(status ?? 'unknown');
  b.textContent = String(status ?? 'unknown').replace(/_/g, ' ');
  return b;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}

function ago(ms) {
  const s = Math.max(0, Math.floor((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m ago`;
  return `${Math.floor(h / 24)}d ago`;
}

function parseTs(ts) {
  const t = Date.parse(ts);
  return Number.isNaN(t) ? Date.now() : t;
}

/** 45s, 3m 20s, 2h 5m */
function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

function validTs(ts) {
  const t = Date.parse(ts);
  return Number.isNaN(t) ? null : t;
}

function shortId(id) {
  return String(id).slice(0, 8);
}

function bytes(n) {
  if (typeof n !== 'number') return '?';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n >= 10 || i === 0 ? 0 : 1)} ${u[i]}`;
}

/** team/<t>/<kind>/<id>[/<leaf>] → {kind, id, leaf} */
function parseTopic(topic) {
  const p = String(topic || '').split('/');
  if (p[0] !== 'team' || p.length < 4) return null;
  return { kind: p[2], id: p[3], leaf: p[4] || '' };
}

// ---- state and rendering -----------------------------------------------------------

const resources = new Map();     // `${kind}/${id}` → {kind, id, name, status, since, reason, extra, el}
const deploys = new Map();       // id → {data, since, el}
const banners = new Map();       // `${kind}/${id}` → element
const stats = new Map();         // app id → {cpu: [], mem: [], last}
// the log in the viewer: {kind, id, channel}, or null
let openLog = null;
let offLogs = null;
const LOG_KINDS = new Set(['app', 'db', 'service']);   // resources with a runtime log
const KIND_NAMES = { app: 'Application', db: 'Database', service: 'Service', deploy: 'Deploy' };

function isOpen(kind, id) {
  return !!openLog && openLog.kind === kind && openLog.id === id;
}

function renderEmpty(list) {
  let p = list.nextElementSibling;
  if (!p || !p.classList.contains('empty')) {
    p = el('p', 'empty', list.dataset.empty);
    list.after(p);
  }
  p.hidden = list.children.length > 0;
}

function upsertResource(kind, id, data) {
  const key = `${kind}/${id}`;
  const prev = resources.get(key);
  let status;
  let extra = '';
  if (kind === 'server') {
    status = data.reachable ? 'reachable' : 'unreachable';
    if (typeof data.latency_ms === 'number' && data.reachable) extra = `${Math.round(data.latency_ms)} ms`;
  } else {
    status = data.status ?? 'unknown';
  }
  // "since change" moves only when the status does
  const since = prev && prev.status === status ? prev.since : parseTs(data.ts);
  const r = prev || { kind, id };
  Object.assign(r, { name: data.name || (prev && prev.name) || shortId(id), status, since, reason: data.reason || '', extra });
  resources.set(key, r);
  renderResource(r);
}

function renderResource(r) {
  const list = $(`list-${r.kind}`);
  if (!list) return;
  if (!r.el) {
    r.el = el('li', 'res');
    r.el.dataset.kind = r.kind;
    r.el.dataset.uuid = r.id;
  }
  const head = el('div', 'res-head');
  const name = el('span', 'res-name', r.name);
  name.title = r.id;
  const since = el('span', 'since');
  since.dataset.since = String(r.since);
  since.textContent = `changed ${ago(r.since)}`;
  head.append(name, badge(r.status), since);
  if (LOG_KINDS.has(r.kind)) {
    const logs = el('button', 'small res-logs', 'Logs');
    logs.type = 'button';
    logs.setAttribute('aria-label', `Open the live log of ${r.name}`);
    logs.title = `Live log of ${r.kind} ${r.id}`;
    if (isOpen(r.kind, r.id)) logs.setAttribute('aria-pressed', 'true');
    logs.addEventListener('click', () => openLogs(r.kind, r.id));
    head.append(logs);
  }
  const children = [head];
  const detail = [r.extra, r.reason].filter(Boolean).join(' · ');
  if (detail) children.push(el('div', 'res-detail', detail));
  if (r.kind === 'app') {
    const s = el('div', 'res-stats');
    s.dataset.statsFor = r.id;
    children.push(s);
  }
  r.el.replaceChildren(...children);
  if (!r.el.isConnected) {
    // alphabetical by name keeps rows from jumping around
    const after = [...list.children].find((li) => (resources.get(`${r.kind}/${li.dataset.uuid}`)?.name || '') > r.name);
    list.insertBefore(r.el, after || null);
  }
  if (r.kind === 'app') renderStats(r.id);
  renderEmpty(list);
  // deployments show app names
  for (const d of deploys.values()) if (d.data.app === r.id) renderDeploy(d);
}

function removeResource(kind, id) {
  const key = `${kind}/${id}`;
  const r = resources.get(key);
  if (!r) return;
  resources.delete(key);
  if (r.el) {
    const list = r.el.parentElement;
    r.el.remove();
    if (list) renderEmpty(list);
  }
}

function recordStats(appId, d) {
  const s = stats.get(appId) || { cpu: [], mem: [], last: null };
  const memPct = d.mem && d.mem.limit ? (100 * d.mem.used) / d.mem.limit : null;
  s.cpu.push(typeof d.cpu === 'number' ? d.cpu : 0);
  s.mem.push(memPct ?? 0);
  if (s.cpu.length > STATS_POINTS) s.cpu.shift();
  if (s.mem.length > STATS_POINTS) s.mem.shift();
  s.last = d;
  stats.set(appId, s);
  renderStats(appId);
}

function renderStats(appId) {
  const host = document.querySelector(`[data-stats-for="${CSS.escape(appId)}"]`);
  const s = stats.get(appId);
  if (!host || !s) return;
  const d = s.last;
  const cpu = typeof d.cpu === 'number' ? `${d.cpu.toFixed(1)}%` : '?';
  const mem = d.mem ? `${bytes(d.mem.used)} / ${bytes(d.mem.limit)}` : '?';
  const cpuBox = el('span', 'stat');
  cpuBox.append(el('span', 'stat-label', 'CPU'), sparkline(s.cpu, { max: 100, label: `CPU, last ${s.cpu.length} samples, now ${cpu}` }), el('span', 'stat-value', cpu));
  const memBox = el('span', 'stat');
  memBox.append(el('span', 'stat-label', 'Mem'), sparkline(s.mem, { max: 100, label: `Memory, last ${s.mem.length} samples, now ${mem}` }), el('span', 'stat-value', mem));
  host.replaceChildren(cpuBox, memBox);
}

// a deploy in one of these states is over: its log is no longer followed
// by the bridge (docs/protocol.md §3.4)
const DEPLOY_OVER = new Set(['finished', 'failed', 'cancelled']);

/** When the deploy started and ended (null while running, or unknown):
 *  its started_at / finished_at, else the ts of the first `running` status
 *  this page saw and of the status that ended it. */
function deployTimes(d) {
  const data = d.data;
  const start = validTs(data.started_at) ?? d.runningSeen ?? null;
  const end = DEPLOY_OVER.has(data.status) ? validTs(data.finished_at) ?? validTs(data.ts) : null;
  return { start, end };
}

function durationText(el, start, end) {
  el.textContent = end != null ? `took ${duration(end - start)}` : `running for ${duration(Date.now() - start)}`;
}

function upsertDeploy(id, data) {
  const d = deploys.get(id) || { id };
  d.data = data;
  d.since = parseTs(data.ts);
  if (data.status === 'running' && d.runningSeen == null) d.runningSeen = validTs(data.ts);
  deploys.set(id, d);
  renderDeploy(d);
}

function renderDeploy(d) {
  const list = $('list-deploy');
  const data = d.data;
  if (!d.el) {
    d.el = el('li', 'deploy');
    d.el.dataset.uuid = d.id;
  }
  const btn = el('button', 'deploy-open');
  btn.type = 'button';
  btn.title = `Open the log of deployment ${d.id}`;
  if (isOpen('deploy', d.id)) btn.setAttribute('aria-current', 'true');
  btn.addEventListener('click', () => openLogs('deploy', d.id));
  const app = data.app && resources.get(`app/${data.app}`);
  // the app's name when the team view knows the app, else the deployment's own id
  const title = el('span', 'deploy-title', app ? app.name : `deployment ${shortId(d.id)}`);
  title.title = `deployment ${d.id}${data.app ? `, app ${data.app}` : ''}`;
  const commit = data.commit ? el('code', 'deploy-commit', String(data.commit).slice(0, 10)) : null;
  const head = el('span', 'deploy-head');
  head.append(title, badge(data.status));
  if (commit) head.append(commit);
  const progress = Math.max(0, Math.min(100, Number(data.progress) || 0));
  const bar = document.createElement('progress');
  bar.max = 100;
  bar.value = progress;
  bar.textContent = `${progress}%`;
  bar.setAttribute('aria-label', `Deployment progress ${progress}%`);
  bar.className = data.status === 'failed' ? 'tone-bad' : data.status === 'finished' ? 'tone-ok' : '';
  const stepText = data.step
    ? `${data.step_index != null && data.total_steps ? `Step ${data.step_index + 1}/${data.total_steps}: ` : ''}${data.step}`
    : '';
  const step = el('span', 'deploy-step', stepText);
  const meta = el('span', 'deploy-meta');
  meta.append(el('span', 'pct', `${progress}%`));
  const since = el('span', 'since');
  since.dataset.since = String(d.since);
  since.textContent = ago(d.since);
  meta.append(since);
  if (data.triggered_by) meta.append(el('span', 'by', `by ${data.triggered_by}`));
  const { start, end } = deployTimes(d);
  if (start != null && (end == null || end >= start)) {
    const took = el('span', 'deploy-duration');
    took.dataset.start = String(start);
    if (end != null) took.dataset.end = String(end);
    durationText(took, start, end);
    meta.append(took);
  }
  btn.append(head, bar, step, meta);
  d.el.replaceChildren(btn);
  if (!d.el.isConnected) {
    // newest first
    const after = [...list.children].find((li) => (deploys.get(li.dataset.uuid)?.since || 0) < d.since);
    list.insertBefore(d.el, after || null);
  }
  renderEmpty(list);
}

function removeDeploy(id) {
  const d = deploys.get(id);
  if (!d) return;
  deploys.delete(id);
  if (d.el) d.el.remove();
  renderEmpty($('list-deploy'));
}

function upsertBanner(kind, id, data) {
  const key = `${kind}/${id}`;
  const state = String(data.state || '').toLowerCase();
  const over = kind === 'incident' ? state === 'resolved' : ['completed', 'done', 'cancelled', 'finished'].includes(state);
  if (over) { removeBanner(kind, id); return; }
  let b = banners.get(key);
  if (!b) {
    b = el('div', `banner banner-${kind}`);
    b.dataset.id = id;
    b.setAttribute('role', kind === 'incident' ? 'alert' : 'note');
    banners.set(key, b);
    $('banners').append(b);
  }
  const sev = kind === 'incident' ? String(data.severity || 'minor').toLowerCase() : 'maintenance';
  b.dataset.severity = sev;
  const head = el('strong', null, `${kind === 'incident' ? 'Incident' : 'Maintenance'}: ${data.title || id}`);
  const parts = [head, el('span', 'banner-state', state.replace(/_/g, ' ') || '')];
  if (kind === 'incident') {
    parts.push(el('span', 'banner-sev', `severity ${sev}`));
    const updates = Array.isArray(data.updates) ? data.updates : [];
    const last = updates[updates.length - 1];
    const text = typeof last === 'string' ? last : last && (last.message || last.body || last.text);
    if (text) parts.push(el('span', 'banner-update', text));
  } else {
    const fmt = (t) => (t ? new Date(t).toLocaleString() : '?');
    parts.push(el('span', 'banner-when', `${fmt(data.starts_at)} – ${fmt(data.ends_at)}`));
    if (data.description) parts.push(el('span', 'banner-update', data.description));
  }
  b.replaceChildren(...parts);
}

function removeBanner(kind, id) {
  const key = `${kind}/${id}`;
  const b = banners.get(key);
  if (b) { b.remove(); banners.delete(key); }
}

function alertMessage(text) {
  const p = el('p', 'alert', text);
  p.setAttribute('role', 'alert');
  $('alerts').append(p);
}

// ---- events ------------------------------------------------------------------------

const RESOURCE_KINDS = new Set(['app', 'db', 'service', 'server']);

function onTeamEvent(ev) {
  const t = parseTopic(ev.topic);
  if (!t) return;
  const deleted = ev.event === 'deleted' || ev.data == null;
  if (RESOURCE_KINDS.has(t.kind) && (t.leaf === 'status' || t.leaf === 'reachability')) {
    if (deleted) removeResource(t.kind, t.id);
    else upsertResource(t.kind, t.id, ev.data);
  } else if (t.kind === 'deploy' && t.leaf === 'status') {
    if (deleted) removeDeploy(t.id);
    else upsertDeploy(t.id, ev.data);
  } else if (t.kind === 'incident' || t.kind === 'maintenance') {
    if (deleted) removeBanner(t.kind, t.id);
    else upsertBanner(t.kind, t.id, ev.data);
  }
}

function onStatsEvent(ev) {
  const t = parseTopic(ev.topic);
  if (!t || t.kind !== 'app' || !ev.data || ev.event === 'deleted') return;
  recordStats(t.id, ev.data);
}

// ---- connection indicator ----------------------------------------------------------

let retryAt = null;

function setConn(state, info = {}) {
  const conn = $('conn');
  conn.dataset.state = state;
  $('conn-retry').hidden = !(state === 'reconnecting' || state === 'polling' || (state === 'offline' && info.retrying));
  renderConnText(info);
}

let lastInfo = {};
function renderConnText(info = lastInfo) {
  lastInfo = info;
  const state = $('conn').dataset.state;
  const wait = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : null;
  const text = {
    connecting: 'Connecting…',
    connected: 'Live',
    reconnecting: 'Reconnecting…',
    polling: 'Offline — polling over HTTP',
    offline: info.retrying === false ? `Offline — ${info.reason === 'unauthorized' ? 'token rejected' : 'stopped'}` : 'Offline — bridge unreachable, retrying',
  }[state] || state;
  // the live region changes only with the state; the countdown ticks beside it
  if ($('conn-text').textContent !== text) $('conn-text').textContent = text;
  const retrying = state === 'reconnecting' || state === 'polling' || (state === 'offline' && info.retrying !== false);
  $('conn-next').textContent = retrying && wait ? `next WebSocket try in ${wait}s` : '';
}

// ---- offline: cards greyed while the WebSocket is down -----------------------------

let everConnected = false;

function renderStale(state, info) {
  if (state === 'connected') everConnected = true;
  // before the first connection there is nothing shown to be stale
  const stale = everConnected && state !== 'connected';
  $('main').classList.toggle('stale', stale);
  const banner = $('offline-banner');
  banner.hidden = !stale;
  if (!stale) return;
  banner.textContent = state === 'polling'
    ? 'Offline — the WebSocket is down; statuses are polled over HTTP every few seconds and may lag.'
    : state === 'offline' && info.retrying === false
      ? 'Offline — not reconnecting. What is shown may be out of date.'
      : 'Offline — reconnecting. What is shown may be out of date.';
}

// ---- log viewer --------------------------------------------------------------------

const viewer = new LogViewer({
  list: $('log-lines'), status: $('log-status'), jump: $('log-jump'), pause: $('log-pause'),
  level: $('log-level'), search: $('log-search'), max: $('log-max'), clear: $('log-clear'),
  download: $('log-download'),
});

let bus = null;

/** Marks the button that opened the log (deployment or resource card). */
function renderOpeners(kind, id) {
  if (kind === 'deploy') { for (const d of deploys.values()) renderDeploy(d); return; }
  const r = resources.get(`${kind}/${id}`);
  if (r) renderResource(r);
}

function opener(kind, id) {
  return kind === 'deploy'
    ? document.querySelector(`li.deploy[data-uuid="${CSS.escape(id)}"] button`)
    : document.querySelector(`li.res[data-kind="${CSS.escape(kind)}"][data-uuid="${CSS.escape(id)}"] .res-logs`);
}

/** After the bridge acknowledged a finished deploy's log: when its
 *  history holds no line (/v1/history, the same ring the WebSocket replays
 *  from), says so instead of showing an empty box.  #log-lines gets
 *  data-history="held" or "gone" once this is known. */
async function explainDeployLog(open) {
  const d = deploys.get(open.id);
  if (!d || !DEPLOY_OVER.has(d.data.status) || !bus.httpBase) return;
  let body;
  try {
    const res = await fetch(`${bus.httpBase}/v1/history?channel=${encodeURIComponent(open.channel)}&since=0`, {
      headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store',
    });
    if (!res.ok) return;
    body = await res.json();
  } catch { return; }
  if (openLog !== open) return;
  const held = (Array.isArray(body.events) && body.events.length > 0) || viewer.lineCount() > 0;
  $('log-lines').dataset.history = held ? 'held' : 'gone';
  if (held) return;
  const { end } = deployTimes(d);
  const when = end != null ? ` at ${new Date(end).toLocaleString()}` : '';
  const seen = Number(body.last_seq) > 0 ? `its ${body.last_seq} lines are` : 'its lines are';
  viewer.note(`This deploy ${d.data.status}${when}; ${seen} no longer held by the bridge, `
    + 'which keeps a deploy\'s log while it runs and for 60 s after its last viewer left.');
}

/** Opens the log of a deployment (kind "deploy", from line 1) or the live
 *  runtime log of an app, a database or a service, in the one viewer. */
function openLogs(kind, id) {
  const was = openLog;
  if (offLogs) { offLogs(); offLogs = null; }
  openLog = { kind, id, channel: `${kind}.${id}.logs` };
  if (was) renderOpeners(was.kind, was.id);
  renderOpeners(kind, id);
  const r = resources.get(`${kind}/${id}`);
  $('logview').hidden = false;
  $('logview').dataset.channel = openLog.channel;
  $('log-kind').textContent = kind === 'deploy' ? 'Deploy log' : `${KIND_NAMES[kind]} log`;
  $('log-name').textContent = r ? r.name : shortId(id);
  $('log-name').title = id;
  $('log-lines').setAttribute('aria-label', `${KIND_NAMES[kind]} log lines`);
  viewer.reset(`${kind}-${id}`);
  // a deploy's log from line 1 (since 0: the bridge follows an active
  // deploy from its start, and says what it no longer holds); a runtime
  // log is endless and followed only while watched, so it opens live, like
  // `tail -f` (no since: no gap for the lines before it was opened); a
  // reconnect resumes either from the last line shown
  offLogs = bus.subscribe(openLog.channel, (ev) => viewer.push(ev), {
    ...(kind === 'deploy' ? { since: 0 } : {}),
    onError: (e) => alertMessage(`Cannot open the log of ${shortId(id)}: ${e.code}${e.message ? ` — ${e.message}` : ''}`),
  });
  delete $('log-lines').dataset.subscribed;
  delete $('log-lines').dataset.history;
  $('logview').scrollIntoView({ block: 'nearest' });
  $('log-lines').focus({ preventScroll: true });
}

$('log-close').addEventListener('click', () => {
  if (offLogs) { offLogs(); offLogs = null; }
  const was = openLog;
  openLog = null;
  $('logview').hidden = true;
  delete $('logview').dataset.channel;
  if (!was) return;
  renderOpeners(was.kind, was.id);
  const btn = opener(was.kind, was.id);
  if (btn) btn.focus();
});

// ---- start -------------------------------------------------------------------------

function start() {
  $('main').hidden = false;
  $('team-label').textContent = `· team ${team}`;
  document.title = `statusbus · team ${team}`;
  for (const list of document.querySelectorAll('ul[data-empty]')) renderEmpty(list);

  bus = new StatusBus({ url: busUrl, token });
  window.statusbus = bus;   // for the console
  bus.on('state', (state, info) => {
    if (state === 'connected') retryAt = null;
    else delete $('log-lines').dataset.subscribed;
    setConn(state, info);
    renderStale(state, info);
    if (state === 'offline' && info.reason === 'unauthorized') showLogin('The bridge rejected the token. Enter a valid token.');
  });
  // #log-lines[data-subscribed] says the bridge acknowledged the open log stream
  // (again after each reconnect); tests wait for it before publishing.
  bus.on('subscribed', (ack) => {
    if (openLog && ack.channel === openLog.channel) {
      $('log-lines').dataset.subscribed = 'true';
      if (openLog.kind === 'deploy' && !viewer.hasNote()) explainDeployLog(openLog);
    }
  });
  bus.on('retry', (r) => { retryAt = Date.now() + r.delay; renderConnText(); });
  bus.on('error', (e) => { if (e.code !== 'handler_error') console.warn('statusbus error', e); else console.error(e.error); });
  $('conn-retry').addEventListener('click', () => bus.retry());

  bus.subscribe(`team.${team}`, onTeamEvent, {
    onError: (e) => alertMessage(`Cannot show team ${team}: ${e.code}${e.message ? ` — ${e.message}` : ''}`),
  });
  bus.subscribe(`team.${team}.stats`, onStatsEvent, { onError: () => {} });
  setConn('connecting');
  bus.connect().catch(() => {});

  setInterval(() => {
    for (const t of document.querySelectorAll('.deploy-duration[data-start]:not([data-end])')) durationText(t, Number(t.dataset.start), null);
    for (const s of document.querySelectorAll('.since[data-since]')) {
      const ms = Number(s.dataset.since);
      s.textContent = s.closest('.res') ? `changed ${ago(ms)}` : ago(ms);
    }
    if (retryAt) renderConnText();
  }, 1000);
}

if (!team || !/^[A-Za-z0-9_-]{1,64}$/.test(team)) showLogin(team ? 'Team ids are letters, digits, _ and -.' : '');
else start();
