#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// A Node backend publishing through the bridge's Pusher HTTP API with the
// official `pusher` server SDK (docs/pusher.md, "The HTTP API"): what a
// Laravel app's `pusher` broadcaster does, from JavaScript.  The bridge
// checks the request's signature (pusher.key / pusher.secret of its
// config), publishes the event on the broker as pusher/<channel>/<event>,
// and every bridge of the fleet delivers it: to Pusher clients (pusher-js,
// Echo) with the event's own name and data, to statusbus.v1 clients as an
// `event` of that name.
//
//   node pusher-api.mjs --port 8080 --app-id 1 --key app-key --secret app-secret \
//        --channel private-team.42 --event order.shipped --data '{"id":5}'
//
// As a library:
//   import { backend, trigger } from './pusher-api.mjs';
//   const p = backend({ host: '127.0.0.1', port: 8080, appId: '1', key, secret });
//   await trigger(p, 'private-team.42', 'order.shipped', { id: 5 });                 // to everyone
//   await trigger(p, 'private-team.42', 'chat', msg, { socketId: sender });           // toOthers()

import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import Pusher from 'pusher';

/** A Pusher server SDK client pointed at the bridge. */
export function backend({ host = '127.0.0.1', port = 8080, appId, key, secret, useTLS = false }) {
  return new Pusher({ appId: String(appId), key, secret, host, port: String(port), useTLS });
}

/** Publishes one event; resolves with the bridge's answer, rejects with its
 *  error (status and body: Pusher's codes, e.g. 401 bad signature, 413 too
 *  large, 400 bad channel name). */
export async function trigger(pusher, channel, event, data, { socketId } = {}) {
  const r = await pusher.trigger(channel, event, data, socketId ? { socket_id: socketId } : {});
  return r.json();
}

/** Several events in one request (at most pusher.max_batch_events, 10). */
export async function triggerBatch(pusher, events) {
  const r = await pusher.triggerBatch(events);
  return r.json();
}

async function main() {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      'app-id': { type: 'string', default: process.env.PUSHER_APP_ID },
      key: { type: 'string', default: process.env.PUSHER_APP_KEY },
      secret: { type: 'string', default: process.env.PUSHER_APP_SECRET },
      channel: { type: 'string' },
      event: { type: 'string' },
      data: { type: 'string', default: '{}' },
      'socket-id': { type: 'string' },
    },
  });
  if (!values['app-id'] || !values.key || !values.secret || !values.channel || !values.event) {
    console.error('usage: pusher-api.mjs --app-id ID --key KEY --secret SECRET --channel C --event E [--data JSON] [--host H] [--port P] [--socket-id S]');
    process.exit(2);
  }
  const p = backend({ host: values.host, port: values.port, appId: values['app-id'], key: values.key, secret: values.secret });
  try {
    const out = await trigger(p, values.channel, values.event, JSON.parse(values.data), { socketId: values['socket-id'] });
    console.log(JSON.stringify({ ok: true, channel: values.channel, event: values.event, answer: out }));
  } catch (e) {
    // the SDK's RequestError carries the bridge's status and body
    console.error(`pusher-api: ${e.status || ''} ${e.body || e.message}`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
