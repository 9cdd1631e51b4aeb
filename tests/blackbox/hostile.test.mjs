// One server instance survives hostile WebSocket and HTTP input (checklist #6, quirk Q1, limits).
// A bystander connected from the start must see nothing unexpected and stay open throughout,
// and two fresh clients must still complete a full exchange at the end.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, waitFor, within } from './lib/server.mjs';
import { openWs, closeAll } from './lib/ws.mjs';
import { rawRequest, parseResponses, Session } from './lib/http.mjs';
import { rawWs, rawUpgrade, closePayload, OP } from './lib/rawws.mjs';
import { uid, assertRelay, SDP_OFFER, SDP_ANSWER } from './lib/common.mjs';

const MAX_MSG = 65536;
const PER_IP = 20;

const deep = (n) => '['.repeat(n) + ']'.repeat(n);

/** Text that must be answered with {"type":"error","message":...} while the socket stays open. */
const MALFORMED = [
  ['non-JSON text', 'this is not json'],
  ['truncated JSON', '{"type":"offer","data":{'],
  ['JSON null', 'null'],
  ['JSON array', '[]'],
  ['JSON string', '"str"'],
  ['JSON number', '42'],
  ['offer without data', '{"type":"offer","from":"x"}'],
  ['answer without data', '{"type":"answer","from":"x"}'],
  ['candidate without data', '{"type":"candidate","from":"x"}'],
  ['offer with data a string', '{"type":"offer","data":"str"}'],
  ['answer with data a string', '{"type":"answer","data":"str"}'],
  ['candidate with data a string', '{"type":"candidate","data":"str"}'],
  ['offer with a numeric connectionId', '{"type":"offer","data":{"connectionId":42,"sdp":"x"}}'],
  ['candidate with an object connectionId', '{"type":"candidate","data":{"connectionId":{"a":1},"candidate":"c"}}'],
  ['connect with a numeric connectionId', '{"type":"connect","connectionId":42}'],
  ['connect with an object connectionId', '{"type":"connect","connectionId":{}}'],
  ['disconnect with an array connectionId', '{"type":"disconnect","connectionId":[1]}'],
  ['connect with an empty connectionId', '{"type":"connect","connectionId":""}'],
  ['connect with a 257-character connectionId', `{"type":"connect","connectionId":"${'x'.repeat(257)}"}`],
  ['offer with a 257-character connectionId', `{"type":"offer","data":{"connectionId":"${'x'.repeat(257)}","sdp":"s"}}`],
  ['offer with a numeric sdp', '{"type":"offer","data":{"connectionId":"n","sdp":5}}'],
  ['no type at all', '{"connectionId":"x"}'],
  ['nesting deeper than 32 levels', `{"type":"candidate","data":{"connectionId":"d","candidate":${deep(31)}}}`],
  ['10,000-deep nested arrays', deep(10000)],
  ['10,000-deep nesting inside an offer', `{"type":"offer","data":{"connectionId":"deep","sdp":${deep(10000)}}}`],
];

/** Frame-level protocol violations, each on its own fresh connection, with the close code expected. */
const VIOLATIONS = [
  ['invalid UTF-8 in a text frame', [{ opcode: OP.text, payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }], 1007],
  ['unmasked client frame', [{ opcode: OP.text, payload: '{"type":"x"}', mask: false }], 1002],
  ['fragmented ping', [{ opcode: OP.ping, fin: false, payload: 'x' }], 1002],
  ['reserved opcode 0x3', [{ opcode: 0x3, payload: 'x' }], 1002],
  ['reserved opcode 0xB', [{ opcode: 0xb, payload: '' }], 1002],
  ['RSV1 set without an extension', [{ opcode: OP.text, rsv1: true, payload: '{"type":"x"}' }], 1002],
  ['64-bit length with the top bit set', [{ opcode: OP.binary, len64: 0x8000000000000010n }], 1002],
  ['close frame with code 1005', [{ opcode: OP.close, payload: closePayload(1005) }], 1002],
  ['close frame with code 999', [{ opcode: OP.close, payload: closePayload(999) }], 1002],
  ['close frame with code 5000', [{ opcode: OP.close, payload: closePayload(5000) }], 1002],
  ['close frame with a one-byte payload', [{ opcode: OP.close, payload: Buffer.from([0x03]) }], 1002],
  ['continuation frame with no start', [{ opcode: OP.cont, payload: 'x' }], 1002],
  ['text frame inside a fragmented message', [{ opcode: OP.text, fin: false, payload: '{"a":' }, { opcode: OP.text, payload: '1}' }], 1002],
];

describe('hostile input', { concurrency: true }, () => {
  describe('hostile input against one server', { concurrency: 1 }, () => {
    let srv;
    let bystander;
    const bystanderId = uid('bystander');
    const allowedFrom = new Set();   // ids whose offers/candidates the bystander may legitimately see (public broadcast)

    before(async () => {
      srv = await startServer({ args: ['-t', 'websocket', '-m', 'public',
        '--max-message-bytes', String(MAX_MSG), '--max-send-queue-bytes', '65536',
        '--handshake-timeout', '1', '--max-sockets-per-ip', String(PER_IP)] });
      bystander = await openWs(srv, { label: 'bystander' });
      await bystander.connect(bystanderId);
    });
    after(async () => { await closeAll(bystander); await srv?.kill(); });

    const alive = () => { srv.assertAlive(); assert.ok(bystander.isOpen, `bystander closed: ${JSON.stringify(bystander.closeInfo)}`); };

    test('#6: malformed JSON and wrong types get an error frame and the socket stays usable', async (t) => {
      const A = await openWs(srv, { label: 'malformed' });
      t.after(() => closeAll(A));
      for (const [name, text] of MALFORMED) {
        A.sendText(text);
        const e = await A.next((j) => j?.type === 'error', 2000, { what: `error frame for ${name}` });
        assert.equal(typeof e.message, 'string', `${name}: error frame has a message`);
        assert.ok(e.message.length > 0, name);
        await A.expectNothing(20, (j) => j?.type !== 'error', `${name}: nothing but the error`);
        assert.ok(A.isOpen, `socket must stay open after ${name}`);
        alive();
      }
      // The same inputs as binary frames.
      for (const [name, text] of MALFORMED.slice(0, 6)) {
        A.sendBinary(text);
        await A.next((j) => j?.type === 'error', 2000, { what: `error frame for binary ${name}` });
      }
      const id = uid('after-malformed');
      assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
    });

    test('a message of exactly --max-message-bytes is accepted', async (t) => {
      const A = await openWs(srv, { label: 'at-limit' });
      t.after(() => closeAll(A));
      const head = '{"type":"padding-unknown","pad":"';
      const msg = head + 'a'.repeat(MAX_MSG - head.length - 2) + '"}';
      assert.equal(Buffer.byteLength(msg), MAX_MSG);
      A.sendText(msg);
      const id = uid('limit');
      assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
      assert.ok(A.isOpen);
      alive();
    });

    test('a message just above --max-message-bytes is closed with 1009', async () => {
      const A = await openWs(srv, { label: 'too-big' });
      const head = '{"type":"padding-unknown","pad":"';
      A.sendText(head + 'a'.repeat(MAX_MSG - head.length - 1) + '"}'); // MAX_MSG + 1 bytes
      const { code } = await A.waitClosed(3000);
      assert.equal(code, 1009);
      alive();
    });

    test('a fragmented message whose total is above the limit is closed with 1009', async () => {
      const R = await rawWs(srv.port, { label: 'too-big-fragments' });
      R.sendFrame({ opcode: OP.text, fin: false, payload: '"' + 'a'.repeat(40000) });
      R.sendFrame({ opcode: OP.cont, fin: true, payload: 'a'.repeat(MAX_MSG + 1 - 40002) + '"' });
      const r = await R.waitClosed(3000);
      assert.equal(r.closeCode, 1009, `close frame code (got close frame: ${r.gotCloseFrame})`);
      alive();
    });

    for (const [name, frames, code] of VIOLATIONS) {
      test(`protocol violation: ${name} -> close ${code}`, async () => {
        const R = await rawWs(srv.port, { label: name });
        for (const f of frames) R.sendFrame(f);
        const r = await R.waitClosed(3000);
        assert.equal(r.closeCode, code, `expected a close frame with ${code}; got ${r.gotCloseFrame ? r.closeCode : 'no close frame'}`);
        alive();
      });
    }

    test('valid close frames are answered with the same code (1000 when none was given)', async () => {
    for (const [payload, want] of [[closePayload(1000), 1000], [closePayload(4000, 'bye'), 4000], [Buffer.alloc(0), 1000], [closePayload(1001), 1001]]) {
      const R = await rawWs(srv.port, { label: `close-${want}`, replyToClose: false });
      R.sendFrame({ opcode: OP.close, payload });
      const r = await R.waitClosed(2000);
      assert.equal(r.closeCode, want, `close payload ${payload.toString('hex')}`);
    }
    alive();
  });

  test('client pings are answered with pongs carrying the same payload', async () => {
    const R = await rawWs(srv.port, { label: 'pinger' });
    R.sendFrame({ opcode: OP.ping, payload: 'are-you-there' });
    const pong = await R.nextFrame((f) => f.opcode === OP.pong, 2000, 'a pong');
    assert.equal(pong.payload.toString(), 'are-you-there');
    await R.destroy();
    alive();
  });

  test('more than 64 request headers get 431', async () => {
    const headers = Array.from({ length: 100 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const r = await rawRequest(srv.port, `GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`, { timeoutMs: 3000 });
    assert.equal(r.status, 431, r.statusLine);
    alive();
  });

  test('broken upgrade requests (no key, version 8, no Upgrade header on a GET with a key) never get 101', async () => {
    const base = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n';
    const cases = [
      ['missing Sec-WebSocket-Key', base + 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n'],
      ['Sec-WebSocket-Version 8', base + 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'],
      ['POST upgrade', base.replace('GET', 'POST') + 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n'],
    ];
    for (const [name, req] of cases) {
      const r = await rawRequest(srv.port, req, { timeoutMs: 2000, endAfterMs: 50 });
      assert.ok(r.status >= 400 && r.status < 500, `${name}: ${r.statusLine}`);
    }
    alive();
  });

  test('pipelined HTTP requests are answered in order', async () => {
    const r = await rawRequest(srv.port, 'GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
      'PUT /signaling HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n' +
      'GET /nope-404 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', { timeoutMs: 3000 });
    const responses = parseResponses(r.raw);
    assert.deepEqual(responses.map((x) => x.status), [200, 200, 404], r.raw.toString());
    assert.equal(JSON.parse(responses[0].body).useWebSocket, true);
    assert.match(JSON.parse(responses[1].body).sessionId, /^[0-9a-f-]{36}$/);
    alive();
  });

  test('raw binary garbage before the HTTP request: 400 or a plain close, no crash', async () => {
      const garbage = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x00, 0xff, 0x7f, 0x80]);
      const r = await rawRequest(srv.port, [garbage, 'GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'], { timeoutMs: 3000 });
      assert.ok(r.closedByServer, 'the server closes the connection');
      assert.ok(r.status === undefined || r.status === 400, `got ${r.statusLine}`);
      alive();
    });

    test('request headers of 20 KB get 431 and the connection is closed', async () => {
      const r = await rawRequest(srv.port, `GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`, { timeoutMs: 3000 });
      assert.equal(r.status, 431, `got ${JSON.stringify(r.statusLine)}`);
      assert.ok(r.closedByServer, 'closed after 431');
      alive();
    });

    test('a garbage request line gets 400', async () => {
      const r = await rawRequest(srv.port, 'THIS IS NOT HTTP AT ALL\r\nHost: 127.0.0.1\r\n\r\n', { timeoutMs: 3000 });
      assert.equal(r.status, 400, `got ${JSON.stringify(r.statusLine)}`);
      alive();
    });

    test('a body larger than the limit gets 413', async () => {
      const s = await Session.create(srv.base);
      const r = await rawRequest(srv.port, `POST /signaling/offer HTTP/1.1\r\nHost: 127.0.0.1\r\nSession-Id: ${s.id}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${MAX_MSG + 4096}\r\n\r\n{"connectionId":"x","sdp":"`, { timeoutMs: 3000, endAfterMs: 50 });
      assert.equal(r.status, 413, `got ${JSON.stringify(r.statusLine)}`);
      await s.destroy();
      alive();
    });

    test('Transfer-Encoding: chunked gets 501', async () => {
      const r = await rawRequest(srv.port, 'PUT /signaling HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n' +
        'Content-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n', { timeoutMs: 3000, endAfterMs: 50 });
      assert.equal(r.status, 501, `got ${JSON.stringify(r.statusLine)}`);
      alive();
    });

    test('malformed JSON bodies and wrong types on the polling API get 400 {"error":{...}}', async () => {
      const s = await Session.create(srv.base);
      for (const body of ['{not json', 'null', '[]', '"x"', '{"connectionId":{"a":1}}', '{"connectionId":42,"sdp":7}',
      '{"connectionId":""}', `{"connectionId":"${'x'.repeat(257)}"}`, `{"connectionId":"d","candidate":${deep(40)}}`]) {
        for (const path of ['/signaling/connection', '/signaling/offer', '/signaling/candidate']) {
          const method = path.endsWith('connection') ? 'PUT' : 'POST';
          const r = await s.call(method, path, { body });
          assert.equal(r.status, 400, `${method} ${path} ${body.slice(0, 60)} -> ${r.status} ${r.text.slice(0, 100)}`);
          assert.ok(r.json && typeof r.json.error === 'object', `400 body is {"error":{...}}: ${r.text.slice(0, 100)}`);
        }
      }
      await s.destroy();
      alive();
    });

    test('a flood of 2,000 small frames: the server stays responsive; the flooder only gets error frames or drops', async (t) => {
      const F = await openWs(srv, { label: 'flooder' });
      t.after(() => closeAll(F));
      for (let i = 0; i < 2000; i++) F.sendText(`{"type":"flood-unknown","n":${i}}`);
      // Another client is served promptly while the flood is being processed.
      const P = await openWs(srv, { label: 'probe' });
      t.after(() => closeAll(P));
      const pid = uid('probe');
      assert.deepEqual(await P.connect(pid, 3000), { type: 'connect', connectionId: pid, polite: true });
      // The flooder itself becomes usable again once its budget refills.
      const fid = uid('flooder');
      await waitFor(async () => {
        F.send({ type: 'connect', connectionId: fid });
        try { await F.next((j) => j?.type === 'connect' && j.connectionId === fid, 300, { what: 'flooder ack' }); return true; }
        catch { return false; }
      }, { timeoutMs: 6000, intervalMs: 100, what: 'the flooding socket to be served again' });
      assert.ok(F.isOpen, 'the flooding socket is rate limited, not closed');
      const unexpected = F.all.filter((f) => !(f.json?.type === 'error' || (f.json?.type === 'connect' && f.json.connectionId === fid)));
      assert.deepEqual(unexpected.map((f) => f.text.slice(0, 200)), [], 'flooder receives only error frames and its ack');
      alive();
    });

    test('a client that never reads is cut off at --max-send-queue-bytes; others are unaffected', async (t) => {
      const slow = await rawWs(srv.port, { label: 'slow-reader' });
      slow.socket.pause();
      const S = await openWs(srv, { label: 'broadcaster' });
      const O = await openWs(srv, { label: 'other-reader' });
      t.after(() => closeAll(S, O));
      const sid = uid('bcast');
      allowedFrom.add(sid);
      const pad = 'x'.repeat(16 * 1024);
      const N = 300; // ~4.9 MB: far more than kernel buffers plus the 64 KiB queue
      for (let i = 0; i < N; i++) {
        S.send({ type: 'offer', from: sid, data: { connectionId: sid, sdp: `${i}:${pad}` } });
        // Lock-step on the bystander so healthy readers never have more than one message queued.
        await bystander.next((j) => j?.type === 'offer' && j.from === sid && j.data.sdp.startsWith(`${i}:`), 3000,
          { what: `broadcast offer #${i}` });
      }
      const got = await waitFor(() => {
        const n = O.all.filter((f) => f.json?.type === 'offer' && f.json.from === sid).length;
        return n === N ? n : 0;
      }, { timeoutMs: 3000, what: `the other reader to receive all ${N} offers` });
      assert.equal(got, N);
      assert.ok(O.isOpen && S.isOpen, 'healthy sockets stay open');
      slow.socket.resume();
      await slow.waitClosed(5000);
      alive();
    });

    test('a TCP connection that sends nothing is closed after --handshake-timeout', async () => {
      const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
      const partial = net.connect({ port: srv.port, host: '127.0.0.1' }, () => partial.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
      const closed = (s) => new Promise((res) => { s.on('close', res); s.on('error', () => {}); s.resume(); });
      const r = await within(Promise.all([closed(sock), closed(partial)]), 3500);
      sock.destroy(); partial.destroy();
      assert.ok(r, 'silent and half-sent connections must be closed within ~2 s');
      alive();
    });

    test('more sockets from one address than --max-sockets-per-ip get HTTP 503', async () => {
      // A separate loopback source address keeps this count independent of the other sockets.
      const opened = [];
      const statuses = [];
      try {
        for (let i = 0; i < PER_IP + 5; i++) {
          const r = await rawUpgrade(srv.port, { localAddress: '127.0.0.2', label: `ip-${i}` });
          statuses.push(r.status);
          if (r.ws) opened.push(r.ws);
        }
        assert.deepEqual(statuses, [...Array(PER_IP).fill(101), ...Array(5).fill(503)]);
        // Plain HTTP from the same address is refused the same way, and the refusal still carries CORS (#4).
        const http = await rawRequest(srv.port, 'GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', { localAddress: '127.0.0.2', endAfterMs: 50 });
        assert.equal(http.status, 503, http.statusLine);
        assert.equal(http.headers['access-control-allow-origin'], '*', `503 headers: ${JSON.stringify(http.headers)}`);
      } finally {
        await Promise.all(opened.map((w) => w.destroy()));
      }
      // Slots are released when sockets close.
      await waitFor(async () => {
        const r = await rawUpgrade(srv.port, { localAddress: '127.0.0.2', label: 'ip-again' });
        if (r.ws) await r.ws.destroy();
        return r.status === 101;
      }, { timeoutMs: 3000, what: 'a free per-IP slot after closing' });
      alive();
    });

    test('afterwards two fresh clients complete connect/offer/answer/candidate', async (t) => {
      const A = await openWs(srv, { label: 'fresh-a' });
      const B = await openWs(srv, { label: 'fresh-b' });
      t.after(() => closeAll(A, B));
      const id = uid('fresh');
      allowedFrom.add(id);
      assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
      A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: SDP_OFFER } });
      assertRelay(await B.nextType('offer', 2000, (j) => j.from === id), { from: id, type: 'offer', data: { sdp: SDP_OFFER, polite: false } });
      B.send({ type: 'answer', from: id, data: { connectionId: id, sdp: SDP_ANSWER } });
      assertRelay(await A.nextType('answer'), { from: id, type: 'answer', data: { sdp: SDP_ANSWER } });
      const cand = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMLineIndex: 0, sdpMid: '0' };
      B.send({ type: 'candidate', from: id, data: { connectionId: id, ...cand } });
      assertRelay(await A.nextType('candidate'), { from: id, type: 'candidate', data: cand });
      await bystander.nextType('candidate', 2000, (j) => j.from === id);
      alive();
    });

    test('the bystander stayed open and saw only its ack and legitimate public broadcasts', async () => {
      alive();
      const [first, ...rest] = bystander.all;
      assert.deepEqual(first?.json, { type: 'connect', connectionId: bystanderId, polite: true });
      const unexpected = rest.filter((f) => !(['offer', 'candidate'].includes(f.json?.type) && allowedFrom.has(f.json.from)));
      assert.deepEqual(unexpected.map((f) => f.text.slice(0, 300)), []);
      const id = uid('bystander-still');
      assert.deepEqual(await bystander.connect(id), { type: 'connect', connectionId: id, polite: true });
    });

    test('graceful stop after all that: SIGTERM exits 0 within 2 s', async () => {
      await closeAll(bystander);
      await srv.stop();
    });
  });

  describe('capacity limits (--max-sockets 3, --max-message-rate 10)', { concurrency: 1 }, () => {
    let srv;
    before(async () => { srv = await startServer({ args: ['--max-sockets', '3', '--max-message-rate', '10'] }); });
    after(async () => { await srv?.kill(); });

    test('sockets beyond --max-sockets get 503; a slot frees up when one closes', async (t) => {
      const cs = [];
      t.after(() => closeAll(cs));
      for (let i = 0; i < 3; i++) cs.push(await openWs(srv, { label: `cap${i}` }));
      const r = await rawUpgrade(srv.port, { label: 'cap-over' });
      if (r.ws) await r.ws.destroy();
      assert.equal(r.status, 503);
      await cs.pop().close();
      await waitFor(async () => {
        const again = await rawUpgrade(srv.port, { label: 'cap-again' });
        if (again.ws) await again.ws.destroy();
        return again.status === 101;
      }, { what: 'a free slot' });
    });

    test('--max-message-rate: a burst above 2N per socket is dropped with an error frame, the socket stays open', async (t) => {
      const A = await openWs(srv, { label: 'rate' });
      t.after(() => closeAll(A));
      const ids = Array.from({ length: 60 }, (_, i) => uid(`r${i}`));
      for (const id of ids) A.send({ type: 'connect', connectionId: id });
      await A.next((j) => j?.type === 'error', 2000, { what: 'a rate-limit error frame' });
      await A.expectNothing(300, (j) => j?.type !== 'connect' && j?.type !== 'error');
      const acks = A.all.filter((f) => f.json?.type === 'connect').length;
      assert.ok(acks >= 15 && acks <= 30, `about 2N=20 of 60 messages pass the burst, got ${acks}`);
      assert.ok(A.isOpen);
    });

    test('graceful stop', async () => { await srv.stop(); });
  });
});
