// SPDX-License-Identifier: MIT
// Pusher presence channels (docs/protocol.md §9, docs/pusher.md) end to end,
// the way a Laravel frontend uses them: Laravel Echo's
// join('room.42').here().joining().leaving() on real pusher-js clients
// against the real bridge on a real mosquitto, authorized like Laravel's
// /broadcasting/auth does it (channel_data signed with
// "<socket_id>:<channel>:<channel_data>").  A user with two connections is
// one member; a statusbus.v1 subscriber of the same channel is a member
// too; the official `pusher` server SDK reads user_count and the users;
// every bad channel_data is a clear subscription_error, counted; and two
// bridges on one broker share one member set.
//
// Absence is proved with a witness: an event published through the API
// after the thing that must not be told reaches the same client through
// the broker, after anything the bridge queued for it before.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import PusherClient from 'pusher-js';
import Echo from 'laravel-echo';
import WebSocket from 'ws';
import { Stack, mintToken, waitFor, binary, shippedConfig } from '../browser/stack.mjs';
import { APP, JWT_SECRET, V1, metric, pusherSection, server } from './api_stack.mjs';

if (!binary('statusbus-bridge')) throw new Error('statusbus-bridge is not built');

const ROOM = 'room.42';

/** The shipped map plus one presence channel per team. */
function channels() {
  return [...shippedConfig().channels, {
    name: 'room.{team}', topics: ['team/{team}/incident/+'], acl: 'team',
    delivery: { mode: 'immediate' }, presence: true,
  }];
}

/** What Laravel's /broadcasting/auth answers for a presence channel. */
function presenceAuth(socketId, channel, channelData, secret = APP.secret) {
  return {
    auth: `${APP.key}:${crypto.createHmac('sha256', secret).update(`${socketId}:${channel}:${channelData}`).digest('hex')}`,
    channel_data: channelData,
  };
}

/** pusher-js on bridge b, authorized as `user` ({id, info}). */
function pusherClient(b, user) {
  return new PusherClient(APP.key, {
    wsHost: '127.0.0.1', wsPort: b.port, forceTLS: false, enabledTransports: ['ws'],
    cluster: '', disableStats: true,
    authorizer: (channel) => ({
      authorize: (socketId, cb) => cb(null,
        presenceAuth(socketId, channel.name, JSON.stringify({ user_id: user.id, user_info: user.info }))),
    }),
  });
}

/** Laravel Echo joined to ROOM as user: here / joining / leaving recorded. */
async function join(b, user) {
  const client = pusherClient(b, user);
  const echo = new Echo({ broadcaster: 'pusher', key: APP.key, client });
  const seen = { here: null, joining: [], leaving: [], witness: 0, errors: [] };
  echo.join(ROOM)
    .here((users) => { seen.here = users; })
    .joining((u) => { seen.joining.push(u); })
    .leaving((u) => { seen.leaving.push(u); })
    .listen('.witness', () => { seen.witness++; })
    .error((e) => { seen.errors.push(e); });
  await waitFor(() => seen.here || seen.errors.length, { what: `${user.id} joined` });
  assert.deepEqual(seen.errors, []);
  return { echo, client, seen };
}

/** Every member sees one more witness event: whatever the bridge queued
 * for them before it was published has arrived. */
async function witness(b, ...members) {
  const before = members.map((m) => m.seen.witness);
  await server(b).trigger(`presence-${ROOM}`, 'witness', {});
  await waitFor(() => members.every((m, i) => m.seen.witness > before[i]), { what: 'the witness event' });
}

async function withStack(name, body) {
  const st = new Stack(name);
  const closers = [];
  st.track = (c) => { closers.push(c); return c; };
  try {
    await st.start({ jwtSecret: JWT_SECRET, overrides: { ...pusherSection(), channels: channels() } });
    await body(st);
  } catch (e) {
    st.dump();
    throw e;
  } finally {
    for (const c of closers) c();
    await st.stop();
  }
  st.cleanup();
}

const ids = (users) => users.map((u) => u.id).sort();

test('Echo.join: here, joining, leaving; a user with two connections is one member', async () => {
  await withStack('presence-echo', async (st) => {
    const b = st.bridge;
    const alice = await join(b, { id: 'alice', info: { name: 'Alice' } });
    st.track(() => alice.echo.disconnect());
    assert.deepEqual(alice.seen.here, [{ name: 'Alice' }]);   // Echo gives the user_info

    const bob = await join(b, { id: 7, info: { name: 'Bob' } });   // Laravel sends numeric ids
    st.track(() => bob.echo.disconnect());
    assert.deepEqual(bob.seen.here.map((u) => u.name).sort(), ['Alice', 'Bob']);
    await waitFor(() => alice.seen.joining.length === 1, { what: 'alice sees bob joining' });
    assert.deepEqual(alice.seen.joining, [{ name: 'Bob' }]);

    // bob's second tab: nobody is told
    const bob2 = await join(b, { id: 7, info: { name: 'Bob' } });
    st.track(() => bob2.echo.disconnect());
    assert.equal(bob2.seen.here.length, 2);
    await witness(b, alice, bob, bob2);
    assert.equal(alice.seen.joining.length, 1);
    assert.equal(bob.seen.joining.length, 0);

    // the HTTP API counts users, not connections, and lists them
    const s = server(b);
    let r = await s.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    assert.deepEqual(await r.json(), { channels: { [`presence-${ROOM}`]: { user_count: 2 } } });
    r = await s.get({ path: `/channels/presence-${ROOM}`, params: { info: 'user_count,subscription_count' } });
    assert.deepEqual(await r.json(), { occupied: true, user_count: 2, subscription_count: 3 });
    r = await s.get({ path: `/channels/presence-${ROOM}/users` });
    assert.deepEqual(await r.json(), { users: [{ id: '7' }, { id: 'alice' }] });

    // a statusbus.v1 subscriber of room.42 is a member too (sub and name)
    const tok = mintToken(JWT_SECRET, { sub: 'carol', teams: ['42'] });
    const v1 = await V1.open(b, tok);
    st.track(() => v1.close());
    await v1.subscribe(ROOM);
    await waitFor(() => alice.seen.joining.length === 2, { what: 'alice sees carol (v1) joining' });
    assert.deepEqual(alice.seen.joining[1], null);   // no name claim: no user_info
    v1.close();
    await waitFor(() => alice.seen.leaving.length === 1, { what: 'carol leaving' });

    // one of bob's two tabs goes: still a member
    const conns = await metric(b, 'statusbus_connections');
    bob2.echo.disconnect();
    await waitFor(async () => (await metric(b, 'statusbus_connections')) === conns - 1, { what: 'bob2 gone' });
    await witness(b, alice, bob);
    assert.equal(alice.seen.leaving.length, 1);

    // his last one: alice is told once
    bob.echo.leave(ROOM);
    await waitFor(() => alice.seen.leaving.length === 2, { what: 'alice sees bob leaving' });
    assert.deepEqual(alice.seen.leaving[1], { name: 'Bob' });
    r = await s.get({ path: `/channels/presence-${ROOM}/users` });
    assert.deepEqual(await r.json(), { users: [{ id: 'alice' }] });
    assert.equal(await metric(b, 'statusbus_presence_members'), 1);
  });
});

test('bad channel_data: a clear subscription_error each, counted, nobody joins', async () => {
  await withStack('presence-bad', async (st) => {
    const b = st.bridge;
    const alice = await join(b, { id: 'alice', info: { name: 'Alice' } });
    st.track(() => alice.echo.disconnect());
    const cases = [
      ['bad JSON', (sid, ch) => presenceAuth(sid, ch, '{"user_id":'), 400, /not a JSON object/],
      ['no user_id', (sid, ch) => presenceAuth(sid, ch, '{"user_info":{"name":"M"}}'), 400, /user_id/],
      ['empty user_id', (sid, ch) => presenceAuth(sid, ch, '{"user_id":""}'), 400, /user_id/],
      ['too big', (sid, ch) => presenceAuth(sid, ch, JSON.stringify({ user_id: 'm', user_info: { bio: 'x'.repeat(3000) } })), 400, /over 2048 bytes/],
      ['user_info over 1 KB', (sid, ch) => presenceAuth(sid, ch, JSON.stringify({ user_id: 'm', user_info: { bio: 'x'.repeat(1100) } })), 400, /user_info is over/],
      ['wrong signature', (sid, ch) => presenceAuth(sid, ch, '{"user_id":"m"}', 'not-the-secret'), 401, /invalid signature/],
      ['signature over another channel_data', (sid, ch) => ({ ...presenceAuth(sid, ch, '{"user_id":"m"}'), channel_data: '{"user_id":"admin"}' }), 401, /invalid signature/],
      ['no channel_data', (sid, ch) => ({ auth: presenceAuth(sid, ch, '').auth }), 400, /needs channel_data/],
    ];
    // a raw Pusher client: pusher-js itself parses channel_data (and
    // throws on bad JSON) before it sends it
    for (const [what, auth, status, text] of cases) {
      const ws = new WebSocket(`ws://127.0.0.1:${b.port}/app/${APP.key}?protocol=7`);
      st.track(() => ws.close());
      const frames = [];
      ws.on('message', (d) => {
        const f = JSON.parse(d.toString());
        frames.push({ ...f, data: typeof f.data === 'string' ? JSON.parse(f.data) : f.data });
      });
      await waitFor(() => frames.some((f) => f.event === 'pusher:connection_established'), { what: 'connected' });
      const sid = frames[0].data.socket_id;
      ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: `presence-${ROOM}`, ...auth(sid, `presence-${ROOM}`) } }));
      await waitFor(() => frames.some((f) => f.event.startsWith('pusher') && f.event !== 'pusher:connection_established'),
        { what: `answer for ${what}` });
      const err = frames.find((f) => f.event === 'pusher:subscription_error');
      assert.ok(err, `${what}: ${JSON.stringify(frames)}`);
      assert.equal(err.data.status, status, `${what}: ${JSON.stringify(err)}`);
      assert.match(err.data.error, text, what);
      ws.close();
    }
    // a presence- name on a channel whose template has no presence
    const c = pusherClient(b, { id: 'm' });
    st.track(() => c.disconnect());
    const errs = [];
    c.subscribe('presence-team.42').bind('pusher:subscription_error', (e) => errs.push(e));
    await waitFor(() => errs.length, { what: 'subscription_error for a non-presence channel' });
    assert.equal(errs[0].status, 404);
    assert.match(errs[0].error, /not a presence channel/);

    await witness(b, alice);
    assert.deepEqual(alice.seen.joining, []);
    assert.equal(await metric(b, 'statusbus_pusher_presence_refused_total'), 7);
    assert.equal(await metric(b, 'statusbus_pusher_signature_failures_total'), 2);
    const r = await server(b).get({ path: `/channels/presence-${ROOM}/users` });
    assert.deepEqual(await r.json(), { users: [{ id: 'alice' }] });
  });
});

test('two bridges on one broker: one member set, user_count on either', async () => {
  await withStack('presence-two', async (st) => {
    const a = st.bridge;
    const b = await st.startBridge({ jwtSecret: JWT_SECRET, overrides: { ...pusherSection(), channels: channels() } });
    const alice = await join(a, { id: 'alice', info: { name: 'Alice' } });
    st.track(() => alice.echo.disconnect());
    const bob = await join(b, { id: 'bob', info: { name: 'Bob' } });
    st.track(() => bob.echo.disconnect());
    // alice hears of bob through the broker; bob has alice in here() or
    // hears of her once bridge B read bridge A's list
    await waitFor(() => alice.seen.joining.some((u) => u.name === 'Bob'), { what: 'alice sees bob (bridge B)' });
    await waitFor(() => [...bob.seen.here, ...bob.seen.joining].some((u) => u.name === 'Alice'),
      { what: 'bob sees alice (bridge A)' });
    for (const br of [a, b]) {
      const r = await server(br).get({ path: `/channels/presence-${ROOM}`, params: { info: 'user_count' } });
      assert.deepEqual(await r.json(), { occupied: true, user_count: 2 });
      const u = await server(br).get({ path: `/channels/presence-${ROOM}/users` });
      assert.deepEqual(await u.json(), { users: [{ id: 'alice' }, { id: 'bob' }] });
    }
    alice.echo.leave(ROOM);
    await waitFor(() => bob.seen.leaving.some((u) => u.name === 'Alice'), { what: 'bob sees alice leave' });
    await waitFor(async () => (await (await server(b).get({ path: `/channels/presence-${ROOM}/users` })).json()).users.length === 1,
      { what: 'bridge B lists bob alone' });
  });
});
