// Signaling clients for both transports of the Unity Render Streaming protocol, as sparc-signal
// speaks it (docs/protocol.md). Both hand the page the same normalised messages:
//   {type, connectionId, polite?, sdp?, candidate?, sdpMid?, sdpMLineIndex?, datetime?, message?, code?}
// and call onlost() once when the server goes away without stop() having been called.

/** Flatten a WebSocket frame: relayed messages name their connection in `from` and carry fields in `data`. */
export function normaliseWsMessage(raw) {
  if (!raw || typeof raw !== 'object' || typeof raw.type !== 'string') return null;
  if (raw.data && typeof raw.data === 'object') {
    return { ...raw.data, type: raw.type, connectionId: raw.from ?? raw.data.connectionId };
  }
  return { ...raw };
}

/** A key that names one stored HTTP entry, so entries repeated by the inclusive `fromtime` filter are dropped. */
export function httpEntryKey(m) {
  return [m.type, m.connectionId, m.datetime, m.sdp ?? '', m.candidate ?? ''].join('\u0000');
}

export class WebSocketSignaling {
  constructor(url, { openTimeoutMs = 5000 } = {}) {
    this.url = url;
    this.openTimeoutMs = openTimeoutMs;
    this.kind = 'websocket';
    this.onmessage = () => {};
    this.onlost = () => {};
    this.stopped = false;
  }

  start() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let open = false;
      const timer = setTimeout(() => { if (!open) { ws.close(); reject(new Error('WebSocket open timed out')); } },
        this.openTimeoutMs);
      ws.onopen = () => { open = true; clearTimeout(timer); resolve(); };
      ws.onerror = () => {};  // onclose follows and carries the outcome
      ws.onclose = () => {
        clearTimeout(timer);
        if (!open) reject(new Error('WebSocket connection refused'));
        else if (!this.stopped) { this.stopped = true; this.onlost(); }
      };
      ws.onmessage = (event) => {
        let raw;
        try { raw = JSON.parse(event.data); } catch { return; }  // not JSON: not for us
        const m = normaliseWsMessage(raw);
        if (m) this.onmessage(m);
      };
    });
  }

  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  connect(connectionId) { this.send({ type: 'connect', connectionId }); }
  disconnect(connectionId) { this.send({ type: 'disconnect', connectionId }); }
  offer(connectionId, sdp) { this.send({ type: 'offer', from: connectionId, data: { connectionId, sdp } }); }
  answer(connectionId, sdp) { this.send({ type: 'answer', from: connectionId, data: { connectionId, sdp } }); }
  candidate(connectionId, c) {
    this.send({ type: 'candidate', from: connectionId,
      data: { connectionId, candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } });
  }

  stop() {
    this.stopped = true;
    this.ws?.close();
  }
}

export class HttpSignaling {
  /** `base` is the page origin; the server is polled every `intervalMs` (Unity's browser page uses 1000 ms). */
  constructor(base, { intervalMs = 1000, requestTimeoutMs = 5000 } = {}) {
    this.base = base;
    this.intervalMs = intervalMs;
    this.requestTimeoutMs = requestTimeoutMs;
    this.kind = 'http';
    this.onmessage = () => {};
    this.onlost = () => {};
    this.stopped = false;
    this.seen = new Map();  // entry key -> datetime, pruned as fromtime advances
    this.fromtime = 0;      // the first poll reads everything: immune to a skewed client clock
  }

  async request(method, path, body) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.sessionId) headers['Session-Id'] = this.sessionId;
    const res = await fetch(this.base + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
      signal: AbortSignal.timeout(this.requestTimeoutMs),
    });
    const type = res.headers.get('Content-Type') || '';
    const payload = type.includes('json') ? await res.json().catch(() => null) : await res.text();
    if (res.status === 404 && path.startsWith('/signaling') && this.sessionId) this.lose();  // session gone
    if (!res.ok) {
      const err = new Error(`${method} ${path}: ${res.status}`);
      err.status = res.status;
      err.payload = payload;
      throw err;
    }
    return payload;
  }

  async start() {
    const { sessionId } = await this.request('PUT', '/signaling');
    this.sessionId = sessionId;
    this.schedule(0);
  }

  schedule(delayMs) {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.poll().then(
      () => this.schedule(this.intervalMs),
      () => this.lose()), delayMs);
  }

  async poll() {
    const from = this.fromtime;
    const { messages = [], datetime } = await this.request('GET', `/signaling?fromtime=${from}`);
    if (this.stopped) return;
    // Entries older than this request's fromtime cannot come back; forget them.
    for (const [key, at] of this.seen) if (at < from) this.seen.delete(key);
    if (Number.isFinite(datetime)) this.fromtime = datetime;
    for (const m of messages) {
      // Connect entries repeat in every poll; the PUT /signaling/connection reply is the acknowledgement.
      if (!m || m.type === 'connect') continue;
      const key = httpEntryKey(m);
      if (this.seen.has(key)) continue;
      this.seen.set(key, m.datetime ?? 0);
      this.onmessage(m);
    }
  }

  lose() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.onlost();
  }

  post(path, body) {
    this.request('POST', path, body).catch(() => {});  // a lost server shows up in the next poll
  }

  async connect(connectionId) {
    try {
      this.onmessage(await this.request('PUT', '/signaling/connection', { connectionId }));
    } catch (e) {
      if (e.status === 400) {
        this.onmessage({ type: 'error', message: e.payload?.error?.message || 'connection refused',
          code: e.payload?.error?.code });
      } else throw e;
    }
  }

  disconnect(connectionId) {
    this.request('DELETE', '/signaling/connection', { connectionId }).catch(() => {});
  }

  offer(connectionId, sdp) { this.post('/signaling/offer', { connectionId, sdp }); }
  answer(connectionId, sdp) { this.post('/signaling/answer', { connectionId, sdp }); }
  candidate(connectionId, c) {
    this.post('/signaling/candidate',
      { connectionId, candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid });
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.sessionId) {
      // keepalive lets the DELETE finish when the page is being unloaded
      fetch(`${this.base}/signaling`, { method: 'DELETE', headers: { 'Session-Id': this.sessionId }, keepalive: true })
        .catch(() => {});
    }
  }
}
