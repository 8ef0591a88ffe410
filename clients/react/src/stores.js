// SPDX-License-Identifier: MIT
/**
 * The state behind the hooks, without React: a store of the last-known
 * event per topic (useStatuses, useRealtimeStatus) and a bounded log view
 * with gap markers and pause/resume (useLogStream).  Each is an external
 * store for React's useSyncExternalStore: subscribe(listener) and a
 * getSnapshot() that returns the same immutable object until something
 * changes.
 *
 * Listeners are told once per microtask, not once per event: a `batch`
 * frame (ten log lines) or a channel's snapshot on subscribe (one event per
 * retained topic) arrives as a burst of synchronous handler calls, and one
 * snapshot and one render per burst is what a view needs.
 */

class ExternalStore {
  constructor() {
    this._listeners = new Set();
    this._snapshot = null;
    this._notifyQueued = false;
    // handed to useSyncExternalStore as they are
    this.subscribe = this.subscribe.bind(this);
    this.getSnapshot = this.getSnapshot.bind(this);
  }

  subscribe(listener) {
    this._listeners.add(listener);
    return () => { this._listeners.delete(listener); };
  }

  getSnapshot() {
    if (this._snapshot === null) this._snapshot = Object.freeze(this._build());
    return this._snapshot;
  }

  _changed() {
    this._snapshot = null;
    if (this._notifyQueued) return;
    this._notifyQueued = true;
    queueMicrotask(() => {
      this._notifyQueued = false;
      for (const fn of [...this._listeners]) fn();
    });
  }
}

/**
 * The last event of every topic of a status channel: an event replaces the
 * topic's previous one, a `deleted` event (empty retained publish: the
 * resource is gone) removes it.  Snapshot: a frozen object topic → event.
 */
export class TopicStore extends ExternalStore {
  constructor() {
    super();
    this._byTopic = new Map();
  }

  /** A statusbus event ({channel, event, topic, retained, data}); events without a topic are ignored. */
  push(ev) {
    if (!ev || typeof ev.topic !== 'string') return;
    if (ev.event === 'deleted') {
      if (!this._byTopic.delete(ev.topic)) return;
    } else {
      this._byTopic.set(ev.topic, ev);
    }
    this._changed();
  }

  _build() {
    return Object.fromEntries(this._byTopic);
  }
}

/**
 * A log view: entries in arrival order, either {kind: 'line', key, seq,
 * data} (data: the log line as published, e.g. {seq, ts, level, stream,
 * msg}) or {kind: 'gap', key, from, to} (lines from..to will never
 * arrive).  `key` is unique within the store, for React lists.
 *
 * At most maxLines lines are kept (gap markers do not count); older ones
 * are dropped and counted in `dropped`, and a gap marker left first
 * describes lines no longer shown, so it goes too.  While paused, entries
 * are buffered (bounded the same way) and appended in order on resume.
 * A line whose seq is not above the last one seen is a repeat and ignored.
 */
export class LogStore extends ExternalStore {
  constructor({ maxLines = 1000 } = {}) {
    super();
    this._maxLines = LogStore.checkMax(maxLines);
    this._entries = [];
    this._lineCount = 0;
    this._buffer = [];
    this._paused = false;
    this._dropped = 0;
    this._nextKey = 1;
    this._lastSeq = null;
    this.pause = this.pause.bind(this);
    this.resume = this.resume.bind(this);
    this.clear = this.clear.bind(this);
  }

  static checkMax(n) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`maxLines must be a positive integer, not ${n}`);
    return n;
  }

  /** A statusbus event of a logs channel: a line (data with seq) or a `gap`. */
  push(ev) {
    let entry;
    if (ev && ev.event === 'gap') {
      entry = { kind: 'gap', key: this._nextKey++, from: ev.from, to: ev.to };
      if (typeof ev.to === 'number' && (this._lastSeq === null || ev.to > this._lastSeq)) this._lastSeq = ev.to;
    } else if (ev && ev.data && typeof ev.data === 'object') {
      const seq = typeof ev.data.seq === 'number' ? ev.data.seq : null;
      // statusbus.js already drops what a subscription saw; this also covers
      // a view that outlives its subscription (resubscribed with a new since)
      if (seq !== null) {
        if (this._lastSeq !== null && seq <= this._lastSeq) return;
        this._lastSeq = seq;
      }
      entry = { kind: 'line', key: this._nextKey++, seq, data: ev.data };
    } else {
      return;
    }
    Object.freeze(entry);
    if (this._paused) {
      this._buffer.push(entry);
      // what resume would trim anyway is dropped now
      if (this._buffer.length > this._maxLines && this._buffer.shift().kind === 'line') this._dropped++;
    } else {
      this._append(entry);
      this._trim();
    }
    this._changed();
  }

  pause() {
    if (this._paused) return;
    this._paused = true;
    this._changed();
  }

  resume() {
    if (!this._paused) return;
    this._paused = false;
    for (const e of this._buffer) this._append(e);
    this._buffer = [];
    this._trim();
    this._changed();
  }

  /** Forgets every line shown and buffered (the subscription goes on; old lines do not come back). */
  clear() {
    this._entries = [];
    this._lineCount = 0;
    this._buffer = [];
    this._dropped = 0;
    this._changed();
  }

  setMaxLines(n) {
    if (LogStore.checkMax(n) === this._maxLines) return;
    this._maxLines = n;
    this._trim();
    while (this._buffer.length > n) if (this._buffer.shift().kind === 'line') this._dropped++;
    this._changed();
  }

  _append(entry) {
    this._entries.push(entry);
    if (entry.kind === 'line') this._lineCount++;
  }

  _trim() {
    let drop = 0;
    let lines = this._lineCount;
    while (lines > this._maxLines) {
      if (this._entries[drop++].kind === 'line') { lines--; this._dropped++; }
    }
    if (drop === 0) return;
    while (drop < this._entries.length && this._entries[drop].kind === 'gap') drop++;
    this._entries.splice(0, drop);
    this._lineCount = lines;
  }

  _build() {
    return {
      lines: Object.freeze(this._entries.slice()),
      paused: this._paused,
      buffered: this._buffer.length,
      dropped: this._dropped,
      maxLines: this._maxLines,
    };
  }
}
