// HTTP helpers: the polling API (Session-Id header) over fetch, and raw requests over net.
import net from 'node:net';
import { deathReport } from './server.mjs';

export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** fetch with a deadline. Returns { status, headers, text, json }. */
export async function request(base, method, path, { session, body, headers = {}, timeoutMs = 3000 } = {}) {
  const h = { ...headers };
  if (session !== undefined) h['Session-Id'] = session;
  let payload;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(base + path, { method, headers: h, body: payload, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const d = deathReport();
    throw new Error(`${method} ${path} failed: ${e.message}${e.cause ? ` (${e.cause.message || e.cause.code})` : ''}${d ? `\n${d}` : ''}`);
  }
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/** Thin client for the /signaling polling API bound to one session. */
export class Session {
  constructor(base, id) { this.base = base; this.id = id; }
  call(method, path, opts = {}) { return request(this.base, method, path, { session: this.id, ...opts }); }
  async json(method, path, opts = {}) {
    const r = await this.call(method, path, opts);
    if (r.status !== 200) throw new Error(`${method} ${path} -> ${r.status} ${r.text.slice(0, 300)}`);
    return r.json;
  }
  static async create(base) {
    const r = await request(base, 'PUT', '/signaling');
    if (r.status !== 200 || !r.json || typeof r.json.sessionId !== 'string') {
      throw new Error(`PUT /signaling -> ${r.status} ${r.text.slice(0, 300)}`);
    }
    return new Session(base, r.json.sessionId);
  }
  connect(connectionId) { return this.call('PUT', '/signaling/connection', { body: { connectionId } }); }
  async connectOk(connectionId) {
    const r = await this.connect(connectionId);
    if (r.status !== 200) throw new Error(`PUT /signaling/connection ${connectionId} -> ${r.status} ${r.text}`);
    return r.json;
  }
  disconnect(connectionId) { return this.call('DELETE', '/signaling/connection', { body: { connectionId } }); }
  offer(connectionId, sdp) { return this.call('POST', '/signaling/offer', { body: { connectionId, sdp } }); }
  answer(connectionId, sdp) { return this.call('POST', '/signaling/answer', { body: { connectionId, sdp } }); }
  candidate(connectionId, candidate, sdpMLineIndex, sdpMid) {
    return this.call('POST', '/signaling/candidate', { body: { connectionId, candidate, sdpMLineIndex, sdpMid } });
  }
  static q(fromtime) { return fromtime === undefined ? '' : `?fromtime=${fromtime}`; }
  offers(fromtime) { return this.json('GET', `/signaling/offer${Session.q(fromtime)}`); }
  answers(fromtime) { return this.json('GET', `/signaling/answer${Session.q(fromtime)}`); }
  candidates(fromtime) { return this.json('GET', `/signaling/candidate${Session.q(fromtime)}`); }
  connections() { return this.json('GET', '/signaling/connection'); }
  all(fromtime = 0) { return this.json('GET', `/signaling${Session.q(fromtime)}`); }
  destroy() { return request(this.base, 'DELETE', '/signaling', { session: this.id }); }
}

/**
 * Send raw bytes on a fresh TCP connection and collect what comes back until the server
 * closes or `timeoutMs` passes. Returns { status, statusLine, headers, body, raw, closedByServer }.
 */
export function rawRequest(port, data, { timeoutMs = 3000, localAddress, host = '127.0.0.1', endAfterMs } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host, localAddress });
    const chunks = [];
    let closedByServer = false;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const raw = Buffer.concat(chunks);
      resolve({ ...parseResponse(raw), raw, closedByServer });
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on('connect', () => {
      for (const part of Array.isArray(data) ? data : [data]) sock.write(part);
    });
    sock.on('data', (b) => {
      chunks.push(b);
      if (endAfterMs !== undefined && parseResponse(Buffer.concat(chunks)).complete) {
        setTimeout(finish, endAfterMs);
      }
    });
    sock.on('end', () => { closedByServer = true; finish(); });
    sock.on('error', (e) => { if (e.code === 'ECONNRESET' || e.code === 'EPIPE') closedByServer = true; finish(); });
    sock.on('close', () => { closedByServer = true; finish(); });
  });
}

/** Parse the first HTTP/1.1 response in `raw` (content-length or chunked). */
export function parseResponse(raw) {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { status: undefined, statusLine: text.split('\r\n')[0] || '', headers: {}, body: '', complete: false };
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  const headers = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let rest = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  let body = rest;
  let complete = true;
  if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts = [];
    let off = 0;
    complete = false;
    for (;;) {
      const nl = rest.indexOf('\r\n', off);
      if (nl < 0) break;
      const size = parseInt(rest.subarray(off, nl).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) { complete = true; break; }
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      off = nl + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    complete = rest.length >= n;
    body = rest.subarray(0, n);
  }
  return { status: m ? Number(m[1]) : undefined, statusLine, headers, body: body.toString('utf8'), complete };
}

/** Split a byte stream into consecutive HTTP/1.1 responses (Content-Length framed). */
export function parseResponses(raw) {
  const out = [];
  let rest = raw;
  while (rest.length) {
    const text = rest.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) break;
    const r = parseResponse(rest);
    out.push(r);
    const len = Number(r.headers['content-length'] ?? 0);
    rest = rest.subarray(end + 4 + len);
  }
  return out;
}
