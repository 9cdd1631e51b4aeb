// HTTP-polling transport, public mode: checklist 21-35, reference tests T12-T23, T30-T40.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, waitFor } from './lib/server.mjs';
import { request, rawRequest, Session, UUID_V4 } from './lib/http.mjs';
import { rawUpgrade } from './lib/rawws.mjs';
import { uid, isNowish, SDP_OFFER, SDP_ANSWER } from './lib/common.mjs';

const byId = (list, id) => list.filter((x) => x.connectionId === id);

/** Resolve once the server clock (seen through GET /signaling datetimes) has passed `t`. */
async function serverTimeAfter(s, t) {
  return waitFor(async () => { const r = await s.all(Date.now() + 1e9); return r.datetime > t ? r.datetime : 0; },
    { timeoutMs: 2000, intervalMs: 2, what: `server time > ${t}` });
}

describe('http polling, public mode (all suites)', { concurrency: true }, () => {
  describe('http polling, public mode', { concurrency: 1 }, () => {
    let srv;
    let base;
    let webRoot;
    before(async () => {
      webRoot = mkdtempSync(join(tmpdir(), 'sparc-www-'));
      writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>T33</title>');
      // Large header limit so the 10 KB Session-Id reaches the session check (expect 404, not 431).
      srv = await startServer({ args: ['-t', 'http', '-m', 'public', '--max-header-bytes', '65536', '--web-root', webRoot] });
      base = srv.base;
    });
    after(async () => { await srv?.kill(); rmSync(webRoot, { recursive: true, force: true }); });

    test('T13/T30/#21: PUT /signaling creates fresh UUIDv4 sessions without any header', async () => {
      const r1 = await request(base, 'PUT', '/signaling');
      const r2 = await request(base, 'PUT', '/signaling');
      for (const r of [r1, r2]) {
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type') || '', /application\/json/);
        assert.deepEqual(Object.keys(r.json), ['sessionId']);
        assert.match(r.json.sessionId, UUID_V4);
      }
      assert.notEqual(r1.json.sessionId, r2.json.sessionId);
    });

    test('T12/#22: missing, unknown or malformed Session-Id gives 404 and the handler does not run', async () => {
      const witness = await Session.create(base);
      const id = uid('ghost');
      const badSessions = [undefined, '00000000-0000-4000-8000-000000000000', 'not-a-uuid', 'x'.repeat(10 * 1024), ''];
      const calls = [
        ['GET', '/signaling?fromtime=0'],
        ['GET', '/signaling'], // bare: the reference crashes with 500 here; we require 404
        ['GET', '/signaling/connection'],
        ['PUT', '/signaling/connection', { connectionId: id }],
        ['DELETE', '/signaling/connection', { connectionId: id }],
        ['POST', '/signaling/offer', { connectionId: id, sdp: 'ghost offer' }],
        ['POST', '/signaling/answer', { connectionId: id, sdp: 'ghost answer' }],
        ['POST', '/signaling/candidate', { connectionId: id, candidate: 'ghost', sdpMLineIndex: 0, sdpMid: '0' }],
        ['GET', '/signaling/offer?fromtime=0'],
        ['GET', '/signaling/answer'],
        ['GET', '/signaling/candidate'],
      ];
      for (const session of badSessions) {
        for (const [method, path, body] of calls) {
          const r = await request(base, method, path, { session, body });
          assert.equal(r.status, 404, `${method} ${path} with Session-Id ${session === undefined ? '(none)' : JSON.stringify(session.slice(0, 40))} -> ${r.status} ${r.text.slice(0, 200)}`);
        }
      }
      assert.deepEqual(byId((await witness.offers(0)).offers, id), [], 'a rejected POST must not store an offer');
      await witness.destroy();
    });

    test('#35: DELETE /signaling returns 200 for unknown, missing and real sessions; a deleted session then 404s', async () => {
      assert.equal((await request(base, 'DELETE', '/signaling', { session: '11111111-1111-4111-8111-111111111111' })).status, 200);
      assert.equal((await request(base, 'DELETE', '/signaling')).status, 200);
      const s = await Session.create(base);
      assert.equal((await s.call('GET', '/signaling/connection')).status, 200);
      assert.equal((await s.destroy()).status, 200);
      assert.equal((await s.call('GET', '/signaling/connection')).status, 404);
      assert.equal((await s.call('GET', '/signaling?fromtime=0')).status, 404);
    });

    test('T14/T31/#25: PUT /signaling/connection returns {connectionId, polite:true, type, datetime}', async () => {
      const s1 = await Session.create(base);
      const s2 = await Session.create(base);
      const id = uid('conn');
      const r = await s1.connect(id);
      assert.equal(r.status, 200);
      assert.ok(isNowish(r.json.datetime), `datetime: ${r.json.datetime}`);
      assert.deepEqual(r.json, { connectionId: id, polite: true, type: 'connect', datetime: r.json.datetime });
      // Public mode: no uniqueness, the second session is polite too.
      const r2 = await s2.connect(id);
      assert.equal(r2.status, 200);
      assert.equal(r2.json.polite, true);
      await s1.destroy(); await s2.destroy();
    });

    test('#25: connecting the same id twice from one session lists it once', async () => {
    const s = await Session.create(base);
    const id = uid('twice');
    assert.equal((await s.connectOk(id)).polite, true);
    assert.equal((await s.connectOk(id)).polite, true);
    assert.deepEqual((await s.connections()).connections.map((c) => c.connectionId), [id]);
    await s.destroy();
  });

  test('#34: a re-sent offer for the same id replaces the stored one', async () => {
    const [s1, s2] = [await Session.create(base), await Session.create(base)];
    const id = uid('resend');
    await s1.connectOk(id);
    await s1.offer(id, 'first');
    await s1.offer(id, 'second');
    const o = byId((await s2.offers(0)).offers, id);
    assert.deepEqual(o.map((x) => x.sdp), ['second']);
    await s1.destroy(); await s2.destroy();
  });

  test('a session may own 64 connection ids; the 65th gets 400', async () => {
    const s = await Session.create(base);
    for (let i = 0; i < 64; i++) await s.connectOk(uid(`h${i}`));
    const r = await s.connect(uid('h64'));
    assert.equal(r.status, 400, r.text);
    assert.ok(r.json && 'error' in r.json);
    await s.destroy();
  });

  test('T25/#25: missing connectionId gives 400 with an "error" key', async () => {
      const s = await Session.create(base);
      for (const body of [{}, { connectionId: null }]) {
        const r = await s.call('PUT', '/signaling/connection', { body });
        assert.equal(r.status, 400, `body ${JSON.stringify(body)} -> ${r.status} ${r.text}`);
        assert.ok(r.json && typeof r.json === 'object' && 'error' in r.json, `400 body must be {"error":...}: ${r.text}`);
      }
      await s.destroy();
    });

    test('T15/T34/#31: GET /signaling/connection and GET /signaling list the connect entry', async () => {
      const s = await Session.create(base);
      const id = uid('list');
      await s.connectOk(id);
      const c = await s.connections();
      assert.deepEqual(Object.keys(c), ['connections']);
      assert.equal(c.connections.length, 1);
      const [e] = c.connections;
      assert.ok(isNowish(e.datetime), `datetime ${e.datetime}`);
      assert.deepEqual(e, { connectionId: id, type: 'connect', datetime: e.datetime });
      const all = await s.all(0);
      const connects = all.messages.filter((m) => m.type === 'connect');
      assert.equal(connects.length, 1);
      assert.deepEqual(connects[0], { connectionId: id, type: 'connect', datetime: connects[0].datetime });
      await s.destroy();
    });

    test('T16/T32/T35/#28: an offer is visible to every other session with polite:false, not to its poster', async () => {
      const [s1, s2, s3] = [await Session.create(base), await Session.create(base), await Session.create(base)];
      const id = uid('offer');
      await s1.connectOk(id);
      const r = await s1.offer(id, SDP_OFFER);
      assert.equal(r.status, 200);
      assert.equal(r.text, 'OK');
      assert.match(r.headers.get('content-type') || '', /^text\/plain/);
      assert.deepEqual(byId((await s1.offers(0)).offers, id), [], 'the poster does not see its own offer');
      for (const s of [s2, s3]) {
        const got = await s.offers(0);
        assert.deepEqual(Object.keys(got), ['offers']);
        const [o, ...rest] = byId(got.offers, id);
        assert.equal(rest.length, 0);
        assert.ok(o, 'other session sees the offer');
        assert.ok(isNowish(o.datetime));
        assert.deepEqual(o, { connectionId: id, sdp: SDP_OFFER, polite: false, type: 'offer', datetime: o.datetime });
      }
      for (const s of [s1, s2, s3]) await s.destroy();
    });

    test('T17/#29: an answer is stored for the offerer only, without polite', async () => {
      const [s1, s2, s3] = [await Session.create(base), await Session.create(base), await Session.create(base)];
      const id = uid('answer');
      await s1.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      const r = await s2.answer(id, SDP_ANSWER);
      assert.equal(r.status, 200);
      assert.equal(r.text, 'OK');
      const got = await s1.answers(0);
      assert.deepEqual(Object.keys(got), ['answers']);
      const [a, ...rest] = byId(got.answers, id);
      assert.equal(rest.length, 0);
      assert.ok(a, 'offerer sees the answer');
      assert.ok(isNowish(a.datetime));
      assert.deepEqual(a, { connectionId: id, sdp: SDP_ANSWER, type: 'answer', datetime: a.datetime });
      assert.deepEqual(byId((await s2.answers(0)).answers, id), [], 'the answerer does not see its own answer');
      assert.deepEqual(byId((await s3.answers(0)).answers, id), [], 'bystanders do not see the answer');
      // The id joined the answerer's set.
      assert.ok((await s2.connections()).connections.some((c) => c.connectionId === id), 'answerer owns the id');
      for (const s of [s1, s2, s3]) await s.destroy();
    });

    test('T18/#29/#30: candidates reach the partner only after the answer; earlier ones are re-stamped to the answer time', async () => {
      const [s1, s2, s3] = [await Session.create(base), await Session.create(base), await Session.create(base)];
      const id = uid('cand');
      await s1.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      const early = { candidate: 'candidate:1 1 UDP 2122252543 192.0.2.1 54321 typ host', sdpMLineIndex: 0, sdpMid: '0' };
      const r = await s1.candidate(id, early.candidate, early.sdpMLineIndex, early.sdpMid);
      assert.equal(r.status, 200);
      assert.equal(r.text, 'OK');
      const afterCandidate = (await s1.all(Date.now() + 1e9)).datetime; // >= the candidate's stamp
      const t0 = await serverTimeAfter(s2, afterCandidate);             // strictly later than that stamp
      assert.deepEqual(byId((await s2.candidates(0)).candidates, id), [], 'not visible before the answer');
      await s2.answer(id, SDP_ANSWER);
      const got = await s2.candidates(t0);
      assert.deepEqual(Object.keys(got), ['candidates']);
      const [c, ...rest] = byId(got.candidates, id);
      assert.ok(c, `the early candidate must be re-stamped to the answer time (fromtime=${t0}); got ${JSON.stringify(got)}`);
      assert.equal(rest.length, 0);
      assert.ok(c.datetime >= t0, `re-stamped datetime ${c.datetime} >= ${t0}`);
      assert.deepEqual(c, { connectionId: id, ...early, type: 'candidate', datetime: c.datetime });
      assert.deepEqual(byId((await s1.candidates(0)).candidates, id), [], 'poster does not see its own candidate');
      // Answerer -> offerer, with the browser's swapped field types kept as sent.
      const swapped = { candidate: 'candidate:2 1 udp 1 192.0.2.2 9 typ host', sdpMLineIndex: '0', sdpMid: 0 };
      await s2.candidate(id, swapped.candidate, swapped.sdpMLineIndex, swapped.sdpMid);
      const back = byId((await s1.candidates(0)).candidates, id);
      assert.equal(back.length, 1, JSON.stringify(back));
      assert.deepEqual(back[0], { connectionId: id, ...swapped, type: 'candidate', datetime: back[0].datetime });
      assert.deepEqual(byId((await s3.candidates(0)).candidates, id), [], 'bystander sees no candidates');
      for (const s of [s1, s2, s3]) await s.destroy();
    });

    test('T19/T20/T40/#26/#27: deleting a connection queues disconnects for every other session and the caller', async () => {
      const [s1, s2, s3] = [await Session.create(base), await Session.create(base), await Session.create(base)];
      const id = uid('del');
      await s1.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      await s2.answer(id, SDP_ANSWER);
      const r = await s2.disconnect(id);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { connectionId: id });
      for (const [name, s] of [['offerer', s1], ['caller', s2], ['bystander', s3]]) {
        const disc = (await s.all(0)).messages.filter((m) => m.type === 'disconnect' && m.connectionId === id);
        assert.equal(disc.length, 1, `${name} must see exactly one disconnect: ${JSON.stringify(disc)}`);
        assert.ok(isNowish(disc[0].datetime));
        assert.deepEqual(disc[0], { connectionId: id, type: 'disconnect', datetime: disc[0].datetime });
      }
      assert.ok(!(await s2.connections()).connections.some((c) => c.connectionId === id), 'caller no longer owns the id');
      for (const s of [s1, s2, s3]) assert.equal((await s.destroy()).status, 200);
    });

    test('T21/#29: an answer after the offerer left returns 200 and the answerer sees a disconnect', async () => {
      const [s1, s2] = [await Session.create(base), await Session.create(base)];
      const id = uid('late');
      await s1.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      assert.equal((await s1.disconnect(id)).status, 200);
      assert.equal((await s1.destroy()).status, 200);
      const r = await s2.answer(id, SDP_ANSWER);
      assert.equal(r.status, 200);
      const msgs = (await s2.all(0)).messages;
      assert.ok(msgs.some((m) => m.type === 'disconnect' && m.connectionId === id), JSON.stringify(msgs));
      assert.ok(!msgs.some((m) => m.type === 'offer' && m.connectionId === id), 'the deleted offer is gone');
      await s2.destroy();
    });

    test('#29: an answer for an unknown id returns 200 and changes nothing', async () => {
      const s = await Session.create(base);
      const r = await s.answer(uid('nobody'), SDP_ANSWER);
      assert.equal(r.status, 200);
      await s.destroy();
    });

    test('T37/#33: GET /signaling merges connects, offers, answers, candidates, sorted by datetime', async () => {
      const [s1, s2] = [await Session.create(base), await Session.create(base)];
      const x = uid('mx'), y = uid('my');
      await s1.connectOk(x);
      await s2.connectOk(y);
      await s1.offer(x, 'merge offer');
      await serverTimeAfter(s2, (await s1.all(Date.now() + 1e9)).datetime);
      await s2.answer(x, 'merge answer');
      await s1.candidate(x, 'merge cand', 0, '0');
      const before = Date.now();
      const r2 = await s2.all(0);
      assert.deepEqual(Object.keys(r2).sort(), ['datetime', 'messages']);
      assert.ok(Number.isInteger(r2.datetime) && r2.datetime >= before - 1000 && r2.datetime <= Date.now() + 1000,
        `datetime is this request's time: ${r2.datetime}`);
      const mine = r2.messages.filter((m) => m.connectionId === x || m.connectionId === y);
      const kinds = mine.map((m) => `${m.type}:${m.connectionId === x ? 'x' : 'y'}`).sort();
      assert.deepEqual(kinds, ['candidate:x', 'connect:x', 'connect:y', 'offer:x'].sort(),
        `s2 sees its connects (y, and x joined by answering), s1's offer and candidate: ${JSON.stringify(mine)}`);
      for (let i = 1; i < r2.messages.length; i++) {
        assert.ok(r2.messages[i - 1].datetime <= r2.messages[i].datetime, `sorted ascending: ${JSON.stringify(r2.messages)}`);
      }
      for (const m of r2.messages) assert.ok(Number.isInteger(m.datetime) && m.datetime <= r2.datetime);
      const r1 = await s1.all(0);
      const mine1 = r1.messages.filter((m) => m.connectionId === x || m.connectionId === y);
      assert.deepEqual(mine1.map((m) => m.type).sort(), ['answer', 'connect'], JSON.stringify(mine1));
      for (let i = 1; i < r1.messages.length; i++) assert.ok(r1.messages[i - 1].datetime <= r1.messages[i].datetime);
      // Connect entries are not filtered by fromtime; everything else is.
      const future = await s2.all(Date.now() + 1e9);
      assert.deepEqual(future.messages.map((m) => m.type).sort(), ['connect', 'connect'], JSON.stringify(future));
      await s1.destroy(); await s2.destroy();
    });

    test('T36/#32/#34: fromtime is inclusive; absent, 0 or negative means everything; offers persist across polls', async () => {
      const [s1, s2] = [await Session.create(base), await Session.create(base)];
      const id = uid('ft');
      await s1.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      const [o] = byId((await s2.offers()).offers, id);
      assert.ok(o, 'absent fromtime returns the offer');
      const d = o.datetime;
      assert.equal(byId((await s2.offers(d)).offers, id).length, 1, 'fromtime == datetime is included');
      assert.equal(byId((await s2.offers(d + 1)).offers, id).length, 0, 'fromtime == datetime + 1 excludes it');
      assert.equal(byId((await s2.offers(0)).offers, id).length, 1, 'fromtime=0: all');
      assert.equal(byId((await s2.offers(-30000)).offers, id).length, 1, 'negative fromtime (Unity first poll): all');
      assert.equal(byId((await s2.offers(d)).offers, id).length, 1, 'not consumed by reading');
      const future = Date.now() + 1e7;
      assert.deepEqual(await s2.offers(future), { offers: [] });
      assert.deepEqual(await s2.answers(future), { answers: [] });
      assert.deepEqual(await s2.candidates(future), { candidates: [] });
      const all = await s2.all(-30000);
      assert.ok(all.messages.some((m) => m.type === 'offer' && m.connectionId === id), 'GET /signaling with negative fromtime');
      await s1.destroy(); await s2.destroy();
    });

    test('#37: a long-lived streamer session keeps receiving viewer candidates after 100 viewers came and went', async () => {
      const U = await Session.create(base);
      for (let i = 0; i < 100; i++) {
        const V = await Session.create(base);
        const id = uid(`hv${i}`);
        await V.connectOk(id);
        await V.offer(id, `offer ${i}`);
        assert.equal(byId((await U.offers(0)).offers, id).length, 1, `viewer #${i} offer visible to the streamer`);
        await U.answer(id, `answer ${i}`);
        assert.equal(byId((await V.answers(0)).answers, id).length, 1, `viewer #${i} got the answer`);
        await V.candidate(id, `candidate ${i}`, 0, '0');
        const got = byId((await U.candidates(0)).candidates, id);
        assert.equal(got.length, 1, `viewer #${i}: its candidate must reach the streamer session; got ${JSON.stringify(got)}`);
        await U.candidate(id, `streamer candidate ${i}`, 0, '0');
        assert.equal(byId((await V.candidates(0)).candidates, id).length, 1, `viewer #${i} got the streamer candidate`);
        assert.equal((await V.disconnect(id)).status, 200);
        assert.equal((await V.destroy()).status, 200);
      }
      await U.destroy();
    });

    test('#37: one TCP connection per request (Connection: close, as Unity\'s KeepAlive:false) with a lower-case session-id header', async () => {
      const put = await rawRequest(srv.port, 'PUT /signaling HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      assert.equal(put.status, 200, put.statusLine);
      assert.ok(put.closedByServer, 'the server closes after Connection: close');
      const { sessionId } = JSON.parse(put.body);
      assert.match(sessionId, UUID_V4);
      const id = uid('ka');
      const body = JSON.stringify({ connectionId: id });
      const conn = await rawRequest(srv.port, `PUT /signaling/connection HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
        `session-id: ${sessionId}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      assert.equal(conn.status, 200, conn.statusLine);
      assert.equal(JSON.parse(conn.body).connectionId, id);
      const poll = await rawRequest(srv.port, `GET /signaling?fromtime=-29000 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nSESSION-ID: ${sessionId}\r\n\r\n`);
      assert.equal(poll.status, 200, poll.statusLine);
      assert.ok(JSON.parse(poll.body).messages.some((m) => m.type === 'connect' && m.connectionId === id));
      await request(base, 'DELETE', '/signaling', { session: sessionId });
    });

    test('#37: Expect: 100-continue is answered with 100 Continue before the body is sent (curl and .NET clients wait for it)', async () => {
    const s = await Session.create(base);
    const id = uid('expect');
    await s.connectOk(id);
    const body = JSON.stringify({ connectionId: id, sdp: 'a'.repeat(4000) });
    const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
    sock.on('error', () => {});
    let got = '';
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.write(`POST /signaling/offer HTTP/1.1\r\nHost: 127.0.0.1\r\nSession-Id: ${s.id}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
    try {
      await waitFor(() => /^HTTP\/1\.1 \d{3}/.test(got), { timeoutMs: 800, intervalMs: 10, what: 'an interim 100 Continue (or a final status) after the headers' });
      assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
      sock.write(body);
      await waitFor(() => /HTTP\/1\.1 200 OK[\s\S]*\r\n\r\nOK$/.test(got), { what: 'the final 200 OK' });
    } finally {
      sock.destroy();
      await s.destroy();
    }
  });

  test('#32: an empty fromtime means everything', async () => {
      const [s1, s2] = [await Session.create(base), await Session.create(base)];
      const id = uid('empty');
      await s1.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      assert.equal(byId((await s2.json('GET', '/signaling/offer?fromtime=')).offers, id).length, 1);
      assert.ok((await s2.json('GET', '/signaling?fromtime=')).messages.some((m) => m.type === 'offer' && m.connectionId === id));
      await s1.destroy(); await s2.destroy();
    });

    test('#1: in http mode the WebSocket upgrade is refused', async () => {
      const r = await rawUpgrade(srv.port, { label: 'upgrade-in-http-mode' });
      if (r.ws) await r.ws.destroy();
      assert.notEqual(r.status, 101);
    });

    test('T33: GET / answers 200 with the index page', async () => {
      const r = await request(base, 'GET', '/');
      assert.equal(r.status, 200);
      assert.equal(r.text, '<!doctype html><title>T33</title>');
    });

    test('T38: /config in http mode says useWebSocket:false', async () => {
      const r = await request(base, 'GET', '/config');
      assert.equal(r.status, 200);
      assert.equal(r.json.useWebSocket, false);
      assert.equal(r.json.startupMode, 'public');
      assert.equal(r.json.logging, 'none');
    });

    test('graceful stop: SIGTERM exits 0 within 2 s', async () => {
      await srv.stop();
    });
  });

  describe('http polling, public mode, session eviction (--session-timeout 1)', { concurrency: 1 }, () => {
    let srv;
    before(async () => { srv = await startServer({ args: ['-t', 'http', '-m', 'public', '--session-timeout', '1'] }); });
    after(async () => { await srv?.kill(); });

    /** Poll with `s` until its messages contain disconnects for all `ids`; optional `each` per poll. */
    async function pollUntilDisconnects(s, ids, each) {
      const seen = new Set();
      await waitFor(async () => {
        if (each) await each();
        const r = await s.call('GET', '/signaling?fromtime=0');
        assert.equal(r.status, 200, `the polling session must survive: ${r.status}`);
        for (const m of r.json.messages) if (m.type === 'disconnect' && ids.includes(m.connectionId)) seen.add(m.connectionId);
        return seen.size === ids.length;
      }, { timeoutMs: 6000, intervalMs: 100, what: `disconnect records for ${ids.join(', ')} after eviction (seen ${[...seen]})` });
    }

    test('T22/#24: a silent partner is evicted (then 404) while the polling offerer survives, even after re-offering', async () => {
      const [s1, s2] = [await Session.create(srv.base), await Session.create(srv.base)];
      const id = uid('evict');
      await s1.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      assert.equal((await s2.answer(id, SDP_ANSWER)).status, 200);
      let polls = 0;
      await pollUntilDisconnects(s1, [id], async () => {
        if (++polls === 5) assert.equal((await s1.offer(id, 're-offer')).status, 200);
      });
      assert.equal((await s2.call('GET', '/signaling?fromtime=0')).status, 404, 'the silent session is gone');
      assert.equal((await s1.call('GET', '/signaling?fromtime=0')).status, 200, 'the active session survives');
      await s1.destroy();
    });

    test('T23/#24: with three sessions where only the third polls, both silent ones are evicted', async () => {
      const [s1, s2, s3] = [await Session.create(srv.base), await Session.create(srv.base), await Session.create(srv.base)];
      const a = uid('ea'), b = uid('eb'), c = uid('ec');
      await s1.connectOk(a);
      await s2.connectOk(b);
      await s3.connectOk(c);
      await pollUntilDisconnects(s3, [a, b]);
      assert.equal((await s1.call('GET', '/signaling/connection')).status, 404);
      assert.equal((await s2.call('GET', '/signaling/connection')).status, 404);
      assert.equal((await s3.call('GET', '/signaling/connection')).status, 200);
      await s3.destroy();
    });

    test('#24: a session nobody polls at all is still evicted (timer), watched through /api/status', async () => {
      const s = await Session.create(srv.base);
      await s.connectOk(uid('lonely'));
      const status = async () => (await request(srv.metricsBase, 'GET', '/api/status')).json;
      assert.ok((await status()).http_sessions >= 1);
      await waitFor(async () => (await status()).http_sessions === 0, { timeoutMs: 5000, intervalMs: 100, what: 'http_sessions to drop to 0' });
      assert.equal((await s.call('GET', '/signaling/connection')).status, 404);
    });

    test('graceful stop: SIGTERM exits 0 within 2 s', async () => {
      await srv.stop();
    });
  });
});
