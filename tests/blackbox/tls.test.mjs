// Checklist #1/#2: -s/-k/-c (and SECURE/KEYFILE/CERTFILE): HTTPS and WSS on the one port.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, runOnce } from './lib/server.mjs';
import { openWs } from './lib/ws.mjs';
import { rawRequest } from './lib/http.mjs';
import { uid } from './lib/common.mjs';

// A throw-away self-signed certificate for 127.0.0.1, made for this run (no key material in the repo).
const fixtures = mkdtempSync(join(tmpdir(), 'sparc-tls-'));
const KEY = join(fixtures, 'test-key.pem');
const CERT = join(fixtures, 'test-cert.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', KEY, '-out', CERT, '-days', '1',
  '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
const ca = readFileSync(CERT);

function httpsGet(port, path) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, method: 'GET', ca, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function checkSecure(srv) {
  const r = await httpsGet(srv.port, '/config');
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.body).useWebSocket, true);
  const c = await openWs(`wss://127.0.0.1:${srv.port}/`, { ca, label: 'wss' });
  const id = uid('tls');
  assert.deepEqual(await c.connect(id), { type: 'connect', connectionId: id, polite: true });
  await c.close();
  // No plain-HTTP listener on the same port.
  const plain = await rawRequest(srv.port, 'GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', { timeoutMs: 1500 });
  assert.notEqual(plain.status, 200, 'plain HTTP must not be served on the TLS port');
}

describe('TLS', { concurrency: true }, () => {
  test('-s -k -c: HTTPS and WSS on one port, verified against the test certificate', async () => {
    const srv = await startServer({ args: ['-s', '-k', KEY, '-c', CERT] });
    try { await checkSecure(srv); } catch (e) { await srv.kill(); throw e; }
    await srv.stop();
  });

  test('SECURE/KEYFILE/CERTFILE environment fallbacks', async () => {
    const srv = await startServer({ env: { SECURE: 'true', KEYFILE: KEY, CERTFILE: CERT } });
    try { await checkSecure(srv); } catch (e) { await srv.kill(); throw e; }
    await srv.stop();
  });

  test('a missing key file fails at start-up with a non-zero exit', async () => {
    const r = await runOnce(['--bind', '127.0.0.1', '-p', '0', '--no-metrics', '-s', '-k', join(fixtures, 'missing.pem'), '-c', CERT]);
    assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  });
});
