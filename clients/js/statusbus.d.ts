// SPDX-License-Identifier: MIT
// TypeScript declarations for statusbus.js (statusbus.v1 client).
// The semantics are described in docs/client.md.

/** The WebSocket subprotocol, "statusbus.v1". */
export const PROTOCOL: 'statusbus.v1';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'polling' | 'offline';
export const STATES: readonly ConnectionState[];

/** Event names of docs/protocol.md §5.5, plus the client-side "gap". */
export type EventName =
  | 'app.status' | 'db.status' | 'service.status' | 'server.reachability'
  | 'deploy.status' | 'app.stats' | 'incident' | 'maintenance' | 'deploy.log'
  | 'app.log' | 'db.log' | 'service.log'
  | 'notify' | 'public.status' | 'deleted' | 'gap'
  | (string & {});

/** What a subscription handler receives for every event (batches are expanded). */
export interface BusEvent<D = any> {
  channel: string;
  event: EventName;
  /** MQTT topic, e.g. "team/42/app/<uuid>/status"; null for gap events, and
   *  for the lines of a runtime log (its topic names the owner's team, which
   *  the batch frame does not carry). */
  topic: string | null;
  retained: boolean;
  /** The payload; null for "deleted" events. For "gap": {from, to}. */
  data: D;
}

/** A `gap` frame or a polling history gap: lines from..to will never arrive. */
export interface GapEvent extends BusEvent<{ from: number; to: number }> {
  event: 'gap';
  topic: null;
  from: number;
  to: number;
}

/** A log line (schemas/log-line.json) of any logs channel: `deploy.<uuid>.logs`,
 *  or the runtime log `app.<uuid>.logs`, `db.<uuid>.logs`, `service.<uuid>.logs`. */
export interface LogLine {
  seq: number;
  ts?: string;
  level?: string;
  stream?: string;
  msg?: string;
  [k: string]: unknown;
}

/** Errors surfaced on on('error') and to subscriptions. */
export interface BusError {
  /** Bridge error codes (bad_request, unauthorized, forbidden, not_found,
   *  too_many_subscriptions, rate_limited, token_expired, internal) or
   *  client-side ones: protocol_error (4000), frame_too_large (4009),
   *  rate_limited (4008), token_error, token_not_renewed, bad_frame,
   *  handler_error, listener_error, websocket_error. */
  code: string;
  message?: string;
  /** Request id of the frame that failed, when the bridge named one. */
  id?: number;
  /** Channel concerned, for subscription and polling errors. */
  channel?: string;
  /** Close code, for errors caused by a close. */
  closeCode?: number;
  /** 'sub' | 'unsub' | 'refresh' | 'ping' | 'poll' when known. */
  op?: string;
  error?: unknown;
}

export interface StateInfo {
  previous: ConnectionState;
  /** Why the state changed, e.g. 'closed', 'unauthorized', 'poll failed'. */
  reason?: string;
  /** Close code of the connection that ended, if any. */
  code?: number;
  /** Consecutive failed attempts (reconnecting). */
  attempt?: number;
  /** Delay before the next attempt, ms (reconnecting). */
  delay?: number;
  /** For offline: false when the client gave up and will not retry by itself. */
  retrying?: boolean;
  session?: string | null;
}

export interface RetryInfo {
  attempt: number;
  delay: number;
  code?: number;
  reason?: string;
}

export interface Welcome {
  op: 'welcome';
  session: string;
  heartbeat_s?: number;
  limits?: Record<string, unknown>;
}

export interface Ack {
  channel: string;
  /** Only when `since` was given: whether the history covered it. */
  recovered?: boolean;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds since the epoch. */
  now(): number;
}

/** The subset of the WHATWG WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
}
export type WebSocketConstructor = new (url: string, protocol?: string | string[]) => WebSocketLike;

/** The subset of fetch the polling fallback uses. */
export type FetchLike = (url: string, init: { headers: Record<string, string>; cache?: string }) =>
  Promise<{ ok: boolean; status: number; json(): Promise<any> }>;

export interface Tunables {
  /** First retry delay, ms. Default 1000. */
  backoffBaseMs?: number;
  /** Nominal delay cap, ms (jitter applies on top). Default 16000. */
  backoffMaxMs?: number;
  /** ±fraction of the nominal delay (default 0.2), or 'full' for uniform [0, nominal]. */
  jitter?: number | 'full';
  /** After a 1001 close (a bridge draining or stopping), the first reconnect waits uniform [0, drainJitterMs], ms. Default 2000. */
  drainJitterMs?: number;
  /** Consecutive failed WebSocket attempts before polling. Default 3. */
  pollAfterFailures?: number;
  /** GET /v1/snapshot period while polling, ms. Default 5000. */
  snapshotIntervalMs?: number;
  /** GET /v1/history period while polling, ms. Default 2000. */
  historyIntervalMs?: number;
  /** Ping period unless the welcome's heartbeat_s says otherwise, ms. Default 25000. */
  heartbeatMs?: number;
  /** No frame this long after a ping: the connection is dead, ms. Default 10000. */
  pongTimeoutMs?: number;
  /** Open + hello + welcome must complete within this, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Refresh the token this long before its exp, ms. Default 60000. */
  refreshLeadMs?: number;
  /** Consecutive 4001 closes before giving up. Default 3. */
  maxAuthFailures?: number;
}

export const DEFAULTS: Readonly<Required<Tunables>>;

export interface StatusBusOptions extends Tunables {
  /** ws(s)://host:port/v1/ws */
  url: string;
  /** A fixed JWT. Omit both token and getToken for an open development bridge. */
  token?: string | null;
  /** Called for the first token, before expiry (refresh) and after a 4001. */
  getToken?: () => Promise<string> | string;
  /** WebSocket implementation; default globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** fetch implementation for the polling fallback; null disables polling. Default globalThis.fetch. */
  fetch?: FetchLike | null;
  /** Base URL of the HTTP API; default derived from url (ws→http, wss→https). */
  httpBase?: string;
  /** Injectable clock and timers (tests). */
  timers?: Partial<Timers>;
  /** Injectable Math.random (tests). */
  random?: () => number;
}

/** The name of a logs channel of the default map. */
export type LogsChannel =
  | `deploy.${string}.logs` | `app.${string}.logs` | `db.${string}.logs` | `service.${string}.logs`;

export interface SubscribeOptions {
  /** Logs channels: deliver history after this seq (0 = all the bridge holds). */
  since?: number;
  /** Whether the channel is a logs channel (resumed with `since`, lines
   *  deduplicated by seq, polled with /v1/history); default: its name's last
   *  segment is "logs". */
  logs?: boolean;
  /** This subscription's errors (e.g. forbidden, not_found). */
  onError?: (err: BusError) => void;
}

/** Calling it removes the handler; the channel is unsubscribed when its last handler goes. */
export interface Unsubscribe {
  (): void;
  /** Resolves with the bridge's ack; rejects with a BusError-shaped Error. */
  readonly ready: Promise<Ack>;
}

export interface BusEvents {
  state: (state: ConnectionState, info: StateInfo) => void;
  error: (err: BusError) => void;
  gap: (gap: GapEvent) => void;
  retry: (info: RetryInfo) => void;
  welcome: (welcome: Welcome) => void;
  /** Every ack of a sub, including the resubscriptions after a reconnect. */
  subscribed: (ack: Ack) => void;
}

export class StatusBus {
  constructor(options: StatusBusOptions);
  readonly url: string;
  readonly httpBase: string | null;
  readonly options: Required<Tunables>;
  /** Current connection state. */
  readonly state: ConnectionState;
  /** Session id from the last welcome. */
  readonly session: string | null;
  /** Ping period in force, ms. */
  readonly heartbeatMs: number;

  /** Starts connecting; resolves on the first `connected` or `polling`, rejects when it gives up. */
  connect(): Promise<void>;
  /** Closes the socket, stops every timer and poll; state `offline`. */
  close(): void;
  /** Tries the WebSocket now instead of waiting for the backoff timer. */
  retry(): Promise<void>;
  /** Replaces the token; sends `refresh` when connected, restarts after an auth give-up. */
  setToken(token: string): Promise<void> | undefined;

  subscribe(channel: LogsChannel, handler: (event: BusEvent<LogLine> | GapEvent) => void, options?: SubscribeOptions): Unsubscribe;
  subscribe<D = any>(channel: string, handler: (event: BusEvent<D>) => void, options?: SubscribeOptions): Unsubscribe;
  /** Channels with at least one handler. */
  channels(): string[];
  /** Members of a presence channel the client is subscribed to (docs/protocol.md §5.12). */
  presence(channel: string): Promise<PresenceMember[]>;

  on<K extends keyof BusEvents>(name: K, listener: BusEvents[K]): () => void;
  off<K extends keyof BusEvents>(name: K, listener: BusEvents[K]): void;
}

/** A member of a presence channel: its token's `sub` and `name`, and the
 * `user_info` of a Pusher member beyond a name. */
export interface PresenceMember {
  sub: string;
  name?: string;
  info?: unknown;
}

export default StatusBus;

/** Nominal delay min(max, base·2^attempt) with jitter; see Tunables.jitter. */
export function backoffDelay(attempt: number, options?: Tunables, random?: () => number): number;
/** The exp claim of a JWT (seconds), or null; the signature is not checked. */
export function jwtExpiry(token: string | null | undefined): number | null;
/** True when the bridge could accept the channel name (no + # / NUL, no empty segment). */
export function isValidChannel(channel: unknown): channel is string;
/** ws://host:port/v1/ws → http://host:port. */
export function httpBaseFromUrl(url: string): string | null;
