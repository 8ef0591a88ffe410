// SPDX-License-Identifier: MIT
// TypeScript declarations for @statusbus/react (src/index.js): the provider,
// the hooks and the stores behind them.  Semantics: docs/client.md.

import type { ReactNode, ReactElement } from 'react';
import type {
  StatusBus, StatusBusOptions, ConnectionState, BusEvent, BusError, LogLine,
} from 'statusbus';

export interface StatusBusProviderProps {
  /** A bus you made (and connect and close yourself). */
  bus?: StatusBus;
  /** Without `bus`: the provider makes a bus for this url, connects it on mount, closes it on unmount. */
  url?: string;
  /** A JWT; a new value is sent to the bridge as a refresh. */
  token?: string | null;
  /** Called for the first token, before expiry and after a 4001; the latest function is the one called. */
  getToken?: () => Promise<string> | string;
  /** Other StatusBus options (WebSocket, fetch, tunables), read when the bus is made. */
  options?: Omit<StatusBusOptions, 'url' | 'token' | 'getToken'>;
  children?: ReactNode;
}

export function StatusBusProvider(props: StatusBusProviderProps): ReactElement;

/** The StatusBus of the nearest provider; throws outside one. */
export function useStatusBus(): StatusBus;

/** The bus's connection state, re-rendering on every change. */
export function useConnectionState(): ConnectionState;

export type SubscriptionState = 'idle' | 'pending' | 'subscribed' | 'failed';

export interface ChannelStatus {
  state: SubscriptionState;
  /** Why it failed (forbidden, not_found, bad_request, …); null otherwise. */
  error: BusError | null;
}

export interface UseChannelOptions {
  /** Logs channels: the seq to resume after (0 = all the history the bridge holds). */
  since?: number;
  /** false: no subscription (like a null channel). Default true. */
  enabled?: boolean;
}

/** Subscribes handler to channel while mounted; null/undefined channel: none. */
export function useChannel<D = any>(
  channel: string | null | undefined,
  handler: (event: BusEvent<D>) => void,
  options?: UseChannelOptions,
): ChannelStatus;

export interface StatusesResult<D = any> extends ChannelStatus {
  /** The last event of every topic, by topic; `deleted` topics are absent. */
  statuses: Readonly<Record<string, BusEvent<D>>>;
}

/** The last-known event per topic of any status channel. */
export function useStatuses<D = any>(channel: string | null | undefined): StatusesResult<D>;

/** useStatuses(`team.${team}`). */
export function useRealtimeStatus<D = any>(team: string | number | null | undefined): StatusesResult<D>;

export interface LogLineEntry {
  kind: 'line';
  /** Unique within the stream, for React keys. */
  key: number;
  seq: number | null;
  data: LogLine;
}

export interface LogGapEntry {
  kind: 'gap';
  key: number;
  /** Lines from..to will never arrive. */
  from: number;
  to: number;
}

export type LogEntry = LogLineEntry | LogGapEntry;

export interface LogSnapshot {
  /** At most maxLines lines (gap markers do not count), oldest first. */
  readonly lines: readonly LogEntry[];
  paused: boolean;
  /** Entries received while paused, appended on resume. */
  buffered: number;
  /** Lines dropped because of maxLines (from the view or the pause buffer). */
  dropped: number;
  maxLines: number;
}

export interface UseLogStreamOptions {
  /** Lines kept; default 1000. */
  maxLines?: number;
  /** Where the stream starts: 0 (default) = all the history the bridge holds; null = live only. */
  since?: number | null;
}

export interface LogStreamResult extends LogSnapshot, ChannelStatus {
  pause(): void;
  resume(): void;
  /** Forgets the lines shown and buffered; the subscription goes on. */
  clear(): void;
}

/** A logs channel (deploy.<d>.logs, app.<u>.logs, …) as a bounded, pausable list. */
export function useLogStream(channel: string | null | undefined, options?: UseLogStreamOptions): LogStreamResult;

/** The store behind useStatuses, usable without React. */
export class TopicStore {
  push(event: BusEvent): void;
  subscribe(listener: () => void): () => void;
  getSnapshot(): Readonly<Record<string, BusEvent>>;
}

/** The store behind useLogStream, usable without React. */
export class LogStore {
  constructor(options?: { maxLines?: number });
  push(event: BusEvent): void;
  pause(): void;
  resume(): void;
  clear(): void;
  setMaxLines(n: number): void;
  subscribe(listener: () => void): () => void;
  getSnapshot(): LogSnapshot;
}
