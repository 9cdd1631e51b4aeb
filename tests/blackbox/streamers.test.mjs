// Streamer registry extension (docs/protocol.md §6.10, --streamers): one viewer per render instance.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor } from './lib/server.mjs';
import { openWs } from './lib/ws.mjs';
import { request } from './lib/http.mjs';
import { clients, uid, assertRelay, quiet, QUIET_MS } from './lib/common.mjs';

describe('streamer registry', { concurrency: true }, () => {
  describe('--streamers, public mode', { concurrency: 1 }, () => {
    let srv;
    before(async () => { srv = await startServer({ args: ['-m', 'public', '--streamers'] }); });
    after(async () => { await srv?.kill(); });
    const status = async () => (await request(srv.metricsBase, 'GET', '/api/status')).json;

    test('viewers are assigned one free streamer each; traffic stays inside each assignment', async (t) => {
      const [V0, V1, V2] = await clients(t, srv, 3, { prefix: 'viewer' });
      // No streamer yet: refused, owns nothing.
      const none = await V2.connectRaw(uid('early'));
      assert.equal(none.type, 'error');
      assert.equal(none.code, 'no_free_streamer', JSON.stringify(none));

      const R0 = await openWs(srv, { path: '/?role=streamer&name=render-0', label: 'render-0' });
      const R1 = await openWs(srv, { label: 'render-1' });
      t.after(async () => { R0.close(); R1.close(); });
      assert.deepEqual(await R0.nextType('registered'), { type: 'registered', role: 'streamer', name: 'render-0' });
      R1.send({ type: 'register', role: 'streamer', name: 'render-1' });
      assert.deepEqual(await R1.nextType('registered'), { type: 'registered', role: 'streamer', name: 'render-1' });
      await waitFor(async () => (await status()).streamers === 2, { what: 'two registered streamers in /api/status' });

      const id0 = uid('v0'), id1 = uid('v1'), id2 = uid('v2');
      assert.deepEqual(await V0.connect(id0), { type: 'connect', connectionId: id0, polite: true });
      assert.deepEqual(await V1.connect(id1), { type: 'connect', connectionId: id1, polite: true });

      // The longest-registered free streamer (render-0) got V0; render-1 got V1.
      V0.send({ type: 'offer', from: id0, data: { connectionId: id0, sdp: 'o0' } });
      assertRelay(await R0.nextType('offer'), { from: id0, type: 'offer', data: { sdp: 'o0', polite: false } });
      V1.send({ type: 'offer', from: id1, data: { connectionId: id1, sdp: 'o1' } });
      assertRelay(await R1.nextType('offer'), { from: id1, type: 'offer', data: { sdp: 'o1', polite: false } });
      await quiet([V0, V1, V2, R0, R1], QUIET_MS, 'offers go only to the assigned streamer');

      R0.send({ type: 'answer', from: id0, data: { connectionId: id0, sdp: 'a0' } });
      assertRelay(await V0.nextType('answer'), { from: id0, type: 'answer', data: { sdp: 'a0' } });
      const cand = { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMLineIndex: 0, sdpMid: '0' };
      R0.send({ type: 'candidate', from: id0, data: { connectionId: id0, ...cand } });
      assertRelay(await V0.nextType('candidate'), { from: id0, type: 'candidate', data: cand });
      V0.send({ type: 'candidate', from: id0, data: { connectionId: id0, ...cand } });
      assertRelay(await R0.nextType('candidate'), { from: id0, type: 'candidate', data: cand });
      // The streamer's renegotiation offer goes to its viewer only.
      R0.send({ type: 'offer', from: id0, data: { connectionId: id0, sdp: 'renegotiate' } });
      assertRelay(await V0.nextType('offer'), { from: id0, type: 'offer', data: { sdp: 'renegotiate', polite: false } });
      await quiet([V0, V1, V2, R0, R1], QUIET_MS, 'no broadcast with --streamers');

      // Both busy: the third viewer is refused and owns nothing.
      const busy = await V2.connectRaw(id2);
      assert.deepEqual(busy, { type: 'error', message: 'all 2 renderers are busy; try again later', code: 'no_free_streamer' });
      const s = await status();
      assert.equal(s.streamers_busy, 2, JSON.stringify(s));
      assert.ok(s.drops.no_free_streamer >= 2, JSON.stringify(s.drops));

      // V0 hangs up: render-0 is told and becomes free for V2.
      V0.send({ type: 'disconnect', connectionId: id0 });
      assert.deepEqual(await R0.nextType('disconnect'), { type: 'disconnect', connectionId: id0 });
      assert.deepEqual(await V0.nextType('disconnect'), { type: 'disconnect', connectionId: id0 });
      assert.deepEqual(await V2.connect(id2), { type: 'connect', connectionId: id2, polite: true });
      V2.send({ type: 'offer', from: id2, data: { connectionId: id2, sdp: 'o2' } });
      assertRelay(await R0.nextType('offer'), { from: id2, type: 'offer', data: { sdp: 'o2', polite: false } });

      // A streamer's socket close tells its viewer.
      await R1.close();
      assert.deepEqual(await V1.nextType('disconnect'), { type: 'disconnect', connectionId: id1 });
      await waitFor(async () => (await status()).streamers === 1, { what: 'one streamer left' });
      // A viewer's socket close frees its streamer (which is told).
      await V2.close();
      assert.deepEqual(await R0.nextType('disconnect'), { type: 'disconnect', connectionId: id2 });
      await waitFor(async () => (await status()).streamers_busy === 0, { what: 'no busy streamer' });
    });

    test('graceful stop', async () => { await srv.stop(); });
  });

  describe('--streamers has no effect with --compat or in private mode', () => {
    for (const args of [['-m', 'public', '--streamers', '--compat'], ['-m', 'private', '--streamers']]) {
      test(args.join(' '), async (t) => {
        const srv = await startServer({ args });
        try {
          const [A, B] = await clients(t, srv, 2);
          const id = uid('plain');
          const ack = await A.connectRaw(id);
          assert.equal(ack.type, 'connect', `no registry: a plain ack (${JSON.stringify(ack)})`);
          const ack2 = await B.connectRaw(id);
          assert.equal(ack2.type, 'connect');
          A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'x' } });
          assert.equal((await B.nextType('offer')).data.sdp, 'x');
          await Promise.all([A.close(), B.close()]);
        } catch (e) { await srv.kill(); throw e; }
        await srv.stop();
      });
    }
  });
});
