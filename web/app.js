// The SPARC-P viewer: shows the renderer's video, carries the clinician's chat to it over the data channel
// and shows what comes back. The data-channel protocol and the page's states are in docs/web-client.md.

import { Microphone } from './mic.js';
import { Session } from './session.js';
import { StatsSampler, formatStats } from './stats.js';

const $ = (id) => document.getElementById(id);

const STATE_TEXT = {
  idle: 'Not connected.',
  connecting: 'Connecting to the server…',
  waiting: 'Waiting for a renderer…',
  'no-renderer': 'No renderer is free right now — try again in a minute',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  'signaling-lost': 'Connection to the server lost — reconnecting…',
  'ice-failed': "Could not reach the renderer's media — a TURN server may be needed on this network",
  ended: 'The session has ended.',
  error: 'The server refused the connection.',
};
const DETAIL_TEXT = {
  restoring: 'Reconnected to the server — restoring the session…',
  media: 'The video connection was interrupted — reconnecting…',
};
/** States in which the Connect button offers a fresh start. */
const RESTARTABLE = new Set(['idle', 'ended', 'error', 'ice-failed', 'no-renderer']);

let session = null;
let sessionTerminated = false;
let thinkingTimer = null;
const remote = new MediaStream();
const video = $('video');
// srcObject is set when the first track arrives: a media element with an empty stream would hold back the
// page's load event for as long as no renderer answers.

function log(text) {
  console.debug(`[sparc] ${text}`);
}

const history = [];  // [{state, detail, at}] for tests and debugging

function setBanner(state, detail = '') {
  history.push({ state, detail, at: Math.round(performance.now()) });
  if (history.length > 200) history.shift();
  const banner = $('state');
  banner.dataset.state = state;
  const text = (detail && (DETAIL_TEXT[detail] || (state === 'ended' || state === 'error' ? detail : ''))) ||
    STATE_TEXT[state] || state;
  $('state-text').textContent = text;
  $('connect').hidden = !RESTARTABLE.has(state);
  $('connect').textContent = state === 'idle' ? 'Connect' : state === 'ended' ? 'New session' : 'Try again';
  if (state === 'ended') clearVideo('The session has ended.');
  $('disconnect').disabled = !session || state === 'ended' || state === 'idle';
}

async function fetchConfig() {
  const res = await fetch('/config', { cache: 'no-store', signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`/config: ${res.status}`);
  return res.json();
}

function showConfig(c) {
  $('transport').textContent = c.useWebSocket ? 'WebSocket' : 'HTTP polling';
  $('mode').textContent = c.startupMode;
  const ice = Array.isArray(c.iceServers) ? c.iceServers : [];
  $('ice').textContent = ice.length ? ice.flatMap((s) => [].concat(s.urls)).join(', ') : 'none configured';
}

// ---- conversation, captions, coach, alerts -------------------------------------------------------------

function addTurn(who, text) {
  const item = document.createElement('li');
  item.className = `turn turn--${who}`;
  const name = document.createElement('span');
  name.className = 'turn-who';
  name.textContent = who === 'clinician' ? 'You' : 'Caregiver';
  const body = document.createElement('p');
  body.className = 'turn-text';
  body.textContent = text;
  item.append(name, body);
  $('conversation').append(item);
  $('conversation-empty').hidden = true;
  item.scrollIntoView({ block: 'nearest' });
}

function setThinking(on) {
  clearTimeout(thinkingTimer);
  $('thinking').hidden = !on;
  if (on) thinkingTimer = setTimeout(() => setThinking(false), 30000);
}

function showAlert(kind, text, extra = '') {
  const item = document.createElement('div');
  item.className = `alert alert--${kind}`;
  const title = document.createElement('strong');
  title.textContent = kind === 'supervisor' ? 'Supervisor' : kind === 'error' ? 'Problem' : 'Notice';
  const body = document.createElement('span');
  body.textContent = text;
  item.append(title, body);
  if (extra) {
    const more = document.createElement('span');
    more.className = 'alert-extra';
    more.textContent = extra;
    item.append(more);
  }
  const dismiss = document.createElement('button');
  dismiss.type = 'button';
  dismiss.className = 'alert-dismiss';
  dismiss.textContent = 'Dismiss';
  dismiss.setAttribute('aria-label', `Dismiss: ${text}`);
  dismiss.addEventListener('click', () => { item.remove(); $('chat-input').focus(); });
  item.append(dismiss);
  // One alert of each kind at a time: the newest replaces the last, so the region stays short.
  for (const old of $('alerts').querySelectorAll(`.alert--${kind}`)) old.remove();
  $('alerts').prepend(item);
}

function showCoach(feedback) {
  const text = typeof feedback === 'string' ? feedback
    : feedback && typeof feedback === 'object' ? (feedback.summary ?? feedback.text ?? JSON.stringify(feedback)) : '';
  if (!text) return;
  $('coach-text').textContent = text;
  $('coach-text').classList.remove('muted');
  $('coach').classList.add('coach--fresh');
  setTimeout(() => $('coach').classList.remove('coach--fresh'), 1500);
}

/** A new session is a new conversation. */
function resetConversation() {
  $('conversation').replaceChildren();
  $('conversation-empty').hidden = false;
  $('caption').textContent = '';
  $('alerts').replaceChildren();
  $('warning-count').hidden = true;
  $('coach-text').textContent = 'Feedback on your communication appears here when the coach grades a turn.';
  $('coach-text').classList.add('muted');
  setNotice('info', '');
}

function setNotice(level, text) {
  $('notice').textContent = text;
  $('notice').dataset.level = level;
  $('notice').hidden = !text;
}

function onChannelMessage(m) {
  switch (m.type) {
    case 'thinking':
      setThinking(true);
      break;
    case 'caption':
      $('caption').textContent = typeof m.text === 'string' ? m.text : '';
      break;
    case 'status': {
      const message = typeof m.message === 'string' ? m.message : '';
      if (m.level === 'warning' || m.level === 'error') showAlert(m.level === 'error' ? 'error' : 'warning', message);
      else setNotice('info', message);
      break;
    }
    case 'reply': {
      setThinking(false);
      if (typeof m.text === 'string' && m.text.trim()) addTurn('caregiver', m.text);
      if (m.coach_feedback !== undefined && m.coach_feedback !== null) showCoach(m.coach_feedback);
      const count = Number.isInteger(m.warning_count) ? m.warning_count : 0;
      if (count > 0) {
        $('warning-count').textContent = `Conduct warnings this session: ${count}`;
        $('warning-count').hidden = false;
      }
      if (typeof m.ui_message === 'string' && m.ui_message.trim()) {
        showAlert('supervisor', m.ui_message, count > 0 && m.session_terminated !== true ? `Warning ${count}` : '');
      }
      if (m.session_terminated === true) {
        sessionTerminated = true;
        setChatEnabled(false);
        session?.end('The supervisor ended this session.');
      }
      break;
    }
    default:
      break;  // unknown types are for someone else
  }
}

// ---- chat -----------------------------------------------------------------------------------------------

function setChatEnabled(open) {
  const enabled = open && !sessionTerminated;
  $('chat-fields').disabled = !enabled;
  $('chat-hint').textContent = sessionTerminated ? 'This session has ended; messages can no longer be sent.'
    : enabled ? 'Press Enter to send.' : 'You can type once the caregiver is connected.';
}

/** Sends the clinician's turn to the renderer; false when there is no connection to carry it. */
function sendChat(text) {
  if (!session?.send({ type: 'chat', text })) {
    setNotice('info', 'Not connected yet — your message was not sent.');
    return false;
  }
  setNotice('info', '');
  addTurn('clinician', text);
  return true;
}

$('chat-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  if (!text) return;
  if (!sendChat(text)) return;
  input.value = '';
  input.focus();
});

// ---- microphone: speech to the backend's recognizer, the final text becomes the turn ----------------------

let mic = null;

function setupMicrophone(c) {
  const url = typeof c.speechUrl === 'string' ? c.speechUrl : '';
  $('mic').hidden = !url || !navigator.mediaDevices?.getUserMedia;
  if (!url || mic?.url === url) return;
  mic = new Microphone(url, { oninterim: (text) => { $('chat-input').placeholder = text; }, log });
}

function setListening(on) {
  $('mic').setAttribute('aria-pressed', String(on));
  $('mic').textContent = on ? 'Stop' : 'Speak';
  $('chat-hint').textContent = on ? 'Listening… press Stop when you have finished speaking.' : 'Press Enter to send.';
  if (!on) $('chat-input').placeholder = '';
}

$('mic').addEventListener('click', async () => {
  if (!mic) return;
  if (!mic.active) {
    setListening(true);
    try {
      await mic.start();
    } catch (e) {
      setListening(false);
      await mic.stop().catch(() => {});
      setNotice('info', `The microphone could not start: ${e.message}`);
    }
    return;
  }
  $('mic').disabled = true;
  try {
    const text = await mic.stop();
    if (text) sendChat(text);
    else setNotice('info', 'Nothing was recognised — try again, or type your message.');
  } catch (e) {
    setNotice('info', `Speech recognition failed (${e.message}) — please type your message.`);
  } finally {
    $('mic').disabled = false;
    setListening(false);
  }
});

// ---- video, mute, stats ---------------------------------------------------------------------------------

function onTrack({ track }) {
  // Tracks of a replaced connection end without an 'ended' event: keep only the current connection's.
  const live = new Set(session?.pc?.getReceivers().map((r) => r.track) ?? []);
  for (const t of remote.getTracks()) if (!live.has(t) || t.readyState === 'ended') remote.removeTrack(t);
  if (!remote.getTrackById(track.id)) remote.addTrack(track);
  if (video.srcObject !== remote) video.srcObject = remote;
  track.addEventListener('ended', () => remote.removeTrack(track));
  video.play().catch(() => {});
}

function updatePlaceholder() {
  $('video-placeholder').hidden = video.videoWidth > 0 && remote.getVideoTracks().length > 0;
}

/** Drop the last picture (a frozen frame would look like a live session) and say why. */
function clearVideo(text) {
  for (const t of remote.getTracks()) remote.removeTrack(t);
  video.srcObject = null;
  $('video-placeholder').textContent = text;
  updatePlaceholder();
}
for (const e of ['playing', 'resize', 'loadedmetadata', 'emptied']) video.addEventListener(e, updatePlaceholder);

function setMuted(muted) {
  video.muted = muted;
  if (!muted) video.play().catch(() => {});
  const button = $('unmute');
  button.textContent = muted ? 'Unmute' : 'Mute';
  button.setAttribute('aria-label', muted ? 'Unmute the caregiver' : 'Mute the caregiver');
  button.classList.toggle('is-muted', muted);
}
$('unmute').addEventListener('click', () => setMuted(!video.muted));

const sampler = new StatsSampler(() => session?.pc, (s) => {
  const f = formatStats(s);
  $('stat-fps').textContent = f.fps;
  $('stat-bitrate').textContent = f.bitrate;
  $('stat-rtt').textContent = f.rtt;
  $('stat-codec').textContent = f.codec;
  $('stat-resolution').textContent = f.resolution;
});

function setStatsVisible(on) {
  $('stats').hidden = !on;
  $('stats-toggle').setAttribute('aria-pressed', String(on));
  if (on) sampler.start(); else sampler.stop();
}
$('stats-toggle').addEventListener('click', () => setStatsVisible($('stats').hidden));

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const t = event.target;
  if (t instanceof HTMLElement && (t.isContentEditable || t.closest('input, textarea, select'))) return;
  if (event.key === 's' || event.key === 'S') { setStatsVisible($('stats').hidden); event.preventDefault(); }
  if (event.key === 'm' || event.key === 'M') { setMuted(!video.muted); event.preventDefault(); }
});

// ---- session life cycle ---------------------------------------------------------------------------------

function privateIdFromUrl() {
  const id = new URLSearchParams(location.search).get('id');
  return id && id.trim() ? id.trim() : null;
}

function askForPrivateId() {
  setBanner('error', 'This is a private session: open the link you were given, or enter its session code below.');
  $('id-form').hidden = false;
  $('connect').hidden = true;
  $('id-input').focus();
}

$('id-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const id = $('id-input').value.trim();
  if (!id) return;
  const url = new URL(location.href);
  url.searchParams.set('id', id);
  location.assign(url);
});

let startRetry = null;
let startBackoffMs = 1000;

async function startSession() {
  clearTimeout(startRetry);
  session?.end();
  session = null;
  clearVideo("The caregiver's video appears here once connected.");
  resetConversation();
  sessionTerminated = false;
  setThinking(false);
  setChatEnabled(false);
  setBanner('connecting');
  let c;
  try {
    c = await fetchConfig();
  } catch {
    // The server is not reachable yet: say so and try again, 1 s doubling to 10 s.
    setBanner('signaling-lost');
    clearTimeout(startRetry);
    startRetry = setTimeout(startSession, startBackoffMs);
    startBackoffMs = Math.min(startBackoffMs * 2, 10000);
    return;
  }
  startBackoffMs = 1000;
  showConfig(c);
  setupMicrophone(c);
  const privateMode = c.startupMode === 'private';
  let connectionId = crypto.randomUUID();
  if (privateMode) {
    connectionId = privateIdFromUrl();
    if (!connectionId) { askForPrivateId(); return; }
  }
  $('id-form').hidden = true;
  const s = new Session({ origin: location.origin, connectionId, privateMode, fetchConfig, log });
  session = s;
  $('connection-id').textContent = connectionId;
  $('role').textContent = '';
  s.onconfig = showConfig;
  s.onrole = (polite) => {
    $('role').textContent = polite === null ? '' : polite ? 'polite' : 'impolite';
    $('connection-id').textContent = s.connectionId;
  };
  s.onstate = (state, detail) => { if (session === s) setBanner(state, detail); };
  s.ontrack = onTrack;
  s.onchannelmessage = onChannelMessage;
  s.onchannelstate = (open) => setChatEnabled(open && !s.ended);
  await s.start();
}

$('connect').addEventListener('click', () => startSession());
$('disconnect').addEventListener('click', () => {
  session?.end('You ended the session.');
  setChatEnabled(false);
});
window.addEventListener('pagehide', () => session?.end());

// For tests and for debugging from the console.
window.__sparc = {
  get session() { return session; },
  get pc() { return session?.pc ?? null; },
  get state() { return session?.state ?? 'idle'; },
  get connectionId() { return session?.connectionId ?? null; },
  get negotiations() { return session?.negotiations ?? 0; },
  get microphone() { return mic; },
  history,
  video,
};

setMuted(true);
setStatsVisible(false);
setChatEnabled(false);
setBanner('idle');
startSession();
