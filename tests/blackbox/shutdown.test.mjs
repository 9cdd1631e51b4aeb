// Graceful shutdown: SIGTERM closes WebSockets with 1001 and exits 0 in well under a second.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer } from './lib/server.mjs';
import { openWs } from './lib/ws.mjs';
import { rawWs } from './lib/rawws.mjs';
import { request, Session } from './lib/http.mjs';
import { uid } from './lib/common.mjs';

describe('graceful shutdown', { concurrency: true }, () => {
  test('SIGTERM: both open clients get close 1001 and the process exits 0 in < 1 s', async () => {
    const srv = await startServer({ args: ['-m', 'private'] });
    const id = uid('shut');
    const A = await openWs(srv, { label: 'A' });
    const B = await openWs(srv, { label: 'B' });
    await A.connect(id);
    await B.connect(id);
    const { elapsedMs } = await srv.stop({ withinMs: 1000 });
    const [ca, cb] = await Promise.all([A.waitClosed(1000), B.waitClosed(1000)]);
    assert.equal(ca.code, 1001, `A close code ${ca.code}`);
    assert.equal(cb.code, 1001, `B close code ${cb.code}`);
    assert.ok(elapsedMs < 1000, `exit took ${elapsedMs} ms`);
  });

  test('SIGTERM with stubborn connections (idle TCP, half-sent request, peer ignoring the close handshake, keep-alive HTTP) still exits 0 in < 1 s', async () => {
    const srv = await startServer({ args: ['-t', 'websocket'] });
    const idle = net.connect({ port: srv.port, host: '127.0.0.1' });
    const half = net.connect({ port: srv.port, host: '127.0.0.1' }, () => half.write('GET /config HTTP/1.1\r\nHost: x\r\n'));
    for (const s of [idle, half]) s.on('error', () => {});
    const deaf = await rawWs(srv.port, { label: 'deaf', replyToClose: false });
    const session = await Session.create(srv.base); // leaves a keep-alive connection in fetch's pool
    assert.equal((await request(srv.base, 'GET', '/signaling/connection', { session: session.id })).status, 200);
    try {
      const { elapsedMs } = await srv.stop({ withinMs: 1000 });
      assert.ok(elapsedMs < 1000, `exit took ${elapsedMs} ms`);
      assert.equal(deaf.closeCode, 1001, `the WebSocket peer got close ${deaf.closeCode}`);
    } finally {
      idle.destroy(); half.destroy(); deaf.destroy();
    }
  });

  test('SIGINT also stops cleanly: close 1001, exit 0 in < 1 s', async () => {
    const srv = await startServer({});
    const A = await openWs(srv, { label: 'sigint' });
    await A.connect(uid('int'));
    const { elapsedMs } = await srv.stop({ withinMs: 1000, signal: 'SIGINT' });
    assert.equal((await A.waitClosed(1000)).code, 1001);
    assert.ok(elapsedMs < 1000);
  });

  test('SIGTERM in http mode exits 0 in < 1 s', async () => {
    const srv = await startServer({ args: ['-t', 'http'] });
    const s = await Session.create(srv.base);
    await s.connectOk(uid('h'));
    const { elapsedMs } = await srv.stop({ withinMs: 1000 });
    assert.ok(elapsedMs < 1000);
  });
});
