// SPDX-License-Identifier: MIT
// Tokens: getToken, refresh before expiry, close code 4001.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusBus, jwtExpiry } from '../statusbus.js';
import { FakeClock, makeFakeWebSocket, makeJwt, flush } from './fakes.mjs';

const URL = 'ws://127.0.0.1:9999/v1/ws';

function setup(ttlS, opts = {}) {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  const issued = [];
  const getToken = async () => {
    const now = Math.floor(clock.now() / 1000);
    const t = makeJwt({ sub: 'u1', teams: ['42'], iat: now, exp: now + ttlS, n: issued.length });
    issued.push(t);
    return t;
  };
  const errors = [];
  const bus = new StatusBus({ url: URL, getToken, WebSocket: ws.FakeWebSocket, timers: clock, random: () => 0.5, fetch: null, ...opts });
  bus.on('error', (e) => errors.push(e));
  return { clock, ws, bus, issued, errors };
}

test('jwtExpiry decodes exp without verifying', () => {
  assert.equal(jwtExpiry(makeJwt({ exp: 1234 })), 1234);
  assert.equal(jwtExpiry('not a jwt'), null);
  assert.equal(jwtExpiry(makeJwt({ sub: 'x' })), null);
});

test('getToken supplies the hello token', async () => {
  const { ws, bus, issued } = setup(3600);
  bus.connect();
  await flush();
  ws.last().open();
  assert.equal(issued.length, 1);
  assert.deepEqual(ws.last().sent[0], { op: 'hello', token: issued[0] });
});

test('refresh is sent 60 s before expiry of a long-lived token', async () => {
  const { clock, ws, bus, issued } = setup(3600);
  bus.connect();
  await flush();
  ws.last().handshake();
  await clock.tick(3540_000 - 1);
  assert.equal(ws.last().frames('refresh').length, 0);
  await clock.tick(1);
  const r = ws.last().frames('refresh');
  assert.equal(r.length, 1);
  assert.equal(r[0].token, issued[1]);
  assert.equal(typeof r[0].id, 'number');
  assert.ok(jwtExpiry(issued[1]) > jwtExpiry(issued[0]));
  ws.last().receive({ op: 'ack', id: r[0].id });
  // and again for the new token
  await clock.tick(3540_000);
  assert.equal(ws.last().frames('refresh').length, 2);
  assert.equal(bus.state, 'connected');
});

test('a short-lived token is refreshed at 80 % of its lifetime', async () => {
  const { clock, ws, bus } = setup(100);
  bus.connect();
  await flush();
  ws.last().handshake();
  await clock.tick(79_999);
  assert.equal(ws.last().frames('refresh').length, 0);
  await clock.tick(1);
  assert.equal(ws.last().frames('refresh').length, 1);
});

test('4001: a new token is fetched before reconnecting', async () => {
  const { clock, ws, bus, issued, errors } = setup(3600);
  bus.connect();
  await flush();
  ws.last().handshake();
  ws.last().receive({ op: 'error', code: 'token_expired', message: 'token expired' });
  ws.last().serverClose(4001, 'token expired');
  assert.equal(bus.state, 'reconnecting');
  await clock.tick(1000);
  ws.last().open();
  assert.equal(issued.length, 2);
  assert.deepEqual(ws.last().sent[0], { op: 'hello', token: issued[1] });
  ws.last().receive({ op: 'welcome', session: 's2', heartbeat_s: 25 });
  assert.equal(bus.state, 'connected');
  assert.deepEqual(errors.map((e) => e.code), ['token_expired', 'unauthorized']);
});

test('repeated 4001 ends offline; no further attempts', async () => {
  const { clock, ws, bus } = setup(3600);
  const states = [];
  bus.on('state', (s) => states.push(s));
  const ready = bus.connect();
  await flush();
  for (let i = 0; i < 3; i++) {
    if (i > 0) {                                  // wait for the next attempt's socket
      const n = ws.sockets.length;
      while (ws.sockets.length === n) await clock.tick(100);
    }
    ws.last().open();
    ws.last().serverClose(4001, 'unauthorized');
  }
  assert.equal(bus.state, 'offline');
  await assert.rejects(ready, (e) => e.code === 'unauthorized');
  const n = ws.sockets.length;
  await clock.tick(120_000);
  assert.equal(ws.sockets.length, n);
  assert.deepEqual(states, ['connecting', 'reconnecting', 'offline']);
});

test('with a fixed token, 4001 goes offline at once; setToken() starts again', async () => {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  const bus = new StatusBus({ url: URL, token: 'old', WebSocket: ws.FakeWebSocket, timers: clock, random: () => 0.5, fetch: null });
  bus.on('error', () => {});
  bus.connect();
  await flush();
  ws.last().open();
  ws.last().serverClose(4001, 'unauthorized');
  assert.equal(bus.state, 'offline');
  bus.setToken('new');
  await flush();
  ws.last().open();
  assert.deepEqual(ws.last().sent[0], { op: 'hello', token: 'new' });
  ws.last().receive({ op: 'welcome', session: 's' });
  assert.equal(bus.state, 'connected');
});
