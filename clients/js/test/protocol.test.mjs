// SPDX-License-Identifier: MIT
// statusbus.v1 framing: handshake, subscribe/ack/error, events, batches,
// deleted, gap, unsubscribe, ping.  Fake WebSocket and fake timers only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusBus, isValidChannel, httpBaseFromUrl } from '../statusbus.js';
import { FakeClock, makeFakeWebSocket, flush } from './fakes.mjs';

const URL = 'ws://127.0.0.1:9999/v1/ws';
const DEPLOY = '8d3f0f3e-4c1a-4f7e-9c55-2d6f0e1b7a10';
const APP = 'a1b2c3d4-0000-4000-8000-000000000001';

function setup(opts = {}) {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  const errors = [];
  const states = [];
  const bus = new StatusBus({ url: URL, WebSocket: ws.FakeWebSocket, timers: clock, random: () => 0.5, fetch: null, ...opts });
  bus.on('error', (e) => errors.push(e));
  bus.on('state', (s) => states.push(s));
  return { clock, ws, bus, errors, states };
}

test('handshake: hello with the token as first frame, welcome makes it connected', async () => {
  const { ws, bus, states } = setup({ token: 'tok-1' });
  const ready = bus.connect();
  assert.equal(bus.state, 'connecting');
  await flush();
  const sock = ws.last();
  assert.equal(sock.url, URL);
  assert.equal(sock.protocol, 'statusbus.v1');
  sock.open();
  assert.deepEqual(sock.sent, [{ op: 'hello', token: 'tok-1' }]);
  assert.equal(bus.state, 'connecting', 'not connected before welcome');
  sock.receive({ op: 'welcome', session: 'abc', heartbeat_s: 25, limits: {} });
  await ready;
  assert.equal(bus.state, 'connected');
  assert.equal(bus.session, 'abc');
  assert.deepEqual(states, ['connecting', 'connected']);
});

test('open development mode: hello without a token', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().open();
  assert.deepEqual(ws.last().sent, [{ op: 'hello' }]);
});

test('subscribe before connect: sub is sent after welcome, ack resolves ready, events reach the handler', async () => {
  const { ws, bus } = setup();
  const got = [];
  const off = bus.subscribe('team.42', (e) => got.push(e));
  bus.connect();
  await flush();
  const sock = ws.last();
  sock.handshake();
  const subs = sock.frames('sub');
  assert.equal(subs.length, 1);
  assert.equal(subs[0].channel, 'team.42');
  assert.equal(typeof subs[0].id, 'number');
  assert.equal('since' in subs[0], false, 'status channels never send since');
  sock.ackSubs();
  const ack = await off.ready;
  assert.equal(ack.channel, 'team.42');
  const data = { ts: '2024-01-01T00:00:00Z', status: 'running', old_status: 'starting', name: 'web' };
  sock.receive({ op: 'event', channel: 'team.42', event: 'app.status', topic: `team/42/app/${APP}/status`, retained: true, data });
  assert.deepEqual(got, [{ channel: 'team.42', event: 'app.status', topic: `team/42/app/${APP}/status`, retained: true, data }]);
});

test('subscribe while connected sends sub immediately; events of other channels are not delivered', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  const got = [];
  bus.subscribe('team.42', (e) => got.push(e));
  assert.equal(ws.last().frames('sub').length, 1);
  ws.last().receive({ op: 'event', channel: 'team.43', event: 'app.status', topic: 'team/43/app/x/status', retained: true, data: {} });
  assert.equal(got.length, 0);
});

test('a failed sub rejects ready, calls that subscription\'s onError and emits error with the channel', async () => {
  const { ws, bus, errors } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  const subErrors = [];
  const off = bus.subscribe('team.43', () => {}, { onError: (e) => subErrors.push(e) });
  const sub = ws.last().frames('sub')[0];
  ws.last().receive({ op: 'error', id: sub.id, code: 'forbidden', message: 'team 43 is not in your token' });
  await assert.rejects(off.ready, (e) => e.code === 'forbidden' && e.channel === 'team.43');
  assert.equal(subErrors.length, 1);
  assert.equal(subErrors[0].code, 'forbidden');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].channel, 'team.43');
  assert.equal(errors[0].message, 'team 43 is not in your token');
  // a failed subscription is not unsubscribed on the wire
  off();
  assert.equal(ws.last().frames('unsub').length, 0);
});

test('an error frame without a known id is reported globally', async () => {
  const { ws, bus, errors } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  ws.last().receive({ op: 'error', code: 'token_expired', message: 'token expired' });
  assert.deepEqual(errors.map((e) => e.code), ['token_expired']);
});

test('a batch frame is delivered as individual events, in order', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  const ch = `deploy.${DEPLOY}.logs`;
  const got = [];
  bus.subscribe(ch, (e) => got.push(e));
  ws.last().ackSubs();
  const lines = [3, 4, 5, 6].map((seq) => ({ seq, ts: '2024-01-01T00:00:00Z', level: 'info', stream: 'stdout', msg: `line ${seq}` }));
  ws.last().receive({ op: 'batch', channel: ch, event: 'deploy.log', events: lines });
  assert.deepEqual(got.map((e) => e.data.seq), [3, 4, 5, 6]);
  assert.ok(got.every((e) => e.event === 'deploy.log' && e.channel === ch && e.topic === `deploy/${DEPLOY}/logs`));
  assert.equal(got[2].data.msg, 'line 5');
});

test('a batch of envelopes (conflated stats) keeps each element\'s topic', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  const got = [];
  bus.subscribe('team.42.stats', (e) => got.push(e));
  ws.last().receive({
    op: 'batch', channel: 'team.42.stats', event: 'app.stats',
    events: [{ topic: 'team/42/app/a/stats', data: { cpu: 1 } }, { topic: 'team/42/app/b/stats', data: { cpu: 2 } }],
  });
  assert.deepEqual(got.map((e) => [e.topic, e.data.cpu, e.event]), [['team/42/app/a/stats', 1, 'app.stats'], ['team/42/app/b/stats', 2, 'app.stats']]);
});

test('deleted events pass through to the handler', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  const got = [];
  bus.subscribe('team.42', (e) => got.push(e));
  ws.last().receive({ op: 'event', channel: 'team.42', event: 'deleted', topic: `team/42/app/${APP}/status`, retained: true, data: null });
  assert.equal(got.length, 1);
  assert.equal(got[0].event, 'deleted');
  assert.equal(got[0].topic, `team/42/app/${APP}/status`);
});

test('a gap frame is delivered as a gap event and on on(\'gap\')', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  const ch = `deploy.${DEPLOY}.logs`;
  const got = [];
  const gaps = [];
  bus.on('gap', (g) => gaps.push(g));
  bus.subscribe(ch, (e) => got.push(e));
  ws.last().receive({ op: 'batch', channel: ch, event: 'deploy.log', events: [{ seq: 43, msg: 'a' }] });
  ws.last().receive({ op: 'gap', channel: ch, from: 44, to: 97 });
  ws.last().receive({ op: 'batch', channel: ch, event: 'deploy.log', events: [{ seq: 98, msg: 'b' }] });
  assert.deepEqual(got.map((e) => e.event === 'gap' ? `gap ${e.from}-${e.to}` : e.data.seq), [43, 'gap 44-97', 98]);
  assert.equal(gaps.length, 1);
  assert.deepEqual([gaps[0].from, gaps[0].to, gaps[0].channel], [44, 97, ch]);
});

test('unsubscribe sends unsub only when the last handler of a channel goes', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  const a = [];
  const b = [];
  const offA = bus.subscribe('team.42', (e) => a.push(e));
  const offB = bus.subscribe('team.42', (e) => b.push(e));
  assert.equal(ws.last().frames('sub').length, 1, 'one sub per channel');
  ws.last().ackSubs();
  offA();
  offA();   // idempotent
  assert.equal(ws.last().frames('unsub').length, 0);
  ws.last().receive({ op: 'event', channel: 'team.42', event: 'app.status', topic: 't', retained: true, data: { status: 'x' } });
  assert.equal(a.length, 0);
  assert.equal(b.length, 1);
  offB();
  const unsubs = ws.last().frames('unsub');
  assert.equal(unsubs.length, 1);
  assert.equal(unsubs[0].channel, 'team.42');
  assert.equal(typeof unsubs[0].id, 'number');
  assert.deepEqual(bus.channels(), []);
});

test('a late joiner on a channel gets the last-known status of every topic at once', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  bus.subscribe('team.42', () => {});
  ws.last().receive({ op: 'event', channel: 'team.42', event: 'app.status', topic: 'team/42/app/a/status', retained: true, data: { status: 'running' } });
  ws.last().receive({ op: 'event', channel: 'team.42', event: 'db.status', topic: 'team/42/db/d/status', retained: true, data: { status: 'stopped' } });
  ws.last().receive({ op: 'event', channel: 'team.42', event: 'deleted', topic: 'team/42/db/d/status', retained: true, data: null });
  const late = [];
  bus.subscribe('team.42', (e) => late.push(e));
  await flush();
  assert.deepEqual(late.map((e) => [e.topic, e.data.status]), [['team/42/app/a/status', 'running']]);
  assert.equal(ws.last().frames('sub').length, 1);
});

test('application ping every heartbeat; a connection that answers nothing is dropped and retried', async () => {
  const { ws, bus, clock, states } = setup();
  bus.connect();
  await flush();
  ws.last().autoPong = false;
  ws.last().handshake({ heartbeat_s: 25 });
  await clock.tick(24_999);
  assert.equal(ws.last().frames('ping').length, 0);
  await clock.tick(1);
  const ping = ws.last().frames('ping');
  assert.equal(ping.length, 1);
  ws.last().receive({ op: 'pong', id: ping[0].id });
  await clock.tick(25_000);
  assert.equal(ws.last().frames('ping').length, 2, 'pings keep coming while the bridge answers');
  assert.equal(bus.state, 'connected');
  const first = ws.last();
  await clock.tick(10_000);          // no pong, no frame at all
  assert.notEqual(first.closedByClient, null, 'dead socket closed by the client');
  assert.equal(bus.state, 'reconnecting');
  await clock.tick(1000);
  assert.equal(ws.sockets.length, 2, 'a new socket after the first backoff delay');
  assert.deepEqual(states, ['connecting', 'connected', 'reconnecting']);
});

test('a socket that never opens is abandoned after the connect timeout', async () => {
  const { ws, bus, clock } = setup();
  bus.connect();
  await flush();
  await clock.tick(10_000);
  assert.notEqual(ws.sockets[0].closedByClient, null);
  assert.equal(bus.state, 'reconnecting');
});

test('close codes 4000 and 4009 are reported as errors', async () => {
  const { ws, bus, clock, errors } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  ws.last().serverClose(4000, 'bad frame');
  await clock.tick(1000);
  ws.last().handshake();
  ws.last().serverClose(4009, 'frame too large');
  assert.deepEqual(errors.map((e) => [e.code, e.closeCode]), [['protocol_error', 4000], ['frame_too_large', 4009]]);
});

test('close() stops everything and goes offline', async () => {
  const { ws, bus, clock } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  bus.close();
  assert.equal(bus.state, 'offline');
  assert.deepEqual(ws.last().closedByClient, { code: 1000, reason: 'client closed' });
  await clock.tick(60_000);
  assert.equal(ws.sockets.length, 1, 'no reconnect after close()');
});

test('invalid channel names are refused before anything is sent', () => {
  const { bus } = setup();
  for (const bad of ['', 'team.+', 'team.#', 'team/42', 'team..42', '.team', 'team.', 'a\u0000b', 42]) {
    assert.equal(isValidChannel(bad), false, String(bad));
    assert.throws(() => bus.subscribe(bad, () => {}), TypeError);
  }
  assert.equal(isValidChannel(`deploy.${DEPLOY}.logs`), true);
});

test('httpBase is derived from the WebSocket URL', () => {
  assert.equal(httpBaseFromUrl('ws://127.0.0.1:8080/v1/ws'), 'http://127.0.0.1:8080');
  assert.equal(httpBaseFromUrl('wss://bus.example/v1/ws'), 'https://bus.example');
});

test('runtime logs channels (app, db, service) are logs channels: since on resubscribe, dedupe by seq, their own event, no invented topic', async () => {
  const { clock, ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  for (const kind of ['app', 'db', 'service']) {
    const ch = `${kind}.${APP}.logs`;
    const got = [];
    bus.subscribe(ch, (e) => got.push(e), { since: 0 });
    const sub = ws.last().frames('sub').find((f) => f.channel === ch);
    assert.equal(sub.since, 0, `${ch}: since sent`);
    ws.last().ackSubs();
    ws.last().receive({ op: 'batch', channel: ch, event: `${kind}.log`, events: [{ seq: 1, msg: 'a' }, { seq: 2, msg: 'b' }] });
    ws.last().receive({ op: 'batch', channel: ch, event: `${kind}.log`, events: [{ seq: 2, msg: 'b' }, { seq: 3, msg: 'c' }] });
    assert.deepEqual(got.map((e) => e.data.seq), [1, 2, 3], `${ch}: a repeated line is dropped`);
    // the topic names the owner's team, which the channel name does not say
    assert.ok(got.every((e) => e.event === `${kind}.log` && e.channel === ch && e.topic === null));
  }
  // after a reconnect each resumes after the last line it got
  ws.last().serverClose(4029, 'client too slow');
  await clock.tick(1000);
  ws.last().handshake();
  const since = Object.fromEntries(ws.last().frames('sub').map((f) => [f.channel, f.since]));
  for (const kind of ['app', 'db', 'service']) assert.equal(since[`${kind}.${APP}.logs`], 3);
});

test('subscribe options.logs marks a custom channel as a logs channel (or not)', async () => {
  const { ws, bus } = setup();
  bus.connect();
  await flush();
  ws.last().handshake();
  const got = [];
  bus.subscribe('build.b1.output', (e) => got.push(e.data.seq), { logs: true, since: 5 });
  bus.subscribe('report.logs', () => {}, { logs: false, since: 5 });
  const subs = ws.last().frames('sub');
  assert.equal(subs.find((f) => f.channel === 'build.b1.output').since, 5);
  assert.equal(subs.find((f) => f.channel === 'report.logs').since, undefined);
  ws.last().receive({ op: 'batch', channel: 'build.b1.output', event: 'build.log', events: [{ seq: 6 }, { seq: 6 }, { seq: 7 }] });
  assert.deepEqual(got, [6, 7]);
});

test('presence(): the member list; an error rejects it without failing the subscription; a lost connection rejects', async () => {
  const { ws, bus, errors } = setup();
  await assert.rejects(bus.presence('room.42'), (e) => e.code === 'unavailable');
  bus.connect();
  await flush();
  const sock = ws.last();
  sock.handshake();
  const got = [];
  const off = bus.subscribe('room.42', (e) => got.push(e));
  sock.ackSubs();
  await off.ready;
  const p = bus.presence('room.42');
  const [req] = sock.frames('presence');
  assert.deepEqual({ ...req, id: 0 }, { op: 'presence', channel: 'room.42', id: 0 });
  sock.receive({ op: 'presence', id: req.id, channel: 'room.42', members: [{ sub: 'alice', name: 'Alice' }, { sub: 'bob' }] });
  assert.deepEqual(await p, [{ sub: 'alice', name: 'Alice' }, { sub: 'bob' }]);
  // joins and leaves are events of the channel
  sock.receive({ op: 'event', channel: 'room.42', event: 'presence.join', data: { sub: 'carol' } });
  assert.deepEqual(got.map((e) => [e.event, e.data.sub]), [['presence.join', 'carol']]);
  // a refused request rejects; the subscription stays active
  const q = bus.presence('room.42');
  const req2 = sock.frames('presence')[1];
  sock.receive({ op: 'error', id: req2.id, code: 'bad_request', channel: 'room.42', message: 'not a presence channel' });
  await assert.rejects(q, (e) => e.code === 'bad_request' && e.channel === 'room.42');
  sock.receive({ op: 'event', channel: 'room.42', event: 'presence.leave', data: { sub: 'carol' } });
  assert.equal(got.length, 2);
  assert.deepEqual(errors, []);
  // an answer that never comes: the connection drops
  const r = bus.presence('room.42');
  sock.fail();
  await assert.rejects(r, (e) => e.code === 'unavailable');
});
