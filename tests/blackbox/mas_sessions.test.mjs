// sparc-mas over loopback: server-side sessions, ownership, restarts, audio URLs, rate limits, admission,
// duplicate turns, metrics, OpenAPI and the production profile.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BIN, startMas, chat } from './lib/mas.mjs';

async function call(srv, method, path, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${srv.base}${path}`, init);
  const type = res.headers.get('content-type') || '';
  const data = type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body: data };
}

function keysFile(...keys) {
  const file = join(mkdtempSync(join(tmpdir(), 'sparc-mas-keys-')), 'keys');
  writeFileSync(file, keys.join('\n') + '\n');
  return file;
}

describe('sparc-mas sessions', () => {
  const alice = { 'X-API-Key': 'alice-key-0123456789abcdef' };
  const bob = { 'X-API-Key': 'bob-key-0123456789abcdefgh' };
  let srv;
  before(async () => { srv = await startMas(['--api-keys-file', keysFile(alice['X-API-Key'], bob['X-API-Key'])]); });
  after(async () => { await srv.stop(); });

  test('create, converse, read back, end', async () => {
    const created = await call(srv, 'POST', '/v1/sessions', { persona: 'Maya Pena', scenario: 'clinic-visit' }, alice);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.session_id;
    assert.match(id, /^[A-Za-z0-9_-]{1,128}$/);
    assert.equal(created.headers.get('location'), `/v1/sessions/${id}`);
    assert.equal(created.body.persona, 'maya-pena');
    assert.equal(created.body.persona_name, 'Maya Pena');
    assert.equal(created.body.scenario, 'clinic-visit');
    assert.equal(created.body.training_type, 'SkillsPractice2');
    assert.equal(created.body.ended, false);

    // No system prompt, history or phase needed: the server keeps them. The reply is Maya's (Luna).
    const turns = [];
    for (const message of ['Hi, I am Dr. Lee. Luna is due for her HPV vaccine today.', 'What worries you most about it?']) {
      const r = await chat(srv, { session_id: id, user_message: message, phase_context: 'phase_type=LISTEN' }, alice);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.match(r.headers.get('server-timing'), /^app;dur=\d+\.\d{3}$/);
      turns.push(message, r.body.response_text);
    }
    const got = await call(srv, 'GET', `/v1/sessions/${id}`, undefined, alice);
    assert.equal(got.status, 200);
    assert.equal(got.body.phase, 'listen');
    assert.equal(got.body.warning_count, 0);
    assert.deepEqual(got.body.turns.map((t) => t.text), turns);
    assert.deepEqual(got.body.turns.map((t) => t.agent), ['user', 'caregiver', 'user', 'caregiver']);
    assert.deepEqual(got.body.turns.map((t) => t.seq), [1, 2, 3, 4]);

    // Another key cannot see, end or talk in it: the session does not exist for them.
    assert.equal((await call(srv, 'GET', `/v1/sessions/${id}`, undefined, bob)).status, 404);
    assert.equal((await call(srv, 'DELETE', `/v1/sessions/${id}`, undefined, bob)).status, 404);
    const foreign = await chat(srv, { session_id: id, user_message: 'Hello?' }, bob);
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.error.code, 'session_not_found');

    const ended = await call(srv, 'DELETE', `/v1/sessions/${id}`, undefined, alice);
    assert.equal(ended.status, 200);
    assert.equal(ended.body.ended, true);
    const again = await call(srv, 'DELETE', `/v1/sessions/${id}`, undefined, alice);
    assert.equal(again.status, 200);
    assert.equal(again.body.ended_at_ms, ended.body.ended_at_ms, 'ending twice keeps the first ending');
    const late = await chat(srv, { session_id: id, user_message: 'One more thing.' }, alice);
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, 'session_ended');
    const kept = await call(srv, 'GET', `/v1/sessions/${id}`, undefined, alice);
    assert.equal(kept.body.ended, true);
    assert.equal(kept.body.turns.length, 4, 'the transcript is kept after the end (retention policy)');
  });

  test('session errors: 404, 409, 415, 422 and 400, each with the JSON error body', async () => {
    const cases = [
      [await call(srv, 'GET', '/v1/sessions/no-such-session', undefined, alice), 404, 'session_not_found'],
      [await call(srv, 'POST', '/v1/sessions', { persona: 'Dr. Nobody' }, alice), 422, 'validation_failed'],
      [await call(srv, 'POST', '/v1/sessions', { scenario: 'x'.repeat(65) }, alice), 422, 'validation_failed'],
      [await call(srv, 'POST', '/v1/sessions', { session_id: 'bad id!' }, alice), 422, 'validation_failed'],
      [await call(srv, 'GET', '/v1/sessions/abc?after_seq=-1', undefined, alice), 400, 'bad_query'],
    ];
    const raw = await fetch(`${srv.base}/v1/sessions`, { method: 'POST', headers: { ...alice, 'Content-Type': 'text/plain' }, body: 'hi' });
    cases.push([{ status: raw.status, body: await raw.json() }, 415, 'unsupported_media_type']);
    const bad = await fetch(`${srv.base}/v1/sessions`, { method: 'POST', headers: { ...alice, 'Content-Type': 'application/json' }, body: '{"persona":' });
    cases.push([{ status: bad.status, body: await bad.json() }, 400, 'malformed']);
    const first = await call(srv, 'POST', '/v1/sessions', { session_id: 'fixed-id-1' }, alice);
    assert.equal(first.status, 201);
    cases.push([await call(srv, 'POST', '/v1/sessions', { session_id: 'fixed-id-1' }, alice), 409, 'session_exists']);
    cases.push([await call(srv, 'POST', '/v1/sessions', { session_id: 'fixed-id-1' }, bob), 409, 'session_exists']);
    cases.push([await call(srv, 'GET', '/v1/sessions/fixed-id-1'), 401, 'unauthorized']);
    for (const [r, status, code] of cases) {
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.error.code, code);
      assert.equal(typeof r.body.error.message, 'string');
    }
  });

  test('an empty POST /v1/sessions gives Anne with a server-chosen id', async () => {
    const r = await call(srv, 'POST', '/v1/sessions', undefined, alice);
    assert.equal(r.status, 201);
    assert.equal(r.body.persona, 'anne-palmer');
    assert.match(r.body.session_id, /^[0-9a-f-]{36}$/);
  });

  test('/metrics needs a key and shows turn latency, decisions, errors and queue depth', async () => {
    assert.equal((await call(srv, 'GET', '/metrics')).status, 401);
    const r = await fetch(`${srv.base}/metrics`, { headers: alice });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    assert.match(text, /^sparc_mas_turn_seconds_bucket\{agent="caregiver",le="0\.002"\} \d+$/m);
    assert.match(text, /^sparc_mas_turn_seconds_count\{agent="caregiver"\} [1-9]\d*$/m);
    assert.match(text, /^sparc_mas_supervisor_decisions_total\{class="safe"\} [1-9]\d*$/m);
    assert.match(text, /^sparc_mas_errors_total\{code="session_not_found"\} [1-9]\d*$/m);
    assert.match(text, /^sparc_mas_store_queue_depth \d+$/m);
    assert.match(text, /^sparc_mas_turns_queued \d+$/m);
  });

  test('/openapi.json documents every route', async () => {
    const r = await call(srv, 'GET', '/openapi.json', undefined, alice);
    assert.equal(r.status, 200);
    assert.match(r.body.openapi, /^3\./);
    for (const path of ['/health', '/metrics', '/openapi.json', '/v1/chat', '/v1/tts', '/v1/sessions', '/v1/sessions/{session_id}', '/v1/audio/{audio_id}'])
      assert.ok(path in r.body.paths, path);
  });
});

describe('sparc-mas restart', () => {
  test('a session survives a restart: warnings, phase and turn numbers continue from the store', async () => {
    const srv = await startMas();
    const id = 'restart-1';
    assert.equal((await chat(srv, { session_id: id, user_message: 'My SSN is 123-45-6789.' })).body.warning_count, 1);
    assert.equal((await chat(srv, { session_id: id, user_message: 'Hello Anne.', phase_context: 'phase_type=EMPATHIZE' })).status, 200);
    await srv.stop();
    const again = await startMas([], srv.dir);
    const r = await chat(again, { session_id: id, user_message: 'Call me at 352-555-0100.' });
    assert.equal(r.status, 200);
    assert.equal(r.body.warning_count, 2, 'the warning from before the restart still counts');
    const got = await call(again, 'GET', `/v1/sessions/${id}`);
    assert.equal(got.body.phase, 'empathize');
    assert.deepEqual(got.body.turns.map((t) => t.seq), [1, 2, 3, 4, 5, 6]);
    await again.stop();
  });
});

describe('sparc-mas limits', () => {
  test('per-session rate limit answers 429 with Retry-After, other sessions unaffected', async () => {
    const srv = await startMas(['--rate-per-session', '1', '--rate-per-key', '0']);
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await chat(srv, { session_id: 'fast', user_message: `Question ${i} about the visit.` })).status);
      assert.deepEqual(statuses.slice(0, 2), [200, 200], 'the burst is twice the rate');
      const limited = await chat(srv, { session_id: 'fast', user_message: 'And another one?' });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error.code, 'rate_limited');
      assert.match(limited.headers.get('retry-after'), /^[1-9]\d*$/);
      assert.equal((await chat(srv, { session_id: 'calm', user_message: 'Hello.' })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('per-key rate limit answers 429 with Retry-After', async () => {
    const srv = await startMas(['--rate-per-key', '2', '--rate-per-session', '0']);
    try {
      const statuses = [];
      for (let i = 0; i < 8; i++) statuses.push((await chat(srv, { session_id: `k${i}`, user_message: 'Hello.' })).status);
      assert.ok(statuses.includes(429), statuses.join());
      assert.equal(statuses[0], 200);
      assert.equal((await fetch(`${srv.base}/health`)).status, 200, '/health is never rate limited');
    } finally {
      await srv.stop();
    }
  });

  test('a duplicate of a turn in flight gets 409 and the original is answered and stored', async () => {
    // Chat audio makes a turn take tens of milliseconds (speech synthesis), long enough to overlap two copies.
    const srv = await startMas(['--chat-audio', 'url', '--rate-per-session', '0']);
    try {
      const body = { session_id: 'dup', user_message: 'Riley is due for her HPV vaccine today.' };
      const [a, b] = await Promise.all([chat(srv, body), chat(srv, body)]);
      assert.deepEqual([a.status, b.status].sort(), [200, 409]);
      const dup = a.status === 409 ? a : b;
      assert.equal(dup.body.error.code, 'duplicate_turn');
      const got = await call(srv, 'GET', '/v1/sessions/dup');
      assert.deepEqual(got.body.turns.map((t) => t.agent), ['user', 'caregiver'], 'the original was stored once');
    } finally {
      await srv.stop();
    }
  });

  test('a full admission queue answers 503 with Retry-After and loses nothing it accepted', async () => {
    const srv = await startMas(['--chat-audio', 'url', '--max-inflight', '1', '--max-queue', '1', '--rate-per-session', '0', '--rate-per-key', '0']);
    try {
      const results = await Promise.all([...Array(8).keys()].map((i) =>
        chat(srv, { session_id: `busy-${i}`, user_message: 'Riley is due for her vaccine.' })));
      const statuses = results.map((r) => r.status);
      assert.ok(statuses.includes(503), statuses.join());
      assert.ok(statuses.filter((s) => s === 200).length >= 2, statuses.join());
      for (const r of results.filter((x) => x.status === 503)) {
        assert.equal(r.body.error.code, 'overloaded');
        assert.equal(r.headers.get('retry-after'), '1');
      }
      for (const [i, r] of results.entries()) {
        const got = await call(srv, 'GET', `/v1/sessions/busy-${i}`);
        assert.equal(got.status, r.status === 200 ? 200 : 404, `session busy-${i} stored only when answered`);
      }
    } finally {
      await srv.stop();
    }
  });

  test('chat audio: audio_url serves a WAV, legacy base64 when asked, unknown clips 404', async () => {
    const srv = await startMas(['--chat-audio', 'url']);
    try {
      const r = await chat(srv, { session_id: 'voice', user_message: 'Hello, I am Dr. Lee.', include_legacy_audio_b64: true });
      assert.equal(r.status, 200);
      assert.match(r.body.audio_url, /^\/v1\/audio\/[0-9a-f]{32}$/);
      const clip = await call(srv, 'GET', r.body.audio_url);
      assert.equal(clip.status, 200);
      assert.equal(clip.headers.get('content-type'), 'audio/wav');
      assert.equal(clip.body.subarray(0, 4).toString(), 'RIFF');
      assert.equal(clip.body.subarray(8, 12).toString(), 'WAVE');
      assert.deepEqual(Buffer.from(r.body.caregiver_audio_b64, 'base64'), clip.body);
      const without = await chat(srv, { session_id: 'voice', user_message: 'How is Riley?', include_legacy_audio_b64: false });
      assert.equal(without.body.caregiver_audio_b64, null);
      assert.match(without.body.audio_url, /^\/v1\/audio\//);
      const missing = await call(srv, 'GET', `/v1/audio/${'0'.repeat(32)}`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'audio_not_found');
      assert.equal((await call(srv, 'GET', '/v1/audio/..%2f..%2fetc')).status, 404);
    } finally {
      await srv.stop();
    }
  });

  test('the production profile refuses to grade with the scripted engine', () => {
    const keys = keysFile('prod-key-0123456789abcdef');
    let r = spawnSync(BIN, ['--profile', 'production', '-p', '0'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /requires --api-keys-file/);
    r = spawnSync(BIN, ['--profile', 'production', '--api-keys-file', keys, '-p', '0'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /scripted engine/);
  });
});
