// SPDX-License-Identifier: MIT
// The log viewer (a deploy's log, or the runtime log of an app, a database or
// a service): a bounded list of log lines and gaps with level
// filter, text search, pause (buffers) / resume (catches up), auto-scroll
// that stops while the user reads older lines, clear and download.

const LEVELS = { trace: 0, debug: 1, info: 2, notice: 2, warn: 3, warning: 3, error: 4, fatal: 5, critical: 5 };

function levelRank(level) {
  const r = LEVELS[String(level || 'info').toLowerCase()];
  return r === undefined ? 2 : r;
}

function fmtTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return d.toISOString().slice(11, 23);
}

export function gapText(from, to) {
  const n = typeof from === 'number' && typeof to === 'number' ? to - from + 1 : null;
  return n != null ? `… ${n} line${n === 1 ? '' : 's'} missing …` : '… lines missing …';
}

export class LogViewer {
  /** els: {list, status, jump, pause, level, search, max, clear, download} */
  constructor(els) {
    this.els = els;
    this.entries = [];        // shown (subject to filter): {kind, ..., el}
    this.buffer = [];         // received while paused
    this.paused = false;
    this.follow = true;
    this.max = Number(els.max.value) || 1000;
    this.minLevel = '';
    this.search = '';
    this.name = 'deploy';
    this.dropped = 0;
    this.noteEl = null;       // a note above the lines (a log no longer held)

    els.list.addEventListener('scroll', () => {
      if (this._autoScrolling) return;
      this.follow = this._atBottom();
      els.jump.hidden = this.follow;
    });
    els.jump.addEventListener('click', () => this.jumpToLatest());
    els.pause.addEventListener('click', () => (this.paused ? this.resume() : this.pause()));
    els.level.addEventListener('change', () => { this.minLevel = els.level.value; this.rerender(); });
    els.search.addEventListener('input', () => { this.search = els.search.value.trim().toLowerCase(); this.rerender(); });
    els.max.addEventListener('change', () => {
      const v = Math.max(10, Math.min(100000, Math.floor(Number(els.max.value)) || 1000));
      els.max.value = String(v);
      this.max = v;
      this._trim();
      this._status();
    });
    els.clear.addEventListener('click', () => this.clear());
    els.download.addEventListener('click', () => this.download());
    this._status();
  }

  /** Starts over for another log (name: the download's file name). */
  reset(name) {
    this.name = name;
    this.entries = [];
    this.buffer = [];
    this.dropped = 0;
    this.noteEl = null;
    this.follow = true;
    this.els.list.replaceChildren();
    this.els.jump.hidden = true;
    if (this.paused) this.resume();
    this._status();
  }

  /** A statusbus event of the logs channel (deploy.log, app.log, … or gap). */
  push(ev) {
    let entry;
    if (ev.event === 'gap') entry = { kind: 'gap', from: ev.from, to: ev.to };
    else if (ev.data && typeof ev.data === 'object') entry = { kind: 'line', ...ev.data };
    else return;
    if (this.paused) {
      this.buffer.push(entry);
      // the buffer is bounded like the view: what resume would trim anyway is dropped now
      if (this.buffer.length > this.max) { if (this.buffer.shift().kind === 'line') this.dropped++; }
      this._status();
      return;
    }
    this._append([entry]);
  }

  /** Shows text above the lines (until reset), e.g. why there are none. */
  note(text) {
    if (!this.noteEl) {
      this.noteEl = document.createElement('p');
      this.noteEl.className = 'log-note';
      this.noteEl.setAttribute('role', 'note');
    }
    this.noteEl.textContent = text;
    this.els.list.prepend(this.noteEl);
    this._status();
  }

  hasNote() {
    return !!this.noteEl;
  }

  lineCount() {
    return this.entries.filter((e) => e.kind === 'line').length + this.buffer.filter((e) => e.kind === 'line').length;
  }

  pause() {
    this.paused = true;
    this.els.pause.textContent = 'Resume';
    this.els.pause.setAttribute('aria-pressed', 'true');
    this._status();
  }

  resume() {
    this.paused = false;
    this.els.pause.textContent = 'Pause';
    this.els.pause.setAttribute('aria-pressed', 'false');
    const buffered = this.buffer;
    this.buffer = [];
    this._append(buffered);
  }

  clear() {
    this.entries = [];
    this.buffer = [];
    this.dropped = 0;
    this.els.list.replaceChildren();
    this.els.jump.hidden = true;
    this.follow = true;
    this._status();
  }

  jumpToLatest() {
    this.follow = true;
    this.els.jump.hidden = true;
    this._scrollToBottom();
  }

  _matches(e) {
    if (e.kind === 'gap') return true;        // a hole is always worth seeing
    if (this.minLevel && levelRank(e.level) < levelRank(this.minLevel)) return false;
    if (this.search && !this._text(e).toLowerCase().includes(this.search)) return false;
    return true;
  }

  _text(e) {
    if (e.kind === 'gap') return gapText(e.from, e.to);
    const lvl = String(e.level || 'info').toUpperCase();
    return `${e.seq ?? ''} ${e.ts ?? ''} ${lvl}${e.stream ? ` [${e.stream}]` : ''} ${e.msg ?? ''}`.trim();
  }

  _el(e) {
    const div = document.createElement('div');
    if (e.kind === 'gap') {
      div.className = 'gap';
      div.setAttribute('role', 'note');
      div.textContent = gapText(e.from, e.to);
      return div;
    }
    const lvl = String(e.level || 'info').toLowerCase();
    div.className = `line lvl-${levelRank(lvl) >= 4 ? 'error' : levelRank(lvl) === 3 ? 'warn' : levelRank(lvl) <= 1 ? 'debug' : 'info'}`;
    if (e.stream === 'stderr') div.classList.add('stderr');
    div.dataset.seq = String(e.seq ?? '');
    const seq = document.createElement('span');
    seq.className = 'seq';
    seq.textContent = String(e.seq ?? '');
    const time = document.createElement('time');
    time.textContent = fmtTime(e.ts);
    if (e.ts) time.dateTime = String(e.ts);
    const level = document.createElement('span');
    level.className = 'lvl';
    level.textContent = lvl.toUpperCase();
    const msg = document.createElement('span');
    msg.className = 'msg';
    msg.textContent = String(e.msg ?? '');
    div.append(seq, time, level, msg);
    return div;
  }

  _append(list) {
    if (list.length === 0) return;
    const frag = document.createDocumentFragment();
    for (const e of list) {
      this.entries.push(e);
      if (this._matches(e)) {
        e.el = this._el(e);
        frag.appendChild(e.el);
      }
    }
    this.els.list.appendChild(frag);
    this._trim();
    this._status();
    if (this.follow) this._scrollToBottom();
  }

  /** Keeps at most max lines (gap markers do not count, and go with the lines after them). */
  _trim() {
    let lines = 0;
    for (const e of this.entries) if (e.kind === 'line') lines++;
    while (lines > this.max && this.entries.length) {
      const e = this.entries.shift();
      if (e.el) e.el.remove();
      if (e.kind === 'line') { lines--; this.dropped++; }
    }
    // a gap marker left at the top describes lines that are no longer shown either
    while (this.dropped && this.entries.length && this.entries[0].kind === 'gap') {
      const e = this.entries.shift();
      if (e.el) e.el.remove();
    }
  }

  rerender() {
    const frag = document.createDocumentFragment();
    for (const e of this.entries) {
      e.el = this._matches(e) ? this._el(e) : null;
      if (e.el) frag.appendChild(e.el);
    }
    this.els.list.replaceChildren(frag);
    if (this.noteEl) this.els.list.prepend(this.noteEl);
    this._status();
    if (this.follow) this._scrollToBottom();
  }

  _atBottom() {
    const l = this.els.list;
    return l.scrollTop + l.clientHeight >= l.scrollHeight - 4;
  }

  _scrollToBottom() {
    const l = this.els.list;
    this._autoScrolling = true;
    l.scrollTop = l.scrollHeight;
    // the scroll event of our own scrolling comes asynchronously
    requestAnimationFrame(() => { this._autoScrolling = false; });
  }

  _status() {
    const lines = this.entries.filter((e) => e.kind === 'line').length;
    const shown = this.entries.filter((e) => e.el).length;
    let s = `${lines} line${lines === 1 ? '' : 's'}`;
    if (shown !== this.entries.length) s += `, ${shown} shown`;
    if (this.dropped) s += ` (${this.dropped} older dropped, max ${this.max})`;
    if (this.noteEl && lines === 0) s += ' — this log is no longer held by the bridge';
    if (this.paused) s = `Paused — ${this.buffer.length} new line${this.buffer.length === 1 ? '' : 's'} buffered. ${s}`;
    this.els.status.textContent = s;
  }

  /** Every line received (not only the filtered ones), as a text file. */
  download() {
    const text = this.entries.concat(this.buffer).map((e) => this._text(e)).join('\n') + '\n';
    const blob = new Blob([text], { type: 'text/plain;charset=utf-8' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${this.name}.log`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }
}
