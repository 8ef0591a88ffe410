// SPDX-License-Identifier: MIT
// @statusbus/react with real React in Chromium against the real bridge:
// react-app/app.jsx (StrictMode) bundled by esbuild from the sources and
// served by the bridge.  Connection state; a team's statuses live, a
// deletion; a deploy log with pause/resume, a gap, maxLines; a bridge
// restart (reconnect, resume without a duplicate); and every subscription
// and the socket gone on the bridge once the components unmount.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withStack, uuid, waitFor, SOURCE_DIR } from './stack.mjs';
import { skipReason, statusPayload, logLine, range } from './helpers.mjs';

const skip = skipReason();
const here = path.dirname(fileURLToPath(import.meta.url));

/** Builds react-app into a fresh directory the bridge will serve: index.html + app.js. */
async function buildApp() {
  const { build } = await import('esbuild');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbreact-app-'));
  fs.copyFileSync(path.join(here, 'react-app', 'index.html'), path.join(dir, 'index.html'));
  await build({
    entryPoints: [path.join(here, 'react-app', 'app.jsx')],
    outfile: path.join(dir, 'app.js'),
    bundle: true,
    format: 'esm',
    jsx: 'automatic',
    // the packages' sources, as the package tests' tarballs hold them
    alias: {
      statusbus: path.join(SOURCE_DIR, 'clients', 'js', 'statusbus.js'),
      '@statusbus/react': path.join(SOURCE_DIR, 'clients', 'react', 'src', 'index.js'),
    },
    // react for clients/react/src, which has no node_modules of its own
    nodePaths: [path.join(SOURCE_DIR, 'tests', 'node_modules')],
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'warning',
  });
  return dir;
}

async function metric(bridge, name) {
  const text = await (await fetch(`${bridge.http}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)`, 'm'));
  return m ? Number(m[1]) : null;
}

function waitMetric(bridge, name, value) {
  return waitFor(async () => (await metric(bridge, name)) === value, { what: `${name} = ${value}` });
}

/** What #lines shows: seq numbers, and gap:<from>-<to> markers. */
function shown(page) {
  return page.$$eval('#lines > *', (els) => els.map((e) => (e.classList.contains('gap') ? `gap:${e.dataset.from}-${e.dataset.to}` : Number(e.dataset.seq))));
}

async function waitShown(page, want) {
  await waitFor(async () => JSON.stringify(await shown(page)) === JSON.stringify(want), { what: `log view ${JSON.stringify(want)}` })
    .catch(async (e) => { throw new Error(`${e.message}; shown: ${JSON.stringify(await shown(page))}`); });
}

test('hooks in Chromium: statuses, deploy log (pause, gap, maxLines), reconnect, cleanup on unmount', { skip }, async () => {
  const appDir = await buildApp();
  try {
    await withStack('react', async (stack) => {
      const app = uuid();
      const db = uuid();
      const deploy = uuid();
      const appTopic = `team/42/app/${app}/status`;
      const dbTopic = `team/42/db/${db}/status`;
      const logs = `deploy/${deploy}/logs`;
      stack.publish(appTopic, statusPayload('running', { name: 'api' }), { retain: true });
      stack.publish(dbTopic, statusPayload('running', { name: 'pg' }), { retain: true });
      stack.publish(`team/42/deploy/${deploy}/status`, { ts: new Date().toISOString(), status: 'running', progress: 5, app }, { retain: true });

      const page = stack.page = await stack.browser();
      await page.goto(`${stack.bridge.http}/?team=42&deploy=${deploy}&max=15`);
      await page.waitForSelector('#conn[data-state="connected"]');
      await page.waitForSelector('#team[data-state="subscribed"]');
      await page.waitForSelector('#logs[data-state="subscribed"]');
      await page.waitForSelector(`li[data-topic="${appTopic}"][data-status="running"]`);
      await page.waitForSelector(`li[data-topic="${dbTopic}"][data-status="running"]`);
      // StrictMode subscribed, unsubscribed and subscribed again: two remain
      await waitMetric(stack.bridge, 'statusbus_subscriptions', 2);
      await waitMetric(stack.bridge, 'statusbus_connections', 1);

      // statuses live; a deletion removes the row
      stack.publish(appTopic, statusPayload('exited', { old_status: 'running', name: 'api' }), { retain: true });
      await page.waitForSelector(`li[data-topic="${appTopic}"][data-status="exited"]`);
      stack.publish(dbTopic, '', { retain: true });
      await page.waitForSelector(`li[data-topic="${dbTopic}"]`, { state: 'detached' });

      // the deploy log, then pause: new lines are buffered, resume appends them in order
      stack.publishLines(logs, range(1, 10).map((s) => logLine(s)));
      await waitShown(page, range(1, 10));
      await page.click('#pause');
      await page.waitForSelector('#logs[data-paused="true"]');
      stack.publishLines(logs, range(11, 14).map((s) => logLine(s)));
      await page.waitForSelector('#logs[data-buffered="4"]');
      assert.deepEqual(await shown(page), range(1, 10), 'nothing new while paused');
      await page.click('#pause');
      await waitShown(page, range(1, 14));

      // a jump in seq is a gap marker; past maxLines (15) the oldest lines go
      stack.publishLines(logs, [logLine(15), logLine(20)]);
      await waitShown(page, [...range(2, 15), 'gap:16-19', 20]);
      assert.equal(await page.getAttribute('#logs', 'data-dropped'), '1');
      await stack.screenshot(page, 'react-hooks');

      // the bridge restarts: reconnecting, then connected; the log resumes after 20, once each
      const beforeRestart = stack.consoleLines.length;
      await stack.bridge.stop();
      await page.waitForSelector('#conn:not([data-state="connected"])');
      await stack.bridge.start();
      await page.waitForSelector('#conn[data-state="connected"]', { timeout: 30_000 });
      // Chromium itself logs each refused reconnect attempt while the bridge is down
      // (not a page error, and no script can silence it): those lines, and only them, are expected here
      const refused = /^\[error\] WebSocket connection to '[^']*' failed: .*ERR_CONNECTION_REFUSED$/;
      const restartLines = stack.consoleLines.splice(beforeRestart);
      stack.consoleLines.push(...restartLines.filter((l) => !refused.test(l)));
      await page.waitForSelector('#logs[data-state="subscribed"]');
      await page.waitForSelector(`li[data-topic="${appTopic}"][data-status="exited"]`);
      await waitMetric(stack.bridge, 'statusbus_subscriptions', 2);
      stack.publishLines(logs, range(21, 25).map((s) => logLine(s)));
      await waitShown(page, [...range(7, 15), 'gap:16-19', ...range(20, 25)]);

      // unmounting the log unsubscribes its channel on the bridge; unmounting the app closes the socket
      await page.click('#toggle-logs');
      await page.waitForSelector('#logs', { state: 'detached' });
      await waitMetric(stack.bridge, 'statusbus_subscriptions', 1);
      await page.evaluate(() => window.unmountApp());
      await waitMetric(stack.bridge, 'statusbus_subscriptions', 0);
      await waitMetric(stack.bridge, 'statusbus_connections', 0);
      const errors = stack.consoleLines.filter((l) => l.startsWith('[error]') || l.startsWith('[pageerror]'));
      assert.deepEqual(errors, [], 'no React or page error');
    }, { overrides: { listen: { static_dir: appDir } } });
  } finally {
    fs.rmSync(appDir, { recursive: true, force: true });
  }
});
