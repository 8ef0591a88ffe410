// SPDX-License-Identifier: MIT
// What the Pusher HTTP API tests drive (docs/pusher.md): the official
// `pusher` server SDK pointed at a real bridge, real pusher-js clients (the
// Node build) and a statusbus.v1 client (`ws`), a hand-made signer for the
// requests the SDK refuses to send, and reads of /metrics.  The processes
// (mosquitto, bridges) come from tests/browser/stack.mjs.

import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import PusherClient from 'pusher-js';
import WebSocket from 'ws';
import { waitFor } from '../browser/stack.mjs';

const require = createRequire(import.meta.url);
const PusherServer = require('pusher');

export const APP = { appId: '1', key: 'app-key', secret: 'app-secret' };
export const JWT_SECRET = 'jwt-secret-for-the-pusher-api-tests';

/** The bridge's config section for the API (plus overrides). */
export function pusherSection(extra = {}) {
  return { pusher: { app_id: APP.appId, key: APP.key, secret: APP.secret, ...extra } };
}

/** The official server SDK, publishing to bridge b. */
export function server(b, { appId = APP.appId, secret = APP.secret } = {}) {
  return new PusherServer({
    appId, key: APP.key, secret, host: '127.0.0.1', port: String(b.port), useTLS: false, timeout: 10_000,
  });
}

/** A pusher-js client on bridge b; every event it sees lands in .events. */
export class Client {
  constructor(b, { secret = APP.secret } = {}) {
    this.events = [];
    this.errors = [];
    this.pusher = new PusherClient(APP.key, {
      wsHost: '127.0.0.1', wsPort: b.port, forceTLS: false, enabledTransports: ['ws'],
      cluster: '', disableStats: true,
      authorizer: (channel) => ({
        authorize: (socketId, cb) => cb(null, {
          auth: `${APP.key}:${crypto.createHmac('sha256', secret).update(`${socketId}:${channel.name}`).digest('hex')}`,
        }),
      }),
    });
  }

  async connected() {
    await waitFor(() => this.pusher.connection.state === 'connected', { what: 'pusher-js connected' });
    return this.pusher.connection.socket_id;
  }

  /** Subscribes and waits for pusher:subscription_succeeded (or throws on an error). */
  async subscribe(name) {
    const ch = this.pusher.subscribe(name);
    let ok = false;
    ch.bind('pusher:subscription_succeeded', () => { ok = true; });
    ch.bind('pusher:subscription_error', (e) => this.errors.push({ channel: name, e }));
    ch.bind_global((event, data) => {
      if (!event.startsWith('pusher:')) this.events.push({ channel: name, event, data });
    });
    await waitFor(() => ok || this.errors.some((x) => x.channel === name), { what: `${name} subscribed` });
    if (!ok) throw new Error(`${name}: ${JSON.stringify(this.errors)}`);
    return ch;
  }

  named(event) {
    return this.events.filter((e) => e.event === event);
  }

  close() {
    this.pusher.disconnect();
  }
}

/** A statusbus.v1 client on bridge b, with a token for `teams`. */
export class V1 {
  static async open(b, token) {
    const v = new V1();
    v.frames = [];
    v.ws = new WebSocket(b.url, 'statusbus.v1');
    v.ws.on('message', (d) => v.frames.push(JSON.parse(d.toString())));
    await new Promise((resolve, reject) => { v.ws.once('open', resolve); v.ws.once('error', reject); });
    v.ws.send(JSON.stringify({ op: 'hello', token }));
    await waitFor(() => v.frames.some((f) => f.op === 'welcome'), { what: 'v1 welcome' });
    return v;
  }

  async subscribe(channel, id = 1) {
    this.ws.send(JSON.stringify({ op: 'sub', id, channel }));
    await waitFor(() => this.frames.some((f) => f.id === id && (f.op === 'ack' || f.op === 'error')), { what: `v1 ack ${channel}` });
    const f = this.frames.find((x) => x.id === id);
    if (f.op !== 'ack') throw new Error(`v1 sub ${channel}: ${JSON.stringify(f)}`);
  }

  events(name) {
    return this.frames.filter((f) => f.op === 'event' && f.event === name);
  }

  close() {
    this.ws.close();
  }
}

/**
 * A request signed by hand as Pusher specifies, for what the SDK will not
 * send (stale timestamps, bad bodies, >100 channels).  params: extra query
 * parameters; sign: overrides of the signed ones; returns fetch's Response.
 */
export async function signedFetch(b, method, path, { body, params = {}, secret = APP.secret, key = APP.key,
  timestamp = Math.floor(Date.now() / 1000), version = '1.0', md5, signature, drop = [] } = {}) {
  const q = { auth_key: key, auth_timestamp: String(timestamp), auth_version: version, ...params };
  if (body !== undefined) q.body_md5 = md5 ?? crypto.createHash('md5').update(body).digest('hex');
  for (const k of drop) delete q[k];
  const sorted = Object.keys(q).sort().map((k) => `${k}=${q[k]}`).join('&');
  const sig = signature ?? crypto.createHmac('sha256', secret).update(`${method}\n${path}\n${sorted}`).digest('hex');
  const qs = drop.includes('auth_signature') ? sorted : `${sorted}&auth_signature=${sig}`;
  return fetch(`${b.http}${path}?${qs}`, {
    method, body, headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    signal: AbortSignal.timeout(10_000),
  });
}

/** One counter of the bridge's /metrics (a series with its labels, or the plain name). */
export async function metric(b, series) {
  const text = await (await fetch(`${b.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}
