// SPDX-License-Identifier: MIT
// The npm packages as a user gets them: `npm pack` of clients/js
// (statusbus) and clients/react (@statusbus/react) gives tarballs whose
// files are what package.json's exports name, and the two install offline
// into a fresh CommonJS project and a fresh ES module project, where
// statusbus with `ws` talks to a real bridge (statuses live, a deploy log
// from history) and the hooks render with that bus.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { uuid, nowTs } from '../browser/stack.mjs';
import { sharedStack, packOurs, packInstalled, freshProject, runNode } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { stack: getStack, logged } = sharedStack('packages');

let work;
let ours;
let theirs;

before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'sbpackages-'));
  ours = packOurs(work);
  theirs = packInstalled(['ws', 'react', 'react-dom', 'scheduler'], work);
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Every file a package.json entry point names, without the leading ./ */
function entryFiles(pkg) {
  const files = new Set([pkg.main, pkg.module, pkg.types]);
  const walk = (v) => {
    if (typeof v === 'string') files.add(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(pkg.exports);
  return [...files].filter(Boolean).map((f) => f.replace(/^\.\//, ''));
}

test('the tarballs hold exactly what their entry points name, plus README and package.json', () => {
  for (const [dir, packed] of [['js', ours.statusbus], ['react', ours.react]]) {
    const pkg = JSON.parse(fs.readFileSync(path.join(here, '..', '..', 'clients', dir, 'package.json'), 'utf8'));
    assert.equal(packed.name, pkg.name);
    for (const f of entryFiles(pkg)) assert.ok(packed.files.includes(f), `${pkg.name}: ${f} is in the tarball`);
    assert.ok(packed.files.includes('README.md'), `${pkg.name}: README.md`);
    assert.ok(!packed.files.some((f) => f.startsWith('test/')), `${pkg.name}: no tests in the tarball`);
  }
  assert.equal(ours.statusbus.name, 'statusbus');
  assert.equal(ours.react.name, '@statusbus/react');
});

for (const type of ['commonjs', 'module']) {
  test(`a fresh ${type} project: install from the tarballs, statusbus + ws against the real bridge, hooks render`, () => logged(async () => {
    const stack = getStack();
    const proj = freshProject(work, `fresh-${type}`, type, [ours.statusbus, ours.react, ...theirs]);
    for (const f of ['run.cjs', 'main.cjs', 'main.mjs']) fs.copyFileSync(path.join(here, 'consumer', f), path.join(proj, f));
    const team = '42';
    const app = uuid();
    const deploy = uuid();
    stack.publish(`team/${team}/app/${app}/status`, { ts: nowTs(), status: 'running', name: 'api' }, { retain: true });
    stack.publish(`team/${team}/deploy/${deploy}/status`, { ts: nowTs(), status: 'running', progress: 10, app }, { retain: true });

    const run = await runNode([type === 'module' ? 'main.mjs' : 'main.cjs'], proj, {
      env: { SB_URL: stack.bridge.url, SB_TEAM: team, SB_DEPLOY: deploy, SB_APP: app },
      onLine: (line) => {
        if (line !== 'live') return;
        // both subscriptions are acknowledged, so live: what follows reaches the project
        stack.publish(`team/${team}/app/${app}/status`, { ts: nowTs(), status: 'exited', old_status: 'running', name: 'api' }, { retain: true });
        stack.publishLines(`deploy/${deploy}/logs`, [1, 2, 3, 4, 5].map((seq) => ({ seq, ts: nowTs(), level: 'info', stream: 'stdout', msg: `line ${seq}` })));
      },
    });
    assert.equal(run.code, 0, `consumer exited 0\n${run.stdout}\n${run.stderr}`);
    const last = run.stdout.trim().split('\n').at(-1);
    assert.match(last, /^result /);
    const r = JSON.parse(last.slice('result '.length));

    // the module system picked its own build from package.json's exports
    const inProject = (p) => path.join(proj, 'node_modules', p);
    if (type === 'module') {
      assert.equal(r.resolved.statusbus, pathToFileURL(inProject('statusbus/statusbus.js')).href);
      assert.equal(r.resolved.react, pathToFileURL(inProject('@statusbus/react/src/index.js')).href);
    } else {
      assert.equal(r.resolved.statusbus, inProject('statusbus/dist/statusbus.cjs'));
      assert.equal(r.resolved.react, inProject('@statusbus/react/dist/index.cjs'));
    }
    assert.equal(r.statuses[`team/${team}/app/${app}/status`], 'exited');
    assert.deepEqual(r.lines, [1, 2, 3, 4, 5]);
    assert.equal(r.state, 'connected');
    assert.equal(r.closed, 'offline');
    assert.equal(r.html, '<p>connected/pending</p>');
    assert.deepEqual(r.errors, []);
  }));
}
