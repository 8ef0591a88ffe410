// SPDX-License-Identifier: MIT
// Page-level helpers shared by the browser tests: what the user sees on the
// dashboard, read from the DOM, waited for with deadlines.

import { binary, missingPrerequisite, nowTs } from './stack.mjs';

/**
 * Never a reason to skip: the bridge is always in the tree, so a missing
 * binary or prerequisite is a failure.  Returns false for the callers'
 * `skip:` option.
 */
export function skipReason() {
  if (!binary('statusbus-bridge')) throw new Error('statusbus-bridge is not built (run scripts/setup.sh)');
  const missing = missingPrerequisite();
  if (missing) throw new Error(`browser test prerequisite missing: ${missing}`);
  return false;
}

/** The connection indicator's state ("connected", "reconnecting", "polling", "offline", …). */
export function connState(page) {
  return page.getAttribute('#conn', 'data-state');
}

/** Waits until the indicator shows one of states; returns the state. */
export async function waitConn(page, states, timeout = 10_000) {
  const want = [].concat(states);
  await page.waitForFunction((w) => w.includes(document.querySelector('#conn')?.dataset.state), want, { timeout, polling: 50 });
  return connState(page);
}

/** The seq numbers of the log lines on screen, in screen order ('gap' for gap markers). */
export function logSeqs(page) {
  return page.$$eval('#log-lines > *', (els) => els.map((e) => (e.classList.contains('gap') ? `gap:${e.textContent}` : Number(e.dataset.seq))));
}

export async function waitLogCount(page, n, timeout = 10_000) {
  await page.waitForFunction((k) => document.querySelectorAll('#log-lines .line').length >= k, n, { timeout, polling: 50 });
}

export function badgeSelector(uuid, status) {
  return `li[data-uuid="${uuid}"] .badge[data-status="${status}"]`;
}

export function statusPayload(status, extra = {}) {
  return { ts: nowTs(), status, ...extra };
}

export function logLine(seq, extra = {}) {
  return { seq, ts: nowTs(), level: seq % 10 === 0 ? 'error' : 'info', stream: 'stdout', msg: `build step output line ${seq}`, ...extra };
}

export function range(a, b) {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}
