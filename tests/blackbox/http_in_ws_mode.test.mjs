// In websocket mode the /signaling polling routes exist too, with state separate from WebSocket state (§1.2).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { request, Session, UUID_V4 } from './lib/http.mjs';
import { clients, uid, assertRelay, quiet, SDP_OFFER } from './lib/common.mjs';

describe('http polling routes in websocket mode (private)', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['-t', 'websocket', '-m', 'private'] }); });
  after(async () => { await srv?.kill(); });

  test('/config says useWebSocket:true and PUT /signaling still works', async () => {
    const cfg = await request(srv.base, 'GET', '/config');
    assert.equal(cfg.json.useWebSocket, true);
    const r = await request(srv.base, 'PUT', '/signaling');
    assert.equal(r.status, 200);
    assert.match(r.json.sessionId, UUID_V4);
    assert.equal((await request(srv.base, 'GET', '/signaling/connection', { session: r.json.sessionId })).status, 200);
    assert.equal((await request(srv.base, 'GET', '/signaling/connection', { session: 'nope' })).status, 404);
  });

  test('connection ids are tracked separately: two WS sockets and two HTTP sessions may each pair on the same id', async (t) => {
    const id = uid('sep');
    const [A, B, C] = await clients(t, srv, 3);
    const [s1, s2, s3] = [await Session.create(srv.base), await Session.create(srv.base), await Session.create(srv.base)];
    assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: false });
    assert.equal((await s1.connectOk(id)).polite, false, 'HTTP state does not see the WS owner');
    assert.deepEqual(await B.connect(id), { type: 'connect', connectionId: id, polite: true });
    assert.equal((await s2.connectOk(id)).polite, true);
    const err = await C.connectRaw(id);
    assert.equal(err.type, 'error');
    assert.equal(err.message, `${id}: This connection id is already used.`);
    assert.equal((await s3.connect(id)).status, 400);

    // WS offer stays on the WS side...
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 'ws offer' } });
    assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp: 'ws offer', polite: true } });
    assert.deepEqual((await s2.offers(0)).offers.filter((o) => o.connectionId === id), []);
    // ...and an HTTP offer stays on the HTTP side.
    assert.equal((await s1.offer(id, SDP_OFFER)).status, 200);
    const offers = (await s2.offers(0)).offers.filter((o) => o.connectionId === id);
    assert.equal(offers.length, 1);
    assert.equal(offers[0].sdp, SDP_OFFER);
    assert.equal(offers[0].polite, true);
    await quiet([A, B, C], 200, 'HTTP traffic must not reach WebSocket clients');
    // Deleting the HTTP connection notifies only HTTP sessions.
    assert.equal((await s2.disconnect(id)).status, 200);
    await quiet([A, B]);
    assert.ok((await s1.all(0)).messages.some((m) => m.type === 'disconnect' && m.connectionId === id));
    for (const s of [s1, s2, s3]) await s.destroy();
  });

  test('graceful stop: SIGTERM exits 0 within 2 s', async () => {
    await srv.stop();
  });
});
