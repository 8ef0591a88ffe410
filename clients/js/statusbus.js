// SPDX-License-Identifier: MIT
/**
 * statusbus.js — a dependency-free ES module client for the statusbus.v1
 * WebSocket protocol (docs/protocol.md §5) with the HTTP polling fallback
 * of §7.
 *
 * One StatusBus object holds one WebSocket to the bridge.  It multiplexes any
 * number of channel subscriptions over it, resubscribes after every
 * reconnect (logs channels resume with `since` = the last seq seen and drop
 * anything already delivered), reconnects with capped exponential backoff
 * and jitter, and, when the WebSocket keeps failing, polls
 * /v1/snapshot and /v1/history until the WebSocket works again.
 *
 * Everything that depends on time or chance (timers, clock, Math.random) and
 * every I/O primitive (WebSocket, fetch) can be injected, so the behaviour is
 * testable without a network; see clients/js/test/.  docs/client.md is the
 * user-facing description of the semantics implemented here.
 */

export const PROTOCOL = 'statusbus.v1';

/** Connection states, in the order a fresh client usually meets them. */
export const STATES = Object.freeze(['connecting', 'connected', 'reconnecting', 'polling', 'offline']);

// A logs channel: deploy.<uuid>.logs and the runtime logs app.<uuid>.logs,
// db.<uuid>.logs, service.<uuid>.logs — any name whose last segment is
// "logs" (subscribe's options.logs says otherwise for a custom map).
const LOGS_CHANNEL = /\.logs$/;
const WS_OPEN = 1;

/** Tunables; every one can be overridden in the constructor options. */
export const DEFAULTS = Object.freeze({
  backoffBaseMs: 1000,        // first retry delay
  backoffMaxMs: 16000,        // nominal delay cap (before jitter)
  jitter: 0.2,                // ±fraction of the nominal delay, or 'full' (uniform 0..nominal)
  drainJitterMs: 2000,        // after a 1001 (bridge draining): reconnect uniform in 0..this
  pollAfterFailures: 3,       // consecutive failed WebSocket attempts before polling
  snapshotIntervalMs: 5000,   // GET /v1/snapshot period while polling
  historyIntervalMs: 2000,    // GET /v1/history period while polling (logs channels)
  heartbeatMs: 25000,         // ping period unless welcome.heartbeat_s says otherwise
  pongTimeoutMs: 10000,       // no frame at all this long after a ping: the connection is dead
  connectTimeoutMs: 10000,    // socket open + hello + welcome must complete within this
  refreshLeadMs: 60000,       // refresh the token this long before `exp`
  maxAuthFailures: 3,         // consecutive 4001 closes before giving up (state offline)
});

/**
 * The nominal backoff delay for the attempt-th consecutive failure
 * (0-based: 0 → base, 1 → 2·base, …, capped at max), with jitter applied:
 * jitter = f (a number) gives a delay uniform in [d·(1-f), d·(1+f)];
 * jitter = 'full' gives a delay uniform in [0, d].
 */
export function backoffDelay(attempt, opts = DEFAULTS, random = Math.random) {
  const base = opts.backoffBaseMs ?? DEFAULTS.backoffBaseMs;
  const max = opts.backoffMaxMs ?? DEFAULTS.backoffMaxMs;
  const jitter = opts.jitter ?? DEFAULTS.jitter;
  const nominal = Math.min(max, base * Math.pow(2, Math.min(attempt, 30)));
  if (jitter === 'full') return Math.round(random() * nominal);
  const f = Number(jitter) || 0;
  return Math.round(nominal * (1 + f * (2 * random() - 1)));
}

/** The `exp` claim (seconds since the epoch) of a JWT, or null.  Not verified. */
export function jwtExpiry(token) {
  if (typeof token !== 'string') return null;
  const parts = token.split('.');
  if (parts.length < 2) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1]));
    return typeof claims.exp === 'number' ? claims.exp : null;
  } catch {
    return null;
  }
}

function base64UrlDecode(s) {
  let b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  while (b64.length % 4) b64 += '=';
  let bin;
  if (typeof globalThis.atob === 'function') bin = globalThis.atob(b64);
  else bin = globalThis.Buffer.from(b64, 'base64').toString('binary');
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The event name of a logs channel's lines: deploy.log, app.log, db.log, service.log (the first segment + ".log"). */
function logEventOf(channel) {
  return `${String(channel).split('.')[0]}.log`;
}

/** True for a channel name the bridge could accept (docs/protocol.md §3.3). */
export function isValidChannel(channel) {
  return typeof channel === 'string' && channel.length > 0 &&
    !/[+#/\u0000]/.test(channel) && !channel.split('.').some((s) => s === '');
}

/** ws://host:port/v1/ws → http://host:port (wss → https). */
export function httpBaseFromUrl(url) {
  try {
    const u = new URL(url, globalThis.location ? globalThis.location.href : undefined);
    const proto = u.protocol === 'wss:' ? 'https:' : u.protocol === 'ws:' ? 'http:' : u.protocol;
    return `${proto}//${u.host}`;
  } catch {
    return null;
  }
}

function deferred() {
  const d = { settled: false };
  d.promise = new Promise((resolve, reject) => {
    d.resolve = (v) => { d.settled = true; resolve(v); };
    d.reject = (e) => { d.settled = true; reject(e); };
  });
  d.promise.catch(() => {});        // a rejection nobody awaits is not an error
  return d;
}

function closeCodeError(code) {
  switch (code) {
    case 4000: return 'protocol_error';
    case 4001: return 'unauthorized';
    case 4008: return 'rate_limited';
    case 4009: return 'frame_too_large';
    case 4029: return 'too_slow';
    default: return 'closed';
  }
}

function presenceError(code, message, channel) {
  return Object.assign(new Error(`${code}: ${message}`), { code, message, channel, op: 'presence' });
}

export class StatusBus {
  /**
   * @param {object} options see statusbus.d.ts (StatusBusOptions)
   */
  constructor(options = {}) {
    if (!options.url) throw new TypeError('StatusBus: options.url is required');
    this.url = options.url;
    this._token = options.token ?? null;
    this._getToken = options.getToken ?? null;
    this._WS = options.WebSocket ?? globalThis.WebSocket;
    if (!this._WS) {
      throw new TypeError('StatusBus: no WebSocket implementation: pass options.WebSocket (in Node < 22, e.g. the `ws` package)');
    }
    // fetch: null disables the polling fallback; absent means the global fetch.
    this._fetch = 'fetch' in options ? options.fetch
      : (typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : null);
    const base = options.httpBase ?? httpBaseFromUrl(this.url);
    this.httpBase = base ? String(base).replace(/\/+$/, '') : null;
    const t = options.timers ?? {};
    this._setTimeout = t.setTimeout ?? globalThis.setTimeout.bind(globalThis);
    this._clearTimeout = t.clearTimeout ?? globalThis.clearTimeout.bind(globalThis);
    this._now = t.now ?? (() => Date.now());
    this._random = options.random ?? Math.random;
    this.options = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS)) if (options[k] !== undefined) this.options[k] = options[k];

    this._listeners = new Map();     // name -> Set<fn>
    this._subs = new Map();          // channel -> subscription record
    this._pending = new Map();       // request id -> {kind, sub?}
    this._nextId = 1;
    this._state = 'offline';
    this._started = false;
    this._stopped = true;
    this._ws = null;
    this._welcomed = false;
    this._gen = 0;                   // bumps on every socket attempt and on close()
    this._failures = 0;              // consecutive failed attempts since the last welcome
    this._authFailures = 0;          // consecutive 4001 closes
    this._forceToken = false;        // next attempt must fetch a new token
    this._polling = false;
    this._pollGen = 0;
    this._pollOk = true;
    this._timers = { reconnect: null, connect: null, ping: null, pong: null, refresh: null };
    this.session = null;
    this.heartbeatMs = this.options.heartbeatMs;
    this._ready = deferred();
  }

  /** Current connection state (one of STATES). */
  get state() { return this._state; }

  // ---- events -------------------------------------------------------------

  /** Adds a listener for 'state' | 'error' | 'gap' | 'retry' | 'welcome' | 'subscribed'; returns a function removing it. */
  on(name, fn) {
    if (typeof fn !== 'function') throw new TypeError('StatusBus.on: listener must be a function');
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    this._listeners.get(name).add(fn);
    return () => this.off(name, fn);
  }

  off(name, fn) {
    const set = this._listeners.get(name);
    if (set) set.delete(fn);
  }

  _emit(name, ...args) {
    const set = this._listeners.get(name);
    if (!set || set.size === 0) return false;
    for (const fn of [...set]) {
      try { fn(...args); } catch (e) { if (name !== 'error') this._emitError({ code: 'listener_error', message: String(e && e.message || e), error: e }); }
    }
    return true;
  }

  _emitError(err) {
    if (!this._emit('error', err) && typeof console !== 'undefined') {
      console.warn('statusbus:', err.code, err.message ?? '', err.channel ?? '');
    }
  }

  _setState(state, info = {}) {
    if (this._state === state) return;
    const prev = this._state;
    this._state = state;
    this._emit('state', state, { ...info, previous: prev });
    if (state === 'connected' || state === 'polling') this._ready.resolve();
  }

  // ---- lifecycle ----------------------------------------------------------

  /**
   * Starts connecting (idempotent).  Resolves when the client first reaches
   * `connected` or `polling`; rejects if it gives up (state `offline`).
   */
  connect() {
    if (this._started && !this._stopped) return this._ready.promise;
    if (this._ready.settled) this._ready = deferred();
    this._started = true;
    this._stopped = false;
    this._failures = 0;
    this._authFailures = 0;
    this._setState('connecting');
    this._scheduleRefresh();
    this._openSocket();
    return this._ready.promise;
  }

  /** Closes the connection and stops every timer; state becomes `offline`. */
  close() {
    this._stopped = true;
    this._gen++;
    this._clearAllTimers();
    this._stopPolling();
    this._detachSocket(1000, 'client closed');
    this._setState('offline', { reason: 'closed', retrying: false });
  }

  /** Retries the WebSocket now instead of waiting for the backoff timer. */
  retry() {
    if (this._stopped) return this.connect();
    if (this._ws) return this._ready.promise;
    this._clear('reconnect');
    this._openSocket();
    return this._ready.promise;
  }

  /** Replaces the token (e.g. after a login); reconnects if the client had given up on auth. */
  setToken(token) {
    this._token = token;
    this._authFailures = 0;
    this._scheduleRefresh();
    if (this._welcomed) this._request({ op: 'refresh', token }, { kind: 'refresh' });
    else if (this._stopped && this._started && this._gaveUp) { this._gaveUp = false; return this.connect(); }
    return undefined;
  }

  _giveUp(reason, info = {}) {
    this._stopped = true;
    this._gaveUp = true;
    this._gen++;
    this._clearAllTimers();
    this._stopPolling();
    this._detachSocket(1000, reason);
    this._setState('offline', { ...info, reason, retrying: false });
    const err = new Error(`statusbus: gave up (${reason})`);
    err.code = reason;
    this._ready.reject(err);
  }

  _clear(name) {
    if (this._timers[name] != null) {
      this._clearTimeout(this._timers[name]);
      this._timers[name] = null;
    }
  }

  _clearAllTimers() {
    for (const k of Object.keys(this._timers)) this._clear(k);
  }

  _after(name, ms, fn) {
    this._clear(name);
    this._timers[name] = this._setTimeout(() => { this._timers[name] = null; fn(); }, Math.max(0, ms));
  }

  // ---- tokens -------------------------------------------------------------

  _tokenNearExpiry() {
    const exp = jwtExpiry(this._token);
    return exp != null && exp * 1000 - this._now() < this.options.refreshLeadMs;
  }

  async _tokenForAttempt() {
    if (this._getToken && (this._forceToken || !this._token || this._tokenNearExpiry())) {
      const t = await this._getToken();
      this._forceToken = false;
      this._token = t;
      this._scheduleRefresh();
    }
    return this._token;
  }

  /**
   * With getToken, a refresh is due refreshLeadMs before `exp`; a token
   * with less than 5·refreshLeadMs left is refreshed at 80 % of what is left.
   */
  _scheduleRefresh() {
    this._clear('refresh');
    if (!this._getToken || this._stopped) return;
    const exp = jwtExpiry(this._token);
    if (exp == null) return;
    const remaining = exp * 1000 - this._now();
    const lead = this.options.refreshLeadMs;
    const delay = remaining > 5 * lead ? remaining - lead : remaining * 0.8;
    this._after('refresh', Math.max(0, delay), () => this._refreshToken());
  }

  async _refreshToken() {
    const gen = this._gen;
    const oldExp = jwtExpiry(this._token);
    let t;
    try {
      t = await this._getToken();
    } catch (e) {
      if (gen !== this._gen) return;
      this._emitError({ code: 'token_error', message: String(e && e.message || e), error: e });
      this._after('refresh', 5000, () => this._refreshToken());
      return;
    }
    if (gen !== this._gen || this._stopped) return;
    this._token = t;
    if (this._welcomed) this._request({ op: 'refresh', token: t }, { kind: 'refresh' });
    const newExp = jwtExpiry(t);
    if (newExp != null && (oldExp == null || newExp > oldExp)) this._scheduleRefresh();
    else this._emitError({ code: 'token_not_renewed', message: 'getToken() returned a token that does not expire later' });
  }

  // ---- socket -------------------------------------------------------------

  async _openSocket() {
    const gen = ++this._gen;
    this._clear('reconnect');
    let token;
    try {
      token = await this._tokenForAttempt();
    } catch (e) {
      if (gen !== this._gen || this._stopped) return;
      this._emitError({ code: 'token_error', message: String(e && e.message || e), error: e });
      this._connectionLost({ code: 0, reason: 'getToken failed' });
      return;
    }
    if (gen !== this._gen || this._stopped) return;
    let ws;
    try {
      ws = new this._WS(this.url, PROTOCOL);
    } catch (e) {
      this._emitError({ code: 'websocket_error', message: String(e && e.message || e), error: e });
      this._connectionLost({ code: 0, reason: 'WebSocket constructor failed' });
      return;
    }
    this._ws = ws;
    this._welcomed = false;
    this._after('connect', this.options.connectTimeoutMs, () => {
      if (this._ws === ws) this._dropSocket({ code: 0, reason: 'connect timeout' });
    });
    ws.onopen = () => {
      if (this._ws !== ws) return;
      const hello = { op: 'hello' };
      if (token) hello.token = token;
      this._send(hello);
    };
    ws.onmessage = (ev) => { if (this._ws === ws) this._onRaw(ev.data); };
    ws.onerror = () => { /* onclose follows with the code */ };
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._connectionLost({ code: ev && ev.code || 1006, reason: ev && ev.reason || '' });
    };
  }

  /** Forgets the current socket (no more callbacks) and closes it. */
  _detachSocket(code, reason) {
    const ws = this._ws;
    this._ws = null;
    this._welcomed = false;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
    try { ws.close(code, reason); } catch { /* already closed */ }
  }

  /** A dead or stuck connection: do not wait for the closing handshake. */
  _dropSocket(info) {
    this._detachSocket(4000, info.reason);
    this._connectionLost(info);
  }

  _connectionLost({ code, reason }) {
    this._clear('connect');
    this._clear('ping');
    this._clear('pong');
    this._welcomed = false;
    for (const meta of this._pending.values()) {
      if (meta.kind === 'presence') meta.reject(presenceError('unavailable', 'the connection was lost', meta.channel));
    }
    this._pending.clear();
    for (const sub of this._subs.values()) if (sub.state === 'active' || sub.state === 'sent') sub.state = 'pending';
    if (this._stopped) return;

    if (code === 4001) {
      this._authFailures++;
      this._emitError({ code: 'unauthorized', closeCode: code, message: reason || 'unauthorized or token expired' });
      if (!this._getToken || this._authFailures >= this.options.maxAuthFailures) {
        this._giveUp('unauthorized', { code });
        return;
      }
      this._forceToken = true;
    } else if (code === 4000 || code === 4008 || code === 4009) {
      this._emitError({ code: closeCodeError(code), closeCode: code, message: reason || '' });
    }
    this._scheduleReconnect({ code, reason });
  }

  _scheduleReconnect(info) {
    const attempt = this._failures;
    this._failures++;
    // a draining bridge (1001) closes its clients over its drain window and
    // the balancer sends them elsewhere: a random 0..drainJitterMs spreads
    // their return further, so that they do not arrive in one burst
    const delay = info.code === 1001 && attempt === 0
      ? Math.round(this._random() * this.options.drainJitterMs)
      : backoffDelay(attempt, this.options, this._random);
    if (this._failures >= this.options.pollAfterFailures && this._fetch && this.httpBase) {
      this._startPolling(info);
    } else if (!this._polling) {
      this._setState('reconnecting', { ...info, attempt: this._failures, delay });
    }
    this._emit('retry', { attempt: this._failures, delay, code: info.code, reason: info.reason });
    this._after('reconnect', delay, () => this._openSocket());
  }

  _send(obj) {
    const ws = this._ws;
    if (!ws || ws.readyState !== WS_OPEN) return false;
    try {
      ws.send(JSON.stringify(obj));
      return true;
    } catch {
      return false;
    }
  }

  _request(obj, meta) {
    const id = this._nextId++;
    this._pending.set(id, meta);
    this._send({ ...obj, id });
    return id;
  }

  _schedulePing() {
    this._after('ping', this.heartbeatMs, () => {
      if (!this._welcomed) return;
      this._request({ op: 'ping' }, { kind: 'ping' });
      if (this._timers.pong == null) {
        this._after('pong', this.options.pongTimeoutMs, () => {
          if (this._welcomed) this._dropSocket({ code: 0, reason: 'no pong (dead connection)' });
        });
      }
      this._schedulePing();
    });
  }

  // ---- frames -------------------------------------------------------------

  _onRaw(raw) {
    this._clear('pong');             // any frame proves the connection alive
    let f;
    try {
      f = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw));
    } catch {
      this._emitError({ code: 'bad_frame', message: 'frame is not JSON' });
      return;
    }
    if (!f || typeof f !== 'object') return;
    switch (f.op) {
      case 'welcome': return this._onWelcome(f);
      case 'ack': return this._onAck(f);
      case 'error': return this._onErrorFrame(f);
      case 'event': return this._onEvent(f);
      case 'batch': return this._onBatch(f);
      case 'gap': return this._onGap(f);
      case 'pong': this._pending.delete(f.id); return undefined;
      case 'presence': return this._onPresence(f);
      default: return undefined;     // unknown ops are ignored (forward compatible)
    }
  }

  _onWelcome(f) {
    this._clear('connect');
    this._welcomed = true;
    this.session = f.session ?? null;
    this.welcome = f;
    this.heartbeatMs = typeof f.heartbeat_s === 'number' && f.heartbeat_s > 0 ? f.heartbeat_s * 1000 : this.options.heartbeatMs;
    this._failures = 0;
    this._authFailures = 0;
    this._stopPolling();
    this._setState('connected', { session: this.session });
    this._emit('welcome', f);
    for (const sub of this._subs.values()) this._sendSub(sub);
    this._schedulePing();
  }

  _sendSub(sub) {
    const frame = { op: 'sub', channel: sub.channel };
    if (sub.isLogs) {
      const since = sub.lastSeq ?? sub.initialSince;
      if (since != null) frame.since = since;
    }
    sub.state = 'sent';
    sub.subId = this._request(frame, { kind: 'sub', sub });
  }

  _onAck(f) {
    const meta = this._pending.get(f.id);
    if (!meta) return;
    this._pending.delete(f.id);
    if (meta.kind === 'sub' && this._subs.get(meta.sub.channel) === meta.sub) {
      meta.sub.state = 'active';
      meta.sub.error = null;
      const ack = { channel: f.channel ?? meta.sub.channel, recovered: f.recovered };
      meta.sub.ready.resolve(ack);
      this._emit('subscribed', ack);
    }
  }

  _onPresence(f) {
    const meta = this._pending.get(f.id);
    if (!meta || meta.kind !== 'presence') return;
    this._pending.delete(f.id);
    meta.resolve(Array.isArray(f.members) ? f.members : []);
  }

  _onErrorFrame(f) {
    const err = { code: f.code ?? 'internal', message: f.message ?? '', id: f.id, channel: f.channel };
    const meta = f.id != null ? this._pending.get(f.id) : undefined;
    if (meta) this._pending.delete(f.id);
    if (meta && meta.kind === 'presence') {
      // the answer to presence(): the subscription itself is fine
      meta.reject(presenceError(err.code, err.message, meta.channel));
      return;
    }
    let sub = meta && meta.sub;
    if (!sub && f.channel) sub = this._subs.get(f.channel);
    if (sub) {
      err.channel = sub.channel;
      sub.state = 'failed';
      sub.error = err;
      sub.ready.reject(Object.assign(new Error(`${err.code}: ${err.message}`), err));
      for (const entry of [...sub.entries]) {
        if (entry.onError) {
          try { entry.onError(err); } catch { /* a broken error handler must not stop the others */ }
        }
      }
    }
    if (meta && meta.kind) err.op = meta.kind;
    this._emitError(err);
  }

  _onEvent(f) {
    const sub = this._subs.get(f.channel);
    if (!sub) return;
    this._accept(sub, {
      channel: f.channel, event: f.event, topic: f.topic ?? null,
      retained: !!f.retained, data: f.data === undefined ? null : f.data,
    });
  }

  /** A batch element is either the payload itself (log lines) or an envelope {event?, topic, retained?, data}. */
  _normalize(sub, item, frame) {
    const isEnv = item && typeof item === 'object' && !Array.isArray(item) &&
      'data' in item && ('topic' in item || 'event' in item);
    if (isEnv) {
      return {
        channel: sub.channel, event: item.event ?? frame.event, topic: item.topic ?? frame.topic ?? null,
        retained: !!(item.retained ?? frame.retained), data: item.data === undefined ? null : item.data,
      };
    }
    let topic = frame.topic ?? null;
    // a deploy's log topic follows from its channel; a runtime log's has
    // its owner's team in it, which the channel does not say
    if (!topic && sub.isLogs && sub.channel.startsWith('deploy.')) topic = `deploy/${sub.channel.slice(7, -5)}/logs`;
    return { channel: sub.channel, event: frame.event, topic, retained: !!frame.retained, data: item };
  }

  _onBatch(f) {
    const sub = this._subs.get(f.channel);
    if (!sub || !Array.isArray(f.events)) return;
    if (sub.isLogs && typeof f.event === 'string') sub.logEvent = f.event;
    for (const item of f.events) {
      if (this._subs.get(f.channel) !== sub) return;    // a handler unsubscribed mid-batch
      this._accept(sub, this._normalize(sub, item, f));
    }
  }

  _onGap(f) {
    const sub = this._subs.get(f.channel);
    if (!sub) return;
    this._deliverGap(sub, f.from, f.to);
  }

  _deliverGap(sub, from, to) {
    if (typeof to === 'number' && (sub.lastSeq == null || to > sub.lastSeq)) sub.lastSeq = to;
    const ev = { channel: sub.channel, event: 'gap', topic: null, retained: false, data: { from, to }, from, to };
    this._deliver(sub, ev);
    this._emit('gap', ev);
  }

  /** Dedupe (logs: by seq; status: remembers the last event per topic), then deliver. */
  _accept(sub, ev) {
    const d = ev.data;
    if (sub.isLogs || /\.log$/.test(ev.event)) {
      const seq = d && typeof d === 'object' ? d.seq : undefined;
      if (typeof seq === 'number') {
        if (sub.lastSeq != null && seq <= sub.lastSeq) return;
        sub.lastSeq = seq;
      }
    } else if (ev.topic) {
      if (ev.event === 'deleted') sub.cache.delete(ev.topic);
      else sub.cache.set(ev.topic, { ev, fp: JSON.stringify([ev.event, d]) });
    }
    this._deliver(sub, ev);
  }

  _deliver(sub, ev) {
    for (const entry of [...sub.entries]) {
      try {
        entry.handler(ev);
      } catch (e) {
        this._emitError({ code: 'handler_error', channel: sub.channel, message: String(e && e.message || e), error: e });
      }
    }
  }

  // ---- subscriptions ------------------------------------------------------

  /**
   * Subscribes handler to channel; returns a function that unsubscribes it.
   * The function has a `ready` promise: resolved with the ack, rejected
   * with the bridge's error (e.g. forbidden).  options.since (logs channels)
   * asks for history after that seq; options.onError gets this channel's
   * errors; options.logs (boolean) says whether the channel is a logs
   * channel when its name does not (default: its last segment is "logs").
   */
  subscribe(channel, handler, options = {}) {
    if (!isValidChannel(channel)) throw new TypeError(`StatusBus.subscribe: invalid channel ${JSON.stringify(channel)}`);
    if (typeof handler !== 'function') throw new TypeError('StatusBus.subscribe: handler must be a function');
    let sub = this._subs.get(channel);
    const entry = { handler, onError: options.onError };
    if (!sub) {
      sub = {
        channel, entries: new Set(),
        isLogs: typeof options.logs === 'boolean' ? options.logs : LOGS_CHANNEL.test(channel),
        logEvent: logEventOf(channel),
        initialSince: typeof options.since === 'number' ? options.since : null,
        lastSeq: null, cache: new Map(), state: 'pending', error: null,
        ready: deferred(), pollTimer: null, pollErrorReported: false, subId: null,
      };
      sub.entries.add(entry);
      this._subs.set(channel, sub);
      if (this._welcomed) this._sendSub(sub);
      else if (this._polling) this._pollOnce(sub);
    } else {
      sub.entries.add(entry);
      // A late joiner gets the last-known status of every topic at once,
      // like a browser joining a channel on the bridge.
      const cached = [...sub.cache.values()].filter((c) => c.ev.retained).map((c) => c.ev);
      if (cached.length) {
        queueMicrotask(() => {
          if (!sub.entries.has(entry)) return;
          for (const ev of cached) {
            try { handler(ev); } catch (e) { this._emitError({ code: 'handler_error', channel, message: String(e && e.message || e), error: e }); }
          }
        });
      }
      if (sub.state === 'failed' && entry.onError) queueMicrotask(() => entry.onError(sub.error));
    }
    const unsubscribe = () => this._unsubscribe(sub, entry);
    unsubscribe.ready = sub.ready.promise;
    return unsubscribe;
  }

  _unsubscribe(sub, entry) {
    if (!sub.entries.delete(entry) || sub.entries.size > 0) return;
    if (this._subs.get(sub.channel) !== sub) return;
    this._subs.delete(sub.channel);
    if (sub.pollTimer != null) { this._clearTimeout(sub.pollTimer); sub.pollTimer = null; }
    if (this._welcomed && sub.state !== 'failed') {
      this._request({ op: 'unsub', channel: sub.channel }, { kind: 'unsub' });
    }
  }

  /** Channels with at least one handler. */
  channels() { return [...this._subs.keys()]; }

  /**
   * The members of presence channel `channel` (docs/protocol.md §5.12),
   * cluster-wide: resolves with `[{sub, name?, info?}, …]` sorted by sub.
   * Subscribe first: its handler gets `presence.join` / `presence.leave`
   * events.  Rejects with `code` not_found (not subscribed), bad_request
   * (not a presence channel), or unavailable (not connected, connection
   * lost).
   */
  presence(channel) {
    return new Promise((resolve, reject) => {
      if (!this._welcomed) {
        reject(presenceError('unavailable', 'not connected', channel));
        return;
      }
      this._request({ op: 'presence', channel }, { kind: 'presence', channel, resolve, reject });
    });
  }

  // ---- polling fallback ---------------------------------------------------

  _startPolling(info = {}) {
    if (this._polling) return;
    this._polling = true;
    this._pollGen++;
    this._pollOk = true;
    this._setState('polling', info);
    for (const sub of this._subs.values()) this._pollOnce(sub);
  }

  _stopPolling() {
    if (!this._polling) return;
    this._polling = false;
    this._pollGen++;
    for (const sub of this._subs.values()) {
      if (sub.pollTimer != null) { this._clearTimeout(sub.pollTimer); sub.pollTimer = null; }
    }
  }

  _schedulePoll(sub, delay) {
    if (sub.pollTimer != null) this._clearTimeout(sub.pollTimer);
    sub.pollTimer = this._setTimeout(() => { sub.pollTimer = null; this._pollOnce(sub); }, delay);
  }

  async _pollOnce(sub) {
    const gen = this._pollGen;
    const live = () => this._polling && gen === this._pollGen && this._subs.get(sub.channel) === sub;
    if (!live()) return;
    const ch = encodeURIComponent(sub.channel);
    const url = sub.isLogs
      ? `${this.httpBase}/v1/history?channel=${ch}&since=${sub.lastSeq ?? sub.initialSince ?? 0}`
      : `${this.httpBase}/v1/snapshot?channel=${ch}`;
    let reachable = false;
    try {
      const headers = {};
      if (this._token) headers.Authorization = `Bearer ${this._token}`;
      const res = await this._fetch(url, { headers, cache: 'no-store' });
      if (!live()) return;
      if (res.status === 401) {
        reachable = true;
        this._emitError({ code: 'unauthorized', channel: sub.channel, message: 'HTTP 401 while polling' });
        if (this._getToken) this._forceToken = true;
        try { await this._tokenForAttempt(); } catch { /* reported on the next WebSocket attempt */ }
      } else if (res.status >= 400 && res.status < 500) {
        reachable = true;
        if (!sub.pollErrorReported) {
          sub.pollErrorReported = true;
          let body = null;
          try { body = await res.json(); } catch { /* not JSON */ }
          const code = body && (body.code || body.error) || (res.status === 403 ? 'forbidden' : res.status === 404 ? 'not_found' : 'bad_request');
          const err = { code, message: body && body.message || `HTTP ${res.status}`, channel: sub.channel, op: 'poll' };
          for (const entry of [...sub.entries]) if (entry.onError) { try { entry.onError(err); } catch { /* ignore */ } }
          this._emitError(err);
        }
      } else if (res.ok) {
        const body = await res.json();
        if (!live()) return;
        reachable = true;
        sub.pollErrorReported = false;
        this._applyPoll(sub, body);
      }
    } catch {
      /* network failure: reachable stays false */
    }
    if (!live()) return;
    this._pollReachable(reachable);
    this._schedulePoll(sub, sub.isLogs ? this.options.historyIntervalMs : this.options.snapshotIntervalMs);
  }

  /** Polling that fails at the network level is `offline`; it flips back to `polling` on the next success. */
  _pollReachable(ok) {
    if (ok === this._pollOk) return;
    this._pollOk = ok;
    if (ok) this._setState('polling', { reason: 'poll ok' });
    else this._setState('offline', { reason: 'poll failed', retrying: true });
  }

  _applyPoll(sub, body) {
    const events = Array.isArray(body && body.events) ? body.events : [];
    if (sub.isLogs) {
      const gap = body && body.gap;
      if (gap && typeof gap.to === 'number' && (sub.lastSeq == null || gap.to > sub.lastSeq)) {
        this._deliverGap(sub, gap.from, gap.to);
      }
      const lines = events.map((e) => this._normalize(sub, e, { event: sub.logEvent, retained: false }));
      lines.sort((a, b) => (a.data && a.data.seq) - (b.data && b.data.seq));
      for (const ev of lines) {
        if (this._subs.get(sub.channel) !== sub) return;
        this._accept(sub, ev);
      }
      return;
    }
    const seen = new Set();
    for (const e of events) {
      if (!e || typeof e !== 'object') continue;
      const ev = {
        channel: sub.channel, event: e.event, topic: e.topic ?? null,
        retained: e.retained ?? true, data: e.data === undefined ? null : e.data,
      };
      if (ev.topic) seen.add(ev.topic);
      const prev = ev.topic ? sub.cache.get(ev.topic) : undefined;
      if (prev && prev.fp === JSON.stringify([ev.event, ev.data])) continue;
      if (this._subs.get(sub.channel) !== sub) return;
      this._accept(sub, ev);
    }
    // A retained topic that left the snapshot was deleted (empty retained
    // publish) — unless the bridge says the snapshot is incomplete
    // (live: false: it was not following the channel yet).
    if (body && body.live === false) return;
    for (const [topic, c] of [...sub.cache]) {
      if (!seen.has(topic) && c.ev.retained) {
        if (this._subs.get(sub.channel) !== sub) return;
        this._accept(sub, { channel: sub.channel, event: 'deleted', topic, retained: true, data: null });
      }
    }
  }
}

export default StatusBus;
