// WebSocket transport, private mode: checklist 8-20, reference tests T8-T11, T42-T45.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { openWs } from './lib/ws.mjs';
import { clients, uid, assertRelay, quiet, SDP_OFFER, SDP_ANSWER, ODD_CANDIDATES, QUIET_MS } from './lib/common.mjs';

describe('websocket transport, private mode', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['-t', 'websocket', '-m', 'private'] }); });
  after(async () => { await srv?.kill(); });

  /** A and B both connect `id` (A first, impolite). */
  async function pairUp(A, B, id) {
    assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: false });
    assert.deepEqual(await B.connect(id), { type: 'connect', connectionId: id, polite: true });
  }

  test('T8/#10: polite false, then true; a third socket gets the "already used" error and nothing leaks', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('p');
    assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: false });
    await A.expectNothing(QUIET_MS, undefined, 'no peer-joined notification in the reference protocol');
    assert.deepEqual(await B.connect(id), { type: 'connect', connectionId: id, polite: true });
    const err = await C.connectRaw(id);
    assert.deepEqual(err, { type: 'error', message: `${id}: This connection id is already used.` });
    await quiet([A, B, C], QUIET_MS);
    assert.ok(C.isOpen, 'the refused socket stays open');
  });

  test('#10: the refused third socket is not registered: closing it notifies nobody; it can still use other ids', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('p3');
    await pairUp(A, B, id);
    const err = await C.connectRaw(id);
    assert.equal(err.type, 'error');
    const other = uid('free');
    assert.deepEqual(await C.connect(other), { type: 'connect', connectionId: other, polite: false });
    await C.close();
    await quiet([A, B], QUIET_MS, 'the refused socket never owned the id');
    // The original pair is intact.
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'still paired' } });
    assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp: 'still paired', polite: true } });
  });

  test('T9/#13/#19: offer goes only to the partner, polite:true', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('off');
    await pairUp(A, B, id);
    await C.connect(uid('other'));
    A.send({ type: 'offer', from: 'ignored', to: 'ignored', data: { connectionId: id, sdp: SDP_OFFER, polite: false } });
    assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp: SDP_OFFER, polite: true } });
    await quiet([A, B, C], QUIET_MS, 'no echo, no broadcast');
    // The polite side may offer too (glare): goes to A, polite:true.
    B.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'from B' } });
    assertRelay(await A.nextType('offer'), { from: id, type: 'offer', data: { sdp: 'from B', polite: true } });
    await quiet([A, B, C]);
  });

  test('T42/#13: an offer sent before the partner connects is dropped and never delivered later', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('early');
    assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: false });
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'too early' } });
    A.send({ type: 'candidate', from: id, data: { connectionId: id, candidate: 'early', sdpMLineIndex: 0, sdpMid: '0' } });
    await quiet([A, B, C], QUIET_MS, 'no partner: dropped');
    assert.deepEqual(await B.connect(id), { type: 'connect', connectionId: id, polite: true });
    await B.expectNothing(QUIET_MS, undefined, 'the early offer must not be delivered late');
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'resent' } });
    assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp: 'resent', polite: true } });
  });

  test('T10/#14/#15: answer and candidates go to the partner only, values and JSON types verbatim', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('ac');
    await pairUp(A, B, id);
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: SDP_OFFER } });
    await B.nextType('offer');
    B.send({ type: 'answer', from: id, data: { connectionId: id, sdp: SDP_ANSWER, type: 'answer' } });
    assertRelay(await A.nextType('answer'), { from: id, type: 'answer', data: { sdp: SDP_ANSWER } });
    for (const cand of ODD_CANDIDATES) {
      A.send({ type: 'candidate', from: id, data: { connectionId: id, ...cand } });
      assertRelay(await B.nextType('candidate'), { from: id, type: 'candidate', data: cand });
      B.send({ type: 'candidate', from: id, data: { connectionId: id, ...cand } });
      assertRelay(await A.nextType('candidate'), { from: id, type: 'candidate', data: cand });
    }
    await quiet([A, B, C], QUIET_MS, 'no echo, nothing to the bystander');
  });

  test('T44: a peer never receives its own offer or answer', async (t) => {
    const [A, B] = await clients(t, srv, 2);
    const id = uid('own');
    await pairUp(A, B, id);
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'o1' } });
    B.send({ type: 'answer', from: id, data: { connectionId: id, sdp: 'a1' } });
    assert.equal((await B.nextType('offer')).data.sdp, 'o1');
    assert.equal((await A.nextType('answer')).data.sdp, 'a1');
    await quiet([A, B]);
  });

  test('T11/T43/#17: disconnect goes to the partner and is echoed; the pair is freed', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('d');
    await pairUp(A, B, id);
    B.send({ type: 'disconnect', connectionId: id });
    assert.deepEqual(await A.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    assert.deepEqual(await B.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    await quiet([A, B, C]);
    // The pair is forgotten: a new socket becomes the first (impolite) owner.
    assert.deepEqual(await C.connect(id), { type: 'connect', connectionId: id, polite: false });
    // A disconnect for an id never registered anywhere is still echoed.
    const never = uid('never');
    A.send({ type: 'disconnect', connectionId: never });
    assert.deepEqual(await A.nextType('disconnect'), { type: 'disconnect', connectionId: never });
    await quiet([A, B, C]);
  });

  test('T45/#18: socket close notifies the partner', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('sc');
    await pairUp(A, B, id);
    await A.close();
    assert.deepEqual(await B.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    await quiet([B, C]);
  });

  test('#36: Unity-style reconnect: a new socket re-sends connect for the same id and pairs again', async (t) => {
    const [U, P] = await clients(t, srv, 2);
    const id = uid('re');
    await pairUp(U, P, id);
    await U.terminate();
    assert.deepEqual(await P.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    const [U2] = await clients(t, srv, 1, { prefix: 'u2-' });
    // The pair was deleted on close, so the reconnecting socket is first again...
    assert.deepEqual(await U2.connect(id), { type: 'connect', connectionId: id, polite: false });
    // ...and the peer re-sending connect (as the sample pages do after a disconnect) completes it.
    assert.deepEqual(await P.connect(id), { type: 'connect', connectionId: id, polite: true });
    U2.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'after reconnect' } });
    assertRelay(await P.nextType('offer'), { from: id, type: 'offer', data: { sdp: 'after reconnect', polite: true } });
    P.send({ type: 'answer', from: id, data: { connectionId: id, sdp: 'ok' } });
    assertRelay(await U2.nextType('answer'), { from: id, type: 'answer', data: { sdp: 'ok' } });
  });

  test('#36: a long-lived streamer socket keeps accepting new connection ids after 100 viewers came and went', async (t) => {
    const [U] = await clients(t, srv, 1, { prefix: 'streamer' });
    for (let i = 0; i < 100; i++) {
      const id = uid(`pv${i}`);
      const ack = await U.connectRaw(id);
      assert.deepEqual(ack, { type: 'connect', connectionId: id, polite: false }, `streamer connect for viewer #${i}`);
      const V = await openWs(srv, { label: `viewer${i}` });
      assert.deepEqual(await V.connect(id), { type: 'connect', connectionId: id, polite: true });
      V.send({ type: 'offer', from: id, data: { connectionId: id, sdp: `o${i}` } });
      await U.nextType('offer', 2000, (j) => j.from === id);
      U.send({ type: 'answer', from: id, data: { connectionId: id, sdp: `a${i}` } });
      await V.nextType('answer');
      if (i % 2 === 0) V.send({ type: 'disconnect', connectionId: id });
      await V.close();
      await U.nextType('disconnect', 2000, (j) => j.connectionId === id);
    }
  });

  test('50 pairs negotiating at the same time are all routed to the right partner', async (t) => {
    const N = 50;
    const cs = await clients(t, srv, 2 * N, { prefix: 'par' });
    const ids = Array.from({ length: N }, (_, i) => uid(`par${i}`));
    await Promise.all(ids.map(async (id, i) => {
      const [A, B] = [cs[2 * i], cs[2 * i + 1]];
      await pairUp(A, B, id);
      A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: `offer for ${id}` } });
      assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp: `offer for ${id}`, polite: true } });
      B.send({ type: 'answer', from: id, data: { connectionId: id, sdp: `answer for ${id}` } });
      assertRelay(await A.nextType('answer'), { from: id, type: 'answer', data: { sdp: `answer for ${id}` } });
    }));
    await quiet(cs, 100, 'no cross-talk between pairs');
  });

  test('a socket repeating connect for an id keeps its role', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('again');
    assert.equal((await A.connect(id)).polite, false);
    assert.equal((await A.connect(id)).polite, false);
    assert.equal((await B.connect(id)).polite, true);
    assert.equal((await B.connect(id)).polite, true);
    assert.equal((await A.connect(id)).polite, false);
    assert.equal((await C.connectRaw(id)).type, 'error');
  });

  test('#20: binary JSON accepted in private mode too; reply is text', async (t) => {
    const [A] = await clients(t, srv, 1);
    const id = uid('bin');
    A.sendBinary(JSON.stringify({ type: 'connect', connectionId: id }));
    const ack = await A.next((j) => j?.type === 'connect', undefined, { raw: true, what: 'ack' });
    assert.equal(ack.isBinary, false);
    assert.deepEqual(ack.json, { type: 'connect', connectionId: id, polite: false });
  });

  test('graceful stop: SIGTERM exits 0 within 2 s', async () => {
    await srv.stop();
  });
});
