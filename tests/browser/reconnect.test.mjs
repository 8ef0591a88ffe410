// SPDX-License-Identifier: MIT
// The dashboard when the bridge goes away and comes back: the indicator
// leaves green (yellow while reconnecting, red after repeated failures),
// turns green again when the bridge is back on the same port, statuses
// published meanwhile show up, and the open deploy log has no duplicated
// and no missing line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, dashboardUrl, uuid } from './stack.mjs';
import { skipReason, waitConn, logSeqs, waitLogCount, badgeSelector, statusPayload, logLine, range } from './helpers.mjs';

const skip = skipReason();

test('bridge stopped: indicator yellow then red; bridge back: green, statuses current, no duplicated log line', { skip }, async () => {
  await withStack('reconnect', async (stack) => {
    const app = uuid();
    const deploy = uuid();
    const logs = `deploy/${deploy}/logs`;
    stack.publish(`team/42/app/${app}/status`, statusPayload('running', { name: 'api' }), { retain: true });
    stack.publish(`team/42/deploy/${deploy}/status`, { ts: new Date().toISOString(), status: 'running', progress: 50, step: 'Build', app }, { retain: true });

    const page = stack.page = await stack.browser();
    await page.goto(dashboardUrl(stack.bridge));
    await waitConn(page, 'connected');
    await page.waitForSelector(badgeSelector(app, 'running'));
    await page.click(`li.deploy[data-uuid="${deploy}"] button`);
    await page.waitForSelector('#log-lines[data-subscribed="true"]', { timeout: 5000 });
    stack.publishLines(logs, range(1, 20).map((s) => logLine(s)));
    await waitLogCount(page, 20);

    // the bridge goes away (SIGTERM: it closes clients with 1001)
    await stack.bridge.stop();
    const seen = new Set();
    const watch = setInterval(async () => { seen.add(await page.getAttribute('#conn', 'data-state').catch(() => null)); }, 50);
    try {
      await waitConn(page, ['reconnecting'], 3000);
      assert.match(await page.textContent('#conn-text'), /Reconnecting/);
      // what is shown may be out of date: the cards are greyed under a banner
      assert.equal(await page.$eval('#main', (m) => m.classList.contains('stale')), true);
      assert.match(await page.textContent('#offline-banner'), /^Offline — reconnecting/);
      assert.equal(await page.isVisible('#offline-banner'), true);
      assert.equal(await page.$eval(`li[data-uuid="${app}"]`, (li) => getComputedStyle(li).filter), 'grayscale(1)');
      await waitConn(page, ['polling', 'offline'], 15_000);
      assert.match(await page.textContent('#conn-text'), /Offline/);
      await stack.screenshot(page, 'reconnect-offline');
    } finally {
      clearInterval(watch);
    }
    assert.ok(!seen.has('connected'), `never green while the bridge is down (saw ${[...seen]})`);

    // meanwhile the app changed state (retained in the broker)
    stack.publish(`team/42/app/${app}/status`, statusPayload('exited', { old_status: 'running', name: 'api' }), { retain: true });

    // the bridge comes back on the same port
    await stack.bridge.start();
    await waitConn(page, 'connected', 30_000);
    assert.equal(await page.textContent('#conn-text'), 'Live');
    assert.equal(await page.$eval('#main', (m) => m.classList.contains('stale')), false);
    assert.equal(await page.isVisible('#offline-banner'), false);
    await page.waitForSelector(badgeSelector(app, 'exited'), { timeout: 5000 });
    await page.waitForSelector('#log-lines[data-subscribed="true"]', { timeout: 5000 });

    // the log goes on after the reconnect: lines once each, in order
    stack.publishLines(logs, range(21, 40).map((s) => logLine(s)));
    await waitLogCount(page, 40);
    await stack.screenshot(page, 'reconnect-back');
    assert.deepEqual(await logSeqs(page), range(1, 40));
  });
});
