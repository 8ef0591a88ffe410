// SPDX-License-Identifier: MIT
// The CommonJS consumer: require() of the installed packages (see run.cjs).
const { StatusBus } = require('statusbus');
const WebSocket = require('ws');
const React = require('react');
const { renderToString } = require('react-dom/server');
const hooks = require('@statusbus/react');
const run = require('./run.cjs');

const resolved = { statusbus: require.resolve('statusbus'), react: require.resolve('@statusbus/react') };
run({ StatusBus, WebSocket, React, renderToString, hooks, resolved }).catch((e) => {
  console.error(e);
  process.exit(1);
});
