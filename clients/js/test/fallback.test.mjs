// SPDX-License-Identifier: MIT
// Polling fallback (GET /v1/snapshot, /v1/history) after repeated WebSocket
// failures, and the way back to the WebSocket.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusBus } from '../statusbus.js';
import { FakeClock, makeFakeWebSocket, makeFakeFetch, flush } from './fakes.mjs';

const URL = 'ws://127.0.0.1:9999/v1/ws';
const DEPLOY = '8d3f0f3e-4c1a-4f7e-9c55-2d6f0e1b7a10';
const LOGS = `deploy.${DEPLOY}.logs`;
const topicA = 'team/42/app/aaaaaaaa-0000-4000-8000-000000000001/status';
const topicB = 'team/42/db/bbbbbbbb-0000-4000-8000-000000000002/status';

function ev(topic, event, status) {
  return { op: 'event', channel: 'team.42', event, topic, retained: true, data: { ts: '2024-01-01T00:00:00Z', status } };
}

/** A fake bridge HTTP API whose answers the test changes as it goes. */
function fakeHttp() {
  const world = {
    snapshot: [ev(topicA, 'app.status', 'running'), ev(topicB, 'db.status', 'running')],
    logs: [],
    gap: null,
    down: false,
    live: true,
  };
  const f = makeFakeFetch((url) => {
    if (world.down) throw new TypeError('Failed to fetch');
    const u = new globalThis.URL(url);
    if (u.pathname === '/v1/snapshot') return { body: { channel: u.searchParams.get('channel'), events: world.snapshot, live: world.live } };
    if (u.pathname === '/v1/history') {
      const since = Number(u.searchParams.get('since'));
      return { body: { channel: u.searchParams.get('channel'), events: world.logs.filter((l) => l.seq > since), gap: world.gap } };
    }
    return { status: 404, body: { code: 'not_found' } };
  });
  return { world, ...f };
}

async function setupPolling() {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  const http = fakeHttp();
  const bus = new StatusBus({ url: URL, token: 'tok-poll', WebSocket: ws.FakeWebSocket, timers: clock, random: () => 0.5, fetch: http.fetch });
  const states = [];
  bus.on('state', (s) => states.push(s));
  bus.on('error', () => {});
  const status = [];
  const logs = [];
  bus.subscribe('team.42', (e) => status.push(`${e.event} ${e.topic.split('/')[2]} ${e.data ? e.data.status : '-'}`));
  bus.subscribe(LOGS, (e) => logs.push(e.event === 'gap' ? `gap${e.from}-${e.to}` : e.data.seq), { since: 0 });
  bus.connect();
  await flush();
  return { clock, ws, http, bus, states, status, logs };
}

async function failUntilState(clock, ws, bus, state, max = 10) {
  for (let i = 0; i < max && bus.state !== state; i++) {
    const n = ws.sockets.length;
    ws.last().fail();
    while (ws.sockets.length === n && bus.state !== state) await clock.tick(100);
  }
  assert.equal(bus.state, state);
}

test('three failed WebSocket attempts switch to polling; snapshot emits only what changed', async () => {
  const { clock, ws, http, bus, states, status } = await setupPolling();
  ws.last().fail();
  await clock.tick(1000);
  ws.last().fail();
  await clock.tick(2000);
  assert.equal(bus.state, 'reconnecting');
  assert.equal(http.calls.length, 0, 'no polling before the third failure');
  ws.last().fail();
  assert.equal(bus.state, 'polling');
  assert.deepEqual(states, ['connecting', 'reconnecting', 'polling']);
  await flush();
  const snap = http.calls.find((c) => c.url.includes('/v1/snapshot'));
  assert.equal(snap.url, 'http://127.0.0.1:9999/v1/snapshot?channel=team.42');
  assert.equal(snap.headers.Authorization, 'Bearer tok-poll');
  assert.deepEqual(status, ['app.status app running', 'db.status db running']);

  await clock.tick(5000);                       // same snapshot: nothing new
  assert.equal(http.calls.filter((c) => c.url.includes('/v1/snapshot')).length, 2);
  assert.equal(status.length, 2);

  http.world.snapshot = [ev(topicA, 'app.status', 'stopped'), ev(topicB, 'db.status', 'running')];
  await clock.tick(5000);
  assert.deepEqual(status.slice(2), ['app.status app stopped']);

  // an incomplete snapshot (the bridge was not following the channel) proves no deletion
  http.world.snapshot = [ev(topicA, 'app.status', 'stopped')];
  http.world.live = false;
  await clock.tick(5000);
  assert.equal(status.length, 3);

  http.world.live = true;                                          // the db was deleted
  await clock.tick(5000);
  assert.deepEqual(status.slice(3), ['deleted db -']);
});

test('history polling every 2 s follows since, surfaces gaps and never repeats a line', async () => {
  const { clock, ws, http, bus, logs } = await setupPolling();
  http.world.logs = [{ seq: 1, msg: 'a' }, { seq: 2, msg: 'b' }];
  await failUntilState(clock, ws, bus, 'polling');
  await flush();
  assert.deepEqual(logs, [1, 2]);
  const hist = http.calls.filter((c) => c.url.includes('/v1/history'));
  assert.equal(hist[0].url, `http://127.0.0.1:9999/v1/history?channel=${LOGS}&since=0`);
  http.world.logs.push({ seq: 3, msg: 'c' });
  await clock.tick(2000);
  assert.equal(http.calls.filter((c) => c.url.includes('/v1/history')).at(-1).url.endsWith('since=2'), true);
  assert.deepEqual(logs, [1, 2, 3]);
  // the history lost lines 4..9; the bridge says so once
  http.world.logs = [{ seq: 10, msg: 'j' }];
  http.world.gap = { from: 4, to: 9 };
  await clock.tick(2000);
  assert.deepEqual(logs, [1, 2, 3, 'gap4-9', 10]);
  await clock.tick(2000);
  assert.deepEqual(logs, [1, 2, 3, 'gap4-9', 10], 'same gap and lines are not delivered again');
});

test('the WebSocket is retried in the background and wins as soon as it works; resume has no hole and no duplicate', async () => {
  const { clock, ws, http, bus, states, logs } = await setupPolling();
  http.world.logs = [{ seq: 1 }, { seq: 2 }, { seq: 3 }];
  await failUntilState(clock, ws, bus, 'polling');
  await flush();
  assert.deepEqual(logs, [1, 2, 3]);
  const before = ws.sockets.length;
  await clock.tick(4000);                       // third failure → next attempt after 4 s
  assert.equal(ws.sockets.length, before + 1, 'WebSocket retried while polling');
  assert.equal(bus.state, 'polling', 'the background attempt does not change the state');
  ws.last().handshake();
  assert.equal(bus.state, 'connected');
  assert.deepEqual(states, ['connecting', 'reconnecting', 'polling', 'connected']);
  const subs = ws.last().frames('sub');
  assert.deepEqual(subs.map((s) => [s.channel, s.since]).sort(), [[LOGS, 3], ['team.42', undefined]]);
  ws.last().ackSubs();
  ws.last().receive({ op: 'batch', channel: LOGS, event: 'deploy.log', events: [{ seq: 3 }, { seq: 4 }] });
  const calls = http.calls.length;
  await clock.tick(30_000);
  assert.equal(http.calls.length, calls, 'polling stopped once the WebSocket is back');
  assert.deepEqual(logs, [1, 2, 3, 4]);
});

test('polling that cannot reach the bridge is offline, and polling again when it answers', async () => {
  const { clock, ws, http, bus, states } = await setupPolling();
  http.world.down = true;
  await failUntilState(clock, ws, bus, 'polling');
  await flush();
  assert.equal(bus.state, 'offline');
  http.world.down = false;
  await clock.tick(2000);
  assert.equal(bus.state, 'polling');
  assert.deepEqual(states, ['connecting', 'reconnecting', 'polling', 'offline', 'polling']);
});

test('a channel subscribed while polling is polled at once', async () => {
  const { clock, ws, http, bus } = await setupPolling();
  await failUntilState(clock, ws, bus, 'polling');
  await flush();
  const got = [];
  bus.subscribe('team.43', (e) => got.push(e));
  await flush();
  assert.ok(http.calls.some((c) => c.url.endsWith('/v1/snapshot?channel=team.43')));
  assert.equal(got.length, 2);
});

test('an HTTP 403 while polling reports to the subscription once', async () => {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  const f = makeFakeFetch(() => ({ status: 403, body: { error: 'forbidden', message: 'team 43 is not in your token' } }));
  const bus = new StatusBus({ url: URL, WebSocket: ws.FakeWebSocket, timers: clock, random: () => 0.5, fetch: f.fetch, pollAfterFailures: 1 });
  bus.on('error', () => {});
  const errs = [];
  bus.subscribe('team.43', () => {}, { onError: (e) => errs.push(e) });
  bus.connect();
  await flush();
  ws.last().fail();
  await flush();
  await clock.tick(10_000);
  assert.equal(bus.state, 'polling', 'the bridge is reachable; only this channel is refused');
  assert.deepEqual(errs.map((e) => [e.code, e.channel]), [['forbidden', 'team.43']]);
});

test('a runtime log polls /v1/history like a deploy log, its lines named by its own event', async () => {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  const http = fakeHttp();
  http.world.logs = [{ seq: 41, msg: 'a' }, { seq: 42, msg: 'b' }];
  const bus = new StatusBus({ url: URL, token: 'tok-poll', WebSocket: ws.FakeWebSocket, timers: clock, random: () => 0.5, fetch: http.fetch });
  bus.on('error', () => {});
  const ch = 'app.aaaaaaaa-0000-4000-8000-000000000001.logs';
  const got = [];
  bus.subscribe(ch, (e) => got.push([e.event, e.data.seq, e.topic]), { since: 40 });
  bus.connect();
  await flush();
  await failUntilState(clock, ws, bus, 'polling');
  await flush();
  const hist = http.calls.filter((c) => c.url.includes('/v1/history'));
  assert.equal(hist[0].url, `http://127.0.0.1:9999/v1/history?channel=${ch}&since=40`);
  assert.deepEqual(got, [['app.log', 41, null], ['app.log', 42, null]]);
  http.world.logs.push({ seq: 43, msg: 'c' });
  await clock.tick(2000);
  assert.ok(http.calls.filter((c) => c.url.includes('/v1/history')).at(-1).url.endsWith('since=42'));
  assert.deepEqual(got.map((g) => g[1]), [41, 42, 43]);
});
