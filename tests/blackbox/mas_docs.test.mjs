// docs/api.md and data/openapi.json against the real sparc-mas: every `sh` example runs top to bottom and succeeds,
// the example that follows it has the same status line and JSON shape, the documented paths, methods (Allow on 405)
// and error codes are the served ones.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startMas } from './lib/mas.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const guide = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
const openapi = JSON.parse(readFileSync(join(root, 'data', 'openapi.json'), 'utf8'));
const DOC_BASE = 'http://127.0.0.1:8000';
const METHODS = ['get', 'post', 'delete', 'put', 'patch'];

/** Fenced blocks in document order: { info, body }. */
function fences(markdown) {
  const blocks = [];
  const re = /^```([^\n`]*)\n([\s\S]*?)^```[ \t]*$/gm;
  for (let m; (m = re.exec(markdown));) blocks.push({ info: m[1].trim(), body: m[2] });
  return blocks;
}

/** Splits `-i` output into status, status line and body; plain output is all body. */
function splitResponse(text) {
  const m = /^(HTTP\/1\.1 (\d{3})[^\r\n]*)\r?\n[\s\S]*?\r?\n\r?\n([\s\S]*)$/.exec(text);
  return m ? { status: Number(m[2]), line: m[1].trim(), body: m[3] } : { status: null, line: null, body: text };
}

function tryJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The JSON shape: object keys and value types, recursively; array items by their first element. */
function shape(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape(v[k])]));
  return typeof v;
}

/** A regular expression for an OpenAPI path template; the server routes by prefix, so a parameter takes the rest. */
const templateRe = (path) => new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '.+')}$`);
const normalize = (path) => path.replace(/\{[^}]+\}/g, '{}');
const isNoRoute = (status, body) => status === 404 && tryJson(body)?.error?.code === 'not_found' && /no such route|WebSocket/.test(body);

describe('docs/api.md examples', () => {
  let srv;
  const cwd = mkdtempSync(join(tmpdir(), 'sparc-mas-docs-'));  // where `-o file` examples write
  before(async () => { srv = await startMas(['--data-dir', join(root, 'data')]); });
  after(async () => { await srv.stop(); });

  const blocks = fences(guide);
  const runnable = blocks.map((b, i) => ({ ...b, index: i })).filter((b) => b.info === 'sh');

  test('the guide has at least 8 runnable examples, each a single curl command', () => {
    assert.ok(runnable.length >= 8, `${runnable.length} sh blocks`);
    for (const b of runnable) {
      const command = b.body.replace(/\\\n/g, ' ').trim();
      assert.ok(!command.includes('\n'), `one command per block:\n${b.body}`);
      assert.match(command, /^curl /, b.body);
      assert.ok(command.includes(DOC_BASE), `uses ${DOC_BASE}: ${command}`);
      assert.ok(!/[|;&]\s*\w/.test(command.replace(/'[^']*'/g, "''")), `no pipes or command lists: ${command}`);
    }
  });

  test('every sh example succeeds in order and matches the example response after it', () => {
    for (const b of runnable) {
      const command = b.body.replace(/\\\n/g, ' ').trim().replaceAll(DOC_BASE, srv.base);
      const r = spawnSync('bash', ['-c', `${command} -w '\\n%{http_code}'`], { cwd, encoding: 'utf8', timeout: 20000 });
      assert.equal(r.status, 0, `curl failed (${r.status}): ${command}\n${r.stderr}`);
      const out = r.stdout.replace(/\n(\d{3})$/, '');
      const status = Number(/(\d{3})$/.exec(r.stdout)?.[1]);
      assert.ok(status >= 200 && status < 300, `${status} from: ${command}\n${out}`);

      // The block right after the command, when it is an http or json example, shows this response.
      const next = blocks[b.index + 1];
      if (!next || !['http', 'json'].includes(next.info)) continue;
      const shown = splitResponse(next.body.trim());
      const actual = splitResponse(out);
      if (next.info === 'http') {
        assert.equal(actual.status, status, `the command shows its status line with -i: ${command}`);
        assert.equal(shown.status, status, `the example status matches: ${command}`);
        assert.equal(shown.line, actual.line, `the example status line (reason phrase included) matches: ${command}`);
      }
      const shownJson = tryJson(shown.body.trim());
      if (shownJson === undefined) continue;  // trimmed with …
      const actualJson = tryJson(actual.body.trim());
      assert.notEqual(actualJson, undefined, `the server answered JSON: ${command}\n${actual.body}`);
      assert.deepEqual(shape(actualJson), shape(shownJson), `the example has the real shape: ${command}`);
    }
  });

  test('the document served at /openapi.json is data/openapi.json', async () => {
    const res = await fetch(`${srv.base}/openapi.json`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), openapi);
    assert.match(openapi.openapi, /^3\.1\./);
  });

  test('every OpenAPI path is described in docs/api.md', () => {
    for (const path of Object.keys(openapi.paths)) assert.ok(guide.includes(path), `${path} in docs/api.md`);
  });

  test('every route the server answers is in the OpenAPI paths, with the methods it accepts', async () => {
    const paths = Object.keys(openapi.paths);
    const sample = (path) => path.replace('{session_id}', 'docs-probe').replace('{audio_id}', '0'.repeat(32));
    const guesses = ['/', '/v1', '/v1/', '/v2/chat', '/v1/health', '/v1/personas', '/v1/audio', '/v1/asr', '/ws/audio',
      '/v1/ws/audio', '/api/status', '/config', '/status', '/ready', '/docs', '/openapi.yaml', '/v1/openapi.json',
      '/v1/sessions/docs-probe/turns', '/v1/chat/stream', '/v1/coach', '/index.html'];
    for (const path of [...paths.map(sample), ...guesses]) {
      const template = paths.find((p) => templateRe(p).test(path));
      for (const method of METHODS) {
        const res = await fetch(`${srv.base}${path}`, { method: method.toUpperCase() });
        const body = await res.text();
        assert.match(res.headers.get('server-timing') ?? '', /^app;dur=\d+\.\d{3}$/, `${method} ${path} has Server-Timing`);
        if (isNoRoute(res.status, body)) {
          assert.equal(template, undefined, `${method} ${path}: the server has no route, but OpenAPI has ${template}`);
          continue;
        }
        assert.ok(template, `${method} ${path} answered ${res.status} ${body.slice(0, 80)} but is not in the OpenAPI paths`);
        const documented = method in openapi.paths[template];
        assert.equal(res.status === 405, !documented,
          `${method.toUpperCase()} ${path} answered ${res.status}; OpenAPI ${documented ? 'has' : 'lacks'} ${method} on ${template}`);
        if (res.status === 405) {
          // Allow names exactly the documented methods (HEAD with GET), and the message is "use " plus that list.
          const item = openapi.paths[template];
          const allow = METHODS.filter((m) => m in item).flatMap((m) => (m === 'get' ? ['GET', 'HEAD'] : [m.toUpperCase()]));
          assert.equal(res.headers.get('allow'), allow.join(', '), `${method.toUpperCase()} ${path}: Allow`);
          assert.equal(JSON.parse(body).error.message, `use ${allow.join(', ')}`, `${method.toUpperCase()} ${path}: message`);
          for (const op of METHODS.filter((m) => m in item).map((m) => item[m]))
            assert.equal(op.responses['405'].content['application/json'].example.error.message, `use ${allow.join(', ')}`,
              `the OpenAPI 405 example on ${template} is the served message`);
        }
      }
    }
    // The server's own route labels (every request above is counted under one) are exactly the OpenAPI paths.
    const text = await (await fetch(`${srv.base}/metrics`)).text();
    const labels = [...text.matchAll(/^sparc_mas_requests_total\{route="([^"]+)"\}/gm)].map((m) => m[1]).filter((r) => r !== 'other');
    assert.deepEqual(labels.map(normalize).sort(), paths.map(normalize).sort());
  });

  test('every operation but /health requires the ApiKey scheme, and lists its error statuses', () => {
    assert.deepEqual(openapi.components.securitySchemes.ApiKey, {
      ...openapi.components.securitySchemes.ApiKey, type: 'apiKey', in: 'header', name: 'X-API-Key',
    });
    assert.deepEqual(openapi.security, [{ ApiKey: [] }]);
    for (const [path, item] of Object.entries(openapi.paths)) {
      for (const method of METHODS.filter((m) => m in item)) {
        const op = item[method];
        if (path === '/health') assert.deepEqual(op.security, [], '/health is open');
        else {
          assert.equal(op.security, undefined, `${method} ${path} inherits the key requirement`);
          assert.ok('401' in op.responses && '429' in op.responses, `${method} ${path} lists 401 and 429`);
        }
        for (const [status, response] of Object.entries(op.responses)) {
          if (path === '/health') continue;  // its 503 is the health report itself, without Retry-After
          const content = response.content ?? {};
          if (Number(status) >= 400 && content['application/json'])
            assert.equal(content['application/json'].schema.$ref, '#/components/schemas/Error', `${method} ${path} ${status} body`);
          if (['429', '503', '504'].includes(status))
            assert.ok(response.headers?.['Retry-After'], `${method} ${path} ${status} has Retry-After`);
          if (status === '405') assert.ok(response.headers?.Allow, `${method} ${path} 405 has Allow`);
        }
      }
    }
  });

  test('the error codes in docs/api.md are the OpenAPI Error codes', () => {
    const rows = [...guide.matchAll(/^\| (\d{3}) \| `([a-z_]+)` \|/gm)].map((m) => m[2]);
    const documented = new Set([...rows, ...[...guide.matchAll(/code `([a-z_]+)` \((\d{3})\)/g)].map((m) => m[1])]);
    assert.deepEqual([...documented].sort(), [...new Set(openapi.components.schemas.Error.properties.error.properties.code.enum)].sort());
  });

  test("the HTTP layer's own 413 is the documented JSON error", async () => {
    // A Content-Length over the limit is refused from the headers alone, before the body is read.
    const status = spawnSync('curl', ['-si', '-X', 'POST', `${srv.base}/v1/chat`, '-H', 'Content-Type: application/json',
      '-H', 'Content-Length: 2200001', '--data-binary', '{}', '--max-time', '5'], { encoding: 'utf8' });
    const res = splitResponse(status.stdout.replace(/\r\n/g, '\n'));
    assert.equal(res.status, 413, status.stdout);
    const documented = openapi.paths['/v1/chat'].post.responses['413'];
    const example = documented.content['application/json'].example;
    assert.deepEqual(JSON.parse(res.body), example);
    assert.match(status.stdout, /^Content-Type: application\/json/im);
    assert.doesNotMatch(status.stdout, /^Server-Timing:/im, 'no Server-Timing, as documented');
    assert.ok(!documented.headers?.['Server-Timing']);
    assert.ok(guide.includes(JSON.stringify(example)), 'docs/api.md shows the same body');
  });
});
