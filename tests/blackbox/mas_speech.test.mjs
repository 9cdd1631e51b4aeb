// sparc-mas's speech backends from the outside: Riva (against sparc-fake-riva, real gRPC) for /v1/tts and for
// WS /ws/audio, whose message protocol is checked end to end, and /health's view of the speech server.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';

import { startMas, chat } from './lib/mas.mjs';

const FAKE_RIVA = process.env.SPARC_FAKE_RIVA_BIN;

async function startFakeRiva() {
  assert.ok(FAKE_RIVA && existsSync(FAKE_RIVA), 'SPARC_FAKE_RIVA_BIN must point at sparc-fake-riva');
  const ready = join(mkdtempSync(join(tmpdir(), 'sparc-fake-riva-')), 'ready.json');
  const proc = spawn(FAKE_RIVA, ['--ready-file', ready], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 5000;
  while (!existsSync(ready)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error('sparc-fake-riva did not start');
    await delay(20);
  }
  const { port } = JSON.parse(readFileSync(ready, 'utf8'));
  return {
    address: `127.0.0.1:${port}`,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** A /ws/audio client that queues server messages; `next(type)` waits for the next message of that type. */
async function openAudio(srv, headers = {}) {
  const ws = new WebSocket(`${srv.base.replace('http', 'ws')}/ws/audio`, { headers });
  const inbox = [];
  const waiters = [];
  ws.on('message', (data, binary) => {
    if (binary) return;
    const m = JSON.parse(data.toString());
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
    else inbox.push(m);
  });
  const closed = new Promise((res) => ws.on('close', (code) => res(code)));
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  return {
    ws, closed,
    send: (m) => ws.send(JSON.stringify(m)),
    next(type, ms = 5000) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${type} within ${ms} ms`)), ms);
        waiters.push({ type, resolve: (m) => { clearTimeout(t); resolve(m); } });
      });
    },
  };
}

const pcm = (samples) => Buffer.alloc(samples * 2);

describe('sparc-mas with Riva', () => {
  let riva;
  let srv;
  before(async () => {
    riva = await startFakeRiva();
    srv = await startMas(['--tts', 'riva', '--asr', 'riva', '--riva-url', riva.address,
      '--riva-voice', 'maya-pena=English-US.Female-3']);
  });
  after(async () => {
    await srv?.stop();
    await riva?.stop();
  });

  test('health shows the speech server and the recognizer', async () => {
    let h;
    for (let i = 0; i < 100; i++) {
      h = await (await fetch(`${srv.base}/health`)).json();
      if (h.checks.speech_server === 'serving') break;
      await delay(50);
    }
    assert.equal(h.checks.speech_server, 'serving');
    assert.equal(h.checks.speech, 'riva');
    assert.equal(h.checks.recognizer, 'riva');
    assert.equal(h.status, 'ok');
  });

  test('/v1/tts answers a proper WAV from Riva in the persona\'s voice', async () => {
    const created = await chat(srv, { session_id: 'riva-1', user_message: 'Hello.' });
    assert.equal(created.status, 200);
    const res = await fetch(`${srv.base}/v1/tts`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'Thanks for seeing us today.', session_id: 'riva-1' }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'audio/wav');
    const wav = Buffer.from(await res.arrayBuffer());
    assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
    assert.equal(wav.toString('ascii', 8, 12), 'WAVE');
    assert.equal(wav.readUInt32LE(24), 22050, 'the sample rate asked of Riva');
    assert.equal(wav.readUInt32LE(40), wav.length - 44, 'the data chunk is the rest of the file');
    assert.ok(wav.length > 1000);
  });

  test('WS /ws/audio: ready, settings, interim and final transcripts, stopped, ping', async () => {
    const c = await openAudio(srv);
    const ready = await c.next('status');
    assert.equal(ready.status, 'ready');
    assert.equal(ready.engine, 'riva');
    c.send({ type: 'start_recognition', data: { sample_rate: 16000, language: 'en-US', interim_results: true } });
    assert.equal((await c.next('status')).status, 'recognition_configured');
    for (let i = 0; i < 5; i++) c.ws.send(pcm(1600));  // 5 x 100 ms
    const interim = await c.next('transcript');
    assert.equal(interim.is_final, false);
    c.send({ type: 'stop_recognition' });
    let final;
    do final = await c.next('transcript'); while (!final.is_final);
    assert.equal(final.transcript, 'heard 8000 samples', 'the fake Riva names what it received');
    assert.equal(final.alternatives[0].transcript, final.transcript);
    assert.equal((await c.next('status')).status, 'stopped');
    c.send({ type: 'ping', timestamp: 42 });
    const pong = await c.next('pong');
    assert.equal(pong.timestamp, 42);
    assert.equal(pong.session_id, ready.session_id);
    c.ws.send('{oops');
    assert.equal((await c.next('error')).code, 'INVALID_JSON');
    c.ws.send(Buffer.alloc(3));
    assert.equal((await c.next('error')).code, 'INVALID_FRAME');
    c.ws.close();
    await c.closed;
  });

  test('WS /ws/audio refuses an origin that CORS does not allow', async () => {
    const ws = new WebSocket(`${srv.base.replace('http', 'ws')}/ws/audio`, { headers: { Origin: 'https://evil.example' } });
    const status = await new Promise((res) => ws.on('unexpected-response', (_req, r) => res(r.statusCode)));
    assert.equal(status, 403);
  });

  test('Riva gone: health says degraded, turns are still answered, recognition fails with a code', async () => {
    await riva.stop();
    let h;
    for (let i = 0; i < 200; i++) {  // probed every 5 s while serving
      h = await (await fetch(`${srv.base}/health`)).json();
      if (h.checks.speech_server === 'unavailable') break;
      await delay(50);
    }
    assert.equal(h.checks.speech_server, 'unavailable');
    assert.equal(h.status, 'degraded');
    assert.equal(h.ready, true);
    assert.equal((await chat(srv, { session_id: 'riva-2', user_message: 'Hello.' })).status, 200);
    const c = await openAudio(srv);
    await c.next('status');
    c.ws.send(pcm(1600));
    const e = await c.next('error', 8000);
    assert.equal(e.code, 'ASR_STREAM_FAILED');
    c.ws.close();
  });
});

describe('WS /ws/audio with the embedded recognizer', () => {
  test('pocketsphinx recognises a recorded clinician offline', { timeout: 60000 }, async () => {
    const srv = await startMas(['--asr', 'pocketsphinx']);
    try {
      const wav = readFileSync(new URL('../fixtures/clinician-hello.wav', import.meta.url));
      assert.equal(wav.readUInt32LE(24), 16000);
      const pcmData = wav.subarray(44);
      const c = await openAudio(srv);
      assert.equal((await c.next('status')).engine, 'pocketsphinx');
      c.send({ type: 'start_recognition', data: { sample_rate: 16000 } });
      await c.next('status');
      for (let i = 0; i < pcmData.length; i += 3200) {  // 100 ms frames at 4x real time
        c.ws.send(pcmData.subarray(i, i + 3200));
        await delay(25);
      }
      c.send({ type: 'stop_recognition' });
      let final;
      do final = await c.next('transcript', 20000); while (!final.is_final);
      for (const word of ['hello', 'doctor', 'vaccine']) assert.match(final.transcript, new RegExp(word), final.transcript);
      assert.ok(final.confidence > 0 && final.confidence <= 1);
      assert.equal((await c.next('status')).status, 'stopped');
      // 16 kHz only: another rate is refused with a code, not a crash.
      c.send({ type: 'start_recognition', data: { sample_rate: 44100 } });
      await c.next('status');
      c.ws.send(pcm(441));
      assert.equal((await c.next('error')).code, 'ASR_STREAM_FAILED');
      c.ws.close();
    } finally {
      await srv.stop();
    }
  });
});

describe('WS /ws/audio with API keys', () => {
  test('a key on the upgrade or in the first message; nothing else is accepted', async () => {
    const keys = join(mkdtempSync(join(tmpdir(), 'sparc-mas-keys-')), 'keys');
    writeFileSync(keys, 'audio-key-0123456789abcdef\n');
    const srv = await startMas(['--api-keys-file', keys, '--asr', 'none']);
    try {
      const byHeader = await openAudio(srv, { 'X-API-Key': 'audio-key-0123456789abcdef' });
      assert.equal((await byHeader.next('status')).authenticated, true);
      byHeader.ws.send(pcm(160));
      const none = await byHeader.next('error');
      assert.equal(none.code, 'ASR_UNAVAILABLE', 'authenticated, but --asr none');
      byHeader.ws.close();

      const byMessage = await openAudio(srv);
      assert.equal((await byMessage.next('status')).authenticated, false);
      byMessage.send({ type: 'auth', api_key: 'audio-key-0123456789abcdef' });
      assert.equal((await byMessage.next('status')).status, 'authenticated');
      byMessage.ws.close();

      const anonymous = await openAudio(srv);
      await anonymous.next('status');
      anonymous.ws.send(pcm(160));
      assert.equal((await anonymous.next('error')).code, 'UNAUTHENTICATED');
      assert.equal(await anonymous.closed, 1008);
    } finally {
      await srv.stop();
    }
  });
});
