// sparc-mas with --engine openai against the test model server (sparc-fake-llm, real HTTP + server-sent events):
// per-agent adapters, the coach's JSON grade, /health from GET /v1/models, and the failure paths a client sees.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import WebSocket from 'ws';

import { startMas, chat } from './lib/mas.mjs';

const FAKE = process.env.SPARC_FAKE_LLM_BIN;

async function startFake(args = []) {
  assert.ok(FAKE && existsSync(FAKE), 'SPARC_FAKE_LLM_BIN must point at sparc-fake-llm');
  const ready = join(mkdtempSync(join(tmpdir(), 'sparc-fake-llm-')), 'ready.json');
  const proc = spawn(FAKE, ['--ready-file', ready, '--models', 'base-model', 'caregiver-lora', 'coach-lora', ...args],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 5000;
  while (!existsSync(ready) || !readFileSync(ready, 'utf8').includes('}')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('sparc-fake-llm did not start');
    await delay(20);
  }
  const { port } = JSON.parse(readFileSync(ready, 'utf8'));
  return {
    url: `http://127.0.0.1:${port}/v1`,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

const llmArgs = (url, extra = []) => ['--engine', 'openai', '--llm-url', url, '--llm-model', 'base-model',
  '--llm-adapter', 'caregiver=caregiver-lora', '--llm-adapter', 'coach=coach-lora', ...extra];

async function health(srv) {
  const res = await fetch(`${srv.base}/health`);
  return { status: res.status, body: await res.json() };
}

async function until(what, fn, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

describe('sparc-mas on an OpenAI-compatible model server', () => {
  let fake;
  let srv;
  before(async () => {
    fake = await startFake(['--per-token-ms', '1']);
    srv = await startMas(llmArgs(fake.url));
  });
  after(async () => {
    await srv?.stop();
    await fake?.stop();
  });

  test('health reports the model server and the adapters it lists', async () => {
    const h = await until('a ready model server', async () => {
      const r = await health(srv);
      return r.body.checks.model_server?.ready ? r : null;
    });
    assert.equal(h.status, 200);
    assert.equal(h.body.checks.engine, 'openai');
    assert.deepEqual(h.body.checks.model_server.models, ['base-model', 'caregiver-lora', 'coach-lora']);
  });

  test('the caregiver answers through its adapter and the coach grades with the model', async () => {
    const r = await chat(srv, { session_id: 'llm-1', user_message: 'Hi, I am Dr. Lee. Riley is due for her HPV vaccine today.' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.active_agent, 'caregiver');
    assert.match(r.body.response_text, /I hadn't really thought about that one yet/);

    const c = await chat(srv, { session_id: 'llm-1', user_message: 'I strongly recommend the HPV vaccine today.', target_agent: 'coach' });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    assert.equal(c.body.active_agent, 'coach');
    assert.equal(c.body.coach_feedback_meta.status, 'graded');
    assert.equal(c.body.coach_feedback_meta.engine, 'openai:coach-lora');
    assert.equal(c.body.coach_feedback_meta.graded_by, 'model');
    assert.match(c.body.coach_feedback, /clear recommendation/i);

    const m = await (await fetch(`${srv.base}/metrics`)).text();
    assert.match(m, /sparc_mas_engine_seconds_count\{stage="first_token"\} [1-9]/);
    assert.match(m, /sparc_mas_model_server_ready 1/);
  });

  test('retrieved passages reach the caregiver prompt: prefetched once, else searched per turn', async () => {
    const lastPrompt = async () => {
      const body = await (await fetch(fake.url.replace(/\/v1$/, '/debug/last-request'))).json();
      return body.messages[0].content;
    };
    const pf = await chat(srv, { session_id: 'llm-kb', user_message: 'x', rag_prefetch_query: 'Is she too young for this vaccine at ten?', rag_prefetch_only: true });
    assert.equal(pf.status, 200);
    assert.equal(pf.body.coach_feedback_meta.rag_prefetch, true);
    assert.ok(pf.body.coach_feedback_meta.passages >= 1, JSON.stringify(pf.body));
    const r = await chat(srv, { session_id: 'llm-kb', user_message: 'Hello, how are you both today?' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const prompt = await lastPrompt();
    assert.match(prompt, /Things you may have read or heard/);
    assert.match(prompt, /9|nine|age/i, 'the prefetched age sheet, not a search for the greeting');
    // Without a prefetch the turn's own words are searched; clinician-only sheets never appear.
    const s = await chat(srv, { session_id: 'llm-kb', user_message: 'Some parents worry about fainting after the shot. Is it safe?' });
    assert.equal(s.status, 200);
    const second = await lastPrompt();
    assert.match(second, /faint/i);
    assert.doesNotMatch(second, /audience: clinician|counseling approach/i);
  });

  test('a model server that goes away: turns fail with 503 and health says why', async () => {
    await fake.stop();
    const r = await chat(srv, { session_id: 'llm-2', user_message: 'Hello there.' });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'engine_unavailable');
    assert.ok(r.headers.get('retry-after'));
    const h = await until('health to notice', async () => {
      const x = await health(srv);
      return x.status === 503 ? x : null;
    });
    assert.equal(h.body.ready, false);
    assert.match(h.body.checks.model_server.detail, /unreachable/);
    fake = null;
  });
});

/** WS /ws/chat: sends one turn, collects its events until the reply; `onEvent` sees each as it arrives. */
async function wsTurn(srv, request, onEvent = () => {}) {
  const ws = new WebSocket(`${srv.base.replace('http', 'ws')}/ws/chat`);
  const events = [];
  const done = new Promise((resolve, reject) => {
    ws.on('message', async (data) => {
      const e = JSON.parse(data.toString());
      events.push(e);
      await onEvent(e);
      if (e.type === 'reply') resolve();
    });
    ws.on('error', reject);
  });
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  ws.send(JSON.stringify({ type: 'chat', request }));
  await done;
  ws.close();
  return events;
}

describe('WS /ws/chat: the reply sentence by sentence', () => {
  test('with the scripted engine: each sentence spoken and announced, then the stored reply', async () => {
    const srv = await startMas();
    try {
      const events = await wsTurn(srv, { session_id: 'ws-1', user_message: 'Hi, I am Dr. Lee. Riley is due for her HPV vaccine today.' });
      assert.equal(events[0].type, 'status');
      const sentences = events.filter((e) => e.type === 'sentence');
      const reply = events.at(-1);
      assert.equal(reply.type, 'reply');
      assert.equal(reply.status, 200);
      assert.ok(sentences.length >= 1);
      assert.deepEqual(sentences.map((s) => s.index), sentences.map((_, i) => i));
      assert.equal(sentences.map((s) => s.text).join(' '), reply.body.response_text);
      const wav = await fetch(`${srv.base}${sentences[0].audio_url}`);
      assert.equal(wav.status, 200);
      assert.equal(wav.headers.get('content-type'), 'audio/wav');
      // The turn is stored like any other.
      const stored = await (await fetch(`${srv.base}/v1/sessions/ws-1`)).json();
      assert.equal(stored.turns.at(-1).text, reply.body.response_text);
      // A malformed message and a coach turn: the reply event carries the status and body /v1/chat would.
      const coach = await wsTurn(srv, { session_id: 'ws-1', user_message: 'I recommend it today.', target_agent: 'coach' });
      assert.equal(coach.filter((e) => e.type === 'sentence').length, 0, 'only the caregiver speaks');
      assert.equal(coach.at(-1).body.active_agent, 'coach');
      const bad = await wsTurn(srv, { session_id: 'bad id!', user_message: 'x' });
      assert.equal(bad.at(-1).status, 422);
    } finally {
      await srv.stop();
    }
  });

  test('with a model: the first sentence is spoken while the model is still generating the rest', async () => {
    const fake = await startFake(['--per-token-ms', '50']);
    const srv = await startMas(llmArgs(fake.url));
    try {
      const stats = async () => (await fetch(fake.url.replace(/\/v1$/, '/debug/stats'))).json();
      let during;
      const events = await wsTurn(srv, { session_id: 'ws-2', user_message: 'Riley is due for her HPV vaccine today.' },
        async (e) => { if (e.type === 'sentence' && e.index === 0) during = await stats(); });
      const sentences = events.filter((e) => e.type === 'sentence');
      assert.ok(sentences.length >= 3, JSON.stringify(events));
      assert.equal(during.completed, during.requests - 1, 'the first sentence came before the model had finished');
      assert.match(sentences[0].audio_url, /^\/v1\/audio\//);
      assert.equal(events.at(-1).status, 200);
      assert.equal(sentences.map((s) => s.text).join(' '), events.at(-1).body.response_text);
    } finally {
      await srv.stop();
      await fake.stop();
    }
  });
});

describe('sparc-mas model deadlines and configuration', () => {
  test('a first token slower than its deadline answers 504 and the session is unchanged', async () => {
    const fake = await startFake(['--first-token-delay-ms', '3000']);
    const srv = await startMas(llmArgs(fake.url, ['--llm-first-token-timeout-ms', '300']));
    try {
      const t0 = Date.now();
      const r = await chat(srv, { session_id: 'slow-1', user_message: 'Hello there.' });
      assert.equal(r.status, 504, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'engine_timeout');
      assert.ok(Date.now() - t0 < 2500, 'the deadline, not the server, decides');
    } finally {
      await srv.stop();
      await fake.stop();
    }
  });

  test('the production profile starts with a model engine, and a missing adapter keeps it unready', async () => {
    const fake = await startFake();
    const keys = join(mkdtempSync(join(tmpdir(), 'sparc-mas-keys-')), 'keys');
    writeFileSync(keys, 'prod-key-0123456789abcdef\n');
    const srv = await startMas(['--profile', 'production', '--api-keys-file', keys,
      ...llmArgs(fake.url, ['--llm-adapter', 'supervisor=supervisor-lora'])]);
    try {
      const h = await until('a first poll', async () => {
        const x = await health(srv);
        return x.body.checks.model_server?.detail !== 'not polled yet' ? x : null;
      });
      assert.equal(h.status, 503);
      assert.deepEqual(h.body.checks.model_server.missing, ['supervisor=supervisor-lora']);
    } finally {
      await srv.stop();
      await fake.stop();
    }
  });

  test('the model as the supervisor\'s second opinion: flag marks for review, block counts a violation', async () => {
    const fake = await startFake();
    const flag = await startMas(llmArgs(fake.url, ['--supervisor-model', 'flag']));
    const block = await startMas(llmArgs(fake.url, ['--supervisor-model', 'block']));
    try {
      const ok = await chat(flag, { session_id: 'so-1', user_message: 'Riley is due for her HPV vaccine today.' });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.active_agent, 'caregiver');
      const flagged = await chat(flag, { session_id: 'so-1', user_message: 'You look nice today [unsafe:harassment]' });
      assert.equal(flagged.status, 200);
      assert.equal(flagged.body.active_agent, 'caregiver', 'flag does not stop the conversation');
      assert.equal(flagged.body.warning_count, 0);
      const m = await (await fetch(`${flag.base}/metrics`)).text();
      assert.match(m, /sparc_mas_supervisor_decisions_total\{class="model_prohibited"\} 1/);

      const blocked = await chat(block, { session_id: 'so-2', user_message: 'You look nice today [unsafe:harassment]' });
      assert.equal(blocked.status, 200);
      assert.equal(blocked.body.active_agent, 'supervisor');
      assert.equal(blocked.body.warning_count, 1);
      assert.equal(blocked.body.coach_feedback_meta.reason, 'model.harassment');
      assert.match(blocked.body.ui_message, /WARNING 1/);
      // The rules still decide first: what they block never reaches the model.
      const pii = await chat(block, { session_id: 'so-2', user_message: 'My SSN is 123-45-6789' });
      assert.equal(pii.body.active_agent, 'supervisor');
      assert.match(pii.body.coach_feedback_meta.reason, /^pii\./);
    } finally {
      await flag.stop();
      await block.stop();
      await fake.stop();
    }
  });

  test('bad engine settings stop the start with a clear message', async () => {
    for (const [args, message] of [
      [['--engine', 'openai'], /--engine openai needs --llm-url/],
      [['--engine', 'openai', '--llm-url', 'https://x.example/v1', '--llm-model', 'm'], /must be http:\/\//],
      [['--engine', 'openai', '--llm-url', 'http://127.0.0.1:9/v1', '--llm-adapter', 'doctor=x'], /--llm-adapter wants/],
      [['--supervisor-model', 'block'], /needs --engine openai/],
    ]) {
      await assert.rejects(startMas(args), message);
    }
  });
});
