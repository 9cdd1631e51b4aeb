// Raw WebSocket over net.Socket: builds frames the `ws` package refuses to produce
// (protocol violations) and never answers pings on its own.
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { deathReport } from './server.mjs';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

/**
 * Build one frame. `payload` is a Buffer or string. `len64` forces the 8-byte length form with
 * the given BigInt as the length (no payload bytes are appended then unless given).
 */
export function buildFrame({ fin = true, rsv1 = false, rsv2 = false, rsv3 = false, opcode = OP.text,
  payload = Buffer.alloc(0), mask = true, len64 } = {}) {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const b0 = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | (rsv3 ? 0x10 : 0) | (opcode & 0x0f);
  const m = mask ? 0x80 : 0;
  let head;
  if (len64 !== undefined) {
    head = Buffer.alloc(10);
    head[0] = b0; head[1] = m | 127;
    head.writeBigUInt64BE(BigInt(len64), 2);
  } else if (body.length < 126) {
    head = Buffer.from([b0, m | body.length]);
  } else if (body.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = b0; head[1] = m | 126; head.writeUInt16BE(body.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0; head[1] = m | 127; head.writeBigUInt64BE(BigInt(body.length), 2);
  }
  if (!mask) return Buffer.concat([head, body]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(body.length);
  for (let i = 0; i < body.length; i++) masked[i] = body[i] ^ key[i & 3];
  return Buffer.concat([head, key, masked]);
}

/** A close frame with an arbitrary payload (for invalid close codes). */
export function closePayload(code, reason = '') {
  if (code === undefined) return Buffer.from(reason);
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

export class RawWs {
  constructor(socket, leftover, label, { replyToClose = true } = {}) {
    this.socket = socket;
    this.replyToClose = replyToClose;
    this.label = label;
    this.buf = leftover || Buffer.alloc(0);
    this.frames = [];      // { opcode, fin, payload }
    this.waiters = [];
    this.pings = 0;
    this.closeCode = undefined;   // code of the close frame the server sent
    this.gotCloseFrame = false;
    this.ended = false;
    this.fragments = [];
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        for (const w of this.waiters.splice(0)) { clearTimeout(w.timer); w.resolve(null); }
        resolve({ closeCode: this.closeCode, gotCloseFrame: this.gotCloseFrame });
      });
    });
    socket.on('error', () => {});
    socket.on('data', (b) => { this.buf = Buffer.concat([this.buf, b]); this.parse(); });
    this.parse();
  }

  parse() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const fin = !!(b[0] & 0x80);
      const opcode = b[0] & 0x0f;
      const masked = !!(b[1] & 0x80);
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) { if (b.length < 4) return; len = b.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (b.length < 10) return; len = Number(b.readBigUInt64BE(2)); off = 10; }
      let key;
      if (masked) { if (b.length < off + 4) return; key = b.subarray(off, off + 4); off += 4; }
      if (b.length < off + len) return;
      let payload = Buffer.from(b.subarray(off, off + len));
      if (key) for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      this.buf = b.subarray(off + len);
      this.onFrame({ opcode, fin, payload, masked });
    }
  }

  onFrame(f) {
    if (f.opcode === OP.ping) this.pings += 1;
    if (f.opcode === OP.close) {
      this.gotCloseFrame = true;
      this.closeCode = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
      // Echo the close as a well-behaved client, then stop writing.
      if (this.replyToClose) try { this.socket.end(buildFrame({ opcode: OP.close, payload: f.payload.subarray(0, 2) })); } catch {}
    }
    let msg = null;
    if (f.opcode === OP.text || f.opcode === OP.binary) {
      if (f.fin) msg = { opcode: f.opcode, payload: f.payload };
      else this.fragments = [f];
    } else if (f.opcode === OP.cont && this.fragments.length) {
      this.fragments.push(f);
      if (f.fin) {
        msg = { opcode: this.fragments[0].opcode, payload: Buffer.concat(this.fragments.map((x) => x.payload)) };
        this.fragments = [];
      }
    }
    const frame = { ...f, message: msg };
    if (msg) {
      try { frame.json = JSON.parse(msg.payload.toString('utf8')); } catch { frame.json = undefined; }
    }
    this.frames.push(frame);
    const i = this.waiters.findIndex((w) => w.pred(frame));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      this.frames.splice(this.frames.indexOf(frame), 1);
      w.resolve(frame);
    }
  }

  write(buf) { try { this.socket.write(buf); } catch { /* closed */ } }
  sendFrame(opts) { this.write(buildFrame(opts)); }
  sendText(text) { this.sendFrame({ opcode: OP.text, payload: text }); }
  send(obj) { this.sendText(JSON.stringify(obj)); }

  /** Resolve with the next frame matching pred (or reject on timeout / close). */
  nextFrame(pred = () => true, timeoutMs = 2000, what = 'a frame') {
    const i = this.frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    if (this.ended) return Promise.reject(new Error(`${this.label}: closed before ${what}`));
    return new Promise((resolve, reject) => {
      const w = { pred };
      w.resolve = (f) => (f ? resolve(f) : reject(new Error(`${this.label}: closed before ${what}${suffix()}`)));
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms${suffix()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  nextJson(pred = () => true, timeoutMs = 2000, what = 'a JSON message') {
    return this.nextFrame((f) => f.json !== undefined && f.message && pred(f.json), timeoutMs, what).then((f) => f.json);
  }

  /** Wait for the TCP connection to end. Returns { closeCode, gotCloseFrame } or throws on timeout. */
  async waitClosed(timeoutMs = 2000) {
    let t;
    const r = await Promise.race([this.closed, new Promise((res) => { t = setTimeout(() => res(null), timeoutMs); })]);
    clearTimeout(t);
    if (!r) throw new Error(`${this.label}: server did not close the connection within ${timeoutMs} ms${suffix()}`);
    return r;
  }

  destroy() { this.socket.destroy(); return this.closed; }
}

function suffix() {
  const d = deathReport();
  return d ? `\n${d}` : '';
}

/**
 * Open a TCP connection and perform the WebSocket upgrade by hand.
 * Resolves { status, headers, ws } where ws is a RawWs when status is 101.
 */
export function rawUpgrade(port, { path = '/', localAddress, timeoutMs = 3000, label = 'raw', extraHeaders = '', replyToClose = true } = {}) {
  return new Promise((resolve, reject) => {
    const key = randomBytes(16).toString('base64');
    const sock = net.connect({ port, host: '127.0.0.1', localAddress });
    let buf = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`${label}: no upgrade response within ${timeoutMs} ms`)), timeoutMs);
    const fail = (e) => {
      if (settled) return;
      settled = true; clearTimeout(timer); sock.destroy();
      reject(new Error(e.message + suffix()));
    };
    sock.on('error', (e) => fail(new Error(`${label}: ${e.message}`)));
    sock.on('close', () => {
      if (settled) return;
      // The server may answer (e.g. 503) and close in one go.
      const text = buf.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      if (m) { settled = true; clearTimeout(timer); resolve({ status: Number(m[1]), headers: {}, raw: text }); }
      else fail(new Error(`${label}: connection closed during upgrade; got ${JSON.stringify(text.slice(0, 200))}`));
    });
    sock.on('connect', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`);
    });
    const onData = (b) => {
      buf = Buffer.concat([buf, b]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0 || settled) return;
      const head = buf.subarray(0, end).toString('latin1');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = {};
      for (const l of lines) { const i = l.indexOf(':'); if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim(); }
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
      if (status !== 101) {
        settled = true; clearTimeout(timer);
        sock.destroy();
        resolve({ status, headers, raw: head });
        return;
      }
      const expect = createHash('sha1').update(key + GUID).digest('base64');
      if (headers['sec-websocket-accept'] !== expect) {
        fail(new Error(`${label}: bad Sec-WebSocket-Accept ${headers['sec-websocket-accept']} (want ${expect})`));
        return;
      }
      settled = true; clearTimeout(timer);
      sock.removeListener('data', onData);
      resolve({ status, headers, ws: new RawWs(sock, buf.subarray(end + 4), label, { replyToClose }) });
    };
    sock.on('data', onData);
  });
}

/** rawUpgrade that must succeed. */
export async function rawWs(port, opts = {}) {
  const r = await rawUpgrade(port, opts);
  if (r.status !== 101) throw new Error(`${opts.label || 'raw'}: upgrade refused with HTTP ${r.status}`);
  return r.ws;
}
