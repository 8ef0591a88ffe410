// SPDX-License-Identifier: MIT
// Laravel Echo + pusher-js in headless Chromium against the bridge's Pusher
// endpoint (docs/protocol.md §9), the way a Laravel frontend uses it:
// Echo.private('team.42') authorized by the app backend's
// /broadcasting/auth (examples/pusher-auth/server.py, proxied same-origin
// like a Laravel app serves it), Echo.channel('public.acme') without auth,
// a channel the backend refuses, Echo.private('cache-team.42') getting the
// last status at once, and statuses published with mosquitto_pub showing up
// in the page.  Then the Laravel backend's side: events published with the
// official `pusher` server SDK through the bridge's HTTP API reach Echo
// listeners, and socket_id (Laravel's toOthers()) skips the sender's tab.
//
// No bundler: both libraries ship browser builds (pusher-js
// dist/web/pusher.js sets window.Pusher; laravel-echo dist/echo.iife.js sets
// window.Echo), served from tests/node_modules by a small HTTP server that
// also serves the page.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { withStack, uuid, freePort, portOpen, waitFor, Proc, SOURCE_DIR, shippedConfig } from './stack.mjs';
import { skipReason, statusPayload } from './helpers.mjs';

const skip = skipReason();
const KEY = 'k';
const SECRET = 's';
const MODULES = path.join(SOURCE_DIR, 'tests', 'node_modules');
const FILES = {
  '/pusher.js': path.join(MODULES, 'pusher-js', 'dist', 'web', 'pusher.js'),
  '/echo.iife.js': path.join(MODULES, 'laravel-echo', 'dist', 'echo.iife.js'),
};

function page(bridgePort, user = 'alice') {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Echo on statusbus</title>
<script src="/pusher.js"></script>
<script src="/echo.iife.js"></script>
</head><body data-state="new">
<ul id="events"></ul><ul id="errors"></ul><p id="members"></p><ul id="presence"></ul>
<script>
  const echo = new Echo.default({
    broadcaster: 'pusher',
    key: ${JSON.stringify(KEY)},
    wsHost: '127.0.0.1',
    wsPort: ${bridgePort},
    forceTLS: false,
    enabledTransports: ['ws', 'wss'],
    cluster: '',
    disableStats: true,
    authEndpoint: '/broadcasting/auth',
    auth: { headers: { Authorization: 'Bearer ' + ${JSON.stringify(user)} } },   // the demo backend's login
  });
  echo.connector.pusher.connection.bind('state_change', (s) => { document.body.dataset.state = s.current; });
  function show(channel, event) {
    return (e) => {
      const li = document.createElement('li');
      li.dataset.channel = channel;
      li.dataset.event = event;
      li.dataset.topic = e.topic;
      li.dataset.status = e.data && e.data.status;
      li.textContent = channel + ' ' + event + ' ' + e.topic + ' ' + (e.data && e.data.status);
      document.getElementById('events').appendChild(li);
    };
  }
  function failed(channel) {
    return (err) => {
      const li = document.createElement('li');
      li.dataset.channel = channel;
      li.dataset.status = err && err.status;
      li.textContent = channel + ' ' + JSON.stringify(err);
      document.getElementById('errors').appendChild(li);
    };
  }
  // Echo.join: the member list in #members, joins and leaves in #presence
  window.join = (name) => {
    const members = new Map();
    const render = () => {
      document.getElementById('members').textContent = [...members.keys()].sort().join(',');
    };
    const note = (what, u) => {
      const li = document.createElement('li');
      li.dataset.what = what;
      li.dataset.user = u.id;
      li.textContent = what + ' ' + u.id + ' ' + u.name;
      document.getElementById('presence').appendChild(li);
    };
    echo.join(name)
      .here((users) => { users.forEach((u) => members.set(String(u.id), u)); render(); document.body.dataset.here = 'yes'; })
      .joining((u) => { members.set(String(u.id), u); render(); note('joining', u); })
      .leaving((u) => { members.delete(String(u.id)); render(); note('leaving', u); })
      .listen('.witness', show(name, '.witness'))
      .error(failed(name));
  };
  window.follow = (kind, name, event) => {
    const ch = kind === 'private' ? echo.private(name) : echo.channel(name);
    ch.listen(event, show(name, event)).error(failed(name));
    ch.subscribed(() => { document.body.dataset['sub_' + name.replace(/[^a-z0-9]/gi, '_')] = 'yes'; });
  };
</script></body></html>`;
}

/** The page and the two libraries; /broadcasting/auth goes to the example backend. */
function startWeb(bridgePort, authPort) {
  const server = http.createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/broadcasting/auth') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const r = await fetch(`http://127.0.0.1:${authPort}/broadcasting/auth`, {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] || '', authorization: req.headers.authorization || '' },
        body: Buffer.concat(chunks),
      });
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(Buffer.from(await r.arrayBuffer()));
      return;
    }
    if (FILES[req.url]) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      fs.createReadStream(FILES[req.url]).pipe(res);
      return;
    }
    if (req.url === '/' || req.url.startsWith('/?as=')) {
      // /?as=bob: the page of another logged-in user
      const as = new URL(req.url, 'http://x').searchParams.get('as') || 'alice';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page(bridgePort, as));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function eventSelector(channel, topic, status) {
  return `#events li[data-channel="${channel}"][data-topic="${topic}"][data-status="${status}"]`;
}

test('Laravel Echo: private channel through /broadcasting/auth, public channel, refused channel, live statuses', { skip }, async (t) => {
  for (const f of Object.values(FILES)) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing (cd tests && npm ci)`);
  }
  await withStack('echo', async (stack) => {
    const authPort = await freePort();
    const auth = new Proc('pusher-auth', ['python3', path.join(SOURCE_DIR, 'examples', 'pusher-auth', 'server.py'),
      '--key', KEY, '--secret', SECRET, '--port', String(authPort), '--users', JSON.stringify({ alice: ['42'] })], stack.workdir);
    stack.procs.push(auth);
    await waitFor(async () => (await portOpen(authPort)) || !auth.alive(), { timeout: 10_000, what: 'pusher-auth port' });
    assert.ok(auth.alive(), `pusher-auth exited:\n${auth.output()}`);
    const web = await startWeb(stack.bridge.port, authPort);
    try {
      const a1 = uuid();
      const a2 = uuid();
      const p = stack.page = await stack.browser();
      await p.goto(`http://127.0.0.1:${web.address().port}/`);
      await p.waitForFunction(() => document.body.dataset.state === 'connected', null, { timeout: 15_000 });

      await p.evaluate(() => {
        window.follow('private', 'team.42', '.app.status');
        window.follow('private', 'team.43', '.app.status');
        window.follow('public', 'public.acme', '.public.status');
      });
      await p.waitForFunction(() => document.body.dataset.sub_team_42 === 'yes' && document.body.dataset.sub_public_acme === 'yes',
        null, { timeout: 10_000 });
      // the backend says alice is not in team 43: Echo's error callback gets the 403
      await p.waitForSelector('#errors li[data-channel="team.43"][data-status="403"]', { timeout: 10_000 });

      stack.publish(`team/42/app/${a1}/status`, statusPayload('running'), { retain: true });
      stack.publish(`team/43/app/${a2}/status`, statusPayload('running'), { retain: true });
      stack.publish('public/acme/status', { ts: new Date().toISOString(), status: 'operational', components: [] }, { retain: true });
      await p.waitForSelector(eventSelector('team.42', `team/42/app/${a1}/status`, 'running'), { timeout: 10_000 });
      await p.waitForSelector(eventSelector('public.acme', 'public/acme/status', 'operational'), { timeout: 10_000 });
      stack.publish(`team/42/app/${a1}/status`, statusPayload('stopped', { old_status: 'running' }), { retain: true });
      await p.waitForSelector(eventSelector('team.42', `team/42/app/${a1}/status`, 'stopped'), { timeout: 10_000 });
      // another tab: Echo.private('cache-team.42') is private-cache-team.42,
      // which gets the last status right after the subscription
      const p2 = await stack.browserContext.newPage();
      await p2.goto(`http://127.0.0.1:${web.address().port}/`);
      await p2.waitForFunction(() => document.body.dataset.state === 'connected', null, { timeout: 15_000 });
      await p2.evaluate(() => window.follow('private', 'cache-team.42', '.app.status'));
      await p2.waitForSelector(eventSelector('cache-team.42', `team/42/app/${a1}/status`, 'stopped'),
        { timeout: 10_000 });
      await stack.screenshot(p, 'echo');
      // nothing of team 43 reached the page
      assert.equal(await p.$$eval(`#events li[data-topic="team/43/app/${a2}/status"]`, (els) => els.length), 0);
    } finally {
      await new Promise((r) => web.close(r));
    }
  }, { overrides: { pusher: { app_id: '1', key: KEY, secret: SECRET } } });
});

test('Laravel Echo: events from the pusher server SDK through the HTTP API, toOthers() skips the sender', { skip }, async () => {
  const PusherServer = createRequire(import.meta.url)(path.join(MODULES, 'pusher'));
  await withStack('echo-api', async (stack) => {
    const authPort = await freePort();
    const auth = new Proc('pusher-auth', ['python3', path.join(SOURCE_DIR, 'examples', 'pusher-auth', 'server.py'),
      '--key', KEY, '--secret', SECRET, '--port', String(authPort), '--users', JSON.stringify({ alice: ['42'] })], stack.workdir);
    stack.procs.push(auth);
    await waitFor(async () => (await portOpen(authPort)) || !auth.alive(), { timeout: 10_000, what: 'pusher-auth port' });
    const web = await startWeb(stack.bridge.port, authPort);
    const backend = new PusherServer({ appId: '1', key: KEY, secret: SECRET, host: '127.0.0.1',
      port: String(stack.bridge.port), useTLS: false });
    try {
      const tabs = [];
      stack.page = await stack.browser();
      tabs.push(stack.page, await stack.browserContext.newPage());
      for (const p of tabs) {
        await p.goto(`http://127.0.0.1:${web.address().port}/`);
        await p.waitForFunction(() => document.body.dataset.state === 'connected', null, { timeout: 15_000 });
        await p.evaluate(() => window.follow('private', 'team.42', '.order.shipped'));
        await p.waitForFunction(() => document.body.dataset.sub_team_42 === 'yes', null, { timeout: 10_000 });
      }
      // the page shows e.topic and e.data.status: the event's data carries both
      const sender = await tabs[0].evaluate(() => echo.socketId());
      await backend.trigger('private-team.42', 'order.shipped', { topic: 'orders/5', data: { status: 'to-others' } },
        { socket_id: sender });
      await backend.trigger('private-team.42', 'order.shipped', { topic: 'orders/5', data: { status: 'to-all' } });
      await tabs[1].waitForSelector(eventSelector('team.42', 'orders/5', 'to-others'), { timeout: 10_000 });
      for (const p of tabs) await p.waitForSelector(eventSelector('team.42', 'orders/5', 'to-all'), { timeout: 10_000 });
      assert.equal(await tabs[0].$$eval(eventSelector('team.42', 'orders/5', 'to-others'), (els) => els.length), 0);
      await stack.screenshot(tabs[1], 'echo-api');
    } finally {
      await new Promise((r) => web.close(r));
    }
  }, { overrides: { pusher: { app_id: '1', key: KEY, secret: SECRET } } });
});

// Echo.join('room.42'): presence through the example backend's
// /broadcasting/auth (channel_data signed with the member), as a Laravel
// app's presence channel works: here() lists who is in, joining() and
// leaving() follow a second user; the same user's second tab is not a new
// member, and only its last tab leaving makes it leave.
test('Laravel Echo: join() here/joining/leaving on a presence channel', { skip }, async () => {
  const PusherServer = createRequire(import.meta.url)(path.join(MODULES, 'pusher'));
  await withStack('echo-presence', async (stack) => {
    const authPort = await freePort();
    const auth = new Proc('pusher-auth', ['python3', path.join(SOURCE_DIR, 'examples', 'pusher-auth', 'server.py'),
      '--key', KEY, '--secret', SECRET, '--port', String(authPort),
      '--users', JSON.stringify({ alice: ['42'], bob: ['42'], carol: ['43'] }),
      '--names', JSON.stringify({ alice: 'Alice', bob: 'Bob' })], stack.workdir);
    stack.procs.push(auth);
    await waitFor(async () => (await portOpen(authPort)) || !auth.alive(), { timeout: 10_000, what: 'pusher-auth port' });
    const web = await startWeb(stack.bridge.port, authPort);
    const url = (as) => `http://127.0.0.1:${web.address().port}/?as=${as}`;
    const open = async (as) => {
      const p = await stack.browserContext.newPage();
      await p.goto(url(as));
      await p.waitForFunction(() => document.body.dataset.state === 'connected', null, { timeout: 15_000 });
      await p.evaluate(() => window.join('room.42'));
      return p;
    };
    const members = (p) => p.textContent('#members');
    try {
      const alice = stack.page = await stack.browser();
      await alice.goto(url('alice'));
      await alice.waitForFunction(() => document.body.dataset.state === 'connected', null, { timeout: 15_000 });
      await alice.evaluate(() => window.join('room.42'));
      await alice.waitForFunction(() => document.body.dataset.here === 'yes', null, { timeout: 10_000 });
      assert.equal(await members(alice), 'alice');

      const bob = await open('bob');
      await bob.waitForFunction(() => document.body.dataset.here === 'yes', null, { timeout: 10_000 });
      assert.equal(await members(bob), 'alice,bob', 'here() lists who is in, the joiner too');
      await alice.waitForSelector('#presence li[data-what="joining"][data-user="bob"]', { timeout: 10_000 });
      assert.match(await alice.textContent('#presence li[data-user="bob"]'), /joining bob Bob/);
      assert.equal(await members(alice), 'alice,bob');

      // bob's second tab: already a member, nobody is told
      const bob2 = await open('bob');
      await bob2.waitForFunction(() => document.body.dataset.here === 'yes', null, { timeout: 10_000 });
      // carol is not in team 43's room... nor allowed in 42's: refused by the backend
      const carol = await open('carol');
      await carol.waitForSelector('#errors li[data-channel="room.42"][data-status="403"]', { timeout: 10_000 });
      // one of bob's tabs closes: bob is still a member.  Once the bridge
      // counts one subscription less, an event sent through the HTTP API
      // reaches alice after anything the close could have caused
      const backend = new PusherServer({ appId: '1', key: KEY, secret: SECRET, host: '127.0.0.1',
        port: String(stack.bridge.port), useTLS: false });
      const subs = async () => (await (await backend.get({ path: '/channels/presence-room.42',
        params: { info: 'subscription_count' } })).json()).subscription_count;
      assert.equal(await subs(), 3);
      await bob.close();
      await waitFor(async () => (await subs()) === 2, { timeout: 10_000, what: "bob's first tab gone" });
      await backend.trigger('presence-room.42', 'witness', { topic: 'w', data: { status: 'after-tab-1' } });
      await alice.waitForSelector(eventSelector('room.42', 'w', 'after-tab-1'), { timeout: 10_000 });
      assert.equal(await alice.$$eval('#presence li[data-what="leaving"]', (els) => els.length), 0,
        'a user with a tab left is still a member');
      assert.equal(await members(alice), 'alice,bob');
      await bob2.close();
      await alice.waitForSelector('#presence li[data-what="leaving"][data-user="bob"]', { timeout: 10_000 });
      assert.equal(await alice.$$eval('#presence li[data-user="bob"]', (els) => els.map((e) => e.dataset.what).join()),
        'joining,leaving', 'one join and one leave for two tabs');
      assert.equal(await members(alice), 'alice');
      await stack.screenshot(alice, 'echo-presence');
    } finally {
      await new Promise((r) => web.close(r));
    }
  }, { overrides: { pusher: { app_id: '1', key: KEY, secret: SECRET }, channels: presenceChannels() } });
});

/** The shipped channel map plus the presence room of a team (docs/pusher.md). */
function presenceChannels() {
  return [...shippedConfig().channels, {
    name: 'room.{team}', topics: ['team/{team}/incident/+'], acl: 'team',
    delivery: { mode: 'immediate' }, presence: true,
  }];
}
