// Shared by the Chromium end-to-end suites: the browser, the servers, and what a viewer page shows.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../blackbox/lib/server.mjs';
import { decodePng, lumaStats } from './png.mjs';

export const CHROMIUM = process.env.SPARC_CHROMIUM || '/usr/bin/chromium';
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));
export const ARTIFACTS = new URL('../../build/e2e-artifacts/', import.meta.url);
// Headless, root, no GPU; WebRTC between two pages of this browser needs loopback allowed and plain-IP host
// candidates (see the machine recipes, §7.5 and §7.9). LocalNetworkAccessChecks: a document fulfilled by
// page.route() has no address space of its own, so Chromium would block its WebSocket to 127.0.0.1.
export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
  '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks'];
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 667 };
export const CONNECT_MS = 25000;  // private mode may need one 5 s offer resend to settle glare; HTTP polls each 1 s

let browser;
/** Launches the one browser a suite uses (Debian's Chromium, never a downloaded one). */
export async function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  return browser;
}
export async function closeBrowser() { await browser?.close(); }

export const artifact = (name) => fileURLToPath(new URL(name, ARTIFACTS));

export function signal(args = [], opts = {}) {
  return startServer({ args: ['--web-root', WEB_ROOT, ...args], ...opts });
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

export async function openViewer(srv, { query = '', viewport = DESKTOP, mobile = false } = {}) {
  const context = await browser.newContext({ viewport, isMobile: mobile, hasTouch: mobile,
    deviceScaleFactor: mobile ? 2 : 1 });
  const page = await context.newPage();
  const errors = [];
  const lines = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${m.text()} ${m.location()?.url ?? ''}`);
    lines.push(`${((Date.now() - t0) / 1000).toFixed(2)} ${m.text()}`);
  });
  const t0 = Date.now();
  await page.goto(`${srv.base}/${query}`);
  return { page, context, errors, log: async () => lines.join('\n') };
}

export async function waitState(page, state, timeout = CONNECT_MS) {
  try {
    await page.waitForSelector(`#state[data-state="${state}"]`, { timeout });
  } catch (e) {
    const now = await page.evaluate(() => `${document.querySelector('#state').dataset.state}: ` +
      document.querySelector('#state-text').textContent).catch(() => '?');
    throw new Error(`banner never showed "${state}" within ${timeout} ms (it shows ${now})`, { cause: e });
  }
}

/** Inbound media counters from the RTCPeerConnection the page exposes for tests. */
export async function inbound(page) {
  return page.evaluate(async () => {
    const pc = window.__sparc.pc;
    if (!pc) return { frames: 0, audioPackets: 0 };
    let frames = 0; let audioPackets = 0;
    for (const s of (await pc.getStats()).values()) {
      if (s.type !== 'inbound-rtp') continue;
      if (s.kind === 'video') frames = Math.max(frames, s.framesDecoded || 0);
      if (s.kind === 'audio') audioPackets = Math.max(audioPackets, s.packetsReceived || 0);
    }
    return { frames, audioPackets };
  });
}

/** framesDecoded keeps rising (by `by` frames) before the deadline. */
export async function framesRise(page, { by = 15, timeout = 15000 } = {}) {
  const deadline = Date.now() + timeout;
  const start = (await inbound(page)).frames;
  let last = start;
  while (Date.now() < deadline) {
    last = (await inbound(page)).frames;
    if (last >= start + by) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`framesDecoded went from ${start} to only ${last} in ${timeout} ms`);
}

export async function audioArrives(page, timeout = 10000) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    const { audioPackets } = await inbound(page);
    if (audioPackets > 0) return audioPackets;
    await page.waitForTimeout(100);
  }
  throw new Error('no inbound audio packets');
}

/** Screenshot the video element and require a picture: not black, not flat. */
export async function videoNotBlank(page, name) {
  await page.waitForFunction(() => window.__sparc.video.videoWidth > 0, null, { timeout: 10000 });
  await page.waitForSelector('#video-placeholder', { state: 'hidden', timeout: 5000 });
  const png = await page.locator('#video').screenshot(name ? { path: artifact(name) } : {});
  const { mean, std, darkShare } = lumaStats(decodePng(png));
  assert.ok(mean > 30 && std > 10 && darkShare < 0.5,
    `the video looks blank: luma mean ${mean.toFixed(1)}, std ${std.toFixed(1)}, dark share ${darkShare.toFixed(2)}`);
}

