// SPDX-License-Identifier: MIT
// The Node tests' harness.  One stack (mosquitto + bridge, from
// tests/browser/stack.mjs) per test file, its logs printed when a test
// failed.  Tarballs and fresh projects for the package tests: `npm pack` of
// clients/js and clients/react (their prepack builds the CommonJS side),
// `npm pack` of the third-party packages a project needs from
// tests/node_modules (already installed by scripts/setup.sh's `npm ci`),
// and an `npm install --offline` of those tarballs into a new directory
// with nothing above it, so that nothing resolves from the repository.
// No registry is asked: every dependency is a local tarball.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { SOURCE_DIR, Stack, binary } from '../browser/stack.mjs';

const TESTS_MODULES = path.join(SOURCE_DIR, 'tests', 'node_modules');

/**
 * Starts a stack before the file's tests and stops it (by PID) after
 * them.  Returns {stack(), logged(body)}: logged runs a test body and, if
 * it throws, has the processes' logs printed at the end.
 */
export function sharedStack(name, startOptions = {}) {
  if (!binary('statusbus-bridge')) throw new Error('statusbus-bridge is not built (run scripts/setup.sh)');
  let stack;
  let failed = false;
  test.before(async () => {
    stack = new Stack(name);
    await stack.start(startOptions);
  });
  test.after(async () => {
    if (!stack) return;
    await stack.stop();
    if (failed) stack.dump();
    stack.cleanup();
  });
  return {
    stack: () => stack,
    async logged(body) {
      try {
        await body();
      } catch (e) {
        failed = true;
        throw e;
      }
    },
  };
}

function npm(args, cwd, cache) {
  const r = spawnSync('npm', [...args, '--cache', cache, '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=error'], {
    cwd, encoding: 'utf8', timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} in ${cwd} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** npm pack of dir into dest; returns {file, name, version, files: [paths in the tarball]}. */
export function pack(dir, dest, { ignoreScripts = false } = {}) {
  const args = ['pack', '--json', '--pack-destination', dest];
  if (ignoreScripts) args.push('--ignore-scripts');
  const [info] = JSON.parse(npm(args, dir, path.join(dest, '.npm-cache')));
  return { file: path.join(dest, info.filename), name: info.name, version: info.version, files: info.files.map((f) => f.path) };
}

/** The repository's two packages, packed as a user would (prepack builds dist/). */
export function packOurs(dest) {
  return {
    statusbus: pack(path.join(SOURCE_DIR, 'clients', 'js'), dest),
    react: pack(path.join(SOURCE_DIR, 'clients', 'react'), dest),
  };
}

/** Third-party packages as installed in tests/node_modules, packed (no scripts run); a list. */
export function packInstalled(names, dest) {
  return names.map((name) => pack(path.join(TESTS_MODULES, name), dest, { ignoreScripts: true }));
}

/**
 * A new project dir/name of the given module type ("commonjs" | "module")
 * depending on tarballs (a list of what pack() returned), installed offline.
 */
export function freshProject(dir, name, type, tarballs) {
  const proj = path.join(dir, name);
  fs.mkdirSync(proj, { recursive: true });
  const dependencies = Object.fromEntries(tarballs.map((t) => [t.name, `file:${t.file}`]));
  fs.writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name, private: true, type, dependencies }, null, 2));
  npm(['install', '--offline', '--ignore-scripts'], proj, path.join(dir, '.npm-cache'));
  return proj;
}

/**
 * Runs `node ...args` in cwd; onLine(line, child) gets each stdout line.
 * Resolves with {code, stdout, stderr}; the child is killed (by PID) after
 * timeout ms.
 */
export function runNode(args, cwd, { env = {}, onLine = () => {}, timeout = 60_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      stdout += `${line}\n`;
      onLine(line, child);
    });
    const timer = setTimeout(() => { stderr += `\n[killed after ${timeout} ms]`; child.kill('SIGKILL'); }, timeout);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout, stderr });
    });
  });
}
