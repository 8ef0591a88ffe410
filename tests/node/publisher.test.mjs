// SPDX-License-Identifier: MIT
// examples/node-publisher against a real mosquitto + bridge: the demo CLI
// leaves valid retained statuses the bridge serves, and the library's
// deploy log, status and deletion reach a statusbus.js client (Node, `ws`)
// live, numbered from 1, schema-valid (the bridge drops anything else).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { StatusBus } from '../../clients/js/statusbus.js';
import { waitFor, uuid } from '../browser/stack.mjs';
import { sharedStack, runNode } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.join(here, '..', '..', 'examples', 'node-publisher', 'publisher.mjs');
const HOOK = path.join(here, 'resolve-deps.mjs');
const { stack: getStack, logged } = sharedStack('node-publisher');

// the example imports `mqtt`, which the repository installs in tests/node_modules
await import('./resolve-deps.mjs');
const pub = await import(EXAMPLE);

async function snapshot(channel) {
  const r = await fetch(`${getStack().bridge.http}/v1/snapshot?channel=${encodeURIComponent(channel)}`);
  assert.equal(r.status, 200);
  return (await r.json()).events;
}

test('the demo CLI publishes an app and a finished deployment the bridge serves', () => logged(async () => {
  const stack = getStack();
  const mqttUrl = `mqtt://127.0.0.1:${stack.mosq.port}`;
  const run = await runNode(['--import', HOOK, EXAMPLE, '--url', mqttUrl, '--team', '42', '--interval-ms', '0'], path.dirname(EXAMPLE));
  assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1));
  assert.equal(out.team, '42');
  assert.ok(out.lines >= 2);
  // retained, so the bridge's snapshot has them whenever it is asked
  const byTopic = new Map();
  await waitFor(async () => {
    for (const ev of await snapshot('team.42')) byTopic.set(ev.topic, ev);
    return byTopic.get(`team/42/deploy/${out.deploy}/status`)?.data.status === 'finished';
  }, { what: 'the finished deployment in the snapshot' });
  const app = byTopic.get(`team/42/app/${out.app}/status`);
  assert.equal(app.data.status, 'running');
  assert.equal(app.data.old_status, 'starting');
  const dep = byTopic.get(`team/42/deploy/${out.deploy}/status`);
  assert.equal(dep.data.progress, 100);
  assert.equal(dep.data.app, out.app);
}));

test('the library: deploy status first, then numbered log lines, live to a statusbus.js client; a deletion', () => logged(async () => {
  const stack = getStack();
  const client = await pub.connect(`mqtt://127.0.0.1:${stack.mosq.port}`);
  const bus = new StatusBus({ url: stack.bridge.url, WebSocket });
  const errors = [];
  bus.on('error', (e) => errors.push(e));
  try {
    const app = uuid();
    const deploy = uuid();
    await pub.publishStatus(client, '42', 'app', app, { status: 'running', name: 'worker' });
    await pub.publishDeployStatus(client, '42', deploy, { status: 'running', progress: 0, app });
    const team = [];
    const lines = [];
    const offTeam = bus.subscribe('team.42', (ev) => team.push(ev));
    const offLogs = bus.subscribe(`deploy.${deploy}.logs`, (ev) => lines.push(ev), { since: 0 });
    await bus.connect();
    await Promise.all([offTeam.ready, offLogs.ready]);   // acknowledged: live from here

    const log = pub.deployLog(client, deploy);
    await log.write('Cloning');
    await log.write('warning: cache miss', { level: 'warn', stream: 'stderr' });
    await log.write('Done');
    await pub.publishDeleted(client, '42', 'app', app);
    await waitFor(() => lines.length >= 3 && team.some((ev) => ev.event === 'deleted' && ev.topic.includes(app)),
      { what: 'three log lines and the deletion' });
    assert.deepEqual(lines.map((ev) => ev.data.seq), [1, 2, 3]);
    assert.deepEqual(lines.map((ev) => ev.data.msg), ['Cloning', 'warning: cache miss', 'Done']);
    assert.equal(lines[1].data.level, 'warn');
    assert.equal(lines[1].data.stream, 'stderr');
    assert.equal(lines[0].event, 'deploy.log');
    const seen = team.filter((ev) => ev.topic === `team/42/app/${app}/status`).map((ev) => ev.event);
    assert.deepEqual(seen, ['app.status', 'deleted']);
    assert.deepEqual(errors, []);
  } finally {
    bus.close();
    await client.endAsync();
  }
}));
