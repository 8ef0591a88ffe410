// SPDX-License-Identifier: MIT
/**
 * @statusbus/react — React bindings for statusbus.js: a provider that holds
 * one StatusBus (one WebSocket) for a tree, and hooks for its connection
 * state, any channel, the last-known statuses of a team and a log stream.
 *
 * Every hook subscribes in an effect and unsubscribes in its cleanup, so
 * an unmounted component holds no subscription; the bus unsubscribes a
 * channel on the bridge when its last handler goes.  Reconnection,
 * resubscription, log resume with `since` (no duplicate, no hole) and the
 * HTTP polling fallback are statusbus.js's (docs/client.md); the hooks
 * only turn its events into React state.
 *
 * Plain JavaScript (no JSX) so that this file is itself the ES module
 * entry; clients/build.mjs makes the CommonJS one.
 */

import {
  createContext, createElement, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore,
} from 'react';
import { StatusBus } from 'statusbus';
import { LogStore, TopicStore } from './stores.js';

export { LogStore, TopicStore };

const BusContext = createContext(null);

/**
 * Server rendering has no WebSocket (Node < 22) and never connects: effects
 * do not run there.  A bus made for it gets this stand-in, which says what
 * is missing should a bus in Node without a WebSocket ever connect.
 */
class NoWebSocket {
  constructor() {
    throw new TypeError('StatusBus: no WebSocket implementation: pass options.WebSocket (in Node < 22, e.g. the `ws` package)');
  }
}

/**
 * Provides a StatusBus to its subtree.  Either
 *   <StatusBusProvider bus={bus}>: a bus you made; you connect and close it;
 * or
 *   <StatusBusProvider url=… token=… | getToken=… options={…}>: the provider
 *   makes the bus (one per url), connects it on mount and closes it on
 *   unmount.  A new `token` is handed to the bus (setToken: `refresh` on
 *   the open connection); the latest `getToken` is the one called.
 *   `options` (other StatusBus options: WebSocket, fetch, tunables) is read
 *   when the bus is made.
 */
export function StatusBusProvider({ bus, url, token, getToken, options, children }) {
  const getTokenRef = useRef(getToken);
  useEffect(() => { getTokenRef.current = getToken; });
  const wantsGetToken = typeof getToken === 'function';

  const owned = useMemo(() => {
    if (bus) return null;
    if (!url) throw new TypeError('StatusBusProvider: pass a bus or a url');
    return new StatusBus({
      ...options,
      WebSocket: (options && options.WebSocket) || globalThis.WebSocket || NoWebSocket,
      url,
      token: token ?? null,
      getToken: wantsGetToken ? () => getTokenRef.current() : undefined,
    });
    // token changes go through setToken below; options are read once per bus
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [bus, url, wantsGetToken]);

  useEffect(() => {
    if (!owned) return undefined;
    // connect() rejects when the bus gives up (e.g. unauthorized): that is
    // state `offline` for useConnectionState, not an unhandled rejection
    owned.connect().catch(() => {});
    return () => owned.close();
  }, [owned]);

  // The bus was made with the token of the render that made it; later ones are refreshes.
  const tokenSeen = useRef({ bus: null, token: undefined });
  useEffect(() => {
    if (!owned) return;
    if (tokenSeen.current.bus !== owned) {
      tokenSeen.current = { bus: owned, token };
    } else if (token != null && token !== tokenSeen.current.token) {
      tokenSeen.current.token = token;
      owned.setToken(token);
    }
  }, [owned, token]);

  return createElement(BusContext.Provider, { value: bus ?? owned }, children);
}

/** The StatusBus of the nearest <StatusBusProvider>. */
export function useStatusBus() {
  const bus = useContext(BusContext);
  if (!bus) throw new Error('statusbus hooks must be used inside <StatusBusProvider>');
  return bus;
}

/** 'connecting' | 'connected' | 'reconnecting' | 'polling' | 'offline', re-rendering on every change. */
export function useConnectionState() {
  const bus = useStatusBus();
  const subscribe = useMemo(() => (onChange) => bus.on('state', onChange), [bus]);
  const get = () => bus.state;
  return useSyncExternalStore(subscribe, get, get);
}

const IDLE = Object.freeze({ state: 'idle', error: null });

/**
 * Subscribes handler to channel while the component is mounted (channel
 * null/undefined or enabled: false: no subscription).  The latest handler
 * is the one called; changing channel or `since` resubscribes.  Returns
 * {state: 'idle' | 'pending' | 'subscribed' | 'failed', error}: `failed`
 * with the bridge's error (forbidden, not_found, …) or bad_request for a
 * channel name the bridge could never accept; a later ack of the same
 * channel (after a reconnect) makes it `subscribed` again.
 */
export function useChannel(channel, handler, { since, enabled = true } = {}) {
  const bus = useStatusBus();
  const handlerRef = useRef(handler);
  useEffect(() => { handlerRef.current = handler; });
  const active = enabled && channel != null && channel !== '';
  const [sub, setSub] = useState({ bus: null, channel: null, since: undefined, state: 'pending', error: null });

  useEffect(() => {
    if (!active) return undefined;
    let live = true;
    const set = (state, error = null) => { if (live) setSub({ bus, channel, since, state, error }); };
    let off;
    try {
      off = bus.subscribe(channel, (ev) => { if (handlerRef.current) handlerRef.current(ev); }, {
        since,
        onError: (err) => set('failed', err),
      });
    } catch (e) {
      set('failed', { code: 'bad_request', channel, message: String(e && e.message || e), error: e });
      return () => { live = false; };
    }
    off.ready.then(() => set('subscribed'), () => { /* onError has it */ });
    const offAck = bus.on('subscribed', (ack) => { if (ack.channel === channel) set('subscribed'); });
    return () => {
      live = false;
      offAck();
      off();
    };
  }, [bus, channel, since, active]);

  if (!active) return IDLE;
  // until this subscription's own news arrives, it is pending
  if (sub.bus !== bus || sub.channel !== channel || sub.since !== since) return { state: 'pending', error: null };
  return { state: sub.state, error: sub.error };
}

/** A value made by factory(), made again whenever one of deps changes (not merely when React feels like it). */
function useKeyed(factory, deps) {
  const [held, setHeld] = useState(() => ({ deps, value: factory() }));
  if (deps.length === held.deps.length && deps.every((d, i) => Object.is(d, held.deps[i]))) return held.value;
  const next = { deps, value: factory() };
  setHeld(next);
  return next.value;
}

/**
 * The last-known event of every topic of a status channel (team.<t>,
 * deploy.<d>, public.<p>, …): {statuses: {[topic]: event}, state, error}.
 * An event is {channel, event, topic, retained, data}; a `deleted` event
 * removes its topic.  Starts empty for every new channel.
 */
export function useStatuses(channel) {
  const bus = useStatusBus();
  const store = useKeyed(() => new TopicStore(), [bus, channel]);
  const { state, error } = useChannel(channel, (ev) => store.push(ev));
  const statuses = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return { statuses, state, error };
}

/** useStatuses(`team.${team}`): every app, db, service, server, deploy, incident and maintenance of a team. */
export function useRealtimeStatus(team) {
  return useStatuses(team == null || team === '' ? null : `team.${team}`);
}

/**
 * A logs channel (deploy.<d>.logs; app.<u>.logs, db.<u>.logs,
 * service.<u>.logs) as a bounded list: {lines, paused, buffered, dropped,
 * maxLines, pause(), resume(), clear(), state, error}.  lines holds
 * {kind: 'line', key, seq, data} and {kind: 'gap', key, from, to} entries
 * in order, at most maxLines lines (default 1000; older ones dropped and
 * counted).  since (default 0: all the history the bridge holds) is where
 * the stream starts; after a reconnect statusbus.js resumes from the last
 * line seen.  pause() buffers new entries, resume() appends them.
 */
export function useLogStream(channel, { maxLines = 1000, since = 0 } = {}) {
  const bus = useStatusBus();
  const store = useKeyed(() => new LogStore({ maxLines }), [bus, channel]);
  useEffect(() => { store.setMaxLines(maxLines); }, [store, maxLines]);
  const { state, error } = useChannel(channel, (ev) => store.push(ev), { since: since ?? undefined });
  const snap = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return { ...snap, pause: store.pause, resume: store.resume, clear: store.clear, state, error };
}
