// A test double for the render side (the Unity player, or sparc-stream), run in its own Chromium page served
// from the signaling server's origin. It speaks the Unity Render Streaming signaling protocol on its own (it
// shares no code with web/, so a bug there cannot hide itself), and streams a canvas and an oscillator.
//
// URL query:
//   receiver=1   behave like Unity's Receiver sample: answer without media, then offer again adding the tracks
//   swap=1       send candidates with sdpMid and sdpMLineIndex swapped, as Unity's browser client does (quirk Q5)
//   nocand=1     send no ICE candidates and ignore the viewer's (so the media path can never open)
//   id=ID        private mode: the connection id to open (the renderer then offers)
//   echo=MS      delay before the chat reply (default 200)
//   streamer=N   join sparc-signal's streamer registry as N (WebSocket URL /?role=streamer&name=N)
//
// Public mode: every offer seen is answered, keyed by its connectionId (one peer per viewer).
// Data channel: {"type":"chat","text":T} gets {"type":"thinking"}, then a caption and
// {"type":"reply","text":"You said: T",...}. window.fake.broadcast(obj) sends any message to every viewer.

const params = new URLSearchParams(location.search);
const RECEIVER = params.get('receiver') === '1';
const SWAP = params.get('swap') === '1';
const NO_CANDIDATES = params.get('nocand') === '1';
const PRIVATE_ID = params.get('id');
const ECHO_MS = Number(params.get('echo') ?? 200);
const STREAMER = params.get('streamer');
const RESEND_MS = 5000;

const logLines = [];
function log(text) {
  logLines.push(`${(performance.now() / 1000).toFixed(2)} ${text}`);
  if (logLines.length > 400) logLines.shift();
  document.getElementById('log').textContent = logLines.slice(-40).join('\n');
}

// ---- media: a moving pattern with a frame counter, and a 440 Hz tone ----
const canvas = document.getElementById('canvas');
const g = canvas.getContext('2d');
let frame = 0;
function draw() {
  frame += 1;
  const { width: w, height: h } = canvas;
  const grad = g.createLinearGradient(0, 0, w, h);
  grad.addColorStop(0, '#1f5f8b');
  grad.addColorStop(1, '#3a9a8f');
  g.fillStyle = grad;
  g.fillRect(0, 0, w, h);
  const x = (w / 2) + Math.sin(frame / 20) * (w / 3);
  const y = (h / 2) + Math.cos(frame / 27) * (h / 4);
  g.fillStyle = '#f4d35e';
  g.beginPath();
  g.arc(x, y, 42, 0, Math.PI * 2);
  g.fill();
  g.fillStyle = 'rgba(255,255,255,.9)';
  for (let i = 0; i < 8; i++) g.fillRect(((frame * 4) + i * 80) % w, h - 24, 40, 12);
  g.fillStyle = '#ffffff';
  g.font = 'bold 28px sans-serif';
  g.fillText(`frame ${frame}`, 24, 44);
  g.font = '18px sans-serif';
  g.fillText('fake renderer', 24, 72);
}
draw();
setInterval(draw, 1000 / 30);
const media = canvas.captureStream(30);
const audioContext = new AudioContext();
const osc = audioContext.createOscillator();
osc.frequency.value = 440;
const gain = audioContext.createGain();
gain.gain.value = 0.1;
const dest = audioContext.createMediaStreamDestination();
osc.connect(gain).connect(dest);
osc.start();
audioContext.resume().catch(() => {});
media.addTrack(dest.stream.getAudioTracks()[0]);
const videoTrack = media.getVideoTracks()[0];
const audioTrack = media.getAudioTracks()[0];

// ---- signaling (its own small clients; reconnects while the server is away) ----
class WsSignal {
  constructor(url, onmessage, onlost) { Object.assign(this, { url, onmessage, onlost }); }
  start() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let open = false;
      ws.onopen = () => { open = true; resolve(); };
      ws.onclose = () => { if (!open) reject(new Error('refused')); else this.onlost(); };
      ws.onmessage = (e) => {
        let m;
        try { m = JSON.parse(e.data); } catch { return; }
        if (m.data) this.onmessage({ ...m.data, type: m.type, connectionId: m.from });
        else this.onmessage(m);
      };
    });
  }
  send(m) { if (this.ws.readyState === 1) this.ws.send(JSON.stringify(m)); }
  connect(id) { this.send({ type: 'connect', connectionId: id }); }
  offer(id, sdp) { this.send({ type: 'offer', from: id, data: { connectionId: id, sdp, type: 'offer', polite: false } }); }
  answer(id, sdp) { this.send({ type: 'answer', from: id, data: { connectionId: id, sdp, type: 'answer' } }); }
  candidate(id, c) { this.send({ type: 'candidate', from: id, data: { connectionId: id, ...c } }); }
}

class HttpSignal {
  constructor(onmessage, onlost) { Object.assign(this, { onmessage, onlost }); this.seen = new Set(); this.from = 0; }
  async req(method, path, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (this.sid) headers['Session-Id'] = this.sid;
    const r = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
    if (!r.ok) throw new Error(`${method} ${path} ${r.status}`);
    return (r.headers.get('Content-Type') || '').includes('json') ? r.json() : r.text();
  }
  async start() {
    this.sid = (await this.req('PUT', '/signaling')).sessionId;
    const loop = async () => {
      try {
        const { messages, datetime } = await this.req('GET', `/signaling?fromtime=${this.from}`);
        this.from = datetime;
        for (const m of messages) {
          if (m.type === 'connect') continue;
          const key = `${m.type}|${m.connectionId}|${m.datetime}|${m.sdp ?? ''}|${m.candidate ?? ''}`;
          if (this.seen.has(key)) continue;
          this.seen.add(key);
          this.onmessage(m);
        }
        this.timer = setTimeout(loop, 250);  // a player may poll faster than the page's 1 s
      } catch { this.onlost(); }
    };
    loop();
  }
  post(path, body) { this.req('POST', path, body).catch(() => {}); }
  async connect(id) { this.onmessage(await this.req('PUT', '/signaling/connection', { connectionId: id })); }
  offer(id, sdp) { this.post('/signaling/offer', { connectionId: id, sdp }); }
  answer(id, sdp) { this.post('/signaling/answer', { connectionId: id, sdp }); }
  candidate(id, c) { this.post('/signaling/candidate', { connectionId: id, ...c }); }
}

let signal = null;
let config = null;
const peers = new Map();  // connectionId -> state

async function openSignal() {
  try {
    config = await (await fetch('/config')).json();
    const s = config.useWebSocket
      ? new WsSignal(location.origin.replace(/^http/, 'ws') + '/' +
        (STREAMER ? `?role=streamer&name=${encodeURIComponent(STREAMER)}` : ''), onSignal, lost)
      : new HttpSignal(onSignal, lost);
    await s.start();
    signal = s;
    window.fake.signalOpens += 1;
    log(`signaling open (${config.useWebSocket ? 'ws' : 'http'}, ${config.startupMode})`);
    if (PRIVATE_ID) await s.connect(PRIVATE_ID);
  } catch (e) {
    log(`signaling failed: ${e.message}`);
    setTimeout(openSignal, 500);
  }
}

function lost() {
  if (!signal) return;
  log('signaling lost');
  clearTimeout(signal.timer);
  signal = null;
  setTimeout(openSignal, 500);
}

function onSignal(m) {
  if (m.type === 'connect' && PRIVATE_ID && m.connectionId === PRIVATE_ID) {
    const p = peers.get(PRIVATE_ID);
    if (p) { p.polite = m.polite; return; }
    const q = makePeer(PRIVATE_ID, m.polite);
    q.pc.addTrack(videoTrack, media);
    q.pc.addTrack(audioTrack, media);
    q.attached = true;
    return;
  }
  if (m.type === 'disconnect') {
    const p = peers.get(m.connectionId);
    if (p) { log(`disconnect ${m.connectionId}`); p.pc.close(); clearInterval(p.resend); peers.delete(m.connectionId); }
    return;
  }
  if (PRIVATE_ID && m.connectionId !== PRIVATE_ID) return;
  if (m.type === 'offer') onDescription(m.connectionId, { type: 'offer', sdp: m.sdp });
  else if (m.type === 'answer') onDescription(m.connectionId, { type: 'answer', sdp: m.sdp });
  else if (m.type === 'candidate') onCandidate(m.connectionId, m);
}

function makePeer(id, polite) {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  const p = { id, pc, polite, makingOffer: false, lastOffer: null, attached: false, channels: new Set(), pending: [] };
  peers.set(id, p);
  log(`peer ${id} (${polite ? 'polite' : 'impolite'})`);
  pc.onicecandidate = ({ candidate: c }) => {
    if (!c || !c.candidate || NO_CANDIDATES) return;
    const fields = SWAP ? { candidate: c.candidate, sdpMLineIndex: c.sdpMid, sdpMid: c.sdpMLineIndex }
      : { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex };
    signal?.candidate(id, fields);
  };
  pc.onnegotiationneeded = async () => {
    try {
      p.makingOffer = true;
      await pc.setLocalDescription();
      if (pc.signalingState === 'have-local-offer') { signal?.offer(id, pc.localDescription.sdp); log(`offer -> ${id}`); }
    } catch (e) { log(`offer failed: ${e.message}`); } finally { p.makingOffer = false; }
  };
  p.resend = setInterval(() => {
    if (pc.signalingState === 'have-local-offer') signal?.offer(id, pc.localDescription.sdp);
  }, RESEND_MS);
  pc.ondatachannel = ({ channel }) => wireChannel(p, channel);
  pc.onconnectionstatechange = () => log(`${id} ${pc.connectionState}`);
  return p;
}

function wireChannel(p, channel) {
  p.channels.add(channel);
  channel.onclose = () => p.channels.delete(channel);
  channel.onmessage = ({ data }) => {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    window.fake.received.push({ id: p.id, label: channel.label, message: m });
    if (m.type !== 'chat') return;
    channel.send(JSON.stringify({ type: 'thinking' }));
    setTimeout(() => {
      const text = `You said: ${m.text}`;
      channel.send(JSON.stringify({ type: 'caption', text }));
      channel.send(JSON.stringify({ type: 'reply', text, coach_feedback: null, ui_message: '', warning_count: 0,
        session_terminated: false }));
    }, ECHO_MS);
  };
}

/** Put our tracks on the transceivers the viewer's offer created (modern player / sparc-stream behaviour). */
function attachToOffer(p) {
  for (const t of p.pc.getTransceivers()) {
    const kind = t.receiver.track.kind;
    if (t.sender.track || t.currentDirection === 'stopped') continue;
    const track = kind === 'video' ? videoTrack : audioTrack;
    t.sender.replaceTrack(track);
    t.sender.setStreams(media);
    t.direction = 'sendonly';
  }
  p.attached = true;
}

async function onDescription(id, desc) {
  let p = peers.get(id);
  if (!p) {
    if (desc.type !== 'offer') return;
    p = makePeer(id, false);  // public mode: the player is the impolite side
  }
  const pc = p.pc;
  if (desc.type === 'offer' && desc.sdp === p.lastOffer && pc.signalingState === 'stable') {
    signal?.answer(id, pc.localDescription.sdp);  // a resend of an offer we answered
    return;
  }
  if (desc.type === 'answer' && pc.signalingState !== 'have-local-offer') return;
  // Perfect negotiation as Unity's peer.js does it: an answer being applied counts as stable.
  const stable = pc.signalingState === 'stable' || (pc.signalingState === 'have-local-offer' && p.answerPending);
  const collision = desc.type === 'offer' && (p.makingOffer || !stable);
  if (collision && !p.polite) {
    log(`glare on ${id}: ignoring the offer, offering again`);
    if (pc.signalingState === 'have-local-offer') signal?.offer(id, pc.localDescription.sdp);
    return;
  }
  try {
    p.answerPending = desc.type === 'answer';
    await pc.setRemoteDescription(desc);
    p.answerPending = false;
    if (desc.type === 'offer') {
      p.lastOffer = desc.sdp;
      if (!p.attached && !RECEIVER) attachToOffer(p);
      await pc.setLocalDescription();
      signal?.answer(id, pc.localDescription.sdp);
      log(`answer -> ${id}`);
      window.fake.answers += 1;
      if (!p.attached && RECEIVER) {
        // Unity's Receiver sample: the player adds its streams after the first answer, in new m-lines.
        p.attached = true;
        pc.addTransceiver(videoTrack, { direction: 'sendonly', streams: [media] });
        pc.addTransceiver(audioTrack, { direction: 'sendonly', streams: [media] });
      }
    } else {
      log(`answer <- ${id}`);
    }
    for (const c of p.pending.splice(0)) await addCandidate(p, c);
  } catch (e) {
    p.answerPending = false;
    log(`${desc.type} failed: ${e.message}`);
  }
}

async function addCandidate(p, m) {
  // Lenient, like the page: either field may hold the mid or the index, as a string or a number.
  const mids = [...(p.pc.remoteDescription?.sdp || '').matchAll(/^a=mid:(\S+)/gm)].map((x) => x[1]);
  let mid = [m.sdpMid, m.sdpMLineIndex].find((v) => typeof v === 'string' && mids.includes(v));
  if (mid === undefined) mid = mids[Number(m.sdpMLineIndex ?? m.sdpMid ?? 0)] ?? mids[0];
  try { await p.pc.addIceCandidate({ candidate: m.candidate, sdpMid: mid }); } catch (e) { log(`candidate: ${e.message}`); }
}

async function onCandidate(id, m) {
  const p = peers.get(id);
  if (!p || NO_CANDIDATES || !m.candidate) return;
  if (!p.pc.remoteDescription) { p.pending.push(m); return; }
  await addCandidate(p, m);
}

window.fake = {
  peers, log: logLines, received: [], answers: 0, signalOpens: 0,
  get frame() { return frame; },
  get connected() { return [...peers.values()].filter((p) => p.pc.connectionState === 'connected').length; },
  /** Send `obj` on every open data channel (to every viewer). Returns how many channels it went to. */
  broadcast(obj) {
    let n = 0;
    for (const p of peers.values()) {
      for (const c of p.channels) if (c.readyState === 'open') { c.send(JSON.stringify(obj)); n += 1; }
    }
    return n;
  },
};
openSignal();
