// SPDX-License-Identifier: MIT
// The stores behind the hooks, without React: last event per topic, and the
// log view's bound, gap markers, pause buffer, repeats and snapshots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogStore, TopicStore } from '../src/stores.js';

const line = (seq, extra = {}) => ({ channel: 'deploy.d.logs', event: 'deploy.log', topic: 'deploy/d/logs', retained: false, data: { seq, msg: `line ${seq}`, ...extra } });
const gap = (from, to) => ({ channel: 'deploy.d.logs', event: 'gap', topic: null, retained: false, data: { from, to }, from, to });
const view = (store) => store.getSnapshot().lines.map((e) => (e.kind === 'gap' ? `gap:${e.from}-${e.to}` : e.seq));
const tick = () => new Promise((r) => queueMicrotask(r));

test('TopicStore: last event per topic, deleted removes, snapshot stable until a change', () => {
  const s = new TopicStore();
  const empty = s.getSnapshot();
  assert.deepEqual(empty, {});
  assert.equal(s.getSnapshot(), empty, 'same object while nothing changed');
  const a1 = { channel: 'team.42', event: 'app.status', topic: 'team/42/app/a/status', retained: true, data: { status: 'running' } };
  const a2 = { ...a1, data: { status: 'exited' } };
  const d1 = { ...a1, event: 'db.status', topic: 'team/42/db/b/status', data: { status: 'running' } };
  s.push(a1);
  s.push(d1);
  s.push(a2);
  const snap = s.getSnapshot();
  assert.notEqual(snap, empty);
  assert.deepEqual(Object.keys(snap).sort(), ['team/42/app/a/status', 'team/42/db/b/status']);
  assert.equal(snap['team/42/app/a/status'].data.status, 'exited');
  assert.ok(Object.isFrozen(snap));
  s.push({ ...a1, event: 'deleted', data: null });
  assert.deepEqual(Object.keys(s.getSnapshot()), ['team/42/db/b/status']);
  const before = s.getSnapshot();
  s.push({ ...a1, event: 'deleted', data: null });   // already gone: no change
  s.push({ channel: 'team.42', event: 'notify', topic: null, data: {} });
  assert.equal(s.getSnapshot(), before);
});

test('listeners hear of a burst once, after the burst', async () => {
  const s = new LogStore();
  let calls = 0;
  const off = s.subscribe(() => calls++);
  for (let i = 1; i <= 10; i++) s.push(line(i));
  assert.equal(calls, 0, 'not synchronously');
  await tick();
  assert.equal(calls, 1);
  off();
  s.push(line(11));
  await tick();
  assert.equal(calls, 1, 'unsubscribed');
});

test('LogStore: lines and gaps in order, keys unique, at most maxLines lines, dropped counted', () => {
  const s = new LogStore({ maxLines: 5 });
  s.push(line(1));
  s.push(line(2));
  s.push(gap(3, 6));
  for (let i = 7; i <= 9; i++) s.push(line(i));
  assert.deepEqual(view(s), [1, 2, 'gap:3-6', 7, 8, 9]);
  const keys = s.getSnapshot().lines.map((e) => e.key);
  assert.equal(new Set(keys).size, keys.length);
  assert.equal(s.getSnapshot().dropped, 0);
  s.push(line(10));
  assert.deepEqual(view(s), [2, 'gap:3-6', 7, 8, 9, 10], 'gap markers do not count');
  s.push(line(11));
  // line 2 goes, and with it the gap marker that would lead the view
  assert.deepEqual(view(s), [7, 8, 9, 10, 11]);
  assert.equal(s.getSnapshot().dropped, 2);
  assert.equal(s.getSnapshot().lines[0].data.msg, 'line 7');
});

test('LogStore: a gap first in the view stays until lines before it are dropped', () => {
  const s = new LogStore({ maxLines: 3 });
  s.push(gap(1, 40));
  s.push(line(41));
  s.push(line(42));
  assert.deepEqual(view(s), ['gap:1-40', 41, 42]);
});

test('LogStore: repeats (seq not above the last) are ignored, gaps move the mark', () => {
  const s = new LogStore();
  s.push(line(1));
  s.push(line(2));
  s.push(line(2));
  s.push(line(1));
  s.push(gap(3, 5));
  s.push(line(4));
  s.push(line(6));
  s.push({ channel: 'x', event: 'deploy.log', data: { msg: 'no seq' } });
  assert.deepEqual(view(s), [1, 2, 'gap:3-5', 6, null]);
});

test('LogStore: pause buffers (bounded), resume appends in order, clear forgets', () => {
  const s = new LogStore({ maxLines: 4 });
  s.push(line(1));
  s.pause();
  assert.equal(s.getSnapshot().paused, true);
  for (let i = 2; i <= 4; i++) s.push(line(i));
  assert.deepEqual(view(s), [1], 'nothing new shown while paused');
  assert.equal(s.getSnapshot().buffered, 3);
  s.push(line(5));
  s.push(line(6));
  assert.equal(s.getSnapshot().buffered, 4, 'buffer bounded by maxLines');
  assert.equal(s.getSnapshot().dropped, 1);
  s.resume();
  assert.deepEqual(view(s), [3, 4, 5, 6]);
  assert.equal(s.getSnapshot().paused, false);
  assert.equal(s.getSnapshot().buffered, 0);
  assert.equal(s.getSnapshot().dropped, 2);
  s.clear();
  assert.deepEqual(view(s), []);
  assert.equal(s.getSnapshot().dropped, 0);
  s.push(line(6));
  assert.deepEqual(view(s), [], 'a cleared line does not come back');
  s.push(line(7));
  assert.deepEqual(view(s), [7]);
});

test('LogStore: setMaxLines trims now; bad bounds are refused', () => {
  const s = new LogStore({ maxLines: 10 });
  for (let i = 1; i <= 10; i++) s.push(line(i));
  s.setMaxLines(3);
  assert.deepEqual(view(s), [8, 9, 10]);
  assert.equal(s.getSnapshot().maxLines, 3);
  assert.throws(() => s.setMaxLines(0), RangeError);
  assert.throws(() => new LogStore({ maxLines: 1.5 }), RangeError);
});
