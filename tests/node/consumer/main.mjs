// SPDX-License-Identifier: MIT
// The ES module consumer: import of the installed packages (see run.cjs).
import { StatusBus } from 'statusbus';
import WebSocket from 'ws';
import React from 'react';
import ReactDOMServer from 'react-dom/server';
import * as hooks from '@statusbus/react';
import run from './run.cjs';

const resolved = { statusbus: import.meta.resolve('statusbus'), react: import.meta.resolve('@statusbus/react') };
run({ StatusBus, WebSocket, React, renderToString: ReactDOMServer.renderToString, hooks, resolved }).catch((e) => {
  console.error(e);
  process.exit(1);
});
