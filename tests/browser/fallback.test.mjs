// SPDX-License-Identifier: MIT
// The dashboard when WebSockets cannot get through but HTTP can (a proxy
// that refuses the upgrade): the page's WebSocket to /v1/ws is refused
// (playwright routeWebSocket closes it without reaching the bridge), the
// indicator turns red "polling", and statuses and log lines still arrive
// through GET /v1/snapshot and /v1/history on the real bridge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, dashboardUrl, uuid } from './stack.mjs';
import { skipReason, waitConn, logSeqs, waitLogCount, badgeSelector, statusPayload, logLine, range } from './helpers.mjs';

const skip = skipReason();

test('WebSocket refused, HTTP works: red "polling" indicator and statuses and logs stay current', { skip }, async () => {
  await withStack('fallback', async (stack) => {
    const app = uuid();
    const deploy = uuid();
    stack.publish(`team/42/app/${app}/status`, statusPayload('running', { name: 'api' }), { retain: true });
    stack.publish(`team/42/deploy/${deploy}/status`, { ts: new Date().toISOString(), status: 'running', progress: 30, step: 'Test', app }, { retain: true });

    const page = stack.page = await stack.browser();
    let refused = 0;
    let refuse = true;
    await page.routeWebSocket(/\/v1\/ws$/, (ws) => {
      if (!refuse) { ws.connectToServer(); return; }   // pass-through, messages forwarded both ways
      refused++;
      ws.close({ code: 1011, reason: 'refused by test proxy' });
    });
    await page.goto(dashboardUrl(stack.bridge));

    // three refused attempts (1 s + 2 s apart), then polling
    await waitConn(page, 'polling', 15_000);
    assert.ok(refused >= 3, `WebSocket attempts: ${refused}`);
    assert.match(await page.textContent('#conn-text'), /polling/);
    // the first snapshot of a channel nobody follows yet is incomplete ("live": false);
    // the bridge starts following it and the next one (5 s later) has everything
    await page.waitForSelector(badgeSelector(app, 'running'), { timeout: 12_000 });

    // a change arrives with the next snapshot (every 5 s)
    stack.publish(`team/42/app/${app}/status`, statusPayload('restarting', { old_status: 'running', name: 'api' }), { retain: true });
    await page.waitForSelector(badgeSelector(app, 'restarting'), { timeout: 8000 });

    // the deploy log comes from /v1/history (every 2 s), in order.  The first
    // history request makes the bridge follow the channel; lines published
    // before that are in no history, so publish after the second answer.
    let answers = 0;
    const twoAnswers = page.waitForResponse((r) => r.url().includes('/v1/history?') && r.status() === 200 && ++answers === 2, { timeout: 10_000 });
    await page.click(`li.deploy[data-uuid="${deploy}"] button`);
    await twoAnswers;
    stack.publishLines(`deploy/${deploy}/logs`, range(1, 30).map((s) => logLine(s)));
    await waitLogCount(page, 30, 10_000);
    assert.deepEqual(await logSeqs(page), range(1, 30));
    stack.publishLines(`deploy/${deploy}/logs`, range(31, 40).map((s) => logLine(s)));
    await waitLogCount(page, 40, 6000);
    assert.deepEqual(await logSeqs(page), range(1, 40));
    assert.equal(await page.getAttribute('#conn', 'data-state'), 'polling', 'still polling: the WebSocket never got through');
    await stack.screenshot(page, 'fallback-polling');

    // the proxy lets WebSockets through again: back to live within one backoff period (≤ 16 s + jitter)
    refuse = false;
    await waitConn(page, 'connected', 25_000);
    stack.publishLines(`deploy/${deploy}/logs`, range(41, 45).map((s) => logLine(s)));
    await waitLogCount(page, 45, 5000);
    assert.deepEqual(await logSeqs(page), range(1, 45), 'no duplicate and no hole across the switch');
  });
});
