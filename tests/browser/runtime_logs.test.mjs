// SPDX-License-Identifier: MIT
// The live runtime log of an app, a database or a service, opened from its
// card on the example dashboard, against a real mosquitto and a real
// statusbus-bridge, in headless chromium: the lines its agent publishes on
// team/<t>/<kind>/<uuid>/logs show in the log viewer in order, lines under
// another team's prefix for the same uuid never do, and switching to
// another resource's log starts the viewer afresh.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, dashboardUrl, uuid } from './stack.mjs';
import { skipReason, waitConn, logSeqs, waitLogCount, badgeSelector, statusPayload, logLine, range } from './helpers.mjs';

const skip = skipReason();

function logsButton(kind, id) {
  return `li.res[data-kind="${kind}"][data-uuid="${id}"] button.res-logs`;
}

test('an app\'s live log opens from its card; only its owner\'s lines show; a database\'s log replaces it', { skip }, async () => {
  await withStack('runtime-log', async (stack) => {
    const app = uuid();
    const db = uuid();
    stack.publish(`team/42/app/${app}/status`, statusPayload('running', { name: 'web-frontend' }), { retain: true });
    stack.publish(`team/42/db/${db}/status`, statusPayload('running', { name: 'postgres-main' }), { retain: true });

    const page = stack.page = await stack.browser();
    await page.goto(dashboardUrl(stack.bridge));
    await waitConn(page, 'connected');
    await page.waitForSelector(badgeSelector(app, 'running'), { timeout: 5000 });
    assert.equal(await page.isVisible('#logview'), false);
    assert.equal(await page.getAttribute(logsButton('app', app), 'aria-label'), 'Open the live log of web-frontend');

    await page.click(logsButton('app', app));
    await page.waitForSelector('#log-lines[data-subscribed="true"]', { timeout: 5000 });
    assert.equal(await page.textContent('#log-kind'), 'Application log');
    assert.equal(await page.textContent('#log-name'), 'web-frontend');
    assert.equal(await page.getAttribute('#logview', 'data-channel'), `app.${app}.logs`);
    assert.equal(await page.getAttribute(logsButton('app', app), 'aria-pressed'), 'true');

    const topic = `team/42/app/${app}/logs`;
    const line = (s) => logLine(s, { msg: `GET /health 200 (${s})` });
    stack.publishLines(topic, range(1, 10).map(line));
    // another team's agent writing under its own prefix for this uuid
    stack.publishLines(`team/43/app/${app}/logs`, range(11, 15).map((s) => logLine(s, { msg: 'forged line' })));
    stack.publishLines(topic, range(11, 20).map(line));
    await waitLogCount(page, 20);
    assert.deepEqual(await logSeqs(page), range(1, 20), 'in order, no gap, nothing foreign');
    assert.doesNotMatch(await page.textContent('#log-lines'), /forged/);
    assert.match(await page.textContent('#log-lines .line:last-child'), /GET \/health 200 \(20\)/);
    await stack.screenshot(page, 'runtime-log-app');

    // the database's log: the viewer starts afresh on its channel
    await page.click(logsButton('db', db));
    await page.waitForSelector('#log-lines[data-subscribed="true"]', { timeout: 5000 });
    assert.equal(await page.textContent('#log-kind'), 'Database log');
    assert.equal(await page.textContent('#log-name'), 'postgres-main');
    assert.equal(await page.getAttribute(logsButton('app', app), 'aria-pressed'), null);
    assert.deepEqual(await logSeqs(page), []);
    // a runtime log opens live, like tail -f: a stream that began long ago
    // shows from the first line that comes, with no "missing" marker
    stack.publishLines(`team/42/db/${db}/logs`, range(500, 504).map((s) => logLine(s, { msg: `checkpoint ${s}` })));
    stack.publishLines(topic, range(21, 25).map(line));   // the app's, no longer shown
    await waitLogCount(page, 5);
    assert.deepEqual(await logSeqs(page), range(500, 504));

    // closing gives the focus back to the button that opened it
    await page.click('#log-close');
    assert.equal(await page.isVisible('#logview'), false);
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('res-logs') &&
      document.activeElement.closest('li').dataset.kind), 'db');
  });
});

// listen.compression "logs": Chromium offers permessage-deflate, the
// bridge sends the log batches compressed (once for every compressed
// viewer) and the viewer shows every line as without it.
test('a runtime log reaches Chromium compressed (permessage-deflate) and reads the same', { skip }, async () => {
  await withStack('runtime-log-deflate', async (stack) => {
    const app = uuid();
    stack.publish(`team/42/app/${app}/status`, statusPayload('running', { name: 'api' }), { retain: true });
    const page = stack.page = await stack.browser();
    await page.goto(dashboardUrl(stack.bridge));
    await waitConn(page, 'connected');
    await page.waitForSelector(badgeSelector(app, 'running'), { timeout: 5000 });
    const metric = async (name) => {
      const text = await (await fetch(`${stack.bridge.http}/metrics`)).text();
      const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
      assert.ok(m, `${name} in /metrics`);
      return Number(m[1]);
    };
    assert.equal(await metric('statusbus_ws_compressed_connections'), 1, 'Chromium negotiated it');

    await page.click(logsButton('app', app));
    await page.waitForSelector('#log-lines[data-subscribed="true"]', { timeout: 5000 });
    // lines long enough that every batch is over compression_min_bytes
    const line = (s) => logLine(s, { msg: `GET /api/orders?page=${s} 200 ${'x'.repeat(600)}` });
    stack.publishLines(`team/42/app/${app}/logs`, range(1, 40).map(line));
    await waitLogCount(page, 40);
    assert.deepEqual(await logSeqs(page), range(1, 40), 'in order, no gap');
    assert.match(await page.textContent('#log-lines .line:last-child'), /page=40 200 x{600}/);
    assert.ok(await metric('statusbus_ws_deflate_frames_sent_total') >= 1, 'batches went compressed');
    assert.ok(await metric('statusbus_ws_deflate_output_bytes_total') <
              await metric('statusbus_ws_deflate_input_bytes_total'));
  }, { overrides: { listen: { compression: 'logs' } } });
});
