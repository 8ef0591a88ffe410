// SPDX-License-Identifier: MIT
// The browser tests' harness, a JS counterpart of tests/integration/sbharness.py:
// a real `mosquitto -c` and a real statusbus-bridge on free loopback ports
// (the bridge serves examples/dashboard as listen.static_dir), readiness by
// deadline, stop by PID, logs printed on failure, MQTT publishing with
// mosquitto_pub, and headless Debian chromium through playwright-core.

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.SB_SOURCE_DIR || path.resolve(here, '..', '..');
export const BINARY_DIR = process.env.SB_BINARY_DIR || path.join(SOURCE_DIR, 'build');
export const ARTIFACTS = path.join(BINARY_DIR, 'artifacts');
export const CHROMIUM = process.env.SB_CHROMIUM || '/usr/bin/chromium';

export function binary(name) {
  for (const sub of ['', 'examples']) {
    const p = path.join(BINARY_DIR, sub, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** Why the browser tests cannot run here, or null when they can. */
export function missingPrerequisite() {
  if (!binary('statusbus-bridge')) return `statusbus-bridge is not built in ${BINARY_DIR}`;
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (apt-get install chromium)`;
  for (const tool of ['mosquitto', 'mosquitto_pub']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  if (!fs.existsSync(path.join(SOURCE_DIR, 'tests', 'node_modules', 'playwright-core'))) {
    return 'tests/node_modules/playwright-core is missing (cd tests && npm ci)';
  }
  return null;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Polls cond() (sync or async) until it returns a truthy value; throws after timeout ms. */
export async function waitFor(cond, { timeout = 10_000, interval = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

export function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(300, () => done(false));
  });
}

/** A child process whose output goes to a log file; stopped by PID. */
export class Proc {
  constructor(name, argv, workdir, env) {
    this.name = name;
    this.argv = argv;
    this.workdir = workdir;
    this.env = env;
    this.logPath = path.join(workdir, `${name}.log`);
    this._spawn('w');
  }

  _spawn(flags) {
    const fd = fs.openSync(this.logPath, flags);
    this.child = spawn(this.argv[0], this.argv.slice(1), {
      cwd: this.workdir, env: this.env || process.env, stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    this.exitCode = null;
    this.stoppedByUs = false;
    this.exited = new Promise((resolve) => this.child.once('exit', (code, sig) => {
      this.exitCode = code ?? sig;
      resolve(this.exitCode);
    }));
  }

  get pid() { return this.child.pid; }
  alive() { return this.exitCode === null; }

  /** Sends sig to this process (by PID) and waits for it to exit; SIGKILL after timeout. */
  async stop(sig = 'SIGTERM', timeout = 10_000) {
    if (this.alive()) {
      this.stoppedByUs = true;
      try { process.kill(this.child.pid, sig); } catch { /* gone already */ }
      const t = setTimeout(() => { try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* gone */ } }, timeout);
      await this.exited;
      clearTimeout(t);
    }
    return this.exitCode;
  }

  /** Starts the same command again, appending to the same log. */
  restart() {
    if (this.alive()) throw new Error(`${this.name} is still running`);
    this._spawn('a');
  }

  output() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }
}

export class Mosquitto extends Proc {
  static async start(workdir) {
    const port = await freePort();
    const conf = path.join(workdir, 'mosquitto.conf');
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n`);
    const m = new Mosquitto('mosquitto', ['mosquitto', '-c', conf], workdir);
    m.port = port;
    await waitFor(async () => (await portOpen(port)) || !m.alive(), { timeout: 10_000, what: 'mosquitto port' });
    if (!m.alive()) throw new Error(`mosquitto failed to start:\n${m.output()}`);
    return m;
  }
}

export function shippedConfig() {
  return JSON.parse(fs.readFileSync(path.join(SOURCE_DIR, 'examples', 'bridge.json'), 'utf8'));
}

/**
 * The real bridge with a config made from examples/bridge.json: broker on
 * mqttPort, anonymous MQTT, listen on 127.0.0.1:port, static_dir =
 * examples/dashboard, no `auth` (open development mode) unless jwtSecret is
 * given (HS256), overrides merged one level deep (null removes a key).
 */
export class Bridge extends Proc {
  static async start(workdir, mqttPort, { port, jwtSecret, overrides = {} } = {}) {
    port = port || await freePort();
    const cfg = shippedConfig();
    cfg.mqtt = { ...cfg.mqtt, uri: `tcp://127.0.0.1:${mqttPort}`, client_id: `sb-browser-${crypto.randomBytes(4).toString('hex')}` };
    delete cfg.mqtt.username;
    delete cfg.mqtt.password;
    delete cfg.mqtt.password_file;
    cfg.listen = { ...cfg.listen, host: '127.0.0.1', port, static_dir: path.join(SOURCE_DIR, 'examples', 'dashboard') };
    cfg.schemas_dir = path.join(SOURCE_DIR, 'schemas');
    // SIGTERM closes every client at once (no drain window) unless a test says otherwise
    cfg.limits = { ...cfg.limits, drain_s: 0 };
    delete cfg.pusher;
    if (jwtSecret) {
      cfg.auth = { jwt_alg: 'HS256', jwt_secret: jwtSecret, jwt_secret_file: null, jwt_public_key_file: null, issuer: null, audience: null };
    } else {
      delete cfg.auth;
    }
    for (const [k, v] of Object.entries(overrides)) {
      if (v === null) delete cfg[k];
      else if (v && typeof v === 'object' && !Array.isArray(v) && cfg[k] && typeof cfg[k] === 'object') cfg[k] = { ...cfg[k], ...v };
      else cfg[k] = v;
    }
    const configPath = path.join(workdir, `bridge-${port}.json`);
    fs.writeFileSync(configPath, JSON.stringify(cfg, null, 1));
    const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1' };
    const b = new Bridge(`bridge-${port}`, [binary('statusbus-bridge'), '-c', configPath], workdir, env);
    b.port = port;
    b.config = cfg;
    b.http = `http://127.0.0.1:${port}`;
    b.url = `ws://127.0.0.1:${port}/v1/ws`;
    await b.waitHealthy();
    return b;
  }

  async waitHealthy(timeout = 15_000) {
    await waitFor(async () => (await this.health()) === 200 || !this.alive(), { timeout, what: `bridge :${this.port} /healthz 200` });
    if (!this.alive()) throw new Error(`bridge exited (${this.exitCode}):\n${this.output()}`);
  }

  /** Status code of GET /healthz, 0 when unreachable. */
  async health() {
    try {
      const r = await fetch(`${this.http}/healthz`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      return r.status;
    } catch {
      return 0;
    }
  }

  /** Starts it again on the same port and config. */
  async start() {
    this.restart();
    await this.waitHealthy();
  }
}

/** An HS256 JWT signed with secret (what statusbus-token mints). */
export function mintToken(secret, { sub = 'browser', teams = ['42'], ttl = 3600, channels } = {}) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub, teams, iat: now, exp: now + ttl };
  if (channels) claims.channels = channels;
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${crypto.createHmac('sha256', secret).update(head).digest('base64url')}`;
}

/** One broker, bridges, a browser; everything stopped by PID at the end. */
export class Stack {
  constructor(name) {
    this.name = name;
    this.workdir = fs.mkdtempSync(path.join(os.tmpdir(), `sbbrowser-${name}-`));
    this.procs = [];
    this.browserContext = null;
  }

  async start(bridgeOptions = {}) {
    this.mosq = await Mosquitto.start(this.workdir);
    this.procs.push(this.mosq);
    this.bridge = await this.startBridge(bridgeOptions);
    return this;
  }

  async startBridge(options = {}) {
    const b = await Bridge.start(this.workdir, this.mosq.port, options).catch((e) => {
      this.failedStart = e;
      throw e;
    });
    this.procs.push(b);
    return b;
  }

  /** mosquitto_pub one message (QoS 1).  payload: object (JSON) or string; '' with retain clears. */
  publish(topic, payload, { retain = false } = {}) {
    const msg = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const args = ['-h', '127.0.0.1', '-p', String(this.mosq.port), '-q', '1', '-t', topic];
    if (retain) args.push('-r');
    if (msg === '') args.push('-n');
    else args.push('-m', msg);
    const r = spawnSync('mosquitto_pub', args, { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`mosquitto_pub ${topic} failed: ${r.stderr}`);
  }

  /** Many messages to one topic in one mosquitto_pub -l (one line each, in order). */
  publishLines(topic, payloads) {
    const input = payloads.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('\n') + '\n';
    const r = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(this.mosq.port), '-q', '1', '-t', topic, '-l'],
      { input, encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) throw new Error(`mosquitto_pub -l ${topic} failed: ${r.stderr}`);
  }

  /** A fresh chromium (own user-data-dir) and one page at 1280×900 unless told. */
  async browser({ viewport = { width: 1280, height: 900 } } = {}) {
    const { chromium } = await import(path.join(SOURCE_DIR, 'tests', 'node_modules', 'playwright-core', 'index.mjs'));
    const userDataDir = fs.mkdtempSync(path.join(this.workdir, 'chromium-'));
    this.browserContext = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = this.browserContext.pages()[0] || await this.browserContext.newPage();
    this.consoleLines = [];
    page.on('console', (m) => this.consoleLines.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.consoleLines.push(`[pageerror] ${e.stack || e}`));
    return page;
  }

  async screenshot(page, name) {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  }

  async stop() {
    if (this.browserContext) {
      await this.browserContext.close().catch(() => {});
      this.browserContext = null;
    }
    for (const p of [...this.procs].reverse()) await p.stop();
  }

  dump() {
    for (const p of this.procs) {
      const how = p.alive() ? 'running' : p.stoppedByUs ? `stopped by the test: ${p.exitCode}` : `DIED on its own: ${p.exitCode}`;
      console.log(`\n===== ${p.name} (pid ${p.pid}, ${how}) log =====\n${p.output()}`);
    }
    if (this.consoleLines && this.consoleLines.length) console.log(`\n===== browser console =====\n${this.consoleLines.join('\n')}`);
  }

  cleanup() {
    fs.rmSync(this.workdir, { recursive: true, force: true });
  }
}

/**
 * Runs body(stack) on a started stack; on failure takes a screenshot of
 * `stack.page` (if set), prints every process log and the browser console,
 * and rethrows.  Always stops everything by PID.
 */
export async function withStack(name, body, startOptions = {}) {
  const stack = new Stack(name);
  try {
    await stack.start(startOptions);
    await body(stack);
    await stack.stop();
    stack.cleanup();
  } catch (e) {
    if (stack.page) await stack.screenshot(stack.page, `${name}-FAILED`).catch(() => {});
    await stack.stop().catch(() => {});
    stack.dump();
    throw e;
  }
}

/** The dashboard URL for team on bridge b. */
export function dashboardUrl(b, team = '42', extra = '') {
  return `${b.http}/?team=${encodeURIComponent(team)}${extra}`;
}

export function uuid() {
  return crypto.randomUUID();
}

export function nowTs() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}
