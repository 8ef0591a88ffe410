// SPDX-License-Identifier: MIT
// A small React app on @statusbus/react for tests/browser/react.test.mjs,
// bundled by esbuild from the sources (statusbus.js, the hooks) with the
// React of tests/node_modules.  ?team=…&deploy=…&max=… choose what it
// shows; everything the test reads is in data- attributes.  It runs in
// StrictMode, so every effect is set up, cleaned up and set up again.

import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { StatusBusProvider, useConnectionState, useRealtimeStatus, useLogStream } from '@statusbus/react';

const params = new URLSearchParams(location.search);
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;

function Conn() {
  const state = useConnectionState();
  return <div id="conn" data-state={state}>{state}</div>;
}

function Team({ team }) {
  const { statuses, state, error } = useRealtimeStatus(team);
  const rows = Object.values(statuses).sort((a, b) => a.topic.localeCompare(b.topic));
  return (
    <ul id="team" data-state={state} data-error={error ? error.code : ''}>
      {rows.map((ev) => (
        <li key={ev.topic} data-topic={ev.topic} data-status={ev.data.status}>
          {ev.data.name ?? ev.topic}: {ev.data.status}
        </li>
      ))}
    </ul>
  );
}

function Logs({ deploy, maxLines }) {
  const log = useLogStream(`deploy.${deploy}.logs`, { maxLines });
  return (
    <section id="logs" data-state={log.state} data-paused={String(log.paused)} data-buffered={log.buffered} data-dropped={log.dropped}>
      <button id="pause" type="button" onClick={log.paused ? log.resume : log.pause}>
        {log.paused ? `Resume (${log.buffered} new)` : 'Pause'}
      </button>
      <div id="lines">
        {log.lines.map((e) => (e.kind === 'gap'
          ? <div key={e.key} className="gap" data-from={e.from} data-to={e.to}>… {e.to - e.from + 1} lines missing …</div>
          : <div key={e.key} className="line" data-seq={e.seq}>{e.seq} {e.data.msg}</div>))}
      </div>
    </section>
  );
}

function App() {
  const [showLogs, setShowLogs] = useState(true);
  return (
    <StatusBusProvider url={wsUrl}>
      <Conn />
      <Team team={params.get('team')} />
      <button id="toggle-logs" type="button" onClick={() => setShowLogs((v) => !v)}>{showLogs ? 'Hide log' : 'Show log'}</button>
      {showLogs && <Logs deploy={params.get('deploy')} maxLines={Number(params.get('max')) || 1000} />}
    </StatusBusProvider>
  );
}

const root = createRoot(document.getElementById('root'));
root.render(<StrictMode><App /></StrictMode>);
// the test unmounts everything to see every subscription and the socket go
window.unmountApp = () => root.unmount();
