#!/usr/bin/env node
// One round of the sparc-stream benchmark (run by bench/stream.sh): a fresh sparc-signal serving web/, a fresh
// sparc-stream with --frame-counter, and Debian's Chromium (playwright-core, the flags of the e2e suites) opening
// the viewer page. Measures, in order:
//   cold   the first viewer of the fresh renderer process (it pays DTLS certificate generation);
//   warm   --warm-pages further fresh pages (each its own browser context), one at a time, each closed before the
//          next: navigation -> first video frame presented (requestVideoFrameCallback's expectedDisplayTime);
//   one    the last warm page stays; over --seconds: render->display and render->receive latency decoded from the
//          frame counter, fps from inbound-rtp framesDecoded, CPU of sparc-stream, Chromium and everything else;
//   multi  --viewers pages at once (the kept page and --viewers - 1 new ones): the same, fps per viewer, latency
//          decoded on the first page only.
// Prints one flat JSON line (bench/run.sh's `field` reads it). Usage:
//   node bench/stream_bench.mjs --signal-bin B --stream-bin B [--codec h264] [--viewers 4] [--warm-pages 5]
//        [--seconds 10] [--width 1280 --height 720 --fps 30 --bitrate 2500] [--log FILE]
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

// playwright-core lives in tests/node_modules (npm ci --prefix tests); resolve it from there, and take the
// browser flags from the e2e suites so the benchmark runs the browser the tests run.
const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { chromium } = require('playwright-core');
const { ARGS, CHROMIUM, WEB_ROOT, DESKTOP } = await import('../tests/e2e/lib.mjs');

// ---- options ------------------------------------------------------------------------------------------------
const opt = { codec: 'h264', viewers: 4, 'warm-pages': 5, seconds: 10, width: 1280, height: 720, fps: 30,
  bitrate: 2500, 'signal-bin': '', 'stream-bin': '', log: '' };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  if (!(k in opt) || i + 1 >= process.argv.length) {
    console.error(`stream_bench: unknown or incomplete option ${process.argv[i]}`);
    process.exit(2);
  }
  opt[k] = typeof opt[k] === 'number' ? Number(process.argv[i + 1]) : process.argv[i + 1];
}
for (const k of ['signal-bin', 'stream-bin']) {
  if (!opt[k] || !existsSync(opt[k])) { console.error(`stream_bench: --${k} must name the binary`); process.exit(2); }
}
const note = (line) => {
  process.stderr.write(`${line}\n`);
  if (opt.log) appendFileSync(opt.log, `${line}\n`);
};

// ---- /proc ----------------------------------------------------------------------------------------------------
const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
/** utime + stime of one process in ticks (0 when it is gone). */
function ticks(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');  // f[0] is field 3 (state)
    return Number(f[11]) + Number(f[12]);
  } catch { return 0; }
}
/** pid -> ppid for every process. */
function parents() {
  const m = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      m.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch { /* gone */ }
  }
  return m;
}
/** The process tree under `root`, without the subtrees of `exclude`. */
function tree(root, exclude) {
  const kids = new Map();
  for (const [pid, pp] of parents()) { if (!kids.has(pp)) kids.set(pp, []); kids.get(pp).push(pid); }
  const out = [];
  const walk = (p) => { for (const k of kids.get(p) ?? []) if (!exclude.has(k)) { out.push(k); walk(k); } };
  walk(root);
  return out;
}
/** Ticks per thread name of one process (digits in names folded, so one pipeline's threads add up per role). */
function threadTicks(pid) {
  const out = new Map();
  let tids = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')).replace(/\d+/g, '#');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(name, (out.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch { /* gone */ }
  }
  return out;
}
/** Busy ticks of the whole machine (all cores). */
function machineBusy() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return f[0] + f[1] + f[2] + f[5] + f[6] + f[7];  // user nice system irq softirq steal
}

// ---- servers --------------------------------------------------------------------------------------------------
/** Environment without the servers' own variables, so a developer's shell does not change the run. */
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SPARC_') || ['PORT', 'SECURE', 'KEYFILE', 'CERTFILE', 'TYPE', 'MODE', 'LOGGING'].includes(k)) continue;
    env[k] = v;
  }
  return env;
}

const live = [];
process.on('exit', () => { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

async function startProcess(bin, args, name) {
  const dir = mkdtempSync(join(tmpdir(), `sparc-bench-${name}-`));
  const ready = join(dir, 'ready.json');
  const argv = [...args, '--ready-file', ready];
  const proc = spawn(bin, argv, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  live.push(proc);
  let out = '';
  const keep = (d) => { out += d; if (out.length > 100000) out = out.slice(-50000); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise((res) => proc.once('exit', (code, sig) => res({ code, sig })));
  const deadline = Date.now() + 15000;
  let info = null;
  while (!info) {
    try { info = JSON.parse(readFileSync(ready, 'utf8')); } catch { /* not yet */ }
    if (info) break;
    if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}: ${out.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`${name} not ready within 15 s: ${out.slice(-2000)}`);
    await delay(20);
  }
  return {
    proc, port: info.port, pid: info.pid ?? proc.pid, output: () => out,
    command: `${bin} ${argv.map((a) => (a === '' ? "''" : a)).join(' ')}`,
    /** SIGTERM; returns "exit CODE after MS ms". */
    async stop() {
      const t0 = Date.now();
      if (proc.exitCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      const { code, sig } = await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
      return `${sig ? `signal ${sig}` : `exit ${code}`} after ${Date.now() - t0} ms`;
    },
  };
}

// ---- the page -------------------------------------------------------------------------------------------------
// Installed before the page's own scripts: a requestVideoFrameCallback loop on #video that keeps the first frame's
// times and, while window.__bench.sample is true, decodes the frame counter (layout: src/stream/avatar.hpp) of
// every presented frame; the banner states and the page's [sparc] log lines with their times.
function pageProbe() {
  const B = { first: null, states: [], logs: [], counting: false, sample: false, samples: [], bad: 0, frames: 0,
    presented0: null, presented: null };
  window.__bench = B;
  const debug = console.debug.bind(console);
  console.debug = (...a) => { B.logs.push([performance.now(), String(a[0])]); debug(...a); };
  let canvas = null;
  let ctx = null;
  function decode(v, w, h) {
    const c = Math.min(Math.max(4, Math.floor(h / 72)), Math.floor(w / 37));
    if (!canvas || canvas.width !== 37 * c) {
      canvas = document.createElement('canvas');
      canvas.width = 37 * c;
      canvas.height = 3 * c;
      ctx = canvas.getContext('2d', { willReadFrequently: true });
    }
    ctx.drawImage(v, 0, 0, 37 * c, 3 * c, 0, 0, 37 * c, 3 * c);
    const d = ctx.getImageData(0, 0, 37 * c, 3 * c).data;
    const half = Math.floor(c / 2);
    const white = (x, y) => { const i = (y * 37 * c + x) * 4; return (d[i] + d[i + 1] + d[i + 2]) / 3 >= 128; };
    const cell = (k) => white((k + 1) * c + half, c + half);
    if (!cell(0) || cell(1) || !cell(2) || white(half, c + half)) return null;
    for (let k = 0; k < 3; k++) if (white((k + 1) * c + half, half) || white((k + 1) * c + half, 2 * c + half)) return null;
    let value = 0;
    for (let i = 0; i < 32; i++) value = value * 2 + (cell(3 + i) ? 1 : 0);
    return value;
  }
  // Wall-clock ms minus the stamp, modulo 2^32 (both low 32 bits of ms since the epoch on this machine).
  const since = (stamp, t) => {
    let d = ((performance.timeOrigin + t) % 4294967296) - stamp;
    if (d < -2147483648) d += 4294967296;
    if (d > 2147483648) d -= 4294967296;
    return d;
  };
  document.addEventListener('DOMContentLoaded', () => {
    const v = document.getElementById('video');
    const onFrame = (now, md) => {
      if (!B.first) {
        B.first = { now, expected: md.expectedDisplayTime, presentation: md.presentationTime,
          receive: md.receiveTime ?? null, width: md.width, height: md.height };
      }
      if (B.counting) {
        if (B.presented0 === null) B.presented0 = [md.presentedFrames, now];
        B.presented = [md.presentedFrames, now];
      }
      if (B.sample) {
        B.frames++;
        const stamp = decode(v, md.width, md.height);
        if (stamp === null) B.bad++;
        else {
          B.samples.push([stamp, md.rtpTimestamp ?? null, since(stamp, md.expectedDisplayTime),
            md.receiveTime === undefined ? null : since(stamp, md.receiveTime)]);
        }
      }
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
    const banner = document.getElementById('state');
    const seen = () => B.states.push([performance.now(), banner.dataset.state]);
    seen();
    new MutationObserver(seen).observe(banner, { attributes: true, attributeFilter: ['data-state'] });
  });
}

/** Inbound video counters of the page's RTCPeerConnection. */
function inboundVideo(page) {
  return page.evaluate(async () => {
    const pc = window.__sparc.pc;
    const r = { framesDecoded: 0, framesDropped: 0, framesReceived: 0, bytes: 0, decodeS: 0, jbDelayS: 0, jbCount: 0,
      fps: null, codec: '', pair: '' };
    if (!pc) return r;
    const stats = await pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        Object.assign(r, { framesDecoded: s.framesDecoded ?? 0, framesDropped: s.framesDropped ?? 0,
          framesReceived: s.framesReceived ?? 0, bytes: s.bytesReceived ?? 0, decodeS: s.totalDecodeTime ?? 0,
          jbDelayS: s.jitterBufferDelay ?? 0, jbCount: s.jitterBufferEmittedCount ?? 0, fps: s.framesPerSecond ?? null });
        r.codec = stats.get(s.codecId)?.mimeType ?? '';
      }
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        const l = stats.get(s.localCandidateId);
        const rm = stats.get(s.remoteCandidateId);
        r.pair = `${l?.candidateType} ${l?.protocol} ${l?.address} <-> ${rm?.candidateType} ${rm?.address}`;
      }
    }
    return r;
  });
}

// ---- statistics -----------------------------------------------------------------------------------------------
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
/**
 * Drops samples whose drawn frame is not the callback's frame. A callback that runs late may find a newer frame
 * in the element, so the stamp read belongs to that one (negative render->receive gave it away). The RTP
 * timestamp (90 kHz, from the same push as the stamp) is the callback's frame: stamp - rtp/90 is the same for
 * every sample up to a few ms, and half a frame period or more off the median when the two do not match.
 */
function paired(samples) {
  if (!samples.length || samples.some((x) => x[1] === null)) return { kept: samples, mismatched: 0 };
  const [s0, t0] = samples[0];
  const offs = samples.map(([st, rtp]) => ((st - s0) | 0) - ((rtp - t0) | 0) / 90);  // both wrap at 2^32
  const mid = pct(offs, 50);
  const kept = samples.filter((_, i) => Math.abs(offs[i] - mid) <= 1000 / opt.fps / 2);
  return { kept, mismatched: samples.length - kept.length };
}
const r1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10) / 10);
const list = (xs) => xs.map((x) => (x === null ? 'n/a' : String(r1(x)))).join('/');

// ---- the run --------------------------------------------------------------------------------------------------
const result = { codec: opt.codec, width: opt.width, height: opt.height, fps_target: opt.fps, bitrate_kbps: opt.bitrate,
  ok: false };
const signalArgs = ['--bind', '127.0.0.1', '-p', '0', '--metrics-port', '0', '-l', 'none', '--log-format', 'text',
  '-t', 'websocket', '-m', 'public', '--web-root', WEB_ROOT];
let signal = null;
let stream = null;
let browser = null;

async function health() {
  return (await fetch(`http://127.0.0.1:${stream.port}/health`)).json();
}
async function metrics() {
  const text = await (await fetch(`http://127.0.0.1:${stream.port}/metrics`)).text();
  const m = {};
  for (const line of text.split('\n')) {
    const x = /^(sparc_stream_\w+) (\S+)$/.exec(line);
    if (x) m[x[1].replace('sparc_stream_', '')] = Number(x[2]);
  }
  return m;
}
async function until(what, fn, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(25);
  }
}

/** Opens a fresh page (own context) and waits for its first presented frame; returns the page and its times. */
async function openViewer(label) {
  const context = await browser.newContext({ viewport: DESKTOP });
  await context.addInitScript(pageProbe);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${signal.port}/`);
  try {
    await page.waitForFunction(() => window.__bench.first !== null, null, { timeout: 20000, polling: 20 });
  } catch (e) {
    const why = await page.evaluate(() => JSON.stringify({ states: window.__bench.states, logs: window.__bench.logs }))
      .catch(() => '?');
    throw new Error(`${label}: no video frame within 20 s (${why}; page errors: ${errors.join('; ')})\n` +
      `--- sparc-stream ---\n${stream.output().slice(-3000)}`, { cause: e });
  }
  const t = await page.evaluate(() => {
    const B = window.__bench;
    const nav = performance.getEntriesByType('navigation')[0];
    const at = (re) => B.logs.find(([, text]) => re.test(text))?.[0] ?? null;
    const state = (s) => B.states.find(([, x]) => x === s)?.[0] ?? null;
    return { first: B.first.expected, presentation: B.first.presentation, receive: B.first.receive,
      load: nav?.loadEventEnd ?? null, signaling: at(/signaling open/), offer: at(/sending offer/),
      answer: at(/received answer/), connected: state('connected'), width: B.first.width, height: B.first.height,
      origin: performance.timeOrigin };
  });
  note(`stream_bench: ${label}: first frame ${r1(t.first)} ms after navigation (load ${r1(t.load)}, signaling open ` +
    `${r1(t.signaling)}, offer ${r1(t.offer)}, answer ${r1(t.answer)}, connected ${r1(t.connected)}, first frame received ` +
    `${r1(t.receive)}), ${t.width}x${t.height}; navigation at ${new Date(t.origin).toISOString()}`);
  return { page, context, t };
}

async function closeViewer(v) {
  await v.context.close();
}

/** One measuring window over `viewers` (latency decoded on the first `sampled` pages). */
async function measure(viewers, sampled) {
  await Promise.all(viewers.map((v, i) => v.page.evaluate((on) => {
    Object.assign(window.__bench, { counting: true, sample: on, samples: [], bad: 0, frames: 0, presented0: null,
      presented: null });
  }, i < sampled)));
  const exclude = new Set([stream.pid, signal.pid]);
  const chromePids = () => tree(process.pid, exclude);
  const cpu = () => {
    const c = chromePids();
    return { stream: ticks(stream.pid), signal: ticks(signal.pid), node: ticks(process.pid),
      chrome: c.reduce((a, p) => a + ticks(p), 0), machine: machineBusy(), threads: threadTicks(stream.pid) };
  };
  const s0 = await Promise.all(viewers.map((v) => inboundVideo(v.page)));
  const m0 = await metrics();
  const c0 = cpu();
  const w0 = performance.now();
  await delay(opt.seconds * 1000);
  const c1 = cpu();
  const w1 = performance.now();
  const m1 = await metrics();
  const s1 = await Promise.all(viewers.map((v) => inboundVideo(v.page)));
  const pages = await Promise.all(viewers.map((v) => v.page.evaluate(() => {
    const B = window.__bench;
    B.sample = false;
    B.counting = false;
    return { samples: B.samples, bad: B.bad, frames: B.frames, presented0: B.presented0, presented: B.presented };
  })));
  const secs = (w1 - w0) / 1000;
  const share = (a, b) => (100 * (b - a)) / HZ / secs;  // % of one core
  const streamPct = share(c0.stream, c1.stream);
  const chromePct = share(c0.chrome, c1.chrome);
  const machinePct = share(c0.machine, c1.machine);
  const ours = streamPct + chromePct + share(c0.signal, c1.signal) + share(c0.node, c1.node);
  // sparc-stream's CPU by thread role, largest first (threads that ended during the window are missing).
  const byThread = [...c1.threads].map(([name, t]) => [name, share(c0.threads.get(name) ?? 0, t)])
    .filter(([, p]) => p >= 0.5).sort((a, b) => b[1] - a[1]).map(([n, p]) => `${n} ${r1(p)}`).join('; ');
  const fps = s1.map((s, i) => (s.framesDecoded - s0[i].framesDecoded) / secs);
  const presentedFps = pages.map((p) => (p.presented && p.presented0 && p.presented[1] > p.presented0[1]
    ? (1000 * (p.presented[0] - p.presented0[0])) / (p.presented[1] - p.presented0[1]) : null));
  const checked = pages.map((p) => paired(p.samples));
  const disp = checked.flatMap((c) => c.kept.map((x) => x[2]));
  const recv = checked.flatMap((c) => c.kept.map((x) => x[3]).filter((x) => x !== null));
  const decodeMs = s1.map((s, i) => (s.framesDecoded > s0[i].framesDecoded
    ? (1000 * (s.decodeS - s0[i].decodeS)) / (s.framesDecoded - s0[i].framesDecoded) : null));
  const jbMs = s1.map((s, i) => (s.jbCount > s0[i].jbCount
    ? (1000 * (s.jbDelayS - s0[i].jbDelayS)) / (s.jbCount - s0[i].jbCount) : null));
  const framesRendered = m1.frames_total - m0.frames_total;
  return {
    seconds: r1(secs),
    stream_cpu_pct: r1(streamPct),
    stream_cpu_per_viewer_pct: r1(streamPct / viewers.length),
    stream_threads_pct: byThread,
    chromium_cpu_pct: r1(chromePct),
    chromium_cpu_per_viewer_pct: r1(chromePct / viewers.length),
    other_cpu_pct: r1(Math.max(0, machinePct - ours)),
    machine_cpu_pct: r1(machinePct),
    fps_each: list(fps),
    fps_min: r1(Math.min(...fps)),
    fps_stats_each: list(s1.map((s) => s.fps)),
    presented_fps_each: list(presentedFps),
    dropped_each: s1.map((s, i) => s.framesDropped - s0[i].framesDropped).join('/'),
    kbps_each: list(s1.map((s, i) => (8 * (s.bytes - s0[i].bytes)) / secs / 1000)),
    decode_ms_each: list(decodeMs),
    jitter_buffer_ms_each: list(jbMs),
    render_ms_per_frame: framesRendered > 0
      ? Math.round((1000000 * (m1.render_seconds_total - m0.render_seconds_total)) / framesRendered) / 1000 : null,
    rendered_fps: r1(framesRendered / secs),
    sampled_pages: sampled,
    frames_sampled: pages.reduce((a, p) => a + p.frames, 0),
    frames_unreadable: pages.reduce((a, p) => a + p.bad, 0),
    frames_mismatched: checked.reduce((a, c) => a + c.mismatched, 0),
    display_p50_ms: r1(pct(disp, 50)), display_p90_ms: r1(pct(disp, 90)), display_p99_ms: r1(pct(disp, 99)),
    display_min_ms: r1(pct(disp, 0)), display_max_ms: r1(pct(disp, 100)),
    receive_p50_ms: r1(pct(recv, 50)), receive_p90_ms: r1(pct(recv, 90)), receive_p99_ms: r1(pct(recv, 99)),
    receive_min_ms: r1(pct(recv, 0)),
    pair: s1[0].pair, codec_got: s1[0].codec,
  };
}

const prefix = (p, o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p}_${k}`, v]));

try {
  signal = await startProcess(opt['signal-bin'], signalArgs, 'signal');
  const streamArgs = ['-signalingUrl', `ws://127.0.0.1:${signal.port}`, '--ice-bind', '127.0.0.1', '-p', '0',
    '--bind', '127.0.0.1', '--mas-url', '', '--mode', 'public', '--codec', opt.codec, '--width', String(opt.width),
    '--height', String(opt.height), '--fps', String(opt.fps), '--bitrate-kbps', String(opt.bitrate),
    '--max-viewers', String(Math.max(4, opt.viewers)), '--frame-counter', '--log-format', 'text', '--log-level', 'warn'];
  stream = await startProcess(opt['stream-bin'], streamArgs, 'stream');
  result.signal_command = signal.command.replace(/\/tmp\/\S+ready\.json/, 'TMP/ready.json');
  result.stream_command = stream.command.replace(/\/tmp\/\S+ready\.json/, 'TMP/ready.json')
    .replace(/ws:\/\/127\.0\.0\.1:\d+/, 'ws://127.0.0.1:PORT');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  result.chromium = browser.version();
  await until('the renderer on signaling', async () => (await health()).signaling === 'connected', 10000);

  // A throwaway page first, so the browser's own start-up (its first renderer and network processes) is not part
  // of the cold figure, which is about the renderer process.
  {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`http://127.0.0.1:${signal.port}/favicon.svg`);
    await ctx.close();
  }

  const cold = await openViewer('cold (first viewer of the renderer process)');
  result.cold_first_frame_ms = r1(cold.t.first);
  result.cold_offer_to_answer_ms = r1(cold.t.answer - cold.t.offer);
  result.cold_answer_to_frame_ms = r1(cold.t.first - cold.t.answer);
  await closeViewer(cold);
  await until('the renderer to drop the cold viewer', async () => (await health()).viewers === 0, 10000);

  const warm = [];
  let kept = null;
  for (let i = 0; i < opt['warm-pages']; i++) {
    const v = await openViewer(`warm page ${i + 1}`);
    warm.push(v.t);
    if (i + 1 < opt['warm-pages']) {
      await closeViewer(v);
      await until('the renderer to drop the viewer', async () => (await health()).viewers === 0, 10000);
    } else kept = v;
  }
  const firsts = warm.map((t) => t.first);
  Object.assign(result, {
    warm_pages: warm.length,
    warm_first_frame_each_ms: list(firsts),
    warm_first_frame_p50_ms: r1(pct(firsts, 50)),
    warm_first_frame_max_ms: r1(pct(firsts, 100)),
    warm_load_p50_ms: r1(pct(warm.map((t) => t.load), 50)),
    warm_signaling_open_p50_ms: r1(pct(warm.map((t) => t.signaling), 50)),
    warm_offer_p50_ms: r1(pct(warm.map((t) => t.offer), 50)),
    warm_answer_p50_ms: r1(pct(warm.map((t) => t.answer), 50)),
    warm_connected_p50_ms: r1(pct(warm.map((t) => t.connected), 50)),
    warm_first_receive_p50_ms: r1(pct(warm.map((t) => t.receive), 50)),
  });

  // Let the encoder's rate control and the jitter buffer settle before measuring.
  await delay(2000);
  Object.assign(result, prefix('one', await measure([kept], 1)));
  note(`stream_bench: 1 viewer measured: ${result.one_fps_each} fps, render->display p50 ${result.one_display_p50_ms} ms, ` +
    `sparc-stream ${result.one_stream_cpu_pct} % of a core`);

  if (opt.viewers > 1) {
    const viewers = [kept];
    for (let i = 1; i < opt.viewers; i++) viewers.push(await openViewer(`viewer ${i + 1} of ${opt.viewers}`));
    result.join_first_frame_each_ms = list(viewers.slice(1).map((v) => v.t.first));
    await until(`${opt.viewers} viewers`, async () => (await health()).viewers === opt.viewers, 10000);
    await delay(2000);
    Object.assign(result, { multi_viewers: opt.viewers }, prefix('multi', await measure(viewers, 1)));
    note(`stream_bench: ${opt.viewers} viewers measured`);
    for (const v of viewers) await closeViewer(v);
  } else await closeViewer(kept);
  result.ok = true;
} catch (e) {
  result.error = String(e.message ?? e).split('\n')[0].replace(/["\\]/g, "'").slice(0, 300);
  note(`stream_bench: ${e.stack ?? e}`);
} finally {
  await browser?.close().catch(() => {});
  if (stream) {
    result.stream_stop = await stream.stop();
    const log = stream.output().trim();
    result.stream_log_lines = log ? log.split('\n').length : 0;
    if (log) note(`stream_bench: sparc-stream log (warn and above):\n${log.split('\n').slice(0, 20).join('\n')}`);
  }
  if (signal) result.signal_stop = await signal.stop();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
