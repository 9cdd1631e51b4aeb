// WebSocket keepalive extension: --ping-interval, and --compat turning it off.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { startServer, within } from './lib/server.mjs';
import net from 'node:net';
import { rawWs } from './lib/rawws.mjs';
import { clients, uid } from './lib/common.mjs';

describe('keepalive', { concurrency: true }, () => {
  describe('keepalive with --ping-interval 0.5 (private mode)', { concurrency: 1 }, () => {
    let srv;
    before(async () => { srv = await startServer({ args: ['-m', 'private', '--ping-interval', '0.5'] }); });
    after(async () => { await srv?.kill(); });

    test('a client that answers pings stays connected (2 s) and is pinged', async (t) => {
      const [A] = await clients(t, srv, 1);
      const id = uid('ka');
      await A.connect(id);
      await delay(2000); // the behaviour under test is "nothing happens for a while"
      assert.ok(A.isOpen, `closed: ${JSON.stringify(A.closeInfo)}`);
      assert.ok(A.pings >= 2, `server pings seen: ${A.pings}`);
      const id2 = uid('ka2');
      assert.deepEqual(await A.connect(id2), { type: 'connect', connectionId: id2, polite: false });
    });

    test('a peer that never answers pings is closed within ~2 s and its partner gets a disconnect', async (t) => {
      const R = await rawWs(srv.port, { label: 'deaf' });
      t.after(() => R.destroy());
      const id = uid('deaf');
      R.send({ type: 'connect', connectionId: id });
      assert.deepEqual(await R.nextJson((j) => j.type === 'connect'), { type: 'connect', connectionId: id, polite: false });
      const [P] = await clients(t, srv, 1, { prefix: 'partner' });
      assert.deepEqual(await P.connect(id), { type: 'connect', connectionId: id, polite: true });
      await R.waitClosed(3000);
      assert.ok(R.pings >= 1, `the deaf peer was pinged (${R.pings})`);
      assert.deepEqual(await P.nextType('disconnect', 2000), { type: 'disconnect', connectionId: id });
      assert.ok(P.isOpen);
    });

    test('graceful stop', async () => { await srv.stop(); });
  });

  describe('keepalive configured through SPARC_SIGNAL_PING_INTERVAL', { concurrency: 1 }, () => {
    test('the environment variable enables pings', async () => {
      const srv = await startServer({ env: { SPARC_SIGNAL_PING_INTERVAL: '0.5' } });
      try {
        const R = await rawWs(srv.port, { label: 'env-ping' });
        await R.nextFrame((f) => f.opcode === 0x9, 2500, 'a ping');
        await R.destroy();
      } catch (e) { await srv.kill(); throw e; }
      await srv.stop();
    });
  });

  describe('--compat sends no pings', { concurrency: 1 }, () => {
    let srv;
    before(async () => { srv = await startServer({ args: ['--compat', '--ping-interval', '0.5'] }); });
    after(async () => { await srv?.kill(); });

    test('no ping within 1.5 s and the silent socket stays open', async (t) => {
      const R = await rawWs(srv.port, { label: 'compat' });
      t.after(() => R.destroy());
      const id = uid('compat');
      R.send({ type: 'connect', connectionId: id });
      assert.deepEqual(await R.nextJson((j) => j.type === 'connect'), { type: 'connect', connectionId: id, polite: true });
      await delay(1500);
      assert.equal(R.pings, 0, 'no pings in --compat');
    R.sendFrame({ opcode: 0x9, payload: 'p' });
    assert.equal((await R.nextFrame((f) => f.opcode === 0xa, 2000, 'a pong')).payload.toString(), 'p', 'pongs in every mode');
      assert.ok(!R.ended, 'still open');
      const id2 = uid('compat2');
      R.send({ type: 'connect', connectionId: id2 });
      assert.deepEqual(await R.nextJson((j) => j.type === 'connect'), { type: 'connect', connectionId: id2, polite: true });
    });

    test('graceful stop', async () => { await srv.stop(); });
  });

  describe('--idle-timeout 0.5', { concurrency: 1 }, () => {
    test('an idle keep-alive HTTP connection is closed; an idle WebSocket is not', async (t) => {
      const srv = await startServer({ args: ['--idle-timeout', '0.5', '--ping-interval', '0'] });
      try {
        const sock = net.connect({ port: srv.port, host: '127.0.0.1' });
        sock.on('error', () => {});
        sock.resume(); // read (and discard) the response so the server's FIN is seen
        const closed = new Promise((res) => sock.on('close', res));
        sock.write('GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
        const [ws] = await clients(t, srv, 1);
        const r = await within(closed.then(() => 'closed'), 2500);
        assert.equal(r, 'closed', 'idle keep-alive connection closed within ~2 s');
        assert.ok(ws.isOpen, 'the WebSocket is not subject to the HTTP idle timeout');
        const id = uid('idle');
        assert.deepEqual(await ws.connect(id), { type: 'connect', connectionId: id, polite: true });
        await ws.close();
      } catch (e) { await srv.kill(); throw e; }
      await srv.stop();
    });
  });
});
