// WebSocket test client: queues received frames, waits for them with deadlines.
import WebSocket from 'ws';
import { deathReport } from './server.mjs';

export const DEFAULT_TIMEOUT_MS = 2000;

function withDeath(msg) {
  const d = deathReport();
  return d ? `${msg}\n${d}` : msg;
}

export class WsClient {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    this.queue = [];   // unclaimed frames: { json, text, isBinary }
    this.all = [];     // every frame ever received, in order
    this.waiters = [];
    this.pings = 0;
    this.closeInfo = null;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(withDeath(`${this.label}: socket closed (code ${code}) while waiting for ${w.what}; ` +
            `unclaimed frames: ${this.describeQueue()}`)));
        }
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {}); // surfaced through close / next()
    ws.on('ping', () => { this.pings += 1; });
    ws.on('message', (data, isBinary) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data).toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      const frame = { json, text, isBinary };
      this.all.push(frame);
      const i = this.waiters.findIndex((w) => safeMatch(w.pred, frame));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(w.raw ? frame : frame.json);
      } else {
        this.queue.push(frame);
      }
    });
  }

  get isOpen() { return this.ws.readyState === WebSocket.OPEN; }

  describeQueue() {
    return this.queue.length ? this.queue.map((f) => f.text.slice(0, 300)).join(' | ') : '(none)';
  }

  /** Send a JS value as a JSON text frame. */
  send(obj) { this.ws.send(JSON.stringify(obj)); }
  sendText(text) { this.ws.send(text, { binary: false }); }
  sendBinary(buf) { this.ws.send(Buffer.from(buf), { binary: true }); }

  /**
   * Wait for the next frame matching `pred` (called with the parsed JSON, or undefined for
   * non-JSON, and the raw frame). Returns the parsed JSON (or the raw frame with raw:true).
   */
  next(pred = () => true, timeoutMs = DEFAULT_TIMEOUT_MS, { what = 'a frame', raw = false } = {}) {
    const fpred = (f) => pred(f.json, f);
    const i = this.queue.findIndex((f) => safeMatch(fpred, f));
    if (i >= 0) {
      const [f] = this.queue.splice(i, 1);
      return Promise.resolve(raw ? f : f.json);
    }
    if (this.closeInfo) {
      return Promise.reject(new Error(withDeath(`${this.label}: socket already closed ` +
        `(${this.closeInfo.code}) before ${what}; unclaimed frames: ${this.describeQueue()}`)));
    }
    return new Promise((resolve, reject) => {
      const w = { pred: fpred, resolve, reject, raw, what };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(withDeath(`${this.label}: no ${what} within ${timeoutMs} ms; ` +
          `unclaimed frames: ${this.describeQueue()}`)));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Next frame of a given `type` (optionally also matching `pred`). */
  nextType(type, timeoutMs = DEFAULT_TIMEOUT_MS, pred = () => true) {
    return this.next((j) => j && j.type === type && pred(j), timeoutMs, { what: `a '${type}' frame` });
  }

  /** Assert no (matching) frame arrives within `ms` (quiet window, keep <= 300 ms). */
  async expectNothing(ms = 200, pred = () => true, what = '') {
    const check = () => {
      const f = this.queue.find((x) => safeMatch((y) => pred(y.json, y), x));
      if (f) throw new Error(`${this.label}: expected no frame${what ? ` (${what})` : ''}, got ${f.text.slice(0, 500)}`);
    };
    check();
    await new Promise((r) => setTimeout(r, ms));
    check();
  }

  /** Drop every queued frame (e.g. after a broadcast you do not care about). */
  drain() { const q = this.queue; this.queue = []; return q; }

  /** Send connect and return the ack. */
  async connect(connectionId, timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.send({ type: 'connect', connectionId });
    return this.next((j) => j && j.type === 'connect' && j.connectionId === connectionId, timeoutMs,
      { what: `connect ack for ${connectionId}` });
  }

  /** Send connect and return whatever answers it first: the ack or an error frame. */
  async connectRaw(connectionId, timeoutMs = DEFAULT_TIMEOUT_MS) {
    this.send({ type: 'connect', connectionId });
    return this.next((j) => j && ((j.type === 'connect' && j.connectionId === connectionId) || j.type === 'error'),
      timeoutMs, { what: `connect ack or error for ${connectionId}` });
  }

  close(code, reason) {
    try { this.ws.close(code, reason); } catch { /* already closed */ }
    return this.closed;
  }

  terminate() { this.ws.terminate(); return this.closed; }

  async waitClosed(timeoutMs = DEFAULT_TIMEOUT_MS) {
    let t;
    const r = await Promise.race([this.closed, new Promise((res) => { t = setTimeout(() => res(null), timeoutMs); })]);
    clearTimeout(t);
    if (!r) throw new Error(`${this.label}: socket not closed within ${timeoutMs} ms`);
    return r;
  }
}

function safeMatch(pred, frame) {
  try { return !!pred(frame); } catch { return false; }
}

let counter = 0;

/** Open a client. `target` is a server object from startServer or a ws:// URL. */
export async function openWs(target, { path = '/', label, timeoutMs = 3000, ...opts } = {}) {
  const url = typeof target === 'string' ? target : `${target.wsUrl}${path}`;
  const name = label || `ws#${++counter}`;
  const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, perMessageDeflate: false, ...opts });
  const client = new WsClient(ws, name);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      reject(new Error(withDeath(`${name}: upgrade to ${url} refused with HTTP ${res.statusCode}`)));
    });
    ws.once('error', (e) => reject(new Error(withDeath(`${name}: cannot open ${url}: ${e.message}`))));
  });
  return client;
}

/** Close several clients and wait for their close events (never throws). */
export async function closeAll(...clients) {
  await Promise.all(clients.flat().filter(Boolean).map(async (c) => {
    try { c.close(); await c.waitClosed(2000); } catch { try { c.terminate(); } catch {} }
  }));
}

/** Assert `t` is an integer Unix-ms timestamp within `slackMs` of now. */
export function isNowish(t, slackMs = 5000) {
  return Number.isInteger(t) && Math.abs(t - Date.now()) <= slackMs;
}
