// SPDX-License-Identifier: MIT
// What a fresh project does with the installed packages (copied into it by
// tests/node/packages.test.mjs; main.cjs and main.mjs load the packages
// with require or import and hand them over): connects to the bridge at
// SB_URL with `ws`, subscribes team.<SB_TEAM> and deploy.<SB_DEPLOY>.logs
// (since 0), prints "live" once both are acknowledged, waits for the
// test's publishes (app SB_APP "exited", lines 1..5), renders the hooks on
// the server with the same bus, and prints "result <json>".

const DEADLINE_MS = 30_000;

async function until(cond, what) {
  const end = Date.now() + DEADLINE_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

module.exports = async function run({ StatusBus, WebSocket, React, renderToString, hooks, resolved }) {
  const { SB_URL, SB_TEAM, SB_DEPLOY, SB_APP } = process.env;
  const bus = new StatusBus({ url: SB_URL, WebSocket });
  const errors = [];
  bus.on('error', (e) => errors.push(e.code));
  const statuses = {};
  const lines = [];
  const team = bus.subscribe(`team.${SB_TEAM}`, (ev) => { statuses[ev.topic] = ev.data && ev.data.status; });
  const logs = bus.subscribe(`deploy.${SB_DEPLOY}.logs`, (ev) => lines.push(ev.event === 'gap' ? `gap` : ev.data.seq), { since: 0 });
  await bus.connect();
  await Promise.all([team.ready, logs.ready]);
  console.log('live');
  const appTopic = `team/${SB_TEAM}/app/${SB_APP}/status`;
  await until(() => statuses[appTopic] === 'exited' && lines.length >= 5, 'the exited status and 5 log lines');

  const h = React.createElement;
  function View() {
    const conn = hooks.useConnectionState();
    const { state } = hooks.useRealtimeStatus(SB_TEAM);
    return h('p', null, `${conn}/${state}`);
  }
  const html = renderToString(h(hooks.StatusBusProvider, { bus }, h(View)));
  const state = bus.state;
  bus.close();
  console.log(`result ${JSON.stringify({ resolved, statuses, lines, html, state, closed: bus.state, errors })}`);
};
