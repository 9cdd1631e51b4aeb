// WebSocket transport, public mode: checklist 8-20, reference tests T1-T7, T41, T45.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { openWs, closeAll } from './lib/ws.mjs';
import { clients, uid, assertRelay, quiet, SDP_OFFER, SDP_ANSWER, ODD_CANDIDATES, QUIET_MS } from './lib/common.mjs';

describe('websocket transport, public mode', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['-t', 'websocket', '-m', 'public'] }); });
  after(async () => { await srv?.kill(); });

  /** A offers `id` (A owns it via connect), B answers; everyone else's queues drained. */
  async function pair(A, B, id, others = []) {
    await A.connect(id);
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: SDP_OFFER } });
    await B.nextType('offer', undefined, (j) => j.from === id);
    for (const o of others) await o.nextType('offer', undefined, (j) => j.from === id);
    B.send({ type: 'answer', from: id, data: { connectionId: id, sdp: SDP_ANSWER } });
    await A.nextType('answer', undefined, (j) => j.from === id);
  }

  test('T1/#8/#9: connect is acked to the sender only, polite:true, for any number of sockets', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const a = uid('a'), b = uid('b');
    assert.deepEqual(await A.connect(a), { type: 'connect', connectionId: a, polite: true });
    assert.deepEqual(await B.connect(b), { type: 'connect', connectionId: b, polite: true });
    // Same id on a third socket: public mode has no uniqueness, still polite:true, no error.
    assert.deepEqual(await C.connect(a), { type: 'connect', connectionId: a, polite: true });
    await quiet([A, B, C], QUIET_MS, 'connect acks must not leak to other sockets');
  });

  test('T2/#11/#12/#16/#19: offer is broadcast to every other socket with polite:false; routing uses data.connectionId', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('offer');
    await A.connect(id);
    // Unity-style envelope: top-level from/to must be ignored, data.type/data.polite too.
    A.send({ type: 'offer', from: 'not-the-id', to: 'nobody', data: { connectionId: id, sdp: SDP_OFFER, type: 'offer', polite: true } });
    const expected = { from: id, type: 'offer', data: { sdp: SDP_OFFER, polite: false } };
    assertRelay(await B.nextType('offer'), expected);
    assertRelay(await C.nextType('offer'), expected);
    await quiet([A, B, C], QUIET_MS, 'own offer must not come back; one copy per socket');
  });

  test('T3/#14: answer goes only to the offerer, without polite', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('ans');
    await A.connect(id);
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: SDP_OFFER } });
    await B.nextType('offer');
    await C.nextType('offer');
    B.send({ type: 'answer', from: 'ignored', to: 'ignored', data: { connectionId: id, sdp: SDP_ANSWER, type: 'answer' } });
    assertRelay(await A.nextType('answer'), { from: id, type: 'answer', data: { sdp: SDP_ANSWER } });
    await quiet([A, B, C], QUIET_MS, 'answer only to the offerer');
  });

  test('T4/T41/#15: candidates are broadcast with field values and JSON types verbatim, both ways', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('cand');
    await pair(A, B, id, [C]);
    for (const cand of ODD_CANDIDATES) {
      A.send({ type: 'candidate', from: id, data: { connectionId: id, ...cand } });
      assertRelay(await B.nextType('candidate'), { from: id, type: 'candidate', data: cand });
      assertRelay(await C.nextType('candidate'), { from: id, type: 'candidate', data: cand });
    }
    for (const cand of ODD_CANDIDATES) {
      B.send({ type: 'candidate', from: id, data: { connectionId: id, ...cand } });
      assertRelay(await A.nextType('candidate'), { from: id, type: 'candidate', data: cand });
      assertRelay(await C.nextType('candidate'), { from: id, type: 'candidate', data: cand });
    }
    await quiet([A, B, C], QUIET_MS, 'a socket never receives its own candidate');
  });

  test('T5/T6/#17: disconnect goes to the partner and back to the sender; a second one only echoes', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('disc');
    await pair(A, B, id, [C]);
    B.send({ type: 'disconnect', connectionId: id });
    assert.deepEqual(await A.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    assert.deepEqual(await B.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    await quiet([A, B, C], QUIET_MS, 'exactly one disconnect each, none to bystanders');
    A.send({ type: 'disconnect', connectionId: id });
    assert.deepEqual(await A.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    await quiet([A, B, C], QUIET_MS, 'the pair is gone: only the echo');
  });

  test('#17: disconnect for a never-registered id is echoed to the sender only', async (t) => {
    const [A, B] = await clients(t, srv, 2);
    const id = uid('never');
    A.send({ type: 'disconnect', connectionId: id });
    assert.deepEqual(await A.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    await quiet([A, B]);
  });

  test('T45/#18: closing the answerer socket notifies the offerer', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('close1');
    await pair(A, B, id, [C]);
    await B.close();
    assert.deepEqual(await A.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    await quiet([A, C]);
  });

  test('T45/#18: closing the offerer socket notifies the answerer', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('close2');
    await pair(A, B, id, [C]);
    await A.terminate(); // abrupt TCP close, no close frame
    assert.deepEqual(await B.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    await quiet([B, C]);
  });

  test('T7: sockets that close without pairs cause no traffic and the server keeps working', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    await A.connect(uid('x'));
    await B.close();
    await A.close();
    await C.expectNothing(QUIET_MS);
    const id = uid('after');
    assert.deepEqual(await C.connect(id), { type: 'connect', connectionId: id, polite: true });
  });

  test('#12: a new offer for the same id replaces the pair: the next answer goes to the new offerer only', async (t) => {
    const [A, B, C, D] = await clients(t, srv, 4);
    const id = uid('repl');
    await pair(A, B, id, [C, D]);
    C.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'second offer' } });
    for (const x of [A, B, D]) assertRelay(await x.nextType('offer'), { from: id, type: 'offer', data: { sdp: 'second offer', polite: false } });
    D.send({ type: 'answer', from: id, data: { connectionId: id, sdp: 'answer from D' } });
    assertRelay(await C.nextType('answer'), { from: id, type: 'answer', data: { sdp: 'answer from D' } });
    await quiet([A, B, C, D], QUIET_MS, 'the old offerer must not get the new answer');
  });

  test('#14: an answer for an unknown id is dropped', async (t) => {
    const [A, B] = await clients(t, srv, 2);
    A.send({ type: 'answer', from: 'x', data: { connectionId: uid('unknown'), sdp: SDP_ANSWER } });
    await quiet([A, B]);
    assert.ok(A.isOpen);
  });

  test('#19: answering one\'s own offer is dropped and breaks nothing', async (t) => {
    const [A, B] = await clients(t, srv, 2);
    const id = uid('self');
    await A.connect(id);
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: SDP_OFFER } });
    await B.nextType('offer');
    A.send({ type: 'answer', from: id, data: { connectionId: id, sdp: 'self answer' } });
    await quiet([A, B], QUIET_MS, 'self answer must go nowhere');
    assert.ok(A.isOpen && B.isOpen);
    // Still usable: re-offer, proper answer.
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'again' } });
    assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp: 'again', polite: false } });
    B.send({ type: 'answer', from: id, data: { connectionId: id, sdp: SDP_ANSWER } });
    assertRelay(await A.nextType('answer'), { from: id, type: 'answer', data: { sdp: SDP_ANSWER } });
  });

  test('#20: binary frames carrying JSON are accepted; replies and relays are text frames', async (t) => {
    const [A, B] = await clients(t, srv, 2);
    const id = uid('bin');
    A.sendBinary(JSON.stringify({ type: 'connect', connectionId: id }));
    const ack = await A.next((j) => j?.type === 'connect', undefined, { raw: true, what: 'connect ack' });
    assert.equal(ack.isBinary, false, 'ack must be a text frame');
    assert.deepEqual(ack.json, { type: 'connect', connectionId: id, polite: true });
    A.sendBinary(JSON.stringify({ type: 'offer', from: id, data: { connectionId: id, sdp: SDP_OFFER } }));
    const off = await B.next((j) => j?.type === 'offer', undefined, { raw: true, what: 'offer' });
    assert.equal(off.isBinary, false, 'relay must be a text frame');
    assertRelay(off.json, { from: id, type: 'offer', data: { sdp: SDP_OFFER, polite: false } });
  });

  test('#1: the upgrade is accepted on an arbitrary path', async (t) => {
    const A = await openWs(srv, { path: '/any/path?x=1', label: 'path' });
    t.after(() => A.close());
    const id = uid('path');
    assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
  });

  test('#7: unknown message types are ignored and the socket stays open', async (t) => {
    const [A, B] = await clients(t, srv, 2);
    A.send({ type: 'bogus', connectionId: 'x', data: { connectionId: 'x' } });
    A.send({ type: 'Offer', data: { connectionId: 'x', sdp: 's' } });
    await quiet([A, B]);
    assert.ok(A.isOpen);
    const id = uid('still');
    assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
  });

  test('#36: Unity-style reconnect (close, new socket, same id) works', async (t) => {
    const [U, B] = await clients(t, srv, 2, { prefix: 'unity' });
    const id = uid('unity');
    await B.connect(id);
    await U.connect(id);
    B.send({ type: 'offer', from: id, data: { connectionId: id, sdp: SDP_OFFER } });
    await U.nextType('offer');
    U.send({ type: 'answer', from: id, data: { connectionId: id, sdp: SDP_ANSWER } });
    await B.nextType('answer');
    await U.terminate();
    assert.deepEqual(await B.nextType('disconnect'), { type: 'disconnect', connectionId: id });
    const [U2] = await clients(t, srv, 1, { prefix: 'unity2-' });
    assert.deepEqual(await U2.connect(id), { type: 'connect', connectionId: id, polite: true });
    B.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'resend' } });
    assertRelay(await U2.nextType('offer'), { from: id, type: 'offer', data: { sdp: 'resend', polite: false } });
    U2.send({ type: 'answer', from: id, data: { connectionId: id, sdp: 'a2' } });
    assertRelay(await B.nextType('answer'), { from: id, type: 'answer', data: { sdp: 'a2' } });
    const cand = { candidate: 'candidate:9 1 udp 9 127.0.0.1 5000 typ host', sdpMLineIndex: 0, sdpMid: '0' };
    U2.send({ type: 'candidate', from: id, data: { connectionId: id, ...cand } });
    assertRelay(await B.nextType('candidate'), { from: id, type: 'candidate', data: cand });
  });

  test('#15: a burst of 200 candidates arrives complete and in order at every other socket', async (t) => {
    const [A, B, C] = await clients(t, srv, 3);
    const id = uid('order');
    await pair(A, B, id, [C]);
    for (let i = 0; i < 200; i++) A.send({ type: 'candidate', from: id, data: { connectionId: id, candidate: `c${i}`, sdpMLineIndex: i, sdpMid: '0' } });
    for (const X of [B, C]) {
      for (let i = 0; i < 200; i++) {
        const f = await X.nextType('candidate');
        assert.equal(f.data.candidate, `c${i}`, `${X.label}: candidate #${i} out of order`);
      }
    }
  });

  test('#8: connection ids with quotes, backslashes, control and non-ASCII characters are echoed exactly', async (t) => {
    const [A, B] = await clients(t, srv, 2);
    const id = `we"ird\\id\u0001\t-ünïcødé-☃-😀-${uid('x')}`;
    assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
    const sdp = 'v=0\r\n\u0000nul "q" \\ é 😀';
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp } });
    assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp, polite: false } });
  });

  test('permessage-deflate offered by the client (as browsers do) still works', async (t) => {
    const A = await openWs(srv, { label: 'deflate-a', perMessageDeflate: true });
    const B = await openWs(srv, { label: 'deflate-b', perMessageDeflate: true });
    t.after(() => closeAll(A, B));
    const id = uid('deflate');
    assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
    const sdp = 'a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n'.repeat(500);
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp } });
    assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp, polite: false } });
  });

  test('#12: an offer reaches all of 150 open sockets', async (t) => {
    const cs = await clients(t, srv, 150, { prefix: 'fan' });
    const id = uid('fan');
    cs[0].send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'fan-out' } });
    await Promise.all(cs.slice(1).map(async (c) => assertRelay(await c.nextType('offer', 3000),
      { from: id, type: 'offer', data: { sdp: 'fan-out', polite: false } })));
    await cs[0].expectNothing(100);
  });

  test('a socket may own 64 connection ids; the 65th connect gets an error frame and the socket stays usable', async (t) => {
    const [A] = await clients(t, srv, 1);
    const ids = Array.from({ length: 65 }, (_, i) => uid(`many${i}`));
    for (const id of ids.slice(0, 64)) assert.equal((await A.connectRaw(id)).type, 'connect');
    const over = await A.connectRaw(ids[64]);
    assert.equal(over.type, 'error', JSON.stringify(over));
    A.send({ type: 'disconnect', connectionId: ids[0] });
    await A.nextType('disconnect');
    assert.deepEqual(await A.connect(ids[64]), { type: 'connect', connectionId: ids[64], polite: true }, 'a freed slot can be reused');
  });

  test('#36: a long-lived streamer socket still works after 100 viewers came and went (and its close notifies the current viewer)', async (t) => {
    const [U] = await clients(t, srv, 1, { prefix: 'streamer' });
    for (let i = 0; i <= 100; i++) {
      const V = await openWs(srv, { label: `viewer${i}` });
      const id = uid(`v${i}`);
      await V.connect(id);
      V.send({ type: 'offer', from: id, data: { connectionId: id, sdp: `offer ${i}` } });
      await U.nextType('offer', 2000, (j) => j.from === id);
      U.send({ type: 'answer', from: id, data: { connectionId: id, sdp: `answer ${i}` } });
      assertRelay(await V.nextType('answer'), { from: id, type: 'answer', data: { sdp: `answer ${i}` } });
      if (i === 100) {
        // The current viewer must learn that the streamer went away.
        await U.terminate();
        assert.deepEqual(await V.nextType('disconnect', 2000), { type: 'disconnect', connectionId: id },
          'viewer #100 must get a disconnect when the streamer socket closes');
        await V.close();
        break;
      }
      if (i % 2 === 0) V.send({ type: 'disconnect', connectionId: id }); // hang up, then leave
      await V.close();
      await U.nextType('disconnect', 2000, (j) => j.connectionId === id);
    }
  });

  test('graceful stop: SIGTERM exits 0 within 2 s', async () => {
    await srv.stop();
  });
});
