// SPDX-License-Identifier: MIT
// Reconnection: backoff schedule and jitter bounds, reset after success,
// resubscribe, logs resume with since and seq dedupe, close codes 4029/1001.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusBus, backoffDelay } from '../statusbus.js';
import { FakeClock, makeFakeWebSocket, flush } from './fakes.mjs';

const URL = 'ws://127.0.0.1:9999/v1/ws';
const DEPLOY = '8d3f0f3e-4c1a-4f7e-9c55-2d6f0e1b7a10';
const LOGS = `deploy.${DEPLOY}.logs`;

function setup(opts = {}) {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  let r = opts.randomValue ?? 0.5;
  const bus = new StatusBus({ url: URL, WebSocket: ws.FakeWebSocket, timers: clock, random: () => r, fetch: null, ...opts.bus });
  const retries = [];
  bus.on('retry', (x) => retries.push(x.delay));
  bus.on('error', () => {});
  return { clock, ws, bus, retries, setRandom: (v) => { r = v; } };
}

/** Fails every new socket as soon as it exists and returns the delays seen between attempts. */
async function failAttempts(clock, ws, n) {
  const gaps = [];
  for (let i = 0; i < n; i++) {
    const before = ws.sockets.length;
    ws.last().fail();
    let waited = 0;
    while (ws.sockets.length === before) {
      await clock.tick(100);
      waited += 100;
      if (waited > 60_000) throw new Error('no reconnect attempt within 60 s');
    }
    gaps.push(waited);
  }
  return gaps;
}

test('backoff schedule is 1, 2, 4, 8, 16, 16 s (nominal, random = 0.5)', async () => {
  const { clock, ws, bus, retries } = setup();
  bus.connect();
  await flush();
  const gaps = await failAttempts(clock, ws, 7);
  assert.deepEqual(retries, [1000, 2000, 4000, 8000, 16000, 16000, 16000]);
  assert.deepEqual(gaps, [1000, 2000, 4000, 8000, 16000, 16000, 16000], 'attempts really happen at those delays');
  assert.equal(bus.state, 'reconnecting', 'without fetch there is no polling fallback');
});

test('jitter stays within ±20 % of the nominal delay', async () => {
  for (const [r, factor] of [[0, 0.8], [0.999999, 1.2]]) {
    const { clock, ws, bus, retries } = setup({ randomValue: r });
    bus.connect();
    await flush();
    await failAttempts(clock, ws, 6);
    const nominal = [1000, 2000, 4000, 8000, 16000, 16000];
    retries.forEach((d, i) => assert.ok(Math.abs(d - nominal[i] * factor) <= 1, `attempt ${i}: ${d} vs ${nominal[i] * factor}`));
  }
  // randomized: every delay inside the bounds
  let seed = 7;
  const rand = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
  for (let attempt = 0; attempt < 12; attempt++) {
    const nominal = Math.min(16000, 1000 * 2 ** attempt);
    for (let k = 0; k < 200; k++) {
      const d = backoffDelay(attempt, {}, rand);
      assert.ok(d >= nominal * 0.8 - 1 && d <= nominal * 1.2 + 1, `${d} for attempt ${attempt}`);
      const full = backoffDelay(attempt, { jitter: 'full' }, rand);
      assert.ok(full >= 0 && full <= nominal, `full jitter ${full}`);
    }
  }
});

test('a successful connect resets the backoff', async () => {
  const { clock, ws, bus, retries } = setup();
  bus.connect();
  await flush();
  await failAttempts(clock, ws, 4);       // 1, 2, 4, 8
  ws.last().handshake();
  assert.equal(bus.state, 'connected');
  ws.last().serverClose(1006);
  assert.equal(bus.state, 'reconnecting');
  assert.deepEqual(retries, [1000, 2000, 4000, 8000, 1000]);
});

test('every channel is resubscribed after a reconnect (1001 bridge shutting down)', async () => {
  const { clock, ws, bus } = setup();
  bus.subscribe('team.42', () => {});
  bus.subscribe('team.42.stats', () => {});
  bus.connect();
  await flush();
  ws.last().handshake();
  ws.last().ackSubs();
  const off = bus.subscribe('user.u1', () => {});
  ws.last().ackSubs();
  off();
  ws.last().serverClose(1001, 'bridge shutting down');
  assert.equal(bus.state, 'reconnecting');
  await clock.tick(999);
  assert.equal(ws.sockets.length, 1);
  await clock.tick(1);
  assert.equal(ws.sockets.length, 2);
  ws.last().handshake();
  assert.deepEqual(ws.last().frames('sub').map((f) => f.channel).sort(), ['team.42', 'team.42.stats']);
  assert.equal(bus.state, 'connected');
  const acked = [];
  bus.on('subscribed', (a) => acked.push(a.channel));
  ws.last().ackSubs();
  assert.deepEqual(acked.sort(), ['team.42', 'team.42.stats'], "'subscribed' fires for resubscriptions too");
});

test('after a 1001 drain close the reconnect waits a random 0–2 s, not the backoff', async () => {
  for (const [r, want] of [[0, 0], [0.25, 500], [0.999, 1998]]) {
    const { clock, ws, bus, retries } = setup({ randomValue: r });
    bus.connect();
    await flush();
    ws.last().handshake();
    ws.last().serverClose(1001, 'bridge draining: reconnect to another bridge');
    assert.deepEqual(retries, [want], `random ${r}`);
    if (want > 0) {
      await clock.tick(want - 1);
      assert.equal(ws.sockets.length, 1, `random ${r}: not before ${want} ms`);
    }
    await clock.tick(1);
    assert.equal(ws.sockets.length, 2, `random ${r}: reconnects at ${want} ms`);
    // a failure after it backs off as usual
    ws.last().fail();
    assert.deepEqual(retries, [want, Math.round(2000 * (1 + 0.2 * (2 * r - 1)))]);
  }
  // a drop that is not a drain (1006) keeps the ±20 % backoff
  const { ws, bus, retries } = setup({ randomValue: 0 });
  bus.connect();
  await flush();
  ws.last().handshake();
  ws.last().serverClose(1006, '');
  assert.deepEqual(retries, [800]);
});

test('logs resume with since = last seq seen, and overlapping lines are not delivered twice', async () => {
  const { clock, ws, bus } = setup();
  const got = [];
  bus.subscribe(LOGS, (e) => got.push(e.event === 'gap' ? `gap${e.from}-${e.to}` : e.data.seq), { since: 0 });
  bus.connect();
  await flush();
  ws.last().handshake();
  assert.equal(ws.last().frames('sub')[0].since, 0, 'first subscription asks for the history from the start');
  ws.last().ackSubs();
  const lines = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => ({ seq: a + i, level: 'info', msg: `l${a + i}` }));
  ws.last().receive({ op: 'batch', channel: LOGS, event: 'deploy.log', events: lines(1, 5) });
  ws.last().serverClose(4029, 'client too slow');
  await clock.tick(1000);
  ws.last().handshake();
  const sub = ws.last().frames('sub')[0];
  assert.equal(sub.channel, LOGS);
  assert.equal(sub.since, 5);
  ws.last().ackSubs();
  // a bridge that re-sends an overlap (3..8) and then live lines
  ws.last().receive({ op: 'batch', channel: LOGS, event: 'deploy.log', events: lines(3, 8) });
  ws.last().receive({ op: 'event', channel: LOGS, event: 'deploy.log', topic: `deploy/${DEPLOY}/logs`, retained: false, data: { seq: 8, msg: 'again' } });
  ws.last().receive({ op: 'batch', channel: LOGS, event: 'deploy.log', events: lines(9, 10) });
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('after a gap, a reconnect resumes after the gap', async () => {
  const { clock, ws, bus } = setup();
  const got = [];
  bus.subscribe(LOGS, (e) => got.push(e.event));
  bus.connect();
  await flush();
  ws.last().handshake();
  assert.equal('since' in ws.last().frames('sub')[0], false, 'no since when nothing was seen and none was asked for');
  ws.last().receive({ op: 'gap', channel: LOGS, from: 1, to: 40 });
  ws.last().serverClose(1006);
  await clock.tick(1000);
  ws.last().handshake();
  assert.equal(ws.last().frames('sub')[0].since, 40);
  assert.deepEqual(got, ['gap']);
});

test('runtime logs channels (app.<u>.logs, …) resume like deploy logs; their lines keep the bridge\'s topic', async () => {
  const { clock, ws, bus } = setup();
  const app = 'a1b2c3d4-0000-4000-8000-000000000001';
  const got = [];
  bus.subscribe(`app.${app}.logs`, (e) => got.push(`${e.data.seq}@${e.topic}`), { since: 0 });
  bus.subscribe('team.42.logs', () => {});          // not a logs channel: no since
  bus.connect();
  await flush();
  ws.last().handshake();
  const subs = ws.last().frames('sub');
  assert.equal(subs[0].since, 0);
  assert.equal('since' in subs[1], false);
  ws.last().ackSubs();
  const topic = `team/42/app/${app}/logs`;
  ws.last().receive({ op: 'batch', channel: `app.${app}.logs`, event: 'app.log', topic, events: [{ seq: 1 }, { seq: 2 }] });
  ws.last().receive({ op: 'batch', channel: `app.${app}.logs`, event: 'app.log', events: [{ seq: 3 }] });
  ws.last().serverClose(1001);
  await clock.tick(1000);
  ws.last().handshake();
  assert.equal(ws.last().frames('sub').find((f) => f.channel === `app.${app}.logs`).since, 3);
  ws.last().receive({ op: 'batch', channel: `app.${app}.logs`, event: 'app.log', topic, events: [{ seq: 3 }, { seq: 4 }] });
  assert.deepEqual(got, [`1@${topic}`, `2@${topic}`, '3@null', `4@${topic}`]);
});
