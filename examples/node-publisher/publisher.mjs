#!/usr/bin/env node
// SPDX-License-Identifier: MIT
/**
 * A Node backend publishing to statusbus over MQTT with the `mqtt` package:
 * resource statuses (retained), a deployment's status and its numbered log
 * lines, and deletions (an empty retained publish).  The topics and
 * payloads are those of docs/protocol.md §2 and docs/payloads.md; the
 * bridge validates every payload against schemas/ and drops what does not
 * match, so each helper here writes exactly the schema's fields.
 *
 * Every publish is QoS 1 and resolves when the broker has acknowledged it,
 * so a job that awaits its calls knows what reached the broker.  The
 * deploy status is published before the first log line: the bridge learns
 * a deployment's owning team from it, and starts keeping its log history.
 *
 * As a library: import { connect, publishStatus, … } from './publisher.mjs'.
 * As a demo: node publisher.mjs --url mqtt://127.0.0.1:1883 --team 42
 * (--username/--password-file for a broker with users, see docs/broker.md)
 * publishes an app going from starting to running and a deployment with a
 * few log lines, and prints the UUIDs it used as JSON.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

/** RFC 3339 "now", as every status and log line carries it. */
export const now = () => new Date().toISOString();

/**
 * Connects to the broker; resolves once connected.  The client reconnects
 * by itself; a QoS 1 publish made while it is down is sent after the
 * reconnect and its promise resolves then.
 */
export function connect(url, { username, password, clientId } = {}) {
  return mqtt.connectAsync(url, {
    username, password,
    clientId: clientId ?? `statusbus-node-${crypto.randomBytes(4).toString('hex')}`,
    reconnectPeriod: 1000,
  });
}

function publish(client, topic, payload, retain) {
  const body = payload === null ? '' : JSON.stringify(payload);
  return client.publishAsync(topic, body, { qos: 1, retain });
}

/**
 * The status of an app, db or service (team/<team>/<kind>/<uuid>/status,
 * retained): fields are status (required), old_status, reason, name.
 */
export function publishStatus(client, team, kind, uuid, fields) {
  if (!['app', 'db', 'service'].includes(kind)) throw new TypeError(`kind must be app, db or service, not ${kind}`);
  return publish(client, `team/${team}/${kind}/${uuid}/status`, { ts: now(), ...fields }, true);
}

/** The resource is gone: an empty retained publish, a `deleted` event for browsers. */
export function publishDeleted(client, team, kind, uuid) {
  return publish(client, `team/${team}/${kind}/${uuid}/status`, null, true);
}

/**
 * A deployment's status (team/<team>/deploy/<uuid>/status, retained):
 * status and progress (0-100) required; step, step_index, total_steps,
 * commit, triggered_by, app, started_at, finished_at optional.
 */
export function publishDeployStatus(client, team, deploy, fields) {
  return publish(client, `team/${team}/deploy/${deploy}/status`, { ts: now(), ...fields }, true);
}

/**
 * A deployment's log (deploy/<uuid>/logs, not retained): write() numbers
 * the lines from 1 with no holes, as browsers resume by that number.
 */
export function deployLog(client, deploy) {
  let seq = 0;
  return {
    get seq() { return seq; },
    write(msg, { level = 'info', stream = 'stdout' } = {}) {
      seq += 1;
      return publish(client, `deploy/${deploy}/logs`, { seq, ts: now(), level, stream, msg }, false);
    },
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The demo: an app that starts, a deployment of it with a few log lines. */
export async function demo(client, { team = '42', intervalMs = 300 } = {}) {
  const app = crypto.randomUUID();
  const deploy = crypto.randomUUID();
  await publishStatus(client, team, 'app', app, { status: 'starting', name: 'api' });
  const steps = ['Cloning repository', 'Installing dependencies', 'Building image', 'Starting containers'];
  await publishDeployStatus(client, team, deploy, { status: 'running', progress: 0, app, step: steps[0], step_index: 0, total_steps: steps.length, started_at: now() });
  const log = deployLog(client, deploy);
  for (const [i, step] of steps.entries()) {
    await publishDeployStatus(client, team, deploy, {
      status: 'running', progress: Math.round((100 * i) / steps.length), app, step, step_index: i, total_steps: steps.length,
    });
    await log.write(`==> ${step}`);
    await log.write(`${step}: done`, { stream: i === 2 ? 'stderr' : 'stdout' });
    await sleep(intervalMs);
  }
  await publishStatus(client, team, 'app', app, { status: 'running', old_status: 'starting', name: 'api' });
  await publishDeployStatus(client, team, deploy, { status: 'finished', old_status: 'running', progress: 100, app, finished_at: now() });
  return { team, app, deploy, lines: log.seq };
}

async function main() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: process.env.STATUSBUS_MQTT_URL || 'mqtt://127.0.0.1:1883' },
      team: { type: 'string', default: '42' },
      username: { type: 'string', default: process.env.STATUSBUS_USERNAME },
      'password-file': { type: 'string', default: process.env.STATUSBUS_PASSWORD_FILE },
      'interval-ms': { type: 'string', default: '300' },
    },
  });
  // a password file, not a flag: the secret stays out of `ps`
  const password = values['password-file'] ? fs.readFileSync(values['password-file'], 'utf8').split('\n')[0] : undefined;
  const client = await connect(values.url, { username: values.username, password });
  try {
    const result = await demo(client, { team: values.team, intervalMs: Number(values['interval-ms']) });
    console.log(JSON.stringify(result));
  } finally {
    await client.endAsync();
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`statusbus-node-publisher: ${e.message}`);
    process.exit(1);
  });
}
