// SPDX-License-Identifier: MIT
// The Pusher HTTP API (docs/pusher.md) end to end: the official `pusher`
// server SDK (trigger, triggerBatch, get) against the real bridge on a real
// mosquitto, events received by real pusher-js clients and by a
// statusbus.v1 client; socket_id exclusion (Laravel's toOthers()), on the
// sender's bridge and across bridges; a cache- channel's last event on
// subscribe; an event published through bridge A reaching a client on
// bridge B; and every bad request a clear 4xx, counted, nothing published.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Stack, mintToken, waitFor, binary } from '../browser/stack.mjs';
import {
  JWT_SECRET, Client, V1, metric, pusherSection, server, signedFetch,
} from './api_stack.mjs';

if (!binary('statusbus-bridge')) throw new Error('statusbus-bridge is not built');

/** A stack with auth on and the Pusher section; body(stack) then cleanup. */
async function withApi(name, body, overrides = {}) {
  const st = new Stack(name);
  const clients = [];
  st.track = (c) => { clients.push(c); return c; };
  try {
    await st.start({ jwtSecret: JWT_SECRET, overrides: { ...pusherSection(), ...overrides } });
    await body(st);
  } catch (e) {
    st.dump();
    throw e;
  } finally {
    for (const c of clients) c.close();
    await st.stop();
  }
  st.cleanup();
}

test('trigger reaches pusher-js with the original name and data, and statusbus.v1 as an event', async () => {
  await withApi('trigger', async (st) => {
    const b = st.bridge;
    const priv = st.track(new Client(b));
    const cache = st.track(new Client(b));
    await priv.connected();
    await cache.connected();
    await priv.subscribe('private-team.42');
    await cache.subscribe('private-cache-team.42');
    const v1 = st.track(await V1.open(b, mintToken(JWT_SECRET, { teams: ['42'] })));
    await v1.subscribe('team.42');

    const data = { order: { id: 5, note: 'naïve "quoted" \\ text' }, n: 12345678901234567 };
    const r = await server(b).trigger('private-team.42', 'order.shipped', data);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {});
    await waitFor(() => priv.named('order.shipped').length && cache.named('order.shipped').length &&
      v1.events('order.shipped').length, { what: 'the event everywhere' });
    // pusher-js parses the data string it gets: the same JSON the SDK sent
    assert.deepEqual(priv.named('order.shipped'), [{ channel: 'private-team.42', event: 'order.shipped', data: JSON.parse(JSON.stringify(data)) }]);
    assert.equal(cache.named('order.shipped')[0].channel, 'private-cache-team.42');
    const [ev] = v1.events('order.shipped');
    assert.equal(ev.channel, 'team.42');
    assert.equal(ev.topic, 'pusher/team.42/order.shipped');
    assert.equal(ev.retained, false);
    assert.deepEqual(ev.data, JSON.parse(JSON.stringify(data)));

    // a data string that is not JSON stays a string for both
    await server(b).trigger('private-team.42', 'plain', 'just text');
    await waitFor(() => priv.named('plain').length && v1.events('plain').length, { what: 'plain text event' });
    assert.equal(priv.named('plain')[0].data, 'just text');
    assert.equal(v1.events('plain')[0].data, 'just text');

    // several channels in one trigger, and the info it can answer with
    const r2 = await server(b).trigger(['private-team.42', 'public.acme'], 'multi', { k: 1 }, { info: 'subscription_count' });
    assert.deepEqual(await r2.json(), { channels: { 'private-team.42': { subscription_count: 1 }, 'public.acme': { subscription_count: 0 } } });
    await waitFor(() => priv.named('multi').length, { what: 'multi-channel event' });
    assert.equal(await metric(b, 'statusbus_pusher_api_events_total'), 4);
    assert.equal(await metric(b, 'statusbus_pusher_api_requests_total{result="ok"}'), 3);
  });
});

test('socket_id excludes the sender (toOthers), and triggerBatch delivers each event', async () => {
  await withApi('exclusion', async (st) => {
    const b = st.bridge;
    const a = st.track(new Client(b));
    const c = st.track(new Client(b));
    const aId = await a.connected();
    await c.connected();
    await a.subscribe('private-team.42');
    await c.subscribe('private-team.42');
    await a.subscribe('public.acme');
    await c.subscribe('public.acme');

    await server(b).trigger('private-team.42', 'chat', { m: 'from a' }, { socket_id: aId });
    await server(b).trigger('private-team.42', 'chat', { m: 'to all' });
    await waitFor(() => c.named('chat').length === 2 && a.named('chat').length === 1, { what: 'both chats' });
    assert.deepEqual(a.named('chat').map((e) => e.data.m), ['to all']);
    assert.deepEqual(c.named('chat').map((e) => e.data.m), ['from a', 'to all']);

    const r = await server(b).triggerBatch([
      { channel: 'private-team.42', name: 'b1', data: { i: 1 }, socket_id: aId },
      { channel: 'public.acme', name: 'b2', data: { i: 2 } },
    ]);
    assert.equal(r.status, 200);
    await waitFor(() => c.named('b1').length && c.named('b2').length && a.named('b2').length, { what: 'batch events' });
    assert.equal(a.named('b1').length, 0);
  });
});

test('a cache- channel gets its last event on subscribe, from the bridge and from the broker', async () => {
  await withApi('cache', async (st) => {
    const b = st.bridge;
    const s = server(b);
    await s.trigger('cache-public.acme', 'status.update', { v: 1 });
    await s.trigger('cache-public.acme', 'status.update', { v: 2 });
    const first = st.track(new Client(b));
    await first.connected();
    await first.subscribe('cache-public.acme');
    await waitFor(() => first.named('status.update').length, { what: 'cached event on subscribe' });
    assert.deepEqual(first.named('status.update').map((e) => e.data), [{ v: 2 }]);

    // a bridge that was not running then gets it from the broker's retained copy
    const b2 = await st.startBridge({ jwtSecret: JWT_SECRET, overrides: pusherSection() });
    const late = st.track(new Client(b2));
    await late.connected();
    await late.subscribe('cache-public.acme');
    await waitFor(() => late.named('status.update').length, { what: 'cached event on another bridge' });
    assert.deepEqual(late.named('status.update').map((e) => e.data), [{ v: 2 }]);

    // a plain subscriber does not get it (Pusher: only cache- names do)
    const plain = st.track(new Client(b2));
    await plain.connected();
    await plain.subscribe('public.acme');
    // a witness published after the subscribe: once it is in, the
    // subscribe-time delivery (where a cached event would come) is over
    await s.trigger('public.acme', 'witness', {});
    await waitFor(() => plain.named('witness').length, { what: 'the witness event' });
    assert.equal(plain.named('status.update').length, 0);
  });
});

test('an event published through bridge A reaches a client on bridge B; socket_id is honoured there', async () => {
  await withApi('two-bridges', async (st) => {
    const a = st.bridge;
    const bb = await st.startBridge({ jwtSecret: JWT_SECRET, overrides: pusherSection() });
    const onB = st.track(new Client(bb));
    const other = st.track(new Client(bb));
    const onBId = await onB.connected();
    await other.connected();
    await onB.subscribe('private-team.42');
    await other.subscribe('private-team.42');
    await server(a).trigger('private-team.42', 'cross', { via: 'a' }, { socket_id: onBId });
    await server(a).trigger('private-team.42', 'cross', { via: 'a2' });
    await waitFor(() => other.named('cross').length === 2 && onB.named('cross').length === 1, { what: 'events on B' });
    assert.deepEqual(onB.named('cross').map((e) => e.data.via), ['a2']);
  });
});

test('channel queries answer like Pusher', async () => {
  await withApi('queries', async (st) => {
    const b = st.bridge;
    const s = server(b);
    const c = st.track(new Client(b));
    await c.connected();
    await c.subscribe('private-team.42');
    await c.subscribe('cache-public.acme');
    const v1 = st.track(await V1.open(b, mintToken(JWT_SECRET, { teams: ['42'] })));
    await v1.subscribe('team.42');

    let r = await s.get({ path: '/channels' });
    assert.deepEqual(await r.json(), { channels: { 'team.42': {}, 'private-team.42': {}, 'cache-public.acme': {} } });
    r = await s.get({ path: '/channels', params: { filter_by_prefix: 'private-', info: 'subscription_count' } });
    assert.deepEqual(await r.json(), { channels: { 'private-team.42': { subscription_count: 1 } } });
    r = await s.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    assert.deepEqual(await r.json(), { channels: {} });
    r = await s.get({ path: '/channels/private-team.42', params: { info: 'subscription_count' } });
    assert.deepEqual(await r.json(), { occupied: true, subscription_count: 1 });
    r = await s.get({ path: '/channels/private-team.43' });
    assert.deepEqual(await r.json(), { occupied: false });
    r = await s.get({ path: '/channels/presence-room', params: { info: 'user_count' } });
    assert.deepEqual(await r.json(), { occupied: false, user_count: 0 });
  });
});

async function expectRefused(promiseOrResponse, status, text) {
  let res;
  try {
    res = await promiseOrResponse;
  } catch (e) {
    // the SDK throws RequestError with status and body
    assert.equal(e.status, status, `${e.message}: ${e.body}`);
    assert.match(e.body, text);
    return;
  }
  const body = await res.text();
  assert.equal(res.status, status, body);
  assert.match(body, text);
  assert.match(res.headers.get('content-type'), /text\/plain/);
}

test('every bad request is a clear 4xx, counted, and publishes nothing', async () => {
  await withApi('bad-requests', async (st) => {
    const b = st.bridge;
    const watcher = st.track(new Client(b));
    await watcher.connected();
    await watcher.subscribe('private-team.42');
    const body = (o) => JSON.stringify({ name: 'bad', data: '{}', channel: 'private-team.42', ...o });
    const now = Math.floor(Date.now() / 1000);
    const ev = '/apps/1/events';

    await expectRefused(server(b, { secret: 'not-the-secret' }).trigger('private-team.42', 'bad', {}), 401, /Invalid signature/);
    await expectRefused(server(b, { appId: '2' }).trigger('private-team.42', 'bad', {}), 404, /Unknown app/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body(), timestamp: now - 601 }), 401, /Timestamp expired/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body(), timestamp: now + 601 }), 401, /Timestamp expired/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body(), version: '2.0' }), 401, /auth_version/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body(), key: 'other-key' }), 401, /Unknown auth_key/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body(), md5: crypto.createHash('md5').update('x').digest('hex') }), 401, /body_md5/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body(), drop: ['body_md5'] }), 401, /body_md5 is required/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body(), drop: ['auth_signature'] }), 401, /Missing/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body(), signature: 'z'.repeat(64) }), 401, /Invalid signature/);
    await expectRefused(server(b).trigger('private-team.42', 'bad', 'x'.repeat(10 * 1024 + 1)), 413, /Payload too large/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: '{"name":' }), 400, /JSON object/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: JSON.stringify({ name: 'bad', data: '{}', channels: Array.from({ length: 101 }, (_, i) => `private-team.${i}`) }) }), 400, /Too many channels/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ channels: [] , channel: undefined }) }), 400, /channels is empty/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ channels: ['public.acme'] }) }), 400, /not both/);
    await expectRefused(server(b).trigger('private-team.42', 'order/shipped', {}), 400, /Invalid event name/);
    await expectRefused(server(b).trigger('private-team.42', 'pusher:fake', {}), 400, /Invalid event name/);
    await expectRefused(server(b).trigger('private-team.42', '', {}), 400, /name/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ name: 5 }) }), 400, /needs a name/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ data: undefined }) }), 400, /has no data/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ data: 'a\u0000b' }) }), 400, /u0000/);
    await expectRefused(server(b).trigger('private-nosuch.1', 'bad', {}), 400, /channel map/);
    await expectRefused(server(b).trigger('presence-team.42', 'bad', {}), 400, /presence/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ channel: 'private-team/42' }) }), 400, /Invalid channel name/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ socket_id: 'abc' }) }), 400, /socket id/);
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ info: 'user_count' }) }), 400, /presence/);
    await expectRefused(server(b).triggerBatch(Array.from({ length: 11 }, (_, i) => ({ channel: 'private-team.42', name: 'bad', data: { i } }))), 400, /Batch too large/);
    await expectRefused(signedFetch(b, 'POST', '/apps/1/batch_events', { body: '{"batch":[]}' }), 400, /non-empty batch/);
    await expectRefused(signedFetch(b, 'POST', '/apps/1/batch_events', { body: JSON.stringify({ batch: [{ name: 'bad', data: '{}', channels: ['private-team.42'] }] }) }), 400, /one channel/);
    await expectRefused(signedFetch(b, 'GET', '/apps/1/events'), 405, /POST/);
    await expectRefused(signedFetch(b, 'POST', '/apps/1/channels', { body: '{}' }), 405, /GET/);
    await expectRefused(signedFetch(b, 'GET', '/apps/1/nothing'), 404, /No such endpoint/);
    await expectRefused(server(b).get({ path: '/channels', params: { info: 'user_count' } }), 400, /presence/);
    await expectRefused(server(b).get({ path: '/channels/private-team.42', params: { info: 'bogus' } }), 400, /unknown attribute/);
    await expectRefused(server(b).get({ path: '/channels/private-team.42/users' }), 400, /presence/);
    await expectRefused(server(b).get({ path: '/channels/presence-room/users' }), 400, /presence channel/);
    // a body over pusher.max_request_bytes is refused unread
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ data: 'y'.repeat(300 * 1024) }) }), 413, /max_request_bytes/);
    // and one whose published size would pass limits.max_payload_bytes
    // (32 KiB here: 10240 control characters are 61 KB escaped)
    await expectRefused(signedFetch(b, 'POST', ev, { body: body({ data: '\u0001'.repeat(10240) }) }), 413, /max_payload_bytes/);

    // nothing of it was published: the next good event is the only one
    await server(b).trigger('private-team.42', 'good', { ok: true });
    // one bridge, one MQTT session, QoS 1: anything published before it
    // would have come through the broker before it
    await waitFor(() => watcher.named('good').length, { what: 'the good event' });
    assert.deepEqual(watcher.events.map((e) => e.event), ['good']);
    assert.equal(await metric(b, 'statusbus_pusher_api_events_total'), 1);
    assert.equal(await metric(b, 'statusbus_pusher_api_requests_total{result="ok"}'), 1);
    assert.equal(await metric(b, 'statusbus_pusher_api_requests_total{result="unauthorized"}'), 9);
    assert.equal(await metric(b, 'statusbus_pusher_api_requests_total{result="too_large"}'), 3);
    assert.equal(await metric(b, 'statusbus_pusher_api_requests_total{result="not_found"}'), 2);
    assert.equal(await metric(b, 'statusbus_pusher_api_requests_total{result="unsupported"}'), 0);
    assert.ok(await metric(b, 'statusbus_pusher_api_requests_total{result="bad_request"}') >= 22);
    assert.ok(await metric(b, 'statusbus_auth_failures_total') >= 9);
    // the connection of a refused request stays usable (keep-alive)
    assert.equal((await fetch(`${b.http}/healthz`)).status, 200);
  }, { limits: { max_payload_bytes: 32768 } });
});

test('with the broker down the API answers 503 and publishes nothing', async () => {
  await withApi('broker-down', async (st) => {
    const b = st.bridge;
    await st.mosq.stop();
    await waitFor(async () => (await b.health()) === 503, { what: 'bridge sees the broker down' });
    await expectRefused(server(b).trigger('private-team.42', 'lost', {}), 503, /broker link is down/);
    assert.equal(await metric(b, 'statusbus_pusher_api_requests_total{result="unavailable"}'), 1);
    assert.equal(await metric(b, 'statusbus_pusher_api_events_total'), 0);
  });
});

test('without a pusher section the API is off', async () => {
  const st = new Stack('api-off');
  try {
    await st.start({ jwtSecret: JWT_SECRET });
    const r = await signedFetch(st.bridge, 'POST', '/apps/1/events', { body: '{}' });
    assert.equal(r.status, 404);
    assert.match(await r.text(), /no pusher section/);
  } catch (e) {
    st.dump();
    throw e;
  } finally {
    await st.stop();
  }
  st.cleanup();
});

