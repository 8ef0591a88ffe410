// SPDX-License-Identifier: MIT
// The dashboard against a bridge that requires HS256 tokens: a valid token
// from the URL connects (and leaves the address bar), a team outside the
// token is refused visibly, and a rejected token brings the form back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withStack, dashboardUrl, uuid, mintToken } from './stack.mjs';
import { skipReason, waitConn, badgeSelector, statusPayload } from './helpers.mjs';

const skip = skipReason();
const SECRET = 'browser-test-secret-0123456789abcdef';

test('tokens: valid token connects, other team is refused, a bad token brings back the form', { skip }, async () => {
  await withStack('auth', async (stack) => {
    const app = uuid();
    stack.publish(`team/42/app/${app}/status`, statusPayload('running', { name: 'billing' }), { retain: true });
    const token = mintToken(SECRET, { sub: 'alice', teams: ['42'] });

    const page = stack.page = await stack.browser();
    await page.goto(dashboardUrl(stack.bridge, '42', `&token=${encodeURIComponent(token)}`));
    await waitConn(page, 'connected');
    await page.waitForSelector(badgeSelector(app, 'running'), { timeout: 5000 });
    assert.ok(!page.url().includes('token='), `token removed from the address bar: ${page.url()}`);

    // the stored token is reused; team 43 is not in it
    await page.goto(dashboardUrl(stack.bridge, '43'));
    await waitConn(page, 'connected');
    await page.waitForSelector('.alert', { timeout: 5000 });
    assert.match(await page.textContent('.alert'), /Cannot show team 43: forbidden/);

    // a token signed with another secret is rejected: offline, and the form asks for a new one
    const forged = mintToken('some-other-secret', { sub: 'mallory', teams: ['42'] });
    await page.goto(dashboardUrl(stack.bridge, '42', `&token=${encodeURIComponent(forged)}`));
    await waitConn(page, 'offline', 10_000);
    assert.match(await page.textContent('#conn-text'), /token rejected/);
    await page.waitForSelector('#login', { state: 'visible', timeout: 2000 });
    assert.match(await page.textContent('#login-error'), /rejected the token/);
    await stack.screenshot(page, 'auth-rejected');

    // entering the good token in the form gets the dashboard back
    await page.fill('#login-token', token);
    await page.click('#login button[type="submit"]');
    await waitConn(page, 'connected');
    await page.waitForSelector(badgeSelector(app, 'running'), { timeout: 5000 });
  }, { jwtSecret: SECRET });
});
