// SPDX-License-Identifier: MIT
// React rendering for the hook tests: a jsdom document as the global DOM,
// react-dom's createRoot, every update inside act(); a real StatusBus
// from the source on the fake WebSocket and manual clock of
// clients/js/test/fakes.mjs.  Not a test file itself.

import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
// Node 20 has no navigator of its own (21 does); react-dom reads its userAgent
if (!globalThis.navigator) globalThis.navigator = dom.window.navigator;
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const React = await import('react');
const { createRoot } = await import('react-dom/client');
const { StatusBus } = await import('statusbus');
const fakes = await import('../../js/test/fakes.mjs');

export { React, StatusBus };
export const { act, createElement: h } = React;
export const { FakeClock, makeFakeWebSocket } = fakes;

export const URL = 'ws://127.0.0.1:9999/v1/ws';

/** A StatusBus on a fake socket and clock, not connected. */
export function fakeBus(opts = {}) {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  const bus = new StatusBus({ url: URL, WebSocket: ws.FakeWebSocket, timers: clock, random: () => 0.5, fetch: null, ...opts });
  return { bus, ws, clock };
}

/** Bus options for a provider that makes its own bus, and the fakes behind them. */
export function fakeOptions() {
  const clock = new FakeClock();
  const ws = makeFakeWebSocket();
  return { ws, clock, options: { WebSocket: ws.FakeWebSocket, timers: clock, random: () => 0.5, fetch: null } };
}

/** Renders element into a detached container; update(el) re-renders, unmount() unmounts. */
export async function render(element) {
  const container = document.createElement('div');
  const root = createRoot(container);
  await act(async () => { root.render(element); });
  return {
    container,
    update: (el) => act(async () => { root.render(el); }),
    unmount: () => act(async () => { root.unmount(); }),
  };
}

/** Runs fn (server-side frames, clock ticks) inside act and lets every effect and microtask settle. */
export async function server(fn) {
  await act(async () => {
    await fn();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  });
}

/**
 * A component that renders nothing and records what hook() returned on
 * every render into log (the last value is log.at(-1)).
 */
export function probe(hook, log) {
  return function Probe(props) {
    log.push(hook(props));
    return null;
  };
}

/** Connects bus (if given) and completes the handshake of its socket; returns the socket. */
export async function connected(ws, bus = null) {
  // the socket is made after an await (the token), so let that settle first
  await server(() => { if (bus) bus.connect(); });
  await server(() => ws.last().handshake());
  return ws.last();
}
