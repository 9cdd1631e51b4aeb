import { HttpSignaling, WebSocketSignaling } from './signaling.js';

const $ = (id) => document.getElementById(id);
let signaling = null;
let connectionId = null;

function log(text) {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('log').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

function setState(state) {
  $('state').textContent = state;
  $('state').dataset.state = state;
}

async function loadConfig() {
  const res = await fetch('/config');
  const config = await res.json();
  $('transport').textContent = config.useWebSocket ? 'WebSocket' : 'HTTP polling';
  $('mode').textContent = config.startupMode;
  const ice = config.iceServers ?? [];
  $('ice').textContent = ice.length ? ice.flatMap((s) => s.urls).join(', ') : 'none configured';
  return config;
}

async function connect() {
  const config = await loadConfig();
  const base = `${location.protocol}//${location.host}`;
  signaling = config.useWebSocket
    ? new WebSocketSignaling(base.replace(/^http/, 'ws'))
    : new HttpSignaling(base);
  signaling.onstate = (state) => { setState(state); log(`signaling ${state}`); };
  signaling.onmessage = (m) => {
    if (m.type === 'connect') $('role').textContent = m.polite ? '(polite)' : '(impolite)';
    if (m.type === 'error') setState('error');
    log(`${m.type}${m.message ? `: ${m.message}` : ''}`);
  };
  setState('connecting');
  await signaling.start();
  connectionId = crypto.randomUUID();
  $('connection-id').textContent = connectionId;
  await signaling.connect(connectionId);
  $('connect').disabled = true;
  $('disconnect').disabled = false;
}

$('connect').addEventListener('click', () => connect().catch((e) => { setState('error'); log(e.message); }));
$('disconnect').addEventListener('click', async () => {
  await signaling.disconnect(connectionId);
  signaling.stop();
  $('connect').disabled = false;
  $('disconnect').disabled = true;
});
// Connect straight away, the way the full client will; the buttons allow a manual retry.
connect().catch((e) => { setState('error'); log(e.message); });
