// SPDX-License-Identifier: MIT
// Module resolution for running the repository's JavaScript from its
// sources, without installing anything next to it:
//   node --import <this file> …
// `statusbus` is clients/js/statusbus.js and `@statusbus/react` is
// clients/react/src/index.js (the sources, not packed copies), and a bare
// specifier that resolves nowhere from its importer (react, react-dom,
// jsdom, mqtt, ws) comes from tests/node_modules, where the repository
// keeps its npm packages (scripts/setup.sh runs `npm ci` there).  Used by
// the @statusbus/react unit tests (one React for the tests and the code
// under test, as hooks need) and to run examples/node-publisher.

import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const SOURCES = {
  statusbus: new URL('../../clients/js/statusbus.js', import.meta.url).href,
  '@statusbus/react': new URL('../../clients/react/src/index.js', import.meta.url).href,
};
const TESTS = new URL('../package.json', import.meta.url).href;

// this file is both the --import preload (main thread) and the hooks module
if (isMainThread) register(import.meta.url);

export async function resolve(specifier, context, next) {
  if (Object.hasOwn(SOURCES, specifier)) return next(SOURCES[specifier], context);
  try {
    return await next(specifier, context);
  } catch (e) {
    const bare = !/^(\.|\/|[a-z]+:)/i.test(specifier);
    if (!bare || e.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    return next(specifier, { ...context, parentURL: TESTS });
  }
}
