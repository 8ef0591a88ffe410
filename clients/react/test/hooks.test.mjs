// SPDX-License-Identifier: MIT
// The provider and hooks with real React (react-dom on jsdom) and the real
// StatusBus on a fake WebSocket: connection state, subscriptions made in
// effects and removed on unmount, statuses by topic, log streams with
// gaps, pause, maxLines and resume after a reconnect, StrictMode's double
// effects, token refresh.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  React, act, h, fakeBus, fakeOptions, render, server, probe, connected, URL,
} from './dom.mjs';
import {
  StatusBusProvider, useStatusBus, useConnectionState, useChannel, useRealtimeStatus, useStatuses, useLogStream,
} from '../src/index.js';

const APP = 'team/42/app/a1b2c3d4-0000-4000-8000-000000000001/status';
const DB = 'team/42/db/a1b2c3d4-0000-4000-8000-000000000002/status';
const DEPLOY = '8d3f0f3e-4c1a-4f7e-9c55-2d6f0e1b7a10';
const LOGS = `deploy.${DEPLOY}.logs`;

const status = (topic, s, channel = 'team.42') => ({
  op: 'event', channel, event: 'app.status', topic, retained: true, data: { status: s },
});
const batch = (from, to) => ({
  op: 'batch', channel: LOGS, event: 'deploy.log',
  events: Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, msg: `line ${from + i}` })),
});
const seqs = (r) => r.lines.map((e) => (e.kind === 'gap' ? `gap:${e.from}-${e.to}` : e.seq));
const subFrames = (sock) => sock.frames().filter((f) => f.op === 'sub' || f.op === 'unsub').map((f) => `${f.op} ${f.channel}${f.since !== undefined ? ` since=${f.since}` : ''}`);

test('a provider given url makes its bus, connects on mount, closes on unmount; useConnectionState follows', async () => {
  const { ws, options } = fakeOptions();
  const states = [];
  const State = probe(() => useConnectionState(), states);
  const view = await render(h(StatusBusProvider, { url: URL, token: 'tok-1', options }, h(State)));
  await server(() => {});
  assert.equal(ws.sockets.length, 1, 'one socket');
  assert.equal(states.at(-1), 'connecting');
  await server(() => ws.last().handshake());
  assert.deepEqual(ws.last().frames('hello'), [{ op: 'hello', token: 'tok-1' }]);
  assert.equal(states.at(-1), 'connected');
  await view.unmount();
  assert.deepEqual(ws.last().closedByClient, { code: 1000, reason: 'client closed' });
  assert.equal(ws.sockets.length, 1, 'no reconnect after unmount');
});

test('a bus passed in is used as it is: not connected, not closed by the provider', async () => {
  const { bus, ws } = fakeBus();
  const seen = [];
  const Who = probe(() => useStatusBus(), seen);
  const view = await render(h(StatusBusProvider, { bus }, h(Who)));
  assert.equal(seen.at(-1), bus);
  await server(() => {});
  assert.equal(ws.sockets.length, 0);
  await connected(ws, bus);
  await view.unmount();
  assert.equal(ws.last().closedByClient, null);
  assert.equal(bus.state, 'connected');
  bus.close();
});

test('hooks outside a provider throw a clear error', async () => {
  const errors = [];
  const Bad = () => { useConnectionState(); return null; };
  class Boundary extends React.Component {
    constructor(p) { super(p); this.state = { err: null }; }
    static getDerivedStateFromError(err) { return { err }; }
    componentDidCatch(err) { errors.push(err); }
    render() { return this.state.err ? null : this.props.children; }
  }
  const origError = console.error;
  console.error = () => {};
  try {
    await render(h(Boundary, null, h(Bad)));
  } finally {
    console.error = origError;
  }
  assert.match(String(errors[0]), /inside <StatusBusProvider>/);
});

test('useRealtimeStatus: statuses by topic, deleted removes, team change resubscribes and starts over, unmount unsubscribes', async () => {
  const { bus, ws } = fakeBus();
  const results = [];
  const Team = probe(({ team }) => useRealtimeStatus(team), results);
  const view = await render(h(StatusBusProvider, { bus }, h(Team, { team: '42' })));
  await connected(ws, bus);
  const sock = ws.last();
  assert.deepEqual(subFrames(sock), ['sub team.42']);
  assert.equal(results.at(-1).state, 'pending');
  await server(() => {
    sock.ackSubs();
    sock.receive(status(APP, 'running'));
    sock.receive(status(DB, 'running'));
    sock.receive(status(APP, 'exited'));
  });
  let r = results.at(-1);
  assert.equal(r.state, 'subscribed');
  assert.deepEqual(Object.keys(r.statuses).sort(), [APP, DB]);
  assert.equal(r.statuses[APP].data.status, 'exited');
  assert.equal(r.statuses[APP].event, 'app.status');
  await server(() => sock.receive({ op: 'event', channel: 'team.42', event: 'deleted', topic: DB, retained: true, data: null }));
  assert.deepEqual(Object.keys(results.at(-1).statuses), [APP]);

  await view.update(h(StatusBusProvider, { bus }, h(Team, { team: '43' })));
  await server(() => {});
  assert.deepEqual(subFrames(sock), ['sub team.42', 'unsub team.42', 'sub team.43']);
  r = results.at(-1);
  assert.deepEqual(r.statuses, {}, 'a new team starts empty');
  assert.equal(r.state, 'pending');

  await view.unmount();
  assert.deepEqual(subFrames(sock), ['sub team.42', 'unsub team.42', 'sub team.43', 'unsub team.43']);
  assert.deepEqual(bus.channels(), []);
  bus.close();
});

test('useChannel: the latest handler is called, forbidden fails with the error, a null channel subscribes nothing', async () => {
  const { bus, ws } = fakeBus();
  bus.on('error', () => {});          // the forbidden below is expected
  const got = [];
  const results = [];
  const Chan = probe(({ channel, tag }) => useChannel(channel, (ev) => got.push(`${tag}:${ev.data.status}`)), results);
  const view = await render(h(StatusBusProvider, { bus }, h(Chan, { channel: null, tag: 'a' })));
  assert.deepEqual(results.at(-1), { state: 'idle', error: null });
  await connected(ws, bus);
  const sock = ws.last();
  assert.deepEqual(subFrames(sock), []);

  await view.update(h(StatusBusProvider, { bus }, h(Chan, { channel: 'team.42', tag: 'a' })));
  await server(() => { sock.ackSubs(); sock.receive(status(APP, 'running')); });
  await view.update(h(StatusBusProvider, { bus }, h(Chan, { channel: 'team.42', tag: 'b' })));
  await server(() => sock.receive(status(APP, 'exited')));
  assert.deepEqual(got, ['a:running', 'b:exited']);
  assert.deepEqual(subFrames(sock), ['sub team.42'], 'a new handler does not resubscribe');

  await view.update(h(StatusBusProvider, { bus }, h(Chan, { channel: 'team.43', tag: 'b' })));
  await server(() => {
    const sub = sock.frames('sub').at(-1);
    sock.receive({ op: 'error', id: sub.id, code: 'forbidden', message: 'team 43 is not in your token' });
  });
  const r = results.at(-1);
  assert.equal(r.state, 'failed');
  assert.equal(r.error.code, 'forbidden');
  assert.equal(r.error.channel, 'team.43');

  await view.update(h(StatusBusProvider, { bus }, h(Chan, { channel: 'team/42', tag: 'b' })));
  assert.equal(results.at(-1).state, 'failed');
  assert.equal(results.at(-1).error.code, 'bad_request', 'a channel the bridge could never accept');
  await view.unmount();
  bus.close();
});

test('useLogStream: since 0, batches and gaps in order, maxLines, pause and resume', async () => {
  const { bus, ws } = fakeBus();
  const results = [];
  const Logs = probe(({ max }) => useLogStream(LOGS, { maxLines: max }), results);
  const view = await render(h(StatusBusProvider, { bus }, h(Logs, { max: 10 })));
  await connected(ws, bus);
  const sock = ws.last();
  assert.deepEqual(subFrames(sock), [`sub ${LOGS} since=0`]);
  await server(() => {
    sock.ackSubs();
    sock.receive(batch(1, 5));
    sock.receive({ op: 'gap', channel: LOGS, from: 6, to: 8 });
    sock.receive(batch(9, 10));
  });
  let r = results.at(-1);
  assert.equal(r.state, 'subscribed');
  assert.deepEqual(seqs(r), [1, 2, 3, 4, 5, 'gap:6-8', 9, 10]);
  assert.equal(r.lines[0].data.msg, 'line 1');

  await act(async () => r.pause());
  await server(() => sock.receive(batch(11, 13)));
  r = results.at(-1);
  assert.equal(r.paused, true);
  assert.equal(r.buffered, 3);
  assert.deepEqual(seqs(r), [1, 2, 3, 4, 5, 'gap:6-8', 9, 10], 'nothing new while paused');
  await act(async () => r.resume());
  r = results.at(-1);
  assert.equal(r.paused, false);
  assert.deepEqual(seqs(r), [1, 2, 3, 4, 5, 'gap:6-8', 9, 10, 11, 12, 13]);

  await view.update(h(StatusBusProvider, { bus }, h(Logs, { max: 4 })));
  r = results.at(-1);
  assert.deepEqual(seqs(r), [10, 11, 12, 13]);
  assert.equal(r.dropped, 6);
  assert.equal(r.maxLines, 4);
  assert.deepEqual(subFrames(sock), [`sub ${LOGS} since=0`], 'maxLines does not resubscribe');
  await view.unmount();
  assert.deepEqual(subFrames(sock), [`sub ${LOGS} since=0`, `unsub ${LOGS}`]);
  bus.close();
});

test('useLogStream after a reconnect: resubscribes with since = last seq, no line twice, a gap for what is lost', async () => {
  const { bus, ws, clock } = fakeBus();
  const results = [];
  const Logs = probe(() => useLogStream(LOGS), results);
  const view = await render(h(StatusBusProvider, { bus }, h(Logs)));
  await connected(ws, bus);
  await server(() => { ws.last().ackSubs(); ws.last().receive(batch(1, 20)); });
  await server(() => ws.last().serverClose(1001, 'going away'));
  await server(() => clock.tick(2000));
  assert.equal(ws.sockets.length, 2, 'reconnected');
  await server(() => ws.last().handshake());
  const sock = ws.last();
  assert.deepEqual(subFrames(sock), [`sub ${LOGS} since=20`]);
  await server(() => {
    sock.ackSubs({ recovered: false });
    sock.receive(batch(18, 22));      // an overlap is not shown twice
    sock.receive({ op: 'gap', channel: LOGS, from: 23, to: 30 });
    sock.receive(batch(31, 32));
  });
  const r = results.at(-1);
  assert.deepEqual(seqs(r), [...Array.from({ length: 22 }, (_, i) => i + 1), 'gap:23-30', 31, 32]);
  assert.equal(r.state, 'subscribed');
  await view.unmount();
  bus.close();
});

test('StrictMode: effects run twice, one subscription stays, the owned bus ends connected, every line once', async () => {
  const { ws, options } = fakeOptions();
  const logs = [];
  const statuses = [];
  const Logs = probe(() => useLogStream(LOGS), logs);
  const Team = probe(() => useStatuses('team.42'), statuses);
  const State = () => h('span', null, useConnectionState());
  const tree = h(React.StrictMode, null, h(StatusBusProvider, { url: URL, options }, h(Logs), h(Team), h(State)));
  const view = await render(tree);
  await connected(ws);
  const sock = ws.last();
  assert.equal(view.container.textContent, 'connected');
  await server(() => {
    sock.ackSubs();
    sock.receive(status(APP, 'running'));
    sock.receive(batch(1, 3));
  });
  assert.deepEqual(bus_channels(sock), [LOGS, 'team.42'].sort());
  assert.deepEqual(seqs(logs.at(-1)), [1, 2, 3]);
  assert.equal(statuses.at(-1).statuses[APP].data.status, 'running');
  await view.unmount();
  assert.ok(ws.sockets.every((s) => s.readyState === 3), 'every socket closed');
});

/** Channels the bridge would consider subscribed, from the frames a socket sent. */
function bus_channels(sock) {
  const on = new Set();
  for (const f of sock.frames()) {
    if (f.op === 'sub') on.add(f.channel);
    if (f.op === 'unsub') on.delete(f.channel);
  }
  return [...on].sort();
}

test('a new token prop is sent as a refresh on the open connection', async () => {
  const { ws, options } = fakeOptions();
  const view = await render(h(StatusBusProvider, { url: URL, token: 't1', options }));
  await connected(ws);
  await view.update(h(StatusBusProvider, { url: URL, token: 't1', options }));
  assert.deepEqual(ws.last().frames('refresh'), []);
  await view.update(h(StatusBusProvider, { url: URL, token: 't2', options }));
  assert.deepEqual(ws.last().frames('refresh').map((f) => f.token), ['t2']);
  assert.equal(ws.sockets.length, 1, 'no reconnect for a new token');
  await view.unmount();
});

test('server rendering: a provider given url renders without a WebSocket and without connecting', async () => {
  const { renderToString } = await import('react-dom/server');
  assert.equal(globalThis.WebSocket, undefined, 'this Node has no global WebSocket');
  const View = () => {
    const conn = useConnectionState();
    const { statuses, state } = useRealtimeStatus('42');
    const log = useLogStream(LOGS);
    return h('p', null, `${conn} ${state} ${Object.keys(statuses).length} ${log.lines.length}`);
  };
  const html = renderToString(h(StatusBusProvider, { url: URL }, h(View)));
  assert.equal(html, '<p>offline pending 0 0</p>');
});
