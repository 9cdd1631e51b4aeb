// Signaling clients for both transports of the Unity Render Streaming protocol (see docs/protocol.md).
// Each emits the server's messages as {type, ...} objects through onmessage.

export class WebSocketSignaling {
  constructor(url) {
    this.url = url;
    this.onmessage = () => {};
    this.onstate = () => {};
  }

  start() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(this.url);
      this.ws.onopen = () => { this.onstate('connected'); resolve(); };
      this.ws.onerror = () => reject(new Error('WebSocket failed'));
      this.ws.onclose = () => this.onstate('closed');
      this.ws.onmessage = (event) => {
        try { this.onmessage(JSON.parse(event.data)); } catch { /* not JSON: ignore */ }
      };
    });
  }

  send(message) { this.ws.send(JSON.stringify(message)); }
  connect(connectionId) { this.send({ type: 'connect', connectionId }); }
  disconnect(connectionId) { this.send({ type: 'disconnect', connectionId }); }
  stop() { this.ws?.close(); }
}

export class HttpSignaling {
  constructor(base, intervalMs = 1000) {
    this.base = base;
    this.intervalMs = intervalMs;
    this.onmessage = () => {};
    this.onstate = () => {};
    this.seen = new Set();
  }

  async request(method, path, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (this.sessionId) headers['Session-Id'] = this.sessionId;
    const res = await fetch(this.base + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
    return res.headers.get('Content-Type')?.includes('json') ? res.json() : res.text();
  }

  async start() {
    const { sessionId } = await this.request('PUT', '/signaling');
    this.sessionId = sessionId;
    this.fromtime = Date.now() - 30000;
    this.onstate('connected');
    this.timer = setInterval(() => this.poll().catch(() => this.onstate('error')), this.intervalMs);
  }

  async poll() {
    const { messages, datetime } = await this.request('GET', `/signaling?fromtime=${this.fromtime}`);
    this.fromtime = datetime;
    for (const m of messages) {
      const key = `${m.type}:${m.connectionId}:${m.datetime}`;  // polls may repeat; drop duplicates
      if (m.type === 'connect' || this.seen.has(key)) continue;
      this.seen.add(key);
      this.onmessage(m);
    }
  }

  async connect(connectionId) { this.onmessage(await this.request('PUT', '/signaling/connection', { connectionId })); }
  async disconnect(connectionId) {
    await this.request('DELETE', '/signaling/connection', { connectionId });
    this.onmessage({ type: 'disconnect', connectionId });
  }
  stop() {
    clearInterval(this.timer);
    if (this.sessionId) this.request('DELETE', '/signaling').catch(() => {});
    this.onstate('closed');
  }
}
