// The whole thin-client path with the real renderer: sparc-signal serving web/, sparc-stream (GStreamer webrtcbin,
// the software avatar) joined as the Unity player would, sparc-mas answering chat, and the page in Debian's
// Chromium. Both transports, both modes, the voice with lip motion, two viewers, a signaling restart, and a
// backend that is down. Screenshots go to build/e2e-artifacts/.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startMas } from '../blackbox/lib/mas.mjs';
import { chromium } from 'playwright-core';
import { ARGS, CHROMIUM, audioArrives, artifact, closeBrowser, framesRise, freePort, launchBrowser, openViewer, signal,
  videoNotBlank,
  waitState } from './lib.mjs';

const STREAM = process.env.SPARC_STREAM_BIN;
const WIDTH = 640;   // small frames keep two cores free enough for Chromium's software decoder
const HEIGHT = 360;

/** Starts sparc-stream against `srv`; `stop()` asserts a clean exit. */
async function startStream(srv, { type = 'websocket', mode = 'public', id = '', mas = '', extra = [] } = {}) {
  assert.ok(STREAM && existsSync(STREAM), 'SPARC_STREAM_BIN must point at the sparc-stream binary');
  const dir = mkdtempSync(join(tmpdir(), 'sparc-stream-'));
  const ready = join(dir, 'ready.json');
  const url = `${type === 'websocket' ? 'ws' : 'http'}://127.0.0.1:${srv.port}`;
  const args = ['-signalingUrl', url, '-pollingInterval', '300', '--ice-bind', '127.0.0.1', '-p', '0',
    '--ready-file', ready, '--log-format', 'text', '--width', String(WIDTH), '--height', String(HEIGHT),
    '--bitrate-kbps', '800', '--mas-url', mas, '--mode', mode, ...(id ? ['--connection-id', id] : []), ...extra];
  const proc = spawn(STREAM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => { out += d; });
  proc.stderr.on('data', (d) => { out += d; });
  const deadline = Date.now() + 15000;
  while (!existsSync(ready)) {
    if (proc.exitCode !== null) throw new Error(`sparc-stream exited ${proc.exitCode}: ${out}`);
    if (Date.now() > deadline) throw new Error(`sparc-stream not ready: ${out}`);
    await delay(50);
  }
  const { port } = JSON.parse(readFileSync(ready, 'utf8'));
  return {
    proc, port, output: () => out,
    async metrics() { return (await fetch(`http://127.0.0.1:${port}/metrics`)).text(); },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGTERM');
      // sparc-stream gives itself 8 s to wind down; past that a hang must fail this test, not the whole suite.
      const code = await Promise.race([exited, delay(15000).then(() => 'hung')]);
      if (code === 'hung') proc.kill('SIGKILL');
      assert.equal(code, 0, `sparc-stream exits cleanly after SIGTERM: ${out.slice(-2000)}`);
    },
  };
}

/** Attach the renderer's log to a failure. */
async function explain(stream, viewer, fn) {
  try {
    return await fn();
  } catch (e) {
    throw new Error(`${e.message}\n--- sparc-stream ---\n${stream.output().slice(-4000)}\n--- page ---\n` +
      `${(await viewer?.log?.())?.slice(-3000) ?? ''}`, { cause: e });
  }
}

/** Mean luma of the avatar's mouth region in the current video frame (read through a canvas). */
function mouthLuma(page) {
  return page.evaluate(() => {
    const v = window.__sparc.video;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(v, 0, 0);
    const w = Math.round(c.width * 0.06);   // the mouth of the avatar sits at (0.498, 0.49) of the frame
    const h = Math.round(c.height * 0.07);
    const x = Math.round(c.width * 0.498 - w / 2);
    const y = Math.round(c.height * 0.49 - h / 2);
    const d = ctx.getImageData(x, y, w, h).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    return sum / (d.length / 4);
  });
}

async function mouthRange(page, ms) {
  const values = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    values.push(await mouthLuma(page));
    await page.waitForTimeout(50);
  }
  return Math.max(...values) - Math.min(...values);
}

async function sendChat(page, text) {
  await page.waitForSelector('#chat-fields:not([disabled])', { timeout: 15000 });
  await page.getByLabel('Your message to the caregiver').fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.turn--clinician', { hasText: text }).waitFor({ timeout: 5000 });
}

let browser;
let mas;
before(async () => {
  browser = await launchBrowser();
  mas = await startMas(['--rate-per-session', '0']);
});
after(async () => {
  await closeBrowser();
  await mas?.stop();
});
void browser;

describe('sparc-stream end to end', { concurrency: 1 }, () => {
  for (const type of ['websocket', 'http']) {
    for (const mode of ['public', 'private']) {
      test(`${type} ${mode}: the avatar streams, answers a typed question in voice, and moves its mouth`,
        { timeout: 90000 }, async () => {
          const srv = await signal(['-t', type, '-m', mode]);
          const id = mode === 'private' ? `stream-e2e-${type}` : '';
          const stream = await startStream(srv, { type, mode, id, mas: mas.base });
          let viewer;
          try {
            viewer = await openViewer(srv, { query: id ? `?id=${id}` : '' });
            const { page } = viewer;
            await explain(stream, viewer, async () => {
              await waitState(page, 'connected');
              await framesRise(page);
              await audioArrives(page);
              await videoNotBlank(page, `stream-${type}-${mode}.png`);
              const idle = await mouthRange(page, 1000);
              await sendChat(page, 'Hi, I am Dr. Lee. Riley is due for her HPV vaccine today.');
              const reply = page.locator('.turn--caregiver').last();
              await reply.waitFor({ timeout: 15000 });
              assert.ok((await reply.textContent()).trim().length > 10, 'the caregiver answers with words');
              await page.waitForFunction(() => document.querySelector('#caption').textContent.trim() !== '', null,
                { timeout: 5000 });
              const speaking = await mouthRange(page, 2000);
              assert.ok(speaking > Math.max(2, 3 * idle), `the mouth moves while the reply is spoken (range ${speaking.toFixed(1)} ` +
                `speaking, ${idle.toFixed(1)} idle)`);
              const metrics = await stream.metrics();
              assert.match(metrics, /^sparc_stream_viewers 1$/m);
              assert.match(metrics, /^sparc_stream_chat_turns_total 1$/m);
            });
          } finally {
            await viewer?.context.close();
            await stream.stop();
            await srv.stop();
          }
        });
    }
  }

  test('two viewers get their own pipelines and sessions', { timeout: 90000 }, async () => {
    const srv = await signal(['-t', 'websocket', '-m', 'public']);
    const stream = await startStream(srv, { mas: mas.base });
    const viewers = [];
    try {
      viewers.push(await openViewer(srv), await openViewer(srv));
      await explain(stream, viewers[0], async () => {
        for (const v of viewers) await waitState(v.page, 'connected');
        for (const v of viewers) await framesRise(v.page);
        const ids = await Promise.all(viewers.map((v) => v.page.textContent('#connection-id')));
        assert.notEqual(ids[0], ids[1]);
        assert.match(await stream.metrics(), /^sparc_stream_viewers 2$/m);
      });
    } finally {
      for (const v of viewers) await v.context.close();
      await stream.stop();
      await srv.stop();
    }
  });

  test('viewers come and go: every pipeline is released, the encoder is metered, and the renderer exits cleanly',
    { timeout: 120000 }, async () => {
      const srv = await signal(['-t', 'websocket', '-m', 'public']);
      const stream = await startStream(srv, { mas: mas.base });
      let viewer;
      try {
        for (let round = 0; round < 6; round++) {
          viewer = await openViewer(srv);
          await explain(stream, viewer, async () => {
            await waitState(viewer.page, 'connected');
            await framesRise(viewer.page);
          });
          await viewer.context.close();
          viewer = undefined;
        }
        // A closed page's disconnect reaches the renderer through signaling; letting that viewer go adds its last
        // encoder totals to the counters.
        const deadline = Date.now() + 10000;
        let metrics = await stream.metrics();
        while (!/^sparc_stream_viewers 0$/m.test(metrics) && Date.now() < deadline) {
          await delay(200);
          metrics = await stream.metrics();
        }
        assert.match(metrics, /^sparc_stream_viewers 0$/m, `every viewer is gone:\n${metrics}`);
        const value = (name) => Number(metrics.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
        assert.ok(value('sparc_stream_viewers_started_total') >= 6, 'each round built a pipeline');
        const encoded = value('sparc_stream_encoded_frames_total');
        const seconds = value('sparc_stream_encode_seconds_total');
        assert.ok(encoded > 6 * 15, `the encoder's frames are counted for every viewer (${encoded})`);
        assert.ok(seconds > 0 && seconds / encoded < 0.1, `encode time is counted and plausible (${seconds} s)`);
      } finally {
        await viewer?.context.close();
        await stream.stop();  // under the asan build, LeakSanitizer turns a leaked pipeline into a non-zero exit
        await srv.stop();
      }
    });

  test('the signaling server is killed and restarted: the page and the renderer both come back', { timeout: 120000 },
    async () => {
      const port = await freePort();
      const args = ['-t', 'websocket', '-m', 'public', '-p', String(port)];
      let srv = await signal(args, { portFlag: false });
      const stream = await startStream(srv, { mas: mas.base });
      let viewer;
      try {
        viewer = await openViewer(srv);
        const { page } = viewer;
        await explain(stream, viewer, async () => {
          await waitState(page, 'connected');
          await framesRise(page);
          await srv.kill();
          await waitState(page, 'signaling-lost', 15000);
          srv = await signal(args, { portFlag: false });
          await waitState(page, 'connected', 45000);
          await framesRise(page, { timeout: 20000 });
        });
      } finally {
        await viewer?.context.close();
        await stream.stop();
        await srv.stop();
      }
    });

  test('without a reachable backend the renderer says so and keeps streaming', { timeout: 60000 }, async () => {
    const srv = await signal(['-t', 'websocket', '-m', 'public']);
    const stream = await startStream(srv, { mas: 'http://127.0.0.1:9' });
    let viewer;
    try {
      viewer = await openViewer(srv);
      const { page } = viewer;
      await explain(stream, viewer, async () => {
        await waitState(page, 'connected');
        await sendChat(page, 'Hello?');
        await page.getByText('The conversation service is unavailable', { exact: false }).first()
          .waitFor({ timeout: 15000 });
        await framesRise(page);
        assert.match(await stream.metrics(), /^sparc_stream_mas_failures_total 1$/m);
      });
    } finally {
      await viewer?.context.close();
      await stream.stop();
      await srv.stop();
    }
  });

  test('the microphone: a recorded clinician is recognised by sparc-mas and answered by the caregiver',
    { timeout: 90000 }, async () => {
      // Chromium plays the WAV as its microphone (looped); the page streams it to sparc-mas's WS /ws/audio
      // (pocketsphinx, offline), and the final text goes to the renderer as the clinician's turn.
      const wav = new URL('../fixtures/clinician-hello.wav', import.meta.url).pathname;
      const port = await freePort();
      const speech = await startMas(['--rate-per-session', '0', '--asr', 'pocketsphinx',
        '--cors-origin', `http://127.0.0.1:${port}`]);
      const srv = await signal(['-p', String(port), '-t', 'websocket', '-m', 'public',
        '--speech-url', `${speech.base.replace('http', 'ws')}/ws/audio`], { portFlag: false });
      const stream = await startStream(srv, { mas: speech.base });
      const micBrowser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
        args: [...ARGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
          `--use-file-for-fake-audio-capture=${wav}`] });
      let viewer;
      try {
        const context = await micBrowser.newContext({ viewport: { width: 1280, height: 800 } });
        const page = await context.newPage();
        const lines = [];
        page.on('console', (m) => lines.push(m.text()));
        viewer = { context, log: async () => lines.join('\n') };
        await page.goto(`${srv.base}/`);
        await explain(stream, viewer, async () => {
          await waitState(page, 'connected');
          await page.waitForSelector('#chat-fields:not([disabled])', { timeout: 15000 });
          const mic = page.getByRole('button', { name: 'Speak' });
          await mic.waitFor({ state: 'visible', timeout: 5000 });
          await mic.click();
          await page.getByRole('button', { name: 'Stop' }).waitFor({ timeout: 5000 });
          // The fixture is 4 s long; the placeholder shows the running hypothesis meanwhile.
          await page.waitForFunction(() => document.querySelector('#chat-input').placeholder.length > 0, null,
            { timeout: 10000 });
          await delay(4500);
          await page.getByRole('button', { name: 'Stop' }).click();
          const said = page.locator('.turn--clinician').last();
          await said.waitFor({ timeout: 15000 });
          const text = (await said.textContent()).toLowerCase();
          assert.match(text, /hello|doctor|vaccine|what|most/, `recognised: ${text}`);
          const reply = page.locator('.turn--caregiver').last();
          await reply.waitFor({ timeout: 15000 });
          assert.ok((await reply.textContent()).trim().length > 10, 'the caregiver answers the spoken turn');
          await page.screenshot({ path: artifact('microphone.png') });
          assert.match(await stream.metrics(), /^sparc_stream_chat_turns_total 1$/m);
        });
      } finally {
        await viewer?.context.close();
        await micBrowser.close();
        await stream.stop();
        await srv.stop();
        await speech.stop();
      }
    });
});
