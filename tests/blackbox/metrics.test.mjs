// Metrics listener (--metrics-port): Prometheus /metrics and JSON /api/status.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor } from './lib/server.mjs';
import { request, Session } from './lib/http.mjs';
import { clients, closeAll, uid, SDP_OFFER } from './lib/common.mjs';
import { rawUpgrade } from './lib/rawws.mjs';

/** Sum of all samples of a metric family in Prometheus text. */
function metric(text, name) {
  const re = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([-+0-9.eE]+|NaN)\\s*(?:\\d+)?$`, 'gm');
  let sum = 0, n = 0;
  for (const m of text.matchAll(re)) { sum += Number(m[1]); n++; }
  return n ? sum : undefined;
}

/** Numeric total of a number or a (nested) object of numbers. */
const total = (x) => (typeof x === 'number' ? x : Object.values(x || {}).reduce((a, v) => a + total(v), 0));

describe('metrics and status', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['-m', 'public'] }); });
  after(async () => { await srv?.kill(); });

  const scrape = async () => {
    const r = await request(srv.metricsBase, 'GET', '/metrics');
    assert.equal(r.status, 200);
    return r;
  };
  const status = async () => {
    const r = await request(srv.metricsBase, 'GET', '/api/status');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') || '', /application\/json/);
    return r.json;
  };

  test('the ready file names a separate metrics port', () => {
    assert.ok(Number.isInteger(srv.metricsPort) && srv.metricsPort > 0 && srv.metricsPort !== srv.port, JSON.stringify(srv.ready));
    assert.equal(srv.ready.pid, srv.proc.pid);
  });

  test('/metrics is Prometheus text with the sparc_signal_* families', async () => {
    const r = await scrape();
    assert.match(r.headers.get('content-type') || '', /^text\/plain/);
    for (const name of ['sparc_signal_sockets_open', 'sparc_signal_messages_relayed_total', 'sparc_signal_drops_total']) {
      assert.ok(r.text.includes(name), `${name} present`);
      assert.notEqual(metric(r.text, name), undefined, `${name} has a numeric sample:\n${r.text}`);
    }
    assert.match(r.text, /^# TYPE sparc_signal_sockets_open gauge$/m);
    assert.match(r.text, /^# TYPE sparc_signal_messages_relayed_total counter$/m);
    assert.match(r.text, /^# TYPE sparc_signal_drops_total counter$/m);
  });

  test('sparc_signal_sockets_open follows open WebSockets', async (t) => {
    const base = metric((await scrape()).text, 'sparc_signal_sockets_open');
    const cs = await clients(t, srv, 3);
    await waitFor(async () => metric((await scrape()).text, 'sparc_signal_sockets_open') >= base + 3,
      { what: 'sockets_open to grow by 3' });
    await closeAll(cs);
    await waitFor(async () => metric((await scrape()).text, 'sparc_signal_sockets_open') <= base,
      { what: 'sockets_open to return to its baseline' });
  });

  test('/api/status has numeric counters and relayed grows after an offer', async (t) => {
    const s0 = await status();
    for (const k of ['sockets', 'http_sessions', 'connection_ids']) assert.equal(typeof s0[k], 'number', `${k}: ${JSON.stringify(s0)}`);
    assert.ok(typeof s0.relayed === 'number' || (s0.relayed && typeof s0.relayed === 'object'), `relayed: ${JSON.stringify(s0.relayed)}`);
    assert.ok(s0.drops && typeof s0.drops === 'object' && !Array.isArray(s0.drops), `drops: ${JSON.stringify(s0.drops)}`);
    const m0 = metric((await scrape()).text, 'sparc_signal_messages_relayed_total');

    const [A, B] = await clients(t, srv, 2);
    const id = uid('metric');
    await A.connect(id);
    A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: SDP_OFFER } });
    await B.nextType('offer');
    const session = await Session.create(srv.base);
    const s1 = await waitFor(async () => {
      const s = await status();
      return total(s.relayed) > total(s0.relayed) ? s : null;
    }, { what: 'relayed to increase' });
    assert.ok(s1.sockets >= 2, `sockets ${s1.sockets}`);
    assert.ok(s1.connection_ids >= 1, `connection_ids ${s1.connection_ids}`);
    assert.ok(s1.http_sessions >= 1, `http_sessions ${s1.http_sessions}`);
    const m1 = metric((await scrape()).text, 'sparc_signal_messages_relayed_total');
    assert.ok(m1 > m0, `messages_relayed_total ${m0} -> ${m1}`);
    await session.destroy();
  });

  test('the metrics listener: /health, 404 elsewhere, 405 for other methods, no WebSocket, nothing of the signaling API', async () => {
    const h = await request(srv.metricsBase, 'GET', '/health');
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: 'ok' });
    assert.equal((await request(srv.metricsBase, 'GET', '/nope')).status, 404);
    assert.equal((await request(srv.metricsBase, 'GET', '/config')).status, 404);
    assert.equal((await request(srv.metricsBase, 'PUT', '/signaling')).status, 405);
    assert.equal((await request(srv.metricsBase, 'POST', '/metrics', { body: '{}' })).status, 405);
    const up = await rawUpgrade(srv.metricsPort, { label: 'metrics-upgrade' });
    if (up.ws) await up.ws.destroy();
    assert.notEqual(up.status, 101);
  });

  test('graceful stop', async () => { await srv.stop(); });
});
