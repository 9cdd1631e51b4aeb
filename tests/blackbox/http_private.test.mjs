// HTTP-polling transport, private mode: checklist 21-35, reference tests T24-T29, T40, T42-T43.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor } from './lib/server.mjs';
import { request, Session } from './lib/http.mjs';
import { uid, isNowish, SDP_OFFER, SDP_ANSWER } from './lib/common.mjs';

const byId = (list, id) => list.filter((x) => x.connectionId === id);
const discs = (msgs, id) => msgs.filter((m) => m.type === 'disconnect' && m.connectionId === id);

describe('http polling, private mode (all suites)', { concurrency: true }, () => {
  describe('http polling, private mode', { concurrency: 1 }, () => {
    let srv;
    let base;
    before(async () => { srv = await startServer({ args: ['-t', 'http', '-m', 'private'] }); base = srv.base; });
    after(async () => { await srv?.kill(); });

    async function sessions(n) { const out = []; for (let i = 0; i < n; i++) out.push(await Session.create(base)); return out; }
    async function destroyAll(ss) { for (const s of ss) await s.destroy(); }

    test('T24/T26/#25: polite false then true; a third session on the same id gets 400 {"error":...}', async () => {
      const ss = await sessions(3);
      const id = uid('pp');
      const r1 = await ss[0].connect(id);
      assert.equal(r1.status, 200);
      assert.ok(isNowish(r1.json.datetime));
      assert.deepEqual(r1.json, { connectionId: id, polite: false, type: 'connect', datetime: r1.json.datetime });
      const r2 = await ss[1].connect(id);
      assert.equal(r2.status, 200);
      assert.deepEqual(r2.json, { connectionId: id, polite: true, type: 'connect', datetime: r2.json.datetime });
      const r3 = await ss[2].connect(id);
      assert.equal(r3.status, 400, `third session: ${r3.status} ${r3.text}`);
      assert.ok(r3.json && 'error' in r3.json, `400 body has "error": ${r3.text}`);
      assert.ok(!(await ss[2].connections()).connections.some((c) => c.connectionId === id), 'not registered');
      await destroyAll(ss);
    });

    test('#25: a session repeating PUT /signaling/connection keeps its role', async () => {
    const ss = await sessions(3);
    const id = uid('again');
    assert.equal((await ss[0].connectOk(id)).polite, false);
    assert.equal((await ss[0].connectOk(id)).polite, false);
    assert.equal((await ss[1].connectOk(id)).polite, true);
    assert.equal((await ss[1].connectOk(id)).polite, true);
    assert.equal((await ss[2].connect(id)).status, 400);
    await destroyAll(ss);
  });

  test('T25/#25: missing connectionId gives 400 with an "error" key', async () => {
      const [s] = await sessions(1);
      const r = await s.call('PUT', '/signaling/connection', { body: {} });
      assert.equal(r.status, 400);
      assert.ok(r.json && 'error' in r.json, r.text);
      await destroyAll([s]);
    });

    test('T12/#22: unknown session gives 404 in private mode too', async () => {
      const r = await request(base, 'GET', '/signaling/connection', { session: '22222222-2222-4222-8222-222222222222' });
      assert.equal(r.status, 404);
      assert.equal((await request(base, 'GET', '/signaling', { session: 'bogus' })).status, 404);
    });

    test('T27/T42/#28: an offer without a partner is dropped for good; with one, only the partner sees it with polite:true', async () => {
      const [s1, s2, s3] = await sessions(3);
      const id = uid('po');
      await s1.connectOk(id);
      const early = await s1.offer(id, 'early offer');
      assert.equal(early.status, 200, 'POST still returns 200 without a partner');
      assert.equal(early.text, 'OK');
      await s2.connectOk(id);
      assert.deepEqual(byId((await s2.offers(0)).offers, id), [], 'the early offer is never delivered');
      const r = await s1.offer(id, SDP_OFFER);
      assert.equal(r.status, 200);
      const [o, ...rest] = byId((await s2.offers(0)).offers, id);
      assert.equal(rest.length, 0, 'only the re-sent offer');
      assert.ok(o);
      assert.ok(isNowish(o.datetime));
      assert.deepEqual(o, { connectionId: id, sdp: SDP_OFFER, polite: true, type: 'offer', datetime: o.datetime });
      assert.deepEqual(byId((await s1.offers(0)).offers, id), [], 'not the poster');
      assert.deepEqual(byId((await s3.offers(0)).offers, id), [], 'not a bystander');
      await destroyAll([s1, s2, s3]);
    });

    test('T27/#29/#30: answer and candidates reach the partner only', async () => {
      const [s1, s2, s3] = await sessions(3);
      const id = uid('pa');
      await s1.connectOk(id);
      await s2.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      const c1 = { candidate: 'candidate:1 1 udp 1 192.0.2.1 1 typ host', sdpMLineIndex: 0, sdpMid: '0' };
      await s1.candidate(id, c1.candidate, c1.sdpMLineIndex, c1.sdpMid);
      assert.equal((await s2.answer(id, SDP_ANSWER)).text, 'OK');
      const [a, ...more] = byId((await s1.answers(0)).answers, id);
      assert.equal(more.length, 0);
      assert.ok(a, 'offerer sees the answer');
      assert.deepEqual(a, { connectionId: id, sdp: SDP_ANSWER, type: 'answer', datetime: a.datetime });
      assert.deepEqual(byId((await s2.answers(0)).answers, id), []);
      assert.deepEqual(byId((await s3.answers(0)).answers, id), []);
      const got = byId((await s2.candidates(0)).candidates, id);
      assert.equal(got.length, 1, JSON.stringify(got));
      assert.deepEqual(got[0], { connectionId: id, ...c1, type: 'candidate', datetime: got[0].datetime });
      const c2 = { candidate: 'candidate:2 1 udp 1 192.0.2.2 2 typ host', sdpMLineIndex: '0', sdpMid: 0 };
      await s2.candidate(id, c2.candidate, c2.sdpMLineIndex, c2.sdpMid);
      const back = byId((await s1.candidates(0)).candidates, id);
      assert.equal(back.length, 1, JSON.stringify(back));
      assert.deepEqual(back[0], { connectionId: id, ...c2, type: 'candidate', datetime: back[0].datetime });
      assert.deepEqual(byId((await s3.candidates(0)).candidates, id), []);
      await destroyAll([s1, s2, s3]);
    });

    test('T28/T43/#27: deleting the connection removes it from both sides; disconnects to partner and caller only', async () => {
      const [s1, s2, s3] = await sessions(3);
      const id = uid('pd');
      const other = uid('other');
      await s1.connectOk(id);
      await s2.connectOk(id);
      await s3.connectOk(other);
      const r = await s2.disconnect(id);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { connectionId: id });
      assert.ok(!(await s1.connections()).connections.some((c) => c.connectionId === id), 'gone from the partner');
      assert.ok(!(await s2.connections()).connections.some((c) => c.connectionId === id), 'gone from the caller');
      const d1 = discs((await s1.all(0)).messages, id);
      const d2 = discs((await s2.all(0)).messages, id);
      assert.equal(d1.length, 1, `partner: ${JSON.stringify(d1)}`);
      assert.equal(d2.length, 1, `caller (T40: exactly one): ${JSON.stringify(d2)}`);
      assert.deepEqual(d1[0], { connectionId: id, type: 'disconnect', datetime: d1[0].datetime });
      assert.deepEqual(discs((await s3.all(0)).messages, id), [], 'private: no disconnect for bystanders');
      // The id is free again: a new session is first (impolite).
      const [s4] = await sessions(1);
      assert.equal((await s4.connectOk(id)).polite, false);
      await destroyAll([s1, s2, s3, s4]);
    });

    test('T29/#29: late answer after the offerer left gives 200 and the answerer sees a disconnect', async () => {
      const [s1, s2] = await sessions(2);
      const id = uid('pl');
      await s1.connectOk(id);
      await s2.connectOk(id);
      await s1.offer(id, SDP_OFFER);
      assert.equal((await s1.disconnect(id)).status, 200);
      assert.equal((await s1.destroy()).status, 200);
      assert.equal((await s2.answer(id, SDP_ANSWER)).status, 200);
      assert.equal(discs((await s2.all(0)).messages, id).length, 1);
      await destroyAll([s2]);
    });

    test('#27: deleting a whole session notifies the partner like deleting each connection', async () => {
      const [s1, s2] = await sessions(2);
      const id = uid('ps');
      await s1.connectOk(id);
      await s2.connectOk(id);
      assert.equal((await s1.destroy()).status, 200);
      assert.equal(discs((await s2.all(0)).messages, id).length, 1);
      await destroyAll([s2]);
    });

    test('#37: a long-lived streamer session keeps exchanging candidates after 100 viewers came and went', async () => {
    const [U] = await sessions(1);
    for (let i = 0; i < 100; i++) {
      const [V] = await sessions(1);
      const id = uid(`pv${i}`);
      const r = await U.connect(id);
      assert.equal(r.status, 200, `streamer connect for viewer #${i}: ${r.status} ${r.text}`);
      assert.equal((await V.connectOk(id)).polite, true);
      await V.offer(id, `offer ${i}`);
      assert.equal(byId((await U.offers(0)).offers, id).length, 1, `viewer #${i}: offer reaches the streamer`);
      await U.answer(id, `answer ${i}`);
      assert.equal(byId((await V.answers(0)).answers, id).length, 1, `viewer #${i}: answer reaches the viewer`);
      await V.candidate(id, `vc${i}`, 0, '0');
      assert.equal(byId((await U.candidates(0)).candidates, id).length, 1, `viewer #${i}: candidate reaches the streamer`);
      await U.candidate(id, `uc${i}`, 0, '0');
      assert.equal(byId((await V.candidates(0)).candidates, id).length, 1, `viewer #${i}: streamer candidate reaches the viewer`);
      assert.equal((await V.destroy()).status, 200);
      assert.equal(discs((await U.all(0)).messages, id).length, 1, `viewer #${i}: streamer sees the disconnect`);
    }
    await destroyAll([U]);
  });

  test('T38: /config reports private mode and http', async () => {
      const r = await request(base, 'GET', '/config');
      assert.equal(r.status, 200);
      assert.deepEqual({ useWebSocket: r.json.useWebSocket, startupMode: r.json.startupMode },
        { useWebSocket: false, startupMode: 'private' });
    });

    test('graceful stop: SIGTERM exits 0 within 2 s', async () => {
      await srv.stop();
    });
  });

  describe('http polling, private mode, session eviction (--session-timeout 1)', { concurrency: 1 }, () => {
    let srv;
    before(async () => { srv = await startServer({ args: ['-t', 'http', '-m', 'private', '--session-timeout', '1'] }); });
    after(async () => { await srv?.kill(); });

    test('T22/#24: a silent partner is evicted and the polling side gets a disconnect', async () => {
      const [s1, s2] = [await Session.create(srv.base), await Session.create(srv.base)];
      const id = uid('pe');
      await s1.connectOk(id);
      await s2.connectOk(id);
      await waitFor(async () => {
        const r = await s1.call('GET', '/signaling?fromtime=0');
        assert.equal(r.status, 200, 'the polling session must survive');
        return discs(r.json.messages, id).length > 0;
      }, { timeoutMs: 6000, intervalMs: 100, what: 'a disconnect record after the partner was evicted' });
      assert.equal((await s2.call('GET', '/signaling?fromtime=0')).status, 404);
      assert.equal((await s1.call('GET', '/signaling/connection')).status, 200);
    });

    test('graceful stop: SIGTERM exits 0 within 2 s', async () => {
      await srv.stop();
    });
  });
});
