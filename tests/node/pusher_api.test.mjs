// SPDX-License-Identifier: MIT
// examples/node-publisher/pusher-api.mjs against a real mosquitto + bridge
// with a `pusher` section: its CLI and its library publish through the
// bridge's Pusher HTTP API, and a statusbus.v1 client (statusbus.js in
// Node, `ws`) on the channel gets the events under their Pusher names; a
// wrong secret is refused with the bridge's 401 and reaches nobody.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { StatusBus } from '../../clients/js/statusbus.js';
import { waitFor } from '../browser/stack.mjs';
import { sharedStack, runNode } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.join(here, '..', '..', 'examples', 'node-publisher', 'pusher-api.mjs');
const HOOK = path.join(here, 'resolve-deps.mjs');
const APP = { app_id: '1', key: 'app-key', secret: 'app-secret' };
const { stack: getStack, logged } = sharedStack('pusher-api-example', { overrides: { pusher: APP } });

// the example requires `pusher`, which the repository installs in tests/node_modules
await import('./resolve-deps.mjs');
const api = await import(EXAMPLE);

test('the CLI and the library publish through the Pusher HTTP API to a statusbus.v1 client', () => logged(async () => {
  const stack = getStack();
  const bus = new StatusBus({ url: stack.bridge.url, WebSocket });
  const got = [];
  const errors = [];
  bus.on('error', (e) => errors.push(e));
  try {
    const sub = bus.subscribe('team.42', (ev) => got.push(ev));
    await bus.connect();
    await sub.ready;   // acknowledged: live from here

    const run = await runNode(['--import', HOOK, EXAMPLE, '--port', String(stack.bridge.port),
      '--app-id', APP.app_id, '--key', APP.key, '--secret', APP.secret,
      '--channel', 'private-team.42', '--event', 'order.shipped', '--data', '{"id":5}'], path.dirname(EXAMPLE));
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.equal(JSON.parse(run.stdout.trim().split('\n').at(-1)).ok, true);

    const p = api.backend({ port: stack.bridge.port, appId: APP.app_id, key: APP.key, secret: APP.secret });
    await api.triggerBatch(p, [{ channel: 'private-team.42', name: 'order.packed', data: { id: 6 } },
      { channel: 'private-team.42', name: 'order.shipped', data: { id: 6 } }]);

    // a wrong secret: the bridge's 401, nothing published
    const bad = await runNode(['--import', HOOK, EXAMPLE, '--port', String(stack.bridge.port),
      '--app-id', APP.app_id, '--key', APP.key, '--secret', 'wrong',
      '--channel', 'private-team.42', '--event', 'order.forged', '--data', '{}'], path.dirname(EXAMPLE));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /401/);
    // the witness: published after the forged attempt was refused
    await api.trigger(p, 'private-team.42', 'order.delivered', { id: 5 });

    await waitFor(() => got.some((ev) => ev.event === 'order.delivered'), { what: 'the witness event' });
    assert.deepEqual(got.map((ev) => [ev.event, ev.data.id]),
      [['order.shipped', 5], ['order.packed', 6], ['order.shipped', 6], ['order.delivered', 5]]);
    assert.deepEqual(errors, []);
  } finally {
    bus.close();
  }
}));
