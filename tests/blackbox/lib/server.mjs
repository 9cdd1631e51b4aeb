// Starts the sparc-signal binary for black-box tests: loopback, port 0, ready file, clean env.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const BIN = process.env.SPARC_SIGNAL_BIN || '';

/** Variables the server reads; removed from the inherited env so tests are hermetic. */
const SERVER_ENV = new Set(['PORT', 'SECURE', 'KEYFILE', 'CERTFILE', 'TYPE', 'MODE', 'LOGGING',
  'SPARC_TURN_SECRET']);

export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (SERVER_ENV.has(k) || k.startsWith('SPARC_SIGNAL_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const live = new Set();

/** Race `p` against a timer (cleared afterwards, so it never keeps the process alive); null on timeout. */
export async function within(p, ms) {
  let t;
  try {
    return await Promise.race([p, new Promise((res) => { t = setTimeout(() => res(null), ms); })]);
  } finally {
    clearTimeout(t);
  }
}
process.on('exit', () => { for (const s of live) { try { s.proc.kill('SIGKILL'); } catch {} } });

/** One line describing any server that died unexpectedly (appended to client-side errors). */
export function deathReport() {
  const lines = [];
  for (const s of live) if (s.died) lines.push(s.describeDeath());
  return lines.join('\n');
}

function requireBin() {
  if (!BIN) throw new Error('SPARC_SIGNAL_BIN is not set (path to the sparc-signal binary)');
  if (!existsSync(BIN)) throw new Error(`SPARC_SIGNAL_BIN=${BIN} does not exist`);
  return BIN;
}

/**
 * Start a server. `args` are appended to the base arguments; `quiet: false` drops
 * `-l none --log-format text` (so env/config can set them); `portFlag: false` drops `-p 0`.
 * Returns { port, metricsPort, pid, base, wsUrl, proc, stderr(), stop(), assertAlive() }.
 */
export async function startServer({ args = [], env = {}, quiet = true, portFlag = true, readyTimeoutMs = 8000 } = {}) {
  const bin = requireBin();
  const dir = mkdtempSync(join(tmpdir(), 'sparc-bb-'));
  const readyFile = join(dir, 'ready.json');
  const base = ['--bind', '127.0.0.1', ...(portFlag ? ['-p', '0'] : []), '--metrics-port', '0', '--ready-file', readyFile];
  if (quiet) base.push('-l', 'none', '--log-format', 'text');
  const argv = [...base, ...args];
  const proc = spawn(bin, argv, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const append = (b) => { out += b.toString('utf8'); if (out.length > 200_000) out = out.slice(-100_000); };
  proc.stdout.on('data', append);
  proc.stderr.on('data', append);

  const srv = {
    proc, argv, dir, died: false, stopping: false, exit: null,
    output: () => out,
    stderr: () => out,
    describeDeath() {
      return `sparc-signal (${argv.join(' ')}) exited unexpectedly: code=${srv.exit?.code} ` +
        `signal=${srv.exit?.signal}\n--- server output (tail) ---\n${out.slice(-4000)}`;
    },
  };
  srv.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      srv.exit = { code, signal, at: Date.now() };
      if (!srv.stopping) srv.died = true;
      resolve(srv.exit);
    });
  });
  proc.on('error', (e) => { out += `\n[spawn error] ${e.message}`; });
  live.add(srv);

  const deadline = Date.now() + readyTimeoutMs;
  let ready = null;
  while (Date.now() < deadline) {
    if (srv.exit) break;
    try {
      const text = readFileSync(readyFile, 'utf8');
      ready = JSON.parse(text);
      if (Number.isInteger(ready.port) && ready.port > 0) break;
      ready = null;
    } catch { /* not there yet, or partially written */ }
    await delay(15);
  }
  if (!ready) {
    proc.kill('SIGKILL');
    live.delete(srv);
    await srv.exited;
    throw new Error(`server did not become ready (ready file ${readyFile}); exit=${JSON.stringify(srv.exit)}` +
      `\nargs: ${argv.join(' ')}\n--- output ---\n${out.slice(-4000)}`);
  }
  Object.assign(srv, {
    port: ready.port,
    metricsPort: ready.metrics_port,
    pid: ready.pid,
    ready,
    base: `http://127.0.0.1:${ready.port}`,
    wsUrl: `ws://127.0.0.1:${ready.port}`,
    metricsBase: `http://127.0.0.1:${ready.metrics_port}`,
  });

  srv.assertAlive = () => {
    if (srv.exit) throw new Error(srv.describeDeath());
  };

  /** SIGTERM (or `signal`), then require exit code 0 within `withinMs`. Returns { code, signal, elapsedMs }. */
  srv.stop = async ({ withinMs = 2000, signal = 'SIGTERM' } = {}) => {
    if (srv.exit) {
      live.delete(srv);
      if (srv.died) throw new Error(srv.describeDeath());
      return srv.exit;
    }
    srv.stopping = true;
    const t0 = Date.now();
    proc.kill(signal);
    const res = await within(srv.exited, withinMs);
    const elapsedMs = Date.now() - t0;
    live.delete(srv);
    rmSync(dir, { recursive: true, force: true });
    if (!res) {
      proc.kill('SIGKILL');
      await srv.exited;
      throw new Error(`server did not exit within ${withinMs} ms of ${signal}\n--- output ---\n${out.slice(-4000)}`);
    }
    if (res.code !== 0) {
      throw new Error(`server exited with code=${res.code} signal=${res.signal} after ${signal} (expected 0)` +
        `\n--- output ---\n${out.slice(-4000)}`);
    }
    return { ...res, elapsedMs };
  };

  /** Best-effort cleanup for after() hooks: never throws. */
  srv.kill = async () => {
    if (srv.exit) { live.delete(srv); return; }
    srv.stopping = true;
    proc.kill('SIGKILL');
    await srv.exited;
    live.delete(srv);
    rmSync(dir, { recursive: true, force: true });
  };
  return srv;
}

/** Run the binary to completion (e.g. --help, a refused flag). Returns { code, signal, stdout, stderr }. */
export async function runOnce(args, { env = {}, timeoutMs = 5000 } = {}) {
  const bin = requireBin();
  const proc = spawn(bin, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  proc.stdout.on('data', (b) => { stdout += b; });
  proc.stderr.on('data', (b) => { stderr += b; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const res = await within(exited, timeoutMs);
  if (!res) {
    proc.kill('SIGKILL');
    await exited;
    throw new Error(`'${args.join(' ')}' did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`);
  }
  await delay(10); // let the pipes drain
  return { ...res, stdout, stderr };
}

/** Poll `fn` until it returns a truthy value or the deadline passes; returns the value or throws. */
export async function waitFor(fn, { timeoutMs = 3000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e; }
    await delay(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last=${last instanceof Error ? last.message : JSON.stringify(last)}`);
}
