// SPDX-License-Identifier: MIT
// A pusher-js client (the real Node build from tests/node_modules) driven by
// tests/integration/test_pusher.py: commands come as JSON lines on stdin,
// everything the client sees goes out as JSON lines on stdout.
//
//   node client.mjs '{"key":"k","secret":"s","port":8080,"activityTimeout":120000}'
//
//   (with "authEndpoint":"http://…/broadcasting/auth","authHeaders":{…} private
//   channels are authorized by that endpoint instead of in this process)
//
// stdin:  {"cmd":"subscribe","channel":"private-team.42"}
//         {"cmd":"subscribe","channel":"private-team.42","secret":"wrong"}  sign with another secret
//         {"cmd":"unsubscribe","channel":"..."}
//         {"cmd":"trigger","channel":"...","event":"client-x","data":{...}}
//         {"cmd":"disconnect"}
// stdout: {"type":"state","previous":"connecting","current":"connected","socket_id":"1.2"}
//         {"type":"auth","channel":"...","socket_id":"..."}        the authorizer was asked
//         {"type":"event","channel":"...","event":"app.status","data":{...}}
//         {"type":"error","error":{...}}                            connection errors
//         {"type":"ready"}
//
// The authorizer computes what an app backend's /broadcasting/auth returns:
// "<key>:" + hex(HMAC-SHA256(secret, "<socket_id>:<channel>")).

import crypto from 'node:crypto';
import readline from 'node:readline';
import Pusher from 'pusher-js';

const opts = JSON.parse(process.argv[2] || '{}');
const secrets = new Map();   // channel -> secret to sign with (default opts.secret)

function out(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function sign(secret, socketId, channel) {
  return crypto.createHmac('sha256', secret).update(`${socketId}:${channel}`).digest('hex');
}

const options = {
  wsHost: '127.0.0.1',
  wsPort: opts.port,
  forceTLS: false,
  enabledTransports: ['ws'],
  cluster: '',
  disableStats: true,
  activityTimeout: opts.activityTimeout || 120000,
};
if (opts.authEndpoint) {
  // the app backend's endpoint (examples/pusher-auth), as Laravel Echo uses it
  options.channelAuthorization = { endpoint: opts.authEndpoint, transport: 'ajax', headers: opts.authHeaders || {} };
} else {
  options.authorizer = (channel) => ({
    authorize: (socketId, callback) => {
      out({ type: 'auth', channel: channel.name, socket_id: socketId });
      const secret = secrets.get(channel.name) ?? opts.secret;
      callback(null, { auth: `${opts.key}:${sign(secret, socketId, channel.name)}` });
    },
  });
}
const pusher = new Pusher(opts.key, options);

pusher.connection.bind('state_change', (s) => {
  out({ type: 'state', previous: s.previous, current: s.current, socket_id: pusher.connection.socket_id });
});
pusher.connection.bind('error', (e) => {
  out({ type: 'error', error: JSON.parse(JSON.stringify(e, (k, v) => (v instanceof Error ? String(v) : v))) });
});

function subscribe(name) {
  const ch = pusher.subscribe(name);
  ch.bind_global((event, data) => out({ type: 'event', channel: name, event, data }));
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const c = JSON.parse(line);
  if (c.cmd === 'subscribe') {
    if (c.secret) secrets.set(c.channel, c.secret);
    subscribe(c.channel);
  } else if (c.cmd === 'unsubscribe') {
    pusher.unsubscribe(c.channel);
  } else if (c.cmd === 'trigger') {
    out({ type: 'triggered', ok: pusher.channel(c.channel).trigger(c.event, c.data) });
  } else if (c.cmd === 'disconnect') {
    pusher.disconnect();
    setTimeout(() => process.exit(0), 100);
  }
});
rl.on('close', () => {
  pusher.disconnect();
  setTimeout(() => process.exit(0), 100);
});
out({ type: 'ready' });
