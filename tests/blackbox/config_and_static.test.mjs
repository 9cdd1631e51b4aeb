// /config, ICE/TURN extensions, CLI and environment contract (docs/signal-cli.md), CORS, static files.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, runOnce, waitFor } from './lib/server.mjs';
import { request, rawRequest } from './lib/http.mjs';
import { clients, uid, assertRelay, quiet } from './lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CLI_DOC = join(here, '..', '..', 'docs', 'signal-cli.md');

/** Start a server, run fn(srv), then require a graceful stop. */
async function withServer(opts, fn) {
  const srv = await startServer(opts);
  try {
    await fn(srv);
  } catch (e) {
    await srv.kill();
    throw e;
  }
  await srv.stop();
}

async function config(srv) {
  const r = await request(srv.base, 'GET', '/config');
  assert.equal(r.status, 200, r.text);
  assert.match(r.headers.get('content-type') || '', /application\/json/);
  return r.json;
}

describe('config, CLI, CORS and static files', { concurrency: true }, () => {
  describe('/config', { concurrency: true }, () => {
    test('#3/T38: default shape is exactly {useWebSocket, startupMode, logging}; no iceServers by default', async () => {
      await withServer({ args: [] }, async (srv) => {
        assert.deepEqual(await config(srv), { useWebSocket: true, startupMode: 'public', logging: 'none' });
      });
    });

    test('#2: -m weird is echoed verbatim and behaves as public', async (t) => {
      await withServer({ args: ['-m', 'weird'] }, async (srv) => {
        assert.equal((await config(srv)).startupMode, 'weird');
        const [A, B, C] = await clients(t, srv, 3);
        const id = uid('weird');
        assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
        assert.deepEqual(await B.connect(id), { type: 'connect', connectionId: id, polite: true });
        assert.deepEqual(await C.connect(id), { type: 'connect', connectionId: id, polite: true });
        A.send({ type: 'offer', from: id, data: { connectionId: id, sdp: 's' } });
        assertRelay(await B.nextType('offer'), { from: id, type: 'offer', data: { sdp: 's', polite: false } });
        assertRelay(await C.nextType('offer'), { from: id, type: 'offer', data: { sdp: 's', polite: false } });
        await Promise.all([A, B, C].map((c) => c.close()));
      });
    });

    test('#2: -t bogus warns and falls back to websocket', async (t) => {
      await withServer({ args: ['-t', 'bogus'] }, async (srv) => {
        assert.equal((await config(srv)).useWebSocket, true);
        const [A] = await clients(t, srv, 1);
        const id = uid('bogus');
        assert.deepEqual(await A.connect(id), { type: 'connect', connectionId: id, polite: true });
        await A.close();
        assert.match(srv.output(), /bogus|warn/i, 'a warning about the unknown type is printed');
      });
    });

    test('--ice-server is passed through as {"urls":[url]}', async () => {
      await withServer({ args: ['--ice-server', 'stun:stun.example.org:3478'] }, async (srv) => {
        const c = await config(srv);
        assert.deepEqual(c.iceServers, [{ urls: ['stun:stun.example.org:3478'] }]);
        assert.equal(c.useWebSocket, true);
      });
    });

    test('--ice-server is repeatable', async () => {
      await withServer({ args: ['--ice-server', 'stun:a.example.org:3478', '--ice-server', 'turns:b.example.org:5349?transport=tcp'] }, async (srv) => {
        const urls = (await config(srv)).iceServers.flatMap((s) => s.urls);
        assert.deepEqual(urls.sort(), ['stun:a.example.org:3478', 'turns:b.example.org:5349?transport=tcp'].sort());
      });
    });

    const turnEntry = (c, url) => (c.iceServers || []).find((s) => Array.isArray(s.urls) && s.urls.includes(url));
    const hmac = (secret, user) => createHmac('sha1', secret).update(user).digest('base64');

    test('--turn-url with SPARC_TURN_SECRET mints TURN REST credentials (HMAC-SHA1, <expiry>:sparc, 1 h)', async () => {
      await withServer({ args: ['--turn-url', 'turn:127.0.0.1:3478'], env: { SPARC_TURN_SECRET: 's3cret' } }, async (srv) => {
        const c = await config(srv);
        const e = turnEntry(c, 'turn:127.0.0.1:3478');
        assert.ok(e, `TURN entry in iceServers: ${JSON.stringify(c.iceServers)}`);
        assert.deepEqual(e.urls, ['turn:127.0.0.1:3478']);
        const m = /^(\d+):sparc$/.exec(e.username);
        assert.ok(m, `username is <expiry>:sparc: ${e.username}`);
        const expiry = Number(m[1]);
        const want = Math.floor(Date.now() / 1000) + 3600;
        assert.ok(Math.abs(expiry - want) <= 120, `expiry ${expiry} ~ now+3600 (${want})`);
        assert.equal(e.credential, hmac('s3cret', e.username));
        assert.ok(!JSON.stringify(c).includes('s3cret'), 'the secret itself is never served');
      });
    });

    test('--turn-secret-file, --turn-user and --turn-ttl shape the credentials', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sparc-turn-'));
      const file = join(dir, 'secret');
      writeFileSync(file, 'file-secret');
      try {
        await withServer({ args: ['--turn-url', 'turn:127.0.0.1:3478?transport=udp', '--turn-secret-file', file,
          '--turn-user', 'alice', '--turn-ttl', '120'] }, async (srv) => {
          const c = await config(srv);
          const e = turnEntry(c, 'turn:127.0.0.1:3478?transport=udp');
          assert.ok(e, JSON.stringify(c.iceServers));
          const m = /^(\d+):alice$/.exec(e.username);
          assert.ok(m, e.username);
          assert.ok(Math.abs(Number(m[1]) - (Math.floor(Date.now() / 1000) + 120)) <= 60, `expiry ${m[1]} ~ now+120`);
          assert.equal(e.credential, hmac('file-secret', e.username));
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('a --turn-secret flag does not exist (secrets never on the command line): non-zero exit', async () => {
      const r = await runOnce(['--bind', '127.0.0.1', '-p', '0', '--no-metrics', '--turn-url', 'turn:127.0.0.1:3478',
        '--turn-secret', 's3cret'], { timeoutMs: 4000 });
      assert.equal(r.code, 2, `must refuse --turn-secret as a configuration error (exit 2); stdout=${r.stdout} stderr=${r.stderr}`);
    });

    test('an unknown option is refused with a non-zero exit', async () => {
      const r = await runOnce(['--bind', '127.0.0.1', '-p', '0', '--no-metrics', '--no-such-option'], { timeoutMs: 4000 });
      assert.equal(r.code, 2, r.stderr);
    });

    const BASE = ['--bind', '127.0.0.1', '-p', '0', '--no-metrics'];
    test('configuration errors exit 2: out-of-range value, --turn-url without a secret, empty secret file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sparc-exit-'));
      const empty = join(dir, 'empty');
      writeFileSync(empty, '\n');
      try {
        for (const args of [['--ping-interval', '-1'], ['--turn-ttl', '0'], ['--max-message-bytes', 'lots'],
          ['--turn-url', 'turn:127.0.0.1:3478'], ['--turn-url', 'turn:127.0.0.1:3478', '--turn-secret-file', empty],
          ['--turn-url', 'turn:127.0.0.1:3478', '--turn-secret-file', join(dir, 'missing')]]) {
          const r = await runOnce([...BASE, ...args], { timeoutMs: 4000 });
          assert.equal(r.code, 2, `${args.join(' ')} -> exit ${r.code}; ${r.stderr}`);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('start-up failures exit 1: port in use', async () => {
      await withServer({}, async (srv) => {
        const r = await runOnce(['--bind', '127.0.0.1', '-p', String(srv.port), '--no-metrics'], { timeoutMs: 4000 });
        assert.equal(r.code, 1, `port ${srv.port} in use -> exit ${r.code}; ${r.stderr}`);
      });
    });

    test('--version exits 0 and prints a version', async () => {
      const r = await runOnce(['--version']);
      assert.equal(r.code, 0);
      assert.match(r.stdout + r.stderr, /\d+\.\d+/);
    });

    test('the secret file is trimmed of trailing whitespace and wins over SPARC_TURN_SECRET', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sparc-turn2-'));
      const file = join(dir, 'secret');
      writeFileSync(file, 'from-file \r\n');
      try {
        await withServer({ args: ['--turn-url', 'turn:127.0.0.1:3478', '--turn-secret-file', file], env: { SPARC_TURN_SECRET: 'from-env' } }, async (srv) => {
          const e = turnEntry(await config(srv), 'turn:127.0.0.1:3478');
          assert.ok(e);
          assert.equal(e.credential, hmac('from-file', e.username));
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('--compat: /config carries no extensions even with --ice-server', async () => {
      await withServer({ args: ['--compat', '--ice-server', 'stun:stun.example.org:3478'] }, async (srv) => {
        assert.deepEqual(await config(srv), { useWebSocket: true, startupMode: 'public', logging: 'none' });
      });
    });
  });

  describe('CLI contract and environment', { concurrency: true }, () => {
    test('#2: TYPE/MODE/LOGGING environment fallbacks are used when no flag is given', async () => {
      await withServer({ quiet: false, env: { TYPE: 'http', MODE: 'private', LOGGING: 'tiny' } }, async (srv) => {
        assert.deepEqual(await config(srv), { useWebSocket: false, startupMode: 'private', logging: 'tiny' });
      });
    });

    test('#2: flags override the environment', async () => {
      await withServer({ args: ['-t', 'websocket', '-m', 'public'], env: { TYPE: 'http', MODE: 'private', LOGGING: 'tiny' } }, async (srv) => {
        assert.deepEqual(await config(srv), { useWebSocket: true, startupMode: 'public', logging: 'none' });
      });
    });

    test('SPARC_SIGNAL_<NAME> environment variables are read', async () => {
      await withServer({ env: { SPARC_SIGNAL_MODE: 'private', SPARC_SIGNAL_TYPE: 'http' } }, async (srv) => {
        const c = await config(srv);
        assert.equal(c.startupMode, 'private');
        assert.equal(c.useWebSocket, false);
      });
    });

    test('--config TOML file: read, then overridden by environment and flags', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sparc-toml-'));
      const file = join(dir, 'signal.toml');
      writeFileSync(file, 'type = "http"\nmode = "private"\nlogging = "short"\nping-interval = 5\n' +
      'ice-server = ["stun:a.example.org:3478", "stun:b.example.org:3478"]\ncompat = false\n');
      try {
        await withServer({ quiet: false, args: ['--config', file] }, async (srv) => {
          const c = await config(srv);
          assert.deepEqual(c.iceServers.flatMap((x) => x.urls).sort(), ['stun:a.example.org:3478', 'stun:b.example.org:3478']);
          delete c.iceServers;
          assert.deepEqual(c, { useWebSocket: false, startupMode: 'private', logging: 'short' });
        });
        await withServer({ quiet: false, args: ['--config', file, '-l', 'none'], env: { MODE: 'from-env' } }, async (srv) => {
          const c = await config(srv);
          delete c.iceServers;
          assert.deepEqual(c, { useWebSocket: false, startupMode: 'from-env', logging: 'none' });
        });
        // An unknown key is a configuration error with file:line.
        const bad = join(dir, 'bad.toml');
        writeFileSync(bad, 'mode = "private"\nno-such-key = 1\n');
        const r = await runOnce(['--bind', '127.0.0.1', '-p', '0', '--no-metrics', '--config', bad], { timeoutMs: 4000 });
        assert.equal(r.code, 2, r.stderr);
        assert.ok((r.stdout + r.stderr).includes(`${bad}:2`), `error names file:line: ${r.stdout} ${r.stderr}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('#2: PORT environment fallback (no -p flag)', async () => {
      await withServer({ portFlag: false, env: { PORT: '0' } }, async (srv) => {
        assert.notEqual(srv.port, 8080, 'PORT=0 must pick a free port instead of the default 8080');
        assert.equal((await config(srv)).useWebSocket, true);
      });
    });

    test('-l tiny writes an access-log line per request; -l none writes none', async () => {
      await withServer({ quiet: false, args: ['-l', 'tiny', '--log-format', 'text'] }, async (srv) => {
        await request(srv.base, 'GET', '/config?probe=tiny-log');
        await waitFor(() => srv.output().includes('/config?probe=tiny-log'), { what: 'an access-log line for GET /config' });
      });
      await withServer({ args: [] }, async (srv) => {
        await request(srv.base, 'GET', '/config?probe=none-log');
        const r = await request(srv.base, 'GET', '/config?probe=flush');
        assert.equal(r.status, 200);
        assert.ok(!srv.output().includes('probe=none-log'), 'no access log with -l none');
      });
    });

    test('--log-format json (the default) writes one JSON object per line', async () => {
      await withServer({ quiet: false, args: ['-l', 'dev'] }, async (srv) => {
        await request(srv.base, 'GET', '/config');
        await waitFor(() => srv.output().includes('/config'), { what: 'an access-log line' });
        const lines = srv.output().split('\n').filter((l) => l.trim());
        assert.ok(lines.length >= 2, srv.output());
        for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not JSON: ${l}`);
      });
    });

    test('--help exits 0 and mentions every option of docs/signal-cli.md', async () => {
      const doc = readFileSync(CLI_DOC, 'utf8');
      const rows = doc.split('\n').filter((l) => l.startsWith('| `-'));
      const longs = [...new Set(rows.flatMap((l) => [...l.split('|')[1].matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0])))];
      const shorts = [...new Set(rows.flatMap((l) => [...l.split('|')[1].matchAll(/(?<![-\w])-([a-z])\b/g)].map((m) => m[1])))];
      assert.ok(longs.length >= 30, `parsed the option table (${longs.length} options)`);
      const r = await runOnce(['--help']);
      assert.equal(r.code, 0, r.stderr);
      const help = r.stdout + r.stderr;
      const missing = longs.filter((o) => !new RegExp(`${o}(?![a-z0-9-])`).test(help));
      assert.deepEqual(missing, [], `options missing from --help`);
      const missingShort = shorts.filter((s) => !new RegExp(`(^|[\\s,\\[])-${s}(?![\\w-])`, 'm').test(help));
      assert.deepEqual(missingShort, [], 'short options missing from --help');
    });
  });

  describe('CORS', { concurrency: 1 }, () => {
    let srv;
    before(async () => { srv = await startServer({ args: ['-t', 'websocket'] }); });
    after(async () => { await srv?.kill(); });

    test('#4: Access-Control-Allow-Origin: * on every response', async () => {
      const h = { Origin: 'http://example.com' };
      const checks = [
        ['GET', '/config'],
        ['GET', '/definitely-missing.txt'],
        ['PUT', '/signaling'],
        ['GET', '/signaling/connection'], // 404 without a session
      ];
      for (const [m, p] of checks) {
        const r = await request(srv.base, m, p, { headers: h });
        assert.equal(r.headers.get('access-control-allow-origin'), '*', `${m} ${p} -> ${r.status}`);
      }
    });

    test('#4: OPTIONS preflight gets 204 with the allowed methods', async () => {
      const r = await request(srv.base, 'OPTIONS', '/signaling/offer', {
        headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type,session-id' },
      });
      assert.equal(r.status, 204);
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      const methods = (r.headers.get('access-control-allow-methods') || '').split(',').map((s) => s.trim().toUpperCase());
      for (const m of ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE']) assert.ok(methods.includes(m), `${m} in ${methods}`);
    });

    test('graceful stop', async () => { await srv.stop(); });
  });

  describe('static files (--web-root, --module-root)', { concurrency: 1 }, () => {
    let srv, dir;
    const INDEX = '<!doctype html><title>sparc test index</title>\n';
    const JS = 'export const a = 1;\n';
    const CSS = 'body { color: red; }\n';
    const JSON_BODY = '{"x":1}\n';
    const SECRET = 'TOP-SECRET-OUTSIDE-ROOT';
  const BIG = Buffer.alloc(3 * 1024 * 1024, 'sparc-');

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sparc-web-'));
      const www = join(dir, 'www');
      mkdirSync(join(www, 'sub'), { recursive: true });
      mkdirSync(join(dir, 'mod'));
      writeFileSync(join(www, 'index.html'), INDEX);
      writeFileSync(join(www, 'a.js'), JS);
      writeFileSync(join(www, 'style.css'), CSS);
      writeFileSync(join(www, 'sub', 'x.json'), JSON_BODY);
      writeFileSync(join(dir, 'x'), SECRET);
      writeFileSync(join(dir, 'mod', 'm.js'), 'export const m = 2;\n');
    writeFileSync(join(www, 'e.mjs'), 'export {};\n');
    writeFileSync(join(www, 'i.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(join(www, 'p.png'), Buffer.from('89504e470d0a1a0a', 'hex'));
    writeFileSync(join(www, 'big.bin'), BIG);
      srv = await startServer({ args: ['--web-root', www, '--module-root', join(dir, 'mod')] });
    });
    after(async () => { await srv?.kill(); rmSync(dir, { recursive: true, force: true }); });

    test('#5: files are served with the right MIME types', async () => {
      const cases = [
        ['/', INDEX, /^text\/html/],
        ['/index.html', INDEX, /^text\/html/],
        ['/a.js', JS, /^(text|application)\/javascript/],
        ['/style.css', CSS, /^text\/css/],
        ['/sub/x.json', JSON_BODY, /^application\/json/],
        ['/module/m.js', 'export const m = 2;\n', /^(text|application)\/javascript/],
        ['/a.js?v=123', JS, /^(text|application)\/javascript/],
        ['/e.mjs', 'export {};\n', /^(text|application)\/javascript/],
        ['/i.svg', '<svg xmlns="http://www.w3.org/2000/svg"/>', /^image\/svg\+xml/],
      ];
      for (const [path, body, mime] of cases) {
        const r = await request(srv.base, 'GET', path);
        assert.equal(r.status, 200, path);
        assert.equal(r.text, body, path);
        assert.match(r.headers.get('content-type') || '', mime, `${path}: ${r.headers.get('content-type')}`);
      }
    });

    test('#5: binary and large files are served whole; HEAD has headers and no body', async () => {
    const png = await fetch(`${srv.base}/p.png`);
    assert.equal(png.status, 200);
    assert.match(png.headers.get('content-type') || '', /^image\/png/);
    assert.equal(Buffer.from(await png.arrayBuffer()).toString('hex'), '89504e470d0a1a0a');
    const big = await fetch(`${srv.base}/big.bin`);
    assert.equal(big.status, 200);
    assert.ok(Buffer.from(await big.arrayBuffer()).equals(BIG), 'a 3 MiB file arrives intact');
    const head = await fetch(`${srv.base}/a.js`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(JS)));
    assert.equal(await head.text(), '');
  });

  test('#5: ETag / If-None-Match gives 304, and Cache-Control is set', async () => {
      const r = await request(srv.base, 'GET', '/a.js');
      const etag = r.headers.get('etag');
      assert.ok(etag, 'ETag header');
      assert.ok(r.headers.get('cache-control'), 'Cache-Control header');
      const r2 = await request(srv.base, 'GET', '/a.js', { headers: { 'If-None-Match': etag } });
      assert.equal(r2.status, 304);
      assert.equal(r2.text, '');
      const r3 = await request(srv.base, 'GET', '/a.js', { headers: { 'If-None-Match': '"something-else"' } });
      assert.equal(r3.status, 200);
    });

    test('#5: unknown files are 404', async () => {
      for (const p of ['/nope.html', '/sub/nope.json', '/module/nope.js']) {
        assert.equal((await request(srv.base, 'GET', p)).status, 404, p);
      }
    });

    test('path traversal never escapes the web root (raw request targets, no client normalisation)', async () => {
      const must404 = ['/../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/sub/../../x'];
      const mustNotLeak = ['/../x', '/%2e%2e/x', '/sub/%2e%2e/%2e%2e/x', '/..%2fx', '/%2e%2e%2fx', '/sub/..%5c..%5cx',
        '/module/../../x', '/module/%2e%2e/%2e%2e/x', '/./../x', '//../x'];
      const get = (p) => rawRequest(srv.port, `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      for (const p of must404) {
        const r = await get(p);
        assert.equal(r.status, 404, `${p} -> ${r.statusLine}`);
        assert.ok(!r.body.includes('root:') && !r.body.includes(SECRET), `${p} leaked file contents`);
      }
      for (const p of mustNotLeak) {
        const r = await get(p);
        assert.ok(r.status === 404 || r.status === 400, `${p} -> ${r.statusLine}`);
        assert.ok(!r.body.includes(SECRET) && !r.body.includes('root:'), `${p} leaked file contents`);
      }
    });

    test('graceful stop', async () => { await srv.stop(); });
  });
});
