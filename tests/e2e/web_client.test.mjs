// The web client in Debian's Chromium (driven by Playwright): it reads /config, picks the transport,
// connects and shows its signaling state, for every transport x mode combination.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../blackbox/lib/server.mjs';

const CHROMIUM = process.env.SPARC_CHROMIUM || '/usr/bin/chromium';
// Flags for a root user on a machine with no network beyond loopback (see the machine recipes).
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
});
after(async () => { await browser?.close(); });

async function openClient(srv) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${srv.port}/`);
  return { page, errors, context };
}

for (const type of ['websocket', 'http']) {
  for (const mode of ['public', 'private']) {
    describe(`web client, ${type} ${mode}`, () => {
      test('connects on load, shows transport, mode, state and its role', async () => {
        const srv = await startServer({ args: ['-t', type, '-m', mode] });
        try {
          const { page, errors, context } = await openClient(srv);
          await page.waitForSelector('#state[data-state="connected"]', { timeout: 10000 });
          assert.equal(await page.textContent('#transport'), type === 'websocket' ? 'WebSocket' : 'HTTP polling');
          assert.equal(await page.textContent('#mode'), mode);
          await page.waitForFunction(() => document.querySelector('#role').textContent !== '', null, { timeout: 10000 });
          // Public: every viewer is polite; private: the first owner of a fresh id is impolite.
          assert.equal(await page.textContent('#role'), mode === 'public' ? '(polite)' : '(impolite)');
          const id = await page.textContent('#connection-id');
          assert.match(id, /^[0-9a-f-]{36}$/);
          if (type === 'websocket') {
            const status = await (await fetch(`http://127.0.0.1:${srv.metricsPort}/api/status`)).json();
            assert.equal(status.websockets, 1);
            assert.equal(status.connection_ids, 1);
          }
          await page.click('#disconnect');
          await page.waitForSelector('#state[data-state="closed"]', { timeout: 10000 });
          assert.deepEqual(errors, []);
          if (type === 'websocket' && mode === 'public') {
            const dir = process.env.SPARC_SCREENSHOT_DIR || mkdtempSync(join(tmpdir(), 'sparc-shot-'));
            await page.screenshot({ path: join(dir, 'web-client.png') });
          }
          await context.close();
        } finally {
          await srv.stop();
        }
      });
    });
  }
}

describe('web client', () => {
  test('shows configured ICE servers from /config', async () => {
    const srv = await startServer({ args: ['--ice-server', 'stun:stun.example.org:3478'] });
    try {
      const { page, context } = await openClient(srv);
      await page.waitForFunction(() => document.querySelector('#ice').textContent.includes('stun:'), null, { timeout: 10000 });
      assert.equal(await page.textContent('#ice'), 'stun:stun.example.org:3478');
      await context.close();
    } finally {
      await srv.stop();
    }
  });
});
