// SPDX-License-Identifier: MIT
// Test doubles for statusbus.js: a manual clock with timers, a scriptable
// WebSocket class, a scriptable fetch and a JWT maker.  Not a test file
// itself (the CTest glob runs *.test.mjs only).

import assert from 'node:assert/strict';

/** Lets every pending promise callback run (one macrotask turn, repeated). */
export async function flush(turns = 3) {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

/** A clock whose time moves only when the test calls tick(). */
export class FakeClock {
  constructor(start = 1_700_000_000_000) {
    this.t = start;
    this.timers = new Map();
    this.seq = 1;
    this.now = () => this.t;
    this.setTimeout = (fn, ms) => {
      const id = this.seq++;
      this.timers.set(id, { id, fn, at: this.t + Math.max(0, Number(ms) || 0) });
      return id;
    };
    this.clearTimeout = (id) => { this.timers.delete(id); };
  }

  /** Runs, in time order, every timer due within ms (and timers they add). */
  async tick(ms) {
    const target = this.t + ms;
    for (;;) {
      await flush();
      let next = null;
      for (const t of this.timers.values()) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.t = next.at;
      next.fn();
    }
    this.t = target;
    await flush();
  }
}

/** A fresh WebSocket class per test; `sockets` lists every instance made. */
export function makeFakeWebSocket() {
  const sockets = [];
  class FakeWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;

    constructor(url, protocol) {
      this.url = url;
      this.protocol = protocol;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = null;
      this.autoPong = true;     // answer pings like a live bridge
      sockets.push(this);
    }

    send(data) {
      if (this.readyState !== 1) throw new Error('send on a socket that is not open');
      const f = JSON.parse(data);
      this.sent.push(f);
      if (f.op === 'ping' && this.autoPong) {
        queueMicrotask(() => { if (this.readyState === 1) this.receive({ op: 'pong', id: f.id }); });
      }
    }

    close(code, reason) {
      this.closedByClient = { code, reason };
      this.readyState = 3;
    }

    // ---- the server's side ----
    open() {
      this.readyState = 1;
      if (this.onopen) this.onopen({});
    }

    receive(obj) {
      if (this.onmessage) this.onmessage({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) });
    }

    serverClose(code, reason = '') {
      this.readyState = 3;
      if (this.onclose) this.onclose({ code, reason, wasClean: true });
    }

    fail() {
      this.readyState = 3;
      if (this.onerror) this.onerror({});
      if (this.onclose) this.onclose({ code: 1006, reason: '', wasClean: false });
    }

    frames(op) {
      return op ? this.sent.filter((f) => f.op === op) : this.sent.slice();
    }

    /** open + welcome; returns the hello frame. */
    handshake(welcome = {}) {
      this.open();
      const hello = this.sent[0];
      assert.equal(hello.op, 'hello');
      this.receive({ op: 'welcome', session: 'sess-1', heartbeat_s: 25, limits: {}, ...welcome });
      return hello;
    }

    /** Acks every sub frame sent so far that has no ack yet. */
    ackSubs(extra = {}) {
      this.acked ??= new Set();
      for (const f of this.frames('sub')) {
        if (this.acked.has(f.id)) continue;
        this.acked.add(f.id);
        this.receive({ op: 'ack', id: f.id, channel: f.channel, ...(f.since !== undefined ? { recovered: true } : {}), ...extra });
      }
    }
  }
  return { FakeWebSocket, sockets, last: () => sockets[sockets.length - 1] };
}

/** A fetch double: `routes(url, init)` returns {status, body} or throws. */
export function makeFakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push({ url, headers: init.headers || {} });
    const r = await routes(url, init);
    const status = r.status ?? 200;
    return {
      status,
      ok: status >= 200 && status < 300,
      json: async () => r.body,
      text: async () => JSON.stringify(r.body),
    };
  };
  return { fetch, calls };
}

function b64url(obj) {
  return Buffer.from(JSON.stringify(obj)).toString('base64')
    .replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** An unsigned-looking HS256 JWT with the given claims (the client never verifies). */
export function makeJwt(claims) {
  return `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}.c2lnbmF0dXJl`;
}
